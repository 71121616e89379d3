//! jnet-epair: an if_epair pair for a VNET jail.
//!
//! Validate everything first, then look at what exists (our tagged ends, foreign names),
//! then build one plan: create, or reuse and converge, or recreate a broken pair. The plan
//! runs with undo, so a failure leaves the host as it was.

use crate::cli::{Common, Output, Program};
use crate::error::{Error, KernelContext, Kind, Result};
use crate::inventory;
use crate::kernel::{ifcap, iff, Cidr, IfInfo, JailInfo, JailRef, Kernel};
use crate::mac::{self, Mac};
use crate::names::{self, End};
use crate::owner::{self, Role, Tag};
use crate::plan::{bridge_state, IfRef, Plan, Router, Step};
use argh::FromArgs;
use serde_json::json;

crate::program_args! {
#[derive(FromArgs, Debug, Default)]
/// Create an epair for a VNET jail: the host end on an if_bridge (or point-to-point), the
/// jail end handed over to the jail. Run it from exec.prestart or exec.created.
pub struct EpairArgs {
    /// jail name or jid
    #[argh(positional)]
    pub jail: String,
    /// if_bridge the host end joins (created if missing)
    #[argh(option, short = 'b')]
    pub bridge: Option<String>,
    /// NIC that must be a member of the bridge, and up
    #[argh(option, short = 'u')]
    pub uplink: Option<String>,
    /// address for the host end (point-to-point mode; repeatable)
    #[argh(option)]
    pub host_addr: Vec<String>,
    /// address for a bridge jnet made (the jails' gateway; repeatable)
    #[argh(option)]
    pub bridge_addr: Vec<String>,
    /// join VLAN ID of the uplink: a vlan NIC.ID on its own bridge (default name bID_NIC)
    #[argh(option)]
    pub vlan: Option<u16>,
}
dry_run = "print the plan as ifconfig(8) commands and change nothing";
jail_end;
}

/// How the MACs are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacChoice {
    /// Derived from host, jail, index and end.
    Auto,
    /// Whatever the kernel gave.
    Kernel,
    /// This address for the jail end; the host end's is derived.
    Fixed(Mac),
}

/// A validated request.
#[derive(Clone, Debug)]
pub struct EpairRequest {
    jail: JailRef,
    bridge: Option<String>,
    uplink: Option<String>,
    host_addrs: Vec<Cidr>,
    bridge_addrs: Vec<Cidr>,
    /// the vlan interface (NIC.ID) that is the bridge's uplink
    vlan: Option<String>,
    index: u32,
    short: Option<String>,
    ifname: Option<String>,
    addrs: Vec<Cidr>,
    mac: MacChoice,
    mtu: Option<u32>,
    accept_rtadv: bool,
    gateways: Vec<Router>,
    routes: Vec<(Cidr, Router)>,
}

/// Parse a list of CIDRs, refusing duplicates.
pub fn parse_cidrs(what: &str, list: &[String]) -> Result<Vec<Cidr>> {
    let mut out: Vec<Cidr> = vec![];
    for s in list {
        let c: Cidr = s.parse::<Cidr>().map_err(|e| e.context(what))?;
        if out.iter().any(|o| o.addr == c.addr) {
            return Err(Error::data(format!("{what}: {} is given twice", c.addr)));
        }
        out.push(c);
    }
    Ok(out)
}

/// Check `--mtu`.
pub fn check_mtu(mtu: Option<u32>) -> Result<()> {
    match mtu {
        Some(m) if !(72..=65535).contains(&m) => Err(Error::data(format!("--mtu {m} is out of range 72-65535"))),
        _ => Ok(()),
    }
}

/// Parse `--mac`.
pub fn parse_mac_choice(s: &str) -> Result<MacChoice> {
    Ok(match s {
        "auto" => MacChoice::Auto,
        "kernel" => MacChoice::Kernel,
        m => {
            MacChoice::Fixed(mac::check_assignable(m.parse::<Mac>()?).map_err(|e| Error::data(format!("--mac: {e}")))?)
        }
    })
}

impl EpairArgs {
    /// Validate every argument; nothing is looked up yet.
    pub fn validate(&self) -> Result<EpairRequest> {
        let jail = JailRef::parse(&self.jail)?;
        names::check_index(self.index)?;
        if let Some(short) = &self.short {
            names::check_short(short, self.index)?;
        }
        if let Some(b) = &self.bridge {
            names::check_ifname("bridge", b)?;
        }
        let (bridge, vlan) = match (self.vlan, &self.uplink) {
            (None, _) => (self.bridge.clone(), None),
            (Some(_), None) => return Err(Error::usage("--vlan needs --uplink: the VLAN is one of that NIC's")),
            (Some(id), Some(u)) => {
                if !(1..=4094).contains(&id) {
                    return Err(Error::data(format!("--vlan {id} is not a VLAN ID (1 to 4094)")));
                }
                names::check_ifname("uplink", u)?;
                let v = format!("{u}.{id}");
                names::check_ifname("the vlan interface", &v)?;
                let b = match &self.bridge {
                    Some(b) => b.clone(),
                    None => {
                        let b = format!("b{id}_{u}");
                        names::check_ifname("the VLAN's bridge", &b)
                            .map_err(|e| Error::usage(format!("{}; name the bridge with -b", e.0)))?;
                        b
                    }
                };
                if b == v || &b == u {
                    return Err(Error::usage(format!("the bridge {b} cannot be the NIC or its vlan")));
                }
                (Some(b), Some(v))
            }
        };
        if let (Some(u), None) = (&self.uplink, &vlan) {
            names::check_ifname("uplink", u)?;
            match &self.bridge {
                None => {
                    return Err(Error::usage("--uplink needs --bridge: the uplink is made a member of that bridge"))
                }
                Some(b) if b == u => return Err(Error::usage(format!("--uplink {u} is the bridge itself"))),
                _ => {}
            }
        }
        if let Some(n) = &self.ifname {
            names::check_ifname("--ifname", n)?;
        }
        let host_addrs = parse_cidrs("--host-addr", &self.host_addr)?;
        if !host_addrs.is_empty() && bridge.is_some() {
            return Err(Error::usage(
                "--host-addr (point-to-point) and --bridge exclude each other: the host end is either addressed or bridged",
            ));
        }
        let bridge_addrs = parse_cidrs("--bridge-addr", &self.bridge_addr)?;
        if !bridge_addrs.is_empty() && bridge.is_none() {
            return Err(Error::usage("--bridge-addr needs --bridge: it is an address for that bridge"));
        }
        let addrs = parse_cidrs("--addr", &self.addr)?;
        if let Some(dup) = addrs.iter().find(|a| host_addrs.iter().any(|h| h.addr == a.addr)) {
            return Err(Error::data(format!("{} is given both to the host end and to the jail end", dup.addr)));
        }
        check_mtu(self.mtu)?;
        Ok(EpairRequest {
            jail,
            bridge,
            uplink: self.uplink.clone(),
            host_addrs,
            bridge_addrs,
            vlan,
            index: self.index,
            short: self.short.clone(),
            ifname: self.ifname.clone(),
            addrs,
            mac: parse_mac_choice(&self.mac)?,
            mtu: self.mtu,
            accept_rtadv: self.accept_rtadv,
            gateways: crate::epair::parse_gateways(&self.gateway)?,
            routes: crate::epair::parse_routes(&self.route)?,
        })
    }
}

/// Find the jail: Some if it runs with its own vnet, None if it is not created yet (by name
/// only). A jid that does not exist, or a jail without a vnet, is an error.
pub fn vnet_jail<K: Kernel>(k: &mut K, which: &JailRef) -> Result<(String, Option<JailInfo>)> {
    let found = k.jail(which).step(|| format!("look up jail {which}"))?;
    match (which, found) {
        (_, Some(j)) if !j.dying && !j.vnet => Err(Error::new(
            Kind::NoJail,
            format!("jail {} (jid {}) has no vnet of its own: set vnet = new in jail.conf", j.name, j.jid),
        )),
        (_, Some(j)) if !j.dying => Ok((j.name.clone(), Some(j))),
        // A dying jail of that name is being replaced by the one about to start.
        (JailRef::Name(n), _) => Ok((n.clone(), None)),
        (JailRef::Jid(j), Some(d)) => Err(Error::new(Kind::NoJail, format!("jail {} (jid {j}) is dying", d.name))),
        (JailRef::Jid(j), None) => Err(Error::new(Kind::NoJail, format!("no jail with jid {j}"))),
    }
}

/// Steps that give the jail end `b` to jail `jid` and set it up inside: move it in (unless
/// `inside` says it is there already), rename it to `ifname`, bring it up and add the
/// addresses it lacks. Returns its final name inside the jail. `name` is its name on the
/// host (the name it keeps through the move).
pub(crate) fn hand_over(
    p: &mut Plan,
    jid: i32,
    b: &IfRef,
    name: &str,
    inside: Option<&IfInfo>,
    want: &JailSide<'_>,
) -> String {
    let cur = match inside {
        Some(i) => i.name.clone(),
        None => {
            p.push(Step::MoveToJail(b.clone(), jid));
            name.to_string()
        }
    };
    let target = want.ifname.map(str::to_string).unwrap_or_else(|| cur.clone());
    let mut inner = vec![];
    let here = match b {
        IfRef::Name(_) => IfRef::Name(cur.clone()),
        s => s.clone(),
    };
    if cur != target {
        inner.push(Step::Rename(here.clone(), target.clone()));
    }
    let bref = match b {
        IfRef::Name(_) => IfRef::Name(target.clone()),
        s => s.clone(),
    };
    if inside.is_none_or(|i| i.flags & iff::UP == 0) {
        inner.push(Step::Up(bref.clone()));
    }
    if want.accept_rtadv {
        inner.push(Step::AcceptRtadv(bref.clone()));
    }
    let missing: Vec<&Cidr> =
        want.addrs.iter().filter(|c| !inside.is_some_and(|i| i.addrs.iter().any(|x| x.addr == c.addr))).collect();
    push_addrs(&mut inner, &bref, &missing);
    // After the addresses: a gateway must be on one of the jail's networks.
    inner.extend(want.gateways.iter().map(|g| Step::Route(Cidr::default_dst(g.addr.is_ipv6()), g.clone())));
    inner.extend(want.routes.iter().map(|(d, g)| Step::Route(*d, g.clone())));
    if !inner.is_empty() {
        p.push(Step::InJail(jid, inner));
    }
    target
}

/// Steps that add `addrs` to `r`, which is up or brought up by an earlier step. A new
/// interface starts with IPv6 disabled (ND6_IFF_IFDISABLED), and an address added then is
/// never checked for duplicates (in6.c decides TENTATIVE before it clears the flag): IPv6 is
/// enabled first, so every address goes through DAD.
pub(crate) fn push_addrs(steps: &mut Vec<Step>, r: &IfRef, addrs: &[&Cidr]) {
    if addrs.iter().any(|c| c.addr.is_ipv6()) {
        steps.push(Step::EnableInet6(r.clone()));
    }
    for c in addrs {
        steps.push(Step::AddAddr(r.clone(), **c));
    }
}

/// How the interface a jail gets is to be set up inside it.
pub(crate) struct JailSide<'a> {
    /// its name there
    pub ifname: Option<&'a str>,
    /// its addresses
    pub addrs: &'a [Cidr],
    /// router advertisements accepted
    pub accept_rtadv: bool,
    /// default routes through these gateways
    pub gateways: &'a [Router],
    /// static routes: (network, gateway)
    pub routes: &'a [(Cidr, Router)],
}

/// A router as `--gateway` or `--route` gives it: an address, or a link-local one with the
/// jail interface it is on (`fe80::1%vnet0`, as route(8) and rtadvd name it).
fn parse_router(what: &str, s: &str) -> Result<Router> {
    let (a, zone) = s.split_once('%').map_or((s, None), |(a, z)| (a, Some(z)));
    let g: std::net::IpAddr =
        a.parse().map_err(|_| Error::data(format!("{what} {s:?} is not an IPv4 or IPv6 address")))?;
    let link_local = matches!(g, std::net::IpAddr::V6(v) if crate::kernel::is_link_local(&v));
    let bad = match g {
        std::net::IpAddr::V4(v) => v.is_unspecified() || v.is_multicast() || v.is_broadcast(),
        std::net::IpAddr::V6(v) => v.is_unspecified() || v.is_multicast(),
    };
    if bad {
        return Err(Error::data(format!("{what} {g} cannot be a router's address")));
    }
    match (link_local, zone) {
        (true, None) => {
            Err(Error::data(format!("{what} {g} is link-local: name the jail interface it is on, as {g}%vnet0")))
        }
        (false, Some(_)) => Err(Error::data(format!("{what} {s}: only a link-local address takes an interface"))),
        (true, Some(z)) => {
            names::check_ifname(&format!("{what} {s}: the interface"), z).map_err(|e| Error::data(e.0))?;
            Ok(Router { addr: g, zone: Some(z.to_string()) })
        }
        (false, None) => Ok(Router { addr: g, zone: None }),
    }
}

/// Parse `--route`s: NETWORK/LEN,ROUTER, one route per network, the router of the network's
/// family; the default route is `--gateway`'s.
pub fn parse_routes(list: &[String]) -> Result<Vec<(Cidr, Router)>> {
    let mut out: Vec<(Cidr, Router)> = vec![];
    for s in list {
        let (d, g) = s.split_once(',').ok_or_else(|| {
            Error::data(format!("--route {s:?}: expected NETWORK/LEN,ROUTER, e.g. 192.0.2.0/24,10.8.0.1"))
        })?;
        let dst = Cidr::parse_network(d).map_err(|e| e.context("--route"))?;
        let gw = parse_router("--route's router", g)?;
        if dst.is_default() {
            return Err(Error::usage(format!("--route {s}: the default route is --gateway {gw}")));
        }
        if dst.addr.is_ipv6() != gw.addr.is_ipv6() {
            return Err(Error::data(format!("--route {s}: the network and the router are of different families")));
        }
        if out.iter().any(|(o, _)| *o == dst) {
            return Err(Error::usage(format!("--route: {dst} is given twice")));
        }
        out.push((dst, gw));
    }
    Ok(out)
}

/// Parse `--gateway`s: addresses a route can go through, one per family at most.
pub fn parse_gateways(list: &[String]) -> Result<Vec<Router>> {
    let mut out: Vec<Router> = vec![];
    for s in list {
        let g = parse_router("--gateway", s)?;
        if out.iter().any(|o| o.addr.is_ipv6() == g.addr.is_ipv6()) {
            return Err(Error::usage(format!("--gateway {g}: one default router per address family")));
        }
        out.push(g);
    }
    Ok(out)
}

/// Where an end of an existing pair was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    Absent,
    /// On the host, with the kernel's marks (it never left the host).
    Host(IfInfo),
    /// Inside the jail, where its tag is the jail's own claim.
    Jail(IfInfo),
    /// Back on the host from a jail's vnet (the move cleared its groups), and the same pair
    /// as our host end by its driver unit: ours, but to be made anew.
    CameHome(IfInfo),
}

pub(crate) fn conflict(name: &str, descr: Option<&str>, jail: &str, place: &str) -> Error {
    let whose = match descr.and_then(Tag::parse) {
        Some(Tag { jail: Some(other), .. }) if other != jail => format!("its description claims jail {other:?}"),
        Some(t) => format!("its tag {t:?} is not the one jnet expects here", t = t.description()),
        None => match descr {
            Some(d) => format!("its description is {d:?}"),
            None => "it has no jnet tag".into(),
        },
    };
    Error::conflict(format!(
        "{name} already exists {place} and is not jnet's for jail {jail} ({whose}); nothing was changed"
    ))
}

/// The error for an interface that carries the right tag without the kernel's marks.
fn unbacked(name: &str, jail: &str) -> Error {
    Error::conflict(format!(
        "{name} on the host carries jnet's tag for jail {jail} but is not in interface group {g}: it has been \
         inside a jail's vnet, where anyone could have written that tag, so jnet does not take it as its own; \
         nothing was changed (destroy or rename it by hand if it is a leftover)",
        g = owner::GROUP
    ))
}

/// Look up `name` in a host listing; if present it must be jnet's, with tag `want` backed by
/// the kernel's marks (`inventory::host_mark`).
pub(crate) fn check_owned<K: Kernel>(
    k: &mut K,
    list: &[IfInfo],
    name: &str,
    want: &Tag,
    jail: &str,
    place: &str,
) -> Result<Option<IfInfo>> {
    let Some(info) = list.iter().find(|i| i.name == name) else { return Ok(None) };
    inventory::designates_one(list, name)?;
    // None: destroyed between the listing and now.
    let Some(mark) = inventory::host_mark(k, name)? else { return Ok(None) };
    match (mark.owned(), &mark.tag) {
        (Some(t), _) if t == want => Ok(Some(info.clone())),
        (None, Some(t)) if t == want => Err(unbacked(name, jail)),
        _ => Err(conflict(name, mark.descr.as_deref(), jail, place)),
    }
}

/// The jail end `jname` on the host. Backed by the kernel's marks: it never left the host.
/// Only claimed (it came back from a vnet): ours only if it is the same pair as our host
/// end, which the kernel shows by the driver unit both ends share.
fn jail_end_on_host<K: Kernel>(
    k: &mut K,
    list: &[IfInfo],
    jname: &str,
    want: &Tag,
    host_end: Option<&str>,
    jail: &str,
) -> Result<Found> {
    let Some(info) = list.iter().find(|i| i.name == jname) else { return Ok(Found::Absent) };
    inventory::designates_one(list, jname)?;
    let Some(mark) = inventory::host_mark(k, jname)? else { return Ok(Found::Absent) };
    match (mark.owned(), &mark.tag) {
        (Some(t), _) if t == want => Ok(Found::Host(info.clone())),
        (None, Some(t)) if t == want => {
            let Some(h) = host_end else { return Err(unbacked(jname, jail)) };
            let (dh, dj) = (driver(k, h)?, driver(k, jname)?);
            if dh == dj {
                Ok(Found::CameHome(info.clone()))
            } else {
                Err(unbacked(jname, jail).context(format!("{jname} is {dj}, not {dh} like {h}")))
            }
        }
        _ => Err(conflict(jname, mark.descr.as_deref(), jail, "on the host")),
    }
}

/// An interface's driver name and unit.
pub(crate) fn driver<K: Kernel>(k: &mut K, name: &str) -> Result<String> {
    k.if_driver(name).step(|| format!("read the driver name of {name}"))
}

/// What the run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Created,
    Reused,
    Recreated,
}

struct Built {
    plan: Plan,
    action: Action,
    jail: String,
    jid: Option<i32>,
    host: String,
    jail_end: String,
    inside: bool,
    host_mac: Option<Mac>,
    jail_mac: Option<Mac>,
}

/// Is the vlan `v` (`NIC.TAG`) there? It must then be jnet's: a vlan of that name the
/// administrator made is not given to jails.
pub(crate) fn vlan_there<K: Kernel>(k: &mut K, list: &[IfInfo], v: &str) -> Result<bool> {
    if !list.iter().any(|i| i.name == v) {
        return Ok(false);
    }
    let ours = inventory::host_mark(k, v)?.as_ref().and_then(|m| m.owned()).is_some_and(|t| t.role == Role::Vlan);
    if !ours {
        return Err(Error::conflict(format!(
            "{v} exists and is not a vlan jnet made for jails; nothing was changed. If a start that crashed \
             left it (no description), jnet-release --stale takes it away (it knows it from the crashed run's \
             intent); else ifconfig {v} destroy, if it is not the administrator's"
        )));
    }
    Ok(true)
}

/// FreeBSD 15.0's if_bridge refuses a member that carries IP addresses while
/// net.link.bridge.member_ifaddrs is 0, its default (if_bridge(4)); 14.x has no such sysctl.
/// Say so before anything changes, rather than fail half-way with EINVAL.
fn check_member_ifaddrs<K: Kernel>(k: &mut K, uplink: &IfInfo, bridge: &str) -> Result<()> {
    match k.sysctl_int("net.link.bridge.member_ifaddrs") {
        Ok(0) => {}
        Ok(_) | Err(crate::errno::Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(Error::kernel("read net.link.bridge.member_ifaddrs", e)),
    }
    let addrs: Vec<String> = uplink.addrs.iter().map(|a| a.to_string()).collect();
    Err(Error::conflict(format!(
        "uplink {u} carries addresses ({a}) and net.link.bridge.member_ifaddrs is 0, so if_bridge will not take it \
         as a member: put the host's addresses on {bridge} instead of {u} (ifconfig_{bridge}=... in rc.conf), or \
         set net.link.bridge.member_ifaddrs=1; nothing was changed",
        u = uplink.name,
        a = addrs.join(", ")
    )))
}

/// The MTU a new epair end has (ETHERMTU, `sys/net/ethernet.h`).
const ETHERMTU: u32 = 1500;

impl EpairRequest {
    /// The MTU both ends must have, if any. BRDGADD forces a member to the bridge's MTU, and
    /// a bridge takes its first member's (`if_bridge.c` bridge_ioctl_add): when the bridge
    /// already has members, or the uplink goes in first, the pair follows that MTU and
    /// `--mtu` must agree, or the two ends would differ.
    fn pair_mtu(
        &self,
        list: &[IfInfo],
        members: Option<&[String]>,
        uplink: Option<(u32, String)>,
    ) -> Result<Option<u32>> {
        let Some(br) = &self.bridge else { return Ok(self.mtu) };
        let by = |name: &str| list.iter().find(|i| i.name == name).map(|i| i.mtu);
        let set = match members {
            Some(m) if !m.is_empty() => by(br).map(|v| (v, format!("bridge {br}"))),
            _ => uplink,
        };
        match (self.mtu, set) {
            (Some(m), Some((v, who))) if m != v => Err(Error::conflict(format!(
                "--mtu {m} does not match the MTU of {who} ({v}): if_bridge gives every member the bridge's MTU, \
                 so the two ends of the pair would differ; use --mtu {v}, or change the bridge's MTU first. \
                 Nothing was changed"
            ))),
            (Some(m), _) => Ok(Some(m)),
            (None, set) => Ok(set.map(|(v, _)| v)),
        }
    }

    /// The MTU a new bridge takes from its first member, the uplink, and how to name that
    /// member: with --vlan the NIC's vlan, which if_vlan.c gives its parent's MTU, less the
    /// 4-byte tag when the parent cannot carry VLAN-sized frames (IFCAP_VLAN_MTU off). On
    /// FreeBSD 13 a member of another MTU is refused (EINVAL); from 14 if_bridge sets the host
    /// end's MTU and the jail end keeps its own: either way the pair must be made at this MTU.
    fn uplink_mtu<K: Kernel>(&self, k: &mut K, list: &[IfInfo]) -> Result<Option<(u32, String)>> {
        let Some(u) = self.uplink.as_deref() else { return Ok(None) };
        let by = |name: &str| list.iter().find(|i| i.name == name).map(|i| i.mtu);
        let Some(v) = &self.vlan else {
            return Ok(by(u).map(|m| (m, format!("uplink {u}, the bridge's first member,"))));
        };
        if let Some(m) = by(v) {
            return Ok(Some((m, format!("vlan {v}, the bridge's first member,"))));
        }
        let Some(parent) = by(u) else { return Ok(None) };
        let caps = k.if_capenable(u).map_err(|e| Error::kernel(format!("read the capabilities of {u}"), e))?;
        let m = if caps & ifcap::VLAN_MTU != 0 { parent } else { parent.saturating_sub(4) };
        Ok(Some((m, format!("vlan {v}, to be made on {u} and the bridge's first member,"))))
    }

    fn macs<K: Kernel>(&self, k: &mut K, jail: &str) -> Result<(Option<Mac>, Option<Mac>)> {
        if self.mac == MacChoice::Kernel {
            return Ok((None, None));
        }
        let host = k.sysctl_string("kern.hostuuid").step(|| "read kern.hostuuid".into())?;
        let a = Mac::derive(&host, jail, self.index, "a");
        let b = match self.mac {
            MacChoice::Fixed(m) => m,
            _ => Mac::derive(&host, jail, self.index, "b"),
        };
        Ok((Some(a), Some(b)))
    }

    fn build<K: Kernel>(&self, k: &mut K) -> Result<Built> {
        let x = self.look(k)?;
        let mut p = Plan::new();
        let (action, a, b) = if x.intact() { self.plan_reuse(&x, &mut p) } else { self.plan_create(&x, &mut p) };
        self.plan_bridge(&x, &mut p, &a);
        let inside_info = match &x.jail_end {
            Found::Jail(i) => Some(i),
            _ => None,
        };
        let jail_end = match x.jid {
            Some(jid) => hand_over(
                &mut p,
                jid,
                &b,
                &x.jname,
                inside_info,
                &JailSide {
                    ifname: self.ifname.as_deref(),
                    addrs: &self.addrs,
                    accept_rtadv: self.accept_rtadv,
                    gateways: &self.gateways,
                    routes: &self.routes,
                },
            ),
            None => x.jname.clone(),
        };
        Ok(Built {
            plan: p,
            action,
            jid: x.jid,
            inside: x.jid.is_some(),
            host_mac: x.mac_a,
            jail_mac: x.mac_b,
            jail: x.jail,
            host: x.host,
            jail_end,
        })
    }

    /// Look before touching anything: the jail, our ends, foreign names, the bridge, the
    /// uplink; refuse what cannot be done.
    fn look<K: Kernel>(&self, k: &mut K) -> Result<Existing> {
        let (jail, info) = vnet_jail(k, &self.jail)?;
        let jid = info.as_ref().map(|j| j.jid);
        if jid.is_none()
            && (self.ifname.is_some()
                || !self.addrs.is_empty()
                || self.accept_rtadv
                || !self.gateways.is_empty()
                || !self.routes.is_empty())
        {
            return Err(Error::usage(format!(
                "--ifname, --addr, --accept-rtadv, --gateway and --route configure the jail end inside the jail, and jail {jail} does not run yet: \
                 call jnet-epair from exec.created (or by hand once the jail runs)"
            )));
        }
        // Interface names come from --short if given (checked plain and short enough, so
        // never hashed); the tags always name the jail.
        let stem = self.short.as_deref().unwrap_or(&jail);
        let host = names::epair_name(stem, self.index, End::A);
        let jname = names::epair_name(stem, self.index, End::B);
        let (tag_a, tag_b) =
            (Tag::jail(&jail, Role::EpairHost(self.index)), Tag::jail(&jail, Role::EpairJail(self.index)));
        let list = k.if_list().step(|| "list interfaces".into())?;
        let host_end = check_owned(k, &list, &host, &tag_a, &jail, "on the host")?;
        let mut jail_end = jail_end_on_host(k, &list, &jname, &tag_b, host_end.as_ref().map(|_| host.as_str()), &jail)?;
        // Two backed ends that are not one pair (a crash half-way through a recreate).
        let split = match (&host_end, &jail_end) {
            (Some(_), Found::Host(_)) => driver(k, &host)? != driver(k, &jname)?,
            _ => false,
        };
        if let Some(jid) = jid {
            let (inside, owned) = inventory::scan_jail(k, jid, &jail)?;
            // Inside the jail a tag is only the jail's word: it counts as our jail end only
            // while our host end exists (without it the pair is gone: destroying either end
            // takes both), and jnet acts on it only inside that jail.
            if host_end.is_some() && jail_end == Found::Absent {
                if let Some(o) = owned.iter().find(|o| o.tag == tag_b) {
                    jail_end = Found::Jail(o.info.clone());
                }
            }
            let ours = match &jail_end {
                Found::Jail(i) => Some(i.name.as_str()),
                _ => None,
            };
            for want in [Some(jname.as_str()), self.ifname.as_deref()].into_iter().flatten() {
                if inside.iter().any(|i| i.name == want) && ours != Some(want) {
                    let d = owned.iter().find(|o| o.name == want).map(|o| o.tag.description());
                    return Err(conflict(want, d.as_deref(), &jail, &format!("inside jail {jail}")));
                }
            }
        }
        // None: no such bridge yet (a non-bridge of that name is a conflict, reported here).
        let bridge_members = match &self.bridge {
            Some(b) => bridge_state(k, b)?,
            None => None,
        };
        // An address goes only on a bridge jnet made: the admin's bridges get theirs from rc.
        if let (Some(b), Some(_), false) = (&self.bridge, &bridge_members, self.bridge_addrs.is_empty()) {
            if !crate::plan::shared_mark_within(k, b, Role::Bridge)? {
                return Err(Error::conflict(format!(
                    "--bridge-addr: {b} is not a bridge jnet made; give it its addresses in rc.conf \
                     (ifconfig_{b}=...); nothing was changed"
                )));
            }
            // The jails' gateway is one per family: another jail's hook asking for another
            // address of a family the bridge has is a mistake in jail.conf, not a second one.
            let has: Vec<Cidr> = list.iter().filter(|i| &i.name == b).flat_map(|i| i.addrs.clone()).collect();
            let global = |c: &&Cidr| !matches!(c.addr, std::net::IpAddr::V6(a) if crate::kernel::is_link_local(&a));
            for want in &self.bridge_addrs {
                let other = has.iter().filter(global).find(|h| h.addr.is_ipv6() == want.addr.is_ipv6() && **h != *want);
                if let Some(other) = other {
                    return Err(Error::conflict(format!(
                        "--bridge-addr {want}: bridge {b} already has {other}, which other jails use as their \
                         gateway; give every jail on {b} the same --bridge-addr; nothing was changed"
                    )));
                }
            }
        }
        if let Some(u) = &self.uplink {
            let Some(ui) = list.iter().find(|i| &i.name == u) else {
                return Err(Error::data(format!("uplink {u} does not exist on the host")));
            };
            let joins = !bridge_members.as_ref().is_some_and(|m| m.contains(u));
            if joins && !ui.addrs.is_empty() && self.vlan.is_none() {
                check_member_ifaddrs(k, ui, self.bridge.as_deref().unwrap_or_default())?;
            }
        }
        if let Some(v) = &self.vlan {
            vlan_there(k, &list, v)?;
        }
        let (mac_a, mac_b) = self.macs(k, &jail)?;
        let uplink_mtu = self.uplink_mtu(k, &list)?;
        let mtu = self.pair_mtu(&list, bridge_members.as_deref(), uplink_mtu)?;
        Ok(Existing {
            jail,
            jid,
            host,
            jname,
            tag_a,
            tag_b,
            list,
            host_end,
            jail_end,
            split,
            bridge_members,
            mac_a,
            mac_b,
            mtu,
        })
    }

    /// Our pair is whole: converge its MACs, MTUs, state and host addresses.
    fn plan_reuse(&self, x: &Existing, p: &mut Plan) -> (Action, IfRef, IfRef) {
        let hi = x.host_end.as_ref().expect("intact");
        let a = IfRef::Name(x.host.clone());
        if let Some(m) = x.mac_a.filter(|m| hi.mac != Some(*m)) {
            p.push(Step::SetMac(a.clone(), m));
        }
        let (b, bi) = match &x.jail_end {
            Found::Host(bi) => (IfRef::Name(x.jname.clone()), bi),
            Found::Jail(bi) => (IfRef::Name(bi.name.clone()), bi),
            Found::Absent | Found::CameHome(_) => unreachable!("intact"),
        };
        // Inside the jail the jail end can only be changed from there.
        let on_b = |s: Step| match (&x.jail_end, x.jid) {
            (Found::Jail(_), Some(jid)) => Step::InJail(jid, vec![s]),
            _ => s,
        };
        if let Some(m) = x.mac_b.filter(|m| bi.mac != Some(*m)) {
            p.push(on_b(Step::SetMac(b.clone(), m)));
        }
        if let Some(m) = x.mtu {
            // Never two MTUs on one pair: converge both ends (a bridged host end already has
            // the bridge's, which `pair_mtu` made the one wanted).
            if hi.mtu != m {
                p.push(Step::SetMtu(a.clone(), m));
            }
            if bi.mtu != m {
                p.push(on_b(Step::SetMtu(b.clone(), m)));
            }
        }
        if hi.flags & iff::UP == 0 {
            p.push(Step::Up(a.clone()));
        }
        let missing: Vec<&Cidr> =
            self.host_addrs.iter().filter(|c| !hi.addrs.iter().any(|x| x.addr == c.addr)).collect();
        push_addrs(&mut p.steps, &a, &missing);
        (Action::Reused, a, b)
    }

    /// No pair, or a broken one: destroy what is left of ours, make a new one.
    fn plan_create(&self, x: &Existing, p: &mut Plan) -> (Action, IfRef, IfRef) {
        let mut action = Action::Created;
        if x.host_end.is_some() || x.jail_end != Found::Absent {
            // One end is gone, never finished (a crash, a failed start) or back from a vnet:
            // the rest of the pair is ours and broken. Destroying either end takes both, and
            // only ends with the kernel's marks are destroyed from here.
            action = Action::Recreated;
            if x.host_end.is_some() {
                p.push(Step::Destroy(IfRef::Name(x.host.clone())));
            }
            if matches!(x.jail_end, Found::Host(_)) && (x.host_end.is_none() || x.split) {
                p.push(Step::Destroy(IfRef::Name(x.jname.clone())));
            }
        }
        p.push(Step::Load("if_epair".into()));
        let (sa, sb) = (p.slot(), p.slot());
        let (a, b) = (IfRef::Slot(sa), IfRef::Slot(sb));
        p.push(Step::CreateEpair { a: sa, b: sb });
        // The kernel's mark first, then the tag, then the names: a crash at any point after
        // the group leaves interfaces that are recognisably jnet's, which
        // `jnet-release --stale` can then sweep.
        p.push(Step::AddGroup(a.clone(), owner::GROUP.into()));
        p.push(Step::AddGroup(b.clone(), owner::GROUP.into()));
        p.push(Step::Describe(a.clone(), x.tag_a.description()));
        p.push(Step::Describe(b.clone(), x.tag_b.description()));
        p.push(Step::Rename(a.clone(), x.host.clone()));
        p.push(Step::Rename(b.clone(), x.jname.clone()));
        if let (Some(ma), Some(mb)) = (x.mac_a, x.mac_b) {
            p.push(Step::SetMac(a.clone(), ma));
            p.push(Step::SetMac(b.clone(), mb));
        }
        if let Some(m) = x.mtu.filter(|m| *m != ETHERMTU) {
            p.push(Step::SetMtu(a.clone(), m));
            p.push(Step::SetMtu(b.clone(), m));
        }
        p.push(Step::Up(a.clone()));
        push_addrs(&mut p.steps, &a, &self.host_addrs.iter().collect::<Vec<_>>());
        (action, a, b)
    }

    /// The bridge (made if missing) and the uplink first, so the bridge takes the uplink's
    /// MTU; the epair's host end joins last.
    fn plan_bridge(&self, x: &Existing, p: &mut Plan, a: &IfRef) {
        let Some(br) = &self.bridge else { return };
        let mut steps = vec![];
        if x.bridge_members.is_none() {
            steps.push(Step::EnsureBridge(br.clone()));
        }
        let members = x.bridge_members.clone().unwrap_or_default();
        if let Some(u) = &self.uplink {
            // With --vlan the bridge's uplink is the NIC's vlan, made first; the NIC is up.
            if let Some(v) = &self.vlan {
                if !x.list.iter().any(|i| &i.name == v) {
                    steps.push(Step::EnsureVlan(v.clone()));
                }
            }
            let member = self.vlan.as_ref().unwrap_or(u);
            if !members.contains(member) {
                steps.push(Step::BridgeAdd(br.clone(), IfRef::Name(member.clone())));
            }
            if x.list.iter().any(|i| &i.name == u && i.flags & iff::UP == 0) {
                steps.push(Step::Up(IfRef::Name(u.clone())));
            }
        }
        // The bridge's own addresses, once, whichever jail brings them first.
        let has: Vec<Cidr> = x.list.iter().find(|i| &i.name == br).map(|i| i.addrs.clone()).unwrap_or_default();
        let missing: Vec<&Cidr> = self.bridge_addrs.iter().filter(|c| !has.iter().any(|h| h.addr == c.addr)).collect();
        if missing.iter().any(|c| c.addr.is_ipv6()) {
            steps.push(Step::EnableInet6(IfRef::Name(br.clone())));
        }
        steps.extend(missing.iter().map(|c| Step::SharedAddr(br.clone(), **c)));
        p.steps.splice(0..0, steps);
        if !members.contains(&x.host) {
            p.push(Step::BridgeAdd(br.clone(), a.clone()));
        }
    }
}

/// What `look` found.
struct Existing {
    jail: String,
    jid: Option<i32>,
    host: String,
    jname: String,
    tag_a: Tag,
    tag_b: Tag,
    list: Vec<IfInfo>,
    host_end: Option<IfInfo>,
    jail_end: Found,
    split: bool,
    bridge_members: Option<Vec<String>>,
    mac_a: Option<Mac>,
    mac_b: Option<Mac>,
    mtu: Option<u32>,
}

impl Existing {
    /// Both ends there and one pair: reuse it.
    fn intact(&self) -> bool {
        self.host_end.is_some() && matches!(self.jail_end, Found::Host(_) | Found::Jail(_)) && !self.split
    }
}

/// What `jnet-epair` did, for its output and for programs that build on it (jnet-cni).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The jail's name.
    pub jail: String,
    /// Its jid, if it runs.
    pub jid: Option<i32>,
    /// "created", "reused" or "recreated".
    pub action: &'static str,
    /// The host end's name.
    pub host: String,
    /// The host end's MAC, unless the kernel chose it.
    pub host_mac: Option<Mac>,
    /// The jail end's name (inside the jail once handed over).
    pub jail_end: String,
    /// The jail end's MAC, unless the kernel chose it.
    pub jail_mac: Option<Mac>,
    /// Whether the jail end is inside the jail.
    pub inside: bool,
}

impl EpairArgs {
    /// Validate, look, plan and run (or, with `-n`, only plan): the whole of jnet-epair but
    /// its output. Returns the request with what was done, or the dry run's commands.
    pub fn apply<K: Kernel>(&self, k: &mut K) -> Result<(EpairRequest, std::result::Result<Applied, Vec<String>>)> {
        let req = self.validate()?;
        let _lock = if self.dry_run { None } else { crate::jaillock::lock(k, &req.jail)? };
        let built = req.build(k)?;
        if self.dry_run {
            return Ok((req, Err(built.plan.render())));
        }
        log::debug!("plan for jail {}:\n{}", built.jail, built.plan);
        built.plan.execute(k).map_err(|e| e.context(format!("jnet-epair {}", built.jail)))?;
        let action = match built.action {
            Action::Created => "created",
            Action::Reused => "reused",
            Action::Recreated => "recreated",
        };
        log::info!("{action} {} / {} for jail {}", built.host, built.jail_end, built.jail);
        let applied = Applied {
            jail: built.jail,
            jid: built.jid,
            action,
            host: built.host,
            host_mac: built.host_mac,
            jail_end: built.jail_end,
            jail_mac: built.jail_mac,
            inside: built.inside,
        };
        Ok((req, Ok(applied)))
    }
}

impl Program for EpairArgs {
    const NAME: &'static str = "jnet-epair";

    fn common(&self) -> Common {
        self.common_flags()
    }

    fn run<K: Kernel>(self, k: &mut K) -> Result<Output> {
        let (req, done) = self.apply(k)?;
        let a = match done {
            Ok(a) => a,
            Err(cmds) => {
                return Ok(Output { json: json!({ "dry_run": true, "commands": cmds }), lines: cmds, error: None })
            }
        };
        Ok(Output {
            error: None,
            lines: vec![a.jail_end.clone()],
            json: json!({
                "jail": a.jail,
                "jid": a.jid,
                "index": req.index,
                "action": a.action,
                "host": { "name": a.host, "mac": a.host_mac.map(|m| m.to_string()) },
                "jail_end": {
                    "name": a.jail_end,
                    "mac": a.jail_mac.map(|m| m.to_string()),
                    "where": if a.inside { "jail" } else { "host" },
                },
                "bridge": req.bridge,
                "vlan": req.vlan,
                "bridge_addrs": req.bridge_addrs.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
                "host_addrs": req.host_addrs.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
                "addrs": req.addrs.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
                "gateways": req.gateways.iter().map(|g| g.to_string()).collect::<Vec<_>>(),
                "routes": req.routes.iter().map(|(d, g)| json!({ "dst": d.to_string(), "gw": g.to_string() })).collect::<Vec<_>>(),
                "accept_rtadv": req.accept_rtadv,
            }),
        })
    }
}
