//! Kernel-side cost on FreeBSD 13.0's own stack code (F-Stack, through jnet-stackhost) beside
//! the simulated host; prints BENCHMARKS-fbsd-stack.md.
//!
//!     .ci/fbsd-stack        # builds target/fbsd-stack/jnet-stackhost, then runs this
//!
//! The stack host's round trip (a Unix socket and one turn of its loop) is measured on its
//! own with SIOCGIFFLAGS, the cheapest request there is, so the rest can be read as the
//! kernel code's work.

use jnet::freebsd::abi::{self, IfReq};
use jnet::freebsd::stackhost::StackHost;
use jnet::kernel::{Interfaces, System};
use jnet::sim::stackprocess::StackProcess;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn per_op(total: Duration, n: u32) -> String {
    format!("{:.1} µs", total.as_secs_f64() * 1e6 / n as f64)
}

/// Create and destroy `n` epairs on the stack; the time of the create+destroy pair.
fn stack_epairs(conn: &mut StackHost, inet: i32, n: u32) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        let mut r = IfReq::name("epair");
        conn.ioctl(inet, abi::SIOCIFCREATE2, &mut r.0, &mut []).unwrap();
        let mut d = IfReq::name(&r.get_name());
        conn.ioctl(inet, abi::SIOCIFDESTROY, &mut d.0, &mut []).unwrap();
    }
    t.elapsed()
}

fn main() {
    let bin = PathBuf::from(std::env::var_os("JNET_STACKHOST").expect("JNET_STACKHOST: the built jnet-stackhost"));
    let ini = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fbsd-stack/f-stack.ini");
    let dir = jnet::sim::ScratchDir::new("stack-bench");
    let sock = dir.path().join("stack.sock");
    let started = Instant::now();
    let prefix = format!("jnet-bench-{}", std::process::id());
    let _process = StackProcess::start(&bin, &ini, &sock, &prefix, "6a6e6574-0000-4000-8000-0000000000b1").unwrap();
    let startup = started.elapsed();
    let mut conn = StackHost::connect(&sock).unwrap();
    let inet = conn.socket(abi::AF_INET as i32, 2, 0).unwrap();

    let n = 5000;
    let t = Instant::now();
    for _ in 0..n {
        let mut r = IfReq::name("lo0");
        conn.ioctl(inet, abi::SIOCGIFFLAGS, &mut r.0, &mut []).unwrap();
    }
    let round_trip = t.elapsed();

    let pairs = 500;
    let stack = stack_epairs(&mut conn, inet, pairs);

    let host = dir.path().join("host.json");
    let init = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/jnet-sim");
    let status = std::process::Command::new(&init).args(["init"]).env("JNET_SIM", &host).status();
    assert!(matches!(status, Ok(s) if s.success()), "{} init (build with cargo build --release)", init.display());
    let mut sim = jnet::sim::Sim::open(&host).unwrap();
    sim.kld_load("if_epair").unwrap();
    let t = Instant::now();
    for _ in 0..pairs {
        let a = sim.if_create("epair").unwrap();
        sim.if_destroy(&a).unwrap();
    }
    let simulated = t.elapsed();

    println!("# jnet on FreeBSD 13.0's network stack\n");
    println!(
        "Produced by `.ci/fbsd-stack` (examples/stack_bench.rs) on {} with {} cores: FreeBSD 13.0's",
        std::env::consts::OS,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    println!("`sys/net` code run by F-Stack in `jnet-stackhost`, driven with jnet's own request encoders.\n");
    println!("| what | per operation |");
    println!("|---|---|");
    println!("| stack host start (DPDK + FreeBSD boot) | {:.0} ms |", startup.as_secs_f64() * 1e3);
    println!(
        "| round trip: SIOCGIFFLAGS lo0 (socket + one loop turn + the ioctl), {n} times | {} |",
        per_op(round_trip, n)
    );
    println!("| SIOCIFCREATE2 epair + SIOCIFDESTROY, on the stack, {pairs} times | {} |", per_op(stack, pairs));
    println!(
        "| the same two requests on the simulated host (lock, load, save the state file) | {} |",
        per_op(simulated, pairs)
    );
    println!("\nPer hook on the stack: the programs do not run against it yet (the backend's syscall seam");
    println!("is the next step of issue 12); multiply the kernel-operation counts of BENCHMARKS.md by the");
    println!("round trip for an estimate.");
}
