//! The simulated host's state and the kernel rules it enforces.
//!
//! Every rule here mirrors a FreeBSD kernel rule cited in `../shared/freebsd-abi.md`, with
//! the same errno. Time-dependent state (DAD, lingering jails) is stored as deadlines in
//! wall-clock milliseconds and settled whenever the state is loaded, so separate processes
//! see time pass consistently.

use crate::errno::Errno;
use crate::freebsd::abi::NdIfInfo;
use crate::kernel::{iff, in6f, nd6f, Cidr, Gateway, IfInfo, JailInfo, Jid, KResult};
use crate::mac::Mac;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv6Addr};

pub use super::VnetId;

/// What kind of interface, with its kind-specific state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum IfKind {
    /// lo(4)
    Loopback {
        /// clone unit
        unit: u32,
    },
    /// A physical Ethernet NIC.
    Ether,
    /// One end of an epair(4).
    Epair {
        /// clone unit
        unit: u32,
        /// the peer's ifindex
        peer: u32,
    },
    /// The ifnet of an ng_eiface node (`ngeth<N>`); not a cloner: only NGM_SHUTDOWN of
    /// its node destroys it.
    Eiface {
        /// ngeth unit
        unit: u32,
        /// the node's id
        node: u32,
    },
    /// lagg(4), made by `jnet-sim init --lagg`.
    Lagg {
        /// LAGG_PROTO_*
        proto: u32,
        /// member NICs
        ports: Vec<String>,
    },
    /// vlan(4): made as `vlanN` without a parent, or as `NIC.TAG` (vlan_clone_match_ethervid)
    /// on parent NIC with that tag.
    Vlan {
        /// clone unit
        unit: u32,
        /// the parent's ifindex
        #[serde(default)]
        parent: Option<u32>,
        /// the 802.1Q tag
        #[serde(default)]
        tag: Option<u16>,
    },
    /// if_bridge(4).
    Bridge {
        /// clone unit
        unit: u32,
        /// member ifindexes, in the order they were added
        members: Vec<u32>,
    },
}

impl IfKind {
    fn cloner(&self) -> Option<&'static str> {
        match self {
            IfKind::Loopback { .. } => Some("lo"),
            IfKind::Ether | IfKind::Eiface { .. } | IfKind::Lagg { .. } => None,
            IfKind::Epair { .. } => Some("epair"),
            IfKind::Bridge { .. } => Some("bridge"),
            IfKind::Vlan { .. } => Some("vlan"),
        }
    }
    /// if_bridge accepts only IFT_ETHER/IFT_L2VLAN/IFT_GIF members; epair is IFT_ETHER.
    fn ethernet_like(&self) -> bool {
        matches!(
            self,
            IfKind::Ether | IfKind::Epair { .. } | IfKind::Eiface { .. } | IfKind::Lagg { .. } | IfKind::Vlan { .. }
        )
    }
}

/// An interface address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimAddr {
    /// address and prefix length
    pub cidr: Cidr,
    /// IN6_IFF_* (IPv6 only)
    #[serde(default)]
    pub flags6: u32,
    /// When DAD started (ms since the epoch); None while it cannot run (down, IFDISABLED).
    #[serde(default)]
    pub dad_start_ms: Option<u64>,
}

/// An interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimIf {
    /// ifindex, unique for the host's lifetime
    pub index: u32,
    /// name in its current vnet
    pub name: String,
    /// the vnet it is in
    pub vnet: VnetId,
    /// the vnet it was created in (where it returns when a vnet dies)
    pub home: VnetId,
    /// driver name and unit (`if_dname` + `if_dunit`: `igb2`, `epair7`), which no rename
    /// changes (IFDATA_DRIVERNAME)
    #[serde(default)]
    pub driver: String,
    /// kind
    pub kind: IfKind,
    /// description
    pub descr: Option<String>,
    /// interface groups
    pub groups: Vec<String>,
    /// IFF_* flags
    pub flags: u32,
    /// link-level address
    pub mac: Option<Mac>,
    /// MTU
    pub mtu: u32,
    /// IFCAP_* capabilities enabled (`if_capenable`, SIOCGIFCAP's ifr_curcap)
    #[serde(default)]
    pub capenable: u32,
    /// addresses
    pub addrs: Vec<SimAddr>,
    /// ND6 per-interface state
    pub nd6: NdIfInfo,
    /// When it was attached in its vnet (`if_epoch`: if_attach_internal sets it on creation
    /// and on every vnet move). FreeBSD counts uptime seconds; the sim counts milliseconds
    /// of its clock, so that a move within a second is seen (see `Host::clock_ms`).
    #[serde(default)]
    pub epoch_ms: u64,
    /// if_pcount: references on promiscuous mode (ifpromisc: a bridge's for its member,
    /// ng_ether's NGM_ETHER_SET_PROMISC, a promiscuous vlan's for its parent).
    #[serde(default)]
    pub pcount: u32,
}

pub use crate::kernel::ifcap::VLAN_MTU as IFCAP_VLAN_MTU;

/// What a new interface of `kind` has enabled: Ethernet NICs as most drivers do, and epairs
/// (if_epair.c epair_clone_create) carry VLAN-sized frames.
pub fn default_capenable(kind: &IfKind) -> u32 {
    // net/if.h: IFCAP_RXCSUM 0x1, IFCAP_TXCSUM 0x2, IFCAP_JUMBO_MTU 0x20, IFCAP_LINKSTATE
    // 0x80000, IFCAP_RXCSUM_IPV6 0x200000, IFCAP_TXCSUM_IPV6 0x400000.
    const HWCSUM: u32 = 0x1 | 0x2;
    const HWCSUM_IPV6: u32 = 0x20_0000 | 0x40_0000;
    const LINKSTATE: u32 = 0x8_0000;
    const JUMBO_MTU: u32 = 0x20;
    match kind {
        IfKind::Ether | IfKind::Epair { .. } => IFCAP_VLAN_MTU,
        // if_loop.c lo_clone_create.
        IfKind::Loopback { .. } => HWCSUM | HWCSUM_IPV6 | LINKSTATE,
        // ng_eiface.c ng_eiface_constructor.
        IfKind::Eiface { .. } => IFCAP_VLAN_MTU | JUMBO_MTU,
        _ => 0,
    }
}

/// Alive or dying (removed, vnet still held).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JailState {
    /// Running.
    Alive,
    /// Removed; the vnet goes away at `until_ms`.
    Dying {
        /// when the last reference (TIME_WAIT sockets) goes
        until_ms: u64,
        /// the vnet is already shutting down: SIOCSIFRVNET answers EBUSY
        #[serde(default)]
        stuck: bool,
    },
}

/// A jail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimJail {
    /// jid
    pub jid: Jid,
    /// name
    pub name: String,
    /// own vnet
    pub vnet: bool,
    /// state
    pub state: JailState,
    /// ip4.addr / ip6.addr of an IP-sharing jail, with the host NIC they were put on
    #[serde(default)]
    pub ips: Vec<(String, Cidr)>,
    /// what the jail's root does to processes that enter the jail
    #[serde(default)]
    pub trap: Option<Trap>,
}

/// A static route of a vnet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimRoute {
    /// the vnet whose table it is in
    pub vnet: VnetId,
    /// the network it leads to; None for the default route (of the gateway's family)
    #[serde(default)]
    pub net: Option<Cidr>,
    /// its gateway (the family is the gateway's)
    pub gateway: IpAddr,
    /// a link-local gateway's interface (ifindex)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<u32>,
    /// learned from a router advertisement (netstat's flags UG), not added (UGS)
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub learned: bool,
}

impl SimRoute {
    /// Its destination, 0.0.0.0/0 or ::/0 for the default route.
    pub fn dst(&self) -> Cidr {
        self.net.unwrap_or_else(|| Cidr::default_dst(self.gateway.is_ipv6()))
    }
    /// Its next hop.
    pub fn next_hop(&self) -> Gateway {
        Gateway { addr: self.gateway, scope: self.scope }
    }
}

/// What a hostile jail root does to a process that `jail_attach`es into his jail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trap {
    /// SIGSTOP: it never finishes.
    Stop,
    /// SIGKILL: it dies without a result.
    Kill,
}

impl SimJail {
    /// jail_get's view.
    pub fn info(&self) -> JailInfo {
        JailInfo { jid: self.jid, name: self.name.clone(), vnet: self.vnet, dying: self.state != JailState::Alive }
    }
    /// The vnet the jail's processes see.
    pub fn vnet_id(&self) -> VnetId {
        self.vnet.then_some(self.jid)
    }
}

/// A pending injected failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailSpec {
    /// operations still to succeed
    pub after: u64,
    /// errno of the failure
    pub errno: Errno,
    /// instead of failing, kill the calling process with SIGKILL (a crash mid-run)
    #[serde(default)]
    pub kill: bool,
    /// how many operations in a row fail (1 if 0)
    #[serde(default)]
    pub times: u32,
}

/// The whole simulated host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    /// kern.hostuuid
    pub hostuuid: String,
    /// next jid to hand out
    pub next_jid: Jid,
    /// next ifindex to hand out
    pub next_index: u32,
    /// jails, alive and dying
    pub jails: Vec<SimJail>,
    /// interfaces, in every vnet
    pub ifaces: Vec<SimIf>,
    /// allocated clone units per (home vnet, cloner), e.g. "host/epair"
    pub units: BTreeMap<String, BTreeSet<u32>>,
    /// integer sysctls
    pub sysctls: BTreeMap<String, i64>,
    /// loaded kernel modules
    pub modules: BTreeSet<String>,
    /// ND retrans timer of new interfaces (ms), i.e. the DAD probe interval
    pub dad_ms: u32,
    /// addresses another host on the link claims (`jnet-sim dup`)
    pub dups: BTreeSet<Ipv6Addr>,
    /// injected failure
    pub fail: Option<FailSpec>,
    /// netgraph nodes, every vnet's
    #[serde(default)]
    pub netgraph: Vec<super::ngnode::SimNgNode>,
    /// next netgraph node id
    #[serde(default)]
    pub next_ng_id: u32,
    /// default routes, every vnet's
    #[serde(default)]
    pub routes: Vec<SimRoute>,
    /// Netgraph shutdowns and vnet teardowns complete this long after they are asked for,
    /// as on FreeBSD where they are queued (`jnet-sim init --async-ms`); 0: at once.
    #[serde(default)]
    pub ng_async_ms: u64,
    /// The time of the operation being made (ms since the epoch), set whenever the state is
    /// settled: what interfaces attached now get as their epoch. Not kept in the file.
    #[serde(skip)]
    pub clock_ms: u64,
}

/// IF_DUNIT_NONE (`sys/net/if.h`, -1): an interface without a unit, as a dotted vlan.
pub const DUNIT_NONE: u32 = u32::MAX;

const CLONERS: &[(&str, &str)] = &[("epair", "if_epair"), ("bridge", "if_bridge"), ("vlan", "if_vlan"), ("lo", "")];

fn split_unit(name: &str) -> Option<(&str, Option<u32>)> {
    let digits_at = name.find(|c: char| c.is_ascii_digit()).unwrap_or(name.len());
    let (base, digits) = name.split_at(digits_at);
    if digits.is_empty() {
        return Some((base, None));
    }
    // Unit numbers have no leading zeros and nothing after them ("bridge01" is refused).
    if !digits.bytes().all(|c| c.is_ascii_digit()) || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    Some((base, Some(digits.parse().ok()?)))
}

fn unit_key(home: VnetId, cloner: &str) -> String {
    match home {
        None => format!("host/{cloner}"),
        Some(j) => format!("{j}/{cloner}"),
    }
}

impl Host {
    /// Add a lagg(4) over some of the NICs (as `ifconfig lagg0 create laggproto P laggport
    /// ...` would), up, with the first port's MAC.
    pub fn add_lagg(&mut self, name: &str, proto: u32, ports: &[String]) -> KResult<()> {
        if self.find(None, name).is_some() {
            return Err(Errno::EEXIST);
        }
        let mut mac = None;
        for p in ports {
            let ifp = self.find(None, p).ok_or(Errno::ENOENT)?;
            if !matches!(ifp.kind, IfKind::Ether) {
                return Err(Errno::EINVAL);
            }
            mac = mac.or(ifp.mac);
        }
        let index = self.alloc_index();
        let kind = IfKind::Lagg { proto, ports: ports.to_vec() };
        let mut nd6 = self.nd6_defaults(&kind);
        nd6.flags &= !nd6f::IFDISABLED;
        self.ifaces.push(SimIf {
            pcount: 0,
            index,
            epoch_ms: self.clock_ms,
            name: name.to_string(),
            vnet: None,
            home: None,
            capenable: default_capenable(&kind),
            kind,
            descr: None,
            driver: name.to_string(),
            groups: vec!["all".into(), "lagg".into()],
            flags: iff::UP | iff::BROADCAST | iff::RUNNING | iff::SIMPLEX | iff::MULTICAST,
            mac,
            mtu: 1500,
            addrs: vec![],
            nd6,
        });
        Ok(())
    }

    /// A fresh host: lo0 and the given NICs, up, IPv6 enabled and settled.
    pub fn new(hostuuid: String, phys: &[String], dad_ms: u32) -> Host {
        let mut sysctls = BTreeMap::new();
        sysctls.insert("net.inet6.ip6.dad_count".to_string(), 1);
        sysctls.insert("net.inet6.ip6.auto_linklocal".to_string(), 1);
        sysctls.insert("net.inet6.ip6.accept_rtadv".to_string(), 0);
        sysctls.insert("net.ifdescr_maxlen".to_string(), 1024);
        sysctls.insert("kern.features.vimage".to_string(), 1);
        let mut h = Host {
            hostuuid,
            next_jid: 1,
            next_index: 1,
            jails: vec![],
            ifaces: vec![],
            units: BTreeMap::new(),
            sysctls,
            modules: BTreeSet::new(),
            dad_ms,
            dups: BTreeSet::new(),
            fail: None,
            netgraph: vec![],
            next_ng_id: 1,
            routes: vec![],
            ng_async_ms: 0,
            clock_ms: 0,
        };
        let lo = h.attach_loopback(None);
        let lo = h.by_index_mut(lo).expect("lo0");
        lo.flags |= iff::UP | iff::RUNNING;
        lo.addrs = vec![
            SimAddr {
                cidr: Cidr { addr: "127.0.0.1".parse().expect("v4"), prefixlen: 8 },
                flags6: 0,
                dad_start_ms: None,
            },
            SimAddr { cidr: Cidr { addr: "::1".parse().expect("v6"), prefixlen: 128 }, flags6: 0, dad_start_ms: None },
            SimAddr {
                cidr: Cidr { addr: "fe80::1".parse().expect("v6"), prefixlen: 64 },
                flags6: 0,
                dad_start_ms: None,
            },
        ];
        for (i, name) in phys.iter().enumerate() {
            let index = h.alloc_index();
            let mut mac = Mac::derive(&h.hostuuid, "physical-nic", i as u32, name).0;
            // Physical NICs carry a vendor (universally administered) address.
            mac[0] &= 0xfc;
            let mut nd6 = h.nd6_defaults(&IfKind::Ether);
            nd6.flags &= !nd6f::IFDISABLED;
            let ll = link_local(Mac(mac));
            h.ifaces.push(SimIf {
                pcount: 0,
                index,
                epoch_ms: h.clock_ms,
                name: name.clone(),
                vnet: None,
                home: None,
                capenable: default_capenable(&IfKind::Ether),
                kind: IfKind::Ether,
                descr: None,
                driver: name.clone(),
                groups: vec!["all".into()],
                flags: iff::UP | iff::BROADCAST | iff::RUNNING | iff::SIMPLEX | iff::MULTICAST,
                mac: Some(Mac(mac)),
                mtu: 1500,
                addrs: vec![SimAddr {
                    cidr: Cidr { addr: IpAddr::V6(ll), prefixlen: 64 },
                    flags6: 0,
                    dad_start_ms: None,
                }],
                nd6,
            });
        }
        h
    }

    fn alloc_index(&mut self) -> u32 {
        let i = self.next_index;
        self.next_index += 1;
        i
    }

    /// `nd6_ifattach` defaults: PERFORMNUD, IFDISABLED unless loopback, AUTO_LINKLOCAL if
    /// the sysctl is on and this is not a bridge, ACCEPT_RTADV (clearing IFDISABLED) if set.
    pub(crate) fn nd6_defaults(&self, kind: &IfKind) -> NdIfInfo {
        let mut flags = nd6f::PERFORMNUD;
        if !matches!(kind, IfKind::Loopback { .. }) {
            flags |= nd6f::IFDISABLED;
        }
        if self.sysctl("net.inet6.ip6.auto_linklocal") != 0 && !matches!(kind, IfKind::Bridge { .. }) {
            flags |= nd6f::AUTO_LINKLOCAL;
        }
        if self.sysctl("net.inet6.ip6.accept_rtadv") != 0 {
            flags |= nd6f::ACCEPT_RTADV;
            flags &= !nd6f::IFDISABLED;
        }
        NdIfInfo {
            linkmtu: 0,
            maxmtu: 1500,
            basereachable: 30_000,
            reachable: 30_000,
            retrans: self.dad_ms,
            flags,
            recalctm: 7200,
            chlim: 64,
            initialized: 1,
            opaque: [0; 26],
        }
    }

    fn attach_loopback(&mut self, vnet: VnetId) -> u32 {
        let index = self.alloc_index();
        self.units.entry(unit_key(vnet, "lo")).or_default().insert(0);
        let nd6 = self.nd6_defaults(&IfKind::Loopback { unit: 0 });
        self.ifaces.push(SimIf {
            pcount: 0,
            index,
            epoch_ms: self.clock_ms,
            name: "lo0".into(),
            vnet,
            home: vnet,
            capenable: default_capenable(&IfKind::Loopback { unit: 0 }),
            kind: IfKind::Loopback { unit: 0 },
            descr: None,
            driver: "lo0".into(),
            groups: vec!["all".into(), "lo".into()],
            flags: iff::LOOPBACK | iff::MULTICAST,
            mac: None,
            mtu: 16384,
            addrs: vec![],
            nd6,
        });
        index
    }

    /// An integer sysctl, 0 when unset.
    pub fn sysctl(&self, name: &str) -> i64 {
        self.sysctls.get(name).copied().unwrap_or(0)
    }

    // --- lookups ------------------------------------------------------------------------

    /// The interfaces of `vnet` in the order they arrived there, as the kernel lists them
    /// (a moved interface is attached anew at the end of its new vnet's list).
    pub fn in_vnet(&self, vnet: VnetId) -> Vec<&SimIf> {
        self.ifaces.iter().filter(|i| i.vnet == vnet).collect()
    }

    /// The interface named `name` in `vnet`.
    pub fn find(&self, vnet: VnetId, name: &str) -> Option<&SimIf> {
        self.ifaces.iter().find(|i| i.vnet == vnet && i.name == name)
    }
    fn pos(&self, vnet: VnetId, name: &str) -> KResult<usize> {
        self.ifaces.iter().position(|i| i.vnet == vnet && i.name == name).ok_or(Errno::ENXIO)
    }
    fn by_index_mut(&mut self, index: u32) -> Option<&mut SimIf> {
        self.ifaces.iter_mut().find(|i| i.index == index)
    }
    fn by_index(&self, index: u32) -> Option<&SimIf> {
        self.ifaces.iter().find(|i| i.index == index)
    }
    /// The live jail with this jid (alive or dying).
    pub fn jail_by_jid(&self, jid: Jid) -> Option<&SimJail> {
        self.jails.iter().find(|j| j.jid == jid)
    }
    /// The jail with this name: the alive one if any, else a dying one.
    pub fn jail_by_name(&self, name: &str) -> Option<&SimJail> {
        let mut m = self.jails.iter().filter(|j| j.name == name);
        let all: Vec<&SimJail> = m.by_ref().collect();
        all.iter().find(|j| j.state == JailState::Alive).or_else(|| all.last()).copied()
    }
    /// Name of the vnet for logs and `show`: "host" or the jail's name.
    pub fn vnet_label(&self, vnet: VnetId) -> String {
        match vnet {
            None => "host".into(),
            Some(j) => self.jail_by_jid(j).map(|j| j.name.clone()).unwrap_or_else(|| format!("jid{j}")),
        }
    }

    // --- time-dependent state -----------------------------------------------------------

    /// Apply what happened since the last look: DAD results, vnets of dying jails released.
    pub fn settle(&mut self, now_ms: u64) {
        self.clock_ms = now_ms;
        let dad_count = self.sysctl("net.inet6.ip6.dad_count").max(0) as u64;
        let dups = self.dups.clone();
        let held = if dad_count > 0 { self.held_on_the_link(now_ms) } else { BTreeSet::new() };
        for ifp in &mut self.ifaces {
            let retrans = u64::from(ifp.nd6.retrans);
            let index = ifp.index;
            for a in &mut ifp.addrs {
                let (Some(start), IpAddr::V6(v6)) = (a.dad_start_ms, a.cidr.addr) else {
                    continue;
                };
                if a.flags6 & in6f::TENTATIVE == 0 {
                    continue;
                }
                // The first probe meets the other host's answer (or a neighbour's on the
                // link, link.rs) at once; otherwise DAD ends after dad_count probes, one
                // retrans interval apart.
                let answered = dups.contains(&v6) || held.contains(&(index, v6));
                if answered && dad_count > 0 && now_ms >= start {
                    a.flags6 = (a.flags6 & !in6f::TENTATIVE) | in6f::DUPLICATED;
                } else if now_ms >= start + dad_count * retrans {
                    a.flags6 &= !in6f::TENTATIVE;
                }
            }
        }
        self.ng_sweep_dead_sockets();
        self.ng_settle(now_ms);
        self.prune_routes();
        let expired: Vec<Jid> = self
            .jails
            .iter()
            .filter(|j| matches!(j.state, JailState::Dying { until_ms, .. } if until_ms <= now_ms))
            .map(|j| j.jid)
            .collect();
        for jid in expired {
            self.destroy_vnet(jid);
        }
    }

    /// The tentative addresses whose probe has gone out and that another interface on the
    /// same link holds (not duplicated itself): (ifindex, address).
    fn held_on_the_link(&self, now_ms: u64) -> BTreeSet<(u32, Ipv6Addr)> {
        let probing = |a: &SimAddr| a.flags6 & in6f::TENTATIVE != 0 && a.dad_start_ms.is_some_and(|s| now_ms >= s);
        let mut out = BTreeSet::new();
        // Made at the first probing address: most operations find none.
        let mut links = None;
        for ifp in &self.ifaces {
            for a in ifp.addrs.iter().filter(|a| probing(a)) {
                let IpAddr::V6(v6) = a.cidr.addr else { continue };
                let holds = |i: &SimIf| {
                    i.addrs.iter().any(|b| {
                        b.cidr.addr == a.cidr.addr
                            && b.flags6 & in6f::DUPLICATED == 0
                            && (b.flags6 & in6f::TENTATIVE == 0 || probing(b))
                    })
                };
                let link = links.get_or_insert_with(|| self.links()).same_link(ifp.index);
                if self.ifaces.iter().any(|i| link.contains(&i.index) && holds(i)) {
                    out.insert((ifp.index, v6));
                }
            }
        }
        out
    }

    /// `vnet_destroy`: interfaces born elsewhere go home (`vnet_if_return`), those born in
    /// the vnet are destroyed (an epair goes with both ends); then the jail is gone.
    fn destroy_vnet(&mut self, jid: Jid) {
        let vnet = self.jail_by_jid(jid).and_then(|j| j.vnet_id());
        if let Some(v) = vnet {
            let inside: Vec<u32> = self.ifaces.iter().filter(|i| i.vnet == Some(v)).map(|i| i.index).collect();
            for index in inside {
                let Some(ifp) = self.by_index(index) else {
                    continue;
                };
                if ifp.home == Some(v) {
                    self.destroy_index(index);
                } else {
                    let home = ifp.home;
                    self.vmove(index, home, true);
                }
            }
            self.units.retain(|k, _| !k.starts_with(&format!("{jid}/")));
        }
        self.jails.retain(|j| j.jid != jid);
    }

    // --- interface rules ----------------------------------------------------------------

    /// SIOCIFCREATE2 of `NIC.TAG`: if_vlan's cloner takes such a name (vlan_clone_match
    /// _ethervid) and makes a vlan on that parent with that tag, under that very name.
    fn create_vlan_on(&mut self, vnet: VnetId, req: &str) -> KResult<String> {
        let (parent, tag) = req.split_once('.').ok_or(Errno::EINVAL)?;
        let p = self.find(vnet, parent).ok_or(Errno::EINVAL)?.clone();
        let tag: u16 = match tag.parse::<u16>() {
            Ok(t) if !tag.is_empty() && tag.bytes().all(|c| c.is_ascii_digit()) => t,
            _ => return Err(Errno::EINVAL),
        };
        if !self.modules.contains("if_vlan") {
            return Err(Errno::EINVAL);
        }
        if tag == 0 || tag > 4094 {
            return Err(Errno::EINVAL);
        }
        if req.len() > 15 {
            return Err(Errno::ENAMETOOLONG);
        }
        if self.find(vnet, req).is_some() {
            return Err(Errno::EEXIST);
        }
        // vlan_clone_create gives a NIC.TAG subinterface no unit (if_dunit = IF_DUNIT_NONE,
        // none allocated): its driver name is the bare "vlan" (if_vlan.c, 13.0 run through
        // F-Stack and 14's source alike; test fbsd_stack, recipe 9).
        let unit = DUNIT_NONE;
        let index = self.alloc_index();
        let kind = IfKind::Vlan { unit, parent: Some(p.index), tag: Some(tag) };
        let nd6 = self.nd6_defaults(&kind);
        self.ifaces.push(SimIf {
            pcount: 0,
            index,
            epoch_ms: self.clock_ms,
            name: req.to_string(),
            vnet,
            home: vnet,
            capenable: default_capenable(&kind),
            kind,
            driver: "vlan".into(),
            descr: None,
            groups: vec!["all".into(), "vlan".into()],
            // vlan_config: "We are ready for operation now" (IFF_DRV_RUNNING, if_vlan.c; a
            // vlan is RUNNING from creation on FreeBSD 13.0 through F-Stack).
            flags: iff::BROADCAST | iff::SIMPLEX | iff::MULTICAST | iff::RUNNING,
            mac: p.mac,
            // if_vlan.c vlan_config: the parent's MTU, less the tag (ifv_mtufudge) when the
            // parent cannot carry VLAN-sized frames.
            mtu: if p.capenable & IFCAP_VLAN_MTU != 0 { p.mtu } else { p.mtu - 4 },
            addrs: vec![],
            nd6,
        });
        self.ng_ether_attach(index);
        Ok(req.to_string())
    }

    /// SIOCIFCREATE2 in `vnet`.
    pub fn create(&mut self, vnet: VnetId, req: &str) -> KResult<String> {
        if req.contains('.') {
            return self.create_vlan_on(vnet, req);
        }
        let (base, unit) = split_unit(req).ok_or(Errno::EINVAL)?;
        // No matching cloner, or its module is not loaded: EINVAL (ifconfig then kldloads).
        let (_, module) = CLONERS.iter().find(|(c, _)| *c == base).ok_or(Errno::EINVAL)?;
        if !module.is_empty() && !self.modules.contains(*module) {
            return Err(Errno::EINVAL);
        }
        if base == "lo" {
            // Another loopback is possible in FreeBSD but never needed here.
            return Err(Errno::EOPNOTSUPP);
        }
        let key = unit_key(vnet, base);
        let used = self.units.get(&key).cloned().unwrap_or_default();
        let unit = match unit {
            Some(u) => {
                if used.contains(&u) || self.find(vnet, &format!("{base}{u}")).is_some() {
                    return Err(Errno::EEXIST);
                }
                u
            }
            // ifc_alloc_unit_next: the lowest free unit whose plain name is not taken.
            None => (0..)
                .find(|u| !used.contains(u) && self.find(vnet, &format!("{base}{u}")).is_none())
                .expect("a free unit"),
        };
        let first_new = self.next_index;
        let name = match base {
            "epair" => {
                let (a, b) = (format!("epair{unit}a"), format!("epair{unit}b"));
                if a.len() > 15 {
                    return Err(Errno::ENOSPC);
                }
                // epair_clone_create: either end's name already taken is EEXIST.
                if self.find(vnet, &a).is_some() || self.find(vnet, &b).is_some() {
                    return Err(Errno::EEXIST);
                }
                let (ia, ib) = (self.alloc_index(), self.alloc_index());
                for (index, name, peer, last) in [(ia, a.clone(), ib, 0x0a), (ib, b, ia, 0x0b)] {
                    let kind = IfKind::Epair { unit, peer };
                    let nd6 = self.nd6_defaults(&kind);
                    let u = unit.to_be_bytes();
                    self.ifaces.push(SimIf {
                        pcount: 0,
                        index,
                        epoch_ms: self.clock_ms,
                        name,
                        vnet,
                        home: vnet,
                        capenable: default_capenable(&kind),
                        kind,
                        descr: None,
                        // if_epair.c epair_setup_ifp: both ends are driver "epair", the pair's unit.
                        driver: format!("epair{unit}"),
                        groups: vec!["all".into(), "epair".into()],
                        // epair_clone_create marks both ends IFF_DRV_RUNNING at once, and
                        // only epair_clone_destroy clears it: epair_ioctl ignores
                        // SIOCSIFFLAGS (if_epair.c, FreeBSD 13.0 and 14; fbsd_stack test).
                        flags: iff::BROADCAST | iff::SIMPLEX | iff::MULTICAST | iff::RUNNING,
                        mac: Some(Mac([0x02, u[0], u[1], u[2], u[3], last])),
                        mtu: 1500,
                        addrs: vec![],
                        nd6,
                    });
                }
                a
            }
            _ => {
                let name = format!("{base}{unit}");
                let index = self.alloc_index();
                let (kind, mac) = if base == "vlan" {
                    // A vlan without a parent has no link-level address yet.
                    (IfKind::Vlan { unit, parent: None, tag: None }, Mac([0; 6]))
                } else {
                    (
                        IfKind::Bridge { unit, members: vec![] },
                        Mac::derive(&self.hostuuid, "bridge", unit, &format!("{vnet:?}")),
                    )
                };
                let nd6 = self.nd6_defaults(&kind);
                let group = base.to_string();
                self.ifaces.push(SimIf {
                    pcount: 0,
                    index,
                    epoch_ms: self.clock_ms,
                    name: name.clone(),
                    vnet,
                    home: vnet,
                    capenable: default_capenable(&kind),
                    kind,
                    descr: None,
                    driver: name.clone(),
                    groups: vec!["all".into(), group],
                    flags: iff::BROADCAST | iff::SIMPLEX | iff::MULTICAST,
                    mac: Some(mac),
                    mtu: 1500,
                    addrs: vec![],
                    nd6,
                });
                name
            }
        };
        self.units.entry(key).or_default().insert(unit);
        // ether_ifattach of each new ifnet: ng_ether gives it a node.
        for index in first_new..self.next_index {
            self.ng_ether_attach(index);
        }
        Ok(name)
    }

    /// SIOCIFDESTROY in `vnet`.
    pub fn destroy(&mut self, vnet: VnetId, name: &str) -> KResult<()> {
        let p = self.pos(vnet, name)?;
        match self.ifaces[p].kind {
            IfKind::Ether | IfKind::Eiface { .. } | IfKind::Lagg { .. } => Err(Errno::EINVAL),
            // The vnet's own loopback cannot be destroyed.
            IfKind::Loopback { .. } => Err(Errno::EINVAL),
            _ => {
                let index = self.ifaces[p].index;
                self.destroy_index(index);
                Ok(())
            }
        }
    }

    fn destroy_index(&mut self, index: u32) {
        let Some(ifp) = self.by_index(index).cloned() else {
            return;
        };
        let mut gone = vec![index];
        if let IfKind::Epair { peer, .. } = ifp.kind {
            // Destroying either end destroys both, wherever the other one is.
            gone.push(peer);
        }
        if let Some(cloner) = ifp.kind.cloner() {
            if let IfKind::Epair { unit, .. }
            | IfKind::Bridge { unit, .. }
            | IfKind::Vlan { unit, .. }
            | IfKind::Loopback { unit } = ifp.kind
            {
                let key = unit_key(ifp.home, cloner);
                if let Some(s) = self.units.get_mut(&key) {
                    s.remove(&unit);
                    if s.is_empty() {
                        self.units.remove(&key);
                    }
                }
            }
        }
        for g in &gone {
            self.bridge_detach(*g);
            self.ng_ifnet_detached(*g);
        }
        self.ifaces.retain(|i| !gone.contains(&i.index));
    }

    /// Remove `index` from whatever bridge has it; if it is a bridge, drop its members.
    fn bridge_detach(&mut self, index: u32) {
        let mut released = vec![];
        for b in &mut self.ifaces {
            if let IfKind::Bridge { members, .. } = &mut b.kind {
                if b.index == index {
                    released.append(members);
                } else if members.contains(&index) {
                    members.retain(|m| *m != index);
                    released.push(index);
                }
            }
        }
        for m in released {
            self.promisc(m, false);
        }
    }

    /// SIOCSIFNAME.
    pub fn rename(&mut self, vnet: VnetId, name: &str, new: &str) -> KResult<()> {
        let p = self.pos(vnet, name)?;
        if new.is_empty() {
            return Err(Errno::EINVAL);
        }
        if new.len() > 15 {
            return Err(Errno::ENAMETOOLONG);
        }
        if name == new {
            return Ok(());
        }
        if self.find(vnet, new).is_some() {
            return Err(Errno::EEXIST);
        }
        self.ifaces[p].name = new.to_string();
        let index = self.ifaces[p].index;
        self.ng_ifnet_renamed(index, new);
        Ok(())
    }

    /// SIOCGIFDESCR (ENOMSG when unset).
    pub fn description(&self, vnet: VnetId, name: &str) -> KResult<String> {
        self.find(vnet, name).ok_or(Errno::ENXIO)?.descr.clone().ok_or(Errno::ENOMSG)
    }

    /// SIOCSIFDESCR.
    pub fn set_description(&mut self, vnet: VnetId, name: &str, descr: Option<&str>) -> KResult<()> {
        let p = self.pos(vnet, name)?;
        if let Some(d) = descr {
            if d.len() + 1 > self.sysctl("net.ifdescr_maxlen") as usize {
                return Err(Errno::ENAMETOOLONG);
            }
        }
        self.ifaces[p].descr = descr.filter(|d| !d.is_empty()).map(str::to_string);
        Ok(())
    }

    /// SIOCGIFGROUP.
    pub fn groups(&self, vnet: VnetId, name: &str) -> KResult<Vec<String>> {
        Ok(self.find(vnet, name).ok_or(Errno::ENXIO)?.groups.clone())
    }

    /// SIOCAIFGROUP.
    pub fn add_group(&mut self, vnet: VnetId, name: &str, group: &str) -> KResult<()> {
        let p = self.pos(vnet, name)?;
        if group.is_empty() || group.len() > 15 || group.ends_with(|c: char| c.is_ascii_digit()) {
            return Err(Errno::EINVAL);
        }
        if self.ifaces[p].groups.iter().any(|g| g == group) {
            return Err(Errno::EEXIST);
        }
        self.ifaces[p].groups.push(group.to_string());
        Ok(())
    }

    /// SIOCDIFGROUP.
    pub fn del_group(&mut self, vnet: VnetId, name: &str, group: &str) -> KResult<()> {
        let p = self.pos(vnet, name)?;
        let before = self.ifaces[p].groups.len();
        self.ifaces[p].groups.retain(|g| g != group);
        if self.ifaces[p].groups.len() == before {
            return Err(Errno::ENOENT);
        }
        Ok(())
    }

    /// SIOCGIFFLAGS.
    pub fn flags(&self, vnet: VnetId, name: &str) -> KResult<u32> {
        Ok(self.find(vnet, name).ok_or(Errno::ENXIO)?.flags)
    }

    /// SIOCSIFFLAGS: only UP (and PPROMISC) may change; going UP starts DAD on tentative
    /// addresses and adds the automatic link-local address.
    pub fn set_flags(&mut self, vnet: VnetId, name: &str, flags: u32, now_ms: u64) -> KResult<()> {
        let p = self.pos(vnet, name)?;
        let changeable = iff::UP | iff::PPROMISC;
        let ifp = &mut self.ifaces[p];
        let was_up = ifp.flags & iff::UP != 0;
        let was_promisc = ifp.flags & iff::PROMISC != 0;
        ifp.flags = (ifp.flags & !changeable) | (flags & changeable);
        // ifhwioctl: PPROMISC holds PROMISC; without it PROMISC stays while references do.
        let index = ifp.index;
        self.promisc_shown(index, was_promisc);
        let ifp = &mut self.ifaces[p];
        let up = ifp.flags & iff::UP != 0;
        // Drivers whose if_init/ioctl start and stop with UP (bridge_init/bridge_stop,
        // ng_eiface, NICs); an epair stays RUNNING whatever its UP flag, and a vlan is
        // RUNNING while it has a parent (vlan_config/vlan_unconfig_locked, if_vlan.c).
        let running_follows_up = !matches!(ifp.kind, IfKind::Epair { .. } | IfKind::Vlan { .. });
        if up {
            if running_follows_up {
                ifp.flags |= iff::RUNNING;
            }
        } else {
            if running_follows_up {
                ifp.flags &= !iff::RUNNING;
            }
            for a in &mut ifp.addrs {
                if a.flags6 & in6f::TENTATIVE != 0 {
                    a.dad_start_ms = None;
                }
            }
        }
        if up && !was_up {
            self.in6_if_up(p, now_ms);
        }
        Ok(())
    }

    /// ifpromisc(9): take or drop a reference on promiscuous mode. IFF_PROMISC shows while
    /// any is held or the admin set PPROMISC (if.c if_setflag, ifhwioctl); a vlan whose
    /// promiscuity changes passes it to its parent (vlan_setflags, if_vlan.c: a vlan on a
    /// bridge makes its NIC promiscuous, as FreeBSD 13.0 through F-Stack shows).
    pub fn promisc(&mut self, index: u32, on: bool) {
        let Some(ifp) = self.by_index_mut(index) else { return };
        let was = ifp.flags & iff::PROMISC != 0;
        ifp.pcount = if on { ifp.pcount + 1 } else { ifp.pcount.saturating_sub(1) };
        self.promisc_shown(index, was);
    }

    /// IFF_PROMISC from the references and PPROMISC; a vlan whose flag changed takes or
    /// drops its reference on its parent (vlan_setflags compares IFF_PROMISC, so the admin's
    /// `ifconfig vlan promisc` counts too).
    fn promisc_shown(&mut self, index: u32, was: bool) {
        let Some(ifp) = self.by_index_mut(index) else { return };
        let held = ifp.pcount > 0 || ifp.flags & iff::PPROMISC != 0;
        ifp.flags = if held { ifp.flags | iff::PROMISC } else { ifp.flags & !iff::PROMISC };
        if let IfKind::Vlan { parent: Some(p), .. } = ifp.kind {
            if held != was {
                self.promisc(p, held);
            }
        }
    }

    /// SIOCSIFADDR to the driver, which in6_notify_ifa and in_aifaddr_ioctl send: ether_ioctl
    /// (epair, if_bridge, ng_eiface, NICs), vlan_ioctl and loioctl set IFF_UP and start the
    /// interface (if_init: RUNNING). The flag is set directly, not through if_up(), so no
    /// in6_if_up follows.
    fn driver_sifaddr(&mut self, p: usize) {
        let ifp = &mut self.ifaces[p];
        ifp.flags |= iff::UP;
        // A vlan runs while it has a parent (vlan_config), whatever its flags.
        if !matches!(ifp.kind, IfKind::Vlan { parent: None, .. }) {
            ifp.flags |= iff::RUNNING;
        }
    }

    /// `in6_if_up`: add the automatic link-local address if wanted, start DAD on every
    /// tentative address (the kernel's random delay of up to 1 s is not simulated).
    fn in6_if_up(&mut self, p: usize, now_ms: u64) {
        let ifp = &mut self.ifaces[p];
        if ifp.flags & iff::UP == 0 || ifp.nd6.flags & nd6f::IFDISABLED != 0 {
            return;
        }
        // in6_ifattach (sys/netinet6/in6_ifattach.c): a loopback gets ::1/128 when it first
        // comes up (a new vnet's lo0 has no address until its rc brings it up), and its
        // link-local address is fe80::1 (in6_ifattach_linklocal's loopback case).
        if ifp.flags & iff::LOOPBACK != 0 {
            let has = |ifp: &SimIf, a: &str| ifp.addrs.iter().any(|x| x.cidr.addr.to_string() == a);
            if !has(ifp, "::1") {
                let cidr = Cidr { addr: IpAddr::V6(Ipv6Addr::LOCALHOST), prefixlen: 128 };
                ifp.addrs.push(SimAddr { cidr, flags6: 0, dad_start_ms: None });
            }
            let ll = ifp.addrs.iter().any(|a| matches!(a.cidr.addr, IpAddr::V6(v) if crate::kernel::is_link_local(&v)));
            if ifp.nd6.flags & nd6f::AUTO_LINKLOCAL != 0 && !ll {
                let cidr = Cidr { addr: IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)), prefixlen: 64 };
                ifp.addrs.push(SimAddr { cidr, flags6: 0, dad_start_ms: None });
            }
            return;
        }
        if ifp.nd6.flags & nd6f::AUTO_LINKLOCAL != 0 {
            self.attach_link_local(p, now_ms);
        }
        let ifp = &mut self.ifaces[p];
        for a in &mut ifp.addrs {
            if a.flags6 & in6f::TENTATIVE != 0 && a.dad_start_ms.is_none() {
                a.dad_start_ms = Some(now_ms);
            }
        }
    }

    /// IFDATA_DRIVERNAME.
    pub fn driver(&self, vnet: VnetId, name: &str) -> KResult<String> {
        Ok(self.find(vnet, name).ok_or(Errno::ENXIO)?.driver.clone())
    }

    /// SIOCGIFMTU.
    pub fn mtu(&self, vnet: VnetId, name: &str) -> KResult<u32> {
        Ok(self.find(vnet, name).ok_or(Errno::ENXIO)?.mtu)
    }

    /// SIOCGIFCAP: the capabilities enabled.
    pub fn capenable(&self, vnet: VnetId, name: &str) -> KResult<u32> {
        self.find(vnet, name).map(|i| i.capenable).ok_or(Errno::ENXIO)
    }

    /// SIOCGETVLAN (if_vlan.c vlan_ioctl): parent, tag and ETHERTYPE_VLAN (0x8100,
    /// net/ethernet.h), all zero without a parent; EPERM outside the vlan's home vnet; EINVAL
    /// from any other driver (if_ethersubr.c ether_ioctl's default, and if_loop.c's).
    pub fn vlan_of(&self, vnet: VnetId, name: &str) -> KResult<(String, u16, u16)> {
        let ifp = self.find(vnet, name).ok_or(Errno::ENXIO)?;
        let IfKind::Vlan { parent, tag, .. } = &ifp.kind else {
            return Err(Errno::EINVAL);
        };
        if ifp.vnet != ifp.home {
            return Err(Errno::EPERM);
        }
        match (parent.and_then(|p| self.by_index(p)), tag) {
            (Some(p), Some(t)) => Ok((p.name.clone(), *t, 0x8100)),
            _ => Ok((String::new(), 0, 0)),
        }
    }

    /// SIOCSIFCAP. Only what the sim models can be switched: IFCAP_VLAN_MTU, on the kinds
    /// whose drivers offer it; asking for anything else is EINVAL, as a driver's ioctl says
    /// of a capability it lacks. A vlan made before keeps its MTU (if_vlan.c sets it once).
    pub fn set_capenable(&mut self, vnet: VnetId, name: &str, caps: u32) -> KResult<()> {
        let pos = self.pos(vnet, name)?;
        // epair_ioctl, bridge_ioctl (13.0) and ng_eiface_ioctl leave SIOCSIFCAP to
        // ether_ioctl, whose answer to it is EINVAL (if_ethersubr.c); NICs, vlan, lagg and lo
        // take it (FreeBSD 13.0 through F-Stack: an epair refuses even its own capabilities).
        if matches!(self.ifaces[pos].kind, IfKind::Epair { .. } | IfKind::Bridge { .. } | IfKind::Eiface { .. }) {
            return Err(Errno::EINVAL);
        }
        let offered = default_capenable(&self.ifaces[pos].kind);
        if caps & !offered != 0 {
            return Err(Errno::EINVAL);
        }
        self.ifaces[pos].capenable = caps;
        Ok(())
    }

    /// SIOCSIFMTU, as FreeBSD 14 has it (13.0 differs, test fbsd_stack "bridge MTUs"):
    /// ifhwioctl's bounds (72..65535), a bridge member's MTU belongs to the bridge
    /// (EOPNOTSUPP), and a bridge's (576 at least) is set on every member (if_bridge.c).
    pub fn set_mtu(&mut self, vnet: VnetId, name: &str, mtu: u32) -> KResult<()> {
        let p = self.pos(vnet, name)?;
        let index = self.ifaces[p].index;
        if !(72..=65535).contains(&mtu) {
            return Err(Errno::EINVAL);
        }
        if self.bridge_of(index).is_some() {
            return Err(Errno::EOPNOTSUPP);
        }
        if let IfKind::Bridge { members, .. } = &self.ifaces[p].kind {
            if mtu < 576 {
                return Err(Errno::EINVAL);
            }
            for m in members.clone() {
                if let Some(ifp) = self.by_index_mut(m) {
                    ifp.mtu = mtu;
                }
            }
        }
        self.ifaces[p].mtu = mtu;
        Ok(())
    }

    /// SIOCSIFLLADDR.
    pub fn set_mac(&mut self, vnet: VnetId, name: &str, mac: Mac) -> KResult<()> {
        let p = self.pos(vnet, name)?;
        if matches!(self.ifaces[p].kind, IfKind::Loopback { .. }) {
            return Err(Errno::ENODEV);
        }
        self.ifaces[p].mac = Some(mac);
        Ok(())
    }

    /// SIOCAIFADDR / SIOCAIFADDR_IN6.
    pub fn add_addr(&mut self, vnet: VnetId, name: &str, cidr: Cidr, flags6: u32, now_ms: u64) -> KResult<()> {
        let p = self.pos(vnet, name)?;
        // A global IPv6 address lives once in a vnet: a second interface asking for it gets
        // EEXIST, and nothing stays half-added (FreeBSD 13.0's in6.c run through F-Stack, test
        // fbsd_stack; the host route to the address is taken, sys/net/route/route_ctl.c).
        // Link-local addresses are per interface (their scope is the interface).
        if let IpAddr::V6(v6) = cidr.addr {
            let elsewhere =
                self.ifaces.iter().enumerate().any(|(i, other)| {
                    i != p && other.vnet == vnet && other.addrs.iter().any(|a| a.cidr.addr == cidr.addr)
                });
            if elsewhere && !crate::kernel::is_link_local(&v6) {
                return Err(Errno::EEXIST);
            }
        }
        let existing = self.ifaces[p].addrs.iter().find(|a| a.cidr.addr == cidr.addr).map(|a| a.cidr.prefixlen);
        match cidr.addr {
            IpAddr::V4(_) => {
                let ifp = &mut self.ifaces[p];
                ifp.addrs.retain(|a| a.cidr.addr != cidr.addr);
                ifp.addrs.push(SimAddr { cidr, flags6: 0, dad_start_ms: None });
                // in_aifaddr_ioctl hands every address to the driver (SIOCSIFADDR, in.c).
                self.driver_sifaddr(p);
            }
            IpAddr::V6(_) => {
                // in6_update_ifa keeps an address's prefix length: another is EINVAL (in6.c).
                if existing.is_some_and(|len| len != cidr.prefixlen) {
                    return Err(Errno::EINVAL);
                }
                let host_is_new = existing.is_none();
                let ifp = &mut self.ifaces[p];
                // in6_update_ifa_internal: the flags given (IN6_IFF_NODAD among them: nd6.c
                // never reads it), TENTATIVE for a new address when in6if_do_dad says so,
                // decided while IFDISABLED is still set (an address added to a new interface
                // gets no DAD; in6_control clears IFDISABLED only after). A re-added address
                // keeps no TENTATIVE and starts no DAD (FreeBSD 13.0 through F-Stack, test
                // fbsd_stack "addresses: re-adding, prefix, no-DAD flag").
                let tentative = do_dad(ifp) && host_is_new;
                ifp.addrs.retain(|a| a.cidr.addr != cidr.addr);
                let given = flags6 & (in6f::NODAD | in6f::ANYCAST);
                ifp.addrs.push(SimAddr {
                    cidr,
                    flags6: given | if tentative { in6f::TENTATIVE } else { 0 },
                    dad_start_ms: None,
                });
                // in6_notify_ifa: the interface's only IPv6 address (or one re-added) goes to
                // the driver (SIOCSIFADDR).
                let v6_count = ifp.addrs.iter().filter(|a| a.cidr.addr.is_ipv6()).count();
                if !host_is_new || v6_count <= 1 {
                    self.driver_sifaddr(p);
                }
                // in6_broadcast_ifa -> nd6_dad_start: no DAD for anycast, or with dad_count 0
                // or NO_DAD on the interface; on an interface up and running it starts now,
                // else at in6_if_up.
                let dad_count = self.sysctl("net.inet6.ip6.dad_count");
                let ifp = &mut self.ifaces[p];
                let ready = ifp.flags & (iff::UP | iff::RUNNING) == iff::UP | iff::RUNNING
                    && ifp.nd6.flags & nd6f::IFDISABLED == 0;
                let no_dad = dad_count <= 0 || ifp.nd6.flags & nd6f::NO_DAD != 0;
                if let Some(a) = ifp.addrs.iter_mut().find(|a| a.cidr.addr == cidr.addr) {
                    if a.flags6 & in6f::TENTATIVE != 0 {
                        if a.flags6 & in6f::ANYCAST != 0 || no_dad {
                            a.flags6 &= !in6f::TENTATIVE;
                        } else if ready {
                            a.dad_start_ms = Some(now_ms);
                        }
                    }
                }
                // in6_control, after a successful add: IFDISABLED is cleared (nd6_ioctl),
                // which on an interface that is up attaches its link-local address.
                ifp.nd6.flags &= !nd6f::IFDISABLED;
                if ifp.flags & iff::UP != 0 {
                    self.in6_if_up(p, now_ms);
                }
            }
        }
        Ok(())
    }

    /// SIOCDIFADDR / SIOCDIFADDR_IN6.
    pub fn del_addr(&mut self, vnet: VnetId, name: &str, addr: IpAddr) -> KResult<()> {
        let p = self.pos(vnet, name)?;
        let before = self.ifaces[p].addrs.len();
        self.ifaces[p].addrs.retain(|a| a.cidr.addr != addr);
        if self.ifaces[p].addrs.len() == before {
            return Err(Errno::EADDRNOTAVAIL);
        }
        Ok(())
    }

    /// SIOCGIFAFLAG_IN6.
    pub fn addr6_flags(&self, vnet: VnetId, name: &str, addr: Ipv6Addr) -> KResult<u32> {
        let ifp = self.find(vnet, name).ok_or(Errno::ENXIO)?;
        ifp.addrs.iter().find(|a| a.cidr.addr == IpAddr::V6(addr)).map(|a| a.flags6).ok_or(Errno::EADDRNOTAVAIL)
    }

    /// SIOCGIFINFO_IN6.
    pub fn nd6(&self, vnet: VnetId, name: &str) -> KResult<NdIfInfo> {
        Ok(self.find(vnet, name).ok_or(Errno::ENXIO)?.nd6)
    }

    /// SIOCSIFINFO_IN6 (`nd6_ioctl`): clearing IFDISABLED on an interface that is up runs
    /// in6_if_up; setting it marks every IPv6 address tentative again (unless DAD is off),
    /// and DAD waits until it is cleared.
    pub fn set_nd6(&mut self, vnet: VnetId, name: &str, ndi: &NdIfInfo, now_ms: u64) -> KResult<()> {
        let p = self.pos(vnet, name)?;
        let was_disabled = self.ifaces[p].nd6.flags & nd6f::IFDISABLED != 0;
        let dad_on = self.sysctl("net.inet6.ip6.dad_count") > 0 && ndi.flags & nd6f::NO_DAD == 0;
        let had_auto_ll = self.ifaces[p].nd6.flags & nd6f::AUTO_LINKLOCAL != 0;
        let ifp = &mut self.ifaces[p];
        ifp.nd6 = *ndi;
        let disabled = ndi.flags & nd6f::IFDISABLED != 0;
        if was_disabled && !disabled {
            self.in6_if_up(p, now_ms);
        } else if !was_disabled && disabled && dad_on {
            for a in ifp.addrs.iter_mut().filter(|a| a.cidr.addr.is_ipv6()) {
                a.flags6 |= in6f::TENTATIVE;
                a.dad_start_ms = None;
            }
        }
        // auto_linklocal 0->1 runs in6_ifattach, which gives the interface its link-local
        // address if IPv6 is enabled on it, up or not (nd6.c nd6_ioctl SIOCSIFINFO_IN6;
        // in6_ifattach.c): `ifconfig bridge0 inet6 auto_linklocal` on an if_bridge, which
        // nd6_ifattach leaves without one.
        if !had_auto_ll && ndi.flags & nd6f::AUTO_LINKLOCAL != 0 && !disabled {
            self.attach_link_local(p, now_ms);
        }
        Ok(())
    }

    /// in6_ifattach_linklocal: fe80::/64 with the interface id of the MAC, tentative if DAD
    /// runs on the interface, DAD started if it is up.
    fn attach_link_local(&mut self, p: usize, now_ms: u64) {
        let ifp = &mut self.ifaces[p];
        let Some(mac) = ifp.mac else { return };
        let has_ll = ifp.addrs.iter().any(|a| matches!(a.cidr.addr, IpAddr::V6(v) if crate::kernel::is_link_local(&v)));
        if has_ll {
            return;
        }
        let dad = do_dad(ifp);
        let up = ifp.flags & iff::UP != 0;
        ifp.addrs.push(SimAddr {
            cidr: Cidr { addr: IpAddr::V6(link_local(mac)), prefixlen: 64 },
            flags6: if dad { in6f::TENTATIVE } else { 0 },
            dad_start_ms: (dad && up).then_some(now_ms),
        });
    }

    fn bridge_of(&self, index: u32) -> Option<u32> {
        self.ifaces.iter().find_map(|b| match &b.kind {
            IfKind::Bridge { members, .. } if members.contains(&index) => Some(b.index),
            _ => None,
        })
    }

    fn bridge_pos(&self, vnet: VnetId, bridge: &str) -> KResult<usize> {
        let p = self.pos(vnet, bridge)?;
        // if_bridge's ioctl handler is only on bridges; others refuse SIOC[GS]DRVSPEC.
        if !matches!(self.ifaces[p].kind, IfKind::Bridge { .. }) {
            return Err(Errno::EINVAL);
        }
        Ok(p)
    }

    /// BRDGADD.
    pub fn bridge_add(&mut self, vnet: VnetId, bridge: &str, member: &str) -> KResult<()> {
        let bp = self.bridge_pos(vnet, bridge)?;
        let mp = self.pos(vnet, member).map_err(|_| Errno::ENOENT)?;
        let (bindex, mindex) = (self.ifaces[bp].index, self.ifaces[mp].index);
        if let Some(owner) = self.bridge_of(mindex) {
            return Err(if owner == bindex { Errno::EEXIST } else { Errno::EBUSY });
        }
        if !self.ifaces[mp].kind.ethernet_like() {
            return Err(Errno::EINVAL);
        }
        // FreeBSD 15.0 (net.link.bridge.member_ifaddrs=0, its default): a member may carry no
        // IPv4 or IPv6 address (if_bridge.c bridge_ioctl_add; if_bridge(4)). Without the
        // sysctl (14.x) members may.
        if self.sysctls.get("net.link.bridge.member_ifaddrs") == Some(&0) && !self.ifaces[mp].addrs.is_empty() {
            return Err(Errno::EINVAL);
        }
        let first = matches!(&self.ifaces[bp].kind, IfKind::Bridge { members, .. } if members.is_empty());
        if first {
            self.ifaces[bp].mtu = self.ifaces[mp].mtu;
        } else {
            // Current if_bridge forces a later member to the bridge's MTU.
            self.ifaces[mp].mtu = self.ifaces[bp].mtu;
        }
        self.promisc(mindex, true);
        if let IfKind::Bridge { members, .. } = &mut self.ifaces[bp].kind {
            members.push(mindex);
        }
        Ok(())
    }

    /// BRDGDEL.
    pub fn bridge_del(&mut self, vnet: VnetId, bridge: &str, member: &str) -> KResult<()> {
        let bp = self.bridge_pos(vnet, bridge)?;
        let mindex = self.find(vnet, member).map(|i| i.index).ok_or(Errno::ENOENT)?;
        let IfKind::Bridge { members, .. } = &mut self.ifaces[bp].kind else { unreachable!("checked") };
        if !members.contains(&mindex) {
            return Err(Errno::ENOENT);
        }
        members.retain(|m| *m != mindex);
        self.promisc(mindex, false);
        Ok(())
    }

    /// BRDGGIFS.
    pub fn bridge_members(&self, vnet: VnetId, bridge: &str) -> KResult<Vec<String>> {
        let bp = self.bridge_pos(vnet, bridge)?;
        let IfKind::Bridge { members, .. } = &self.ifaces[bp].kind else { unreachable!("checked") };
        // Newest first: bridge_ioctl_add puts a member at the head of sc_iflist
        // (CK_LIST_INSERT_HEAD, if_bridge.c) and BRDGGIFS walks that list.
        Ok(members.iter().rev().filter_map(|m| self.by_index(*m)).map(|i| i.name.clone()).collect())
    }

    /// getifaddrs.
    pub fn list(&self, vnet: VnetId) -> Vec<IfInfo> {
        self.in_vnet(vnet)
            .into_iter()
            .map(|i| IfInfo {
                name: i.name.clone(),
                flags: i.flags,
                mac: i.mac,
                addrs: i.addrs.iter().map(|a| a.cidr).collect(),
                mtu: i.mtu,
                epoch: i.epoch_ms,
            })
            .collect()
    }

    // --- routes ------------------------------------------------------------------------

    /// Is `gw` on a network one of `vnet`'s interfaces has an address in (a route's gateway
    /// must be: the kernel answers ENETUNREACH otherwise)?
    fn on_link(&self, vnet: VnetId, gw: Gateway) -> bool {
        self.route_netif(vnet, gw).is_some()
    }

    /// The interface of `vnet` a route's gateway `gw` is reached through: the first one with
    /// an address on `gw`'s network (netstat's Netif); for a link-local gateway, its zone's
    /// interface if that has a link-local address (ifa_ifwithroute finds the gateway's
    /// network on the interface the embedded scope names, sys/net/route/route_ifaddrs.c).
    pub fn route_netif(&self, vnet: VnetId, gw: Gateway) -> Option<String> {
        let scope = gw.scope;
        let gw = gw.addr;
        let candidates = self.in_vnet(vnet).into_iter().filter(|i| scope.is_none_or(|s| i.index == s));
        let on = candidates.filter(|i| i.flags & iff::LOOPBACK == 0).find(|i| {
            i.addrs.iter().any(|a| match (a.cidr.addr, gw) {
                (IpAddr::V4(x), IpAddr::V4(g)) => {
                    let m = u32::MAX.checked_shl(32 - u32::from(a.cidr.prefixlen)).unwrap_or(0);
                    u32::from(x) & m == u32::from(g) & m && x != g
                }
                (IpAddr::V6(x), IpAddr::V6(g)) => {
                    let m = u128::MAX.checked_shl(128 - u32::from(a.cidr.prefixlen)).unwrap_or(0);
                    u128::from(x) & m == u128::from(g) & m && x != g
                }
                _ => false,
            })
        });
        on.map(|i| i.name.clone())
    }

    /// Routes whose gateway is no longer on a network of their vnet (the interface left,
    /// lost its address, or the vnet is gone) go, as rt_flushifroutes takes them.
    fn prune_routes(&mut self) {
        let keep: Vec<bool> = self
            .routes
            .iter()
            .map(|r| {
                (r.vnet.is_none() || self.jails.iter().any(|j| j.vnet_id() == r.vnet))
                    && self.on_link(r.vnet, r.next_hop())
            })
            .collect();
        let mut k = keep.into_iter();
        self.routes.retain(|_| k.next().unwrap_or(false));
    }

    /// RTM_GET of the route to exactly the network `dst` (a netmask was given).
    pub fn route(&self, vnet: VnetId, dst: Cidr) -> KResult<Gateway> {
        let dst = dst.network();
        self.routes.iter().find(|r| r.vnet == vnet && r.dst() == dst).map(SimRoute::next_hop).ok_or(Errno::ESRCH)
    }

    /// RTM_ADD of a route to `dst`: one per network (EEXIST), through a gateway of its
    /// family on a network of the vnet (route_ctl.c; ENETUNREACH otherwise).
    pub fn add_route(&mut self, vnet: VnetId, dst: Cidr, gateway: Gateway) -> KResult<()> {
        let dst = dst.network();
        if dst.addr.is_ipv6() != gateway.addr.is_ipv6() {
            return Err(Errno::EINVAL);
        }
        if self.route(vnet, dst).is_ok() {
            return Err(Errno::EEXIST);
        }
        if !self.on_link(vnet, gateway) {
            return Err(Errno::ENETUNREACH);
        }
        let net = if dst.is_default() { None } else { Some(dst) };
        self.routes.push(SimRoute { vnet, net, gateway: gateway.addr, scope: gateway.scope, learned: false });
        Ok(())
    }

    /// RTM_DELETE of the route to `dst`.
    pub fn del_route(&mut self, vnet: VnetId, dst: Cidr) -> KResult<()> {
        let dst = dst.network();
        let before = self.routes.len();
        self.routes.retain(|r| !(r.vnet == vnet && r.dst() == dst));
        if self.routes.len() == before {
            return Err(Errno::ESRCH);
        }
        Ok(())
    }

    // --- vnets --------------------------------------------------------------------------

    /// `if_vmove`: detach (leave the bridge, lose groups but "all" and the cloner's, go down,
    /// lose addresses and ND6 state) and attach in `to`. Name, description and MAC stay.
    /// `purge`: every move (SIOCSIFVNET, SIOCSIFRVNET and `vnet_if_return` when a dying vnet
    /// sends interfaces home) purges addresses and per-AF state. if_detach_internal skips
    /// `if_purgeaddrs`/`in6_ifdetach` only while VNET_IS_SHUTTING_DOWN, which if.c defines
    /// as `vnet_shutdown && vnet_state < SI_SUB_VNET_DONE`: vnet_if_return is the
    /// VNET_SYSUNINIT at SI_SUB_VNET_DONE itself, so it purges (13.0 and 14 alike; the
    /// stack shows it, test fbsd_stack "vnet jail removed").
    fn vmove(&mut self, index: u32, to: VnetId, purge: bool) {
        self.bridge_detach(index);
        let Some(kind) = self.by_index(index).map(|i| i.kind.clone()) else {
            return;
        };
        let nd6 = self.nd6_defaults(&kind);
        let clock = self.clock_ms;
        let ifp = self.by_index_mut(index).expect("present");
        let cloner = kind.cloner();
        ifp.groups.retain(|g| g == "all" || Some(g.as_str()) == cloner);
        // if_detach_internal's if_down clears UP and nothing else (if.c if_unroute): the
        // driver is not told, so its RUNNING stays, a NIC's, a bridge's or an eiface's as
        // an epair's (FreeBSD 13.0's stack shows a NIC home from a jail RUNNING and down).
        // Its bridge and ng_ether references went with the detach; none is carried over
        // (PROMISC is shown again below from what is left).
        let was_promisc = ifp.flags & iff::PROMISC != 0;
        ifp.pcount = 0;
        ifp.flags &= !iff::UP;
        if purge {
            ifp.addrs.clear();
            ifp.nd6 = nd6;
        }
        ifp.vnet = to;
        ifp.epoch_ms = clock;
        let p = self.ifaces.iter().position(|i| i.index == index).expect("present");
        let moved = self.ifaces.remove(p);
        self.ifaces.push(moved);
        self.promisc_shown(index, was_promisc);
        // if_detach/if_attach: an ng_ether node goes and is made anew in the new vnet.
        self.ng_ifnet_detached(index);
        self.ng_ether_attach(index);
    }

    /// SIOCSIFVNET from `vnet`.
    pub fn move_to_jail(&mut self, vnet: VnetId, name: &str, jid: Jid) -> KResult<String> {
        let p = self.pos(vnet, name)?;
        // prison_find_child: only the host sees jails (none are nested here).
        if vnet.is_some() {
            return Err(Errno::ENXIO);
        }
        let jail = self.jail_by_jid(jid).ok_or(Errno::ENXIO)?;
        let to = jail.vnet_id();
        if to == vnet || self.find(to, name).is_some() {
            return Err(Errno::EEXIST);
        }
        let index = self.ifaces[p].index;
        self.vmove(index, to, true);
        Ok(name.to_string())
    }

    /// SIOCSIFRVNET into `vnet` (dying jails are found too).
    pub fn reclaim(&mut self, vnet: VnetId, name: &str, jid: Jid) -> KResult<String> {
        if vnet.is_some() {
            return Err(Errno::ENXIO);
        }
        let jail = self.jail_by_jid(jid).ok_or(Errno::ENXIO)?;
        let from = jail.vnet_id();
        if from == vnet {
            return Err(Errno::EEXIST);
        }
        if matches!(jail.state, JailState::Dying { stuck: true, .. }) {
            return Err(Errno::EBUSY);
        }
        let p = self.pos(from, name)?;
        // if_vmove_reclaim does not look for the name on the host: a second interface of
        // that name arrives beside the first (freebsd-abi.md 4.4, audit).
        let index = self.ifaces[p].index;
        self.vmove(index, vnet, true);
        Ok(name.to_string())
    }

    // --- jails (the jail(8) side, driven by jnet-sim) ------------------------------------

    /// jail -c: a new jail; a VNET jail gets its own lo0. A dying jail with the same name
    /// stays dying (jail(8) replaces it).
    pub fn create_jail(&mut self, name: &str, vnet: bool) -> KResult<Jid> {
        if self.jails.iter().any(|j| j.name == name && j.state == JailState::Alive) {
            return Err(Errno::EEXIST);
        }
        let jid = self.next_jid;
        self.next_jid += 1;
        self.jails.push(SimJail {
            jid,
            name: name.to_string(),
            vnet,
            state: JailState::Alive,
            ips: vec![],
            trap: None,
        });
        if vnet {
            self.attach_loopback(Some(jid));
        }
        Ok(jid)
    }

    /// jail -r: the jail dies; an IP-sharing jail's addresses leave the host NICs; the vnet
    /// (and the interfaces in it) is released after `linger_ms`. A `stuck` vnet is already
    /// shutting down, so nothing can be reclaimed from it before then.
    pub fn remove_jail(&mut self, jid: Jid, linger_ms: u64, stuck: bool, now_ms: u64) -> KResult<()> {
        // A vnet is torn down asynchronously too: never sooner than the async delay.
        let linger_ms = linger_ms.max(self.ng_async_ms);
        let j = self.jails.iter_mut().find(|j| j.jid == jid && j.state == JailState::Alive).ok_or(Errno::ENOENT)?;
        j.state = JailState::Dying { until_ms: now_ms + linger_ms, stuck };
        let ips = std::mem::take(&mut j.ips);
        for (ifname, cidr) in ips {
            let _ = self.del_addr(None, &ifname, cidr.addr);
        }
        self.settle(now_ms);
        Ok(())
    }
}

/// in6if_do_dad: not on loopback, only with multicast, not when IFDISABLED or NO_DAD.
fn do_dad(ifp: &SimIf) -> bool {
    ifp.flags & iff::LOOPBACK == 0
        && ifp.flags & iff::MULTICAST != 0
        && ifp.nd6.flags & (nd6f::IFDISABLED | nd6f::NO_DAD) == 0
}

/// fe80::/64 with the modified EUI-64 interface id of `mac` (in6_ifattach).
pub fn link_local(mac: Mac) -> Ipv6Addr {
    let m = mac.0;
    Ipv6Addr::from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]])
}
