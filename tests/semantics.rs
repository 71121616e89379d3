//! Where FreeBSD's kernel does something other than the first simulated host did, jnet
//! behaves as on FreeBSD 14 (each rule cites its source in lib/sim/host.rs or
//! lib/sim/netgraph.rs).

mod common;
use common::*;
use serde_json::{json, Value};

impl Host {
    fn new(tag: &str, phys: &str) -> Host {
        Host::init(&format!("sem-{tag}"), &["--phys", phys])
    }
}

fn mtu(s: &Value, vnet_name: &str, name: &str) -> u64 {
    iface(s, vnet_name, name)["mtu"].as_u64().unwrap()
}

/// BRDGADD gives a member the bridge's MTU: a pair never ends with two MTUs, --mtu that the
/// bridge cannot have is refused before anything changes, and a run again converges.
#[test]
fn mtu_with_a_bridge_is_one_mtu_for_the_pair() {
    let h = Host::new("mtu", "igb0");
    let before = h.show();
    let err = h.fails("jnet-epair", &["-b", "bridge0", "-u", "igb0", "--mtu", "9000", "--", "www"], 78);
    assert!(err.contains("--mtu 9000 does not match the MTU of uplink igb0"), "{err}");
    assert_eq!(h.show(), before, "nothing changed");
    // A bridge jnet creates without an uplink takes the pair's MTU.
    h.ok("jnet-epair", &["-b", "jbr", "--mtu", "9000", "--", "www"]);
    let s = h.show();
    assert_eq!((mtu(&s, "host", "jbr"), mtu(&s, "host", "e0a_www"), mtu(&s, "host", "e0b_www")), (9000, 9000, 9000));
    let j: Value =
        serde_json::from_str(&h.ok("jnet-epair", &["-b", "jbr", "--mtu", "9000", "--json", "--", "www"])).unwrap();
    assert_eq!(j["action"], "reused");
    assert_eq!(h.show(), s, "the second run changes nothing (no EOPNOTSUPP on a member's MTU)");
    // Another jail on it without --mtu follows the bridge.
    h.ok("jnet-epair", &["-b", "jbr", "--", "db"]);
    let s = h.show();
    assert_eq!((mtu(&s, "host", "e0a_db"), mtu(&s, "host", "e0b_db")), (9000, 9000));
    // A jail end moved in and changed inside converges back from the host.
    h.ok("jnet-sim", &["jail", "create", "db", "--vnet", "--interface", "e0b_db"]);
    h.ok("jnet-sim", &["ifconfig", "-j", "db", "e0b_db", "mtu", "1500"]);
    h.ok("jnet-epair", &["-b", "jbr", "--", "db"]);
    assert_eq!(mtu(&h.show(), "db", "e0b_db"), 9000);
    let err = h.fails("jnet-epair", &["-b", "jbr", "--mtu", "1500", "--", "app"], 78);
    assert!(err.contains("does not match the MTU of bridge jbr (9000)"), "{err}");
}

/// A vlan on a NIC that cannot carry VLAN-sized frames (`ifconfig igb0 -vlanmtu`) is 4 bytes
/// smaller than the NIC (if_vlan.c vlan_config), and the bridge takes the vlan's MTU: the
/// pair is made at that MTU, both ends (found on FreeBSD 13.0's stack, whose if_bridge
/// refuses the 1500-byte end with EINVAL).
#[test]
fn a_vlan_uplink_without_vlanmtu_gives_the_pair_its_smaller_mtu() {
    let h = Host::new("vlanmtu", "igb0");
    h.ok("jnet-sim", &["ifconfig", "igb0", "-vlanmtu"]);
    h.ok("jnet-epair", &["-u", "igb0", "--vlan", "20", "--", "www"]);
    let s = h.show();
    let got = ["igb0.20", "b20_igb0", "e0a_www", "e0b_www"].map(|n| mtu(&s, "host", n));
    assert_eq!(got, [1496; 4]);
    assert_eq!(mtu(&s, "host", "igb0"), 1500);
    // The vlan exists now: the next jail takes its MTU from it.
    h.ok("jnet-epair", &["-u", "igb0", "--vlan", "20", "--", "db"]);
    let s = h.show();
    assert_eq!((mtu(&s, "host", "e0a_db"), mtu(&s, "host", "e0b_db")), (1496, 1496));
    let err = h.fails("jnet-epair", &["-u", "igb0", "--vlan", "30", "--mtu", "1500", "--", "app"], 78);
    assert!(err.contains("does not match the MTU of vlan igb0.30, to be made on igb0"), "{err}");
    // With vlanmtu (most NICs) the vlan keeps the NIC's MTU.
    h.ok("jnet-sim", &["ifconfig", "igb0", "vlanmtu"]);
    h.ok("jnet-epair", &["-u", "igb0", "--vlan", "40", "--", "app"]);
    let s = h.show();
    assert_eq!((mtu(&s, "host", "igb0.40"), mtu(&s, "host", "e0b_app")), (1500, 1500));
}

/// SIOCSIFRVNET does not look at names on the host: jnet does, and refuses before moving.
#[test]
fn a_nic_whose_name_is_taken_on_the_host_is_not_reclaimed() {
    let h = Host::new("dupname", "igb0,igb2");
    h.ok("jnet-nic", &["--iface", "igb2", "--", "www"]);
    h.ok("jnet-sim", &["jail", "create", "www", "--vnet", "--interface", "igb2"]);
    // The jail calls it lan0, and so does an interface on the host.
    h.ok("jnet-sim", &["ifconfig", "-j", "www", "igb2", "name", "lan0"]);
    assert_eq!(h.ok("jnet-sim", &["ifconfig", "bridge", "create"]), "bridge0\n");
    h.ok("jnet-sim", &["ifconfig", "bridge0", "name", "lan0"]);
    let before = h.show();
    let err = h.fails("jnet-release", &["--iface", "igb2", "--", "www"], 78);
    assert!(err.contains("igb2 is called lan0 inside jail www, and the host has an interface of that name"), "{err}");
    assert_eq!(h.show(), before, "nothing was moved");
    h.ok("jnet-sim", &["ifconfig", "lan0", "destroy"]);
    assert_eq!(h.ok("jnet-release", &["--iface", "igb2", "--", "www"]), "igb2\n");
    assert_eq!(names(&h.show(), "host"), ["lo0", "igb0", "igb2"]);
}

/// A NIC comes back from exec.poststop up again if it was up, with what the host gave it and
/// nothing the jail gave it.
#[test]
fn a_reclaimed_nic_is_up_again_without_the_jails_addresses() {
    let h = Host::new("up", "igb0,igb2");
    h.ok("jnet-nic", &["--iface", "igb2", "--", "www"]);
    h.ok("jnet-sim", &["jail", "create", "www", "--vnet", "--interface", "igb2"]);
    h.ok("jnet-sim", &["ifconfig", "-j", "www", "igb2", "up"]);
    h.ok("jnet-sim", &["ifconfig", "-j", "www", "igb2", "inet", "198.51.100.7/24"]);
    h.ok("jnet-sim", &["jail", "remove", "www", "--linger", "60"]);
    // exec.poststop: an explicit reclaim purges the jail's addresses; the NIC is brought up.
    assert_eq!(h.ok("jnet-release", &["--iface", "igb2", "--wait", "5", "--", "www"]), "igb2\n");
    let igb2 = iface(&h.show(), "host", "igb2");
    assert_eq!(igb2["up"], true);
    assert!(!igb2["addrs"].as_array().unwrap().iter().any(|a| a["addr"] == "198.51.100.7"));
}

/// Netgraph node names are capped so that every path jnet sends fits ng_socket's 31
/// characters; lagg protocol 5 is "broadcast".
#[test]
fn netgraph_paths_fit_and_lagg_protocols_are_named_as_in_freebsd() {
    let h = Host::init("sem-lagg", &["--phys", "igb0,igb1", "--lagg", "lagg0:broadcast:igb0,igb1"]);
    assert_eq!(h.show()["vnets"][0]["interfaces"][3]["kind"], "lagg");
    let err = h.fails("jnet-sim", &["init", "--phys", "igb0", "--lagg", "lagg0:fec:igb0"], 64);
    assert!(err.contains("unknown protocol \"fec\""), "{err}");
    let h = Host::new("paths", "igb0");
    let b30 = "b".repeat(30);
    h.ok("jnet-ngattach", &["--virtual", "-b", &b30, "--", "www"]);
    assert!(h.show()["netgraph"].as_array().unwrap().iter().any(|n| n["name"] == json!(b30)));
    h.fails("jnet-ngattach", &["--virtual", "-b", &"b".repeat(31), "--", "db"], 65);
}

/// ng_ether gives every Ethernet-like ifnet a node (epair, if_bridge, vlan, lagg), not only
/// NICs: a netgraph bridge cannot take such a name, and any of them can be an uplink.
#[test]
fn ng_ether_nodes_for_every_ethernet_interface() {
    let h = Host::new("ngether", "igb0");
    h.ok("jnet-epair", &["-b", "bridge0", "--", "www"]);
    assert_eq!(h.ok("jnet-sim", &["ifconfig", "vlan", "create"]), "vlan0\n");
    let before = h.show();
    let err = h.fails("jnet-ngattach", &["--virtual", "-b", "bridge0", "--", "db"], 78);
    assert!(err.contains("netgraph node bridge0 is of type ether, not a bridge"), "{err}");
    assert_eq!(h.show()["vnets"], before["vnets"], "no interface changed");
    let graph = h.show()["netgraph"].clone();
    for n in ["igb0", "bridge0", "e0a_www", "e0b_www", "vlan0"] {
        assert!(
            graph.as_array().unwrap().iter().any(|x| x["name"] == n && x["type"] == "ether"),
            "{n} has an ng_ether node: {graph}"
        );
    }
    // An if_bridge and a vlan are valid uplinks.
    assert_eq!(h.ok("jnet-ngattach", &["-u", "bridge0", "--", "db"]), "ng0_db\n");
    assert_eq!(h.ok("jnet-ngattach", &["-u", "vlan0", "--", "app"]), "ng0_app\n");
    let graph = h.show()["netgraph"].clone();
    let hooks = |name: &str| -> Vec<String> {
        let n = graph.as_array().unwrap().iter().find(|x| x["name"] == name).unwrap();
        n["hooks"].as_array().unwrap().iter().map(|h| h["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(hooks("bridge0bridge"), ["link0", "link1", "link2"]);
    assert_eq!(hooks("bridge0"), ["lower", "upper"], "the if_bridge's ng_ether is spliced");
    assert_eq!(hooks("vlan0"), ["lower", "upper"]);
}

/// FreeBSD 15.0's if_bridge takes no member with IP addresses while
/// net.link.bridge.member_ifaddrs is 0: said before anything changes.
#[test]
fn an_addressed_uplink_on_freebsd_15_is_refused_clearly() {
    let h = Host::new("ifaddrs", "igb0");
    h.ok("jnet-sim", &["sysctl", "net.link.bridge.member_ifaddrs=0"]);
    let before = h.show();
    let err = h.fails("jnet-epair", &["-b", "bridge0", "-u", "igb0", "--", "www"], 78);
    assert!(err.contains("uplink igb0 carries addresses (fe80::"), "{err}");
    assert!(err.contains("net.link.bridge.member_ifaddrs=1"), "{err}");
    assert_eq!(h.show(), before);
    // The kernel says the same to anyone who tries.
    h.ok("jnet-sim", &["ifconfig", "bridge", "create"]);
    let err = h.fails("jnet-sim", &["ifconfig", "bridge0", "addm", "igb0"], 71);
    assert!(err.contains("ifconfig bridge0 addm igb0: Invalid argument (EINVAL)"), "{err}");
    h.ok("jnet-sim", &["ifconfig", "bridge0", "destroy"]);
    h.ok("jnet-sim", &["sysctl", "net.link.bridge.member_ifaddrs=1"]);
    h.ok("jnet-epair", &["-b", "bridge0", "-u", "igb0", "--", "www"]);
    assert_eq!(iface(&h.show(), "host", "bridge0")["members"], json!(["igb0", "e0a_www"]));
}

/// FreeBSD queues netgraph shutdowns and tears vnets down later: with the simulated host
/// asynchronous too, --prune still finds the bridge free, a restart finds the old node gone,
/// and NICs come back from exec.poststop or with --wait.
#[test]
fn releases_and_restarts_on_an_asynchronous_host() {
    let h = Host::init("sem-async", &["--phys", "igb0,igb2", "--async-ms", "300"]);
    let graph = |h: &Host| -> Vec<String> {
        h.show()["netgraph"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap().to_string()).collect()
    };
    h.ok("jnet-sim", &["jail", "create", "app", "--vnet"]);
    h.ok("jnet-ngattach", &["--virtual", "-b", "vbr0", "--ifname", "vnet0", "--", "app"]);
    // exec.poststop: the eiface's shutdown is queued; --prune waits for it, then the bridge
    // has no jail left and goes too.
    h.ok("jnet-sim", &["jail", "remove", "app"]);
    assert_eq!(h.ok("jnet-release", &["--prune", "--", "app"]), "vnet0\nvbr0\n");
    assert_eq!(graph(&h), ["igb0", "igb2"], "eiface, vbr0 and the nursery are gone");
    // A quick restart: the old node (same name) is gone before the new one is made.
    h.ok("jnet-ngattach", &["--virtual", "-b", "vbr0", "--", "db"]);
    h.ok("jnet-release", &["--", "db"]);
    assert_eq!(h.ok("jnet-ngattach", &["--virtual", "-b", "vbr0", "--", "db"]), "ng0_db\n");
    // A NIC from a jail whose vnet is still being torn down: reclaimed in exec.poststop...
    h.ok("jnet-nic", &["--iface", "igb2", "--", "dmz"]);
    h.ok("jnet-sim", &["jail", "create", "dmz", "--vnet", "--interface", "igb2"]);
    h.ok("jnet-sim", &["jail", "remove", "dmz"]);
    assert_eq!(h.ok("jnet-release", &["--iface", "igb2", "--", "dmz"]), "igb2\n");
    // ...or, from a vnet already shutting down, waited for.
    h.ok("jnet-nic", &["--iface", "igb2", "--", "dmz2"]);
    h.ok("jnet-sim", &["jail", "create", "dmz2", "--vnet", "--interface", "igb2"]);
    h.ok("jnet-sim", &["jail", "remove", "dmz2", "--stuck"]);
    h.fails("jnet-release", &["--iface", "igb2", "--", "dmz2"], 75);
    assert_eq!(h.ok("jnet-release", &["--iface", "igb2", "--wait", "5", "--", "dmz2"]), "igb2\n");
    assert!(names(&h.show(), "host").contains(&"igb2".to_string()));
}

/// A hosting panel's long tenant names: --short chooses the interface names, so
/// `vnet.interface` can be written; the tags keep the jail's name, so two jails cannot
/// share one short name; release finds them with --short, --stale without.
#[test]
fn short_names_an_admin_can_write() {
    let h = Host::new("short", "igb0");
    let tenant = "customer-portal-frontend.example.org";
    let j: Value =
        serde_json::from_str(&h.ok("jnet-epair", &["-b", "bridge0", "--short", "cpf1", "--json", "--", tenant]))
            .unwrap();
    assert_eq!((j["host"]["name"].as_str(), j["jail_end"]["name"].as_str()), (Some("e0a_cpf1"), Some("e0b_cpf1")));
    assert_eq!(iface(&h.show(), "host", "e0b_cpf1")["description"], format!("jnet:{tenant}:epair0b"));
    let err = h.fails("jnet-epair", &["-b", "bridge0", "--short", "cpf1", "--", "another-tenant"], 78);
    assert!(err.contains("e0a_cpf1 already exists on the host and is not jnet's for jail another-tenant"), "{err}");
    let err = h.fails("jnet-epair", &["-b", "bridge0", "--short", "a-b", "--", "x"], 65);
    assert!(err.contains("letters, digits and _ only"), "{err}");
    let err = h.fails("jnet-epair", &["-b", "bridge0", "--short", "abcdefghijkl", "--", "x"], 65);
    assert!(err.contains("at most 11 characters"), "{err}");
    // The dry run shows the names the hook will use.
    let dry = h.ok("jnet-epair", &["-n", "-b", "bridge0", "--short", "web1", "--", "web.example"]);
    assert!(dry.contains("ifconfig epairNb name e0b_web1"), "{dry}");
    assert_eq!(h.ok("jnet-ngattach", &["--virtual", "-b", "vbr0", "--short", "cpf1", "--", tenant]), "ng0_cpf1\n");
    // Release by the jail's name finds them with --short (the eiface by its node, anyway).
    assert_eq!(h.ok("jnet-release", &["--short", "cpf1", "--", tenant]), "e0a_cpf1\nng0_cpf1\n");
    assert_eq!(names(&h.show(), "host"), ["lo0", "igb0", "bridge0"]);
}

#[test]
fn ip6wait_with_timeout_zero_says_why() {
    let h = Host::new("t0", "igb0");
    let err = h.fails("jnet-ip6wait", &["-t", "0"], 65);
    assert!(err.contains("--timeout 0 would give up before DAD could finish"), "{err}");
}

/// Moving a running jail to another bridge is refused with what to do, and changes nothing.
#[test]
fn another_bridge_for_a_running_jail_says_release_first() {
    let h = Host::new("rebridge", "igb0");
    h.ok("jnet-epair", &["-b", "bridge0", "--", "www"]);
    let before = h.show();
    let err = h.fails("jnet-epair", &["-b", "bridge1", "--", "www"], 78);
    assert!(err.contains("e0a_www is a member of another bridge"), "{err}");
    assert!(err.contains("release it first (jnet-release)"), "{err}");
    assert_eq!(h.show()["vnets"], before["vnets"], "bridge1 made for it is gone again");
}

/// Leftovers: --stale --prune takes away empty jnet bridges and the nursery, and a NIC that
/// a jail left spliced is unspliced by a command, not while jails are on it.
#[test]
fn leftovers_are_one_command_away() {
    let h = Host::new("leftovers", "igb0,igb1");
    h.ok("jnet-epair", &["-b", "jbr", "--", "www"]);
    h.ok("jnet-ngattach", &["-u", "igb1", "--", "mail"]);
    h.ok("jnet-ngattach", &["-u", "igb1", "--", "db"]);
    // Released without --prune: the empty bridge, the nursery and the splice stay.
    h.ok("jnet-release", &["--", "www"]);
    h.ok("jnet-release", &["--", "mail"]);
    let err = h.fails("jnet-release", &["--unsplice", "igb1"], 78);
    assert!(err.contains("bridge igb1bridge on igb1 still has 1 on it"), "{err}");
    h.ok("jnet-release", &["--", "db"]);
    assert_eq!(h.ok("jnet-release", &["--unsplice", "igb1"]), "igb1bridge\n");
    let g = h.show()["netgraph"].clone();
    let igb1 = g.as_array().unwrap().iter().find(|n| n["name"] == "igb1").unwrap().clone();
    assert_eq!(
        (igb1["hooks"].as_array().unwrap().len(), &igb1["promisc"], &igb1["autosrc"]),
        (0, &json!(false), &json!(true))
    );
    assert_eq!(h.ok("jnet-release", &["--unsplice", "igb1"]), "nothing to release\n", "already unspliced");
    assert!(names(&h.show(), "host").contains(&"jbr".to_string()));
    assert_eq!(h.ok("jnet-release", &["--stale", "--prune"]), "jbr\n");
    let s = h.show();
    assert_eq!(names(&s, "host"), ["lo0", "igb0", "igb1"]);
    assert!(!s["netgraph"].as_array().unwrap().iter().any(|n| n["name"] == "jnet-nursery"));
    let err = h.fails("jnet-release", &["--unsplice", "igb1", "--", "www"], 64);
    assert!(err.contains("--unsplice NIC goes alone"), "{err}");
}

/// The jails' gateway on a bridge jnet made: set once however many jails join, gone with the
/// bridge; refused on a bridge jnet did not make.
#[test]
fn bridge_addresses_on_jnet_bridges() {
    let h = Host::new("braddr", "igb0");
    for j in ["a", "b"] {
        h.ok(
            "jnet-epair",
            &["-b", "jails0", "--bridge-addr", "10.8.0.1/24", "--bridge-addr", "2001:db8:8::1/64", "--", j],
        );
    }
    let s = h.show();
    let br = iface(&s, "host", "jails0");
    let a: Vec<&str> = br["addrs"].as_array().unwrap().iter().map(|a| a["addr"].as_str().unwrap()).collect();
    assert_eq!(a.iter().filter(|x| **x == "10.8.0.1").count(), 1, "{a:?}");
    assert!(a.contains(&"2001:db8:8::1"), "{a:?}");
    assert!(!br["nd6_flags"].as_array().unwrap().contains(&json!("IFDISABLED")), "IPv6 enabled first");
    let dry = h.ok("jnet-epair", &["-n", "-b", "jbr", "--bridge-addr", "10.9.0.1/24", "--", "c"]);
    assert!(dry.contains("ifconfig jbr inet 10.9.0.1/24 alias"), "{dry}");
    h.ok("jnet-release", &["--", "a"]);
    h.ok("jnet-release", &["--prune", "--", "b"]);
    assert_eq!(names(&h.show(), "host"), ["lo0", "igb0"], "gone with the bridge");
    // Not on the administrator's own bridge, and not without a bridge.
    assert_eq!(h.ok("jnet-sim", &["ifconfig", "bridge", "create"]), "bridge0\n");
    let before = h.show();
    let err = h.fails("jnet-epair", &["-b", "bridge0", "--bridge-addr", "10.8.0.1/24", "--", "a"], 78);
    assert!(err.contains("bridge0 is not a bridge jnet made"), "{err}");
    assert_eq!(h.show(), before);
    h.fails("jnet-epair", &["--bridge-addr", "10.8.0.1/24", "--", "a"], 64);
}

/// SLAAC in the jail: router advertisements accepted, IPv6 enabled, on the jail's interface.
#[test]
fn accept_rtadv_on_the_jails_interface() {
    let h = Host::new("rtadv", "igb0");
    h.ok("jnet-sim", &["jail", "create", "www", "--vnet"]);
    h.ok("jnet-epair", &["-b", "bridge0", "--ifname", "vnet0", "--accept-rtadv", "--", "www"]);
    h.ok("jnet-sim", &["jail", "create", "db", "--vnet"]);
    h.ok("jnet-ngattach", &["--virtual", "-b", "vbr0", "--ifname", "vnet0", "--accept-rtadv", "--", "db"]);
    let s = h.show();
    for j in ["www", "db"] {
        let f = iface(&s, j, "vnet0")["nd6_flags"].clone();
        assert!(f.as_array().unwrap().contains(&json!("ACCEPT_RTADV")), "{j}: {f}");
        assert!(!f.as_array().unwrap().contains(&json!("IFDISABLED")), "{j}: {f}");
    }
    // Running again changes nothing; in exec.prestart it cannot be done yet.
    h.ok("jnet-epair", &["-b", "bridge0", "--ifname", "vnet0", "--accept-rtadv", "--", "www"]);
    assert_eq!(h.show(), s);
    let err = h.fails("jnet-epair", &["-b", "bridge0", "--accept-rtadv", "--", "later"], 64);
    assert!(err.contains("--gateway and --route configure"), "{err}");
}

/// The jail's default routes, through the routing socket inside its vnet: on one of its
/// networks, one per family, converged, and gone with the interface.
#[test]
fn default_routes_in_the_jail() {
    let h = Host::new("gateway", "igb0");
    let routes = |h: &Host| -> Value {
        h.show()["vnets"].as_array().unwrap().iter().find(|x| x["jail"] == "www").unwrap()["routes"].clone()
    };
    h.ok("jnet-sim", &["jail", "create", "www", "--vnet"]);
    let before = h.show();
    // A gateway on none of the jail's networks: refused by the kernel, everything undone.
    let err = h.fails(
        "jnet-epair",
        &["-b", "bridge0", "--ifname", "vnet0", "-a", "192.0.2.5/24", "--gateway", "198.51.100.1", "--", "www"],
        71,
    );
    assert!(err.contains("it is on none of the networks of the jail's addresses"), "{err}");
    assert_eq!(h.show()["vnets"], before["vnets"]);
    let args = ["-b", "bridge0", "--ifname", "vnet0", "-a", "192.0.2.5/24", "-a", "2001:db8::5/64"];
    let with = |gw: &[&str]| {
        let mut a: Vec<&str> = args.to_vec();
        for g in gw {
            a.extend(["--gateway", g]);
        }
        a.extend(["--", "www"]);
        a.iter().map(|s| s.to_string()).collect::<Vec<String>>()
    };
    let run = |gw: &[&str]| {
        let a = with(gw);
        h.ok("jnet-epair", &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    run(&["192.0.2.1", "2001:db8::1"]);
    assert_eq!(
        routes(&h),
        json!([{ "dest": "0.0.0.0/0", "gateway": "192.0.2.1", "flags": "UGS" }, { "dest": "::/0", "gateway": "2001:db8::1", "flags": "UGS" }])
    );
    let s = h.show();
    run(&["192.0.2.1", "2001:db8::1"]);
    assert_eq!(h.show(), s, "again: nothing changes");
    run(&["192.0.2.254"]);
    assert_eq!(routes(&h)[1], json!({ "dest": "0.0.0.0/0", "gateway": "192.0.2.254", "flags": "UGS" }), "replaced");
    let dry = h.ok(
        "jnet-epair",
        &["-n"].into_iter().chain(with(&["192.0.2.9"]).iter().map(String::as_str)).collect::<Vec<_>>(),
    );
    assert!(dry.contains("route -j 1 add -inet default 192.0.2.9"), "{dry}");
    for (gw, code, msg) in [
        (vec!["192.0.2.1", "192.0.2.2"], 64, "one default router per address family"),
        (vec!["fe80::1"], 65, "link-local"),
        (vec!["x"], 65, "not an IPv4 or IPv6 address"),
    ] {
        let a = with(&gw);
        let err = h.fails("jnet-epair", &a.iter().map(String::as_str).collect::<Vec<_>>(), code);
        assert!(err.contains(msg), "{gw:?}: {err}");
    }
    // The routes go with the interface.
    h.ok("jnet-release", &["--", "www"]);
    assert_eq!(routes(&h), json!([]));
}

/// Static routes in the jail (`--route NETWORK/LEN,ROUTER`), beside the default route, for
/// jnet-epair and jnet-ngattach: added after the addresses, converged, undone with the
/// rest when one cannot be added, gone with the interface; bad ones refused up front.
#[test]
fn static_routes_in_the_jail() {
    let h = Host::new("routes", "igb0");
    let routes = |h: &Host, j: &str| -> Value {
        h.show()["vnets"].as_array().unwrap().iter().find(|x| x["jail"] == j).unwrap()["routes"].clone()
    };
    for j in ["www", "mail"] {
        h.ok("jnet-sim", &["jail", "create", j, "--vnet"]);
    }
    let base = ["--ifname", "vnet0", "-a", "192.0.2.5/24", "-a", "2001:db8::5/64", "--gateway", "192.0.2.1"];
    let with = |prog: &str, extra: &[&str], jail: &str| -> Vec<String> {
        let mut a: Vec<&str> =
            if prog == "jnet-epair" { vec!["-b", "bridge0"] } else { vec!["--virtual", "-b", "vbr0"] };
        a.extend(base);
        a.extend(extra);
        a.extend(["--", jail]);
        a.iter().map(|s| s.to_string()).collect()
    };
    let strs = |v: &[String]| v.iter().map(String::as_str).collect::<Vec<_>>().join(" ");
    let extra = ["--route", "198.51.100.0/24,192.0.2.254", "--route", "2001:db8:1::/48,2001:db8::1"];
    let want = json!([
        { "dest": "0.0.0.0/0", "gateway": "192.0.2.1", "flags": "UGS" },
        { "dest": "198.51.100.0/24", "gateway": "192.0.2.254", "flags": "UGS" },
        { "dest": "2001:db8:1::/48", "gateway": "2001:db8::1", "flags": "UGS" },
    ]);
    for (prog, jail) in [("jnet-epair", "www"), ("jnet-ngattach", "mail")] {
        let a = with(prog, &extra, jail);
        let dry = h.ok(prog, &[&["-n"][..], &a.iter().map(String::as_str).collect::<Vec<_>>()].concat());
        assert!(dry.contains("add -inet -net 198.51.100.0/24 192.0.2.254"), "{dry}");
        assert!(dry.contains("add -inet6 -net 2001:db8:1::/48 2001:db8::1"), "{dry}");
        h.ok(prog, &a.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(routes(&h, jail), want, "{prog} {}", strs(&a));
        let s = h.show();
        h.ok(prog, &a.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(h.show(), s, "{prog} again: nothing changes");
    }
    // A router on none of the jail's networks: refused by the kernel, the run undone.
    h.ok("jnet-release", &["--", "www"]);
    let before = h.show();
    let a = with("jnet-epair", &["--route", "198.51.100.0/24,203.0.113.1"], "www");
    let err = h.fails("jnet-epair", &a.iter().map(String::as_str).collect::<Vec<_>>(), 71);
    assert!(err.contains("route to 198.51.100.0/24 via 203.0.113.1 (it is on none of the networks"), "{err}");
    assert_eq!(h.show()["vnets"], before["vnets"]);
    for (r, code, msg) in [
        ("198.51.100.7/24,192.0.2.254", 65, "host bits are set; the network is 198.51.100.0/24"),
        ("0.0.0.0/0,192.0.2.254", 64, "the default route is --gateway"),
        ("2001:db8:1::/48,192.0.2.254", 65, "different families"),
        ("198.51.100.0/24", 65, "expected NETWORK/LEN,ROUTER"),
        ("198.51.100.0/24,fe80::1", 65, "link-local"),
    ] {
        let a = with("jnet-epair", &["--route", r], "www");
        let err = h.fails("jnet-epair", &a.iter().map(String::as_str).collect::<Vec<_>>(), code);
        assert!(err.contains(msg), "{r}: {err}");
    }
    let a =
        with("jnet-epair", &["--route", "198.51.100.0/24,192.0.2.2", "--route", "198.51.100.0/24,192.0.2.3"], "www");
    let err = h.fails("jnet-epair", &a.iter().map(String::as_str).collect::<Vec<_>>(), 64);
    assert!(err.contains("198.51.100.0/24 is given twice"), "{err}");
    assert_eq!(h.show()["vnets"], before["vnets"]);
    // `jnet-sim show` lists them as netstat -rn would.
    let text = h.ok("jnet-sim", &["show"]);
    let mail = &text[text.find("== vnet mail").unwrap()..];
    for line in [
        "\tdefault                  192.0.2.1                UGS    vnet0",
        "\t198.51.100.0/24          192.0.2.254              UGS    vnet0",
        "\t2001:db8:1::/48          2001:db8::1              UGS    vnet0",
    ] {
        assert!(mail.lines().any(|l| l == line), "{line:?} not in:\n{mail}");
    }
    // The routes go with the interface.
    h.ok("jnet-release", &["--", "mail"]);
    assert_eq!(routes(&h, "mail"), json!([]));
    assert!(!h.ok("jnet-sim", &["show"]).contains("netstat -rn"));
}

/// A jail on VLAN 20 of its uplink: a vlan igb0.20 (if_vlan's NIC.TAG form) tagged as jnet's,
/// on its own bridge, shared by the jails on that VLAN and gone with the last of them.
#[test]
fn vlans_on_their_own_bridge() {
    let h = Host::new("vlan", "igb0");
    let dry = h.ok("jnet-epair", &["-n", "-u", "igb0", "--vlan", "20", "--", "www"]);
    assert!(dry.contains("ifconfig igb0.20 create") && dry.contains("ifconfig b20_igb0 addm igb0.20"), "{dry}");
    for j in ["www", "db"] {
        h.ok("jnet-epair", &["-u", "igb0", "--vlan", "20", "--", j]);
    }
    let s = h.show();
    let v = iface(&s, "host", "igb0.20");
    assert_eq!(v["kind"], "vlan");
    assert_eq!(v["vlan"], json!({ "parent": "igb0", "tag": 20 }));
    assert_eq!(v["description"], "jnet::vlan");
    assert_eq!(v["groups"], json!(["all", "vlan", "jnet"]));
    assert_eq!(v["up"], true);
    assert_eq!(iface(&s, "host", "b20_igb0")["members"], json!(["igb0.20", "e0a_www", "e0a_db"]));
    h.ok("jnet-release", &["--prune", "--", "www"]);
    assert!(names(&h.show(), "host").contains(&"igb0.20".to_string()), "db is still on it");
    assert_eq!(h.ok("jnet-release", &["--prune", "--", "db"]), "e0a_db\nb20_igb0\nigb0.20\n");
    assert_eq!(names(&h.show(), "host"), ["lo0", "igb0"]);
    // -b names the bridge; bad input changes nothing.
    h.ok("jnet-epair", &["-b", "vl30", "-u", "igb0", "--vlan", "30", "--", "app"]);
    assert_eq!(iface(&h.show(), "host", "vl30")["members"], json!(["igb0.30", "e0a_app"]));
    assert_eq!(h.ok("jnet-sim", &["ifconfig", "igb0.40", "create"]), "igb0.40\n");
    let before = h.show();
    for (args, code, msg) in [
        (vec!["--vlan", "20", "--", "x"], 64, "--vlan needs --uplink"),
        (vec!["-u", "igb0", "--vlan", "5000", "--", "x"], 65, "not a VLAN ID"),
        (vec!["-u", "igb0", "--vlan", "40", "--", "x"], 78, "igb0.40 exists and is not a vlan jnet made"),
    ] {
        let err = h.fails("jnet-epair", &args, code);
        assert!(err.contains(msg), "{args:?}: {err}");
        assert_eq!(h.show(), before, "{args:?}");
    }
}

/// The same with netgraph: the bridge is spliced onto the vlan (if_vlan, whose ng_ether
/// netgraph sees as any Ethernet interface), and --prune takes bridge and vlan away.
#[test]
fn netgraph_on_a_vlan() {
    let h = Host::new("ngvlan", "igb0");
    assert_eq!(h.ok("jnet-ngattach", &["-u", "igb0", "--vlan", "20", "--", "mail"]), "ng0_mail\n");
    let s = h.show();
    assert_eq!(iface(&s, "host", "igb0.20")["vlan"], json!({ "parent": "igb0", "tag": 20 }));
    let g = s["netgraph"].as_array().unwrap().clone();
    let hooks = |name: &str| -> Vec<String> {
        g.iter().find(|n| n["name"] == name).unwrap()["hooks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(hooks("igb0_20"), ["lower", "upper"]);
    assert_eq!(hooks("igb0_20bridge"), ["link0", "link1", "link2"]);
    assert!(hooks("igb0").is_empty(), "the NIC itself is not spliced");
    assert_eq!(h.ok("jnet-release", &["--prune", "--", "mail"]), "ng0_mail\nigb0_20bridge\nigb0.20\n");
    assert_eq!(names(&h.show(), "host"), ["lo0", "igb0"]);
}

/// The jails' gateway on a bridge jnet made is one address per family: a hook asking for a
/// different one is refused with nothing changed, instead of piling a second on.
#[test]
fn a_second_different_bridge_addr_is_refused() {
    let h = Host::new("bridgeaddr", "igb0");
    for j in ["a", "b", "c"] {
        h.ok("jnet-sim", &["jail", "create", j, "--vnet"]);
    }
    h.ok("jnet-epair", &["-b", "jails0", "--bridge-addr", "10.8.0.1/24", "--", "a"]);
    h.ok(
        "jnet-epair",
        &["-b", "jails0", "--bridge-addr", "10.8.0.1/24", "--bridge-addr", "2001:db8:8::1/64", "--", "b"],
    );
    let before = h.show();
    let err = h.fails("jnet-epair", &["-b", "jails0", "--bridge-addr", "10.9.0.1/24", "--", "c"], 78);
    assert!(err.contains("--bridge-addr 10.9.0.1/24: bridge jails0 already has 10.8.0.1/24"), "{err}");
    assert_eq!(h.show()["vnets"], before["vnets"]);
    let a: Vec<String> = iface(&before, "host", "jails0")["addrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["addr"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(a[..2], ["10.8.0.1", "2001:db8:8::1"]);
    assert!(a.len() == 3 && a[2].starts_with("fe80::"), "the IPv6 gateway bridge has its link-local address: {a:?}");
}

/// A link-local router (`--gateway fe80::1%vnet0`, what rtadvd announces and providers give):
/// its zone is an interface of the jail, turned into its index inside the jail; the route
/// keeps it; a rollback puts back the route it replaced with that route's own zone.
#[test]
fn a_link_local_router_with_its_zone() {
    let h = Host::new("llgw", "igb0");
    let routes = |h: &Host, j: &str| -> Value {
        h.show()["vnets"].as_array().unwrap().iter().find(|x| x["jail"] == j).unwrap()["routes"].clone()
    };
    for j in ["www", "mail"] {
        h.ok("jnet-sim", &["jail", "create", j, "--vnet"]);
    }
    let args = |extra: &[&str]| -> Vec<String> {
        ["-b", "bridge0", "--ifname", "vnet0", "-a", "2001:db8::5/64"]
            .iter()
            .chain(extra)
            .chain(&["--", "www"])
            .map(|s| s.to_string())
            .collect()
    };
    let run = |extra: &[&str]| h.ok("jnet-epair", &args(extra).iter().map(String::as_str).collect::<Vec<_>>());
    run(&["--gateway", "fe80::2%vnet0"]);
    assert_eq!(routes(&h, "www"), json!([{ "dest": "::/0", "gateway": "fe80::2%vnet0", "flags": "UGS" }]));
    let shown = h.ok("jnet-sim", &["show"]);
    assert!(
        shown.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["default", "fe80::2%vnet0", "UGS", "vnet0"]),
        "{shown}"
    );
    let before = h.show();
    // The default route is replaced, then a route cannot be added: the old default route
    // comes back through the same interface.
    let a = args(&["--gateway", "fe80::1%vnet0", "--route", "2001:db8:9::/48,2001:db8:ff::1"]);
    let err = h.fails("jnet-epair", &a.iter().map(String::as_str).collect::<Vec<_>>(), 71);
    assert!(err.contains("it is on none of the networks of the jail's addresses"), "{err}");
    assert_eq!(h.show(), before, "rolled back, the old route with its zone");
    run(&["--gateway", "fe80::1%vnet0"]);
    assert_eq!(routes(&h, "www"), json!([{ "dest": "::/0", "gateway": "fe80::1%vnet0", "flags": "UGS" }]));
    let a = args(&["-n", "--gateway", "fe80::3%vnet0"]);
    let dry = h.ok("jnet-epair", &a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(dry.contains("route -j 1 add -inet6 default fe80::3%vnet0"), "{dry}");
    // A zone the jail does not have: found missing inside, everything undone.
    let before = h.show();
    let a = args(&["--gateway", "fe80::1%nope0"]);
    let err = h.fails("jnet-epair", &a.iter().map(String::as_str).collect::<Vec<_>>(), 71);
    assert!(err.contains("find interface nope0, the zone of router fe80::1%nope0"), "{err}");
    assert_eq!(h.show(), before);
    for (gw, msg) in [
        ("fe80::1", "is link-local: name the jail interface it is on, as fe80::1%vnet0"),
        ("2001:db8::1%vnet0", "only a link-local address takes an interface"),
        ("fe80::1%", "name is empty"),
        ("fe80::1%vnet0%x", "contains '%'"),
    ] {
        let a = args(&["--gateway", gw]);
        let err = h.fails("jnet-epair", &a.iter().map(String::as_str).collect::<Vec<_>>(), 65);
        assert!(err.contains(msg), "{gw}: {err}");
    }
    // Without IPv6 on the interface there is no link-local address to reach it through.
    h.ok("jnet-sim", &["jail", "create", "v4only", "--vnet"]);
    let err = h.fails(
        "jnet-epair",
        &["-b", "bridge0", "--ifname", "vnet0", "-a", "192.0.2.8/24", "--gateway", "fe80::1%vnet0", "--", "v4only"],
        71,
    );
    assert!(err.contains("vnet0 has no link-local address: enable IPv6 on it"), "{err}");
    // jnet-ngattach takes the same.
    h.ok(
        "jnet-ngattach",
        &[
            "--virtual",
            "-b",
            "vbr0",
            "--ifname",
            "vnet0",
            "-a",
            "2001:db8::6/64",
            "--gateway",
            "fe80::1%vnet0",
            "--",
            "mail",
        ],
    );
    assert_eq!(routes(&h, "mail"), json!([{ "dest": "::/0", "gateway": "fe80::1%vnet0", "flags": "UGS" }]));
}
