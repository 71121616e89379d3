//! ifconfig(8) as the jail's rc runs it (network.subr: `ifconfig IF $ifconfig_IF`,
//! `ifconfig IF inet6 -ifdisabled`, `ifconfig IF name NEW`, ...), applied to the simulated
//! host inside the jail's vnet.
//!
//! The words are processed as sbin/ifconfig/ifconfig.c does: an address family word
//! (`inet` by default), then its address, and parameters whose callbacks run at once, in
//! order (`up`, `mtu`, `description`, `name`, the nd6 flags of af_inet6.c); the address
//! itself is set after every word was read (ifconfig.c `ifconfig()` ends with the
//! SIOCDIFADDR/SIOCAIFADDR of `clearaddr`/`newaddr`). Without `alias`, an IPv4 address
//! replaces the interface's first one (`clearaddr`: SIOCDIFADDR with no address deletes the
//! first, in.c in_control). A word this emulation does not know is refused, so a dry run
//! never pretends.

use super::host::{link_local, Host};
use super::VnetId;
use crate::errno::Errno;
use crate::kernel::{iff, nd6f, Cidr};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What one ifconfig run did to the interface's name (it can rename it).
pub type IfconfigResult = std::result::Result<String, String>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Af {
    Inet,
    Inet6,
    Link,
}

/// An address to set or delete once every word was read.
#[derive(Default)]
struct AddrOp {
    addr: Option<String>,
    netmask: Option<String>,
    prefixlen: Option<String>,
    alias: bool,
    delete: bool,
    eui64: bool,
}

/// ifconfig's `err(1, label)`: `ifconfig: LABEL: strerror`.
fn err(label: &str, e: Errno) -> String {
    format!("ifconfig: {label}: {}", e.text())
}

/// `ifconfig NAME WORDS...` in `vnet` at `now_ms`; the interface's name afterwards, or the
/// message ifconfig prints.
pub fn ifconfig(h: &mut Host, vnet: VnetId, name: &str, words: &[String], now_ms: u64) -> IfconfigResult {
    if h.find(vnet, name).is_none() {
        return Err(format!("ifconfig: interface {name} does not exist"));
    }
    let mut name = name.to_string();
    let mut af = Af::Inet;
    let mut op = AddrOp::default();
    let mut it = words.iter().map(String::as_str).peekable();
    let arg = |it: &mut std::iter::Peekable<_>, w: &str| -> std::result::Result<String, String> {
        it.next().map(|s: &str| s.to_string()).ok_or_else(|| format!("ifconfig: {w}: missing argument"))
    };
    while let Some(w) = it.next() {
        match w {
            "inet" => af = Af::Inet,
            "inet6" => af = Af::Inet6,
            "link" | "ether" | "lladdr" => af = Af::Link,
            "alias" | "add" => op.alias = true,
            "-alias" | "delete" | "remove" => op.delete = true,
            "netmask" => op.netmask = Some(arg(&mut it, w)?),
            "prefixlen" => op.prefixlen = Some(arg(&mut it, w)?),
            "broadcast" => {
                arg(&mut it, w)?;
            }
            "eui64" => op.eui64 = true,
            "up" | "down" => set_up(h, vnet, &name, w == "up", now_ms)?,
            "promisc" | "-promisc" => {
                let f = h.flags(vnet, &name).map_err(|e| err("ioctl (SIOCGIFFLAGS)", e))?;
                let f = if w == "promisc" { f | iff::PPROMISC } else { f & !iff::PPROMISC };
                h.set_flags(vnet, &name, f, now_ms).map_err(|e| err("ioctl (SIOCSIFFLAGS)", e))?;
            }
            "mtu" => {
                let v = arg(&mut it, w)?;
                let mtu: u32 = v.parse().map_err(|_| format!("ifconfig: {v}: bad value"))?;
                h.set_mtu(vnet, &name, mtu).map_err(|e| err("ioctl SIOCSIFMTU (set mtu)", e))?;
            }
            "description" | "descr" => {
                let d = arg(&mut it, w)?;
                h.set_description(vnet, &name, Some(&d)).map_err(|e| err("ioctl (SIOCSIFDESCR)", e))?;
            }
            "-description" | "-descr" => {
                h.set_description(vnet, &name, None).map_err(|e| err("ioctl (SIOCSIFDESCR)", e))?;
            }
            "name" => {
                let new = arg(&mut it, w)?;
                h.rename(vnet, &name, &new).map_err(|e| err("ioctl SIOCSIFNAME (set name)", e))?;
                name = new;
            }
            "group" => {
                let g = arg(&mut it, w)?;
                h.add_group(vnet, &name, &g).map_err(|e| err("SIOCAIFGROUP", e))?;
            }
            "-group" => {
                let g = arg(&mut it, w)?;
                h.del_group(vnet, &name, &g).map_err(|e| err("SIOCDIFGROUP", e))?;
            }
            _ if nd6_flag(w).is_some() => {
                let (bit, on) = nd6_flag(w).unwrap_or_default();
                let mut ndi = h.nd6(vnet, &name).map_err(|e| err("ioctl(SIOCGIFINFO_IN6)", e))?;
                ndi.flags = if on { ndi.flags | bit } else { ndi.flags & !bit };
                h.set_nd6(vnet, &name, &ndi, now_ms).map_err(|e| err("ioctl(SIOCSIFINFO_IN6)", e))?;
            }
            _ if op.addr.is_none() && !w.starts_with('-') && w.contains(['.', ':']) => op.addr = Some(w.to_string()),
            _ => return Err(format!("ifconfig: {w}: not emulated (jnet-sim emulates the words rc.conf uses for addresses, names, flags, MTU, descriptions and groups)")),
        }
    }
    if op.addr.is_some() {
        set_addr(h, vnet, &name, af, &op, now_ms)?;
    }
    Ok(name)
}

/// The nd6 flags ifconfig's af_inet6.c sets with SIOCSIFINFO_IN6: (bit, set).
fn nd6_flag(w: &str) -> Option<(u32, bool)> {
    let (on, word) = match w.strip_prefix('-') {
        Some(rest) => (false, rest),
        None => (true, w),
    };
    let bit = match word {
        "ifdisabled" => nd6f::IFDISABLED,
        "accept_rtadv" => nd6f::ACCEPT_RTADV,
        "auto_linklocal" => nd6f::AUTO_LINKLOCAL,
        "no_dad" => nd6f::NO_DAD,
        "nud" => nd6f::PERFORMNUD,
        _ => return None,
    };
    Some((bit, on))
}

fn set_up(h: &mut Host, vnet: VnetId, name: &str, up: bool, now_ms: u64) -> std::result::Result<(), String> {
    let f = h.flags(vnet, name).map_err(|e| err("ioctl (SIOCGIFFLAGS)", e))?;
    let f = if up { f | iff::UP } else { f & !iff::UP };
    h.set_flags(vnet, name, f, now_ms).map_err(|e| err("ioctl (SIOCSIFFLAGS)", e))
}

fn bad(what: &str) -> String {
    format!("ifconfig: {what}: bad value")
}

fn set_addr(
    h: &mut Host,
    vnet: VnetId,
    name: &str,
    af: Af,
    op: &AddrOp,
    now_ms: u64,
) -> std::result::Result<(), String> {
    let text = op.addr.as_deref().unwrap_or_default();
    match af {
        Af::Link => {
            if op.delete {
                return Err("ifconfig: link addresses cannot be deleted".into());
            }
            let mac = text.parse().map_err(|_| bad(text))?;
            h.set_mac(vnet, name, mac).map_err(|e| err("ioctl (SIOCSIFLLADDR)", e))
        }
        Af::Inet => {
            let (a, len) = text.split_once('/').map_or((text, None), |(a, l)| (a, Some(l)));
            let addr: Ipv4Addr = a.parse().map_err(|_| bad(text))?;
            if op.delete {
                return h.del_addr(vnet, name, IpAddr::V4(addr)).map_err(|e| err("ioctl (SIOCDIFADDR)", e));
            }
            let prefixlen = match (len, op.netmask.as_deref()) {
                (Some(l), _) => l.parse::<u8>().ok().filter(|l| *l <= 32).ok_or_else(|| bad(text))?,
                (None, Some(m)) => netmask_len(m).ok_or_else(|| bad(m))?,
                // in.c: without a mask, the class's own (ifconfig sends none; the kernel's
                // in_control picks IN_CLASSA/B/C for the address).
                (None, None) => classful(addr),
            };
            if !op.alias {
                let first = h.find(vnet, name).and_then(|i| i.addrs.iter().find(|a| a.cidr.addr.is_ipv4()).cloned());
                if let Some(first) = first.filter(|f| f.cidr.addr != IpAddr::V4(addr)) {
                    h.del_addr(vnet, name, first.cidr.addr).map_err(|e| err("ioctl (SIOCDIFADDR)", e))?;
                }
            }
            let cidr = Cidr { addr: IpAddr::V4(addr), prefixlen };
            h.add_addr(vnet, name, cidr, 0, now_ms).map_err(|e| err("ioctl (SIOCAIFADDR)", e))
        }
        Af::Inet6 => {
            let (a, len) = text.split_once('/').map_or((text, None), |(a, l)| (a, Some(l)));
            let mut addr: Ipv6Addr = a.parse().map_err(|_| bad(text))?;
            if op.delete {
                return h.del_addr(vnet, name, IpAddr::V6(addr)).map_err(|e| err("ioctl (SIOCDIFADDR_IN6)", e));
            }
            let prefixlen = match len.or(op.prefixlen.as_deref()) {
                Some(l) => l.parse::<u8>().ok().filter(|l| *l <= 128).ok_or_else(|| bad(l))?,
                None => 64,
            };
            if op.eui64 {
                // af_inet6.c in6_postproc: the interface id of the interface's link-local
                // address fills the low 64 bits.
                let mac = h
                    .find(vnet, name)
                    .and_then(|i| i.mac)
                    .ok_or_else(|| "ifconfig: could not determine link local address".to_string())?;
                let ll = link_local(mac).octets();
                let mut o = addr.octets();
                o[8..].copy_from_slice(&ll[8..]);
                addr = Ipv6Addr::from(o);
            }
            let cidr = Cidr { addr: IpAddr::V6(addr), prefixlen };
            h.add_addr(vnet, name, cidr, 0, now_ms).map_err(|e| err("ioctl (SIOCAIFADDR_IN6)", e))
        }
    }
}

/// A netmask as ifconfig takes it: dotted or 0x hex, contiguous.
fn netmask_len(m: &str) -> Option<u8> {
    let v = match m.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => u32::from(m.parse::<Ipv4Addr>().ok()?),
    };
    (v.leading_ones() == v.count_ones()).then_some(v.count_ones() as u8)
}

/// The classful prefix length in_control gives an address set without a mask.
fn classful(a: Ipv4Addr) -> u8 {
    match a.octets()[0] {
        0..=127 => 8,
        128..=191 => 16,
        _ => 24,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::in6f;

    fn host() -> (Host, VnetId) {
        let mut h = Host::new("u".into(), &["igb0".into()], 10);
        h.modules.insert("if_epair".into());
        let jid = h.create_jail("www", true).unwrap();
        let a = h.create(None, "epair").unwrap();
        let b = a.trim_end_matches('a').to_string() + "b";
        h.move_to_jail(None, &b, jid).unwrap();
        h.rename(Some(jid), &b, "e0b_www").unwrap();
        (h, Some(jid))
    }

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn addrs(h: &Host, v: VnetId, name: &str) -> Vec<String> {
        h.find(v, name).unwrap().addrs.iter().map(|a| a.cidr.to_string()).collect()
    }

    #[test]
    fn an_address_replaces_the_first_unless_alias() {
        let (mut h, v) = host();
        assert_eq!(ifconfig(&mut h, v, "e0b_www", &words("inet 192.0.2.10/24"), 0), Ok("e0b_www".into()));
        assert_eq!(ifconfig(&mut h, v, "e0b_www", &words("192.0.2.11 netmask 255.255.255.0"), 0), Ok("e0b_www".into()));
        assert_eq!(addrs(&h, v, "e0b_www"), ["192.0.2.11/24"]);
        ifconfig(&mut h, v, "e0b_www", &words("inet 10.1.0.1 alias"), 0).unwrap();
        assert_eq!(addrs(&h, v, "e0b_www"), ["192.0.2.11/24", "10.1.0.1/8"]);
        ifconfig(&mut h, v, "e0b_www", &words("inet 10.1.0.1 -alias"), 0).unwrap();
        assert_eq!(addrs(&h, v, "e0b_www"), ["192.0.2.11/24"]);
    }

    #[test]
    fn up_runs_before_the_address_and_names_change_at_once() {
        let (mut h, v) = host();
        let r = ifconfig(&mut h, v, "e0b_www", &words("name net0 inet6 2001:db8::10 prefixlen 64 -ifdisabled up"), 0);
        assert_eq!(r, Ok("net0".into()));
        let i = h.find(v, "net0").unwrap();
        assert_ne!(i.flags & iff::UP, 0);
        assert_eq!(i.nd6.flags & nd6f::IFDISABLED, 0);
        let a = i.addrs.iter().find(|a| a.cidr.to_string() == "2001:db8::10/64").unwrap();
        assert_ne!(a.flags6 & in6f::TENTATIVE, 0, "DAD runs: IFDISABLED was cleared first");
        assert_eq!(a.dad_start_ms, Some(0), "and the interface was up when it came");
    }

    #[test]
    fn errors_as_ifconfig_prints_them() {
        let (mut h, v) = host();
        assert_eq!(
            ifconfig(&mut h, v, "nope0", &words("up"), 0),
            Err("ifconfig: interface nope0 does not exist".into())
        );
        assert_eq!(
            ifconfig(&mut h, v, "e0b_www", &words("name lo0"), 0),
            Err("ifconfig: ioctl SIOCSIFNAME (set name): File exists".into())
        );
        assert!(ifconfig(&mut h, v, "e0b_www", &words("vlandev igb0"), 0).unwrap_err().contains("not emulated"));
        assert_eq!(
            ifconfig(&mut h, v, "e0b_www", &words("inet 192.0.2.300/24"), 0),
            Err("ifconfig: 192.0.2.300/24: bad value".into())
        );
        assert_eq!(addrs(&h, v, "e0b_www"), Vec::<String>::new(), "nothing half done");
    }

    #[test]
    fn eui64_takes_the_interface_id_of_the_link_local() {
        let (mut h, v) = host();
        ifconfig(&mut h, v, "e0b_www", &words("inet6 2001:db8:1:: prefixlen 64 eui64 alias"), 0).unwrap();
        let mac = h.find(v, "e0b_www").unwrap().mac.unwrap();
        let ll = link_local(mac).segments();
        let want = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, ll[4], ll[5], ll[6], ll[7]);
        // The first IPv6 address brings the interface up (in6_notify_ifa's SIOCSIFADDR) and
        // in6_control then clears IFDISABLED: the link-local address follows.
        assert_eq!(addrs(&h, v, "e0b_www"), [format!("{want}/64"), format!("{}/64", link_local(mac))]);
    }
}
