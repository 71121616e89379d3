//! FreeBSD 13.0's own network stack (F-Stack, served by `jnet-stackhost`) against the
//! simulated host: jnet's FreeBSD backend, the code that ships, drives the stack through the
//! syscall seam (`JNET_FBSD_STACK`), the same kernel-interface calls go to the sim, and what an
//! admin would see is compared.
//!
//! These need the stack host built: `.ci/fbsd-stack` builds it and runs them with
//! `JNET_STACKHOST=path/to/jnet-stackhost cargo test --test fbsd_stack -- --ignored`.
//! Without JNET_STACKHOST they fail; they never pass by skipping.

mod common;
mod stack;

use common::Host;
use jnet::errno::Errno;
use jnet::kernel::{ifcap, iff, in6f, nd6f, Cidr, Gateway, IfInfo, Interfaces, Netgraph, Routes, System};
use stack::Stack;
use std::net::{IpAddr, Ipv6Addr};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A simulated host with DAD as FreeBSD's defaults give it (one probe, 1 s).
fn sim(tag: &str) -> (Host, jnet::sim::Sim) {
    sim_with(tag, "igb0")
}

/// The same with the NICs `phys` (comma-separated).
fn sim_with(tag: &str, phys: &str) -> (Host, jnet::sim::Sim) {
    let h = Host::init(tag, &["--phys", phys, "--dad-ms", "1000", "--hostuuid", stack::HOSTUUID]);
    let mut k = h.kernel();
    // F-Stack has if_epair and if_bridge compiled in; the sim loads them as jnet would.
    for m in ["if_epair", "if_bridge"] {
        k.kld_load(m).unwrap();
    }
    (h, k)
}

/// A fresh stack and a fresh sim for one scenario.
fn fresh(tag: &str) -> (Stack, Host, jnet::sim::Sim) {
    let (h, k) = sim(&format!("stack-{tag}"));
    (Stack::start(tag), h, k)
}

/// Ask `f` every 100 ms until it answers, for at most 15 s: the stack's timers run between
/// requests and the sim settles on each operation, so both are polled alike.
fn poll<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = f();
        if v.is_some() || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An address's flags once DAD has ended, or as they are after 15 s (for the comparison to
/// show).
fn settled(mut flags: impl FnMut() -> u32) -> u32 {
    let mut last = 0;
    poll(|| {
        last = flags();
        (last & in6f::TENTATIVE == 0).then_some(last)
    })
    .unwrap_or(last)
}

/// The same cloner asked for on both; each answer is checked by the scenario that needs it.
fn create_both(st: &mut Stack, k: &mut jnet::sim::Sim, cloner: &str) {
    st.k.if_create(cloner).unwrap();
    k.if_create(cloner).unwrap();
}

/// Up, and (when `enable`) IPv6 enabled as jnet's EnableInet6 step does, on one kernel.
fn prepare_one<K: Interfaces + ?Sized>(k: &mut K, end: &str, enable: bool) {
    let f = k.if_flags(end).unwrap();
    k.if_set_flags(end, f | iff::UP).unwrap();
    if enable {
        let nd = k.if_nd6(end).unwrap().flags & !nd6f::IFDISABLED;
        k.if_set_nd6_flags(end, nd).unwrap();
    }
}

/// The same on both.
fn prepare(st: &mut Stack, k: &mut jnet::sim::Sim, end: &str, enable: bool) {
    prepare_one(&mut st.k, end, enable);
    prepare_one(k, end, enable);
}

/// What `ifconfig -a` shows of one interface but its MAC (an epair's is random on FreeBSD
/// and chosen by the sim; jnet sets its own where it matters): name, flags, MTU, addresses.
fn listed<K: Interfaces + ?Sized>(k: &mut K) -> Vec<(String, u32, u32, Vec<Cidr>)> {
    let mut l: Vec<IfInfo> = k.if_list().unwrap();
    l.sort_by(|a, b| a.name.cmp(&b.name));
    l.into_iter().map(|i| (i.name, i.flags, i.mtu, i.addrs)).collect()
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn cidr(s: &str) -> Cidr {
    s.parse().unwrap()
}

/// One scenario's comparisons: the stack's answer must be what FreeBSD's sources say (the
/// expectation), and the sim's must be the stack's. `.ci/fbsd-stack` counts the lines
/// `finish` prints.
struct Checks {
    scenario: &'static str,
    count: usize,
    differences: Vec<String>,
    finished: bool,
    /// Jails with their own vnets took part (`.ci/fbsd-stack` counts these scenarios).
    vnets: bool,
}

/// A scenario that panics before `finish` (on either host's side) still prints its line,
/// marked failed, so `.ci/fbsd-stack` counts it; the failure itself fails the run.
impl Drop for Checks {
    fn drop(&mut self) {
        if !self.finished {
            println!(
                "fbsd-stack scenario {}{}: {} checks, {} differences, FAILED before its end (see above)",
                self.scenario,
                if self.vnets { " (with vnets)" } else { "" },
                self.count,
                self.differences.len()
            );
            for d in &self.differences {
                println!("fbsd-stack difference in {}: {d}", self.scenario);
            }
        }
    }
}

impl Checks {
    fn new(scenario: &'static str) -> Checks {
        Checks { scenario, count: 0, differences: vec![], finished: false, vnets: false }
    }

    fn same<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, stack: T, sim: T, want: T) {
        self.count += 1;
        assert_eq!(stack, want, "{what}: FreeBSD's code answers otherwise than the test expects");
        if sim != stack {
            self.differences.push(format!("{what}: stack {stack:?}, sim {sim:?}"));
        }
    }

    /// What the admin sees on each host, which has no expectation of its own: only the sim
    /// against the stack.
    fn same_seen<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, stack: T, sim: T) {
        self.count += 1;
        if stack != sim {
            self.differences.push(format!("{what}: stack {stack:#?}\nsim {sim:#?}"));
        }
    }

    /// What only the stack can show (packets: the sim carries none), against what must be.
    fn stack_only<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, stack: T, want: T) {
        self.count += 1;
        assert_eq!(stack, want, "{what}: FreeBSD's code answers otherwise than the test expects");
    }

    /// Where FreeBSD 13.0 and 14 differ by their sources: the stack (13.0) must give 13.0's
    /// answer and the sim 14's, which it follows.
    fn versions<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, stack: T, sim: T, want_13: T, want_14: T) {
        self.count += 1;
        assert_eq!(stack, want_13, "{what}: FreeBSD 13.0's code answers otherwise than its sources say");
        if sim != want_14 {
            self.differences.push(format!("{what}: sim {sim:?}, FreeBSD 14's sources {want_14:?}"));
        }
    }

    fn finish(mut self) {
        self.finished = true;
        println!(
            "fbsd-stack scenario {}{}: {} checks, {} differences",
            self.scenario,
            if self.vnets { " (with vnets)" } else { "" },
            self.count,
            self.differences.len()
        );
        for d in &self.differences {
            println!("fbsd-stack difference in {}: {d}", self.scenario);
        }
        assert!(self.differences.is_empty(), "{}: the sim differs from FreeBSD: {:?}", self.scenario, self.differences);
    }
}

/// One call made on both kernels through the same trait method, compared: `both!(c, st, k,
/// "what", |x| x.if_create("epair"), want)`.
macro_rules! both {
    ($c:expr, $st:expr, $k:expr, $what:expr, |$x:ident| $e:expr, $want:expr) => {{
        let stack = {
            let $x = &mut $st.k;
            $e
        };
        let sim = {
            let $x = &mut $k;
            $e
        };
        $c.same(&$what, stack, sim, $want)
    }};
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn epair_units_names_and_nd6_defaults() {
    let mut c = Checks::new("epair units, names, nd6 defaults");
    let (mut st, _h, mut k) = fresh("units");
    for want in ["epair0a", "epair1a"] {
        both!(c, st, k, "SIOCIFCREATE2 epair", |x| x.if_create("epair"), Ok(want.to_string()));
    }
    for end in ["epair0b", "epair1b"] {
        both!(c, st, k, format!("{end} exists"), |x| x.if_flags(end).is_ok(), true);
    }
    // epair_clone_create: IFCAP_VLAN_MTU offered and enabled.
    both!(c, st, k, "capabilities of an end", |x| x.if_capenable("epair0a"), Ok(ifcap::VLAN_MTU));
    // nd6_ifattach: PERFORMNUD | IFDISABLED | AUTO_LINKLOCAL on a new epair end.
    let want = nd6f::PERFORMNUD | nd6f::IFDISABLED | nd6f::AUTO_LINKLOCAL;
    both!(c, st, k, "nd6 flags of a new end", |x| x.if_nd6("epair0b").unwrap().flags, want);
    c.finish();
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn renames_give_the_same_errnos() {
    let mut c = Checks::new("renames");
    let (mut st, _h, mut k) = fresh("rename");
    create_both(&mut st, &mut k, "epair");
    both!(c, st, k, "rename epair0b e0b_www", |x| x.if_rename("epair0b", "e0b_www"), Ok(()));
    both!(c, st, k, "rename a gone name", |x| x.if_rename("epair0b", "x"), Err(Errno::ENXIO));
    both!(c, st, k, "rename to a taken name", |x| x.if_rename("e0b_www", "epair0a"), Err(Errno::EEXIST));
    both!(c, st, k, "old name after a rename", |x| x.if_flags("epair0b").is_ok(), false);
    c.finish();
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn first_address_on_an_ifdisabled_end_is_never_dad_checked() {
    let mut c = Checks::new("DAD: first address on an IFDISABLED end");
    let (mut st, _h, mut k) = fresh("ifdisabled");
    let a = v6("2001:db8::5");
    create_both(&mut st, &mut k, "epair");
    prepare(&mut st, &mut k, "epair0b", false);
    both!(c, st, k, "add 2001:db8::5", |x| x.if_add_addr("epair0b", cidr("2001:db8::5/64"), 0), Ok(()));
    // in6_update_ifa decides on DAD while ND6_IFF_IFDISABLED is set; in6_control clears it after.
    both!(c, st, k, "its flags", |x| x.if_addr6_flags("epair0b", a), Ok(0));
    let want = nd6f::PERFORMNUD | nd6f::AUTO_LINKLOCAL;
    both!(c, st, k, "nd6 flags after", |x| x.if_nd6("epair0b").unwrap().flags, want);
    c.finish();
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn an_address_added_after_enabling_ipv6_is_tentative_then_settles() {
    let mut c = Checks::new("DAD: tentative, then settled");
    let (mut st, _h, mut k) = fresh("enabled");
    let a = v6("2001:db8:1::6");
    create_both(&mut st, &mut k, "epair");
    prepare(&mut st, &mut k, "epair0b", true);
    both!(c, st, k, "add 2001:db8:1::6", |x| x.if_add_addr("epair0b", cidr("2001:db8:1::6/64"), 0), Ok(()));
    both!(c, st, k, "its flags at once", |x| x.if_addr6_flags("epair0b", a), Ok(in6f::TENTATIVE));
    both!(c, st, k, "its flags after DAD", |x| settled(|| x.if_addr6_flags("epair0b", a).unwrap()), 0);
    c.finish();
}

/// How long an address added to `ifname` stays tentative, looked at every 10 ms (at most 5 s).
fn dad_duration<K: Interfaces + ?Sized>(k: &mut K, ifname: &str, addr: &str) -> Duration {
    let a = cidr(addr);
    let IpAddr::V6(a6) = a.addr else { panic!("{addr} is not IPv6") };
    let start = Instant::now();
    k.if_add_addr(ifname, a, 0).unwrap();
    while k.if_addr6_flags(ifname, a6).unwrap() & in6f::TENTATIVE != 0 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

/// DAD's duration on both hosts. FreeBSD probes an address SIOCAIFADDR_IN6 adds at once
/// (in6.c in6_update_ifa with flags 0: no IN6_IFAUPDATE_DADDELAY), sends
/// net.inet6.ip6.dad_count (1) Neighbor Solicitation and waits the interface's retrans time
/// (nd6.c RETRANS_TIMER, 1000 ms) for an answer (nd6_nbr.c nd6_dad_timer): about a second, as
/// the sim's --dad-ms 1000 gives. The window leaves room for the stack's 10 ms ticks (hz 100)
/// and a loaded machine.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn dad_lasts_about_a_second_on_both() {
    let mut c = Checks::new("DAD duration");
    let (mut st, _h, mut k) = fresh("daddur");
    create_both(&mut st, &mut k, "epair");
    prepare(&mut st, &mut k, "epair0b", true);
    let stack = dad_duration(&mut st.k, "epair0b", "2001:db8:1::7/64");
    let sim = dad_duration(&mut k, "epair0b", "2001:db8:1::7/64");
    println!("DAD of 2001:db8:1::7: {} ms on the stack, {} ms on the sim", stack.as_millis(), sim.as_millis());
    let about_a_second = |d: Duration| (900..=1400).contains(&d.as_millis());
    c.same("tentative for 900-1400 ms", about_a_second(stack), about_a_second(sim), true);
    c.finish();
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn an_address_the_host_already_has_is_refused_on_a_second_interface() {
    let mut c = Checks::new("one global IPv6 address per vnet");
    let (mut st, _h, mut k) = fresh("samehost");
    let a = v6("2001:db8:2::7");
    for _ in 0..2 {
        create_both(&mut st, &mut k, "epair");
    }
    for end in ["epair0b", "epair1b"] {
        prepare(&mut st, &mut k, end, true);
    }
    both!(c, st, k, "add on epair0b", |x| x.if_add_addr("epair0b", cidr("2001:db8:2::7/64"), 0), Ok(()));
    // The host route to the address is taken (FreeBSD 13.0 through F-Stack; the sim follows
    // since this test found it). A duplicate for DAD to find must come from another vnet or
    // another host (`jnet-sim dup`).
    both!(
        c,
        st,
        k,
        "the same on epair1b",
        |x| x.if_add_addr("epair1b", cidr("2001:db8:2::7/64"), 0),
        Err(Errno::EEXIST)
    );
    both!(c, st, k, "nothing half-added", |x| x.if_addr6_flags("epair1b", a), Err(Errno::EADDRNOTAVAIL));
    c.finish();
}

/// The routing calls of the link-local check, for either host.
trait RoutesAndIndex {
    fn index(&mut self, name: &str) -> Result<u32, Errno>;
    fn add(&mut self, dst: Cidr, gw: Gateway) -> Result<(), Errno>;
}

impl<K: Interfaces + Routes> RoutesAndIndex for K {
    fn index(&mut self, name: &str) -> Result<u32, Errno> {
        self.if_index(name)
    }
    fn add(&mut self, dst: Cidr, gw: Gateway) -> Result<(), Errno> {
        self.add_route(dst, gw)
    }
}

/// Routes through the routing socket, as jnet's Route step makes them (rtabi.rs): a network
/// with its netmask, looked up exactly (a netmask given, rtsock.c handle_rtm_get does not
/// answer a longer match), one per network, through a router on a network of the vnet. (The
/// stack host's own port has 192.0.2.0/24 and an IPv4 default route via 192.0.2.1,
/// f-stack.ini: this scenario stays off both, and tries the default route with IPv6.)
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn routes_to_networks_and_the_default_route() {
    let mut c = Checks::new("routes through the routing socket");
    let (mut st, _h, mut k) = fresh("routes");
    create_both(&mut st, &mut k, "epair");
    prepare(&mut st, &mut k, "epair0a", true);
    both!(c, st, k, "add 198.18.0.5/24", |x| x.if_add_addr("epair0a", cidr("198.18.0.5/24"), 0), Ok(()));
    both!(c, st, k, "add 2001:db8::5/64", |x| x.if_add_addr("epair0a", cidr("2001:db8::5/64"), 0), Ok(()));
    let a6 = v6("2001:db8::5");
    both!(c, st, k, "2001:db8::5 settled", |x| settled(|| x.if_addr6_flags("epair0a", a6).unwrap()), 0);
    let net = Cidr { addr: "198.51.100.0".parse().unwrap(), prefixlen: 24 };
    let gw = Gateway::global("198.18.0.1".parse().unwrap()).unwrap();
    both!(c, st, k, "no route to 198.51.100.0/24 yet", |x| x.route(net), Ok(None));
    both!(c, st, k, "RTM_ADD 198.51.100.0/24", |x| x.add_route(net, gw), Ok(()));
    both!(c, st, k, "RTM_GET 198.51.100.0/24", |x| x.route(net), Ok(Some(gw)));
    let longer = Cidr { addr: "198.51.100.0".parse().unwrap(), prefixlen: 25 };
    both!(c, st, k, "RTM_GET of a longer prefix: exact, none", |x| x.route(longer), Ok(None));
    both!(c, st, k, "RTM_ADD it again", |x| x.add_route(net, gw), Err(Errno::EEXIST));
    let off = Cidr { addr: "203.0.113.0".parse().unwrap(), prefixlen: 24 };
    let far = Gateway::global("10.9.9.9".parse().unwrap()).unwrap();
    both!(c, st, k, "RTM_ADD via a router off every network", |x| x.add_route(off, far), Err(Errno::ENETUNREACH));
    let gw6 = Gateway::global("2001:db8::1".parse().unwrap()).unwrap();
    both!(c, st, k, "no IPv6 default route yet", |x| x.default_route(true), Ok(None));
    both!(c, st, k, "RTM_ADD default -inet6", |x| x.add_route(Cidr::default_dst(true), gw6), Ok(()));
    both!(c, st, k, "RTM_GET default -inet6", |x| x.default_route(true), Ok(Some(gw6)));
    let net6 = Cidr { addr: "2001:db8:1::".parse().unwrap(), prefixlen: 48 };
    both!(c, st, k, "RTM_ADD 2001:db8:1::/48", |x| x.add_route(net6, gw6), Ok(()));
    both!(c, st, k, "RTM_GET 2001:db8:1::/48", |x| x.route(net6), Ok(Some(gw6)));
    both!(c, st, k, "RTM_DELETE 198.51.100.0/24", |x| x.del_route(net), Ok(()));
    both!(c, st, k, "gone", |x| x.route(net), Ok(None));
    both!(c, st, k, "RTM_DELETE it again", |x| x.del_route(net), Err(Errno::ESRCH));
    both!(c, st, k, "the IPv6 default route stays", |x| x.default_route(true), Ok(Some(gw6)));
    // A link-local router: its zone goes inside the address (route(8)'s KAME form, rtabi.rs)
    // and comes back as the reply's scope. Each host's own ifindex of epair0a is the zone.
    let ll: IpAddr = "fe80::1".parse().unwrap();
    let net_ll = Cidr { addr: "2001:db8:2::".parse().unwrap(), prefixlen: 48 };
    let via_ll = |x: &mut dyn RoutesAndIndex| -> Result<(), Errno> {
        let scope = x.index("epair0a")?;
        x.add(net_ll, Gateway::new(ll, Some(scope)).unwrap())
    };
    both!(c, st, k, "RTM_ADD 2001:db8:2::/48 via fe80::1%epair0a", |x| via_ll(x), Ok(()));
    both!(
        c,
        st,
        k,
        "RTM_GET it: fe80::1 with epair0a's index as its scope",
        |x| {
            let scope = x.if_index("epair0a").unwrap();
            x.route(net_ll).map(|g| g == Some(Gateway::new(ll, Some(scope)).unwrap()))
        },
        Ok(true)
    );
    c.finish();
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn bridge_membership_errnos() {
    let mut c = Checks::new("bridge members");
    let (mut st, _h, mut k) = fresh("bridge");
    create_both(&mut st, &mut k, "epair");
    for want in ["bridge0", "bridge1"] {
        both!(c, st, k, "SIOCIFCREATE2 bridge", |x| x.if_create("bridge"), Ok(want.to_string()));
    }
    both!(c, st, k, "BRDGADD epair0a", |x| x.bridge_add("bridge0", "epair0a"), Ok(()));
    // if_bridge.c bridge_ioctl_add: already ours EEXIST, another bridge's EBUSY, no such
    // interface ENOENT.
    both!(c, st, k, "BRDGADD it again", |x| x.bridge_add("bridge0", "epair0a"), Err(Errno::EEXIST));
    both!(c, st, k, "BRDGADD it to bridge1", |x| x.bridge_add("bridge1", "epair0a"), Err(Errno::EBUSY));
    both!(c, st, k, "BRDGADD a missing one", |x| x.bridge_add("bridge0", "nothere0"), Err(Errno::ENOENT));
    // BRDGGIFS through ifd_data and then ifbic_buf: a pointer inside the pointed-to struct.
    both!(c, st, k, "BRDGGIFS", |x| x.bridge_members("bridge0"), Ok(vec!["epair0a".to_string()]));
    both!(c, st, k, "BRDGADD epair0b", |x| x.bridge_add("bridge0", "epair0b"), Ok(()));
    // Newest first: bridge_ioctl_add inserts at the head of sc_iflist (if_bridge.c).
    both!(
        c,
        st,
        k,
        "BRDGGIFS with two",
        |x| x.bridge_members("bridge0"),
        Ok(vec!["epair0b".to_string(), "epair0a".to_string()])
    );
    both!(c, st, k, "BRDGDEL epair0b", |x| x.bridge_del("bridge0", "epair0b"), Ok(()));
    both!(c, st, k, "BRDGDEL epair0a", |x| x.bridge_del("bridge0", "epair0a"), Ok(()));
    both!(c, st, k, "BRDGGIFS when empty", |x| x.bridge_members("bridge0"), Ok(vec![]));
    c.finish();
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn interface_flags_of_new_and_raised_ends() {
    let mut c = Checks::new("interface flags");
    let (mut st, _h, mut k) = fresh("flags");
    create_both(&mut st, &mut k, "epair");
    create_both(&mut st, &mut k, "bridge");
    let ether = iff::BROADCAST | iff::SIMPLEX | iff::MULTICAST;
    // An epair is RUNNING from birth (epair_clone_create) and SIOCSIFFLAGS does not touch
    // it; a bridge runs from bridge_init, when it goes up.
    for (name, made) in [("epair0a", ether | iff::RUNNING), ("bridge0", ether)] {
        both!(c, st, k, format!("{name} flags when made"), |x| x.if_flags(name), Ok(made));
        both!(c, st, k, format!("{name} up"), |x| x.if_set_flags(name, made | iff::UP), Ok(()));
        let up = ether | iff::UP | iff::RUNNING;
        both!(c, st, k, format!("{name} flags when up"), |x| x.if_flags(name), Ok(up));
        both!(c, st, k, format!("{name} down"), |x| x.if_set_flags(name, ether), Ok(()));
        both!(c, st, k, format!("{name} flags when down again"), |x| x.if_flags(name), Ok(made));
    }
    c.finish();
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn descriptions_set_read_and_cleared() {
    let mut c = Checks::new("descriptions");
    let (mut st, _h, mut k) = fresh("descr");
    create_both(&mut st, &mut k, "epair");
    both!(c, st, k, "no description yet", |x| x.if_description("epair0a"), Ok(None));
    let d = "jnet:www:epair:0 host end";
    both!(c, st, k, "set one", |x| x.if_set_description("epair0a", Some(d)), Ok(()));
    both!(c, st, k, "read it", |x| x.if_description("epair0a"), Ok(Some(d.to_string())));
    // Longer than the backend's first buffer (128): SIOCGIFDESCR answers with a NULL buffer
    // and the size it needs, and the backend asks again.
    let long = "x".repeat(300);
    both!(c, st, k, "set a long one", |x| x.if_set_description("epair0a", Some(&long)), Ok(()));
    both!(c, st, k, "read it back whole", |x| x.if_description("epair0a"), Ok(Some(long.clone())));
    both!(c, st, k, "clear it", |x| x.if_set_description("epair0a", None), Ok(()));
    both!(c, st, k, "read after clearing", |x| x.if_description("epair0a"), Ok(None));
    both!(c, st, k, "on a missing interface", |x| x.if_description("nothere0"), Err(Errno::ENXIO));
    c.finish();
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn groups_added_listed_and_removed() {
    let mut c = Checks::new("interface groups");
    let (mut st, _h, mut k) = fresh("groups");
    create_both(&mut st, &mut k, "epair");
    // if_clone.c puts a cloned interface in its cloner's group; every ifnet is in "all".
    let made = Ok(vec!["all".to_string(), "epair".to_string()]);
    both!(c, st, k, "groups when made", |x| x.if_groups("epair0a"), made);
    both!(c, st, k, "add jnet", |x| x.if_add_group("epair0a", "jnet"), Ok(()));
    both!(c, st, k, "add jnet again", |x| x.if_add_group("epair0a", "jnet"), Err(Errno::EEXIST));
    let with = Ok(vec!["all".to_string(), "epair".to_string(), "jnet".to_string()]);
    both!(c, st, k, "groups with jnet", |x| x.if_groups("epair0a"), with);
    // if.c if_addgroup: a group name may not end in a digit.
    both!(c, st, k, "a group ending in a digit", |x| x.if_add_group("epair0a", "jnet1"), Err(Errno::EINVAL));
    both!(c, st, k, "delete jnet", |x| x.if_del_group("epair0a", "jnet"), Ok(()));
    both!(c, st, k, "delete it again", |x| x.if_del_group("epair0a", "jnet"), Err(Errno::ENOENT));
    c.finish();
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn mtu_of_epairs_and_bridge_members() {
    let mut c = Checks::new("MTU");
    let (mut st, _h, mut k) = fresh("mtu");
    create_both(&mut st, &mut k, "epair");
    both!(c, st, k, "epair MTU when made", |x| x.if_mtu("epair0a"), Ok(1500));
    both!(c, st, k, "set 9000", |x| x.if_set_mtu("epair0a", 9000), Ok(()));
    both!(c, st, k, "read 9000", |x| x.if_mtu("epair0a"), Ok(9000));
    both!(c, st, k, "the other end keeps its own", |x| x.if_mtu("epair0b"), Ok(1500));
    // epair_ioctl takes any MTU ("We basically allow all kinds of MTUs").
    both!(c, st, k, "set 72", |x| x.if_set_mtu("epair0b", 72), Ok(()));
    c.finish();
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn ipv4_addresses_added_and_deleted() {
    let mut c = Checks::new("IPv4 addresses");
    let (mut st, _h, mut k) = fresh("inet");
    create_both(&mut st, &mut k, "epair");
    let a: IpAddr = "192.0.2.10".parse().unwrap();
    both!(c, st, k, "add 192.0.2.10/24", |x| x.if_add_addr("epair0a", cidr("192.0.2.10/24"), 0), Ok(()));
    both!(c, st, k, "add it again (an update)", |x| x.if_add_addr("epair0a", cidr("192.0.2.10/24"), 0), Ok(()));
    both!(c, st, k, "delete it", |x| x.if_del_addr("epair0a", a), Ok(()));
    both!(c, st, k, "delete it again", |x| x.if_del_addr("epair0a", a), Err(Errno::EADDRNOTAVAIL));
    c.finish();
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn destroying_either_end_destroys_the_pair() {
    let mut c = Checks::new("destroy");
    let (mut st, _h, mut k) = fresh("destroy");
    for _ in 0..2 {
        create_both(&mut st, &mut k, "epair");
    }
    both!(c, st, k, "destroy epair0b", |x| x.if_destroy("epair0b"), Ok(()));
    both!(c, st, k, "epair0a went with it", |x| x.if_flags("epair0a").is_ok(), false);
    both!(c, st, k, "destroy epair0a", |x| x.if_destroy("epair0a"), Err(Errno::ENXIO));
    both!(c, st, k, "epair1a stays", |x| x.if_flags("epair1a").is_ok(), true);
    // The freed unit is taken again first (if_clone.c, ifc_alloc_unit).
    both!(c, st, k, "the next pair", |x| x.if_create("epair"), Ok("epair0a".to_string()));
    c.finish();
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn sysctls_read_by_name() {
    let mut c = Checks::new("sysctl by name");
    let (mut st, _h, mut k) = fresh("sysctl");
    // sysctlnametomib then the value: an int, 1 by default (nd6_nbr.c V_ip6_dad_count).
    both!(c, st, k, "net.inet6.ip6.dad_count", |x| x.sysctl_int("net.inet6.ip6.dad_count"), Ok(1));
    both!(c, st, k, "a name that is not there", |x| x.sysctl_int("net.jnet.nothing"), Err(Errno::ENOENT));
    c.finish();
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn the_interface_list_as_the_routing_sysctl_gives_it() {
    let mut c = Checks::new("interface list (NET_RT_IFLIST)");
    let (mut st, _h, mut k) = fresh("iflist");
    create_both(&mut st, &mut k, "epair");
    prepare(&mut st, &mut k, "epair0a", true);
    both!(c, st, k, "add 192.0.2.1/24", |x| x.if_add_addr("epair0a", cidr("192.0.2.1/24"), 0), Ok(()));
    both!(c, st, k, "add 2001:db8:9::1/64", |x| x.if_add_addr("epair0a", cidr("2001:db8:9::1/64"), 0), Ok(()));
    both!(c, st, k, "set MTU 9000", |x| x.if_set_mtu("epair0b", 9000), Ok(()));
    // Only the epair: the stack's own port and loopback are not the sim's igb0 and lo0.
    let epairs = |l: Vec<(String, u32, u32, Vec<Cidr>)>| -> Vec<(String, u32, u32, Vec<Cidr>)> {
        l.into_iter()
            .filter(|i| i.0.starts_with("epair"))
            .map(|(n, f, m, mut a)| {
                // The link-local address is derived from the MAC, which differs by design.
                a.retain(|c| !matches!(c.addr, IpAddr::V6(v) if v.segments()[0] == 0xfe80));
                (n, f, m, a)
            })
            .collect()
    };
    let up = iff::UP | iff::BROADCAST | iff::RUNNING | iff::SIMPLEX | iff::MULTICAST;
    let want = vec![
        ("epair0a".to_string(), up, 1500, vec![cidr("192.0.2.1/24"), cidr("2001:db8:9::1/64")]),
        ("epair0b".to_string(), iff::BROADCAST | iff::RUNNING | iff::SIMPLEX | iff::MULTICAST, 9000, vec![]),
    ];
    both!(c, st, k, "epairs listed", |x| epairs(listed(x)), want.clone());
    // An automatic link-local address comes with IPv6 enabled on an up interface (in6_ifattach).
    both!(
        c,
        st,
        k,
        "epair0a has a link-local address",
        |x| x.if_list().unwrap().iter().any(|i| i.name == "epair0a"
            && i.addrs
                .iter()
                .any(|c| matches!(c.addr, IpAddr::V6(v) if v.segments()[0] == 0xfe80) && c.prefixlen == 64)),
        true
    );
    c.finish();
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn netgraph_eiface_ether_and_bridge() {
    let mut c = Checks::new("netgraph: eiface, ether, bridge");
    let (mut st, _h, mut k) = fresh("netgraph");
    // The stack's DPDK port is its Ethernet NIC; named as the sim's.
    st.k.if_rename("f-stack-0", "igb0").unwrap();
    for m in ["ng_ether", "ng_eiface", "ng_bridge", "ng_socket"] {
        k.kld_load(m).unwrap();
    }
    // ng_ether follows the rename of its ifnet (ng_ether_ifnet_arrival_event).
    both!(c, st, k, "the NIC's ether node", |x| x.ng_ether_ifname("igb0:"), Ok("igb0".to_string()));
    both!(c, st, k, "mkpeer eiface", |x| x.ng_mkpeer(".", "eiface", "e0", "ether"), Ok(()));
    both!(c, st, k, "its ifname", |x| x.ng_eiface_ifname(".:e0"), Ok("ngeth0".to_string()));
    both!(c, st, k, "name it", |x| x.ng_name(".:e0", "jt_e0"), Ok(()));
    both!(c, st, k, "the name is taken", |x| x.ng_name(".:e0", "igb0"), Err(Errno::EADDRINUSE));
    let node = |x: &mut dyn FnMut() -> Result<jnet::kernel::NgNode, Errno>| x().map(|n| (n.name, n.node_type, n.hooks));
    both!(
        c,
        st,
        k,
        "node info",
        |x| node(&mut || x.ng_node("jt_e0:")),
        Ok(("jt_e0".to_string(), "eiface".to_string(), 1))
    );
    both!(
        c,
        st,
        k,
        "mkpeer bridge on the NIC's lower hook",
        |x| x.ng_mkpeer("igb0:", "bridge", "lower", "link0"),
        Ok(())
    );
    both!(c, st, k, "the same hook again", |x| x.ng_mkpeer("igb0:", "bridge", "lower", "link0"), Err(Errno::EEXIST));
    both!(c, st, k, "name the bridge", |x| x.ng_name("igb0:lower", "jt_br"), Ok(()));
    both!(
        c,
        st,
        k,
        "connect the eiface to it",
        |x| x.ng_connect("jt_e0:", "jt_br:", "ether", "link1"),
        Err(Errno::EEXIST)
    );
    both!(c, st, k, "drop the socket's hook", |x| x.ng_rmhook("jt_e0:", "ether"), Ok(()));
    both!(c, st, k, "connect the eiface to the bridge", |x| x.ng_connect("jt_e0:", "jt_br:", "ether", "link1"), Ok(()));
    let hooks = |x: &mut dyn FnMut() -> Result<(jnet::kernel::NgNode, Vec<jnet::kernel::NgHook>), Errno>| {
        x().map(|(_, mut h)| {
            h.sort_by(|a, b| a.ourhook.cmp(&b.ourhook));
            h.into_iter().map(|h| (h.ourhook, h.peer.node_type, h.peerhook)).collect::<Vec<_>>()
        })
    };
    let want = Ok(vec![
        ("link0".to_string(), "ether".to_string(), "lower".to_string()),
        ("link1".to_string(), "eiface".to_string(), "ether".to_string()),
    ]);
    both!(c, st, k, "the bridge's hooks", |x| hooks(&mut || x.ng_hooks("jt_br:")), want);
    both!(c, st, k, "shut the eiface down", |x| x.ng_shutdown("jt_e0:"), Ok(()));
    // ng_eiface_rmnode destroys its ifnet with it.
    both!(c, st, k, "ngeth0 went with it", |x| x.if_flags("ngeth0").is_ok(), false);
    both!(c, st, k, "a gone node", |x| x.ng_node("jt_e0:").map(|n| n.name), Err(Errno::ENOENT));
    // The unit is free again: the next eiface takes it (ng_eiface.c alloc_unr, lowest first).
    both!(c, st, k, "another eiface", |x| x.ng_mkpeer(".", "eiface", "e1", "ether"), Ok(()));
    both!(c, st, k, "its ifname: ngeth0 again", |x| x.ng_eiface_ifname(".:e1"), Ok("ngeth0".to_string()));
    c.finish();
}

/// One interface as `ifconfig` shows it after a hook. The NIC's addresses, ND6 flags and
/// capabilities (the stack's DPDK port, the sim's igb0) are each host's own and left out.
#[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct IfSeen {
    name: String,
    flags: u32,
    mtu: u32,
    mac: Option<[u8; 6]>,
    descr: Option<String>,
    groups: Vec<String>,
    members: Vec<String>,
    addrs: Vec<Cidr>,
    /// ND6 flags (SIOCGIFINFO_IN6)
    nd6: u32,
    /// IPv6 address flags, link-local addresses but
    flags6: Vec<(Ipv6Addr, u32)>,
    /// capabilities enabled (SIOCGIFCAP)
    caps: u32,
    /// SIOCGETVLAN's answer: a vlan's parent, tag and protocol, or the errno
    vlan: String,
}

/// What an admin would see of a host: interfaces, and netgraph nodes with their hooks.
#[derive(Debug, PartialEq)]
struct Seen {
    ifaces: Vec<IfSeen>,
    nodes: Vec<NodeSeen>,
}

/// A netgraph node: name, type, and its hooks as (our hook, peer's type, peer's hook).
type NodeSeen = (String, String, Vec<(String, String, String)>);

fn seen<K: Interfaces + Netgraph>(k: &mut K) -> Seen {
    Seen { ifaces: seen_ifaces(k), nodes: seen_nodes(k) }
}

/// Every interface of a vnet as `seen` compares it.
fn seen_ifaces<K: Interfaces + ?Sized>(k: &mut K) -> Vec<IfSeen> {
    let mut ifaces = vec![];
    let mut list = k.if_list().unwrap();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    for i in list {
        // The NIC's addresses are each host's own (the stack's port has f-stack.ini's IPv4
        // address and no link-local, the sim's igb0 the other way round); the rest of it, and
        // all of lo0, is compared.
        if i.name == "igb0" {
            let descr = k.if_description(&i.name).unwrap();
            let groups = k.if_groups(&i.name).unwrap();
            ifaces.push(IfSeen { name: i.name, flags: i.flags, mtu: i.mtu, descr, groups, ..IfSeen::default() });
            continue;
        }
        let bridge = k.bridge_members(&i.name).ok();
        let groups = k.if_groups(&i.name).unwrap();
        let mut addrs = i.addrs;
        // jnet sets the MACs of what it makes; bridges' and the admin's own interfaces' are
        // the kernel's (random on FreeBSD, a counter on the sim), and a vlan carries its
        // NIC's (if_vlan.c vlan_config), which differs between the hosts.
        let jnets_mac = bridge.is_none() && groups.iter().any(|g| g == "jnet") && !groups.iter().any(|g| g == "vlan");
        // Link-local addresses follow the MAC (in6_ifattach's EUI-64): compared where the MAC is.
        if !jnets_mac {
            addrs.retain(|c| !matches!(c.addr, IpAddr::V6(v) if v.segments()[0] == 0xfe80));
        }
        let flags6 = addrs
            .iter()
            .filter_map(|c| match c.addr {
                // DAD's progress is a matter of milliseconds after a hook; the scenarios
                // compare its outcome once settled.
                IpAddr::V6(v) => {
                    Some((v, k.if_addr6_flags(&i.name, v).unwrap() & !(in6f::TENTATIVE | in6f::DUPLICATED)))
                }
                IpAddr::V4(_) => None,
            })
            .collect();
        ifaces.push(IfSeen {
            mac: if jnets_mac { i.mac.map(|m| m.0) } else { None },
            descr: k.if_description(&i.name).unwrap(),
            members: bridge.unwrap_or_default(),
            groups,
            nd6: k.if_nd6(&i.name).unwrap().flags,
            caps: k.if_capenable(&i.name).unwrap(),
            vlan: format!("{:?}", k.if_vlan(&i.name)),
            flags6,
            name: i.name,
            flags: i.flags,
            mtu: i.mtu,
            addrs,
        });
    }
    ifaces
}

/// Every netgraph node as `seen` compares it.
fn seen_nodes<K: Netgraph + Interfaces>(k: &mut K) -> Vec<NodeSeen> {
    let mut nodes = vec![];
    for n in k.ng_nodes().unwrap() {
        // The socket nodes are the programs' and the test's own control sockets.
        if n.node_type == "socket" {
            continue;
        }
        let path = if n.name.is_empty() { format!("[{:x}]:", n.id) } else { format!("{}:", n.name) };
        let (_, hooks) = k.ng_hooks(&path).unwrap();
        let mut hooks: Vec<_> = hooks.into_iter().map(|h| (h.ourhook, h.peer.node_type, h.peerhook)).collect();
        hooks.sort();
        // jnet's eiface node names are keyed with each host's own secret (names.rs): shown
        // by the interface they carry.
        let ifname = match n.node_type.as_str() {
            "ether" => k.ng_ether_ifname(&path).unwrap(),
            "eiface" => k.ng_eiface_ifname(&path).unwrap(),
            _ => String::new(),
        };
        let name = if n.node_type == "eiface" && n.name.starts_with("jnet-") {
            format!("jnet-(keyed) of {ifname}")
        } else if n.node_type == "ether" && k.bridge_members(&ifname).is_ok() {
            // Left out by name: a renamed if_bridge's ng_ether node keeps its old name in
            // 13.0 (ng_ether.c ng_ether_ifnet_arrival_event renames IFT_ETHER and IFT_L2VLAN
            // only) and follows the rename in 14 (IFT_BRIDGE added there).
            format!("(13.0 and 14 differ) ether of {ifname}")
        } else {
            n.name
        };
        nodes.push((name, n.node_type, hooks));
    }
    nodes.sort();
    nodes
}

/// A jnet program run as a hook runs, against the stack serving `sock`.
fn on_stack(sock: &std::path::Path, prog: &str, args: &[&str]) -> Output {
    Command::new(common::bin(prog))
        .args(args)
        .env("JNET_FBSD_STACK", sock)
        .env_remove("JNET_SIM")
        .env_remove("JNET_LOG")
        .output()
        .unwrap()
}

/// The same program on both hosts: the exit codes are compared, and then what each host
/// shows.
fn hook(c: &mut Checks, st: &mut Stack, h: &Host, k: &mut jnet::sim::Sim, prog: &str, args: &[&str], want: i32) {
    let o = on_stack(&st.sock, prog, args);
    let s = h.run(prog, args);
    let what = format!("{prog} {}", args.join(" "));
    if o.status.code() != Some(want) {
        panic!("{what} on the stack: {:?}\n{}", o.status, String::from_utf8_lossy(&o.stderr));
    }
    c.same(&format!("{what}: exit status"), o.status.code(), s.status.code(), Some(want));
    c.same_seen(&format!("after {what}"), seen(&mut st.k), seen(k));
}

/// The sim's igb0 given the stack's IFCAP_VLAN_MTU: the stack's DPDK port cannot carry
/// VLAN-sized frames, so vlans on it are 4 bytes smaller. Returns that capability bit.
fn nic_vlan_mtu_as_the_stacks(st: &mut Stack, k: &mut jnet::sim::Sim) -> u32 {
    let caps = st.k.if_capenable("igb0").unwrap() & ifcap::VLAN_MTU;
    k.if_set_capenable("igb0", caps).unwrap();
    caps
}

/// A stack whose port is named igb0, and a sim with igb0, both with the modules jnet loads.
fn hosts(tag: &str) -> (Stack, Host, jnet::sim::Sim) {
    let (mut st, h, mut k) = fresh(tag);
    nic_and_modules(&mut st, &mut k);
    (st, h, k)
}

/// The stack's port named igb0; the sim given the netgraph modules compiled into the stack
/// (ng_ether then has a node on every Ethernet interface).
fn nic_and_modules(st: &mut Stack, k: &mut jnet::sim::Sim) {
    st.k.if_rename("f-stack-0", "igb0").unwrap();
    for m in ["ng_ether", "ng_eiface", "ng_bridge", "ng_socket"] {
        k.kld_load(m).unwrap();
    }
}

/// Whether each host is now as it was `before` (a hook run again, a second round), as a check.
fn unchanged(c: &mut Checks, what: &str, before: &(Seen, Seen), now: &(Seen, Seen)) {
    c.same(what, now.0 == before.0, now.1 == before.1, true);
}

/// `hosts` with two more NICs, igb1 and igb2, cabled to each other: on the stack DPDK ports
/// that pass frames across (fbsd-stack/jnet_wire.inc), each with the IPv4 address F-Stack
/// gives it at start (WIRE_NICS); the sim's get the same addresses.
fn hosts_wired(tag: &str) -> (Stack, Host, jnet::sim::Sim) {
    let (h, mut k) = sim_with(&format!("stack-{tag}"), "igb0,igb1,igb2");
    let mut st = Stack::start_wired(tag);
    nic_and_modules(&mut st, &mut k);
    for (nic, addr, len) in jnet::sim::stackprocess::WIRE_NICS {
        k.if_add_addr(nic, cidr(&format!("{addr}/{len}")), 0).unwrap();
        // DPDK's ring ports offer no capabilities (IFCAP_VLAN_MTU among them): the sim's NICs
        // are given the stack's.
        k.if_set_capenable(nic, st.k.if_capenable(nic).unwrap()).unwrap();
        // The host's rc.conf enables IPv6 on its NICs (ifconfig_igbN_ipv6="inet6
        // -ifdisabled"; nd6.c nd6_ifattach starts every NIC IFDISABLED), as the sim's are.
        let nd = st.k.if_nd6(nic).unwrap().flags & !nd6f::IFDISABLED;
        st.k.if_set_nd6_flags(nic, nd).unwrap();
    }
    // Both NICs' link-local DAD runs at once; then each is settled.
    for (nic, _, _) in jnet::sim::stackprocess::WIRE_NICS {
        settled_link_local(&mut st.k, nic);
    }
    (st, h, k)
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn recipe_2_prestart_and_poststop_on_an_if_bridge() {
    let mut c = Checks::new("programs: recipe 2 (if_bridge, epair) start and stop");
    let (mut st, h, mut k) = hosts("recipe2");
    let start = ["-b", "bridge0", "--uplink", "igb0", "--", "www"];
    hook(&mut c, &mut st, &h, &mut k, "jnet-epair", &start, 0);
    let once = (seen(&mut st.k), seen(&mut k));
    // Twice is the same as once.
    hook(&mut c, &mut st, &h, &mut k, "jnet-epair", &start, 0);
    c.same("a second start changed nothing", seen(&mut st.k) == once.0, seen(&mut k) == once.1, true);
    hook(&mut c, &mut st, &h, &mut k, "jnet-release", &["--", "www"], 0);
    let released = (seen(&mut st.k), seen(&mut k));
    hook(&mut c, &mut st, &h, &mut k, "jnet-release", &["--", "www"], 0);
    c.same("a second release changed nothing", seen(&mut st.k) == released.0, seen(&mut k) == released.1, true);
    c.finish();
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn recipe_5_netgraph_splice_eiface_and_release() {
    let mut c = Checks::new("programs: recipe 5 (ng_bridge on the NIC, eiface) start and stop");
    let (mut st, h, mut k) = hosts("recipe5");
    hook(&mut c, &mut st, &h, &mut k, "jnet-ngattach", &["--uplink", "igb0", "--", "www"], 0);
    hook(&mut c, &mut st, &h, &mut k, "jnet-ngattach", &["--uplink", "igb0", "--", "db"], 0);
    hook(&mut c, &mut st, &h, &mut k, "jnet-release", &["--", "www"], 0);
    hook(&mut c, &mut st, &h, &mut k, "jnet-release", &["--prune", "--", "db"], 0);
    c.finish();
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn a_point_to_point_host_end_and_a_host_address_waited_for() {
    let mut c = Checks::new("programs: --host-addr, --bridge-addr, jnet-ip6wait on the host");
    let (mut st, h, mut k) = hosts("hostaddr");
    let p2p = ["--host-addr", "10.9.0.1/30", "--host-addr", "2001:db8:7::1/64", "--", "p2p"];
    hook(&mut c, &mut st, &h, &mut k, "jnet-epair", &p2p, 0);
    // Real DAD timers on the stack: one probe, then RetransTimer (1 s).
    hook(&mut c, &mut st, &h, &mut k, "jnet-ip6wait", &["-i", "e0a_p2p", "-a", "2001:db8:7::1", "-t", "10"], 0);
    both!(c, st, k, "settled once jnet-ip6wait returned", |x| x.if_addr6_flags("e0a_p2p", v6("2001:db8:7::1")), Ok(0));
    // The hook again: its addresses are there, nothing changes and DAD does not start again.
    let once = (seen(&mut st.k), seen(&mut k));
    hook(&mut c, &mut st, &h, &mut k, "jnet-epair", &p2p, 0);
    unchanged(&mut c, "--host-addr twice changed nothing", &once, &(seen(&mut st.k), seen(&mut k)));
    both!(c, st, k, "still settled", |x| x.if_addr6_flags("e0a_p2p", v6("2001:db8:7::1")), Ok(0));
    hook(
        &mut c,
        &mut st,
        &h,
        &mut k,
        "jnet-epair",
        &["-b", "jails0", "--bridge-addr", "2001:db8:8::1/64", "--", "www"],
        0,
    );
    hook(&mut c, &mut st, &h, &mut k, "jnet-ip6wait", &["-i", "jails0", "-a", "2001:db8:8::1", "-t", "10"], 0);
    // The same address for another jail's host end: FreeBSD refuses a global address a
    // second interface of the vnet has (EEXIST), and jnet undoes what it made.
    hook(&mut c, &mut st, &h, &mut k, "jnet-epair", &["--host-addr", "2001:db8:8::1/64", "--", "dup"], 71);
    // Interfaces destroyed after their MLD timers ran (the stack's epochs, jnet_epoch.c).
    hook(&mut c, &mut st, &h, &mut k, "jnet-release", &["--", "p2p"], 0);
    hook(&mut c, &mut st, &h, &mut k, "jnet-release", &["--prune", "--", "www"], 0);
    c.finish();
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn names_taken_and_bad_input_change_nothing() {
    let mut c = Checks::new("programs: error paths");
    let (mut st, h, mut k) = hosts("errors");
    // The admin's own interface under the name jnet would give www's host end.
    for x in [&mut st.k as &mut dyn Interfaces, &mut k as &mut dyn Interfaces] {
        x.if_create("epair").unwrap();
        x.if_rename("epair0a", "e0a_www").unwrap();
    }
    hook(&mut c, &mut st, &h, &mut k, "jnet-epair", &["-b", "bridge0", "--", "www"], 78);
    hook(&mut c, &mut st, &h, &mut k, "jnet-epair", &["-b", "bridge0", "--uplink", "igb7", "--", "db"], 65);
    hook(&mut c, &mut st, &h, &mut k, "jnet-epair", &["--host-addr", "10.9.0.1/33", "--", "db"], 65);
    hook(&mut c, &mut st, &h, &mut k, "jnet-release", &["--", "www"], 0);
    c.finish();
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn parallel_starts_and_stops() {
    let mut c = Checks::new("programs: 8 jails started and stopped at once");
    let (mut st, h, mut k) = hosts("parallel");
    let jails: Vec<String> = (0..8).map(|i| format!("j{i}")).collect();
    for round in [["-b", "bridge0", "--uplink", "igb0", "--"].as_slice(), [].as_slice()] {
        let prog = if round.is_empty() { "jnet-release" } else { "jnet-epair" };
        std::thread::scope(|s| {
            for j in &jails {
                let (sock, h) = (&st.sock, &h);
                s.spawn(move || {
                    let mut args = round.to_vec();
                    if round.is_empty() {
                        args.push("--");
                    }
                    args.push(j);
                    let a = on_stack(sock, prog, &args);
                    let b = h.run(prog, &args);
                    assert!(a.status.success(), "{prog} {j} on the stack: {}", String::from_utf8_lossy(&a.stderr));
                    assert!(b.status.success(), "{prog} {j} on the sim: {}", String::from_utf8_lossy(&b.stderr));
                });
            }
        });
        // Bridge members come newest first, and the hooks ran in whatever order they ran.
        let unordered = |mut s: Seen| {
            for i in &mut s.ifaces {
                i.members.sort();
            }
            s
        };
        c.same_seen(&format!("after parallel {prog}"), unordered(seen(&mut st.k)), unordered(seen(&mut k)));
    }
    c.finish();
}

/// The link-local address of `name`, once DAD has settled it.
fn settled_link_local(k: &mut impl Interfaces, name: &str) -> Ipv6Addr {
    poll(|| {
        let ll =
            k.if_list().unwrap().into_iter().find(|i| i.name == name)?.addrs.into_iter().find_map(|c| {
                match c.addr {
                    IpAddr::V6(v) if v.segments()[0] == 0xfe80 => Some(v),
                    _ => None,
                }
            })?;
        (k.if_addr6_flags(name, ll) == Ok(0)).then_some(ll)
    })
    .unwrap_or_else(|| panic!("{name} has no settled link-local address"))
}

/// A duplicate found by a real neighbour, on both hosts: nbr, a VNET jail on jails0 through
/// its epair, holds 2001:db8:6::1; jnet-epair --bridge-addr gives jails0 the same address,
/// DAD's probe crosses the bridge and the epair, nbr answers it (nd6_ns_input) and the host
/// marks its address duplicated (nd6_dad_na_input); the sim finds the holder on the link
/// (lib/sim/link.rs). jnet-ip6wait fails at once with 78; nbr keeps its address.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn a_duplicate_found_by_dad_fails_jnet_ip6wait_at_once() {
    use jnet::kernel::Vnets;
    let mut c = Checks::new("programs: DAD finds a neighbour's address, jnet-ip6wait fails fast");
    let (mut st, h, mut k) = hosts("dupdad");
    let x = v6("2001:db8:6::1");
    hook(&mut c, &mut st, &h, &mut k, "jnet-epair", &["-b", "jails0", "--", "nbr"], 0);
    let nbr = jail_both(&mut c, &st, &h, "nbr");
    both!(c, st, k, "SIOCSIFVNET e0b_nbr", |x_| x_.if_move_to_jail("e0b_nbr", nbr), Ok("e0b_nbr".into()));
    configure_inside(&mut c, &mut st, &mut k, nbr, "e0b_nbr", &["2001:db8:6::1/64"]);
    let flags_inside = |y: &mut dyn Interfaces| settled(|| y.if_addr6_flags("e0b_nbr", x).unwrap());
    both!(c, st, k, "nbr's 2001:db8:6::1 past DAD", |x_| jexec(x_, nbr, |y| flags_inside(y)), 0);
    let www = ["-b", "jails0", "--bridge-addr", "2001:db8:6::1/64", "--", "www"];
    hook(&mut c, &mut st, &h, &mut k, "jnet-epair", &www, 0);
    hook(&mut c, &mut st, &h, &mut k, "jnet-ip6wait", &["-i", "jails0", "-a", "2001:db8:6::1", "-t", "10"], 78);
    both!(c, st, k, "jails0's 2001:db8:6::1 DUPLICATED", |x_| x_.if_addr6_flags("jails0", x), Ok(in6f::DUPLICATED));
    let kept = |y: &mut dyn Interfaces| y.if_addr6_flags("e0b_nbr", x);
    both!(c, st, k, "nbr's kept", |x_| jexec(x_, nbr, |y| kept(y)), Ok(0));
    remove_both(&st, &h, "nbr", nbr);
    c.finish();
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn recipe_9_a_vlan_of_the_nic() {
    let mut c = Checks::new("programs: recipe 9 (a VLAN of the NIC)");
    let (mut st, h, mut k) = hosts("vlan");
    // A vlan on a NIC without IFCAP_VLAN_MTU is 4 bytes smaller, and so is its bridge.
    let caps = nic_vlan_mtu_as_the_stacks(&mut st, &mut k);
    hook(&mut c, &mut st, &h, &mut k, "jnet-epair", &["-u", "igb0", "--vlan", "20", "--", "www"], 0);
    let want = if caps == 0 { 1496 } else { 1500 };
    both!(
        c,
        st,
        k,
        "the pair's MTU is the vlan's",
        |x| (x.if_mtu("e0a_www"), x.if_mtu("e0b_www")),
        (Ok(want), Ok(want))
    );
    // if_vlan.c vlan_clone_create gives a NIC.TAG vlan no unit (IF_DUNIT_NONE): its driver
    // name is the bare "vlan", so a driver name never tells one dotted vlan from another
    // (issue 20). The sim gave it a unit until this check.
    both!(c, st, k, "the driver name of igb0.20 (IF_DUNIT_NONE)", |x| x.if_driver("igb0.20"), Ok("vlan".to_string()));
    hook(&mut c, &mut st, &h, &mut k, "jnet-epair", &["-u", "igb0", "--vlan", "20", "--", "db"], 0);
    hook(&mut c, &mut st, &h, &mut k, "jnet-release", &["--prune", "--", "www"], 0);
    hook(&mut c, &mut st, &h, &mut k, "jnet-release", &["--prune", "--", "db"], 0);
    c.finish();
}

/// `f` run by a process attached to jail `jid` (jexec), on either host.
fn jexec<K, R>(k: &mut K, jid: i32, f: impl FnOnce(&mut K) -> R) -> R
where
    K: jnet::kernel::Vnets,
    R: serde::Serialize + serde::de::DeserializeOwned,
{
    k.in_jail_within(jid, Duration::from_secs(10), |x| Ok(f(x))).unwrap()
}

/// What `jexec JID ifconfig -a` shows on either host, link-local addresses left out.
fn listed_inside<K>(k: &mut K, jid: i32) -> Vec<IfSeen>
where
    K: Interfaces + jnet::kernel::Vnets,
{
    jexec(k, jid, |y| seen_ifaces(y))
}

/// A list without IPv6 link-local addresses: they follow the MAC, which the kernel chose
/// (random for an epair on FreeBSD, a counter on the sim).
fn but_link_local(mut l: Vec<(String, u32, u32, Vec<Cidr>)>) -> Vec<(String, u32, u32, Vec<Cidr>)> {
    for i in &mut l {
        i.3.retain(|c| !matches!(c.addr, IpAddr::V6(v) if v.segments()[0] == 0xfe80));
    }
    l
}

/// A host's list without its NIC (the stack's port has f-stack.ini's IPv4 address and no
/// link-local one, the sim's igb0 the other way round: set up differently, not compared).
fn but_nic(mut l: Vec<(String, u32, u32, Vec<Cidr>)>) -> Vec<(String, u32, u32, Vec<Cidr>)> {
    l.retain(|i| i.0 != "igb0" && i.0 != "f-stack-0");
    l
}

/// A jail with its own vnet on both hosts (`jail -c name=NAME vnet persist`): its jid.
fn jail_both(c: &mut Checks, st: &Stack, h: &Host, name: &str) -> i32 {
    c.vnets = true;
    let stack = st.jail_create(name);
    let sim: i32 = h.ok("jnet-sim", &["jail", "create", name, "--vnet"]).trim().parse().unwrap();
    c.same(&format!("jid of jail {name}"), stack, sim, stack);
    stack
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn vnet_jail_an_interface_moved_in_renamed_and_taken_back() {
    use jnet::kernel::{JailInfo, JailRef, Jails, Vnets};
    let mut c = Checks::new("vnet jail: SIOCSIFVNET, a rename inside, SIOCSIFRVNET");
    let (mut st, h, mut k) = fresh("vmove");
    let jid = jail_both(&mut c, &st, &h, "www");
    let want = Some(JailInfo { jid, name: "www".into(), vnet: true, dying: false });
    both!(c, st, k, "jail_get name=www", |x| x.jail(&JailRef::Name("www".into())).unwrap(), want.clone());
    both!(c, st, k, "jail_get jid", |x| x.jail(&JailRef::Jid(jid)).unwrap(), want.clone());
    both!(c, st, k, "jail_get lastjid=0", |x| x.jails().unwrap(), vec![want.clone().unwrap()]);
    // vnet_loif_init (if_loop.c): a new vnet has lo0, down until its rc raises it.
    let lo0 = ("lo0".to_string(), iff::LOOPBACK | iff::MULTICAST, 16384, vec![]);
    both!(c, st, k, "a new vnet's interfaces", |x| jexec(x, jid, listed), vec![lo0.clone()]);
    create_both(&mut st, &mut k, "epair");
    both!(c, st, k, "SIOCSIFVNET epair0b", |x| x.if_move_to_jail("epair0b", jid), Ok("epair0b".to_string()));
    both!(c, st, k, "epair0b gone from the host", |x| x.if_flags("epair0b"), Err(Errno::ENXIO));
    both!(c, st, k, "SIOCSIFVNET of a name not on the host", |x| x.if_move_to_jail("epair0b", jid), Err(Errno::ENXIO));
    both!(c, st, k, "SIOCSIFVNET to no jail", |x| x.if_move_to_jail("epair0a", 77), Err(Errno::ENXIO));
    both!(c, st, k, "inside after the move", |x| jexec(x, jid, listed).len(), 2);
    both!(c, st, k, "rename inside", |x| jexec(x, jid, |y| y.if_rename("epair0b", "vnet0")), Ok(()));
    both!(c, st, k, "SIOCSIFRVNET by the old name", |x| x.if_reclaim("epair0b", jid), Err(Errno::ENXIO));
    both!(c, st, k, "SIOCSIFRVNET vnet0", |x| x.if_reclaim("vnet0", jid), Ok("vnet0".to_string()));
    both!(c, st, k, "SIOCSIFRVNET again", |x| x.if_reclaim("vnet0", jid), Err(Errno::ENXIO));
    both!(c, st, k, "vnet0 on the host", |x| x.if_flags("vnet0").is_ok(), true);
    both!(c, st, k, "inside after", |x| jexec(x, jid, listed), vec![lo0.clone()]);
    c.same_seen("host after", but_nic(listed(&mut st.k)), but_nic(listed(&mut k)));
    c.finish();
}

/// `jail -r`: jail_remove(2) on both; no socket holds the stack's jail, so its vnet goes at
/// once (the sim: no linger).
fn remove_both(st: &Stack, h: &Host, name: &str, jid: i32) {
    st.jail_remove(jid).unwrap();
    h.ok("jnet-sim", &["jail", "remove", name]);
}

#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn vnet_jail_removed_what_was_lent_comes_home() {
    use jnet::kernel::{JailRef, Jails, Vnets};
    let mut c = Checks::new("vnet jail removed: vnet_if_return");
    let (mut st, h, mut k) = fresh("vreturn");
    let jid = jail_both(&mut c, &st, &h, "www");
    create_both(&mut st, &mut k, "epair");
    create_both(&mut st, &mut k, "epair");
    for end in ["epair0b", "epair1b"] {
        both!(c, st, k, format!("SIOCSIFVNET {end}"), |x| x.if_move_to_jail(end, jid), Ok(end.to_string()));
    }
    // Inside, as the jail's rc would: a rename, up, addresses.
    both!(c, st, k, "rename epair0b vnet0 inside", |x| jexec(x, jid, |y| y.if_rename("epair0b", "vnet0")), Ok(()));
    both!(
        c,
        st,
        k,
        "up inside",
        |x| jexec(x, jid, |y| {
            prepare_one(y, "vnet0", true);
            y.if_flags("vnet0")
        }),
        Ok(iff::UP | iff::BROADCAST | iff::RUNNING | iff::SIMPLEX | iff::MULTICAST)
    );
    both!(
        c,
        st,
        k,
        "10.1.0.2/24 inside",
        |x| jexec(x, jid, |y| y.if_add_addr("vnet0", cidr("10.1.0.2/24"), 0)),
        Ok(())
    );
    both!(
        c,
        st,
        k,
        "2001:db8:9::2/64 inside",
        |x| jexec(x, jid, |y| y.if_add_addr("vnet0", cidr("2001:db8:9::2/64"), 0)),
        Ok(())
    );
    // A name the host has: free inside the jail's vnet.
    both!(c, st, k, "rename epair1b epair0a inside", |x| jexec(x, jid, |y| y.if_rename("epair1b", "epair0a")), Ok(()));
    c.same_seen("inside before the removal", listed_inside(&mut st.k, jid), listed_inside(&mut k, jid));
    remove_both(&st, &h, "www", jid);
    both!(c, st, k, "jail_get after", |x| x.jail(&JailRef::Jid(jid)).unwrap(), None);
    // vnet_if_return (if.c): every interface whose home is the host goes back under the name
    // it had inside, even one the host has (13.0 and 14 check no name: two epair0a), and
    // if_vmove takes its addresses: VNET_IS_SHUTTING_DOWN is false at SI_SUB_VNET_DONE.
    c.same_seen("host after the removal", but_nic(listed(&mut st.k)), but_nic(listed(&mut k)));
    c.finish();
}

/// The same program on both hosts, then what each shows inside jail `jid` as well.
#[allow(clippy::too_many_arguments)]
fn hook_jail(
    c: &mut Checks,
    st: &mut Stack,
    h: &Host,
    k: &mut jnet::sim::Sim,
    prog: &str,
    args: &[&str],
    want: i32,
    jid: i32,
) {
    hook(c, st, h, k, prog, args, want);
    let what = format!("inside jail {jid} after {prog} {}", args.join(" "));
    c.same_seen(&what, listed_inside(&mut st.k, jid), listed_inside(k, jid));
}

/// `hook_jail`, then the same hook again (a hook run twice): it must succeed and change
/// nothing on either host, inside the jail or out.
#[allow(clippy::too_many_arguments)]
fn hook_jail_twice(
    c: &mut Checks,
    st: &mut Stack,
    h: &Host,
    k: &mut jnet::sim::Sim,
    prog: &str,
    args: &[&str],
    jid: i32,
) {
    hook_jail(c, st, h, k, prog, args, 0, jid);
    let once = (seen(&mut st.k), seen(k), listed_inside(&mut st.k, jid), listed_inside(k, jid));
    hook_jail(c, st, h, k, prog, args, 0, jid);
    let again = (seen(&mut st.k), seen(k), listed_inside(&mut st.k, jid), listed_inside(k, jid));
    c.same(
        &format!("{prog} {} a second time changed nothing", args.join(" ")),
        (again.0 == once.0, again.2 == once.2),
        (again.1 == once.1, again.3 == once.3),
        (true, true),
    );
}

/// Recipe 8 for two jails (exec.created: the epair made, its jail end moved in, renamed,
/// addressed and routed from inside), jnet-ip6wait for each, then packets across the bridge:
/// ICMP and ICMPv6 echoes and TCP from a jail to the host's bridge address and to the other
/// jail, through FreeBSD's if_epair, if_bridge, IPv4, IPv6, ND and TCP code; then jail -r and
/// exec.poststop.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn recipe_8_two_jails_on_a_bridge_and_packets_between_them() {
    use stack::traffic::{ping, tcp_exchange, v4, v6};
    let mut c = Checks::new("programs: recipe 8 (two VNET jails on jails0), packets across");
    let (mut st, h, mut k) = hosts("recipe8");
    let jails = [("www", 10u16), ("db", 11)];
    let mut jids = vec![];
    for (name, host) in jails {
        let jid = jail_both(&mut c, &st, &h, name);
        let addr4 = format!("10.8.0.{host}/24");
        let addr6 = format!("2001:db8:8::{host}/64");
        let args = [
            "-b",
            "jails0",
            "--bridge-addr",
            "10.8.0.1/24",
            "--bridge-addr",
            "2001:db8:8::1/64",
            "--ifname",
            "vnet0",
            "--addr",
            &addr4,
            "--addr",
            &addr6,
            "--gateway",
            "10.8.0.1",
            "--",
            name,
        ];
        hook_jail_twice(&mut c, &mut st, &h, &mut k, "jnet-epair", &args, jid);
        hook(&mut c, &mut st, &h, &mut k, "jnet-ip6wait", &["-t", "10", "--", name], 0);
        jids.push(jid);
    }
    let sock = st.sock.clone();
    let ctl = || jnet::freebsd::stackhost::StackHost::connect(&sock).unwrap();
    let mut www = st.ctl().attached(jids[0]).unwrap();
    let mut db = st.ctl().attached(jids[1]).unwrap();
    c.stack_only("ping 10.8.0.1 (the host's jails0) from www", ping(&mut www, v4(8, 1), 1), true);
    c.stack_only("ping6 2001:db8:8::1 from www", ping(&mut www, v6(8, 1), 2), true);
    c.stack_only("ping 10.8.0.11 (db) from www", ping(&mut www, v4(8, 11), 3), true);
    c.stack_only("ping6 2001:db8:8::11 (db) from www", ping(&mut www, v6(8, 11), 4), true);
    c.stack_only("ping 10.8.0.10 (www) from the host", ping(&mut ctl(), v4(8, 10), 5), true);
    c.stack_only("TCP www -> 10.8.0.1:7", tcp_exchange(&mut www, &mut ctl(), v4(8, 1), 7), Ok(()));
    c.stack_only("TCP www -> [2001:db8:8::11]:8 (db)", tcp_exchange(&mut www, &mut db, v6(8, 11), 8), Ok(()));
    c.stack_only("no answer from 10.8.0.99", ping(&mut db, v4(8, 99), 6), false);
    drop((www, db));
    for ((name, _), jid) in jails.iter().zip(&jids) {
        remove_both(&st, &h, name, *jid);
        hook(&mut c, &mut st, &h, &mut k, "jnet-release", &["--prune", "--", name], 0);
    }
    c.finish();
}

/// The seed article's case on FreeBSD's code: a NIC lent to a VNET jail (recipe 7), a TCP
/// connection the jail closed first (its TIME_WAIT keeps the jail's cred, so `jail -r` leaves
/// the jail dying, its vnet and the NIC in it), and exec.poststop's jnet-release taking the NIC
/// home at once from the dying jail; the jail and its vnet go when TIME_WAIT ends (2 MSL; the
/// sim lingers as long).
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn recipe_7_a_nic_reclaimed_at_once_from_a_jail_kept_dying_by_time_wait() {
    use jnet::kernel::{JailInfo, JailRef, Jails, Vnets};
    use stack::traffic::{tcp_exchange, v4};
    let mut c = Checks::new("programs: recipe 7 (a NIC lent), the jail dying in TIME_WAIT");
    let (mut st, h, mut k) = hosts("recipe7");
    // net.inet.tcp.msl (tcp_timer.c, milliseconds, one for all vnets): TIME_WAIT lasts 2 MSL.
    let msl_ms = 1500u32;
    let mut ctl = st.ctl();
    let mib = jnet::freebsd::sys::Syscalls::sysctl_mib(&mut ctl, "net.inet.tcp.msl").unwrap();
    ctl.sysctl(&mib, 4, &msl_ms.to_ne_bytes()).unwrap();
    // exec.prestart: before the jail exists.
    hook(&mut c, &mut st, &h, &mut k, "jnet-nic", &["--iface", "igb0", "--", "www"], 0);
    let jid = jail_both(&mut c, &st, &h, "www");
    // vnet.interface = "igb0": jail(8) moves it after exec.created.
    let p2p = ["--host-addr", "10.9.0.1/30", "--addr", "10.9.0.2/30", "--", "www"];
    hook_jail(&mut c, &mut st, &h, &mut k, "jnet-epair", &p2p, 0, jid);
    both!(c, st, k, "SIOCSIFVNET igb0 (vnet.interface)", |x| x.if_move_to_jail("igb0", jid), Ok("igb0".to_string()));
    let mut www = st.ctl().attached(jid).unwrap();
    c.stack_only("TCP www -> 10.9.0.1:7, closed by www", tcp_exchange(&mut www, &mut st.ctl(), v4(9, 1), 7), Ok(()));
    drop(www);
    st.jail_remove(jid).unwrap();
    h.ok("jnet-sim", &["jail", "remove", "www", "--linger", &format!("{}", 2 * msl_ms / 1000 + 1)]);
    let dying = Some(JailInfo { jid, name: "www".into(), vnet: true, dying: true });
    both!(c, st, k, "jail -r: dying, held by TIME_WAIT", |x| x.jail(&JailRef::Name("www".into())).unwrap(), dying);
    both!(c, st, k, "igb0 still in the dying jail", |x| x.if_flags("igb0").is_ok(), false);
    hook(&mut c, &mut st, &h, &mut k, "jnet-release", &["--iface", "igb0", "--wait", "30", "--", "www"], 0);
    both!(c, st, k, "igb0 home at once", |x| x.if_flags("igb0").is_ok(), true);
    // TIME_WAIT ends (the stack's tcp_tw_2msl_scan; the sim's linger): the jail goes.
    let gone = |x: &mut dyn Jails| poll(|| x.jail(&JailRef::Jid(jid)).unwrap().is_none().then_some(())).is_some();
    both!(c, st, k, "the jail gone after 2 MSL", |x| gone(x), true);
    c.same_seen("the host at the end", seen(&mut st.k), seen(&mut k));
    c.finish();
}

/// Recipe 7 start to stop, twice, with packets over the lent NIC: jnet-nic records igb2,
/// jail(8) moves it in (vnet.interface), the jail's rc renames it lan0 and addresses it,
/// ICMP, ICMPv6 and TCP cross the cable between igb2 in the jail's vnet and igb1 on the host
/// (both ways: the host's daemon reached from the jail, the jail's from the host), jnet-nic
/// --track notes the name inside, jail -r, and jnet-release takes igb2 home under its own
/// name. The second round finds the host as the first left it and ends the same.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn recipe_7_whole_twice_with_packets_over_the_lent_nic() {
    use jnet::kernel::Vnets;
    use stack::traffic::{ping, tcp_exchange};
    let mut c = Checks::new("programs: recipe 7 whole twice (igb2 lent, renamed inside), packets over the cable");
    let (mut st, h, mut k) = hosts_wired("recipe7w");
    both!(c, st, k, "igb1's IPv6 address", |x| x.if_add_addr("igb1", cidr("2001:db8:7::1/64"), 0), Ok(()));
    both!(
        c,
        st,
        k,
        "igb1's IPv6 address past DAD",
        |x| settled(|| x.if_addr6_flags("igb1", v6("2001:db8:7::1")).unwrap()),
        0
    );
    let host_v4: IpAddr = "198.51.100.1".parse().unwrap();
    let host_v6 = IpAddr::V6(v6("2001:db8:7::1"));
    let (jail_v4, jail_v6): (IpAddr, IpAddr) = ("198.51.100.20".parse().unwrap(), IpAddr::V6(v6("2001:db8:7::20")));
    let mut ends = vec![];
    for round in 1..=2 {
        hook(&mut c, &mut st, &h, &mut k, "jnet-nic", &["--iface", "igb2", "--", "dmz"], 0);
        let jid = jail_both(&mut c, &st, &h, "dmz");
        both!(
            c,
            st,
            k,
            format!("round {round}: SIOCSIFVNET igb2"),
            |x| x.if_move_to_jail("igb2", jid),
            Ok("igb2".into())
        );
        // The jail's rc.conf: ifconfig_igb2_name="lan0", ifconfig_lan0="inet 198.51.100.20/24",
        // ifconfig_lan0_ipv6="inet6 2001:db8:7::20/64".
        both!(c, st, k, "rename igb2 lan0 inside", |x| jexec(x, jid, |y| y.if_rename("igb2", "lan0")), Ok(()));
        configure_inside(&mut c, &mut st, &mut k, jid, "lan0", &["198.51.100.20/24", "2001:db8:7::20/64"]);
        c.same_seen("inside after the jail's rc", listed_inside(&mut st.k, jid), listed_inside(&mut k, jid));
        // A tentative address is no source (in6_selectsrc: EADDRNOTAVAIL): what runs next waits.
        let past_dad = |y: &mut dyn Interfaces| settled(|| y.if_addr6_flags("lan0", v6("2001:db8:7::20")).unwrap());
        both!(c, st, k, "2001:db8:7::20 past DAD inside", |x| jexec(x, jid, |y| past_dad(y)), 0);
        let mut dmz = st.ctl().attached(jid).unwrap();
        let mut host = st.ctl();
        for (from_jail, dst) in [(true, host_v4), (true, host_v6), (false, jail_v4), (false, jail_v6)] {
            let (who, got) =
                if from_jail { ("dmz", ping(&mut dmz, dst, 7)) } else { ("the host", ping(&mut host, dst, 7)) };
            c.stack_only(&format!("round {round}: ping {dst} from {who} over the cable"), got, true);
        }
        // The host's client closes first: TIME_WAIT stays on the host, not in the jail.
        c.stack_only("TCP dmz -> 198.51.100.1:7", tcp_exchange(&mut dmz, &mut host, host_v4, 7), Ok(()));
        c.stack_only("TCP the host -> [2001:db8:7::20]:22", tcp_exchange(&mut host, &mut dmz, jail_v6, 22), Ok(()));
        drop(dmz);
        hook_jail(&mut c, &mut st, &h, &mut k, "jnet-nic", &["--track", "--iface", "igb2", "--", "dmz"], 0, jid);
        remove_both(&st, &h, "dmz", jid);
        hook(&mut c, &mut st, &h, &mut k, "jnet-release", &["--iface", "igb2", "--wait", "30", "--", "dmz"], 0);
        let bare = |x: &mut dyn Interfaces| {
            let l = but_link_local(listed(x));
            l.into_iter().find(|i| i.0 == "igb2").map(|i| i.3)
        };
        both!(c, st, k, "igb2 home, bare", |x| bare(x), Some(vec![]));
        let end = (seen(&mut st.k), seen(&mut k));
        c.same_seen(&format!("round {round}: the host at the end"), &end.0, &end.1);
        ends.push(end);
    }
    unchanged(&mut c, "the second round ended as the first", &ends[0], &ends[1]);
    c.finish();
}

/// Recipe 1 on FreeBSD's code: jail(8) adds the jail's ip6.addr to igb1 (DAD starts) and
/// makes an IP-sharing jail with it; exec.created's jnet-ip6wait waits for DAD, after which
/// the jail's daemon can bind the address, and another host on igb1's link (a VNET jail
/// holding igb2, cabled to igb1) reaches it over the cable; the jail's own connection leaves
/// from its address. in6_jail.c and in_jail.c restrict the jail's sockets: no IPv4 (none
/// given), no address but its own. jail -r takes the address off igb1.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn recipe_1_an_ip_sharing_jail_its_daemon_bound_after_dad_and_reached() {
    use jnet::kernel::{JailRef, Jails};
    use stack::traffic::{ping, tcp_bind, tcp_exchange};
    let mut c = Checks::new("programs: recipe 1 (an IP-sharing jail on igb1), bound after DAD, reached over the cable");
    let (mut st, h, mut k) = hosts_wired("recipe1");
    // web's own connection leaves TIME_WAIT in web (net.inet.tcp.msl, ms; 2 MSL): short, so
    // that jail -r sees web go within the poll.
    let mut ctl = st.ctl();
    let mib = jnet::freebsd::sys::Syscalls::sysctl_mib(&mut ctl, "net.inet.tcp.msl").unwrap();
    ctl.sysctl(&mib, 4, &1500u32.to_ne_bytes()).unwrap();
    let (web_ip, nbr_ip) = (v6("2001:db8::80"), v6("2001:db8::99"));
    // Another host on igb1's link: a VNET jail with igb2 and 2001:db8::99.
    let nbr = jail_both(&mut c, &st, &h, "nbr");
    both!(
        c,
        st,
        k,
        "SIOCSIFVNET igb2 to nbr",
        |x| jnet::kernel::Vnets::if_move_to_jail(x, "igb2", nbr),
        Ok("igb2".into())
    );
    configure_inside(&mut c, &mut st, &mut k, nbr, "igb2", &["2001:db8::99/64"]);
    let past_dad = |y: &mut dyn Interfaces| settled(|| y.if_addr6_flags("igb2", nbr_ip).unwrap());
    both!(c, st, k, "2001:db8::99 past DAD in nbr", |x| jexec(x, nbr, |y| past_dad(y)), 0);
    // jail(8): ip6.addr = "igb1|2001:db8::80/64" (ifconfig igb1 inet6 2001:db8::80/64 alias),
    // then the jail; the sim's jail create does both.
    st.k.if_add_addr("igb1", cidr("2001:db8::80/64"), 0).unwrap();
    let web = st.jail_create_sharing("web", &[web_ip]);
    let mut daemon = st.ctl().attached(web).unwrap();
    // Why exec.created waits: a tentative address cannot be bound (in6_pcbbind). DAD lasts
    // at least a second (nd6_dad_start, one probe at net.inet6.ip6.retrans).
    c.stack_only(
        "web's daemon binds [2001:db8::80]:80 during DAD",
        tcp_bind(&mut daemon, web_ip.into(), 80),
        Err(Errno::EADDRNOTAVAIL),
    );
    let sim: i32 =
        h.ok("jnet-sim", &["jail", "create", "web", "--ip6", "igb1|2001:db8::80/64"]).trim().parse().unwrap();
    c.same("jid of jail web", web, sim, web);
    c.same_seen("after jail -c web", seen(&mut st.k), seen(&mut k));
    both!(c, st, k, "web's ip6.addr (jail_get)", |x| x.jail_ip6(web), Ok(vec![web_ip]));
    hook(&mut c, &mut st, &h, &mut k, "jnet-ip6wait", &["--", "web"], 0);
    both!(c, st, k, "2001:db8::80 past DAD on igb1", |x| x.if_addr6_flags("igb1", web_ip), Ok(0));
    // The hook run again finds nothing to wait for.
    hook(&mut c, &mut st, &h, &mut k, "jnet-ip6wait", &["--", "web"], 0);
    c.stack_only(
        "web's daemon binds [2001:db8::80]:80 after jnet-ip6wait",
        tcp_bind(&mut daemon, web_ip.into(), 80),
        Ok(()),
    );
    // The jail's restrictions: no IPv4 socket (uipc_socket.c socreate: prison_check_af
    // refuses, EPROTONOSUPPORT), no address but its own (prison_local_ip6).
    let host_v4: IpAddr = "198.51.100.1".parse().unwrap();
    c.stack_only(
        "web opens an IPv4 socket (no ip4.addr)",
        tcp_bind(&mut daemon, host_v4, 80),
        Err(Errno::EPROTONOSUPPORT),
    );
    let other = IpAddr::V6(v6("2001:db8::81"));
    st.k.if_add_addr("igb1", cidr("2001:db8::81/64"), 0).unwrap();
    // Past DAD, so that only the jail can refuse it.
    c.stack_only(
        "the host's 2001:db8::81 past DAD",
        settled(|| st.k.if_addr6_flags("igb1", v6("2001:db8::81")).unwrap()),
        0,
    );
    c.stack_only("web binds the host's 2001:db8::81", tcp_bind(&mut daemon, other, 80), Err(Errno::EADDRNOTAVAIL));
    let host = &mut st.ctl();
    c.stack_only("the host binds it", tcp_bind(host, other, 80), Ok(()));
    st.k.if_del_addr("igb1", other).unwrap();
    // Over the cable: nbr (igb2) to web's address on igb1, and web's own connection out.
    let mut nbr_host = st.ctl().attached(nbr).unwrap();
    c.stack_only("ping 2001:db8::80 from nbr over the cable", ping(&mut nbr_host, web_ip.into(), 1), true);
    c.stack_only(
        "TCP nbr -> [2001:db8::80]:80 (web's daemon)",
        tcp_exchange(&mut nbr_host, &mut daemon, web_ip.into(), 80),
        Ok(()),
    );
    c.stack_only(
        "TCP web -> [2001:db8::99]:7 (nbr)",
        tcp_exchange(&mut daemon, &mut nbr_host, nbr_ip.into(), 7),
        Ok(()),
    );
    drop((daemon, nbr_host));
    // jail -r web: the jail goes, then jail(8) takes the address off igb1.
    st.jail_remove(web).unwrap();
    st.k.if_del_addr("igb1", web_ip.into()).unwrap();
    h.ok("jnet-sim", &["jail", "remove", "web"]);
    let gone = |x: &mut dyn Jails| poll(|| x.jail(&JailRef::Jid(web)).unwrap().is_none().then_some(())).is_some();
    both!(c, st, k, "web gone", |x| gone(x), true);
    remove_both(&st, &h, "nbr", nbr);
    c.same_seen("the host at the end (igb2 home)", seen(&mut st.k), seen(&mut k));
    c.finish();
}

/// What the jail's rc would do with an interface jail(8) moved in (`ifconfig_IF="up"`,
/// IPv6 enabled, addresses), on both hosts.
fn configure_inside(c: &mut Checks, st: &mut Stack, k: &mut jnet::sim::Sim, jid: i32, ifname: &str, addrs: &[&str]) {
    let set = |y: &mut dyn Interfaces| -> Result<(), Errno> {
        prepare_one(y, ifname, true);
        for a in addrs {
            y.if_add_addr(ifname, cidr(a), 0)?;
        }
        Ok(())
    };
    both!(c, st, (*k), format!("rc inside jail {jid}: {ifname} up, {addrs:?}"), |x| jexec(x, jid, |y| set(y)), Ok(()));
}

/// jail -r and exec.poststop on both hosts for each jail.
fn stop_all(c: &mut Checks, st: &mut Stack, h: &Host, k: &mut jnet::sim::Sim, jails: &[(&str, i32)], release: &[&str]) {
    for (name, jid) in jails {
        remove_both(st, h, name, *jid);
        let mut args = release.to_vec();
        args.extend_from_slice(&["--", name]);
        hook(c, st, h, k, "jnet-release", &args, 0);
    }
}

/// Recipe 2 whole: jnet-epair in exec.prestart (bridge0 with igb0 as its uplink), jail(8)
/// moving e0b_www in (vnet.interface), the jail's rc addressing it, packets from the jail to the
/// host's address on igb0 (a bridge member: if_bridge hands a frame for a member's MAC to that
/// member), jail -r (vnet_if_return brings e0b_www home) and exec.poststop.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn recipe_2_whole_with_vnet_interface_and_packets_to_the_nic() {
    use jnet::kernel::Vnets;
    use stack::traffic::{ping, tcp_exchange};
    let mut c = Checks::new("programs: recipe 2 whole (vnet.interface, jail -r), packets to igb0");
    let (mut st, h, mut k) = hosts("recipe2w");
    // The stack's igb0 has f-stack.ini's 192.0.2.2/24; the sim's gets the same.
    k.if_add_addr("igb0", cidr("192.0.2.2/24"), 0).unwrap();
    hook(&mut c, &mut st, &h, &mut k, "jnet-epair", &["-b", "bridge0", "--uplink", "igb0", "--", "www"], 0);
    let jid = jail_both(&mut c, &st, &h, "www");
    both!(c, st, k, "vnet.interface e0b_www", |x| x.if_move_to_jail("e0b_www", jid), Ok("e0b_www".to_string()));
    configure_inside(&mut c, &mut st, &mut k, jid, "e0b_www", &["192.0.2.50/24"]);
    let mut www = st.ctl().attached(jid).unwrap();
    let nic: IpAddr = "192.0.2.2".parse().unwrap();
    c.stack_only("ping 192.0.2.2 (igb0, a bridge member) from www", ping(&mut www, nic, 1), true);
    c.stack_only("TCP www -> 192.0.2.2:80", tcp_exchange(&mut www, &mut st.ctl(), nic, 80), Ok(()));
    drop(www);
    stop_all(&mut c, &mut st, &h, &mut k, &[("www", jid)], &[]);
    c.finish();
}

/// Recipe 4: a point-to-point epair made in exec.created, both ends addressed (the jail's from
/// inside), jnet-ip6wait in the jail's vnet, echoes both ways with IPv4 and IPv6.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn recipe_4_point_to_point_into_a_jail_and_packets_both_ways() {
    use stack::traffic::{ping, v4, v6 as a6};
    let mut c = Checks::new("programs: recipe 4 (point-to-point into a jail), packets both ways");
    let (mut st, h, mut k) = hosts("recipe4");
    let jid = jail_both(&mut c, &st, &h, "www");
    let args = [
        "--host-addr",
        "10.9.0.1/30",
        "--addr",
        "10.9.0.2/30",
        "--host-addr",
        "2001:db8:4::1/64",
        "--addr",
        "2001:db8:4::2/64",
        "--",
        "www",
    ];
    hook_jail_twice(&mut c, &mut st, &h, &mut k, "jnet-epair", &args, jid);
    hook(&mut c, &mut st, &h, &mut k, "jnet-ip6wait", &["-t", "10", "--", "www"], 0);
    hook(&mut c, &mut st, &h, &mut k, "jnet-ip6wait", &["-i", "e0a_www", "-a", "2001:db8:4::1", "-t", "10"], 0);
    let mut www = st.ctl().attached(jid).unwrap();
    c.stack_only("ping 10.9.0.1 from www", ping(&mut www, v4(9, 1), 1), true);
    c.stack_only("ping6 2001:db8:4::1 from www", ping(&mut www, a6(4, 1), 2), true);
    c.stack_only("ping 10.9.0.2 from the host", ping(&mut st.ctl(), v4(9, 2), 3), true);
    c.stack_only("ping6 2001:db8:4::2 from the host", ping(&mut st.ctl(), a6(4, 2), 4), true);
    drop(www);
    stop_all(&mut c, &mut st, &h, &mut k, &[("www", jid)], &[]);
    c.finish();
}

/// Recipe 5 whole: jnet-ngattach in exec.prestart (an ng_bridge spliced onto igb0, an
/// ng_eiface), jail(8) moving ng0_www in, the jail's rc addressing it, packets from the jail to
/// the host's address on igb0 through ng_eiface, ng_bridge and ng_ether's upper hook.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn recipe_5_whole_an_eiface_in_a_jail_and_packets_through_netgraph() {
    use jnet::kernel::Vnets;
    use stack::traffic::{ping, tcp_exchange};
    let mut c = Checks::new("programs: recipe 5 whole (ng_eiface in a jail), packets through netgraph");
    let (mut st, h, mut k) = hosts("recipe5w");
    k.if_add_addr("igb0", cidr("192.0.2.2/24"), 0).unwrap();
    hook(&mut c, &mut st, &h, &mut k, "jnet-ngattach", &["--uplink", "igb0", "--", "www"], 0);
    let jid = jail_both(&mut c, &st, &h, "www");
    both!(c, st, k, "vnet.interface ng0_www", |x| x.if_move_to_jail("ng0_www", jid), Ok("ng0_www".to_string()));
    configure_inside(&mut c, &mut st, &mut k, jid, "ng0_www", &["192.0.2.51/24"]);
    c.same_seen("the host with ng0_www in the jail", seen(&mut st.k), seen(&mut k));
    let mut www = st.ctl().attached(jid).unwrap();
    let nic: IpAddr = "192.0.2.2".parse().unwrap();
    c.stack_only("ping 192.0.2.2 from www through ng_bridge", ping(&mut www, nic, 1), true);
    c.stack_only("TCP www -> 192.0.2.2:80 through ng_bridge", tcp_exchange(&mut www, &mut st.ctl(), nic, 80), Ok(()));
    drop(www);
    stop_all(&mut c, &mut st, &h, &mut k, &[("www", jid)], &["--prune"]);
    c.finish();
}

/// Recipe 6: a standalone ng_bridge joining two jails (jnet-ngattach --virtual in
/// exec.created, the eiface moved in and addressed from inside), packets between the jails.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn recipe_6_two_jails_on_a_virtual_ng_bridge_and_packets_between_them() {
    use stack::traffic::{ping, tcp_exchange, v4};
    let mut c = Checks::new("programs: recipe 6 (two jails on a virtual ng_bridge), packets between");
    let (mut st, h, mut k) = hosts("recipe6");
    let mut jails = vec![];
    for (name, host) in [("www", 2u8), ("db", 3)] {
        let jid = jail_both(&mut c, &st, &h, name);
        let addr = format!("10.7.0.{host}/24");
        let args = ["--virtual", "-b", "vbr0", "--ifname", "vnet0", "--addr", &addr, "--", name];
        hook_jail_twice(&mut c, &mut st, &h, &mut k, "jnet-ngattach", &args, jid);
        jails.push((name, jid));
    }
    let mut www = st.ctl().attached(jails[0].1).unwrap();
    let mut db = st.ctl().attached(jails[1].1).unwrap();
    c.stack_only("ping 10.7.0.3 (db) from www", ping(&mut www, v4(7, 3), 1), true);
    c.stack_only("TCP www -> 10.7.0.3:5432 (db)", tcp_exchange(&mut www, &mut db, v4(7, 3), 5432), Ok(()));
    drop((www, db));
    stop_all(&mut c, &mut st, &h, &mut k, &jails, &["--prune"]);
    c.finish();
}

/// Recipe 9 with jails, twice: two jails' epairs on the bridge of VLAN 20 of igb0
/// (exec.prestart), moved in by jail(8) and addressed inside; ICMP and TCP between the jails;
/// jail -r and exec.poststop --prune (the vlan and its bridge go with the last jail). The
/// second round makes them again and ends as the first.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn recipe_9_two_jails_on_a_vlan_bridge_and_packets_between_them() {
    use jnet::kernel::Vnets;
    use stack::traffic::{ping, tcp_exchange, v4};
    let mut c = Checks::new("programs: recipe 9 (two jails on VLAN 20's bridge) twice, packets between");
    let (mut st, h, mut k) = hosts("recipe9j");
    nic_vlan_mtu_as_the_stacks(&mut st, &mut k);
    let mut ends = vec![];
    for round in 1..=2 {
        let mut jails = vec![];
        for (name, host) in [("www", 2u8), ("db", 3)] {
            hook(&mut c, &mut st, &h, &mut k, "jnet-epair", &["-u", "igb0", "--vlan", "20", "--", name], 0);
            let jid = jail_both(&mut c, &st, &h, name);
            let end = format!("e0b_{name}");
            both!(c, st, k, format!("vnet.interface {end}"), |x| x.if_move_to_jail(&end, jid), Ok(end.clone()));
            configure_inside(&mut c, &mut st, &mut k, jid, &end, &[&format!("10.20.0.{host}/24")]);
            jails.push((name, jid));
        }
        let mut www = st.ctl().attached(jails[0].1).unwrap();
        let mut db = st.ctl().attached(jails[1].1).unwrap();
        c.stack_only(&format!("round {round}: ping 10.20.0.3 (db) from www"), ping(&mut www, v4(20, 3), 1), true);
        // db's client closes first: its TIME_WAIT keeps db dying after jail -r on the stack
        // (the sim's goes at once; no check here tells them apart), jnet-release --prune
        // still takes its epair, and the next round's db is a new jail beside the dying one
        // (kern_jail_set lets a dying jail's name be taken).
        c.stack_only("TCP db -> 10.20.0.2:7 (www)", tcp_exchange(&mut db, &mut www, v4(20, 2), 7), Ok(()));
        drop((www, db));
        stop_all(&mut c, &mut st, &h, &mut k, &jails, &["--prune"]);
        ends.push((seen(&mut st.k), seen(&mut k)));
    }
    unchanged(&mut c, "the second round ended as the first", &ends[0], &ends[1]);
    c.finish();
}

/// A jail that shares the host's vnet: jail_get says so, nothing can be moved into it (if.c
/// if_vmove_loan: the same vnet, EEXIST), and jnet-epair refuses it before making anything.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn a_jail_without_its_own_vnet() {
    use jnet::kernel::{JailInfo, JailRef, Jails, Vnets};
    let mut c = Checks::new("a jail without its own vnet");
    let (mut st, h, mut k) = hosts("novnet");
    let jid = st.jail_create_shared("shared");
    let sim: i32 = h.ok("jnet-sim", &["jail", "create", "shared"]).trim().parse().unwrap();
    c.same("jid of jail shared", jid, sim, jid);
    let want = Some(JailInfo { jid, name: "shared".into(), vnet: false, dying: false });
    both!(c, st, k, "jail_get name=shared", |x| x.jail(&JailRef::Name("shared".into())).unwrap(), want);
    create_both(&mut st, &mut k, "epair");
    both!(c, st, k, "SIOCSIFVNET into the host's own vnet", |x| x.if_move_to_jail("epair0b", jid), Err(Errno::EEXIST));
    // EX_NOHOST: "jail shared (jid 1) has no vnet of its own: set vnet = new in jail.conf".
    hook(&mut c, &mut st, &h, &mut k, "jnet-epair", &["-b", "bridge0", "--addr", "10.0.0.2/24", "--", "shared"], 68);
    c.finish();
}

/// SIOCSIFVNET and SIOCSIFRVNET between two jails: an interface another jail holds, the wrong
/// jail, a name the jail's vnet already has (each vnet numbers its own epairs), and an
/// interface born inside a jail taken to the host, where its name is taken already (if.c's
/// if_vmove_reclaim checks no name on the host).
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn moves_between_two_jails_and_their_errnos() {
    use jnet::kernel::Vnets;
    let mut c = Checks::new("vnet jails: moves between two jails, their errnos");
    let (mut st, h, mut k) = fresh("twojails");
    let a = jail_both(&mut c, &st, &h, "a");
    let b = jail_both(&mut c, &st, &h, "b");
    create_both(&mut st, &mut k, "epair");
    both!(c, st, k, "epair0b into a", |x| x.if_move_to_jail("epair0b", a), Ok("epair0b".to_string()));
    both!(c, st, k, "epair0b into b, from the host", |x| x.if_move_to_jail("epair0b", b), Err(Errno::ENXIO));
    both!(c, st, k, "SIOCSIFRVNET epair0b from b", |x| x.if_reclaim("epair0b", b), Err(Errno::ENXIO));
    both!(c, st, k, "SIOCSIFRVNET epair0b from a", |x| x.if_reclaim("epair0b", a), Ok("epair0b".to_string()));
    both!(c, st, k, "an epair made inside a", |x| jexec(x, a, |y| y.if_create("epair")), Ok("epair0a".to_string()));
    both!(c, st, k, "epair0b into a, which has one", |x| x.if_move_to_jail("epair0b", a), Err(Errno::EEXIST));
    both!(
        c,
        st,
        k,
        "a's epair0a to the host, which has one",
        |x| x.if_reclaim("epair0a", a),
        Ok("epair0a".to_string())
    );
    c.same_seen("the host after", but_link_local(but_nic(listed(&mut st.k))), but_link_local(but_nic(listed(&mut k))));
    c.same_seen("inside a after", listed_inside(&mut st.k, a), listed_inside(&mut k, a));
    c.finish();
}

/// A jail removed without its exec.poststop (the host crashed between): the epair jnet made
/// in exec.prestart comes home by vnet_if_return, and `jnet-release --stale` finds it by its
/// marks and destroys it.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn a_jail_gone_without_its_poststop_is_swept_by_stale() {
    use jnet::kernel::Vnets;
    let mut c = Checks::new("programs: a jail gone without exec.poststop, jnet-release --stale");
    let (mut st, h, mut k) = hosts("stalejail");
    hook(&mut c, &mut st, &h, &mut k, "jnet-epair", &["-b", "bridge0", "--", "www"], 0);
    let jid = jail_both(&mut c, &st, &h, "www");
    both!(c, st, k, "vnet.interface e0b_www", |x| x.if_move_to_jail("e0b_www", jid), Ok("e0b_www".to_string()));
    configure_inside(&mut c, &mut st, &mut k, jid, "e0b_www", &["10.3.0.5/24"]);
    remove_both(&st, &h, "www", jid);
    // if_vmove from the dying vnet: 13.0's if_detach_internal asks if_clone_findifc, which
    // looks among the dying vnet's own cloners, where an epair made on the host is not, so
    // the "epair" group is not given back; 14's if_clone_restoregroup finds the cloner in the
    // interface's home vnet and gives it back (net/if_clone.c). The sim follows 14.
    let all = || vec!["all".to_string()];
    let with_cloner = || vec!["all".to_string(), "epair".to_string()];
    c.versions(
        "e0b_www's groups after vnet_if_return",
        st.k.if_groups("e0b_www"),
        k.if_groups("e0b_www"),
        Ok(all()),
        Ok(with_cloner()),
    );
    let groups_left_out = |mut s: Seen| {
        for i in &mut s.ifaces {
            if i.name == "e0b_www" {
                i.groups.clear();
            }
        }
        s
    };
    c.same_seen("e0b_www home, bare", groups_left_out(seen(&mut st.k)), groups_left_out(seen(&mut k)));
    hook(&mut c, &mut st, &h, &mut k, "jnet-release", &["--stale"], 0);
    c.finish();
}

/// Eight jails at once, each its own jnet-epair in exec.created (the pair made, the jail end
/// moved in and configured from inside), on one bridge; then all released at once.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn eight_jails_started_into_their_vnets_at_once() {
    let mut c = Checks::new("programs: 8 VNET jails started and stopped at once");
    let (mut st, h, mut k) = hosts("eightvnet");
    let names: Vec<String> = (0..8).map(|i| format!("j{i}")).collect();
    let mut jids = vec![];
    for n in &names {
        jids.push(jail_both(&mut c, &st, &h, n));
    }
    let args = |n: &str, i: usize| -> Vec<String> {
        ["-b", "jails0", "--ifname", "vnet0", "--addr", &format!("10.6.0.{}/24", i + 10), "--", n]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let run_all = |prog: &str, on_stack_too: bool, all: &dyn Fn(&str, usize) -> Vec<String>| {
        std::thread::scope(|sc| {
            let handles: Vec<_> = names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let a = all(n, i);
                    let sock = st.sock.clone();
                    let hh = &h;
                    sc.spawn(move || {
                        let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
                        let s = if on_stack_too { on_stack(&sock, prog, &a).status.code() } else { Some(0) };
                        (s, hh.run(prog, &a).status.code())
                    })
                })
                .collect();
            handles.into_iter().map(|t| t.join().unwrap()).collect::<Vec<_>>()
        })
    };
    let started = run_all("jnet-epair", true, &args);
    c.same(
        "8 jnet-epair at once: exit statuses",
        started.iter().map(|r| r.0).collect::<Vec<_>>(),
        started.iter().map(|r| r.1).collect(),
        vec![Some(0); 8],
    );
    // Bridge members come newest first, and the hooks ran in whatever order they ran.
    let unordered = |mut s: Seen| {
        for i in &mut s.ifaces {
            i.members.sort();
        }
        s
    };
    c.same_seen("the host after", unordered(seen(&mut st.k)), unordered(seen(&mut k)));
    for jid in &jids {
        c.same_seen(&format!("inside jail {jid}"), listed_inside(&mut st.k, *jid), listed_inside(&mut k, *jid));
    }
    for (n, jid) in names.iter().zip(&jids) {
        remove_both(&st, &h, n, *jid);
    }
    let release = |n: &str, _: usize| vec!["--prune".to_string(), "--".to_string(), n.to_string()];
    let stopped = run_all("jnet-release", true, &release);
    c.same(
        "8 jnet-release at once: exit statuses",
        stopped.iter().map(|r| r.0).collect::<Vec<_>>(),
        stopped.iter().map(|r| r.1).collect(),
        vec![Some(0); 8],
    );
    c.same_seen("the host at the end", seen(&mut st.k), seen(&mut k));
    c.finish();
}

/// What the driver does with an address given to an interface that is down: in_aifaddr_ioctl
/// and (for the interface's only IPv6 address) in6_notify_ifa send it SIOCSIFADDR, and
/// ether_ioctl sets IFF_UP and runs if_init; in6_control then clears IFDISABLED, and the
/// interface being up, its link-local address is attached.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn an_address_on_a_down_interface_brings_it_up() {
    let mut c = Checks::new("addresses on a down interface");
    let (mut st, _h, mut k) = fresh("downaddr");
    create_both(&mut st, &mut k, "epair");
    create_both(&mut st, &mut k, "epair");
    let down = iff::BROADCAST | iff::RUNNING | iff::SIMPLEX | iff::MULTICAST;
    both!(c, st, k, "a new end is down", |x| x.if_flags("epair0a"), Ok(down));
    both!(c, st, k, "add 10.0.0.1/24 to it", |x| x.if_add_addr("epair0a", cidr("10.0.0.1/24"), 0), Ok(()));
    both!(c, st, k, "up after the IPv4 address", |x| x.if_flags("epair0a"), Ok(down | iff::UP));
    both!(
        c,
        st,
        k,
        "add 2001:db8::1/64 to a down, IFDISABLED end",
        |x| x.if_add_addr("epair1a", cidr("2001:db8::1/64"), 0),
        Ok(())
    );
    both!(c, st, k, "up after its first IPv6 address", |x| x.if_flags("epair1a"), Ok(down | iff::UP));
    both!(
        c,
        st,
        k,
        "IFDISABLED cleared",
        |x| x.if_nd6("epair1a").unwrap().flags,
        nd6f::PERFORMNUD | nd6f::AUTO_LINKLOCAL
    );
    let ll = |x: &mut dyn Interfaces| {
        x.if_list()
            .unwrap()
            .into_iter()
            .find(|i| i.name == "epair1a")
            .unwrap()
            .addrs
            .iter()
            .filter(|a| matches!(a.addr, IpAddr::V6(v) if v.segments()[0] == 0xfe80))
            .count()
    };
    both!(c, st, k, "a link-local address attached", |x| ll(x), 1);
    both!(
        c,
        st,
        k,
        "the address itself: no DAD (decided while IFDISABLED)",
        |x| x.if_addr6_flags("epair1a", v6("2001:db8::1")),
        Ok(0)
    );
    // A second IPv6 address is not the interface's only one: no SIOCSIFADDR, it stays down.
    both!(c, st, k, "down again", |x| x.if_set_flags("epair1a", 0), Ok(()));
    both!(c, st, k, "add 2001:db8::2/64 while down", |x| x.if_add_addr("epair1a", cidr("2001:db8::2/64"), 0), Ok(()));
    both!(c, st, k, "still down", |x| x.if_flags("epair1a").map(|f| f & iff::UP), Ok(0));
    both!(
        c,
        st,
        k,
        "tentative, waiting for the interface",
        |x| x.if_addr6_flags("epair1a", v6("2001:db8::2")),
        Ok(in6f::TENTATIVE)
    );
    c.finish();
}

/// in6_update_ifa on an address the interface has: the flags given replace the old ones, no
/// DAD starts again, and another prefix length is EINVAL. The per-address IN6_IFF_NODAD is
/// kept but nd6.c never reads it: DAD runs.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn ipv6_addresses_re_added_with_another_prefix_and_no_dad() {
    let mut c = Checks::new("IPv6 addresses: re-added, another prefix, the no-DAD flag");
    let (mut st, _h, mut k) = fresh("readd");
    create_both(&mut st, &mut k, "epair");
    prepare(&mut st, &mut k, "epair0a", true);
    let a = v6("2001:db8:3::5");
    both!(c, st, k, "add 2001:db8:3::5/64", |x| x.if_add_addr("epair0a", cidr("2001:db8:3::5/64"), 0), Ok(()));
    both!(c, st, k, "settled", |x| settled(|| x.if_addr6_flags("epair0a", a).unwrap()), 0);
    both!(c, st, k, "add it again", |x| x.if_add_addr("epair0a", cidr("2001:db8:3::5/64"), 0), Ok(()));
    both!(c, st, k, "no DAD the second time", |x| x.if_addr6_flags("epair0a", a), Ok(0));
    both!(c, st, k, "add it as /48", |x| x.if_add_addr("epair0a", cidr("2001:db8:3::5/48"), 0), Err(Errno::EINVAL));
    both!(
        c,
        st,
        k,
        "still /64",
        |x| x
            .if_list()
            .unwrap()
            .into_iter()
            .find(|i| i.name == "epair0a")
            .unwrap()
            .addrs
            .into_iter()
            .find(|c| c.addr == IpAddr::V6(a))
            .map(|c| c.prefixlen),
        Some(64)
    );
    let b = v6("2001:db8:4::5");
    both!(
        c,
        st,
        k,
        "add 2001:db8:4::5/64 with IN6_IFF_NODAD",
        |x| x.if_add_addr("epair0a", cidr("2001:db8:4::5/64"), in6f::NODAD),
        Ok(())
    );
    both!(c, st, k, "tentative all the same", |x| x.if_addr6_flags("epair0a", b), Ok(in6f::NODAD | in6f::TENTATIVE));
    both!(c, st, k, "after DAD", |x| settled(|| x.if_addr6_flags("epair0a", b).unwrap()), in6f::NODAD);
    c.finish();
}

/// SIOCSIFCAP by driver: epair_ioctl, bridge_ioctl (13.0) and ng_eiface_ioctl leave it to
/// ether_ioctl, which answers EINVAL, even for the capabilities the interface has.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn capabilities_are_refused_by_epairs_bridges_and_eifaces() {
    let mut c = Checks::new("SIOCSIFCAP by driver");
    let (mut st, _h, mut k) = hosts("caps");
    create_both(&mut st, &mut k, "epair");
    create_both(&mut st, &mut k, "bridge");
    both!(
        c,
        st,
        k,
        "an epair's own capabilities",
        |x| x.if_set_capenable("epair0a", ifcap::VLAN_MTU),
        Err(Errno::EINVAL)
    );
    both!(c, st, k, "none on an epair", |x| x.if_set_capenable("epair0a", 0), Err(Errno::EINVAL));
    both!(c, st, k, "a bridge's", |x| x.if_set_capenable("bridge0", 0), Err(Errno::EINVAL));
    both!(c, st, k, "an eiface", |x| x.ng_mkpeer(".", "eiface", "e", "ether"), Ok(()));
    both!(c, st, k, "an eiface's", |x| x.if_set_capenable("ngeth0", 0), Err(Errno::EINVAL));
    both!(c, st, k, "the epair's are unchanged", |x| x.if_capenable("epair0a"), Ok(ifcap::VLAN_MTU));
    c.finish();
}

/// NGM_NAME: ng_name_node refuses any name a node has, the node's own included, and names
/// that are too long or carry '.', ':', '[' or ']' (ng_base.c).
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn netgraph_names() {
    let mut c = Checks::new("netgraph names");
    let (mut st, _h, mut k) = hosts("ngnames");
    both!(c, st, k, "an eiface", |x| x.ng_mkpeer(".", "eiface", "e", "ether"), Ok(()));
    both!(c, st, k, "name it jnet-x", |x| x.ng_name("ngeth0:", "jnet-x"), Ok(()));
    both!(c, st, k, "its own name again", |x| x.ng_name("jnet-x:", "jnet-x"), Err(Errno::EADDRINUSE));
    both!(c, st, k, "igb0's name", |x| x.ng_name("jnet-x:", "igb0"), Err(Errno::EADDRINUSE));
    both!(c, st, k, "a dot", |x| x.ng_name("jnet-x:", "a.b"), Err(Errno::EINVAL));
    both!(c, st, k, "a colon", |x| x.ng_name("jnet-x:", "a:b"), Err(Errno::EINVAL));
    // struct ngm_name holds NG_NODESIZ (32) bytes with the NUL: the backend refuses more
    // rather than name another node than asked.
    both!(c, st, k, "32 characters", |x| x.ng_name("jnet-x:", &"n".repeat(32)), Err(Errno::ENAMETOOLONG));
    // A destination path is at most 31 characters (ngabi SENDTO_PATH_MAX): a 30-character
    // name and its colon.
    both!(c, st, k, "30 characters", |x| x.ng_name("jnet-x:", &"n".repeat(30)), Ok(()));
    both!(
        c,
        st,
        k,
        "found by it",
        |x| x.ng_node(&format!("{}:", "n".repeat(30))).map(|n| n.node_type),
        Ok("eiface".to_string())
    );
    // ng_bridge's hook names (ng_bridge.c ng_bridge_newhook): link<N> in canonical digits.
    both!(c, st, k, "a bridge on link0", |x| x.ng_mkpeer(".", "bridge", "b", "link0"), Ok(()));
    both!(c, st, k, "name it jt_nb", |x| x.ng_name(".:b", "jt_nb"), Ok(()));
    for bad in ["link", "link01", "linkx", "uplink0", "lower"] {
        both!(c, st, k, format!("hook {bad}"), |x| x.ng_mkpeer("jt_nb:", "eiface", bad, "ether"), Err(Errno::EINVAL));
    }
    both!(c, st, k, "hook link2", |x| x.ng_mkpeer("jt_nb:", "eiface", "link2", "ether"), Ok(()));
    // 14 adds uplink<N> (N >= 1: "if (linkNum == 0 && isUplink) return (EINVAL)"); 13.0
    // parses only "link%u", and "uplink1" is not that.
    c.versions(
        "hook uplink1",
        st.k.ng_mkpeer("jt_nb:", "eiface", "uplink1", "ether"),
        k.ng_mkpeer("jt_nb:", "eiface", "uplink1", "ether"),
        Err(Errno::EINVAL),
        Ok(()),
    );
    c.finish();
}

/// vlans of the NIC (NIC.TAG): RUNNING from creation (vlan_config), tags 1 to 4094, no unit.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn vlans_of_the_nic_tags_and_flags() {
    let mut c = Checks::new("vlans: tags and flags");
    let (mut st, h, mut k) = hosts("vlantags");
    k.kld_load("if_vlan").unwrap();
    nic_vlan_mtu_as_the_stacks(&mut st, &mut k);
    both!(c, st, k, "igb0.30", |x| x.if_create("igb0.30"), Ok("igb0.30".to_string()));
    let running = iff::BROADCAST | iff::RUNNING | iff::SIMPLEX | iff::MULTICAST;
    both!(c, st, k, "RUNNING from creation, down", |x| x.if_flags("igb0.30"), Ok(running));
    both!(c, st, k, "up", |x| x.if_set_flags("igb0.30", iff::UP), Ok(()));
    both!(
        c,
        st,
        k,
        "down again: still RUNNING",
        |x| {
            x.if_set_flags("igb0.30", 0).unwrap();
            x.if_flags("igb0.30")
        },
        Ok(running)
    );
    both!(c, st, k, "tag 4094", |x| x.if_create("igb0.4094"), Ok("igb0.4094".to_string()));
    both!(c, st, k, "tag 4095", |x| x.if_create("igb0.4095"), Err(Errno::EINVAL));
    both!(c, st, k, "tag 0", |x| x.if_create("igb0.0"), Err(Errno::EINVAL));
    both!(c, st, k, "tag 30 again", |x| x.if_create("igb0.30"), Err(Errno::EEXIST));
    both!(c, st, k, "a parent that is not there", |x| x.if_create("igb9.30"), Err(Errno::EINVAL));
    // SIOCGETVLAN: parent, tag, ETHERTYPE_VLAN; zero without a parent; EINVAL from other
    // drivers; EPERM away from its home vnet (if_vlan.c vlan_ioctl).
    both!(c, st, k, "SIOCGETVLAN igb0.30", |x| x.if_vlan("igb0.30"), Ok(("igb0".to_string(), 30, 0x8100)));
    both!(c, st, k, "a parentless vlan", |x| x.if_create("vlan"), Ok("vlan0".to_string()));
    both!(c, st, k, "SIOCGETVLAN vlan0", |x| x.if_vlan("vlan0"), Ok((String::new(), 0, 0)));
    both!(c, st, k, "SIOCGETVLAN igb0", |x| x.if_vlan("igb0"), Err(Errno::EINVAL));
    both!(c, st, k, "SIOCGETVLAN lo0", |x| x.if_vlan("lo0"), Err(Errno::EINVAL));
    let jid = jail_both(&mut c, &st, &h, "www");
    both!(
        c,
        st,
        k,
        "igb0.4094 into www",
        |x| jnet::kernel::Vnets::if_move_to_jail(x, "igb0.4094", jid),
        Ok("igb0.4094".into())
    );
    both!(c, st, k, "SIOCGETVLAN inside www", |x| jexec(x, jid, |y| y.if_vlan("igb0.4094")), Err(Errno::EPERM));
    remove_both(&st, &h, "www", jid);
    both!(c, st, k, "home again", |x| x.if_vlan("igb0.4094"), Ok(("igb0".to_string(), 4094, 0x8100)));
    c.finish();
}

/// Descriptions, MTUs and group names at their bounds.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn descriptions_mtus_and_group_names_at_their_bounds() {
    let mut c = Checks::new("bounds: descriptions, MTU, group names");
    let (mut st, _h, mut k) = fresh("bounds");
    create_both(&mut st, &mut k, "epair");
    // ifdescr_maxlen 1024 (if.c): the description with its NUL.
    let long = "d".repeat(1023);
    both!(c, st, k, "a 1023-byte description", |x| x.if_set_description("epair0a", Some(&long)), Ok(()));
    both!(c, st, k, "read back", |x| x.if_description("epair0a").map(|d| d.map(|d| d.len())), Ok(Some(1023)));
    let longer = "d".repeat(1024);
    both!(
        c,
        st,
        k,
        "a 1024-byte description",
        |x| x.if_set_description("epair0a", Some(&longer)),
        Err(Errno::ENAMETOOLONG)
    );
    // ifhwioctl SIOCSIFMTU: IF_MINMTU 72 to IF_MAXMTU 65535 (if.c, if_var.h); epair_ioctl
    // then takes any ("We basically allow all kinds of MTUs", if_epair.c).
    for mtu in [72u32, 1500, 9000, 65535] {
        both!(c, st, k, format!("MTU {mtu}"), |x| x.if_set_mtu("epair0a", mtu), Ok(()));
    }
    both!(c, st, k, "MTU 71", |x| x.if_set_mtu("epair0a", 71), Err(Errno::EINVAL));
    both!(c, st, k, "MTU 65536", |x| x.if_set_mtu("epair0a", 65536), Err(Errno::EINVAL));
    both!(c, st, k, "MTU 1500 again", |x| x.if_set_mtu("epair0a", 1500), Ok(()));
    // if_addgroup: a group name may not end in a digit; IFNAMSIZ bounds it.
    both!(c, st, k, "group jnet", |x| x.if_add_group("epair0a", "jnet"), Ok(()));
    both!(c, st, k, "group jnet again", |x| x.if_add_group("epair0a", "jnet"), Err(Errno::EEXIST));
    both!(c, st, k, "group ending in a digit", |x| x.if_add_group("epair0a", "jail1"), Err(Errno::EINVAL));
    both!(c, st, k, "a 15-byte group", |x| x.if_add_group("epair0a", "abcdefghijklmno"), Ok(()));
    c.finish();
}

/// Promiscuous references (ifpromisc): a bridge member holds one, ng_ether's
/// NGM_ETHER_SET_PROMISC another, a vlan on a bridge one on its NIC; IFF_PROMISC shows while
/// any is held.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn promiscuous_references() {
    let mut c = Checks::new("promiscuous references");
    let (mut st, _h, mut k) = hosts("promisc");
    k.kld_load("if_vlan").unwrap();
    nic_vlan_mtu_as_the_stacks(&mut st, &mut k);
    let promisc = |x: &mut dyn Interfaces, n: &str| x.if_flags(n).unwrap() & iff::PROMISC != 0;
    create_both(&mut st, &mut k, "bridge");
    create_both(&mut st, &mut k, "bridge");
    both!(c, st, k, "igb0 not promiscuous", |x| promisc(x, "igb0"), false);
    both!(c, st, k, "igb0 into bridge0", |x| x.bridge_add("bridge0", "igb0"), Ok(()));
    both!(c, st, k, "promiscuous as a member", |x| promisc(x, "igb0"), true);
    both!(c, st, k, "ng_ether promisc on", |x| x.ng_ether_set_promisc("igb0:", true), Ok(()));
    both!(c, st, k, "out of bridge0", |x| x.bridge_del("bridge0", "igb0"), Ok(()));
    both!(c, st, k, "still promiscuous: ng_ether's reference", |x| promisc(x, "igb0"), true);
    both!(c, st, k, "ng_ether promisc off", |x| x.ng_ether_set_promisc("igb0:", false), Ok(()));
    both!(c, st, k, "not promiscuous", |x| promisc(x, "igb0"), false);
    both!(c, st, k, "igb0.40", |x| x.if_create("igb0.40"), Ok("igb0.40".to_string()));
    both!(c, st, k, "igb0.40 into bridge1", |x| x.bridge_add("bridge1", "igb0.40"), Ok(()));
    both!(c, st, k, "the vlan's NIC promiscuous (vlan_setflags)", |x| promisc(x, "igb0"), true);
    both!(c, st, k, "igb0.40 out of bridge1", |x| x.bridge_del("bridge1", "igb0.40"), Ok(()));
    both!(c, st, k, "and no longer", |x| promisc(x, "igb0"), false);
    c.finish();
}

/// Recipe 3 for two jails: jnet-epair in exec.created on bridge0 with igb0 as its uplink, the
/// jail end renamed vnet0 and addressed from inside, jnet-ip6wait; packets between the jails
/// and from a jail to the host's address on igb0.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn recipe_3_two_jails_configured_from_the_host_and_packets() {
    use stack::traffic::{ping, tcp_exchange, v6 as a6};
    let mut c = Checks::new("programs: recipe 3 (two jails configured from the host), packets");
    let (mut st, h, mut k) = hosts("recipe3");
    k.if_add_addr("igb0", cidr("192.0.2.2/24"), 0).unwrap();
    let mut jails = vec![];
    for (name, host) in [("www", 5u8), ("db", 6)] {
        let jid = jail_both(&mut c, &st, &h, name);
        let a6_ = format!("2001:db8:3::{host}/64");
        let a4 = format!("192.0.2.{host}/24");
        let args =
            ["-b", "bridge0", "--uplink", "igb0", "--ifname", "vnet0", "--addr", &a6_, "--addr", &a4, "--", name];
        hook_jail_twice(&mut c, &mut st, &h, &mut k, "jnet-epair", &args, jid);
        hook(&mut c, &mut st, &h, &mut k, "jnet-ip6wait", &["-t", "10", "--", name], 0);
        jails.push((name, jid));
    }
    let mut www = st.ctl().attached(jails[0].1).unwrap();
    let mut db = st.ctl().attached(jails[1].1).unwrap();
    let nic: IpAddr = "192.0.2.2".parse().unwrap();
    c.stack_only("ping 192.0.2.2 (igb0) from www", ping(&mut www, nic, 1), true);
    c.stack_only("ping6 2001:db8:3::6 (db) from www", ping(&mut www, a6(3, 6), 2), true);
    c.stack_only("TCP www -> [2001:db8:3::6]:443 (db)", tcp_exchange(&mut www, &mut db, a6(3, 6), 443), Ok(()));
    let db4: IpAddr = "192.0.2.6".parse().unwrap();
    c.stack_only("TCP www -> 192.0.2.6:80 (db)", tcp_exchange(&mut www, &mut db, db4, 80), Ok(()));
    drop((www, db));
    stop_all(&mut c, &mut st, &h, &mut k, &jails, &[]);
    c.finish();
}

/// Bridge MTUs, where 13.0 and 14 differ by their sources (if_bridge.c, if.c): a member whose
/// MTU is not the bridge's is refused on 13.0 and set to the bridge's on 14; a member's own
/// SIOCSIFMTU is taken on 13.0 and refused on 14 (EOPNOTSUPP); a bridge's SIOCSIFMTU needs every
/// member at that MTU on 13.0 and sets it on every member on 14. The sim follows 14.
#[test]
#[ignore = "needs jnet-stackhost: run by .ci/fbsd-stack"]
fn bridge_mtus_on_13_and_14() {
    let mut c = Checks::new("bridge MTUs (13.0 and 14)");
    let (mut st, _h, mut k) = fresh("bridgemtu");
    for cloner in ["epair", "epair", "bridge"] {
        create_both(&mut st, &mut k, cloner);
    }
    both!(c, st, k, "epair1a at 9000", |x| x.if_set_mtu("epair1a", 9000), Ok(()));
    both!(c, st, k, "the first member gives the bridge its MTU", |x| x.bridge_add("bridge0", "epair0a"), Ok(()));
    c.versions(
        "a 9000-byte member on a 1500-byte bridge",
        st.k.bridge_add("bridge0", "epair1a"),
        k.bridge_add("bridge0", "epair1a"),
        Err(Errno::EINVAL),
        Ok(()),
    );
    c.versions("its MTU after", st.k.if_mtu("epair1a"), k.if_mtu("epair1a"), Ok(9000), Ok(1500));
    c.versions(
        "SIOCSIFMTU 1400 on a member",
        st.k.if_set_mtu("epair0a", 1400),
        k.if_set_mtu("epair0a", 1400),
        Ok(()),
        Err(Errno::EOPNOTSUPP),
    );
    c.versions(
        "SIOCSIFMTU 9000 on the bridge, its members elsewhere",
        st.k.if_set_mtu("bridge0", 9000),
        k.if_set_mtu("bridge0", 9000),
        Err(Errno::EINVAL),
        Ok(()),
    );
    c.versions("the member after", st.k.if_mtu("epair0a"), k.if_mtu("epair0a"), Ok(1400), Ok(9000));
    both!(c, st, k, "SIOCSIFMTU 500 on a bridge", |x| x.if_set_mtu("bridge0", 500), Err(Errno::EINVAL));
    c.finish();
}
