//! jnet-ngattach and the netgraph part of jnet-release against the simulated host.

mod common;
use common::*;
use jnet::mac::Mac;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};

const UUID: &str = "11111111-2222-3333-4444-555555555555";

impl Host {
    fn new(tag: &str, phys: &str) -> Host {
        Host::init(&format!("ng-{tag}"), &["--phys", phys, "--hostuuid", UUID])
    }
}

/// The graph by node name: type, type state and hooks as (hook, peer name, peer hook).
/// Ids are left out (they only grow) and so are control sockets (gone with their process).
fn graph(s: &Value) -> BTreeMap<String, Value> {
    let nodes = s["netgraph"].as_array().unwrap();
    let by_id: BTreeMap<String, String> = nodes
        .iter()
        .map(|n| (n["id"].as_str().unwrap().to_string(), n["name"].as_str().unwrap_or("").to_string()))
        .collect();
    nodes
        .iter()
        .filter(|n| n["type"] != "socket")
        .map(|n| {
            let hooks: Vec<Value> = n["hooks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    let peer = h["peer"].as_str().unwrap();
                    let (id, hook) = peer.trim_start_matches('[').split_once("]:").unwrap();
                    json!([h["name"], by_id[id], hook])
                })
                .collect();
            let mut v = n.clone();
            let o = v.as_object_mut().unwrap();
            o.remove("id");
            o.insert("hooks".into(), json!(hooks));
            (n["name"].as_str().unwrap_or("<unnamed>").to_string(), v)
        })
        .collect()
}

/// Interfaces without their indexes (new interfaces get new ones).
fn ifaces(s: &Value) -> Value {
    let mut v = s["vnets"].clone();
    for x in v.as_array_mut().unwrap() {
        for i in x["interfaces"].as_array_mut().unwrap() {
            i.as_object_mut().unwrap().remove("index");
        }
    }
    v
}

/// The graph once the netgraph modules are loaded and nothing else happened: every NIC's
/// ng_ether node, unhooked, with ng_ether's defaults.
fn pristine(s: &Value) -> bool {
    graph(s)
        .values()
        .all(|n| n["type"] == "ether" && n["hooks"] == json!([]) && n["promisc"] == false && n["autosrc"] == true)
}

#[test]
fn recipe5_bridge_on_a_nic_prestart_to_poststop() {
    let h = Host::new("r5", "igb0,igb1");
    let start = h.show();
    assert_eq!(h.ok("jnet-ngattach", &["-u", "igb0", "www"]), "ng0_www\n");
    let s = h.show();
    let g = graph(&s);
    assert_eq!(g["igb0bridge"]["type"], "bridge");
    assert_eq!(
        g["igb0bridge"]["hooks"],
        json!([["link0", "igb0", "lower"], ["link1", "igb0", "upper"], ["link2", h.node("www", 0), "ether"]])
    );
    assert_eq!(g["igb0"]["promisc"], true);
    assert_eq!(g["igb0"]["autosrc"], false);
    assert_eq!(g[&h.node("www", 0)]["type"], "eiface");
    let i = iface(&s, "host", "ng0_www");
    assert_eq!(i["description"], "jnet:www:eiface0");
    assert_eq!(i["groups"], json!(["all", "jnet"]));
    assert_eq!(i["up"], true);
    assert_eq!(i["mac"], Mac::derive(UUID, "www", 0, "ng").to_string());
    // jail(8) moves vnet.interface in.
    h.ok("jnet-sim", &["jail", "create", "www", "--vnet", "--interface", "ng0_www"]);
    let s = h.show();
    assert_eq!(names(&s, "www"), ["lo0", "ng0_www"]);
    assert_eq!(iface(&s, "www", "ng0_www")["description"], "jnet:www:eiface0");
    assert_eq!(graph(&s)[&h.node("www", 0)]["vnet"], "host", "the node stays in the host's graph");
    // Stop: the jail lingers; release shuts the node down, which takes the interface.
    h.ok("jnet-sim", &["jail", "remove", "www", "--linger", "60"]);
    assert_eq!(h.ok("jnet-release", &["--prune", "www"]), "ng0_www\nigb0bridge\n");
    let end = h.show();
    assert!(pristine(&end), "{:?}", graph(&end));
    assert_eq!(names(&end, "www"), ["lo0"]);
    assert_eq!(vnet(&end, "host"), vnet(&start, "host"));
}

#[test]
fn recipe6_virtual_bridge_configured_from_the_host() {
    let h = Host::new("r6", "igb0");
    h.ok("jnet-sim", &["jail", "create", "app", "--vnet"]);
    h.ok("jnet-sim", &["jail", "create", "db", "--vnet"]);
    let before = h.show();
    let out = h.ok("jnet-ngattach", &["--virtual", "-b", "vbr0", "--ifname", "vnet0", "-a", "10.7.0.2/24", "app"]);
    assert_eq!(out, "vnet0\n");
    h.ok("jnet-ngattach", &["--virtual", "-b", "vbr0", "--ifname", "vnet0", "-a", "10.7.0.3/24", "db"]);
    let s = h.show();
    let g = graph(&s);
    assert_eq!(g["vbr0"]["persistent"], true);
    assert_eq!(g["vbr0"]["hooks"], json!([["link0", h.node("app", 0), "ether"], ["link1", h.node("db", 0), "ether"]]));
    let v = iface(&s, "app", "vnet0");
    assert_eq!(v["up"], true);
    assert_eq!(v["addrs"][0]["addr"], "10.7.0.2");
    // --list shows the interfaces where they are and the nodes with their bridge links.
    let list = h.ok("jnet-release", &["--list", "app"]);
    assert_eq!(
        list,
        format!(
            "app eiface0 vnet0 jail:app\napp ng-node {} netgraph vbr0:link0 rx=0 tx=0 ifname=vnet0\n",
            h.node("app", 0)
        )
    );
    // Running it again converges.
    let j: Value = serde_json::from_str(
        &h.ok("jnet-ngattach", &["--virtual", "-b", "vbr0", "--ifname", "vnet0", "-a", "10.7.0.2/24", "--json", "app"]),
    )
    .unwrap();
    assert_eq!(j["action"], "reused");
    assert_eq!(graph(&h.show()), g);
    // The bridge stays while db is on it, and goes with the last jail when pruned.
    assert_eq!(h.ok("jnet-release", &["--prune", "app"]), "vnet0\n");
    assert!(graph(&h.show()).contains_key("vbr0"));
    assert_eq!(h.ok("jnet-release", &["--prune", "db"]), "vnet0\nvbr0\n");
    let end = h.show();
    assert!(pristine(&end), "{:?}", graph(&end));
    assert_eq!(ifaces(&end), ifaces(&before));
    assert_eq!(h.ok("jnet-release", &["--prune", "db"]), "nothing to release\n");
}

#[test]
fn sixty_four_jails_at_once_on_one_bridge() {
    let h = Host::new("par", "igb0");
    let jails: Vec<String> = (0..64).map(|i| format!("j{i}")).collect();
    let spawn = |prog: &str, args: Vec<String>| {
        Command::new(bin(prog))
            .args(args)
            .env("JNET_SIM", &h.path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let kids: Vec<_> =
        jails.iter().map(|j| spawn("jnet-ngattach", vec!["-u".into(), "igb0".into(), j.clone()])).collect();
    for c in kids {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let s = h.show();
    let g = graph(&s);
    let hooks = g["igb0bridge"]["hooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 66, "two uplink hooks and 64 links");
    let mut links: Vec<&str> = hooks.iter().map(|h| h[0].as_str().unwrap()).collect();
    links.sort();
    links.dedup();
    assert_eq!(links.len(), 66, "no link used twice");
    let eifaces: Vec<&String> = g.iter().filter(|(_, n)| n["type"] == "eiface").map(|(k, _)| k).collect();
    assert_eq!(eifaces.len(), 64, "no leaked eiface");
    assert!(!names(&s, "host").iter().any(|n| n.starts_with("ngeth")), "every interface renamed");
    let kids: Vec<_> = jails.iter().map(|j| spawn("jnet-release", vec![j.clone()])).collect();
    for c in kids {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let s = h.show();
    let g = graph(&s);
    assert!(!g.values().any(|n| n["type"] == "eiface"));
    assert_eq!(g["igb0bridge"]["hooks"], json!([["link0", "igb0", "lower"], ["link1", "igb0", "upper"]]));
    assert_eq!(names(&s, "host"), ["lo0", "igb0"]);
}

#[test]
fn a_failure_at_any_operation_leaves_graph_and_interfaces_as_before() {
    let args = ["-u", "igb0", "--ifname", "vnet0", "-a", "192.0.2.9/24", "--mtu", "1500", "www"];
    let fresh = |tag: &str| {
        let h = Host::new(tag, "igb0");
        h.ok("jnet-sim", &["jail", "create", "www", "--vnet"]);
        // A dry run loads the netgraph modules (module loading is never undone).
        h.ok("jnet-ngattach", &["-n", "-u", "igb0", "www"]);
        h.ok("jnet-sim", &["ops", "--clear"]);
        h
    };
    let probe = fresh("fi-probe");
    probe.ok("jnet-ngattach", &args);
    let total: usize = probe.ok("jnet-sim", &["ops", "--count"]).trim().parse().unwrap();
    assert!(total >= 20, "{total}");
    for k in 0..total {
        let h = fresh(&format!("fi{k}"));
        let before = h.show();
        h.ok("jnet-sim", &["fail", "--after", &k.to_string(), "--errno", "EIO"]);
        let err = h.fails("jnet-ngattach", &args, 71);
        assert!(err.contains("Input/output error (EIO)"), "op {k}: {err}");
        let after = h.show();
        assert_eq!(graph(&after), graph(&before), "op {k} ({err}) changed the graph");
        assert_eq!(ifaces(&after), ifaces(&before), "op {k} ({err}) changed the interfaces");
        assert_eq!(h.ok("jnet-ngattach", &args), "vnet0\n");
    }
}

#[test]
fn bad_input_changes_nothing() {
    let h = Host::new("bad", "igb0,igb1");
    h.ok("jnet-ngattach", &["-n", "-u", "igb0", "x"]);
    let before = h.show();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["-u", "igb9", "www"], 65, "uplink igb9 does not exist"),
        (&["-u", "lo0", "www"], 65, "lo0 is not an Ethernet interface"),
        (&["-u", "igb0", "-b", "igb1", "www"], 78, "netgraph node igb1 is of type ether, not a bridge"),
        (&["--virtual", "-b", &"b".repeat(31), "www"], 65, "1 to 30 characters"),
        (&["--virtual", "-b", "a.b", "www"], 65, "reserves for paths"),
        (&["-u", "igb0", "--virtual", "www"], 64, "exclude each other"),
        (&["--virtual", "www"], 64, "--virtual needs -b NAME"),
        (&["www"], 64, "say where the interface goes"),
        (&["-u", "igb0", "--ifname", "vnet0", "www"], 64, "does not run yet"),
        (&["-u", "igb0", "--mac", "03:00:00:00:00:01", "www"], 65, "multicast"),
        (&["-u", "igb0", "-i", "100", "www"], 65, "out of range"),
    ];
    for (args, code, msg) in cases {
        let err = h.fails("jnet-ngattach", args, *code);
        assert!(err.starts_with("jnet-ngattach: "), "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: {err}");
        let now = h.show();
        assert_eq!(graph(&now), graph(&before), "{args:?}");
        assert_eq!(ifaces(&now), ifaces(&before), "{args:?}");
    }
}

#[test]
fn a_failover_lagg_uplink_is_refused_unless_forced() {
    let h = Host::new("lagg", "igb0,igb1,igb2,igb3");
    h.ok(
        "jnet-sim",
        &[
            "init",
            "--phys",
            "igb0,igb1,igb2,igb3",
            "--hostuuid",
            UUID,
            "--lagg",
            "lagg0:failover:igb0,igb1",
            "--lagg",
            "lagg1:lacp:igb2,igb3",
        ],
    );
    let before = h.show();
    let err = h.fails("jnet-ngattach", &["-u", "lagg0", "www"], 78);
    assert!(err.contains("uplink lagg0 is a lagg in failover mode (ports igb0, igb1)"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(graph(&h.show()), graph(&before));
    assert_eq!(ifaces(&h.show()), ifaces(&before));
    assert_eq!(h.ok("jnet-ngattach", &["-u", "lagg1", "db"]), "ng0_db\n", "lacp is fine");
    assert_eq!(h.ok("jnet-ngattach", &["-u", "lagg0", "--force", "www"]), "ng0_www\n");
    assert_eq!(graph(&h.show())["lagg0bridge"]["hooks"][2], json!(["link2", h.node("www", 0), "ether"]));
    h.fails("jnet-sim", &["init", "--phys", "igb0", "--lagg", "lagg0:bogus:igb0"], 64);
    h.fails("jnet-sim", &["init", "--phys", "igb0", "--lagg", "lagg0:lacp:igb7"], 64);
}
