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
use jnet::freebsd::FreeBsd;
use jnet::kernel::{Interfaces, System};
use jnet::sim::stackprocess::StackProcess;
use std::path::Path;
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

/// One program run as a hook: against the stack host at `stack`, or the sim's state file.
fn hook(prog: &str, args: &[&str], stack: Option<&Path>, sim: &Path) -> Duration {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release").join(prog);
    let mut c = std::process::Command::new(&bin);
    c.args(args).env_remove("JNET_LOG");
    match stack {
        Some(sock) => c.env("JNET_FBSD_STACK", sock).env_remove("JNET_SIM"),
        None => c.env("JNET_SIM", sim).env_remove("JNET_FBSD_STACK"),
    };
    let t = Instant::now();
    let o = c.output().unwrap();
    let took = t.elapsed();
    assert!(o.status.success(), "{prog} {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    took
}

/// One hook's figures: what it is, mean time over the first and the last five jails, and on
/// the stack the kernel requests it made (mean over all jails).
type HookFigures = (String, Duration, Duration, f64);

/// Start and stop `jails` jails one after the other with recipe 2 (if_bridge) and recipe 5
/// (netgraph).
fn hooks(jails: usize, stack: Option<&Path>, sim: &Path) -> Vec<HookFigures> {
    let mut counter = stack.map(|s| StackHost::connect(s).unwrap());
    let names: Vec<String> = (0..jails).map(|i| format!("j{i}")).collect();
    let steps: [(&str, &[&str]); 4] = [
        ("jnet-epair -b bridge0 --uplink igb0 (recipe 2 prestart)", &["-b", "bridge0", "--uplink", "igb0", "--"]),
        ("jnet-ngattach --uplink igb0 (recipe 5 prestart)", &["--uplink", "igb0", "--"]),
        ("jnet-release (poststop, epair and eiface)", &["--"]),
        ("jnet-release again (already gone)", &["--"]),
    ];
    let progs = ["jnet-epair", "jnet-ngattach", "jnet-release", "jnet-release"];
    let mut out = vec![];
    for ((what, args), prog) in steps.iter().zip(progs) {
        let mut requests = 0u64;
        let times: Vec<Duration> = names
            .iter()
            .map(|j| {
                let mut a = args.to_vec();
                a.push(j);
                let before = counter.as_mut().map(|c| c.served().unwrap());
                let took = hook(prog, &a, stack, sim);
                if let (Some(c), Some(b)) = (counter.as_mut(), before) {
                    requests += c.served().unwrap() - b;
                }
                took
            })
            .collect();
        let mean = |t: &[Duration]| t.iter().sum::<Duration>() / t.len() as u32;
        out.push((what.to_string(), mean(&times[..5]), mean(&times[jails - 5..]), requests as f64 / jails as f64));
    }
    out
}

fn main() {
    let dir = jnet::sim::ScratchDir::new("stack-bench");
    let started = Instant::now();
    let (_process, sock) = StackProcess::start_in(dir.path(), "bench", "6a6e6574-0000-4000-8000-0000000000b1").unwrap();
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
    let status = std::process::Command::new(&init).args(["init", "--phys", "igb0"]).env("JNET_SIM", &host).status();
    assert!(matches!(status, Ok(s) if s.success()), "{} init (build with cargo build --release)", init.display());
    let mut sim = jnet::sim::Sim::open(&host).unwrap();
    sim.kld_load("if_epair").unwrap();
    let t = Instant::now();
    for _ in 0..pairs {
        let a = sim.if_create("epair").unwrap();
        sim.if_destroy(&a).unwrap();
    }
    let simulated = t.elapsed();

    // The programs themselves: the stack's port named as the sim's NIC.
    FreeBsd::over_stack(&sock).unwrap().if_rename("f-stack-0", "igb0").unwrap();
    for m in ["ng_ether", "ng_eiface", "ng_bridge", "ng_socket", "if_bridge"] {
        sim.kld_load(m).unwrap();
    }
    let jails = 20;
    let on_stack = hooks(jails, Some(&sock), &host);
    let on_sim = hooks(jails, None, &host);

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
    println!("\n## Per hook\n");
    println!("The release binaries run as jail(8) runs them, {jails} jails one after the other; mean wall time");
    println!("of a hook (process start included) over the first five and the last five jails, on the stack");
    println!("(JNET_FBSD_STACK) and on the simulated host (JNET_SIM), and the kernel requests (ioctl,");
    println!("sysctl, socket, sendto, recv, close) a hook made on the stack, counted by the stack host.\n");
    println!(
        "| hook | kernel requests | stack, jails 1-5 | stack, jails {}-{jails} | sim, jails 1-5 | sim, jails {}-{jails} |",
        jails - 4,
        jails - 4
    );
    println!("|---|---|---|---|---|---|");
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    for ((what, s1, s2, requests), (_, m1, m2, _)) in on_stack.iter().zip(&on_sim) {
        println!("| {what} | {requests:.0} | {} | {} | {} | {} |", ms(*s1), ms(*s2), ms(*m1), ms(*m2));
    }
}
