//! route(8) as rc.d/routing runs it in the jail (`route add default $defaultrouter`,
//! `route add $route_NAME`, `route add -inet6 $ipv6_route_NAME`), applied to the simulated
//! host inside the jail's vnet, with route(8)'s messages (sbin/route/route.c `newroute`:
//! "add net default: gateway 192.0.2.1", and on failure the routing socket's
//! "route: writing to routing socket: File exists" then "... fib 0: route already in
//! table").
//!
//! Gateway routes to a network or a host are emulated; `-iface`, `-reject`, `-blackhole`,
//! `-fib` other than 0 and the like are refused as not emulated.

use super::host::Host;
use super::VnetId;
use crate::errno::Errno;
use crate::kernel::{Cidr, Gateway};
use std::net::IpAddr;

/// `route add WORDS...` in `vnet`: the lines route(8) prints, and whether it succeeded.
pub fn route_add(h: &mut Host, vnet: VnetId, words: &[String]) -> (Vec<String>, bool) {
    let r = parse(words).and_then(|(dst, written, shown)| Ok((dst, resolve(h, vnet, &written)?, written, shown)));
    let (dst, gw, written, shown) = match r {
        Ok(x) => x,
        Err(m) => return (vec![m], false),
    };
    let kind = if dst.prefixlen == if dst.addr.is_ipv6() { 128 } else { 32 } { "host" } else { "net" };
    // route(8) prints the gateway as it was given (a zone by its name).
    let what = format!("add {kind} {shown}: gateway {written}");
    match h.add_route(vnet, dst, gw) {
        Ok(()) => (vec![what], true),
        Err(e) => (
            vec![format!("route: writing to routing socket: {}", e.text()), format!("{what} fib 0: {}", why(e))],
            false,
        ),
    }
}

/// route.c's words for the errors of RTM_ADD.
fn why(e: Errno) -> String {
    match e {
        Errno::ESRCH => "not in table".into(),
        Errno::EBUSY => "entry in use".into(),
        Errno::ENOBUFS => "not enough memory".into(),
        Errno::EADDRINUSE => "gateway uses the same route".into(),
        Errno::EEXIST => "route already in table".into(),
        e => e.text().to_string(),
    }
}

/// A scoped gateway's zone is an interface name; route(8) turns it into the ifindex
/// (getaddrinfo's scope id).
fn resolve(h: &Host, vnet: VnetId, gw: &str) -> Result<Gateway, String> {
    let (addr, zone) = gw.split_once('%').map_or((gw, None), |(a, z)| (a, Some(z)));
    let addr: IpAddr = addr.parse().map_err(|_| format!("route: bad address: {gw}"))?;
    let scope = match zone {
        None => None,
        Some(z) => Some(h.find(vnet, z).map(|i| i.index).ok_or_else(|| format!("route: bad address: {gw}"))?),
    };
    Gateway::new(addr, scope).map_err(|e| format!("route: {gw}: {}", e.message))
}

/// (destination, gateway as written, destination as route(8) shows it).
fn parse(words: &[String]) -> Result<(Cidr, String, String), String> {
    let mut v6 = false;
    let mut host = false;
    let mut prefixlen: Option<u8> = None;
    let mut netmask: Option<String> = None;
    let mut pos: Vec<&str> = vec![];
    let mut it = words.iter().map(String::as_str);
    while let Some(w) = it.next() {
        match w {
            "-inet" | "-4" => v6 = false,
            "-inet6" | "-6" => v6 = true,
            "-net" => host = false,
            "-host" => host = true,
            "-n" | "-q" | "-static" => {}
            "-prefixlen" => {
                let l = it.next().ok_or("route: -prefixlen: missing argument")?;
                prefixlen = Some(l.parse().map_err(|_| format!("route: bad value: {l}"))?);
            }
            "-netmask" => netmask = Some(it.next().ok_or("route: -netmask: missing argument")?.to_string()),
            "-fib" if it.next() == Some("0") => {}
            w if w.starts_with('-') => {
                return Err(format!(
                    "route: {w}: not emulated (jnet-sim emulates gateway routes to a network or a host)"
                ))
            }
            w => pos.push(w),
        }
    }
    let [dst, gw] = pos[..] else {
        return Err(format!("route: add {}: a destination and a gateway are needed", words.join(" ")));
    };
    let v6 = v6 || gw.contains(':');
    let cidr = if dst == "default" {
        Cidr::default_dst(v6)
    } else {
        let (a, l) = dst.split_once('/').map_or((dst, None), |(a, l)| (a, Some(l)));
        let addr: IpAddr = a.parse().map_err(|_| format!("route: bad address: {dst}"))?;
        let full = if addr.is_ipv6() { 128 } else { 32 };
        let len = match (l, prefixlen, netmask.as_deref()) {
            (Some(l), _, _) => {
                l.parse().ok().filter(|l| *l <= full).ok_or_else(|| format!("route: bad value: {dst}"))?
            }
            (None, Some(p), _) => p,
            (None, None, Some(m)) => {
                let m: std::net::Ipv4Addr = m.parse().map_err(|_| format!("route: bad value: {m}"))?;
                u32::from(m).count_ones() as u8
            }
            (None, None, None) if host => full,
            (None, None, None) => {
                return Err(format!(
                    "route: {dst}: give the prefix length (route(8)'s class-based guess is not emulated)"
                ))
            }
        };
        Cidr::parse_network(&format!("{addr}/{len}")).map_err(|e| format!("route: {dst}: {}", e.message))?
    };
    Ok((cidr, gw.to_string(), dst.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn routes_as_route8_adds_and_prints_them() {
        let mut h = Host::new("u".into(), &["igb0".into()], 10);
        h.add_addr(None, "igb0", "198.51.100.2/24".parse().unwrap(), 0, 0).unwrap();
        assert_eq!(
            route_add(&mut h, None, &w("default 198.51.100.1")),
            (vec!["add net default: gateway 198.51.100.1".into()], true)
        );
        assert_eq!(
            route_add(&mut h, None, &w("default 198.51.100.9")),
            (
                vec![
                    "route: writing to routing socket: File exists".into(),
                    "add net default: gateway 198.51.100.9 fib 0: route already in table".into()
                ],
                false
            )
        );
        assert!(route_add(&mut h, None, &w("-net 10.0.0.0/8 198.51.100.1")).1);
        assert!(route_add(&mut h, None, &w("-net 10.1.0.0 -netmask 255.255.0.0 198.51.100.1")).1);
        assert_eq!(
            route_add(&mut h, None, &w("-host 10.2.0.7 198.51.100.1")).0,
            ["add host 10.2.0.7: gateway 198.51.100.1"]
        );
        let (m, ok) = route_add(&mut h, None, &w("-net 10.3.0.0/16 203.0.113.1"));
        assert!(!ok);
        assert_eq!(m[1], "add net 10.3.0.0/16: gateway 203.0.113.1 fib 0: Network is unreachable");
        assert!(route_add(&mut h, None, &w("-net 10.4.0.0/16 -iface igb0")).0[0].contains("not emulated"));
        let nets: Vec<String> = h.routes.iter().map(|r| format!("{} {}", r.dst(), r.gateway)).collect();
        assert_eq!(
            nets,
            [
                "0.0.0.0/0 198.51.100.1",
                "10.0.0.0/8 198.51.100.1",
                "10.1.0.0/16 198.51.100.1",
                "10.2.0.7/32 198.51.100.1"
            ]
        );
    }
}
