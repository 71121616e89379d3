//! jnet-sim as jail(8), tests and the demo drive it: the real binary against a state file.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

struct Host {
    path: PathBuf,
    _dir: jnet::sim::ScratchDir,
}

impl Host {
    fn new(tag: &str) -> Host {
        let dir = jnet::sim::ScratchDir::new(&format!("it-{tag}"));
        Host { path: dir.path().join("host.json"), _dir: dir }
    }
    fn sim(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_jnet-sim")).args(args).env("JNET_SIM", &self.path).output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let o = self.sim(args);
        assert!(o.status.success(), "jnet-sim {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.ok(&["show", "--json"])).unwrap()
    }
}

fn names(v: &Value) -> Vec<String> {
    v["interfaces"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn init_and_vnet_jail_as_the_foundation_issue_demands() {
    let h = Host::new("init");
    h.ok(&["init", "--phys", "igb0,igb1"]);
    assert_eq!(h.ok(&["jail", "create", "www", "--vnet"]), "1\n");
    let s = h.json();
    assert_eq!(s["jails"], serde_json::json!([{ "name": "www", "jid": 1, "vnet": true, "state": "alive" }]));
    let vnets = s["vnets"].as_array().unwrap();
    assert_eq!(vnets.len(), 2);
    assert_eq!(vnets[0]["jail"], Value::Null);
    assert_eq!(names(&vnets[0]), ["lo0", "igb0", "igb1"]);
    assert_eq!(vnets[1]["jail"], "www");
    assert_eq!(names(&vnets[1]), ["lo0"]);
    let igb0 = &vnets[0]["interfaces"][1];
    assert_eq!(igb0["up"], true);
    assert_eq!(igb0["mtu"], 1500);
    assert_eq!(igb0["groups"], serde_json::json!(["all"]));
    assert!(igb0["mac"].as_str().unwrap().len() == 17);
    assert_eq!(igb0["addrs"][0]["prefixlen"], 64);
    assert_eq!(igb0["addrs"][0]["flags"], serde_json::json!([]), "IPv6 enabled and settled at init");
    assert_eq!(s["netgraph"], serde_json::json!([]));
    assert!(h.ok(&["show"]).contains("== vnet www\nlo0: flags=8008<LOOPBACK,MULTICAST> mtu 16384"));
}

#[test]
fn jail_interfaces_ip_sharing_addresses_and_linger() {
    let h = Host::new("jails");
    h.ok(&["init", "--phys", "igb0,igb2", "--dad-ms", "50"]);
    h.ok(&["jail", "create", "nic", "--vnet", "--interface", "igb2"]);
    h.ok(&["jail", "create", "ipj", "--ip4", "igb0|192.0.2.10/24", "--ip6", "igb0|2001:db8::10/64"]);
    let s = h.json();
    assert_eq!(names(&s["vnets"][0]), ["lo0", "igb0"]);
    assert_eq!(names(&s["vnets"][1]), ["lo0", "igb2"]);
    let addrs = &s["vnets"][0]["interfaces"][1]["addrs"];
    assert_eq!(addrs[1]["addr"], "192.0.2.10");
    assert_eq!(addrs[2]["addr"], "2001:db8::10");
    assert_eq!(addrs[2]["flags"], serde_json::json!(["tentative"]));
    std::thread::sleep(std::time::Duration::from_millis(80));
    assert_eq!(h.json()["vnets"][0]["interfaces"][1]["addrs"][2]["flags"], serde_json::json!([]));

    // jail -r removes the IP-sharing jail's addresses; a lingering vnet keeps igb2.
    h.ok(&["jail", "remove", "ipj"]);
    h.ok(&["jail", "remove", "nic", "--linger", "0.3"]);
    let s = h.json();
    assert_eq!(s["vnets"][0]["interfaces"][1]["addrs"].as_array().unwrap().len(), 1);
    assert_eq!(s["jails"], serde_json::json!([{ "name": "nic", "jid": 1, "vnet": true, "state": "dying" }]));
    assert_eq!(names(&s["vnets"][0]), ["lo0", "igb0"]);
    std::thread::sleep(std::time::Duration::from_millis(350));
    let s = h.json();
    assert_eq!(names(&s["vnets"][0]), ["lo0", "igb0", "igb2"]);
    assert_eq!(s["jails"], serde_json::json!([]));
}

#[test]
fn dup_fail_and_ops() {
    let h = Host::new("dup");
    h.ok(&["init", "--phys", "igb0", "--dad-ms", "10000"]);
    h.ok(&["dup", "2001:db8::7"]);
    h.ok(&["jail", "create", "ipj", "--ip6", "igb0|2001:db8::7/64"]);
    assert_eq!(h.json()["vnets"][0]["interfaces"][1]["addrs"][1]["flags"], serde_json::json!(["duplicated"]));
    h.ok(&["fail", "--after", "0", "--errno", "EBUSY"]);
    assert_eq!(h.ok(&["ops", "--count"]), "0\n");
    h.ok(&["ops", "--clear"]);
}

#[test]
fn bad_input_is_refused_with_usage_codes_and_changes_nothing() {
    let h = Host::new("bad");
    h.ok(&["init", "--phys", "igb0"]);
    let before = h.json();
    for (args, code) in [
        (&["jail", "create", "", "--vnet"][..], 65),
        (&["jail", "create", "a b"], 65),
        (&["jail", "create", "123"], 64),
        (&["jail", "create", "x", "--interface", "igb0"], 64),
        (&["jail", "create", "x", "--vnet", "--ip4", "igb0|192.0.2.1/24"], 64),
        (&["jail", "create", "x", "--ip4", "igb0/192.0.2.1/24"], 64),
        (&["jail", "create", "x", "--ip4", "igb0|2001:db8::1/64"], 64),
        (&["fail", "--after", "1", "--errno", "EWHAT"], 64),
        (&["dup", "192.0.2.1"], 64),
        (&["jail", "remove", "x", "--linger", "-1"], 64),
        (&["frobnicate"], 64),
    ] {
        let o = h.sim(args);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(!o.stderr.is_empty());
    }
    let o = h.sim(&["jail", "create", "x", "--vnet", "--interface", "igb9"]);
    assert_eq!(o.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&o.stderr).contains("igb9: no such interface"));
    let o = h.sim(&["jail", "remove", "nope"]);
    assert_eq!(o.status.code(), Some(68));
    assert_eq!(h.json(), before);
    let o = Command::new(env!("CARGO_BIN_EXE_jnet-sim"))
        .args(["show"])
        .env("JNET_SIM", "/nonexistent/x.json")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(69));
    assert!(String::from_utf8_lossy(&o.stderr).contains("run `jnet-sim init` first"));
}
