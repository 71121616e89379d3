//! The kernel interface: everything program logic may ask of the kernel.
//!
//! Two implementations: `freebsd` (ioctls, jail_get, jail_attach, sysctl, kldload) and
//! `sim` (the simulated host). Each method is one kernel operation, so the simulated host's
//! operation log counts exactly what a FreeBSD host would do. Methods return the raw
//! FreeBSD errno; logic adds the context ("rename epair3a to e0a_www: ...").

use crate::errno::Errno;
use crate::error::Error;
use crate::mac::Mac;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

/// A kernel answer.
pub type KResult<T> = Result<T, Errno>;

/// A jail id.
pub type Jid = i32;

/// IFCAP_* interface capabilities (`sys/net/if.h`).
pub mod ifcap {
    /// IFCAP_VLAN_MTU: frames with an 802.1Q tag at full MTU, so a vlan on the interface keeps
    /// its MTU (if_vlan.c vlan_config; otherwise the vlan's MTU is 4 bytes less).
    pub const VLAN_MTU: u32 = 0x8;
}

/// Interface flags (`sys/net/if.h`).
pub mod iff {
    /// IFF_UP
    pub const UP: u32 = 0x1;
    /// IFF_BROADCAST
    pub const BROADCAST: u32 = 0x2;
    /// IFF_LOOPBACK
    pub const LOOPBACK: u32 = 0x8;
    /// IFF_POINTOPOINT
    pub const POINTOPOINT: u32 = 0x10;
    /// IFF_DRV_RUNNING (shown as RUNNING)
    pub const RUNNING: u32 = 0x40;
    /// IFF_PROMISC
    pub const PROMISC: u32 = 0x100;
    /// IFF_SIMPLEX
    pub const SIMPLEX: u32 = 0x800;
    /// IFF_MULTICAST
    pub const MULTICAST: u32 = 0x8000;
    /// IFF_PPROMISC (high half)
    pub const PPROMISC: u32 = 0x20000;

    /// ifconfig's names for the bits above, in bit order.
    pub const NAMES: &[(u32, &str)] = &[
        (UP, "UP"),
        (BROADCAST, "BROADCAST"),
        (LOOPBACK, "LOOPBACK"),
        (POINTOPOINT, "POINTOPOINT"),
        (RUNNING, "RUNNING"),
        (PROMISC, "PROMISC"),
        (SIMPLEX, "SIMPLEX"),
        (MULTICAST, "MULTICAST"),
        (PPROMISC, "PPROMISC"),
    ];
}

/// IPv6 address flags (`sys/netinet6/in6_var.h`).
pub mod in6f {
    /// IN6_IFF_ANYCAST
    pub const ANYCAST: u32 = 0x01;
    /// IN6_IFF_TENTATIVE
    pub const TENTATIVE: u32 = 0x02;
    /// IN6_IFF_DUPLICATED
    pub const DUPLICATED: u32 = 0x04;
    /// IN6_IFF_DETACHED
    pub const DETACHED: u32 = 0x08;
    /// IN6_IFF_DEPRECATED
    pub const DEPRECATED: u32 = 0x10;
    /// IN6_IFF_NODAD
    pub const NODAD: u32 = 0x20;
    /// IN6_IFF_AUTOCONF
    pub const AUTOCONF: u32 = 0x40;

    /// ifconfig's words for the flags, as `show --json` lists them.
    pub const NAMES: &[(u32, &str)] = &[
        (ANYCAST, "anycast"),
        (TENTATIVE, "tentative"),
        (DUPLICATED, "duplicated"),
        (DETACHED, "detached"),
        (DEPRECATED, "deprecated"),
        (NODAD, "no_dad"),
        (AUTOCONF, "autoconf"),
    ];
}

/// ND6 per-interface flags (`sys/netinet6/nd6.h`).
pub mod nd6f {
    /// ND6_IFF_PERFORMNUD
    pub const PERFORMNUD: u32 = 0x1;
    /// ND6_IFF_ACCEPT_RTADV
    pub const ACCEPT_RTADV: u32 = 0x2;
    /// ND6_IFF_IFDISABLED
    pub const IFDISABLED: u32 = 0x8;
    /// ND6_IFF_AUTO_LINKLOCAL
    pub const AUTO_LINKLOCAL: u32 = 0x20;
    /// ND6_IFF_NO_DAD
    pub const NO_DAD: u32 = 0x100;
}

/// Is `a` an IPv6 link-local address (fe80::/10), meaningful only with its interface?
pub fn is_link_local(a: &Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

/// An address with its prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cidr {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length.
    pub prefixlen: u8,
}

impl Cidr {
    /// The network: the address with the bits past the prefix cleared.
    pub fn network(self) -> Cidr {
        let addr = match self.addr {
            IpAddr::V4(a) => {
                let m = u32::MAX.checked_shl(32 - u32::from(self.prefixlen.min(32))).unwrap_or(0);
                IpAddr::V4((u32::from(a) & m).into())
            }
            IpAddr::V6(a) => {
                let m = u128::MAX.checked_shl(128 - u32::from(self.prefixlen.min(128))).unwrap_or(0);
                IpAddr::V6((u128::from(a) & m).into())
            }
        };
        Cidr { addr, prefixlen: self.prefixlen }
    }

    /// The default route's destination of a family: 0.0.0.0/0 or ::/0.
    pub fn default_dst(v6: bool) -> Cidr {
        let addr = if v6 { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED) };
        Cidr { addr, prefixlen: 0 }
    }

    /// Is this 0.0.0.0/0 or ::/0?
    pub fn is_default(&self) -> bool {
        self.prefixlen == 0
    }

    /// A route's destination, `NETWORK/LEN` (0.0.0.0/0 and ::/0 included, which an
    /// interface address cannot be): the host bits must be clear.
    pub fn parse_network(s: &str) -> Result<Cidr, Error> {
        let bad = |why: &str| Error::data(format!("invalid route destination {s:?}: {why}"));
        let (a, p) = s.split_once('/').ok_or_else(|| bad("expected NETWORK/PREFIXLEN, e.g. 192.0.2.0/24"))?;
        let addr: IpAddr = a.parse().map_err(|_| bad("not an IPv4 or IPv6 network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefixlen = match p.parse::<u8>() {
            Ok(n) if n <= max && !p.starts_with('+') => n,
            _ => return Err(bad(&format!("prefix length {p:?} is not a number from 0 to {max}"))),
        };
        let c = Cidr { addr, prefixlen };
        if c.network() != c {
            return Err(bad(&format!("host bits are set; the network is {}", c.network())));
        }
        Ok(c)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefixlen)
    }
}

impl std::str::FromStr for Cidr {
    type Err = Error;
    /// "192.0.2.5/24" or "2001:db8::5/64"; the prefix length is required.
    fn from_str(s: &str) -> Result<Cidr, Error> {
        let (a, p) = s.split_once('/').ok_or_else(|| {
            Error::data(format!(
                "invalid address {s:?}: expected ADDRESS/PREFIXLEN, e.g. 192.0.2.5/24 or 2001:db8::5/64"
            ))
        })?;
        let addr: IpAddr = a
            .parse()
            .map_err(|_| Error::data(format!("invalid address {s:?}: {a:?} is not an IPv4 or IPv6 address")))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefixlen: u8 = match p.parse::<u8>() {
            Ok(n) if n <= max && !p.starts_with('+') => n,
            _ => {
                return Err(Error::data(format!(
                    "invalid address {s:?}: prefix length {p:?} is not a number from 0 to {max}"
                )))
            }
        };
        let bad = match addr {
            IpAddr::V4(v) => v.is_unspecified() || v.is_multicast() || v.is_broadcast(),
            IpAddr::V6(v) => v.is_unspecified() || v.is_multicast(),
        };
        if bad {
            return Err(Error::data(format!("invalid address {s:?}: {addr} cannot be assigned to an interface")));
        }
        Ok(Cidr { addr, prefixlen })
    }
}

/// A route's next hop: an address, and for an IPv6 link-local one the interface it is
/// reached on (its zone: the ifindex, as `fe80::1%vnet0` names it). A link-local address
/// means nothing without its interface (RFC 4007), so one without a scope is refused, and
/// so is a scope on any other address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Gateway {
    /// The router's address.
    pub addr: IpAddr,
    /// The ifindex of its interface, for a link-local address only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<u32>,
}

impl Gateway {
    /// A gateway, checked: a link-local IPv6 address needs `scope`, others must not have one.
    pub fn new(addr: IpAddr, scope: Option<u32>) -> Result<Gateway, Error> {
        let ll = matches!(addr, IpAddr::V6(v) if is_link_local(&v));
        match (ll, scope) {
            (true, None) => Err(Error::data(format!("{addr} is link-local: give its interface, as {addr}%vnet0"))),
            (false, Some(_)) => Err(Error::data(format!("{addr} is not link-local: it takes no interface"))),
            (true, Some(0)) => Err(Error::data(format!("{addr}: interface index 0 is no interface"))),
            _ => Ok(Gateway { addr, scope }),
        }
    }

    /// A gateway that is not link-local (IPv4, or a global IPv6 address).
    pub fn global(addr: IpAddr) -> Result<Gateway, Error> {
        Gateway::new(addr, None)
    }
}

impl fmt::Display for Gateway {
    /// `192.0.2.1`, or `fe80::1%3` (the zone by index: a name belongs to one vnet's view).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scope {
            Some(s) => write!(f, "{}%{s}", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}

/// A lagg(4) as SIOCGLAGG reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lagg {
    /// Its protocol, as ifconfig(8) names it (`failover`, `lacp`, `broadcast`, ...).
    pub proto: String,
    /// Its ports.
    pub ports: Vec<String>,
}

/// An interface's IPv6 neighbour-discovery settings that jnet uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nd6 {
    /// ND6_IFF_* flags (`nd6f`).
    pub flags: u32,
    /// The retransmission timer (ms): one DAD probe interval.
    pub retrans_ms: u32,
}

/// An interface as listed (getifaddrs: name, flags, link-level address, addresses).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IfInfo {
    /// Name.
    pub name: String,
    /// IFF_* flags.
    pub flags: u32,
    /// Ethernet address, if the interface has one.
    pub mac: Option<Mac>,
    /// IPv4 and IPv6 addresses.
    pub addrs: Vec<Cidr>,
    /// MTU (`if_data.ifi_mtu` of the link-level entry).
    #[serde(default)]
    pub mtu: u32,
    /// When it was attached in this vnet (`if_data.ifi_epoch`, uptime seconds on FreeBSD):
    /// if_attach_internal sets it when the interface is made and at every vnet move, so an
    /// interface whose epoch is what it was has not been away since.
    #[serde(default)]
    pub epoch: u64,
}

/// Interface operations, in the vnet the caller is in.
pub trait Interfaces {
    /// SIOCIFCREATE2: create from a cloner ("epair", "bridge") or a full name ("bridge7");
    /// returns the created name (for an epair, the `a` end).
    fn if_create(&mut self, cloner: &str) -> KResult<String>;
    /// SIOCIFDESTROY.
    fn if_destroy(&mut self, name: &str) -> KResult<()>;
    /// SIOCSIFNAME.
    fn if_rename(&mut self, name: &str, new_name: &str) -> KResult<()>;
    /// SIOCGIFDESCR; None when there is none (the kernel's ENOMSG).
    fn if_description(&mut self, name: &str) -> KResult<Option<String>>;
    /// SIOCSIFDESCR; None clears it.
    fn if_set_description(&mut self, name: &str, descr: Option<&str>) -> KResult<()>;
    /// SIOCGIFGROUP.
    fn if_groups(&mut self, name: &str) -> KResult<Vec<String>>;
    /// SIOCAIFGROUP.
    fn if_add_group(&mut self, name: &str, group: &str) -> KResult<()>;
    /// SIOCDIFGROUP.
    fn if_del_group(&mut self, name: &str, group: &str) -> KResult<()>;
    /// SIOCGIFFLAGS.
    fn if_flags(&mut self, name: &str) -> KResult<u32>;
    /// SIOCSIFFLAGS (the kernel keeps the bits users may not change).
    fn if_set_flags(&mut self, name: &str, flags: u32) -> KResult<()>;
    /// SIOCGIFMTU.
    fn if_mtu(&mut self, name: &str) -> KResult<u32>;
    /// SIOCSIFMTU.
    fn if_set_mtu(&mut self, name: &str, mtu: u32) -> KResult<()>;
    /// SIOCGIFCAP: the IFCAP_* capabilities enabled (`ifr_curcap`).
    fn if_capenable(&mut self, name: &str) -> KResult<u32>;
    /// SIOCGETVLAN: a vlan's parent ("" for none), tag and protocol. Another kind of
    /// interface answers EINVAL (its driver leaves the request to ether_ioctl); a vlan outside
    /// its home vnet EPERM (if_vlan.c vlan_ioctl).
    fn if_vlan(&mut self, name: &str) -> KResult<(String, u16, u16)>;
    /// SIOCSIFCAP: enable these IFCAP_* capabilities (`ifr_reqcap`), as `ifconfig vlanmtu`.
    fn if_set_capenable(&mut self, name: &str, caps: u32) -> KResult<()>;
    /// SIOCSIFLLADDR.
    fn if_set_mac(&mut self, name: &str, mac: Mac) -> KResult<()>;
    /// SIOCAIFADDR / SIOCAIFADDR_IN6 (infinite lifetimes; `flags6` = IN6_IFF_*, IPv6 only).
    fn if_add_addr(&mut self, name: &str, addr: Cidr, flags6: u32) -> KResult<()>;
    /// SIOCDIFADDR / SIOCDIFADDR_IN6.
    fn if_del_addr(&mut self, name: &str, addr: IpAddr) -> KResult<()>;
    /// SIOCGIFAFLAG_IN6.
    fn if_addr6_flags(&mut self, name: &str, addr: Ipv6Addr) -> KResult<u32>;
    /// SIOCGIFINFO_IN6.
    fn if_nd6(&mut self, name: &str) -> KResult<Nd6>;
    /// SIOCSIFINFO_IN6: these ND6 flags, every other IPv6 setting of the interface as it is.
    /// (On FreeBSD the settings are read first: SIOCSIFINFO_IN6 applies every field it is
    /// given.)
    fn if_set_nd6_flags(&mut self, name: &str, flags: u32) -> KResult<()>;
    /// SIOCSDRVSPEC BRDGADD.
    fn bridge_add(&mut self, bridge: &str, member: &str) -> KResult<()>;
    /// SIOCSDRVSPEC BRDGDEL.
    fn bridge_del(&mut self, bridge: &str, member: &str) -> KResult<()>;
    /// SIOCGDRVSPEC BRDGGIFS.
    fn bridge_members(&mut self, bridge: &str) -> KResult<Vec<String>>;
    /// getifaddrs(3).
    fn if_list(&mut self) -> KResult<Vec<IfInfo>>;
    /// SIOCGIFINDEX: the interface's index (what if_nametoindex(3) answers), which a
    /// link-local address's zone is.
    fn if_index(&mut self, name: &str) -> KResult<u32>;
    /// The driver name and unit (`igb2`, `epair7`, `ngeth3`: sysctl
    /// net.link.generic.ifdata.<ifindex>.drivername). Renames do not change it, so it is how
    /// a NIC is known whatever a jail's root has called it, and both ends of an epair share it.
    fn if_driver(&mut self, name: &str) -> KResult<String>;
    /// SIOCGLAGG: the lagg(4) protocol (LAGG_PROTO_*) and ports of `name`; None if it is
    /// not a lagg.
    fn if_lagg(&mut self, name: &str) -> KResult<Option<Lagg>>;
}

/// A jail, as jail_get(2) reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JailInfo {
    /// jid
    pub jid: Jid,
    /// name
    pub name: String,
    /// Has its own vnet (vnet = new).
    pub vnet: bool,
    /// Removed but not yet gone.
    pub dying: bool,
}

/// How the user named a jail: all digits is a jid, as jail(8) and jail_getid(3) take it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JailRef {
    /// By jid.
    Jid(Jid),
    /// By name.
    Name(String),
}

impl JailRef {
    /// Parse the JAIL argument.
    pub fn parse(s: &str) -> Result<JailRef, Error> {
        if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) {
            return match s.parse::<Jid>() {
                Ok(j) if j > 0 => Ok(JailRef::Jid(j)),
                _ => Err(Error::data(format!("jail id {s:?} is out of range"))),
            };
        }
        crate::names::check_jail_name(s)?;
        Ok(JailRef::Name(s.to_string()))
    }
}

impl fmt::Display for JailRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JailRef::Jid(j) => write!(f, "jid {j}"),
            JailRef::Name(n) => f.write_str(n),
        }
    }
}

/// Jail lookups (jail_get(2)).
pub trait Jails {
    /// The jail, alive or dying (an alive jail wins when a dying one has the same name).
    fn jail(&mut self, which: &JailRef) -> KResult<Option<JailInfo>>;
    /// Every jail, alive and dying, by jid.
    fn jails(&mut self) -> KResult<Vec<JailInfo>>;
    /// The jail's `ip6.addr` (the addresses an IP-sharing jail uses on host interfaces).
    fn jail_ip6(&mut self, jid: Jid) -> KResult<Vec<Ipv6Addr>>;
}

/// How long a step inside a jail (a few ioctls) may take before it is killed.
pub const JAIL_STEP_DEADLINE: Duration = Duration::from_secs(15);

/// Moving interfaces between vnets and acting inside a jail's vnet.
pub trait Vnets: Interfaces + Sized {
    /// SIOCSIFVNET: move `name` from the caller's vnet into jail `jid`; returns its name there.
    fn if_move_to_jail(&mut self, name: &str, jid: Jid) -> KResult<String>;
    /// SIOCSIFRVNET: bring `name` (its name inside the jail) back to the caller's vnet, even
    /// from a dying jail; returns its name here.
    fn if_reclaim(&mut self, name: &str, jid: Jid) -> KResult<String>;
    /// Run `step` inside jail `jid`'s vnet (on FreeBSD: a forked child that attached to the
    /// jail; its result comes back serialized), for at most `JAIL_STEP_DEADLINE`. The jail
    /// must be alive.
    fn in_jail<R, F>(&mut self, jid: Jid, step: F) -> Result<R, Error>
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce(&mut Self) -> Result<R, Error>,
    {
        self.in_jail_within(jid, JAIL_STEP_DEADLINE, step)
    }
    /// `in_jail` with another deadline. Whatever is in the jail can stop or kill the step:
    /// past the deadline it is killed, and either way the caller gets an error for it.
    fn in_jail_within<R, F>(&mut self, jid: Jid, deadline: Duration, step: F) -> Result<R, Error>
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce(&mut Self) -> Result<R, Error>;
}

/// sysctl(3) reads and kldload(2).
pub trait System {
    /// An integer sysctl.
    fn sysctl_int(&mut self, name: &str) -> KResult<i64>;
    /// A string sysctl.
    fn sysctl_string(&mut self, name: &str) -> KResult<String>;
    /// Load a kernel module by name ("if_bridge"); already loaded counts as success.
    fn kld_load(&mut self, module: &str) -> KResult<()>;
    /// The root-only directory where jnet keeps the little host state it cannot keep in the
    /// kernel (`/var/run/jnet` on FreeBSD): NIC records and the netgraph naming key. Only
    /// ever used on the host, never from inside a jail.
    fn state_dir(&self) -> std::path::PathBuf;
}

/// A netgraph node as NGM_NODEINFO / NGM_LISTNODES report it (`struct nodeinfo`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NgNode {
    /// Name; empty for an unnamed node.
    pub name: String,
    /// Type ("bridge", "eiface", "ether", "socket").
    pub node_type: String,
    /// Node ID (addressed as `[id]:`).
    pub id: u32,
    /// Number of hooks.
    pub hooks: u32,
}

/// One hook of a node as NGM_LISTHOOKS reports it (`struct linkinfo`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NgHook {
    /// This node's hook.
    pub ourhook: String,
    /// The peer's hook.
    pub peerhook: String,
    /// The peer node.
    pub peer: NgNode,
}

/// Netgraph control messages over an NG_CONTROL socket (`sys/netgraph/ng_message.h`,
/// `ng_socket.h`). Paths are netgraph addresses: `name:`, `[id]:`, `name:hook`, `.`.
/// Implemented by the netgraph layer (jnet-ngattach).
pub trait Netgraph {
    /// NGM_MKPEER: a new node of `node_type` hooked to `path`:`ourhook` by its `peerhook`.
    fn ng_mkpeer(&mut self, path: &str, node_type: &str, ourhook: &str, peerhook: &str) -> KResult<()>;
    /// NGM_CONNECT: `path`:`ourhook` to `peer_path` (relative to `path`):`peerhook`.
    fn ng_connect(&mut self, path: &str, peer_path: &str, ourhook: &str, peerhook: &str) -> KResult<()>;
    /// NGM_NAME.
    fn ng_name(&mut self, path: &str, name: &str) -> KResult<()>;
    /// NGM_RMHOOK.
    fn ng_rmhook(&mut self, path: &str, hook: &str) -> KResult<()>;
    /// NGM_SHUTDOWN.
    fn ng_shutdown(&mut self, path: &str) -> KResult<()>;
    /// NGM_NODEINFO.
    fn ng_node(&mut self, path: &str) -> KResult<NgNode>;
    /// NGM_LISTHOOKS.
    fn ng_hooks(&mut self, path: &str) -> KResult<(NgNode, Vec<NgHook>)>;
    /// NGM_LISTNODES (every node of the caller's vnet).
    fn ng_nodes(&mut self) -> KResult<Vec<NgNode>>;
    /// NGM_EIFACE_GET_IFNAME on an ng_eiface node.
    fn ng_eiface_ifname(&mut self, path: &str) -> KResult<String>;
    /// NGM_ETHER_GET_IFNAME on an ng_ether node.
    fn ng_ether_ifname(&mut self, path: &str) -> KResult<String>;
    /// NGM_ETHER_SET_PROMISC.
    fn ng_ether_set_promisc(&mut self, path: &str, on: bool) -> KResult<()>;
    /// NGM_ETHER_SET_AUTOSRC.
    fn ng_ether_set_autosrc(&mut self, path: &str, on: bool) -> KResult<()>;
    /// NGM_BRIDGE_SET_PERSISTENT.
    fn ng_bridge_set_persistent(&mut self, path: &str) -> KResult<()>;
    /// NGM_BRIDGE_GET_STATS for link `link` (negative: uplink), the 14 counters of
    /// `struct ng_bridge_link_stats`.
    fn ng_bridge_link_stats(&mut self, path: &str, link: i32) -> KResult<[u64; 14]>;
}

/// The routing table of the caller's vnet, through a routing socket: static routes to a
/// network through a gateway (the default route is the one to 0.0.0.0/0 or ::/0).
pub trait Routes {
    /// RTM_GET of the route to exactly the network `dst` (with its netmask, so no longer
    /// match answers): its gateway, None if there is none.
    fn route(&mut self, dst: Cidr) -> KResult<Option<Gateway>>;
    /// RTM_ADD of a route to the network `dst` via `gateway` (of `dst`'s family).
    fn add_route(&mut self, dst: Cidr, gateway: Gateway) -> KResult<()>;
    /// RTM_DELETE of the route to the network `dst`.
    fn del_route(&mut self, dst: Cidr) -> KResult<()>;
    /// The default route of IPv4 (`v6` false) or IPv6: its gateway, None if none.
    fn default_route(&mut self, v6: bool) -> KResult<Option<Gateway>> {
        self.route(Cidr::default_dst(v6))
    }
}

/// Everything the programs use.
pub trait Kernel: Interfaces + Vnets + Jails + System + Netgraph + Routes {}
impl<T: Interfaces + Vnets + Jails + System + Netgraph + Routes> Kernel for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parsing() {
        let c: Cidr = "192.0.2.5/24".parse().unwrap();
        assert_eq!(c.to_string(), "192.0.2.5/24");
        let c: Cidr = "2001:db8::5/64".parse().unwrap();
        assert_eq!(c.prefixlen, 64);
        for bad in [
            "192.0.2.5",
            "192.0.2.5/33",
            "2001:db8::5/129",
            "x/24",
            "192.0.2.5/-1",
            "192.0.2.5/+4",
            "0.0.0.0/0",
            "ff02::1/64",
            "224.0.0.1/4",
            "192.0.2.5/",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn jail_refs() {
        assert_eq!(JailRef::parse("12").unwrap(), JailRef::Jid(12));
        assert_eq!(JailRef::parse("www").unwrap(), JailRef::Name("www".into()));
        assert_eq!(JailRef::parse("1www").unwrap(), JailRef::Name("1www".into()));
        assert!(JailRef::parse("0").is_err());
        assert!(JailRef::parse("").is_err());
        assert!(JailRef::parse("99999999999").is_err());
    }
}
