//! jnet-release: dedicated NICs reclaimed at once from live and dying jails, waits, crashes
//! and failed starts swept with --stale, and releases beside concurrent starts.

mod common;
use common::*;
use jnet::kernel::{Interfaces, Vnets};
use serde_json::{json, Value};
use std::process::{Command, Stdio};

impl Host {
    fn new(tag: &str, phys: &str) -> Host {
        Host::init(&format!("rel-{tag}"), &["--phys", phys])
    }
}

/// Recipe 7: exec.prestart += "jnet-nic --iface igb2 -- $name"; vnet.interface = "igb2";
/// exec.poststop += "jnet-release --iface igb2 -- $name" (here by hand while the jail runs).
#[test]
fn recipe7_dedicated_nic_back_at_once() {
    let h = Host::new("r7", "igb0,igb2,igb3");
    let mut k = h.kernel();
    k.if_set_description("igb2", Some("dmz uplink")).unwrap();
    k.if_add_group("igb2", "dmz").unwrap();
    drop(k);
    // exec.prestart: the jail does not exist yet; jnet records the NICs on the host.
    assert_eq!(h.ok("jnet-nic", &["--iface", "igb2", "--iface", "igb3", "--", "www"]), "igb2\nigb3\n");
    h.ok("jnet-sim", &["jail", "create", "www", "--vnet", "--interface", "igb2", "--interface", "igb3"]);
    assert_eq!(h.ok("jnet-release", &["--iface", "igb2", "--", "www"]), "igb2\n");
    let s = h.show();
    assert_eq!(names(&s, "www"), ["lo0", "igb3"]);
    let igb2 = iface(&s, "host", "igb2");
    assert_eq!(igb2["description"], "dmz uplink", "description as it was");
    assert_eq!(igb2["groups"], json!(["all", "dmz"]), "groups as they were");
    assert_eq!(igb2["up"], true, "up as it was");
    // The jail's rc renamed igb3 (ifconfig_igb3_name="lan0"): it is found by its driver.
    let mut k = h.kernel();
    k.in_jail(1, |k| k.if_rename("igb3", "lan0").map_err(|e| jnet::error::Error::kernel("rename", e))).unwrap();
    drop(k);
    assert_eq!(h.ok("jnet-release", &["--iface", "igb3", "--", "www"]), "igb3\n");
    let s = h.show();
    assert_eq!(names(&s, "host"), ["lo0", "igb0", "igb2", "igb3"]);
    assert_eq!(iface(&s, "host", "igb3")["description"], Value::Null);
    // The jail is then removed and lingers 60 s: nothing more to do, and poststop agrees.
    h.ok("jnet-sim", &["jail", "remove", "www", "--linger", "60"]);
    assert_eq!(h.ok("jnet-release", &["--iface", "igb2", "--iface", "igb3", "--", "www"]), "nothing to release\n");
    assert_eq!(
        std::fs::read_dir(jnet::sim::SimFiles::new(&h.path).run_dir().join("nic")).unwrap().count(),
        0,
        "records are gone"
    );
}

#[test]
fn recipe7_in_poststop_while_the_jail_lingers() {
    let h = Host::new("r7p", "igb0,igb2");
    h.ok("jnet-sim", &["jail", "create", "www", "--vnet", "--interface", "igb2"]);
    h.ok("jnet-sim", &["jail", "remove", "www", "--linger", "60"]);
    assert_eq!(names(&h.show(), "host"), ["lo0", "igb0"], "the dying vnet holds igb2");
    // exec.poststop: SIOCSIFRVNET still reaches the dying jail.
    assert_eq!(h.ok("jnet-release", &["--iface", "igb2", "www"]), "igb2\n");
    let s = h.show();
    assert_eq!(names(&s, "host"), ["lo0", "igb0", "igb2"]);
    assert_eq!(s["jails"][0]["state"], "dying", "the jail is still dying: the NIC did not wait for it");
}

#[test]
fn wait_reports_and_times_out_when_the_nic_is_stuck() {
    let h = Host::new("stuck", "igb0,igb2");
    h.ok("jnet-sim", &["jail", "create", "www", "--vnet", "--interface", "igb2"]);
    h.ok("jnet-sim", &["jail", "remove", "www", "--linger", "1.2", "--stuck"]);
    let err = h.fails("jnet-release", &["--iface", "igb2", "www"], 75);
    assert!(
        err.contains("igb2 is still in jail www's vnet: take igb2 back from jail www: Device busy (EBUSY)"),
        "{err}"
    );
    let err = h.fails("jnet-release", &["--iface", "igb2", "--wait", "0.3", "www"], 75);
    assert!(err.contains("igb2 is still in jail www's vnet after waiting 0.3 s"), "{err}");
    // Waiting long enough sees the vnet die and the NIC come home.
    assert_eq!(h.ok("jnet-release", &["--iface", "igb2", "--wait", "5", "www"]), "nothing to release\n");
    assert!(names(&h.show(), "host").contains(&"igb2".to_string()));
}

#[test]
fn a_nic_that_comes_home_late_is_restored_from_its_record() {
    let setup = |tag: &str| {
        let h = Host::new(tag, "igb0,igb2");
        let mut k = h.kernel();
        k.if_set_description("igb2", Some("dmz uplink")).unwrap();
        drop(k);
        h.ok("jnet-nic", &["--iface", "igb2", "--", "www"]);
        h.ok("jnet-sim", &["jail", "create", "www", "--vnet", "--interface", "igb2"]);
        h.ok("jnet-sim", &["ops", "--clear"]);
        h
    };
    // Where the SIOCSIFRVNET falls in a release.
    let probe = setup("late-probe");
    probe.ok("jnet-release", &["--iface", "igb2", "--", "www"]);
    let ops = probe.ok("jnet-sim", &["ops", "--json"]);
    let at = ops.lines().position(|l| l.contains("SIOCSIFRVNET")).unwrap();
    let h = setup("late");
    h.ok("jnet-sim", &["fail", "--after", &at.to_string(), "--errno", "EBUSY"]);
    let err = h.fails("jnet-release", &["--iface", "igb2", "--", "www"], 75);
    assert!(err.contains("Device busy"), "{err}");
    // Inside, the jail's root renames it and writes what he likes on it; the jail goes, the
    // vnet dies, and the NIC comes home under his name, with his description.
    h.ok("jnet-sim", &["ifconfig", "-j", "www", "igb2", "name", "lan0"]);
    h.ok("jnet-sim", &["ifconfig", "-j", "www", "lan0", "description", "jnet-nic www bridge0 lo pwned"]);
    h.ok("jnet-sim", &["ifconfig", "-j", "www", "lan0", "inet", "192.0.2.1/24"]);
    h.ok("jnet-sim", &["jail", "remove", "www"]);
    // A dying vnet sends the NIC home under his name; vnet_if_return's if_vmove takes the
    // jail's addresses off (if.c: VNET_IS_SHUTTING_DOWN is false at SI_SUB_VNET_DONE).
    assert_eq!(iface(&h.show(), "host", "lan0")["addrs"], json!([]));
    // --stale (at boot, or from cron) puts the NIC back from the host's record.
    assert_eq!(h.ok("jnet-release", &["--stale"]), "igb2\n");
    let s = h.show();
    let igb2 = iface(&s, "host", "igb2");
    assert_eq!(igb2["description"], "dmz uplink");
    assert_eq!(igb2["groups"], json!(["all"]));
    let kept: Vec<&str> = igb2["addrs"].as_array().unwrap().iter().map(|a| a["addr"].as_str().unwrap()).collect();
    assert!(kept.iter().all(|a| a.starts_with("fe80:")), "only the host's link-local may stay: {kept:?}");
    assert!(!names(&s, "host").contains(&"lan0".to_string()));
    assert_eq!(h.ok("jnet-release", &["--stale"]), "nothing to release\n");
}

#[test]
fn failed_start_and_crash_then_stale_leaves_running_jails_alone() {
    let h = Host::new("stale", "igb0,igb1");
    // A running jail, set up properly.
    h.ok("jnet-sim", &["jail", "create", "db", "--vnet"]);
    h.ok("jnet-epair", &["-b", "bridge0", "--ifname", "vnet0", "db"]);
    h.ok("jnet-ngattach", &["-u", "igb1", "--ifname", "vnet1", "-i", "1", "db"]);
    let running = h.show();
    // A start that fails after exec.prestart: jail(8) runs no exec.poststop.
    h.ok("jnet-epair", &["-b", "bridge0", "www"]);
    // A crash: jnet-epair killed mid-run (SIGKILL at its 10th kernel operation), and a
    // jnet-ngattach killed just after it made its eiface.
    h.ok("jnet-sim", &["fail", "--after", "10", "--kill"]);
    let o = h.run("jnet-epair", &["-b", "bridge0", "mail"]);
    assert_eq!(o.status.code(), None, "killed by a signal");
    assert!(h.ok("jnet-sim", &["ops"]).contains("-> KILLED"));
    h.ok("jnet-sim", &["ops", "--clear"]);
    let probe = h.run("jnet-ngattach", &["-u", "igb1", "cache"]);
    assert!(probe.status.success());
    let ops = h.ok("jnet-sim", &["ops", "--json"]);
    let names_op = ops.lines().position(|l| l.contains("NGM_NAME") && l.contains(&h.node("cache", 0))).unwrap();
    h.ok("jnet-release", &["cache"]);
    h.ok("jnet-sim", &["fail", "--after", &(names_op + 1).to_string(), "--kill"]);
    let o = h.run("jnet-ngattach", &["-u", "igb1", "cache"]);
    assert_eq!(o.status.code(), None, "killed by a signal");
    let s = h.show();
    assert!(
        s["netgraph"].as_array().unwrap().iter().any(|n| n["name"] == h.node("cache", 0)),
        "the crash left an eiface"
    );
    assert!(names(&s, "host").contains(&"e0a_www".to_string()));
    // The sweep.
    let out = h.ok("jnet-release", &["--stale"]);
    assert!(out.contains("e0a_www"), "{out}");
    let s = h.show();
    for n in names(&s, "host") {
        assert!(
            !n.contains("www")
                && !n.contains("mail")
                && !n.contains("cache")
                && !n.starts_with("epair")
                && !n.starts_with("ngeth"),
            "{n} left behind"
        );
    }
    assert!(!s["netgraph"].as_array().unwrap().iter().any(|n| n["name"] == h.node("cache", 0)));
    // The running jail is untouched.
    assert_eq!(vnet(&s, "db"), vnet(&running, "db"));
    assert!(names(&s, "host").contains(&"e0a_db".to_string()));
    assert_eq!(h.ok("jnet-release", &["--stale"]), "nothing to release\n");
}

#[test]
fn release_twice_never_existed_and_beside_32_starts() {
    let h = Host::new("conc", "igb0");
    h.ok("jnet-epair", &["-b", "bridge0", "www"]);
    let spawn = |prog: &str, args: Vec<String>| {
        Command::new(bin(prog))
            .args(args)
            .env("JNET_SIM", &h.path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut kids: Vec<_> =
        (0..32).map(|i| spawn("jnet-epair", vec!["-b".into(), "bridge0".into(), format!("j{i}")])).collect();
    kids.push(spawn("jnet-release", vec!["www".into()]));
    for c in kids {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let s = h.show();
    let host = names(&s, "host");
    assert!(!host.iter().any(|n| n.ends_with("_www")));
    for i in 0..32 {
        assert!(host.contains(&format!("e0a_j{i}")), "j{i} lost its epair");
    }
    assert_eq!(h.ok("jnet-release", &["www"]), "nothing to release\n");
    assert_eq!(h.ok("jnet-release", &["never-was"]), "nothing to release\n");
    // None of the 32 jails was ever created (only their prestart ran): all stale.
    let v: Value = serde_json::from_str(&h.ok("jnet-release", &["--stale", "--json"])).unwrap();
    assert_eq!(v["stale_jails"].as_array().unwrap().len(), 32);
    assert_eq!(v["released"].as_array().unwrap().len(), 32);
    assert_eq!(names(&h.show(), "host"), ["lo0", "igb0", "bridge0"]);
    let v: Value = serde_json::from_str(&h.ok("jnet-release", &["--stale", "--json"])).unwrap();
    assert_eq!(v, json!({ "stale_jails": [], "released": [], "pruned": [] }));
}

#[test]
fn bad_release_options() {
    let h = Host::new("badrel", "igb0");
    let before = h.show();
    for (args, code) in [
        (&["--stale", "www"][..], 64),
        (&["--stale", "--iface", "igb0"], 64),
        (&["--list", "--iface", "igb0"], 64),
        (&["--wait", "3", "www"], 64),
        (&["--iface", "igb0", "--wait", "-1", "www"], 65),
        (&["--iface", "a/b", "www"], 65),
        (&["--iface", "igb9", "www"], 75),
    ] {
        h.fails("jnet-release", args, code);
    }
    assert_eq!(h.show(), before);
}

#[test]
fn jnet_nic_refuses_bad_input_and_changes_nothing() {
    let h = Host::new("nic-bad", "igb0,igb2");
    h.ok("jnet-epair", &["-b", "bridge0", "--", "www"]);
    h.ok("jnet-sim", &["jail", "create", "ip", "--ip4", "igb0|192.0.2.9/24"]);
    let before = h.show();
    let records = || std::fs::read_dir(jnet::sim::SimFiles::new(&h.path).run_dir().join("nic")).map(|d| d.count());
    let cases: &[(&[&str], i32, &str)] = &[
        (&["--", "db"], 64, "which NIC?"),
        (&["--iface", "igb2", "--iface", "igb2", "--", "db"], 64, "given twice"),
        (&["--iface", "igb9", "--", "db"], 65, "igb9 is not on the host"),
        (&["--iface", "lo0", "--", "db"], 65, "loopback"),
        (&["--iface", "e0a_www", "--", "db"], 78, "jnet's own interface"),
        (&["--iface", "igb2", "--", "77"], 68, "no running jail with jid 77"),
        (&["--iface", "igb2", "--", "ip"], 68, "has no vnet of its own"),
        (&["--iface", "a/b", "--", "db"], 65, "contains '/'"),
    ];
    for (args, code, msg) in cases {
        let err = h.fails("jnet-nic", args, *code);
        assert!(err.contains(msg), "{args:?}: {err}");
        assert_eq!(h.show(), before, "{args:?}");
        assert!(records().map_or(true, |n| n == 0), "{args:?} left a record");
    }
    // A dry run says what it would do and records nothing.
    assert_eq!(h.ok("jnet-nic", &["-n", "--iface", "igb2", "--", "db"]), "# record igb2 on the host for jail db\n");
    assert!(records().map_or(true, |n| n == 0));
}

/// Recipe 7 with a NIC the jail's rc renamed (ifconfig_igb2_name="net0"): its vnet lingers
/// after jail -r, and a dying jail cannot be entered to find the NIC by its driver. With
/// `jnet-nic --track` in exec.prestop, exec.poststop takes it back at once under the name
/// the jail gave it, and checks its driver; without it, it stays away until the vnet dies.
/// A jail root who gives that name to an epair of his own after the track gets it back.
#[test]
fn recipe7_a_nic_renamed_inside_comes_home_at_once_when_tracked() {
    let h = Host::new("r7track", "igb0,igb2");
    h.ok("jnet-nic", &["--iface", "igb2", "--", "dmz"]);
    h.ok("jnet-sim", &["jail", "create", "dmz", "--vnet", "--interface", "igb2"]);
    h.ok("jnet-sim", &["ifconfig", "-j", "dmz", "igb2", "name", "net0"]);
    // exec.prestop: the jail still runs.
    assert_eq!(h.ok("jnet-nic", &["--track", "--iface", "igb2", "--", "dmz"]), "igb2 net0\n");
    h.ok("jnet-sim", &["jail", "remove", "dmz", "--linger", "60"]);
    // exec.poststop, the vnet lingering.
    assert_eq!(h.ok("jnet-release", &["--iface", "igb2", "--", "dmz"]), "igb2\n");
    let s = h.show();
    assert_eq!(names(&s, "host"), ["lo0", "igb0", "igb2"]);
    assert_eq!(iface(&s, "host", "igb2")["driver"], "igb2");

    // Untracked, the renamed NIC waits for the vnet to die.
    let h = Host::new("r7untracked", "igb0,igb2");
    h.ok("jnet-nic", &["--iface", "igb2", "--", "dmz"]);
    h.ok("jnet-sim", &["jail", "create", "dmz", "--vnet", "--interface", "igb2"]);
    h.ok("jnet-sim", &["ifconfig", "-j", "dmz", "igb2", "name", "net0"]);
    h.ok("jnet-sim", &["jail", "remove", "dmz", "--linger", "60"]);
    h.fails("jnet-release", &["--iface", "igb2", "--", "dmz"], 75);

    // After the track the jail's root renames the NIC and names an epair of his net0: what
    // comes out under net0 is not igb2, goes straight back, and the NIC stays away.
    let h = Host::new("r7swap", "igb0,igb2");
    h.ok("jnet-nic", &["--iface", "igb2", "--", "dmz"]);
    h.ok("jnet-sim", &["jail", "create", "dmz", "--vnet", "--interface", "igb2"]);
    h.ok("jnet-sim", &["ifconfig", "-j", "dmz", "igb2", "name", "net0"]);
    h.ok("jnet-nic", &["--track", "--iface", "igb2", "--", "dmz"]);
    h.ok("jnet-sim", &["ifconfig", "-j", "dmz", "net0", "name", "hidden"]);
    // (if_epair is loaded on the host, as it is where jails get epairs.)
    h.ok("jnet-sim", &["ifconfig", "epair", "create"]);
    h.ok("jnet-sim", &["ifconfig", "epair0a", "destroy"]);
    h.ok("jnet-sim", &["ifconfig", "-j", "dmz", "epair", "create"]);
    h.ok("jnet-sim", &["ifconfig", "-j", "dmz", "epair0a", "name", "net0"]);
    h.ok("jnet-sim", &["jail", "remove", "dmz", "--linger", "60"]);
    let err = h.fails("jnet-release", &["--iface", "igb2", "--", "dmz"], 78);
    assert!(err.contains("net0 taken back from jail dmz is epair0, not igb2's igb2"), "{err}");
    assert_eq!(names(&h.show(), "host"), ["lo0", "igb0"]);
    // --track needs the jail running; a NIC it cannot note is only warned about (a failing
    // exec.prestop would stop jail -r).
    let err = h.fails("jnet-nic", &["--track", "--iface", "igb2", "--", "gone"], 68);
    assert!(err.contains("use it in exec.prestop"), "{err}");
    h.ok("jnet-sim", &["jail", "create", "other", "--vnet"]);
    let o = h.run("jnet-nic", &["--track", "--iface", "igb3", "--", "other"]);
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "igb3 -\n");
    assert!(String::from_utf8_lossy(&o.stderr).contains("igb3 not noted: igb3 has no record for jail other"));
}
