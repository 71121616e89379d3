//! jnet-ip6wait against the simulated host, whose DAD takes dad_count x --dad-ms.

use jnet::kernel::{in6f, nd6f, Cidr, Interfaces};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Output};

struct Host {
    path: PathBuf,
    _dir: jnet::sim::ScratchDir,
}

impl Host {
    fn new(tag: &str, phys: &str, dad_ms: u32) -> Host {
        let dir = jnet::sim::ScratchDir::new(&format!("ip6-{tag}"));
        let h = Host { path: dir.path().join("host.json"), _dir: dir };
        h.ok(env!("CARGO_BIN_EXE_jnet-sim"), &["init", "--phys", phys, "--dad-ms", &dad_ms.to_string()]);
        h
    }
    fn run(&self, prog: &str, args: &[&str]) -> Output {
        Command::new(prog).args(args).env("JNET_SIM", &self.path).output().unwrap()
    }
    fn ok(&self, prog: &str, args: &[&str]) -> String {
        let o = self.run(prog, args);
        assert!(o.status.success(), "{prog} {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }
    fn sim(&self, args: &[&str]) -> String {
        self.ok(env!("CARGO_BIN_EXE_jnet-sim"), args)
    }
    fn wait(&self, args: &[&str]) -> Output {
        self.run(env!("CARGO_BIN_EXE_jnet-ip6wait"), args)
    }
    fn show(&self) -> Value {
        serde_json::from_str(&self.sim(&["show", "--json"])).unwrap()
    }
    fn kernel(&self) -> jnet::sim::Sim {
        jnet::sim::Sim::open(&self.path).unwrap()
    }
}

/// Every IPv6 address of a vnet with its flags.
fn v6_flags(s: &Value, jail: Option<&str>) -> Vec<(String, Value)> {
    let want = jail.map(|j| json!(j)).unwrap_or(Value::Null);
    let v = s["vnets"].as_array().unwrap().iter().find(|v| v["jail"] == want).unwrap();
    let mut out = vec![];
    for i in v["interfaces"].as_array().unwrap() {
        for a in i["addrs"].as_array().unwrap() {
            let addr = a["addr"].as_str().unwrap();
            if addr.contains(':') {
                out.push((addr.to_string(), a["flags"].clone()));
            }
        }
    }
    out
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn recipe1_ip_sharing_jail_waits_for_its_ip6_addr() {
    let h = Host::new("r1", "igb0", 300);
    h.sim(&["jail", "create", "www", "--ip6", "igb0|2001:db8::80/64"]);
    let before = v6_flags(&h.show(), None);
    assert!(before.contains(&("2001:db8::80".into(), json!(["tentative"]))), "{before:?}");
    let o = h.wait(&["www"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "2001:db8::80 igb0\n");
    let after = v6_flags(&h.show(), None);
    assert!(after.contains(&("2001:db8::80".into(), json!([]))), "ready when it returned: {after:?}");
    assert!(stderr(&o).is_empty(), "quiet when all is well");
}

#[test]
fn recipe3_vnet_jail_configured_from_the_host_then_waited_for() {
    let h = Host::new("r3", "igb0", 300);
    h.sim(&["jail", "create", "www", "--vnet"]);
    h.ok(env!("CARGO_BIN_EXE_jnet-epair"), &["-b", "bridge0", "--ifname", "vnet0", "-a", "2001:db8::5/64", "www"]);
    let inside = v6_flags(&h.show(), Some("www"));
    assert_eq!(inside.len(), 2, "the address and the link-local: {inside:?}");
    assert!(inside.iter().all(|(_, f)| f == &json!(["tentative"])));
    let o = h.wait(&["--json", "www"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["scope"], "jail www");
    let states: Vec<&str> = v["addresses"].as_array().unwrap().iter().map(|a| a["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["ready", "ready"]);
    assert!(v6_flags(&h.show(), Some("www")).iter().all(|(_, f)| f == &json!([])), "nothing tentative inside");
}

#[test]
fn a_duplicate_fails_at_once() {
    // DAD would take 30 s: an answer at all means it failed fast.
    let h = Host::new("dup", "igb0", 30_000);
    h.sim(&["dup", "2001:db8::7"]);
    h.sim(&["jail", "create", "www", "--ip6", "igb0|2001:db8::7/64"]);
    let o = h.wait(&["www"]);
    assert_eq!(code(&o), Some(78));
    assert!(
        stderr(&o).contains("2001:db8::7 on igb0 is DUPLICATED: duplicate address detection found another host"),
        "{}",
        stderr(&o)
    );
    let o = h.wait(&["--json", "www"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["exit_code"], 78);
}

/// A new interface starts with IPv6 disabled, and an address added then is never checked
/// (in6.c): jnet enables IPv6 first, so a duplicate on a jail end or a host end is found.
#[test]
fn a_duplicate_on_a_new_epair_end_is_found() {
    let h = Host::new("dup-epair", "igb0", 30_000);
    h.sim(&["dup", "2001:db8::5"]);
    h.sim(&["dup", "2001:db8::1"]);
    h.sim(&["jail", "create", "www", "--vnet"]);
    h.ok(
        env!("CARGO_BIN_EXE_jnet-epair"),
        &["-b", "bridge0", "--ifname", "vnet0", "-a", "2001:db8::5/64", "--", "www"],
    );
    let o = h.wait(&["--", "www"]);
    assert_eq!(code(&o), Some(78), "{}", stderr(&o));
    assert!(stderr(&o).contains("2001:db8::5 on vnet0 is DUPLICATED"), "{}", stderr(&o));
    h.sim(&["jail", "create", "db", "--vnet"]);
    h.ok(env!("CARGO_BIN_EXE_jnet-epair"), &["--host-addr", "2001:db8::1/64", "-a", "2001:db8::2/64", "--", "db"]);
    let flags = v6_flags(&h.show(), None);
    assert!(flags.contains(&("2001:db8::1".into(), json!(["duplicated"]))), "{flags:?}");
}

#[test]
fn an_interface_that_is_down_or_ifdisabled_fails_at_once() {
    let h = Host::new("down", "igb0,igb1", 30_000);
    let mut k = h.kernel();
    k.if_set_flags("igb1", 0).unwrap();
    h.sim(&["jail", "create", "www", "--ip6", "igb1|2001:db8::9/64"]);
    let o = h.wait(&["www"]);
    assert_eq!(code(&o), Some(69));
    assert!(stderr(&o).contains("2001:db8::9 on igb1 is tentative and igb1 is down"), "{}", stderr(&o));

    let a: std::net::Ipv6Addr = "2001:db8::a".parse().unwrap();
    k.if_add_addr("igb0", Cidr { addr: a.into(), prefixlen: 64 }, 0).unwrap();
    let flags = k.if_nd6("igb0").unwrap().flags;
    k.if_set_nd6_flags("igb0", flags | nd6f::IFDISABLED).unwrap();
    let o = h.wait(&["-i", "igb0"]);
    assert_eq!(code(&o), Some(69));
    assert!(stderr(&o).contains("IPv6 is disabled on igb0 (ifdisabled)"), "{}", stderr(&o));
}

#[test]
fn timeouts_list_what_is_tentative_or_missing() {
    let h = Host::new("to", "igb0", 30_000);
    h.sim(&["jail", "create", "www", "--ip6", "igb0|2001:db8::5/64"]);
    let o = h.wait(&["-t", "0.2", "www"]);
    assert_eq!(code(&o), Some(75));
    assert!(stderr(&o).contains("timed out after 0.2 s: 2001:db8::5 on igb0 is still tentative"), "{}", stderr(&o));
    let o = h.wait(&["-t", "0.2", "-a", "2001:db8::99"]);
    assert_eq!(code(&o), Some(75));
    assert!(stderr(&o).contains("2001:db8::99 never appeared"), "{}", stderr(&o));
}

#[test]
fn addresses_without_dad_return_at_once() {
    let h = Host::new("nodad", "igb0,igb1", 30_000);
    let mut k = h.kernel();
    // no_dad on the interface (ND6_IFF_NO_DAD: nd6_dad_start clears TENTATIVE). The
    // address's own IN6_IFF_NODAD is not enough: FreeBSD runs DAD all the same.
    let nd = k.if_nd6("igb0").unwrap().flags;
    k.if_set_nd6_flags("igb0", nd | nd6f::NO_DAD).unwrap();
    let a: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
    k.if_add_addr("igb0", Cidr { addr: a.into(), prefixlen: 64 }, 0).unwrap();
    let o = h.wait(&["-i", "igb0", "-t", "0.5"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let b: std::net::Ipv6Addr = "2001:db8::3".parse().unwrap();
    let nd1 = k.if_nd6("igb1").unwrap().flags;
    k.if_set_nd6_flags("igb1", nd1 & !nd6f::IFDISABLED).unwrap();
    k.if_add_addr("igb1", Cidr { addr: b.into(), prefixlen: 64 }, in6f::NODAD).unwrap();
    let o = h.wait(&["-i", "igb1", "-a", "2001:db8::3", "-t", "0.2"]);
    assert_eq!(code(&o), Some(75), "{}", stderr(&o));
    // Loopback never does DAD.
    assert_eq!(code(&h.wait(&["-i", "lo0", "-t", "0.5"])), Some(0));
    // dad_count 0: DAD is off host-wide.
    jnet::sim::SimFiles::new(&h.path)
        .edit(|host, _| {
            host.sysctls.insert("net.inet6.ip6.dad_count".into(), 0);
            Ok(())
        })
        .unwrap();
    h.sim(&["jail", "create", "www", "--ip6", "igb1|2001:db8::2/64"]);
    let o = h.wait(&["-t", "0.5", "www"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "2001:db8::2 igb1\n");
}

#[test]
fn bad_input() {
    let h = Host::new("bad", "igb0", 100);
    h.sim(&["jail", "create", "www", "--vnet"]);
    let cases: &[(&[&str], i32, &str)] = &[
        (&["-t", "-1"], 65, "--timeout"),
        (&["-t", "abc"], 64, "Error parsing option '-t'"),
        (&["-a", "192.0.2.1"], 65, "is not an IPv6 address"),
        (&["-a", "2001:db8::1", "-a", "2001:db8::1"], 65, "given twice"),
        (&["-i", "igb9"], 65, "--iface igb9: no such interface"),
        (&["-i", "a/b"], 65, "--iface"),
        (&["nope"], 68, "jail nope is not running"),
        (&["42"], 68, "jail jid 42 is not running"),
    ];
    for (args, want, msg) in cases {
        let o = h.wait(args);
        assert_eq!(code(&o), Some(*want), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(msg), "{args:?}: {}", stderr(&o));
    }
}

/// SLAAC behind a host bridge: jnet gives an IPv6 gateway bridge its link-local address, so
/// a router advertisement (rtadvd on the host, played by `jnet-sim ra`) can go out of it;
/// the jail ends that accept advertisements autoconfigure an address and take the bridge as
/// their default router, the others do nothing; `jnet-ip6wait --autoconf 1 --router` returns
/// once the address passed DAD, and fails after its timeout when no advertisement comes.
#[test]
fn slaac_behind_a_host_bridge() {
    let h = Host::new("slaac", "igb0", 50);
    let epair = env!("CARGO_BIN_EXE_jnet-epair");
    for j in ["gw", "plain", "v4"] {
        h.sim(&["jail", "create", j, "--vnet"]);
    }
    // A bridge without an IPv6 address has no link-local address: nothing to send from.
    h.ok(
        epair,
        &["-b", "jails0", "--bridge-addr", "10.8.0.1/24", "--ifname", "vnet0", "--addr", "10.8.0.12/24", "--", "v4"],
    );
    let o = h.run(env!("CARGO_BIN_EXE_jnet-sim"), &["ra", "jails0", "2001:db8:8::/64"]);
    assert_eq!(code(&o), Some(65), "{}", stderr(&o));
    assert!(stderr(&o).contains("jails0 has no link-local address to send from"), "{}", stderr(&o));
    let gw_args = [
        "-b",
        "jails0",
        "--bridge-addr",
        "10.8.0.1/24",
        "--bridge-addr",
        "2001:db8:8::1/64",
        "--ifname",
        "vnet0",
        "--addr",
        "10.8.0.10/24",
        "--gateway",
        "10.8.0.1",
        "--accept-rtadv",
        "--",
        "gw",
    ];
    h.ok(epair, &gw_args);
    h.ok(epair, &["-b", "jails0", "--ifname", "vnet0", "--addr", "2001:db8:8::11/64", "--", "plain"]);
    let s = h.show();
    let host = s["vnets"].as_array().unwrap().iter().find(|v| v["jail"].is_null()).unwrap().clone();
    let jails0 = host["interfaces"].as_array().unwrap().iter().find(|i| i["name"] == "jails0").unwrap().clone();
    let bridge_ll: Vec<&str> = jails0["addrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["addr"].as_str().unwrap())
        .filter(|a| a.starts_with("fe80::"))
        .collect();
    assert_eq!(bridge_ll.len(), 1, "the IPv6 gateway bridge got its link-local address: {jails0}");
    // Before any advertisement the wait times out, saying why.
    let o = h.wait(&["--autoconf", "1", "--router", "-t", "0.3", "--", "gw"]);
    assert_eq!(code(&o), Some(75), "{}", stderr(&o));
    assert!(stderr(&o).contains("0 of 1 autoconfigured addresses are ready"), "{}", stderr(&o));
    assert!(stderr(&o).contains("no IPv6 default route"), "{}", stderr(&o));
    // The bridge's link-local address has passed DAD by now; the advertisement goes out.
    std::thread::sleep(std::time::Duration::from_millis(120));
    let out = h.sim(&["ra", "jails0", "2001:db8:8::/64"]);
    let line =
        |who: &str| out.lines().find(|l| l.starts_with(who)).unwrap_or_else(|| panic!("{who}: {out}")).to_string();
    assert!(
        line("vnet0 (jail gw)").contains("autoconf") && line("vnet0 (jail gw)").contains("default router fe80::"),
        "{out}"
    );
    assert!(line("vnet0 (jail plain)").contains("ignored: it does not accept router advertisements"), "{out}");
    assert!(line("vnet0 (jail v4)").contains("ignored: IPv6 is disabled"), "{out}");
    let o = h.wait(&["--autoconf", "1", "--router", "--json", "--", "gw"]);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let auto: Vec<&Value> = r["addresses"].as_array().unwrap().iter().filter(|a| a["autoconf"] == true).collect();
    assert_eq!(auto.len(), 1, "{r}");
    let slaac = auto[0]["addr"].as_str().unwrap().to_string();
    assert!(slaac.starts_with("2001:db8:8:0:"), "{slaac}");
    let s = h.show();
    let flags = v6_flags(&s, Some("gw"));
    assert!(flags.contains(&(slaac.clone(), json!(["autoconf"]))), "{flags:?}");
    let gw = s["vnets"].as_array().unwrap().iter().find(|x| x["jail"] == "gw").unwrap().clone();
    let routes = gw["routes"].as_array().unwrap();
    assert_eq!(routes[0], json!({ "dest": "0.0.0.0/0", "gateway": "10.8.0.1", "flags": "UGS" }));
    assert_eq!(routes[1]["dest"], "::/0");
    assert_eq!(routes[1]["flags"], "UG");
    assert!(routes[1]["gateway"].as_str().unwrap().ends_with("%vnet0"), "{gw}");
    // Again: nothing new.
    let out = h.sim(&["ra", "jails0", "2001:db8:8::/64"]);
    assert!(out.contains("kept") && out.contains("default route kept"), "{out}");
    assert_eq!(h.show()["vnets"], s["vnets"]);
    // Not for a jail without a vnet, and --autoconf 0 waits for nothing.
    h.sim(&["jail", "create", "shared"]);
    let o = h.wait(&["--autoconf", "1", "--", "shared"]);
    assert_eq!(code(&o), Some(64), "{}", stderr(&o));
    let o = h.wait(&["--autoconf", "0", "--", "gw"]);
    assert_eq!(code(&o), Some(65), "{}", stderr(&o));
}
