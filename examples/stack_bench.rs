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
use jnet::kernel::{Interfaces, System, Vnets};
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

/// A program run as a hook on the stack; the wall time and the kernel requests it made.
fn counted(counter: &mut StackHost, prog: &str, args: &[&str], sock: &Path, sim: &Path) -> (Duration, u64) {
    let before = counter.served().unwrap();
    let took = hook(prog, args, Some(sock), sim);
    (took, counter.served().unwrap() - before)
}

/// The figures with jails, on the stack alone (each a row: what, per operation).
fn with_jails(sock: &Path, sim: &Path) -> Vec<(String, String)> {
    use jnet::sim::stacktraffic::{ping, tcp_exchange};
    let mut rows = vec![];
    let mut ctl = StackHost::connect(sock).unwrap();
    let mut k = FreeBsd::over_stack(sock).unwrap();
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);

    // vnet_alloc (every VNET_SYSINIT) and, at the next turn, vnet_destroy.
    let n = 50;
    let t = Instant::now();
    for i in 0..n {
        let jid = ctl.jail_create(&format!("v{i}"), true).unwrap();
        ctl.jail_remove(jid).unwrap();
    }
    rows.push((format!("a VNET jail made and removed (vnet_alloc, vnet_destroy), {n} times"), ms(t.elapsed() / n)));

    // SIOCSIFVNET + SIOCSIFRVNET of an epair end.
    let jid = ctl.jail_create("mover", true).unwrap();
    let end = k.if_create("epair").unwrap().trim_end_matches('a').to_string() + "b";
    let moves = 200;
    let t = Instant::now();
    for _ in 0..moves {
        k.if_move_to_jail(&end, jid).unwrap();
        k.if_reclaim(&end, jid).unwrap();
    }
    rows.push((
        format!("SIOCSIFVNET + SIOCSIFRVNET of an epair end (if_vmove twice), {moves} times"),
        per_op(t.elapsed(), moves),
    ));
    ctl.jail_remove(jid).unwrap();

    // Recipe 8's hooks for jails one after the other: the epair made, the jail end moved in and
    // configured from inside (an attached connection, as jail_attach on FreeBSD).
    let jails = 10;
    let (mut start, mut stop) = (vec![], vec![]);
    for i in 0..jails {
        let name = format!("r{i}");
        let jid = ctl.jail_create(&name, true).unwrap();
        let addr = format!("10.8.0.{}/24", i + 10);
        let args = [
            "-b",
            "jails0",
            "--bridge-addr",
            "10.8.0.1/24",
            "--ifname",
            "vnet0",
            "--addr",
            &addr,
            "--gateway",
            "10.8.0.1",
            "--",
            &name,
        ];
        start.push(counted(&mut ctl, "jnet-epair", &args, sock, sim));
        ctl.jail_remove(jid).unwrap();
        stop.push(counted(&mut ctl, "jnet-release", &["--prune", "--", &name], sock, sim));
    }
    let mean = |v: &[(Duration, u64)]| {
        let t: Duration = v.iter().map(|x| x.0).sum::<Duration>() / v.len() as u32;
        let r = v.iter().map(|x| x.1).sum::<u64>() as f64 / v.len() as f64;
        format!("{} ({r:.0} kernel requests)", ms(t))
    };
    rows.push((format!("jnet-epair in exec.created, recipe 8 (in-jail steps included), {jails} jails"), mean(&start)));
    rows.push((format!("jnet-release --prune after jail -r, recipe 8, {jails} jails"), mean(&stop)));

    // From nothing to an answer: the jail made, recipe 8's hook, the first echo answered.
    let t = Instant::now();
    let jid = ctl.jail_create("first", true).unwrap();
    let args =
        ["-b", "jails0", "--bridge-addr", "10.8.0.1/24", "--ifname", "vnet0", "--addr", "10.8.0.99/24", "--", "first"];
    hook("jnet-epair", &args, Some(sock), sim);
    let mut inside = StackHost::connect(sock).unwrap().attached(jid).unwrap();
    assert!(ping(&mut inside, "10.8.0.1".parse().unwrap(), 9), "no echo from the host's jails0");
    rows.push(("jail start to traffic: jail made, jnet-epair, first ICMP echo answered".into(), ms(t.elapsed())));

    // Recipe 7 over the cable (igb2 lent, igb1 on the host: StackProcess::start_wired_in):
    // jnet-nic in exec.prestart, the jail, jail(8)'s move (vnet.interface), the jail's rc
    // addressing igb2, the first echo from igb1's address; then jail -r and jnet-release
    // --iface taking igb2 home.
    let t = Instant::now();
    let nic = counted(&mut ctl, "jnet-nic", &["--iface", "igb2", "--", "dmz"], sock, sim);
    let dmz = ctl.jail_create("dmz", true).unwrap();
    k.if_move_to_jail("igb2", dmz).unwrap();
    let rc = |y: &mut dyn jnet::kernel::Interfaces| {
        y.if_set_flags("igb2", jnet::kernel::iff::UP)?;
        y.if_add_addr("igb2", "198.51.100.20/24".parse().expect("a prefix"), 0)
    };
    k.in_jail_within(dmz, Duration::from_secs(10), |y| Ok(rc(y))).unwrap().unwrap();
    let mut lent = StackHost::connect(sock).unwrap().attached(dmz).unwrap();
    assert!(ping(&mut lent, "198.51.100.1".parse().unwrap(), 7), "no echo from igb1 over the cable");
    rows.push((
        "recipe 7 start to traffic: jail made, jnet-nic, igb2 moved in and addressed, first echo over the cable".into(),
        ms(t.elapsed()),
    ));
    drop(lent);
    ctl.jail_remove(dmz).unwrap();
    let home = counted(&mut ctl, "jnet-release", &["--iface", "igb2", "--wait", "30", "--", "dmz"], sock, sim);
    let one = |v: (Duration, u64)| format!("{} ({} kernel requests)", ms(v.0), v.1);
    rows.push(("jnet-nic --iface igb2 (recipe 7 prestart)".into(), one(nic)));
    rows.push(("jnet-release --iface igb2 after jail -r (recipe 7 poststop)".into(), one(home)));

    // The seed article's case: a TCP connection the jail closed first keeps it dying after
    // jail -r (TIME_WAIT holds its cred); the NIC-like end is taken back from it at once.
    let end = {
        let l = k.if_list().unwrap();
        l.into_iter().map(|i| i.name).find(|n| n.starts_with("epair") && n.ends_with('b')).unwrap()
    };
    k.if_move_to_jail(&end, jid).unwrap();
    tcp_exchange(&mut inside, &mut StackHost::connect(sock).unwrap(), "10.8.0.1".parse().unwrap(), 7).unwrap();
    drop(inside);
    ctl.jail_remove(jid).unwrap();
    let dying = ctl.jail_lookup(&jnet::freebsd::stackhost::JailKey::Jid(jid), 8).unwrap().dying;
    assert!(dying, "the jail should be dying in TIME_WAIT");
    let t = Instant::now();
    k.if_reclaim(&end, jid).unwrap();
    rows.push(("SIOCSIFRVNET from a jail dying in TIME_WAIT (the seed article's reclaim)".into(), ms(t.elapsed())));
    rows
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
    // A stack of their own: the figures above leave bridges and netgraph nodes behind, and
    // with them a later vnet_destroy faulted in F-Stack's UMA sysctl teardown (zone_dtor,
    // sysctl_remove_oid on the tcpcb zone); on a fresh stack it does not.
    let jail_dir = jnet::sim::ScratchDir::new("stack-bench-jails");
    let (_jail_process, jail_sock) =
        StackProcess::start_wired_in(jail_dir.path(), "benchj", "6a6e6574-0000-4000-8000-0000000000b2").unwrap();
    let jailed = with_jails(&jail_sock, &host);

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
    println!("\n## With jails and vnets\n");
    println!("On the stack alone: VIMAGE, the stack host's jails (fbsd-stack/jnet_prison.c), requests inside a");
    println!("jail on a connection attached to it. Kernel requests are counted by the stack host, the steps");
    println!("inside the jail included.\n");
    println!("| what | per operation |");
    println!("|---|---|");
    for (what, v) in jailed {
        println!("| {what} | {v} |");
    }
}
