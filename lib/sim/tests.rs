//! One test per kernel rule the simulated host enforces (issue: foundation, §4).

use super::host::{Host, IfKind};
use super::*;
use crate::kernel::{iff, in6f, nd6f};
/// A fresh host in its own temporary state file.
fn host(phys: &[&str], dad_ms: u32) -> Sim {
    let dir = ScratchDir::new("simtest");
    let path = dir.path().join("host.json");
    let files = SimFiles::new(&path);
    let phys: Vec<String> = phys.iter().map(|s| s.to_string()).collect();
    files.save(&Host::new("test-uuid".into(), &phys, dad_ms)).unwrap();
    Sim::open(&path).unwrap().in_scratch(dir)
}

fn state(k: &Sim) -> Host {
    k.files().load().unwrap()
}

fn edit(k: &Sim, f: impl FnOnce(&mut Host)) {
    let mut h = state(k);
    f(&mut h);
    k.files().save(&h).unwrap();
}

fn names_in(k: &Sim, vnet: Option<Jid>) -> Vec<String> {
    state(k).ifaces.iter().filter(|i| i.vnet == vnet).map(|i| i.name.clone()).collect()
}

fn jail(k: &Sim, name: &str, vnet: bool) -> Jid {
    let mut h = state(k);
    let jid = h.create_jail(name, vnet).unwrap();
    k.files().save(&h).unwrap();
    jid
}

fn loaded(phys: &[&str]) -> Sim {
    let mut k = host(phys, 1000);
    k.kld_load("if_epair").unwrap();
    k.kld_load("if_bridge").unwrap();
    k
}

#[test]
fn cloner_needs_its_module_and_kldload_rules() {
    let mut k = host(&[], 1000);
    assert_eq!(k.if_create("epair"), Err(Errno::EINVAL), "no if_epair yet");
    assert_eq!(k.kld_load("if_nonesuch"), Err(Errno::ENOENT));
    k.kld_load("if_epair").unwrap();
    k.kld_load("if_epair").unwrap(); // already loaded is fine
    assert_eq!(k.if_create("epair").unwrap(), "epair0a");
    assert_eq!(k.if_create("nonesuch"), Err(Errno::EINVAL));
    let jid = jail(&k, "www", true);
    let r = k.in_jail(jid, |k| Ok(k.kld_load("if_bridge"))).unwrap();
    assert_eq!(r, Err(Errno::EPERM), "no kldload inside a jail");
}

#[test]
fn epair_units_and_names() {
    let mut k = loaded(&[]);
    assert_eq!(k.if_create("epair").unwrap(), "epair0a");
    assert_eq!(k.if_create("epair").unwrap(), "epair1a");
    assert_eq!(names_in(&k, None), ["lo0", "epair0a", "epair0b", "epair1a", "epair1b"]);
    // A renamed pair still holds its unit.
    k.if_rename("epair0a", "e0a_www").unwrap();
    k.if_rename("epair0b", "e0b_www").unwrap();
    assert_eq!(k.if_create("epair").unwrap(), "epair2a");
    // Destroying frees the unit for reuse, lowest first.
    k.if_destroy("e0a_www").unwrap();
    assert_eq!(k.if_create("epair").unwrap(), "epair0a");
    // A specific unit that is in use, or whose end names are taken, is EEXIST.
    assert_eq!(k.if_create("epair1"), Err(Errno::EEXIST));
    k.if_rename("epair2b", "epair3b").unwrap();
    assert_eq!(k.if_create("epair3"), Err(Errno::EEXIST));
    assert_eq!(k.if_create("epair"), Err(Errno::EEXIST), "next unit 3 has a taken end name");
    assert_eq!(k.if_create("epair01"), Err(Errno::EINVAL), "leading zero");
    assert_eq!(k.if_create("epair0a"), Err(Errno::EINVAL), "epair takes no suffix");
    // Both ends: group epair, 02:..:0a / 0b MACs, down.
    let h = state(&k);
    let a = h.find(None, "epair0a").unwrap();
    let b = h.find(None, "epair0b").unwrap();
    assert_eq!(a.groups, ["all", "epair"]);
    assert_eq!(a.mac.unwrap().0[5], 0x0a);
    assert_eq!(b.mac.unwrap().0[5], 0x0b);
    assert_eq!(a.flags & iff::UP, 0);
    assert_eq!(a.nd6.flags & nd6f::IFDISABLED, nd6f::IFDISABLED);
}

#[test]
fn bridge_cloner_and_specific_units() {
    let mut k = loaded(&["igb0"]);
    assert_eq!(k.if_create("bridge").unwrap(), "bridge0");
    assert_eq!(k.if_create("bridge7").unwrap(), "bridge7");
    assert_eq!(k.if_create("bridge7"), Err(Errno::EEXIST));
    assert_eq!(k.if_create("bridge").unwrap(), "bridge1");
    k.if_rename("bridge1", "bridge2x").unwrap();
    // "bridge2" plain name free, unit 2 free: fine.
    assert_eq!(k.if_create("bridge").unwrap(), "bridge2");
    assert_eq!(k.if_destroy("igb0"), Err(Errno::EINVAL), "not a cloned interface");
    assert_eq!(k.if_destroy("lo0"), Err(Errno::EINVAL));
    assert_eq!(k.if_destroy("nonesuch"), Err(Errno::ENXIO));
}

#[test]
fn rename_rules() {
    let mut k = loaded(&["igb0"]);
    k.if_create("epair").unwrap();
    assert_eq!(k.if_rename("epair0a", "igb0"), Err(Errno::EEXIST));
    assert_eq!(k.if_rename("epair0a", "abcdefghijklmnop"), Err(Errno::ENAMETOOLONG));
    assert_eq!(k.if_rename("epair0a", ""), Err(Errno::EINVAL));
    assert_eq!(k.if_rename("nonesuch", "x"), Err(Errno::ENXIO));
    k.if_rename("epair0a", "epair0a").unwrap();
    k.if_rename("epair0a", "abcdefghijklmno").unwrap();
    assert!(state(&k).find(None, "abcdefghijklmno").is_some());
}

#[test]
fn descriptions_and_groups() {
    let mut k = loaded(&[]);
    k.if_create("epair").unwrap();
    assert_eq!(k.if_description("epair0a"), Ok(None), "ENOMSG means none");
    k.if_set_description("epair0a", Some("jnet:www:epair0a")).unwrap();
    assert_eq!(k.if_description("epair0a").unwrap().as_deref(), Some("jnet:www:epair0a"));
    assert_eq!(k.if_set_description("epair0a", Some(&"x".repeat(1024))), Err(Errno::ENAMETOOLONG));
    k.if_set_description("epair0a", None).unwrap();
    assert_eq!(k.if_description("epair0a"), Ok(None));
    assert_eq!(k.if_add_group("epair0a", "jnet0"), Err(Errno::EINVAL), "ends in a digit");
    k.if_add_group("epair0a", "jnet").unwrap();
    assert_eq!(k.if_add_group("epair0a", "jnet"), Err(Errno::EEXIST));
    assert_eq!(k.if_groups("epair0a").unwrap(), ["all", "epair", "jnet"]);
    assert_eq!(k.if_del_group("epair0a", "other"), Err(Errno::ENOENT));
    k.if_del_group("epair0a", "jnet").unwrap();
    assert_eq!(k.if_groups("epair0a").unwrap(), ["all", "epair"]);
}

#[test]
fn destroying_either_end_destroys_both_from_any_vnet() {
    let mut k = loaded(&[]);
    let jid = jail(&k, "www", true);
    k.if_create("epair").unwrap();
    k.if_create("epair").unwrap();
    k.if_move_to_jail("epair0b", jid).unwrap();
    k.if_move_to_jail("epair1b", jid).unwrap();
    k.if_destroy("epair0a").unwrap();
    assert_eq!(names_in(&k, Some(jid)), ["lo0", "epair1b"]);
    k.in_jail(jid, |k| k.if_destroy("epair1b").map_err(|e| Error::kernel("destroy", e))).unwrap();
    assert_eq!(names_in(&k, Some(jid)), ["lo0"]);
    assert_eq!(names_in(&k, None), ["lo0"]);
}

#[test]
fn bridge_member_rules() {
    let mut k = loaded(&["igb0"]);
    k.if_create("bridge").unwrap();
    k.if_create("bridge").unwrap();
    k.if_create("epair").unwrap();
    assert_eq!(k.bridge_add("bridge0", "nonesuch"), Err(Errno::ENOENT));
    assert_eq!(k.bridge_add("bridge0", "lo0"), Err(Errno::EINVAL), "not Ethernet");
    assert_eq!(k.bridge_add("bridge0", "bridge1"), Err(Errno::EINVAL), "a bridge in a bridge");
    assert_eq!(k.bridge_add("epair0b", "igb0"), Err(Errno::EINVAL), "not a bridge");
    assert_eq!(k.bridge_add("nonesuch", "igb0"), Err(Errno::ENXIO));
    k.if_set_mtu("epair0a", 9000).unwrap();
    k.bridge_add("bridge0", "igb0").unwrap();
    k.bridge_add("bridge0", "epair0a").unwrap();
    assert_eq!(k.bridge_add("bridge0", "igb0"), Err(Errno::EEXIST));
    assert_eq!(k.bridge_add("bridge1", "igb0"), Err(Errno::EBUSY), "member of another bridge");
    // Newest first, as BRDGGIFS walks sc_iflist (found by the F-Stack differential test).
    assert_eq!(k.bridge_members("bridge0").unwrap(), ["epair0a", "igb0"]);
    let h = state(&k);
    assert_eq!(h.find(None, "epair0a").unwrap().mtu, 1500, "forced to the bridge MTU");
    assert_ne!(h.find(None, "igb0").unwrap().flags & iff::PROMISC, 0);
    assert_eq!(k.if_set_mtu("epair0a", 1400), Err(Errno::EOPNOTSUPP), "members' MTU is the bridge's");
    assert_eq!(k.bridge_del("bridge0", "epair0b"), Err(Errno::ENOENT));
    k.bridge_del("bridge0", "igb0").unwrap();
    assert_eq!(k.bridge_members("bridge0").unwrap(), ["epair0a"]);
    // Destroying a member takes it out of the bridge.
    k.if_destroy("epair0b").unwrap();
    assert!(k.bridge_members("bridge0").unwrap().is_empty());
}

#[test]
fn vnet_move_errors_and_what_it_resets() {
    let mut k = loaded(&["igb0"]);
    let www = jail(&k, "www", true);
    let shared = jail(&k, "ipjail", false);
    k.if_create("bridge").unwrap();
    k.if_create("epair").unwrap();
    k.if_set_description("epair0b", Some("jnet:www:epair0b")).unwrap();
    k.if_add_group("epair0b", "jnet").unwrap();
    k.if_set_flags("epair0b", iff::UP).unwrap();
    k.if_add_addr("epair0b", "192.0.2.5/24".parse().unwrap(), 0).unwrap();
    k.if_add_addr("epair0b", "2001:db8::5/64".parse().unwrap(), 0).unwrap();
    k.if_set_mac("epair0b", "02:00:00:00:00:42".parse().unwrap()).unwrap();
    k.bridge_add("bridge0", "epair0b").unwrap();
    assert_eq!(k.if_move_to_jail("epair0b", 99), Err(Errno::ENXIO), "no such jail");
    assert_eq!(k.if_move_to_jail("nonesuch", www), Err(Errno::ENXIO));
    assert_eq!(k.if_move_to_jail("epair0b", shared), Err(Errno::EEXIST), "same vnet");
    assert_eq!(k.if_move_to_jail("epair0b", www).unwrap(), "epair0b");
    let h = state(&k);
    let b = h.find(Some(www), "epair0b").unwrap();
    assert_eq!(b.groups, ["all", "epair"], "groups but all and the cloner's dropped");
    assert_eq!(b.flags & iff::UP, 0);
    assert!(b.addrs.is_empty());
    assert_eq!(b.nd6.flags & nd6f::IFDISABLED, nd6f::IFDISABLED, "ND6 state back to defaults");
    assert_eq!(b.descr.as_deref(), Some("jnet:www:epair0b"), "description kept");
    assert_eq!(b.mac.unwrap().to_string(), "02:00:00:00:00:42", "MAC kept");
    assert!(k.bridge_members("bridge0").unwrap().is_empty(), "left the bridge");
    // A name clash in the target is EEXIST.
    k.if_create("epair").unwrap();
    k.if_rename("epair1a", "epair0b").unwrap();
    assert_eq!(k.if_move_to_jail("epair0b", www), Err(Errno::EEXIST));
    // A bridge moved away loses its members.
    k.bridge_add("bridge0", "igb0").unwrap();
    k.if_move_to_jail("bridge0", www).unwrap();
    assert!(k.in_jail(www, |k| Ok(k.bridge_members("bridge0"))).unwrap().unwrap().is_empty());
    assert_eq!(state(&k).find(None, "igb0").unwrap().flags & iff::PROMISC, 0);
}

#[test]
fn reclaim_from_alive_and_lingering_jails() {
    let mut k = loaded(&["igb2"]);
    let www = jail(&k, "www", true);
    k.if_set_description("igb2", Some("uplink")).unwrap();
    k.if_move_to_jail("igb2", www).unwrap();
    assert_eq!(k.if_reclaim("nonesuch", www), Err(Errno::ENXIO));
    assert_eq!(k.if_reclaim("igb2", 99), Err(Errno::ENXIO));
    k.in_jail(www, |k| k.if_rename("igb2", "net0").map_err(|e| Error::kernel("rename", e))).unwrap();
    assert_eq!(k.if_reclaim("net0", www).unwrap(), "net0");
    assert_eq!(state(&k).find(None, "net0").unwrap().descr.as_deref(), Some("uplink"));
    k.if_rename("net0", "igb2").unwrap();

    // Removed with a 60 s linger: the jail is dying and still holds the NIC...
    k.if_move_to_jail("igb2", www).unwrap();
    let mut h = state(&k);
    h.remove_jail(www, 60_000, false, now_ms()).unwrap();
    k.files().save(&h).unwrap();
    assert_eq!(names_in(&k, None), ["lo0"]);
    assert!(k.jail(&JailRef::Name("www".into())).unwrap().unwrap().dying);
    // ...no one can attach to it...
    assert_eq!(k.in_jail(www, |_| Ok(())).unwrap_err().errno, Some(Errno::EINVAL));
    // ...but SIOCSIFRVNET brings the NIC back at once.
    k.if_reclaim("igb2", www).unwrap();
    assert_eq!(names_in(&k, None), ["lo0", "igb2"]);
    // SIOCSIFRVNET does not check the name on the host (if_vmove_reclaim): two x0 there.
    let db = jail(&k, "db", true);
    k.if_create("epair").unwrap();
    k.if_rename("epair0b", "x0").unwrap();
    k.if_move_to_jail("x0", db).unwrap();
    k.if_rename("epair0a", "x0").unwrap();
    assert_eq!(k.if_reclaim("x0", db).unwrap(), "x0");
    assert_eq!(names_in(&k, None), ["lo0", "igb2", "x0", "x0"]);
}

#[test]
fn dying_vnet_returns_interfaces_after_linger() {
    let mut k = loaded(&["igb2"]);
    let www = jail(&k, "www", true);
    k.if_move_to_jail("igb2", www).unwrap();
    k.if_create("epair").unwrap();
    k.if_move_to_jail("epair0b", www).unwrap();
    // An epair created inside the jail dies with its vnet, both ends.
    // Units are per vnet, but the unit's end names must be free: the moved-in epair0b
    // blocks unit 0 inside the jail (EEXIST) until it is renamed.
    let create_inside = |k: &mut Sim| k.in_jail(www, |k| Ok(k.if_create("epair"))).unwrap();
    assert_eq!(create_inside(&mut k), Err(Errno::EEXIST));
    k.in_jail(www, |k| k.if_rename("epair0b", "vnet0").map_err(|e| Error::kernel("rename", e))).unwrap();
    assert_eq!(create_inside(&mut k).as_deref(), Ok("epair0a"));
    k.in_jail(www, |k| k.if_move_to_jail("epair0a", 1).map_err(|e| Error::kernel("x", e))).unwrap_err();
    let mut h = state(&k);
    h.remove_jail(www, 300, false, now_ms()).unwrap();
    k.files().save(&h).unwrap();
    assert_eq!(names_in(&k, None), ["lo0", "epair0a"]);
    std::thread::sleep(std::time::Duration::from_millis(350));
    // Any operation settles time: the vnet is gone, the NIC and epair end are home (under
    // the name they had inside), the pair born inside is gone.
    let list: Vec<String> = k.if_list().unwrap().into_iter().map(|i| i.name).collect();
    assert_eq!(list, ["lo0", "epair0a", "igb2", "vnet0"]);
    assert!(k.jail(&JailRef::Jid(www)).unwrap().is_none());
    assert!(state(&k).units.keys().all(|u| !u.starts_with(&format!("{www}/"))));
}

#[test]
fn dad_timing_down_disabled_and_duplicates() {
    let mut k = host(&["igb0"], 100);
    let a: Ipv6Addr = "2001:db8::5".parse().unwrap();
    k.if_add_addr("igb0", Cidr { addr: IpAddr::V6(a), prefixlen: 64 }, 0).unwrap();
    assert_eq!(k.if_addr6_flags("igb0", a).unwrap(), in6f::TENTATIVE);
    std::thread::sleep(std::time::Duration::from_millis(120));
    assert_eq!(k.if_addr6_flags("igb0", a).unwrap(), 0, "DAD done after dad_count x retrans");
    assert_eq!(k.if_addr6_flags("igb0", "2001:db8::9".parse().unwrap()), Err(Errno::EADDRNOTAVAIL));

    // Down: stays tentative however long; going up starts DAD.
    k.if_set_flags("igb0", 0).unwrap();
    let b: Ipv6Addr = "2001:db8::6".parse().unwrap();
    k.if_add_addr("igb0", Cidr { addr: IpAddr::V6(b), prefixlen: 64 }, 0).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(120));
    assert_eq!(k.if_addr6_flags("igb0", b).unwrap(), in6f::TENTATIVE);
    k.if_set_flags("igb0", iff::UP).unwrap();
    assert_eq!(k.if_addr6_flags("igb0", b).unwrap(), in6f::TENTATIVE);
    std::thread::sleep(std::time::Duration::from_millis(120));
    assert_eq!(k.if_addr6_flags("igb0", b).unwrap(), 0);

    // Another host holds the address: DUPLICATED.
    let c: Ipv6Addr = "2001:db8::7".parse().unwrap();
    edit(&k, |h| {
        h.dups.insert(c);
    });
    k.if_add_addr("igb0", Cidr { addr: IpAddr::V6(c), prefixlen: 64 }, 0).unwrap();
    assert_eq!(k.if_addr6_flags("igb0", c).unwrap(), in6f::DUPLICATED);

    // The per-address NODAD flag is kept and ignored (nd6_dad_start never reads it: FreeBSD
    // 13.0 through F-Stack); dad_count 0 means no DAD at all.
    let d: Ipv6Addr = "2001:db8::8".parse().unwrap();
    k.if_add_addr("igb0", Cidr { addr: IpAddr::V6(d), prefixlen: 64 }, in6f::NODAD).unwrap();
    assert_eq!(k.if_addr6_flags("igb0", d).unwrap(), in6f::NODAD | in6f::TENTATIVE);
    std::thread::sleep(std::time::Duration::from_millis(120));
    assert_eq!(k.if_addr6_flags("igb0", d).unwrap(), in6f::NODAD);
    edit(&k, |h| {
        h.sysctls.insert("net.inet6.ip6.dad_count".into(), 0);
    });
    let e: Ipv6Addr = "2001:db8::a".parse().unwrap();
    k.if_add_addr("igb0", Cidr { addr: IpAddr::V6(e), prefixlen: 64 }, 0).unwrap();
    assert_eq!(k.if_addr6_flags("igb0", e).unwrap(), 0);
}

/// A neighbour on the link holding the address (link.rs): through an epair into a jail,
/// through an if_bridge and an epair, never through a down end; two tentative holders both
/// lose it.
#[test]
fn dad_finds_a_neighbour_on_the_link() {
    let mut k = loaded(&[]);
    let enable = |k: &mut Sim, ifname: &str| {
        k.if_set_flags(ifname, iff::UP).unwrap();
        let nd = k.if_nd6(ifname).unwrap().flags & !nd6f::IFDISABLED;
        k.if_set_nd6_flags(ifname, nd).unwrap();
    };
    let add = |k: &mut Sim, ifname: &str, a: &str| k.if_add_addr(ifname, format!("{a}/64").parse().unwrap(), 0);
    let flags = |k: &mut Sim, ifname: &str, a: &str| k.if_addr6_flags(ifname, a.parse().unwrap()).unwrap();
    k.if_create("epair").unwrap();
    k.if_create("bridge").unwrap();
    k.bridge_add("bridge0", "epair0a").unwrap();
    k.if_set_flags("bridge0", iff::UP).unwrap();
    enable(&mut k, "epair0a");
    let jid = jail(&k, "nbr", true);
    k.if_move_to_jail("epair0b", jid).unwrap();
    k.in_jail(jid, |y| {
        enable(y, "epair0b");
        Ok(())
    })
    .unwrap();
    let h = state(&k);
    assert_eq!(h.links().same_link(h.find(None, "bridge0").unwrap().index).len(), 2);
    // Held in the jail, settled: the bridge's probe crosses the bridge and the epair.
    k.in_jail(jid, |y| Ok(add(y, "epair0b", "2001:db8::1"))).unwrap().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(k.in_jail(jid, |y| Ok(flags(y, "epair0b", "2001:db8::1"))).unwrap(), 0);
    enable(&mut k, "bridge0");
    add(&mut k, "bridge0", "2001:db8::1").unwrap();
    assert_eq!(flags(&mut k, "bridge0", "2001:db8::1"), in6f::DUPLICATED);
    assert_eq!(k.in_jail(jid, |y| Ok(flags(y, "epair0b", "2001:db8::1"))).unwrap(), 0, "the holder keeps it");
    // Both tentative: each sees the other's probe.
    add(&mut k, "epair0a", "2001:db8::2").unwrap();
    k.in_jail(jid, |y| Ok(add(y, "epair0b", "2001:db8::2"))).unwrap().unwrap();
    assert_eq!(flags(&mut k, "epair0a", "2001:db8::2"), in6f::DUPLICATED);
    assert_eq!(k.in_jail(jid, |y| Ok(flags(y, "epair0b", "2001:db8::2"))).unwrap(), in6f::DUPLICATED);
    // A down end passes nothing: the address settles.
    k.in_jail(jid, |y| Ok(y.if_set_flags("epair0b", 0))).unwrap().unwrap();
    k.in_jail(jid, |y| Ok(add(y, "epair0b", "2001:db8::3"))).unwrap().unwrap();
    add(&mut k, "bridge0", "2001:db8::3").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(flags(&mut k, "bridge0", "2001:db8::3"), 0);
}

#[test]
fn ifdisabled_holds_dad_and_first_address_clears_it() {
    let mut k = loaded(&[]);
    k.if_create("epair").unwrap();
    k.if_set_flags("epair0a", iff::UP).unwrap();
    // IFDISABLED by default: no link-local appears when it goes up.
    assert!(state(&k).find(None, "epair0a").unwrap().addrs.is_empty());
    let nd6 = k.if_nd6("epair0a").unwrap();
    assert_eq!(nd6.flags & nd6f::IFDISABLED, nd6f::IFDISABLED);
    assert_eq!(nd6.retrans_ms, 1000);
    k.if_set_nd6_flags("epair0a", nd6.flags & !nd6f::IFDISABLED).unwrap();
    let h = state(&k);
    let ifp = h.find(None, "epair0a").unwrap();
    assert_eq!(ifp.addrs.len(), 1, "auto link-local once enabled and up");
    assert_eq!(ifp.addrs[0].cidr.addr, IpAddr::V6(host::link_local(ifp.mac.unwrap())));
    assert_eq!(ifp.addrs[0].flags6, in6f::TENTATIVE);
    // The first IPv6 address on a disabled interface clears IFDISABLED, but was added while
    // it was set: it is never checked for duplicates (in6.c, as F-Stack's run shows).
    k.if_add_addr("epair0b", "2001:db8::1/64".parse().unwrap(), 0).unwrap();
    assert_eq!(k.if_nd6("epair0b").unwrap().flags & nd6f::IFDISABLED, 0);
    assert_eq!(k.if_addr6_flags("epair0b", "2001:db8::1".parse().unwrap()).unwrap(), 0, "no DAD for it");
    // A second one, added with IFDISABLED clear, is tentative, and waits while down.
    k.if_add_addr("epair0b", "2001:db8::2/64".parse().unwrap(), 0).unwrap();
    assert_eq!(k.if_addr6_flags("epair0b", "2001:db8::2".parse().unwrap()).unwrap(), in6f::TENTATIVE, "down: waits");
}

#[test]
fn setting_ifdisabled_makes_addresses_tentative_until_cleared() {
    let mut k = host(&["igb0"], 50);
    let a: Ipv6Addr = "2001:db8::5".parse().unwrap();
    k.if_add_addr("igb0", Cidr { addr: IpAddr::V6(a), prefixlen: 64 }, 0).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(60));
    assert_eq!(k.if_addr6_flags("igb0", a).unwrap(), 0);
    let flags = k.if_nd6("igb0").unwrap().flags;
    k.if_set_nd6_flags("igb0", flags | nd6f::IFDISABLED).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(60));
    assert_eq!(k.if_addr6_flags("igb0", a).unwrap(), in6f::TENTATIVE, "held while disabled");
    k.if_set_nd6_flags("igb0", flags).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(60));
    assert_eq!(k.if_addr6_flags("igb0", a).unwrap(), 0);
}

#[test]
fn addresses_v4_replace_and_delete() {
    let mut k = host(&["igb0"], 1000);
    k.if_add_addr("igb0", "192.0.2.5/24".parse().unwrap(), 0).unwrap();
    k.if_add_addr("igb0", "192.0.2.5/25".parse().unwrap(), 0).unwrap();
    let l = k.if_list().unwrap();
    let igb0 = l.iter().find(|i| i.name == "igb0").unwrap();
    assert_eq!(
        igb0.addrs.iter().filter(|a| a.addr.is_ipv4()).map(|a| a.to_string()).collect::<Vec<_>>(),
        ["192.0.2.5/25"]
    );
    k.if_del_addr("igb0", "192.0.2.5".parse().unwrap()).unwrap();
    assert_eq!(k.if_del_addr("igb0", "192.0.2.5".parse().unwrap()), Err(Errno::EADDRNOTAVAIL));
}

#[test]
fn mac_mtu_and_flags() {
    let mut k = loaded(&[]);
    k.if_create("epair").unwrap();
    assert_eq!(k.if_set_mac("lo0", "02:00:00:00:00:01".parse().unwrap()), Err(Errno::ENODEV));
    assert_eq!(k.if_set_mtu("epair0a", 10), Err(Errno::EINVAL));
    k.if_set_mtu("epair0a", 9000).unwrap();
    assert_eq!(k.if_mtu("epair0a").unwrap(), 9000);
    // Only UP is ours to change; LOOPBACK etc. are kept by the kernel.
    k.if_set_flags("lo0", 0).unwrap();
    assert_eq!(k.if_flags("lo0").unwrap(), iff::LOOPBACK | iff::MULTICAST);
    k.if_set_flags("epair0a", iff::UP | iff::LOOPBACK).unwrap();
    assert_eq!(k.if_flags("epair0a").unwrap(), iff::UP | iff::BROADCAST | iff::RUNNING | iff::SIMPLEX | iff::MULTICAST);
}

#[test]
fn jails_lookup_and_attach() {
    let mut k = host(&[], 1000);
    let a = jail(&k, "www", true);
    let b = jail(&k, "ipjail", false);
    assert_eq!(
        k.jail(&JailRef::Name("www".into())).unwrap().unwrap(),
        JailInfo { jid: a, name: "www".into(), vnet: true, dying: false }
    );
    assert!(!k.jail(&JailRef::Jid(b)).unwrap().unwrap().vnet);
    assert_eq!(k.jail(&JailRef::Name("nope".into())).unwrap(), None);
    assert_eq!(k.jails().unwrap().len(), 2);
    // Inside a VNET jail only its own interfaces are visible; an IP-sharing jail sees the host's.
    let inside = k.in_jail(a, |k| k.if_list().map_err(|e| Error::kernel("list", e))).unwrap();
    assert_eq!(inside.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["lo0"]);
    assert_eq!(k.in_jail(99, |_| Ok(())).unwrap_err().errno, Some(Errno::EINVAL));
    // A replaced jail: the alive one wins over the dying one.
    let mut h = state(&k);
    h.remove_jail(a, 60_000, false, now_ms()).unwrap();
    let a2 = h.create_jail("www", true).unwrap();
    k.files().save(&h).unwrap();
    assert_eq!(k.jail(&JailRef::Name("www".into())).unwrap().unwrap().jid, a2);
    assert!(k.jail(&JailRef::Jid(a)).unwrap().unwrap().dying);
}

#[test]
fn injected_failure_hits_the_right_operation_and_changes_nothing() {
    let mut k = loaded(&[]);
    edit(&k, |h| h.fail = Some(host::FailSpec { after: 2, errno: Errno::ENOSPC, kill: false, times: 1 }));
    k.if_create("epair").unwrap();
    k.if_rename("epair0a", "e0a_www").unwrap();
    let before = state(&k);
    assert_eq!(k.if_rename("epair0b", "e0b_www"), Err(Errno::ENOSPC));
    let mut after = state(&k);
    after.fail = before.fail.clone();
    after.clock_ms = before.clock_ms;
    assert_eq!(after, before, "the failed operation changed nothing");
    assert_eq!(state(&k).fail, None, "the failure is used up");
    k.if_rename("epair0b", "e0b_www").unwrap();
    let ops = k.files().ops().unwrap();
    let tail: Vec<(String, String)> =
        ops.iter().rev().take(4).rev().map(|o| (o.op.clone(), o.result.clone())).collect();
    assert_eq!(
        tail,
        [("SIOCIFCREATE2", "ok"), ("SIOCSIFNAME", "ok"), ("SIOCSIFNAME", "ENOSPC"), ("SIOCSIFNAME", "ok")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
}

#[test]
fn concurrent_creators_get_distinct_units() {
    let k = loaded(&[]);
    let path = k.files().state.clone();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let p = path.clone();
            std::thread::spawn(move || {
                let mut k = Sim::open(&p).unwrap();
                (0..5).map(|_| k.if_create("epair").unwrap()).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<String> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 40);
    assert_eq!(state(&k).ifaces.iter().filter(|i| matches!(i.kind, IfKind::Epair { .. })).count(), 80);
}

fn ng_host(phys: &[&str]) -> Sim {
    let mut k = host(phys, 1000);
    for m in ["ng_socket", "ng_ether"] {
        k.kld_load(m).unwrap();
    }
    k
}

#[test]
fn netgraph_addressing_names_and_hook_rules() {
    use crate::kernel::Netgraph;
    let mut k = ng_host(&["igb0"]);
    // ng_ether attached a node to the NIC, named after it.
    let n = k.ng_node("igb0:").unwrap();
    assert_eq!((n.node_type.as_str(), n.hooks), ("ether", 0));
    assert_eq!(k.ng_node("nonesuch:"), Err(Errno::ENOENT));
    assert_eq!(
        k.ng_mkpeer("igb0:", "bridge", "nonesuch", "link0"),
        Err(Errno::EINVAL),
        "ng_ether hooks are lower/upper/..."
    );
    for bad in ["link", "link01", "uplink0", "linkx", "foo"] {
        assert_eq!(k.ng_mkpeer("igb0:", "bridge", "lower", bad), Err(Errno::EINVAL), "{bad}");
    }
    k.ng_mkpeer("igb0:", "bridge", "lower", "link0").unwrap();
    assert_eq!(k.ng_mkpeer("igb0:", "bridge", "lower", "link0"), Err(Errno::EEXIST), "hook taken");
    k.ng_name("igb0:lower", "igb0bridge").unwrap();
    k.ng_connect("igb0:", "lower", "upper", "link1").unwrap();
    let (b, hooks) = k.ng_hooks("igb0bridge:").unwrap();
    assert_eq!(b.node_type, "bridge");
    assert_eq!(
        hooks.iter().map(|h| (h.ourhook.as_str(), h.peerhook.as_str())).collect::<Vec<_>>(),
        [("link0", "lower"), ("link1", "upper")]
    );
    assert_eq!(k.ng_node(&format!("[{:x}]:", b.id)).unwrap().name, "igb0bridge");
    assert_eq!(k.ng_node("[0]:"), Err(Errno::EINVAL));
    assert_eq!(k.ng_name("igb0:", "igb0bridge"), Err(Errno::EADDRINUSE));
    assert_eq!(k.ng_name("igb0bridge:", "a.b"), Err(Errno::EINVAL));
    // struct ngm_name holds 32 bytes with the NUL: the FreeBSD backend refuses more.
    assert_eq!(k.ng_name("igb0bridge:", &"n".repeat(32)), Err(Errno::ENAMETOOLONG));
    assert_eq!(k.ng_connect("igb0bridge:", "igb0bridge:", "link5", "link6"), Err(Errno::EINVAL), "a node to itself");
    // NICs renamed: the ether node follows; the bridge dies with its last hook.
    k.if_rename("igb0", "wan0").unwrap();
    assert_eq!(k.ng_ether_ifname("wan0:").unwrap(), "wan0");
    k.ng_rmhook("igb0bridge:", "link0").unwrap();
    assert!(k.ng_node("igb0bridge:").is_ok());
    k.ng_rmhook("igb0bridge:", "link1").unwrap();
    assert_eq!(k.ng_node("igb0bridge:"), Err(Errno::ENOENT), "not persistent: gone with its last hook");
    // Shutting down ng_ether only resets it.
    k.ng_ether_set_promisc("wan0:", true).unwrap();
    k.ng_shutdown("wan0:").unwrap();
    assert!(k.ng_node("wan0:").is_ok());
    assert_eq!(k.ng_eiface_ifname("wan0:"), Err(Errno::EINVAL), "wrong cookie for the type");
}

#[test]
fn netgraph_lifetimes_eiface_and_persistent_bridge() {
    use crate::kernel::Netgraph;
    let (path, _dir) = {
        let mut k = ng_host(&[]);
        let dir = k.scratch.take();
        let jid = jail(&k, "www", true);
        k.ng_mkpeer(".", "bridge", "b", "link0").unwrap();
        k.ng_name(".:b", "vbr").unwrap();
        k.ng_bridge_set_persistent("vbr:").unwrap();
        k.ng_rmhook(".", "b").unwrap();
        assert!(k.ng_node("vbr:").is_ok(), "persistent: survives its last hook");
        k.ng_mkpeer(".", "eiface", "e", "ether").unwrap();
        assert_eq!(k.ng_eiface_ifname(".:e").unwrap(), "ngeth0");
        k.ng_mkpeer(".", "eiface", "e2", "ether").unwrap();
        assert_eq!(k.ng_eiface_ifname(".:e2").unwrap(), "ngeth1");
        assert_eq!(k.ng_node(".:e2").unwrap().name, "ngeth1", "named after its interface");
        k.ng_name(".:e", "jnet-ng0_www").unwrap();
        k.ng_rmhook(".", "e").unwrap();
        k.ng_connect("jnet-ng0_www:", "vbr:", "ether", "link2").unwrap();
        assert_eq!(k.ng_connect("ngeth1:", "vbr:", "ether", "link2"), Err(Errno::EEXIST), "link taken");
        assert_eq!(k.if_destroy("ngeth0"), Err(Errno::EINVAL), "not a cloned interface");
        k.if_rename("ngeth0", "ng0_www").unwrap();
        k.if_move_to_jail("ng0_www", jid).unwrap();
        assert_eq!(k.ng_bridge_link_stats("vbr:", 2).unwrap(), [0; 14]);
        assert_eq!(k.ng_bridge_link_stats("vbr:", 9), Err(Errno::ENOTCONN));
        // Shutdown from the host destroys the interface inside the jail.
        k.ng_shutdown("jnet-ng0_www:").unwrap();
        assert_eq!(names_in(&k, Some(jid)), ["lo0"]);
        assert_eq!(k.ng_hooks("vbr:").unwrap().1.len(), 0);
        (k.files().state.clone(), dir)
    };
    // The Sim is dropped: our socket closed; ngeth1 (hooked to it) stays, as eifaces do.
    let h = SimFiles::new(&path).load().unwrap();
    assert!(h.netgraph.iter().all(|n| !matches!(n.kind, super::netgraph::NgKind::Socket { .. })));
    assert!(h.find(None, "ngeth1").is_some());
    assert!(h.netgraph.iter().any(|n| n.name.as_deref() == Some("vbr")));
}

#[test]
fn netgraph_destinations_longer_than_31_characters_are_refused() {
    use crate::kernel::{Netgraph, System};
    let mut k = loaded(&[]);
    for m in ["ng_socket", "ng_bridge"] {
        k.kld_load(m).unwrap();
    }
    k.ng_mkpeer(".", "bridge", "jnet", "link0").unwrap();
    k.ng_name(".:jnet", &"b".repeat(30)).unwrap();
    assert!(k.ng_node(&format!("{}:", "b".repeat(30))).is_ok(), "31 characters are fine");
    // ng_socket.c: sg_len > NG_NODESIZ + 2 is EINVAL, whatever the path names.
    assert_eq!(k.ng_node(&format!("{}:x", "b".repeat(30))), Err(Errno::EINVAL));
}

#[test]
fn a_global_ipv6_address_lives_once_in_a_vnet() {
    let mut k = loaded(&["igb0"]);
    k.if_create("epair").unwrap();
    let a: Ipv6Addr = "2001:db8::7".parse().unwrap();
    let ll: Ipv6Addr = "fe80::1".parse().unwrap();
    k.if_add_addr("igb0", Cidr { addr: IpAddr::V6(a), prefixlen: 64 }, 0).unwrap();
    assert_eq!(k.if_add_addr("epair0a", Cidr { addr: IpAddr::V6(a), prefixlen: 64 }, 0), Err(Errno::EEXIST));
    assert_eq!(k.if_addr6_flags("epair0a", a), Err(Errno::EADDRNOTAVAIL), "nothing half-added");
    // Again on its own interface is an update; link-local addresses are per interface.
    k.if_add_addr("igb0", Cidr { addr: IpAddr::V6(a), prefixlen: 64 }, 0).unwrap();
    k.if_add_addr("igb0", Cidr { addr: IpAddr::V6(ll), prefixlen: 64 }, 0).unwrap();
    k.if_add_addr("epair0a", Cidr { addr: IpAddr::V6(ll), prefixlen: 64 }, 0).unwrap();
    // Another vnet is another stack.
    let j = jail(&k, "www", true);
    k.if_move_to_jail("epair0b", j).unwrap();
    let r = k.in_jail(j, |k| Ok(k.if_add_addr("epair0b", Cidr { addr: IpAddr::V6(a), prefixlen: 64 }, 0))).unwrap();
    assert_eq!(r, Ok(()));
}

#[test]
fn an_epair_runs_from_birth_a_bridge_while_up() {
    let mut k = loaded(&[]);
    k.if_create("epair").unwrap();
    k.if_create("bridge").unwrap();
    let ether = iff::BROADCAST | iff::SIMPLEX | iff::MULTICAST;
    assert_eq!(k.if_flags("epair0b").unwrap(), ether | iff::RUNNING);
    assert_eq!(k.if_flags("bridge0").unwrap(), ether);
    for name in ["epair0a", "bridge0"] {
        k.if_set_flags(name, ether | iff::UP).unwrap();
        assert_eq!(k.if_flags(name).unwrap(), ether | iff::UP | iff::RUNNING, "{name} up");
        k.if_set_flags(name, ether).unwrap();
    }
    assert_eq!(k.if_flags("epair0a").unwrap(), ether | iff::RUNNING, "down leaves an epair running");
    assert_eq!(k.if_flags("bridge0").unwrap(), ether, "bridge_stop");
    // A vnet move brings an epair end down (if_down) but it still runs.
    let j = jail(&k, "www", true);
    k.if_set_flags("epair0b", ether | iff::UP).unwrap();
    k.if_move_to_jail("epair0b", j).unwrap();
    let f = k.in_jail(j, |k| Ok(k.if_flags("epair0b"))).unwrap();
    assert_eq!(f, Ok(ether | iff::RUNNING));
}

#[test]
fn a_vlans_mtu_follows_its_parents_vlan_mtu_capability() {
    let mut k = loaded(&["igb0"]);
    k.kld_load("if_vlan").unwrap();
    assert_eq!(k.if_capenable("igb0"), Ok(crate::kernel::ifcap::VLAN_MTU));
    assert_eq!(k.if_create("igb0.20"), Ok("igb0.20".into()));
    assert_eq!(k.if_mtu("igb0.20"), Ok(1500));
    k.if_set_capenable("igb0", 0).unwrap();
    assert_eq!(k.if_create("igb0.30"), Ok("igb0.30".into()));
    assert_eq!(k.if_mtu("igb0.30"), Ok(1496), "if_vlan.c: the tag comes off the MTU");
    assert_eq!(k.if_mtu("igb0.20"), Ok(1500), "set once, when the vlan is made");
    assert_eq!(k.if_set_capenable("igb0", 0x1), Err(Errno::EINVAL), "RXCSUM is not modelled");
    assert_eq!(k.if_set_capenable("lo0", crate::kernel::ifcap::VLAN_MTU), Err(Errno::EINVAL));
    assert_eq!(k.if_capenable("nonesuch0"), Err(Errno::ENXIO));
}

#[test]
fn promiscuous_references_and_a_vlans_parent() {
    let mut k = loaded(&["igb0"]);
    for m in ["if_vlan", "ng_socket", "ng_ether"] {
        k.kld_load(m).unwrap();
    }
    k.if_create("igb0.40").unwrap();
    let promisc = |k: &Sim, n: &str| state(k).find(None, n).unwrap().flags & iff::PROMISC != 0;
    // The admin's `ifconfig igb0.40 promisc` (PPROMISC) makes the vlan promiscuous, and
    // vlan_setflags passes that on to its parent.
    k.if_set_flags("igb0.40", iff::PPROMISC).unwrap();
    assert!(promisc(&k, "igb0.40") && promisc(&k, "igb0"));
    k.if_set_flags("igb0.40", 0).unwrap();
    assert!(!promisc(&k, "igb0.40") && !promisc(&k, "igb0"));
    // Two references on the NIC: a bridge's and ng_ether's; PROMISC until both are gone.
    k.if_create("bridge").unwrap();
    k.bridge_add("bridge0", "igb0").unwrap();
    k.ng_ether_set_promisc("igb0:", true).unwrap();
    k.bridge_del("bridge0", "igb0").unwrap();
    assert!(promisc(&k, "igb0"));
    k.ng_ether_set_promisc("igb0:", false).unwrap();
    assert!(!promisc(&k, "igb0"));
    // The admin's PPROMISC holds it whatever the references.
    k.if_set_flags("igb0", iff::UP | iff::PPROMISC).unwrap();
    k.bridge_add("bridge0", "igb0").unwrap();
    k.bridge_del("bridge0", "igb0").unwrap();
    assert!(promisc(&k, "igb0"));
}
