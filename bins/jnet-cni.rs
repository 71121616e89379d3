//! jnet-cni: jnet's epairs as a CNI plugin for container runtimes (see jnet-cni(8)).

fn main() {
    std::process::exit(jnet::cni::main())
}
