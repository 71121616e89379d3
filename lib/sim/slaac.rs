//! A router advertisement sent on a host interface, as rtadvd(8) on the host sends one, and
//! what FreeBSD 14 does with it on each interface that receives it: stateless address
//! autoconfiguration (SLAAC) and a default router.
//!
//! Who receives it: the frame goes out of the sending interface onto its link; a bridge's
//! link is its members', and an epair member's other end receives what the member sends
//! (if_bridge.c bridge_output floods, if_epair.c hands it to the peer). A NIC member leads
//! off the host and is not followed.
//!
//! What a receiver does (sys/netinet6/nd6_rtr.c nd6_ra_input, prelist_update, in6_ifadd):
//! nothing if the interface is down (ether_input drops), IPv6 is disabled on it
//! (ip6_input drops on ND6_IFF_IFDISABLED) or it does not accept advertisements
//! (ND6_IFF_ACCEPT_RTADV off); the source must be link-local; an autonomous prefix of
//! length 64 (prefix plus the 64-bit interface id of an Ethernet link, in6_ifadd) gives the
//! address prefix + the interface id of the receiver's link-local address (which must
//! exist), with IN6_IFF_AUTOCONF, tentative while DAD runs; a router lifetime above 0
//! makes the source a default router: the vnet's IPv6 default route goes through it,
//! unless the interface refuses routers from advertisements (ND6_IFF_NO_RADR) or a default
//! route is already there.

use super::host::{Host, IfKind, SimAddr, SimRoute};
use crate::kernel::{iff, in6f, is_link_local, nd6f, Cidr};
use std::net::{IpAddr, Ipv6Addr};

/// ND6_IFF_NO_RADR (sys/netinet6/nd6.h).
const NO_RADR: u32 = 0x40;

/// One advertisement.
#[derive(Clone, Debug)]
pub struct Advertisement {
    /// the prefix (autonomous, on-link)
    pub prefix: Cidr,
    /// its source, a link-local address; None: the sender's own
    pub router: Option<Ipv6Addr>,
    /// router lifetime in seconds; 0: not a default router
    pub lifetime_s: u32,
}

impl Host {
    /// The interfaces on the link `from` sends on (index), with the vnet each is in.
    fn link_receivers(&self, from: u32) -> Vec<u32> {
        let Some(ifp) = self.ifaces.iter().find(|i| i.index == from) else { return vec![] };
        let peer_of = |index: u32| match self.ifaces.iter().find(|i| i.index == index).map(|i| &i.kind) {
            Some(IfKind::Epair { peer, .. }) => Some(*peer),
            _ => None,
        };
        match &ifp.kind {
            IfKind::Bridge { members, .. } => members.iter().filter_map(|m| peer_of(*m)).collect(),
            IfKind::Epair { peer, .. } => vec![*peer],
            _ => vec![],
        }
    }

    /// rtadvd on the host sends `ra` out of `from`: what each receiver did, one line each.
    pub fn router_advertisement(&mut self, from: &str, ra: &Advertisement, now_ms: u64) -> Result<Vec<String>, String> {
        let sender = self.find(None, from).ok_or_else(|| format!("{from}: no such interface on the host"))?;
        if !matches!(sender.kind, IfKind::Bridge { .. } | IfKind::Epair { .. }) {
            return Err(format!("{from} is not a bridge or an epair end: its link leads off the simulated host"));
        }
        if sender.flags & iff::UP == 0 {
            return Err(format!("{from} is down: rtadvd sends nothing on it"));
        }
        let own_ll = sender.addrs.iter().find_map(|a| match a.cidr.addr {
            IpAddr::V6(v) if is_link_local(&v) && a.flags6 & in6f::TENTATIVE == 0 => Some(v),
            _ => None,
        });
        let source = match (ra.router, own_ll) {
            (Some(r), _) if is_link_local(&r) => r,
            (Some(r), _) => {
                return Err(format!(
                "--router {r}: a router advertisement comes from a link-local address (nd6_ra_input drops any other)"
            ))
            }
            (None, Some(ll)) => ll,
            (None, None) => {
                return Err(format!(
                    "{from} has no link-local address to send from (if_bridge gets none by default: \
                     nd6_ifattach clears auto_linklocal on a bridge); jnet gives a bridge it makes one with an \
                     IPv6 --bridge-addr, or: ifconfig {from} inet6 -ifdisabled auto_linklocal"
                ))
            }
        };
        if ra.prefix.addr.is_ipv4() || is_link_local_net(&ra.prefix) {
            return Err(format!("{}: not a prefix routers advertise for SLAAC", ra.prefix));
        }
        let receivers = self.link_receivers(sender.index);
        let mut out = vec![];
        for index in receivers {
            let line = self.receive_ra(index, source, ra, now_ms);
            out.push(line);
        }
        if out.is_empty() {
            out.push(format!("{from}: nothing on its link receives it"));
        }
        Ok(out)
    }

    fn receive_ra(&mut self, index: u32, source: Ipv6Addr, ra: &Advertisement, now_ms: u64) -> String {
        let Some(p) = self.ifaces.iter().position(|i| i.index == index) else { return String::new() };
        let vnet = self.ifaces[p].vnet;
        let place = if vnet.is_some() { format!("jail {}", self.vnet_label(vnet)) } else { "host".into() };
        let who = format!("{} ({place})", self.ifaces[p].name);
        let ifp = &self.ifaces[p];
        if ifp.flags & iff::UP == 0 {
            return format!("{who}: ignored: down");
        }
        if ifp.nd6.flags & nd6f::IFDISABLED != 0 {
            return format!("{who}: ignored: IPv6 is disabled (ifdisabled)");
        }
        if ifp.nd6.flags & nd6f::ACCEPT_RTADV == 0 {
            return format!("{who}: ignored: it does not accept router advertisements (accept_rtadv is off)");
        }
        let mut did = vec![];
        let ll = ifp.addrs.iter().find_map(|a| match a.cidr.addr {
            IpAddr::V6(v) if is_link_local(&v) => Some(v),
            _ => None,
        });
        match (ra.prefix.prefixlen, ll) {
            (64, Some(ll)) => {
                let IpAddr::V6(net) = ra.prefix.network().addr else { return format!("{who}: ignored: not IPv6") };
                let mut o = net.octets();
                o[8..].copy_from_slice(&ll.octets()[8..]);
                let addr = Ipv6Addr::from(o);
                if ifp.addrs.iter().any(|a| a.cidr.addr == IpAddr::V6(addr)) {
                    did.push(format!("{addr}/64 kept"));
                } else {
                    let dad = self.sysctl("net.inet6.ip6.dad_count") > 0 && ifp.nd6.flags & nd6f::NO_DAD == 0;
                    let ifp = &mut self.ifaces[p];
                    ifp.addrs.push(SimAddr {
                        cidr: Cidr { addr: IpAddr::V6(addr), prefixlen: 64 },
                        flags6: in6f::AUTOCONF | if dad { in6f::TENTATIVE } else { 0 },
                        dad_start_ms: dad.then_some(now_ms),
                    });
                    did.push(format!("{addr}/64 autoconf"));
                }
            }
            (64, None) => did.push("no address: it has no link-local address to take the interface id from".into()),
            (len, _) => did.push(format!("no address: a /{len} prefix and a 64-bit interface id are not 128 bits")),
        }
        if ra.lifetime_s > 0 {
            let no_radr = self.ifaces[p].nd6.flags & NO_RADR != 0;
            let has_default = self.routes.iter().any(|r| r.vnet == vnet && r.net.is_none() && r.gateway.is_ipv6());
            if no_radr {
                did.push("no default router (no_radr)".into());
            } else if has_default {
                did.push("default route kept".into());
            } else {
                self.routes.push(SimRoute {
                    vnet,
                    net: None,
                    gateway: IpAddr::V6(source),
                    scope: Some(index),
                    learned: true,
                });
                did.push(format!("default router {source}%{}", self.ifaces[p].name));
            }
        }
        format!("{who}: {}", did.join(", "))
    }
}

fn is_link_local_net(c: &Cidr) -> bool {
    matches!(c.addr, IpAddr::V6(v) if is_link_local(&v))
}
