//! `jnet-sim show`: the host's state, ifconfig-style or as the documented JSON.

use super::host::{Host, IfKind, JailState, SimIf, VnetId};
use super::netgraph::NgKind;
use crate::kernel::{iff, in6f, nd6f};
use serde_json::{json, Value};
use std::fmt::Write;
use std::net::IpAddr;

fn flag_words(flags: u32, names: &[(u32, &str)]) -> Vec<String> {
    names.iter().filter(|(b, _)| flags & b != 0).map(|(_, n)| n.to_string()).collect()
}

const ND6_NAMES: &[(u32, &str)] = &[
    (nd6f::PERFORMNUD, "PERFORMNUD"),
    (nd6f::ACCEPT_RTADV, "ACCEPT_RTADV"),
    (nd6f::IFDISABLED, "IFDISABLED"),
    (nd6f::AUTO_LINKLOCAL, "AUTO_LINKLOCAL"),
    (nd6f::NO_DAD, "NO_DAD"),
];

fn vnets(host: &Host) -> Vec<(VnetId, Option<String>)> {
    let mut v = vec![(None, None)];
    for j in host.jails.iter().filter(|j| j.vnet) {
        v.push((Some(j.jid), Some(j.name.clone())));
    }
    v
}

fn kind_name(k: &IfKind) -> &'static str {
    match k {
        IfKind::Loopback { .. } => "loopback",
        IfKind::Ether => "ether",
        IfKind::Epair { .. } => "epair",
        IfKind::Bridge { .. } => "bridge",
        IfKind::Eiface { .. } => "eiface",
        IfKind::Lagg { .. } => "lagg",
        IfKind::Vlan { .. } => "vlan",
    }
}

fn members(host: &Host, ifp: &SimIf) -> Option<Vec<String>> {
    match &ifp.kind {
        IfKind::Bridge { members, .. } => Some(
            members.iter().filter_map(|m| host.ifaces.iter().find(|i| i.index == *m)).map(|i| i.name.clone()).collect(),
        ),
        _ => None,
    }
}

fn iface_json(host: &Host, ifp: &SimIf) -> Value {
    let mut v = json!({
        "name": ifp.name,
        "index": ifp.index,
        "kind": kind_name(&ifp.kind),
        "driver": ifp.driver,
        "description": ifp.descr,
        "groups": ifp.groups,
        "up": ifp.flags & iff::UP != 0,
        "flags": flag_words(ifp.flags, iff::NAMES),
        "mac": ifp.mac.map(|m| m.to_string()),
        "mtu": ifp.mtu,
        "nd6_flags": flag_words(ifp.nd6.flags, ND6_NAMES),
        "home": host.vnet_label(ifp.home),
        "addrs": ifp.addrs.iter().map(|a| json!({
            "addr": a.cidr.addr.to_string(),
            "prefixlen": a.cidr.prefixlen,
            "flags": flag_words(a.flags6, in6f::NAMES),
        })).collect::<Vec<_>>(),
    });
    if let Some(m) = members(host, ifp) {
        v["members"] = json!(m);
    }
    if let IfKind::Vlan { parent, tag, .. } = &ifp.kind {
        let parent = parent.and_then(|p| host.ifaces.iter().find(|i| i.index == p)).map(|i| i.name.clone());
        v["vlan"] = json!({ "parent": parent, "tag": tag });
    }
    v
}

/// The documented JSON (design.md §3).
pub fn to_json(host: &Host) -> Value {
    json!({
        "hostuuid": host.hostuuid,
        "jails": host.jails.iter().map(|j| json!({
            "name": j.name,
            "jid": j.jid,
            "vnet": j.vnet,
            "state": if j.state == JailState::Alive { "alive" } else { "dying" },
        })).collect::<Vec<_>>(),
        "vnets": vnets(host).into_iter().map(|(v, jail)| json!({
            "jail": jail,
            "interfaces": host.in_vnet(v).into_iter().map(|i| iface_json(host, i)).collect::<Vec<_>>(),
            "routes": host.routes.iter().filter(|r| r.vnet == v).map(|r| json!({
                "dest": r.dst().to_string(),
                "gateway": gateway_text(host, v, r),
                "flags": if r.learned { "UG" } else { "UGS" },
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
                "netgraph": host.netgraph.iter().map(|n| {
            let mut v = json!({
                "id": format!("{:x}", n.id),
                "name": n.name,
                "type": n.kind.type_name(),
                "vnet": host.vnet_label(n.vnet),
                "hooks": n.hooks.iter().map(|h| json!({ "name": h.name, "peer": format!("[{:x}]:{}", h.peer, h.peer_hook) })).collect::<Vec<_>>(),
            });
            match n.kind {
                NgKind::Ether { promisc, autosrc, .. } => {
                    v["promisc"] = json!(promisc);
                    v["autosrc"] = json!(autosrc);
                }
                NgKind::Bridge { persistent } => v["persistent"] = json!(persistent),
                _ => {}
            }
            v
        }).collect::<Vec<_>>(),
        "modules": host.modules,
    })
}

/// A route's gateway as netstat shows it: a link-local one with its zone's interface name,
/// `fe80::1%vnet0`.
fn gateway_text(host: &Host, v: VnetId, r: &super::host::SimRoute) -> String {
    match r.scope {
        Some(s) => {
            let zone = host.in_vnet(v).into_iter().find(|i| i.index == s).map_or(s.to_string(), |i| i.name.clone());
            format!("{}%{zone}", r.gateway)
        }
        None => r.gateway.to_string(),
    }
}

/// The vnet's static routes, and those router advertisements gave, as `netstat -rn` shows
/// them (the routes to the interfaces' own
/// networks, which the kernel makes with each address, are not listed).
fn routes_text(host: &Host, v: VnetId, out: &mut String) {
    let routes: Vec<_> = host.routes.iter().filter(|r| r.vnet == v).collect();
    if routes.is_empty() {
        return;
    }
    let _ = writeln!(out, "routes (netstat -rn, static and from router advertisements):");
    let _ = writeln!(out, "\t{:<24} {:<24} {:<6} Netif", "Destination", "Gateway", "Flags");
    for r in routes {
        let dst = if r.dst().is_default() { "default".to_string() } else { r.dst().to_string() };
        let netif = host.route_netif(v, r.next_hop()).unwrap_or_else(|| "-".into());
        let flags = if r.learned { "UG" } else { "UGS" };
        let _ = writeln!(out, "\t{dst:<24} {:<24} {flags:<6} {netif}", gateway_text(host, v, r));
    }
}

/// ifconfig-style text.
pub fn to_text(host: &Host) -> String {
    let mut out = String::new();
    for j in &host.jails {
        let state = match j.state {
            JailState::Alive => "alive".to_string(),
            JailState::Dying { .. } => "dying".to_string(),
        };
        let _ = writeln!(out, "jail {} jid {} {} {}", j.name, j.jid, if j.vnet { "vnet" } else { "ip-sharing" }, state);
    }
    for (v, jail) in vnets(host) {
        let _ = writeln!(out, "== vnet {}", jail.as_deref().unwrap_or("host"));
        for ifp in host.in_vnet(v) {
            let _ = writeln!(
                out,
                "{}: flags={:x}<{}> mtu {}",
                ifp.name,
                ifp.flags,
                flag_words(ifp.flags, iff::NAMES).join(","),
                ifp.mtu
            );
            if let Some(d) = &ifp.descr {
                let _ = writeln!(out, "\tdescription: {d}");
            }
            if let Some(m) = ifp.mac {
                let _ = writeln!(out, "\tether {m}");
            }
            for a in &ifp.addrs {
                match a.cidr.addr {
                    IpAddr::V4(x) => {
                        let _ = writeln!(out, "\tinet {x}/{}", a.cidr.prefixlen);
                    }
                    IpAddr::V6(x) => {
                        let words = flag_words(a.flags6, in6f::NAMES).join(" ");
                        let _ = writeln!(out, "\tinet6 {x} prefixlen {} {words}", a.cidr.prefixlen);
                    }
                }
            }
            for m in members(host, ifp).unwrap_or_default() {
                let _ = writeln!(out, "\tmember: {m}");
            }
            let _ = writeln!(out, "\tgroups: {}", ifp.groups.join(" "));
            let _ = writeln!(out, "\tnd6 options=<{}>", flag_words(ifp.nd6.flags, ND6_NAMES).join(","));
        }
        routes_text(host, v, &mut out);
    }
    if !host.netgraph.is_empty() {
        let _ = writeln!(out, "== netgraph");
        for n in &host.netgraph {
            let hooks: Vec<String> =
                n.hooks.iter().map(|h| format!("{}->[{:x}]:{}", h.name, h.peer, h.peer_hook)).collect();
            let _ = writeln!(
                out,
                "[{:x}] {} {} ({}) {}",
                n.id,
                n.name.as_deref().unwrap_or("<unnamed>"),
                n.kind.type_name(),
                host.vnet_label(n.vnet),
                hooks.join(" ")
            );
        }
    }
    out
}
