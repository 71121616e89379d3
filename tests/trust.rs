//! A jail's root is not trusted: each attack a hostile tenant can make from inside his VNET
//! jail (jnet(7), THREAT MODEL), played with `jnet-sim ifconfig -j` and `jnet-sim jail trap`,
//! and the exact host state it must leave.

mod common;
use common::*;
use serde_json::{json, Value};

impl Host {
    fn new(tag: &str, phys: &str) -> Host {
        Host::init(&format!("trust-{tag}"), &["--phys", phys])
    }
    /// `jnet-sim ifconfig` as the jail's root (or, with "host", as the host's).
    fn ifc(&self, vnet: &str, words: &[&str]) -> String {
        let mut a = vec!["ifconfig"];
        if vnet != "host" {
            a.extend(["-j", vnet]);
        }
        a.extend_from_slice(words);
        self.ok("jnet-sim", &a)
    }
}

/// Every interface of a vnet as (name, driver, description, groups).
fn view(s: &Value, vnet_name: &str) -> Vec<Value> {
    vnet(s, vnet_name).iter().map(|i| json!([i["name"], i["driver"], i["description"], i["groups"], i["up"]])).collect()
}

/// 1. A description written inside the jail is never applied on the host: the NIC comes
///    home under its own name, with its own description and groups, from the host's record.
#[test]
fn a_forged_nic_record_changes_nothing_on_the_host() {
    let h = Host::new("record", "igb0,igb2,igb3");
    h.ifc("host", &["igb2", "description", "dmz uplink"]);
    h.ifc("host", &["igb2", "group", "dmz"]);
    h.ok("jnet-nic", &["--iface", "igb2", "--", "www"]);
    h.ok("jnet-sim", &["jail", "create", "www", "--vnet", "--interface", "igb2", "--interface", "igb3"]);
    for nic in ["igb2", "igb3"] {
        h.ifc("www", &[nic, "description", &format!("jnet-nic www bridge0 lo {nic}")]);
        h.ifc("www", &[nic, "group", "lo"]);
    }
    assert_eq!(h.ok("jnet-release", &["--iface", "igb2", "--iface", "igb3", "--", "www"]), "igb2\nigb3\n");
    let s = h.show();
    assert_eq!(
        view(&s, "host"),
        [
            json!(["lo0", "lo0", null, ["all", "lo"], true]),
            json!(["igb0", "igb0", null, ["all"], true]),
            json!(["igb2", "igb2", "dmz uplink", ["all", "dmz"], true]),
            // No record (lent by vnet.interface alone): its name from the command line, no
            // description, no groups; down, as a move leaves it.
            json!(["igb3", "igb3", null, ["all"], false]),
        ]
    );
    // bridge0 is still free for a jail that wants it.
    h.ok("jnet-epair", &["-b", "bridge0", "--", "db"]);
}

/// 2. What the jail's root names like the NIC is not the NIC: inside a live jail the NIC is
///    found by its driver; from a dying jail an impostor that comes out is moved straight
///    back, and the release fails.
#[test]
fn a_substitute_under_the_nics_name_does_not_come_home() {
    let h = Host::new("subst", "igb0,igb2");
    jnet::kernel::System::kld_load(&mut h.kernel(), "if_epair").unwrap();
    h.ok("jnet-nic", &["--iface", "igb2", "--", "www"]);
    h.ok("jnet-sim", &["jail", "create", "www", "--vnet", "--interface", "igb2"]);
    // if_epair on the host serves every vnet: he clones one and takes the NIC's name.
    assert_eq!(h.ifc("www", &["epair", "create"]), "epair0a\n");
    h.ifc("www", &["igb2", "name", "x0"]);
    h.ifc("www", &["epair0a", "name", "igb2"]);
    assert_eq!(h.ok("jnet-release", &["--iface", "igb2", "--", "www"]), "igb2\n");
    let s = h.show();
    assert_eq!(iface(&s, "host", "igb2")["driver"], "igb2");
    assert_eq!(names(&s, "www"), ["lo0", "igb2", "epair0b"], "his epair stays with him");
    assert_eq!(iface(&s, "www", "igb2")["driver"], "epair0");

    // Lent again; this time the jail is dying when the release comes, so it cannot be
    // looked into: the reclaim goes by name, and the impostor comes out.
    h.ok("jnet-nic", &["--iface", "igb2", "--", "db"]);
    h.ok("jnet-sim", &["jail", "create", "db", "--vnet", "--interface", "igb2"]);
    assert_eq!(h.ifc("db", &["epair", "create"]), "epair0a\n");
    h.ifc("db", &["igb2", "name", "x0"]);
    h.ifc("db", &["epair0a", "name", "igb2"]);
    h.ok("jnet-sim", &["jail", "remove", "db", "--linger", "3"]);
    let before = h.show();
    let err = h.fails("jnet-release", &["--iface", "igb2", "--", "db"], 78);
    assert!(err.contains("igb2 taken back from jail db is epair0, not igb2's igb2"), "{err}");
    assert!(err.contains("it was moved back into the jail, and igb2 stays there"), "{err}");
    let after = h.show();
    assert_eq!(view(&after, "host"), view(&before, "host"), "nothing of his is on the host");
    assert!(names(&after, "db").contains(&"igb2".to_string()));
    // When the vnet dies his epair dies with it, the real NIC comes home under the jail's
    // name for it, and --stale puts it back.
    while h.show()["jails"].as_array().unwrap().iter().any(|j| j["name"] == "db") {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(names(&h.show(), "host"), ["lo0", "igb0", "x0"]);
    assert_eq!(h.ok("jnet-release", &["--stale"]), "igb2\n");
    let s = h.show();
    assert_eq!(view(&s, "host")[2], json!(["igb2", "igb2", null, ["all"], true]));
}

/// 3. Interfaces that come home from a dead vnet carry whatever tags the jail's root wrote;
///    without group jnet they are claims: not reused, not destroyed, not swept.
#[test]
fn forged_tags_on_interfaces_that_come_home_are_claims() {
    let h = Host::new("tags", "igb0,igb2");
    // An admin's epair, one end given to jail evil by vnet.interface; and a dedicated NIC.
    assert_eq!(h.ifc("host", &["epair", "create"]), "epair0a\n");
    h.ok("jnet-sim", &["jail", "create", "evil", "--vnet", "--interface", "epair0b", "--interface", "igb2"]);
    h.ifc("evil", &["epair0b", "name", "e0b_web"]);
    h.ifc("evil", &["e0b_web", "description", "jnet:web:epair0b"]);
    h.ifc("evil", &["igb2", "name", "e0a_web"]);
    h.ifc("evil", &["e0a_web", "description", "jnet:web:epair0a"]);
    h.ok("jnet-sim", &["jail", "remove", "evil"]);
    let before = h.show();
    assert!(names(&before, "host").contains(&"e0a_web".to_string()));
    // web's hook refuses to take them as its pair: nothing bridged, nothing destroyed.
    let err = h.fails("jnet-epair", &["-b", "bridge0", "-u", "igb0", "--", "web"], 78);
    assert!(
        err.contains("e0a_web on the host carries jnet's tag for jail web but is not in interface group jnet"),
        "{err}"
    );
    assert_eq!(h.show(), before);
    // Neither web's release nor the sweep touches them.
    assert_eq!(h.ok("jnet-release", &["--", "web"]), "nothing to release\n");
    assert_eq!(h.ok("jnet-release", &["--stale"]), "nothing to release\n");
    assert_eq!(h.ok("jnet-release", &["--list"]), "");
    assert_eq!(h.show(), before);

    // Our own jail end back from a failed start is ours (the same pair as our host end, by
    // its driver unit) and is made anew.
    let h = Host::new("tags2", "igb0");
    h.ok("jnet-epair", &["-b", "bridge0", "--", "web"]);
    h.ok("jnet-sim", &["jail", "create", "web", "--vnet", "--interface", "e0b_web"]);
    h.ok("jnet-sim", &["jail", "remove", "web"]);
    let back = iface(&h.show(), "host", "e0b_web");
    assert_eq!(back["groups"], json!(["all", "epair"]), "the move cleared group jnet");
    let j: Value = serde_json::from_str(&h.ok("jnet-epair", &["-b", "bridge0", "--json", "--", "web"])).unwrap();
    assert_eq!(j["action"], "recreated");
    let s = h.show();
    for end in ["e0a_web", "e0b_web"] {
        assert_eq!(iface(&s, "host", end)["groups"], json!(["all", "epair", "jnet"]), "{end}");
    }
    // But another epair that comes home as e0b_web next to our host end is not our pair.
    h.ok("jnet-sim", &["jail", "create", "web", "--vnet", "--interface", "e0b_web"]);
    let admins = h.ifc("host", &["epair", "create"]).trim().to_string();
    let admins_b = format!("{}b", admins.trim_end_matches('a'));
    let (theirs, ours) =
        (admins.trim_end_matches('a').to_string(), iface(&h.show(), "host", "e0a_web")["driver"].clone());
    assert_ne!(json!(theirs), ours);
    h.ok("jnet-sim", &["jail", "create", "evil", "--vnet", "--interface", &admins_b]);
    h.ifc("web", &["e0b_web", "name", "vnet0"]);
    h.ifc("evil", &[&admins_b, "name", "e0b_web"]);
    h.ifc("evil", &["e0b_web", "description", "jnet:web:epair0b"]);
    h.ok("jnet-sim", &["jail", "remove", "evil"]);
    h.ok("jnet-sim", &["jail", "remove", "web", "--linger", "60"]);
    let before = h.show();
    let err = h.fails("jnet-epair", &["-b", "bridge0", "--", "web"], 78);
    assert!(err.contains(&format!("e0b_web is {theirs}, not {} like e0a_web", ours.as_str().unwrap())), "{err}");
    assert_eq!(h.show(), before, "the admin's {theirs} is still there, untouched");
}

/// 4. Two jails whose interface names collide (found in a second against the 35-bit short
///    hash) cannot reach each other's netgraph node: node names carry a keyed 128-bit hash.
#[test]
fn colliding_interface_names_do_not_share_a_node() {
    let (a, b) = ("tenant-310400.example", "tenant-365705.example");
    assert_eq!(jnet::names::eiface_name(a, 0), jnet::names::eiface_name(b, 0), "the two names collide");
    let ifname = jnet::names::eiface_name(a, 0);
    let h = Host::new("ng", "igb0");
    assert_eq!(h.ok("jnet-ngattach", &["--virtual", "-b", "vbr0", "--", a]), format!("{ifname}\n"));
    let before = h.show();
    let node_a = h.node(a, 0);
    assert_ne!(node_a, h.node(b, 0));
    // b's hook finds a's interface under its name, tagged for a: refused, nothing changed.
    let err = h.fails("jnet-ngattach", &["--virtual", "-b", "vbr0", "--", b], 78);
    assert!(err.contains(&format!("{ifname} already exists on the host and is not jnet's for jail {b}")), "{err}");
    assert_eq!(h.show(), before);
    // b's release leaves a's node and interface alone.
    assert_eq!(h.ok("jnet-release", &["--", b]), "nothing to release\n");
    assert_eq!(h.show(), before);
    assert!(h.show()["netgraph"].as_array().unwrap().iter().any(|n| n["name"] == node_a));
    assert_eq!(h.ok("jnet-release", &["--", a]), format!("{ifname}\n"));
}

/// 5. One interface named like the next epair unit's end would make every wildcard create
///    fail; jnet then takes an explicit unit.
#[test]
fn epair_unit_squatting_does_not_block_new_pairs() {
    let h = Host::new("squat", "igb0");
    assert_eq!(h.ifc("host", &["vlan", "create"]), "vlan0\n");
    h.ifc("host", &["vlan0", "name", "epair0a"]);
    assert_eq!(h.ifc("host", &["vlan", "create"]), "vlan1\n");
    h.ifc("host", &["vlan1", "name", "epair1b"]);
    h.ok("jnet-epair", &["-b", "bridge0", "--", "www"]);
    let s = h.show();
    let unit = iface(&s, "host", "e0a_www")["driver"].as_str().unwrap().to_string();
    assert!(unit.starts_with("epair") && unit != "epair0" && unit != "epair1", "{unit}: a unit no squatter holds");
    assert_eq!(iface(&s, "host", "epair0a")["driver"], "vlan0", "the squatter is untouched");
    assert_eq!(iface(&s, "host", "epair1b")["driver"], "vlan1");
    h.ok("jnet-release", &["--", "www"]);
    assert_eq!(names(&h.show(), "host"), ["lo0", "igb0", "epair0a", "epair1b", "bridge0"]);
}

/// 6 and 7. A jail whose root stops or kills what enters it cannot hang or abort a sweep;
/// what it might be using is kept; one jail's claims count for that jail only; and text
/// from inside a jail is escaped before it is printed.
#[test]
fn hostile_jails_cannot_hang_a_sweep_or_forge_output() {
    let h = Host::new("child", "igb0");
    for j in ["good", "evil", "gone"] {
        h.ok("jnet-sim", &["jail", "create", j, "--vnet"]);
        h.ok("jnet-ngattach", &["--virtual", "-b", "vbr0", "--ifname", "vnet0", "--", j]);
    }
    // gone stops without a release; its vnet lingers with its eiface inside.
    h.ok("jnet-sim", &["jail", "remove", "gone", "--linger", "60"]);
    let gone_node = h.node("gone", 0);
    let has_node = |n: &str| h.show()["netgraph"].as_array().unwrap().iter().any(|x| x["name"] == n);
    // evil claims gone's interface as his own, under gone's tag, and stops whatever enters
    // his jail. The sweep reads nothing inside jails, so neither matters to it.
    h.ifc("evil", &["vnet0", "description", "jnet:gone:eiface0"]);
    h.ok("jnet-sim", &["jail", "trap", "evil", "stop"]);
    assert_eq!(h.ok("jnet-release", &["--stale"]), "vnet0\n");
    assert!(!has_node(&gone_node), "gone's node went, evil's claim notwithstanding");
    assert!(has_node(&h.node("good", 0)) && has_node(&h.node("evil", 0)));
    // --list shows what it can read, says what it could not, and does not hang.
    let o = h.run("jnet-release", &["--list"]);
    assert_eq!(o.status.code(), Some(75));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("good eiface0 vnet0 jail:good\n"), "{out}");
    assert!(!out.contains("jail:evil"), "{out}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("did not finish within"));
    h.ok("jnet-sim", &["jail", "trap", "evil", "kill"]);
    let err = h.fails("jnet-epair", &["-b", "bridge0", "--ifname", "vnet1", "-i", "1", "--", "evil"], 75);
    assert!(err.contains("ended without a result (killed by signal 9)"), "{err}");
    h.ok("jnet-sim", &["jail", "trap", "evil", "none"]);

    // Names and descriptions from inside a jail reach the terminal escaped.
    h.ifc("evil", &["vnet0", "name", "\u{1b}[2J\nroot 0"]);
    h.ifc("evil", &["\u{1b}[2J\nroot 0", "description", "jnet:evil:eiface0"]);
    let out = h.ok("jnet-release", &["--list", "--", "evil"]);
    assert!(!out.contains('\u{1b}'), "{out:?}");
    assert!(out.contains("evil eiface0 \\x1b[2J\\x0aroot 0 jail:evil\n"), "{out:?}");
    assert_eq!(out.lines().count(), 2, "{out:?}");
    // JSON stays JSON, with the name as it is.
    let j: Value = serde_json::from_str(&h.ok("jnet-release", &["--list", "--json", "--", "evil"])).unwrap();
    assert_eq!(j["objects"][0]["name"], "\u{1b}[2J\nroot 0");
}

/// 8. Hooks survive any jail name: one that is not UTF-8 is refused with a message, and one
///    that looks like an option is a name after `--`.
#[test]
fn odd_jail_names_on_the_command_line() {
    use std::os::unix::ffi::OsStrExt;
    let h = Host::new("argv", "igb0");
    let o = std::process::Command::new(bin("jnet-epair"))
        .args(["-b", "bridge0", "--"])
        .arg(std::ffi::OsStr::from_bytes(b"w\xffw"))
        .env("JNET_SIM", &h.path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&o.stderr).contains("argument 4 (w\u{fffd}w) is not valid UTF-8"));
    // A leftover of a jail that is not running, which only --stale would sweep.
    h.ok("jnet-epair", &["-b", "bridge0", "--", "old"]);
    let out = h.ok("jnet-epair", &["-b", "bridge0", "--", "--stale"]);
    let name = out.trim();
    assert_eq!(iface(&h.show(), "host", name)["description"], "jnet:--stale:epair0b");
    assert_eq!(h.ok("jnet-release", &["--", "--stale"]), format!("{}\n", name.replace("e0b", "e0a")));
    assert!(names(&h.show(), "host").contains(&"e0a_old".to_string()), "only jail --stale's pair went");
}

/// Issue 20, 4: the netgraph naming key is lost while a jail runs on an eiface. Nothing
/// makes a new one while nodes named with the old one exist (a sweep would judge them all
/// under it and shut every running jail's eiface down): read-only commands create nothing,
/// a new netgraph jail is refused with the fix, the sweep leaves the node alone.
#[test]
fn a_lost_naming_key_is_never_remade_while_its_nodes_exist() {
    let h = Host::new("ngkey", "igb1");
    let run = jnet::sim::SimFiles::new(&h.path).run_dir();
    // A dry run on a fresh host makes no key.
    let dry = h.ok("jnet-ngattach", &["-n", "-u", "igb1", "--", "mail"]);
    assert!(dry.contains("jnet-<new key>"), "{dry}");
    assert!(!run.join("ngkey").exists());
    h.ok("jnet-sim", &["jail", "create", "mail", "--vnet"]);
    h.ok("jnet-ngattach", &["-u", "igb1", "--ifname", "vnet0", "--", "mail"]);
    std::fs::remove_file(run.join("ngkey")).unwrap();
    let before = h.show();
    let list = h.run("jnet-release", &["--list"]);
    assert!(!run.join("ngkey").exists(), "--list made a key: {}", String::from_utf8_lossy(&list.stderr));
    let err = h.fails("jnet-ngattach", &["-u", "igb1", "--", "db"], 74);
    assert!(err.contains("is missing while eiface nodes jnet named with it exist"), "{err}");
    assert!(!run.join("ngkey").exists());
    let err = h.fails("jnet-release", &["--stale"], 74);
    assert!(err.contains("cannot tell which jail each of its eiface nodes belongs to"), "{err}");
    assert!(!run.join("ngkey").exists());
    assert_eq!(h.show()["netgraph"], before["netgraph"]);
    assert_eq!(h.show()["vnets"], before["vnets"]);
}

/// Issue 20, 3: a NIC at home is never "restored". After a normal stop gave igb2 back, a
/// second `jnet-release --iface igb2` (the man page says running twice is safe) leaves the
/// address and description the administrator gave it since; so does a release naming a
/// NIC that was never lent, under whatever name it has.
#[test]
fn a_nic_at_home_is_never_restored_again() {
    let h = Host::new("home", "igb0,igb2");
    h.ok("jnet-nic", &["--iface", "igb2", "--", "dmz"]);
    h.ok("jnet-sim", &["jail", "create", "dmz", "--vnet", "--interface", "igb2"]);
    h.ok("jnet-sim", &["jail", "remove", "dmz", "--linger", "60"]);
    assert_eq!(h.ok("jnet-release", &["--iface", "igb2", "--", "dmz"]), "igb2\n");
    h.ifc("host", &["igb2", "inet", "192.0.2.7/24"]);
    h.ifc("host", &["igb2", "description", "lan uplink"]);
    let before = h.show();
    h.ok("jnet-release", &["--iface", "igb2", "--", "dmz"]);
    assert_eq!(h.show()["vnets"], before["vnets"]);
    // Never lent at all, and renamed by the administrator: found by its driver, left alone.
    h.ifc("host", &["igb2", "name", "lan0"]);
    let before = h.show();
    h.ok("jnet-release", &["--iface", "igb2", "--", "dmz"]);
    assert_eq!(h.show()["vnets"], before["vnets"]);
    let lan0 = iface(&h.show(), "host", "lan0");
    assert_eq!(
        (lan0["description"].clone(), lan0["addrs"][0]["addr"].clone()),
        (json!("lan uplink"), json!("192.0.2.7"))
    );
}

/// Issue 20, 1 and 6: a cloned interface is not lent as a NIC (both ends of an epair say
/// `epairN`, every vlan says `vlan`: a jail's root makes the same in his vnet), one NIC's
/// record is never overwritten by another jail's, and records in a directory others can
/// write are not believed.
#[test]
fn only_hardware_nics_are_lent_and_their_records_are_the_hosts() {
    let h = Host::new("clones", "igb0,igb1,igb2");
    h.ifc("host", &["epair", "create"]);
    h.ifc("host", &["igb1.100", "create"]);
    let run = jnet::sim::SimFiles::new(&h.path).run_dir();
    let before = h.show();
    // A dotted vlan's driver is vlan<unit> in 13.0's if_vlan.c (ifc_alloc_unit, then
    // if_dunit = unit); whatever its unit, it is in the vlan cloner's group.
    for (nic, kind) in [("epair0b", "epair, driver epair0"), ("igb1.100", "vlan, driver vlan")] {
        let err = h.fails("jnet-nic", &["--iface", nic, "--", "www"], 65);
        assert!(err.contains(&format!("{nic} is a cloned interface ({kind}")), "{err}");
        assert!(err.contains("lends only hardware NICs"), "{err}");
    }
    assert_eq!(h.show(), before);
    assert!(!run.join("nic").exists() || std::fs::read_dir(run.join("nic")).unwrap().count() == 0);

    // igb2 is www's: db cannot take its record over.
    h.ok("jnet-nic", &["--iface", "igb2", "--", "www"]);
    let record = std::fs::read(run.join("nic/igb2.json")).unwrap();
    let err = h.fails("jnet-nic", &["--iface", "igb2", "--", "db"], 78);
    assert!(err.contains("igb2 (igb2) is lent to jail www already"), "{err}");
    assert_eq!(std::fs::read(run.join("nic/igb2.json")).unwrap(), record);

    // A planted record in a directory anyone could write is an error, never applied.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(run.join("nic"), std::fs::Permissions::from_mode(0o777)).unwrap();
    h.ifc("host", &["igb0", "description", "uplink"]);
    let forged = r#"{"jail":"gone","host_name":"igb0","driver":"igb0","descr":null,"groups":[],"up":false,"addrs":[]}"#;
    std::fs::write(run.join("nic/igb0.json"), forged).unwrap();
    let before = h.show();
    let err = h.fails("jnet-release", &["--stale"], 74);
    assert!(err.contains("no one else can write to"), "{err}");
    assert_eq!(h.show()["vnets"], before["vnets"]);
}

/// Issue 20, 2: one name, two interfaces. A jail that uses no jnet at all is given the
/// administrator's vif0b, renames it e0a_web, and stops: the host has two e0a_web (neither
/// if_vmove nor vnet_if_return checks names). web's release, a start of web, and the sweep
/// each refuse to act through that name, say so, and leave the administrator's pair (and
/// its address) alone.
#[test]
fn a_name_that_designates_two_interfaces_is_never_acted_through() {
    let h = Host::new("twonames", "igb0");
    h.ok("jnet-sim", &["jail", "create", "web", "--vnet"]);
    h.ok("jnet-epair", &["-b", "bridge0", "--", "web"]);
    let admins = h.ifc("host", &["epair", "create"]).trim().trim_end_matches('a').to_string();
    h.ifc("host", &[&format!("{admins}a"), "name", "vif0a"]);
    h.ifc("host", &[&format!("{admins}b"), "name", "vif0b"]);
    h.ifc("host", &["vif0a", "inet", "192.0.2.9/24"]);
    h.ok("jnet-sim", &["jail", "create", "evil", "--vnet", "--interface", "vif0b"]);
    h.ifc("evil", &["vif0b", "name", "e0a_web"]);
    h.ok("jnet-sim", &["jail", "remove", "evil"]);
    let s = h.show();
    assert_eq!(names(&s, "host").iter().filter(|n| *n == "e0a_web").count(), 2, "{s}");
    let before = h.show();
    for (prog, args, code) in
        [("jnet-release", vec!["--", "web"], 78), ("jnet-epair", vec!["-b", "bridge0", "--", "web"], 78)]
    {
        let err = h.fails(prog, &args, code);
        assert!(err.contains("e0a_web designates 2 interfaces on the host"), "{prog}: {err}");
        assert_eq!(h.show()["vnets"], before["vnets"], "{prog} changed the host");
    }
    // The sweep counts neither as jnet's (web runs: nothing of web's is swept anyway).
    h.ok("jnet-release", &["--stale"]);
    assert_eq!(h.show()["vnets"], before["vnets"]);
    let vif0a = iface(&h.show(), "host", "vif0a");
    assert_eq!(vif0a["addrs"][0]["addr"], "192.0.2.9");
}

/// Issue 20, 6: the step that waits for DAD inside a VNET jail has a deadline that covers
/// the --timeout asked for (plus 5 s to enter and answer), not the 15 s of a few ioctls;
/// without --timeout it keeps the 15 s.
#[test]
fn ip6wait_in_a_jail_has_the_deadline_its_timeout_needs() {
    let h = Host::new("ip6deadline", "igb0");
    h.ok("jnet-sim", &["jail", "create", "www", "--vnet"]);
    h.ok("jnet-sim", &["jail", "trap", "www", "stop"]);
    let err = h.fails("jnet-ip6wait", &["--timeout", "40", "--", "www"], 75);
    assert!(err.contains("did not finish within 45 s"), "{err}");
    let err = h.fails("jnet-ip6wait", &["--", "www"], 75);
    assert!(err.contains("did not finish within 15 s"), "{err}");
}

/// Issue 20, 6: an interface that comes home from a jail under a name jnet gives blocks the
/// jail that name is for; `jnet-release --stale --squatters` moves it aside under a fresh
/// name (through a name that designates it alone), and the jail starts again. A name two
/// interfaces share is reported, not touched.
#[test]
fn squatters_on_jnet_names_are_moved_aside() {
    let h = Host::new("squat", "igb0");
    h.ifc("host", &["epair", "create"]);
    h.ifc("host", &["epair0b", "name", "vif0b"]);
    h.ok("jnet-sim", &["jail", "create", "evil", "--vnet", "--interface", "vif0b"]);
    h.ifc("evil", &["vif0b", "name", "e0a_web"]);
    h.ok("jnet-sim", &["jail", "remove", "evil"]);
    let err = h.fails("jnet-epair", &["-b", "bridge0", "--", "web"], 78);
    assert!(err.contains("e0a_web already exists on the host and is not jnet's"), "{err}");
    h.fails("jnet-release", &["--squatters"], 64);
    let before = h.show();
    assert_eq!(h.ok("jnet-release", &["-n", "--stale", "--squatters"]), "ifconfig e0a_web name squat0\n");
    assert_eq!(h.show()["vnets"], before["vnets"], "a dry run changes nothing");
    assert_eq!(h.ok("jnet-release", &["--stale", "--squatters"]), "e0a_web -> squat0\n");
    let s = h.show();
    assert_eq!(iface(&s, "host", "squat0")["driver"], "epair0");
    h.ok("jnet-epair", &["-b", "bridge0", "--", "web"]);
    // Two interfaces under one jnet name: reported, neither renamed.
    h.ok("jnet-sim", &["jail", "create", "evil2", "--vnet", "--interface", "squat0"]);
    h.ifc("evil2", &["squat0", "name", "e0a_web"]);
    h.ok("jnet-sim", &["jail", "remove", "evil2"]);
    let before = h.show();
    let err = h.fails("jnet-release", &["--stale", "--squatters"], 78);
    assert!(err.contains("e0a_web designates 2 interfaces on the host"), "{err}");
    assert_eq!(h.show()["vnets"], before["vnets"]);
}

/// Issue 20, 5: after a reclaim, nothing that failed the identity check stays on the host,
/// whatever the jail does meanwhile. When the impostor cannot be moved back (twice), the
/// clone the jail made is destroyed rather than left on the host under the NIC's name.
#[test]
fn an_impostor_that_cannot_go_back_does_not_stay_on_the_host() {
    let setup = |tag: &str| {
        let h = Host::new(tag, "igb0,igb2");
        jnet::kernel::System::kld_load(&mut h.kernel(), "if_epair").unwrap();
        h.ok("jnet-nic", &["--iface", "igb2", "--", "db"]);
        h.ok("jnet-sim", &["jail", "create", "db", "--vnet", "--interface", "igb2"]);
        h.ifc("db", &["epair", "create"]);
        h.ifc("db", &["igb2", "name", "x0"]);
        h.ifc("db", &["epair0a", "name", "igb2"]);
        h.ok("jnet-sim", &["jail", "remove", "db", "--linger", "30"]);
        h
    };
    let probe = setup("impostor-probe");
    probe.ok("jnet-sim", &["ops", "--clear"]);
    probe.fails("jnet-release", &["--iface", "igb2", "--", "db"], 78);
    let ops = probe.ok("jnet-sim", &["ops", "--json"]);
    let at = ops
        .lines()
        .position(|l| serde_json::from_str::<Value>(l).unwrap()["op"] == "SIOCSIFVNET")
        .expect("the impostor is moved back");
    let h = setup("impostor");
    h.ok("jnet-sim", &["fail", "--after", &at.to_string(), "--errno", "EINVAL", "--times", "2"]);
    let err = h.fails("jnet-release", &["--iface", "igb2", "--", "db"], 78);
    assert!(err.contains("so it was destroyed (the jail's own epair clone), and igb2 stays in the jail"), "{err}");
    assert_eq!(names(&h.show(), "host"), ["lo0", "igb0"], "nothing of his is on the host");
}

/// Issue 20, 6: a NIC whose name inside the jail is not UTF-8 (the listing shows U+FFFD for
/// its bad bytes) is not asked for under that lossy name: the release says so, and what to
/// do, and changes nothing.
#[test]
fn a_nic_renamed_to_bytes_that_are_not_utf8_is_refused_cleanly() {
    let h = Host::new("utf8", "igb0,igb2");
    h.ok("jnet-nic", &["--iface", "igb2", "--", "dmz"]);
    h.ok("jnet-sim", &["jail", "create", "dmz", "--vnet", "--interface", "igb2"]);
    h.ifc("dmz", &["igb2", "name", "n\u{fffd}0"]);
    let before = h.show();
    let err = h.fails("jnet-release", &["--iface", "igb2", "--", "dmz"], 65);
    assert!(err.contains("a name that is not UTF-8"), "{err}");
    assert_eq!(h.show()["vnets"], before["vnets"]);
}

/// Issue 20, 3: a record whose NIC never left is dropped, not applied. A start that failed
/// after exec.prestart recorded igb2, before jail(8) moved it: the administrator then gives
/// igb2 an address and a description; neither `--stale` nor the stop's `--iface igb2`
/// takes them away (the NIC's epoch, which every vnet move renews, is the one recorded).
/// A NIC that did go and come back is restored as before.
#[test]
fn a_record_whose_nic_never_left_is_dropped() {
    let h = Host::new("neverleft", "igb0,igb2");
    h.ok("jnet-nic", &["--iface", "igb2", "--", "dmz"]);
    let records = jnet::sim::SimFiles::new(&h.path).run_dir().join("nic");
    assert_eq!(std::fs::read_dir(&records).unwrap().count(), 1);
    h.ifc("host", &["igb2", "inet", "192.0.2.7/24"]);
    h.ifc("host", &["igb2", "description", "lan uplink"]);
    let before = h.show();
    h.ok("jnet-release", &["--stale"]);
    assert_eq!(h.show()["vnets"], before["vnets"]);
    assert_eq!(std::fs::read_dir(&records).unwrap().count(), 0, "the record is dropped");
    // Recorded again, still never lent: the stop's own release leaves it too.
    h.ok("jnet-nic", &["--iface", "igb2", "--", "dmz"]);
    h.ok("jnet-release", &["--iface", "igb2", "--", "dmz"]);
    assert_eq!(h.show()["vnets"], before["vnets"]);
    assert_eq!(std::fs::read_dir(&records).unwrap().count(), 0);
    // Lent and back: restored from the record (the jail's address goes, the host's stays).
    h.ok("jnet-nic", &["--iface", "igb2", "--", "dmz"]);
    h.ok("jnet-sim", &["jail", "create", "dmz", "--vnet", "--interface", "igb2"]);
    h.ifc("dmz", &["igb2", "description", "jail side"]);
    h.ok("jnet-sim", &["jail", "remove", "dmz"]);
    h.ok("jnet-release", &["--stale"]);
    let igb2 = iface(&h.show(), "host", "igb2");
    assert_eq!(igb2["description"], "lan uplink", "restored from the record: {igb2}");
}
