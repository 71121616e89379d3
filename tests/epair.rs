//! jnet-epair and jnet-release against the simulated host, in jail(8)'s order of hooks.

mod common;
use common::*;
use jnet::kernel::{Interfaces, System};
use jnet::mac::Mac;
use jnet::names::{epair_name, End};
use serde_json::{json, Value};
use std::process::Command;

impl Host {
    fn new(tag: &str, phys: &str) -> Host {
        Host::init(&format!("epair-{tag}"), &["--phys", phys, "--hostuuid", "11111111-2222-3333-4444-555555555555"])
    }
}

const UUID: &str = "11111111-2222-3333-4444-555555555555";

fn mac(jail: &str, index: u32, end: &str) -> String {
    Mac::derive(UUID, jail, index, end).to_string()
}

/// The state without what a run may legitimately change: the loaded kernel modules (jnet
/// loads if_epair and if_bridge and never unloads them) and interface indexes (a
/// recreated interface gets a new one, as in the kernel).
fn comparable(mut s: Value) -> Value {
    s.as_object_mut().unwrap().remove("modules");
    for v in s["vnets"].as_array_mut().unwrap() {
        for i in v["interfaces"].as_array_mut().unwrap() {
            i.as_object_mut().unwrap().remove("index");
            // A pair made anew takes the next unit (plan.rs create_intended), not the lowest.
            if i["kind"] == "epair" {
                i.as_object_mut().unwrap().remove("driver");
            }
        }
    }
    s
}

#[test]
fn recipe2_prestart_bridge_uplink_then_vnet_interface_then_poststop() {
    let h = Host::new("r2", "igb0,igb1");
    let clean = h.show();
    // exec.prestart
    assert_eq!(h.ok("jnet-epair", &["-b", "bridge0", "--uplink", "igb0", "www"]), "e0b_www\n");
    let s = h.show();
    let br = iface(&s, "host", "bridge0");
    assert_eq!(br["members"], json!(["igb0", "e0a_www"]), "uplink first, then the epair");
    assert_eq!(br["description"], "jnet::bridge");
    assert_eq!(br["groups"], json!(["all", "bridge", "jnet"]));
    assert_eq!(br["up"], true);
    let a = iface(&s, "host", "e0a_www");
    assert_eq!(a["description"], "jnet:www:epair0a");
    assert_eq!(a["groups"], json!(["all", "epair", "jnet"]));
    assert_eq!(a["up"], true);
    assert_eq!(a["mac"], mac("www", 0, "a"));
    let b = iface(&s, "host", "e0b_www");
    assert_eq!(b["description"], "jnet:www:epair0b");
    assert_eq!(b["groups"], json!(["all", "epair", "jnet"]));
    assert_eq!(b["up"], false, "the jail end waits for vnet.interface");
    assert_eq!(b["mac"], mac("www", 0, "b"));
    assert_eq!(iface(&s, "host", "igb0")["up"], true);
    // jail(8) creates the jail and moves vnet.interface in.
    h.ok("jnet-sim", &["jail", "create", "www", "--vnet", "--interface", "e0b_www"]);
    let s = h.show();
    let b = iface(&s, "www", "e0b_www");
    assert_eq!(b["description"], "jnet:www:epair0b", "the description survives the move");
    assert_eq!(b["groups"], json!(["all", "epair"]));
    assert_eq!(b["mac"], mac("www", 0, "b"));
    // exec.stop, jail removed, exec.poststop
    h.ok("jnet-sim", &["jail", "remove", "www"]);
    assert_eq!(h.ok("jnet-release", &["www"]), "e0a_www\n");
    let s = h.show();
    assert_eq!(names(&s, "host"), ["lo0", "igb0", "igb1", "bridge0"], "the bridge is kept");
    assert_eq!(iface(&s, "host", "bridge0")["members"], json!(["igb0"]));
    // --prune keeps a bridge that still has its uplink.
    assert_eq!(h.ok("jnet-release", &["--prune", "www"]), "nothing to release\n");
    assert_eq!(names(&h.show(), "host"), ["lo0", "igb0", "igb1", "bridge0"]);
    assert_eq!(vnet(&clean, "host").len() + 1, vnet(&h.show(), "host").len());
}

#[test]
fn recipe3_created_configures_inside_and_release_destroys_from_the_host() {
    let h = Host::new("r3", "igb0");
    h.ok("jnet-sim", &["jail", "create", "www", "--vnet"]);
    let before = h.show();
    let out = h.ok(
        "jnet-epair",
        &["-b", "bridge0", "--ifname", "vnet0", "--addr", "2001:db8::5/64", "-a", "192.0.2.5/24", "www"],
    );
    assert_eq!(out, "vnet0\n");
    let s = h.show();
    assert_eq!(names(&s, "www"), ["lo0", "vnet0"]);
    let v = iface(&s, "www", "vnet0");
    assert_eq!(v["up"], true);
    assert_eq!(v["description"], "jnet:www:epair0b");
    assert_eq!(v["mac"], mac("www", 0, "b"));
    let a = addrs(&v);
    assert!(a.contains(&"2001:db8::5/64".to_string()) && a.contains(&"192.0.2.5/24".to_string()), "{a:?}");
    assert_eq!(iface(&s, "host", "bridge0")["members"], json!(["e0a_www"]));
    assert!(!names(&s, "host").contains(&"e0b_www".to_string()));
    // Running the hook again converges to the same state.
    let json: Value = serde_json::from_str(&h.ok(
        "jnet-epair",
        &["-b", "bridge0", "--ifname", "vnet0", "--addr", "2001:db8::5/64", "-a", "192.0.2.5/24", "--json", "www"],
    ))
    .unwrap();
    assert_eq!(json["action"], "reused");
    assert_eq!(json["jail_end"], json!({ "name": "vnet0", "mac": mac("www", 0, "b"), "where": "jail" }));
    assert_eq!(json["host"], json!({ "name": "e0a_www", "mac": mac("www", 0, "a") }));
    assert_eq!(comparable(h.show()), comparable(s.clone()));
    // Release while the jail still runs: the host end's destruction takes vnet0 with it.
    assert_eq!(h.ok("jnet-release", &["www"]), "e0a_www\n");
    let after = h.show();
    assert_eq!(names(&after, "www"), ["lo0"]);
    assert_eq!(names(&after, "host"), ["lo0", "igb0", "bridge0"]);
    assert_eq!(iface(&after, "host", "bridge0")["members"], json!([]));
    assert_eq!(h.ok("jnet-release", &["--prune", "www"]), "bridge0\n", "an empty jnet bridge goes with --prune");
    assert_eq!(comparable(h.show()), comparable(before));
    assert_eq!(h.ok("jnet-release", &["www"]), "nothing to release\n");
}

#[test]
fn recipe4_point_to_point_with_a_host_address() {
    let h = Host::new("r4", "igb0");
    h.ok("jnet-sim", &["jail", "create", "db", "--vnet"]);
    let before = h.show();
    h.ok("jnet-epair", &["--host-addr", "10.9.0.1/30", "--addr", "10.9.0.2/30", "db"]);
    let s = h.show();
    let a = iface(&s, "host", "e0a_db");
    assert_eq!(addrs(&a), ["10.9.0.1/30"]);
    assert_eq!(a["up"], true);
    let b = iface(&s, "db", "e0b_db");
    assert_eq!(b["up"], true);
    assert!(addrs(&b).contains(&"10.9.0.2/30".to_string()));
    assert!(!names(&s, "host").iter().any(|n| n.starts_with("bridge")), "no bridge in point-to-point mode");
    h.ok("jnet-sim", &["jail", "remove", "db", "--linger", "60"]);
    // The jail is dying and its vnet still holds e0b_db: destroying from the host still works.
    assert_eq!(h.ok("jnet-release", &["db"]), "e0a_db\n");
    let after = h.show();
    assert_eq!(vnet(&after, "db").len(), 1, "only the dying jail's lo0 is left");
    assert_eq!(vnet(&after, "host"), vnet(&before, "host"));
}

#[test]
fn prestart_twice_and_broken_pairs_converge() {
    let h = Host::new("conv", "igb0");
    h.ok("jnet-epair", &["-b", "bridge0", "www"]);
    let once = h.show();
    let j: Value = serde_json::from_str(&h.ok("jnet-epair", &["-b", "bridge0", "--json", "www"])).unwrap();
    assert_eq!(j["action"], "reused");
    assert_eq!(h.show(), once, "a second prestart changes nothing");
    // A crash left only a half-made pair: e0a_www in group jnet, tagged and renamed, the
    // other end still epairNb. The next run recreates the pair and leaves no epairNb behind.
    h.ok("jnet-release", &["www"]);
    let mut k = h.kernel();
    k.kld_load("if_epair").unwrap();
    let a = k.if_create("epair").unwrap();
    k.if_add_group(&a, "jnet").unwrap();
    k.if_set_description(&a, Some("jnet:www:epair0a")).unwrap();
    k.if_rename(&a, "e0a_www").unwrap();
    let j: Value = serde_json::from_str(&h.ok("jnet-epair", &["-b", "bridge0", "--json", "www"])).unwrap();
    assert_eq!(j["action"], "recreated");
    let s = h.show();
    assert_eq!(names(&s, "host"), ["lo0", "igb0", "bridge0", "e0a_www", "e0b_www"]);
    assert_eq!(comparable(s), comparable(once));
}

#[test]
fn long_and_odd_jail_names_get_distinct_deterministic_short_names() {
    let h = Host::new("names", "igb0");
    let jails = ["customer-portal-frontend.example", "customer-portal-frontend.example.org", "a.b", "a_b", "x"];
    let mut seen = vec![];
    for j in jails {
        let out = h.ok("jnet-epair", &["-b", "bridge0", j]);
        let name = out.trim().to_string();
        assert!(name.len() <= 15, "{name}");
        assert_eq!(name, epair_name(j, 0, End::B));
        assert!(!seen.contains(&name), "{name} twice");
        seen.push(name);
    }
    assert_eq!(seen[3], "e0b_a_b");
    assert_eq!(seen[4], "e0b_x");
    let s = h.show();
    for j in jails {
        let a = iface(&s, "host", &epair_name(j, 0, End::A));
        assert_eq!(a["description"], format!("jnet:{j}:epair0a"));
    }
    // Release by the full name finds the shortened interfaces through their tags.
    assert_eq!(
        h.ok("jnet-release", &["customer-portal-frontend.example"]).trim(),
        epair_name("customer-portal-frontend.example", 0, End::A)
    );
    assert!(iface(&h.show(), "host", &epair_name("customer-portal-frontend.example.org", 0, End::A))["up"] == true);
}

#[test]
fn dry_run_prints_ifconfig_commands_and_changes_nothing() {
    let h = Host::new("dry", "igb0");
    h.ok("jnet-sim", &["jail", "create", "www", "--vnet"]);
    let before = h.show();
    let out =
        h.ok("jnet-epair", &["-n", "-b", "bridge0", "-u", "igb0", "--ifname", "vnet0", "-a", "192.0.2.5/24", "www"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "ifconfig bridge create name bridge0");
    assert!(lines.contains(&"ifconfig epair create"));
    assert!(lines.contains(&"ifconfig epairNa name e0a_www"));
    assert!(lines.contains(&"ifconfig e0b_www vnet 1"));
    assert!(lines.contains(&"ifconfig -j 1 e0b_www name vnet0"));
    assert!(lines.contains(&"ifconfig -j 1 vnet0 inet 192.0.2.5/24 alias"));
    assert_eq!(*lines.last().unwrap(), "ifconfig -j 1 vnet0 inet 192.0.2.5/24 alias");
    assert_eq!(h.show(), before);
}

#[test]
fn a_failure_at_any_operation_undoes_the_whole_run() {
    let args = ["-b", "bridge0", "-u", "igb0", "--ifname", "vnet0", "-a", "2001:db8::5/64", "--mtu", "1500", "www"];
    let fresh = |tag: &str| {
        let h = Host::new(tag, "igb0,igb1");
        h.ok("jnet-sim", &["jail", "create", "www", "--vnet"]);
        h.ok("jnet-sim", &["ops", "--clear"]);
        h
    };
    let probe = fresh("fi-probe");
    probe.ok("jnet-epair", &args);
    let total: usize = probe.ok("jnet-sim", &["ops", "--count"]).trim().parse().unwrap();
    assert!(total >= 20, "{total} operations");
    for k in 0..total {
        let h = fresh(&format!("fi{k}"));
        let before = comparable(h.show());
        h.ok("jnet-sim", &["fail", "--after", &k.to_string(), "--errno", "EIO"]);
        let err = h.fails("jnet-epair", &args, 71);
        assert!(err.contains("Input/output error (EIO)"), "op {k}: {err}");
        assert!(err.starts_with("jnet-epair: "), "op {k}: {err}");
        assert_eq!(comparable(h.show()), before, "op {k} ({err}) left something behind");
        // And the hook works once the fault is gone.
        assert_eq!(h.ok("jnet-epair", &args), "vnet0\n");
    }
}

#[test]
fn sixty_four_jails_at_once_on_a_bridge_that_does_not_exist_yet() {
    for bridge in ["bridge0", "jnetbr"] {
        let h = Host::new(&format!("par-{bridge}"), "igb0");
        let jails: Vec<String> = (0..64).map(|i| format!("j{i}")).collect();
        let spawn = |prog: &str, args: Vec<String>| {
            Command::new(bin(prog))
                .args(args)
                .env("JNET_SIM", &h.path)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let kids: Vec<_> = jails
            .iter()
            .map(|j| spawn("jnet-epair", vec!["-b".into(), bridge.into(), "-u".into(), "igb0".into(), j.clone()]))
            .collect();
        for c in kids {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        let s = h.show();
        let bridges: Vec<String> = vnet(&s, "host")
            .iter()
            .filter(|i| i["kind"] == "bridge")
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(bridges, [bridge], "exactly one bridge");
        let members = iface(&s, "host", bridge)["members"].as_array().unwrap().len();
        assert_eq!(members, 65, "64 epairs and the uplink");
        let macs: std::collections::HashSet<String> =
            vnet(&s, "host").iter().filter_map(|i| i["mac"].as_str().map(String::from)).collect();
        assert_eq!(
            macs.len(),
            vnet(&s, "host").iter().filter(|i| i["mac"].is_string()).count(),
            "no two interfaces share a MAC"
        );
        let kids: Vec<_> = jails.iter().map(|j| spawn("jnet-release", vec![j.clone()])).collect();
        for c in kids {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        let s = h.show();
        assert_eq!(names(&s, "host"), ["lo0", "igb0", bridge]);
        assert_eq!(iface(&s, "host", bridge)["members"], json!(["igb0"]));
    }
}

#[test]
fn conflicts_and_bad_input_change_nothing() {
    let h = Host::new("bad", "igb0,igb1");
    h.ok("jnet-sim", &["jail", "create", "ipj"]);
    // A foreign e0a_www (an admin's interface with a description of its own).
    let mut k = h.kernel();
    k.kld_load("if_epair").unwrap();
    let a = k.if_create("epair").unwrap();
    k.if_rename(&a, "e0a_www").unwrap();
    k.if_set_description("e0a_www", Some("my test link")).unwrap();
    let before = h.show();
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["www"],
            78,
            "e0a_www already exists on the host and is not jnet's for jail www (its description is \"my test link\")",
        ),
        (&["-b", "igb1", "db"], 78, "igb1 exists and is not an if_bridge"),
        (&["-b", "bridge0", "-u", "igb9", "db"], 65, "uplink igb9 does not exist"),
        (&["ipj"], 68, "jail ipj (jid 1) has no vnet of its own"),
        (&["-b", "bridge0", "7"], 68, "no jail with jid 7"),
        (&["--host-addr", "10.0.0.1", "db"], 65, "expected ADDRESS/PREFIXLEN"),
        (&["--host-addr", "300.1.1.1/24", "db"], 65, "is not an IPv4 or IPv6 address"),
        (&["--host-addr", "10.0.0.1/33", "db"], 65, "prefix length"),
        (&["--host-addr", "10.0.0.1/30", "--host-addr", "10.0.0.1/30", "db"], 65, "given twice"),
        (&["--mac", "01:00:5e:00:00:01", "db"], 65, "multicast"),
        (&["--mac", "02:00:00:00:00", "db"], 65, "expected 6 octets"),
        (&["--mac", "02:00:00:00:00:00:01", "db"], 65, "expected 6 octets"),
        (&[""], 65, "jail name is empty"),
        (&["a b"], 65, "spaces"),
        (&["-i", "100", "db"], 65, "index 100 is out of range"),
        (&["--mtu", "10", "db"], 65, "--mtu 10 is out of range"),
        (&["-b", "bridge-with-a-long-name", "db"], 65, "at most 15"),
        (&["--ifname", "vnet0", "db"], 64, "from exec.created"),
        (&["-a", "192.0.2.1/24", "db"], 64, "does not run yet"),
        (&["-u", "igb0", "db"], 64, "--uplink needs --bridge"),
        (&["-b", "bridge0", "--host-addr", "10.0.0.1/30", "db"], 64, "exclude each other"),
        (&["--frobnicate", "db"], 64, "Unrecognized argument"),
        (&[], 64, "Required positional arguments not provided"),
    ];
    for (args, code, msg) in cases {
        let err = h.fails("jnet-epair", args, *code);
        assert!(err.contains(msg), "{args:?}: {err}");
        assert_eq!(h.show(), before, "{args:?} changed the host");
    }
    // --json reports the error as one object on stdout.
    let o = h.run("jnet-epair", &["--json", "www"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "conflict");
    assert_eq!(v["error"]["exit_code"], 78);
    // jnet-release never touches what is not tagged for the jail.
    assert_eq!(h.ok("jnet-release", &["www"]), "nothing to release\n");
    assert_eq!(h.ok("jnet-release", &["never-existed"]), "nothing to release\n");
    h.fails("jnet-release", &["7"], 68);
    h.fails("jnet-release", &[], 64);
    assert_eq!(h.show(), before);
}
