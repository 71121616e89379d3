//! jnet-sim: drive the simulated FreeBSD host (see jnet-sim(1)).

fn main() {
    let args: jnet::sim::command::SimArgs = jnet::cli::parse_args("jnet-sim");
    jnet::cli::init_logging("jnet-sim", &jnet::cli::Common::default());
    let code = match jnet::sim::command::run(args) {
        Ok(out) => {
            print!("{out}");
            0
        }
        Err(e) => {
            eprintln!("jnet-sim: {}", e.message);
            e.exit_code()
        }
    };
    std::process::exit(code)
}
