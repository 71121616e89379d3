//! Every jail of jail.conf.sample started and stopped the way jail(8) would
//! (`jnet-sim jail start|stop -f`), with the network each recipe's comment promises, and a
//! host with nothing of the jails left afterwards.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;

struct Host {
    path: PathBuf,
}

impl Host {
    fn sim(&self, args: &[&str]) -> String {
        let o = Command::new(env!("CARGO_BIN_EXE_jnet-sim")).args(args).env("JNET_SIM", &self.path).output().unwrap();
        assert!(
            o.status.success(),
            "jnet-sim {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
    fn show(&self) -> Value {
        serde_json::from_str(&self.sim(&["show", "--json"])).unwrap()
    }
}

fn sample() -> String {
    format!("{}/jail.conf.sample", env!("CARGO_MANIFEST_DIR"))
}

fn vnet(s: &Value, which: &str) -> Vec<Value> {
    let want = if which == "host" { Value::Null } else { json!(which) };
    s["vnets"].as_array().unwrap().iter().find(|v| v["jail"] == want).expect(which)["interfaces"]
        .as_array()
        .unwrap()
        .clone()
}

fn iface(s: &Value, which: &str, name: &str) -> Value {
    vnet(s, which).into_iter().find(|i| i["name"] == name).unwrap_or_else(|| panic!("{name} not in {which}"))
}

fn addrs(i: &Value) -> Vec<(String, Value)> {
    i["addrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (format!("{}/{}", a["addr"].as_str().unwrap(), a["prefixlen"]), a["flags"].clone()))
        .collect()
}

fn node(s: &Value, name: &str) -> Value {
    s["netgraph"].as_array().unwrap().iter().find(|n| n["name"] == name).cloned().unwrap_or(Value::Null)
}

#[test]
fn every_sample_jail_starts_and_stops_as_its_comment_says() {
    let dir = jnet::sim::ScratchDir::new("sample");
    let h = Host { path: dir.path().join("host.json") };
    h.sim(&["init", "--phys", "igb0,igb1,igb2", "--dad-ms", "100"]);
    let f = sample();
    let start = |j: &str| h.sim(&["jail", "start", j, "-f", &f]);

    // Recipe 1: the address is on igb0 and past DAD when exec.created is done.
    start("web");
    let s = h.show();
    assert!(addrs(&iface(&s, "host", "igb0")).contains(&("2001:db8::80/64".into(), json!([]))));

    // Recipe 2: bridge0 with igb0 then e0a_www; e0b_www moved in by vnet.interface.
    start("www");
    let s = h.show();
    assert_eq!(iface(&s, "host", "bridge0")["members"], json!(["igb0", "e0a_www"]));
    assert_eq!(iface(&s, "host", "bridge0")["description"], "jnet::bridge");
    assert_eq!(iface(&s, "www", "e0b_www")["description"], "jnet:www:epair0b");

    // Recipe 3: vnet0 inside app, up, addressed, nothing tentative once started.
    start("app");
    let s = h.show();
    let v = iface(&s, "app", "vnet0");
    assert_eq!(v["up"], true);
    let a = addrs(&v);
    assert!(a.contains(&("2001:db8::5/64".into(), json!([]))), "{a:?}");
    assert!(a.contains(&("192.0.2.5/24".into(), json!([]))), "{a:?}");
    assert!(a.iter().all(|(_, f)| f == &json!([])), "DAD done: {a:?}");
    assert_eq!(iface(&s, "host", "bridge0")["members"], json!(["igb0", "e0a_www", "e0a_app"]));

    // Recipe 4: point-to-point, no bridge membership.
    start("db");
    let s = h.show();
    assert_eq!(addrs(&iface(&s, "host", "e0a_db"))[0].0, "10.9.0.1/30");
    assert!(addrs(&iface(&s, "db", "e0b_db")).iter().any(|(a, _)| a == "10.9.0.2/30"));
    assert!(!iface(&s, "host", "bridge0")["members"].as_array().unwrap().contains(&json!("e0a_db")));

    // Recipe 5: igb1bridge spliced onto igb1; ng0_mail in the jail.
    start("mail");
    let s = h.show();
    assert_eq!(node(&s, "igb1")["promisc"], true);
    assert_eq!(node(&s, "igb1")["autosrc"], false);
    assert_eq!(node(&s, "igb1bridge")["hooks"].as_array().unwrap().len(), 3);
    assert_eq!(iface(&s, "mail", "ng0_mail")["description"], "jnet:mail:eiface0");

    // Recipe 6: persistent vbr0; vnet0 inside cache.
    start("cache");
    let s = h.show();
    assert_eq!(node(&s, "vbr0")["persistent"], true);
    assert!(addrs(&iface(&s, "cache", "vnet0")).iter().any(|(a, _)| a == "10.7.0.2/24"));

    // Recipe 7: igb2 in dmz, recorded on the host first.
    h.sim(&["ifconfig", "igb2", "description", "dmz uplink"]);
    start("dmz");
    let s = h.show();
    assert!(vnet(&s, "dmz").iter().any(|i| i["name"] == "igb2"));
    assert!(!vnet(&s, "host").iter().any(|i| i["name"] == "igb2"));

    // Recipe 8: jails0 with the gateway addresses and a link-local address; vnet0 inside gw
    // accepts RAs, and once rtadvd on the host answers (played here by `jnet-sim ra`
    // every 50 ms, as soon as jails0 can send one) it has its SLAAC address and IPv6
    // default router when exec.poststart's jnet-ip6wait returns.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let rtadvd = {
        let (done, path) = (done.clone(), h.path.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let _ = Command::new(env!("CARGO_BIN_EXE_jnet-sim"))
                    .args(["ra", "jails0", "2001:db8:8::/64"])
                    .env("JNET_SIM", &path)
                    .output();
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        })
    };
    start("gw");
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    rtadvd.join().unwrap();
    let s = h.show();
    let b = addrs(&iface(&s, "host", "jails0"));
    assert!(b.iter().any(|(a, _)| a == "10.8.0.1/24") && b.iter().any(|(a, _)| a == "2001:db8:8::1/64"), "{b:?}");
    assert!(b.iter().any(|(a, _)| a.starts_with("fe80::")), "{b:?}");
    let v = iface(&s, "gw", "vnet0");
    let a = addrs(&v);
    assert!(a.iter().any(|(a, _)| a == "10.8.0.10/24"));
    assert!(
        a.iter().any(|(a, f)| a.starts_with("2001:db8:8:0:") && f == &json!(["autoconf"])),
        "SLAAC, past DAD: {a:?}"
    );
    assert!(v["nd6_flags"].as_array().unwrap().contains(&json!("ACCEPT_RTADV")));
    let gw = s["vnets"].as_array().unwrap().iter().find(|x| x["jail"] == "gw").unwrap().clone();
    assert_eq!(gw["routes"][0], json!({ "dest": "0.0.0.0/0", "gateway": "10.8.0.1", "flags": "UGS" }));
    assert_eq!((gw["routes"][1]["dest"].clone(), gw["routes"][1]["flags"].clone()), (json!("::/0"), json!("UG")));

    // Recipe 9: igb0.20 on b20_igb0 with e0a_vlan20; e0b_vlan20 moved in.
    start("vlan20");
    let s = h.show();
    assert_eq!(iface(&s, "host", "igb0.20")["vlan"], json!({ "parent": "igb0", "tag": 20 }));
    assert_eq!(iface(&s, "host", "b20_igb0")["members"], json!(["igb0.20", "e0a_vlan20"]));
    assert!(vnet(&s, "vlan20").iter().any(|i| i["name"] == "e0b_vlan20"));

    // Stop them all; dmz lingers 60 s and still gives igb2 back at once.
    for j in ["web", "www", "app", "db", "mail", "cache", "gw", "vlan20"] {
        h.sim(&["jail", "stop", j, "-f", &f]);
    }
    h.sim(&["jail", "stop", "dmz", "-f", &f, "--linger", "60"]);
    let s = h.show();
    let host: Vec<String> = vnet(&s, "host").iter().map(|i| i["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(host, ["lo0", "igb0", "igb1", "bridge0", "igb2"], "only the NICs and the shared bridge are left");
    let igb2 = iface(&s, "host", "igb2");
    assert_eq!((&igb2["description"], &igb2["up"]), (&json!("dmz uplink"), &json!(true)), "igb2 as it was");
    assert!(
        addrs(&iface(&s, "host", "igb0")).iter().all(|(a, _)| !a.starts_with("2001:db8::80")),
        "web's address is gone"
    );
    assert_eq!(iface(&s, "host", "bridge0")["members"], json!(["igb0"]));
    assert_eq!(s["jails"], json!([{ "name": "dmz", "jid": 7, "vnet": true, "state": "dying" }]));
    assert!(!s["netgraph"].as_array().unwrap().iter().any(|n| n["type"] == "eiface" || n["name"] == "vbr0"));
    // No interface tagged for a jail is left anywhere.
    let list =
        Command::new(env!("CARGO_BIN_EXE_jnet-release")).arg("--list").env("JNET_SIM", &h.path).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&list.stdout), "- bridge bridge0 host\n");
}

#[test]
fn a_start_that_fails_after_prestart_leaves_what_prestart_made_as_jail8_does() {
    let scratch = jnet::sim::ScratchDir::new("sample-fail");
    let dir = scratch.path();
    let h = Host { path: dir.join("host.json") };
    h.sim(&["init", "--phys", "igb0"]);
    let conf = dir.join("jail.conf");
    std::fs::write(
        &conf,
        "www { vnet; exec.prestart += \"/usr/local/sbin/jnet-epair -b bridge0 -- $name\"; vnet.interface = \"e0b_$name\", \"igb9\"; exec.poststop += \"/usr/local/sbin/jnet-release -- $name\"; }\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_jnet-sim"))
        .args(["jail", "start", "www", "-f", conf.to_str().unwrap()])
        .env("JNET_SIM", &h.path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(71));
    assert!(String::from_utf8_lossy(&o.stderr).contains("ifconfig igb9 vnet"));
    let s = h.show();
    // jail(8) gave e0b_www back and removed the jail, but runs no poststop: the pair stays.
    assert_eq!(s["jails"], json!([]));
    let host: Vec<String> = vnet(&s, "host").iter().map(|i| i["name"].as_str().unwrap().to_string()).collect();
    assert!(host.contains(&"e0a_www".to_string()) && host.contains(&"e0b_www".to_string()), "{host:?}");
    // Which --stale cleans up.
    let o = Command::new(env!("CARGO_BIN_EXE_jnet-release")).arg("--stale").env("JNET_SIM", &h.path).output().unwrap();
    assert!(o.status.success());
    let s = h.show();
    assert!(!vnet(&s, "host").iter().any(|i| i["name"].as_str().unwrap().ends_with("_www")));
}
