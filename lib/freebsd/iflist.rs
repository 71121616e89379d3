//! The interface list as the routing sysctl gives it: net.route.0.0.iflist.0, i.e. {CTL_NET 4,
//! PF_ROUTE 17, 0, AF_UNSPEC 0, NET_RT_IFLIST 3, 0} (`sys/sys/socket.h`, `sys/sys/sysctl.h`),
//! the data getifaddrs(3) is built from. Answered by `sysctl_iflist` in `sys/net/rtsock.c`:
//! per interface one `struct if_msghdr` (RTM_IFINFO) carrying the `sockaddr_dl` (name, MAC),
//! then one `struct ifa_msghdr` (RTM_NEWADDR) per address. Each message is `ifm_msglen`
//! bytes: the header, then the sockaddrs its `addrs` bits name, in bit order, each padded to
//! SA_SIZE (`sys/net/route.h`: sa_len rounded up to 8 on LP64; 8 when sa_len is 0).

use super::abi::{self, AF_INET, AF_INET6, AF_LINK};
use crate::kernel::{Cidr, IfInfo};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The MIB of the whole list, every address family.
pub const IFLIST_MIB: [i32; 6] = [4, 17, 0, 0, 3, 0];

/// RTM_NEWADDR and RTM_IFINFO (`sys/net/route.h`).
const RTM_NEWADDR: u8 = 0xc;
const RTM_IFINFO: u8 = 0xe;
/// RTA_* bits (`sys/net/route.h`): which sockaddrs follow a header.
const RTA_NETMASK: u32 = 0x4;
const RTA_IFP: u32 = 0x10;
const RTA_IFA: u32 = 0x20;
/// RTAX_MAX (`sys/net/route.h`).
const RTAX_MAX: usize = 8;

/// `struct if_msghdr` (`sys/net/if.h`): ifm_msglen u16 @0, ifm_version @2, ifm_type @3,
/// ifm_addrs int @4, ifm_flags int @8 (if_flags | if_drv_flags), ifm_index u16 @12,
/// _ifm_spare1 @14, struct if_data ifm_data @16 (ifi_datalen u16 @6 of it, ifi_mtu u32 @8
/// of it; 152 bytes in 13.0 and 14).
const IF_MSGHDR_DATA: usize = 16;
const IF_DATA_SIZE: usize = 152;
/// `struct ifa_msghdr` (`sys/net/if.h`): ifam_msglen @0, version @2, type @3, ifam_addrs
/// int @4, ifam_flags int @8, ifam_index u16 @12, spare @14, ifam_metric int @16: 20 bytes.
const IFA_MSGHDR_SIZE: usize = 20;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// SA_SIZE of the sockaddr at the start of `b`.
fn sa_size(b: &[u8]) -> usize {
    match b.first().copied().unwrap_or(0) as usize {
        0 => 8,
        len => 1 + ((len - 1) | 7),
    }
}

/// The sockaddrs after a header, by RTAX index; a truncated one ends the list.
fn sockaddrs(mut b: &[u8], addrs: u32) -> [Option<&[u8]>; RTAX_MAX] {
    let mut out = [None; RTAX_MAX];
    for (i, slot) in out.iter_mut().enumerate() {
        if addrs & (1 << i) == 0 {
            continue;
        }
        let Some(&len) = b.first() else { break };
        let step = sa_size(b);
        *slot = Some(&b[..(len as usize).min(b.len())]);
        b = b.get(step..).unwrap_or(&[]);
    }
    out
}

fn rtax(bit: u32) -> usize {
    bit.trailing_zeros() as usize
}

/// The name in a `struct sockaddr_dl` (`sys/net/if_dl.h`): sdl_nlen @5, sdl_data @8.
fn sockaddr_dl_name(sa: &[u8]) -> Option<String> {
    if sa.len() < 8 || sa[1] != AF_LINK {
        return None;
    }
    let name = sa.get(8..8 + sa[5] as usize)?;
    Some(String::from_utf8_lossy(name).into_owned())
}

/// An address and its prefix length from RTA_IFA and RTA_NETMASK. The kernel gives the mask
/// the address's family and length (`rtsock_fix_netmask`) and de-embeds the scope of a
/// link-local IPv6 address (`sa6_recoverscope`).
fn cidr(ifa: &[u8], mask: Option<&[u8]>) -> Option<Cidr> {
    let mask = mask.unwrap_or(&[]);
    let bytes =
        |from: usize, n: usize| -> Vec<u8> { (from..from + n).map(|i| mask.get(i).copied().unwrap_or(0)).collect() };
    match ifa.get(1).copied()? {
        AF_INET if ifa.len() >= 8 => {
            let a = Ipv4Addr::new(ifa[4], ifa[5], ifa[6], ifa[7]);
            let plen = if mask.is_empty() { 32 } else { abi::prefixlen(&bytes(4, 4)) };
            Some(Cidr { addr: IpAddr::V4(a), prefixlen: plen })
        }
        AF_INET6 if ifa.len() >= 24 => {
            let o: [u8; 16] = ifa[8..24].try_into().ok()?;
            let mut seg = Ipv6Addr::from(o).segments();
            // A kernel-internal embedded scope must never leak into what we compare.
            if seg[0] & 0xffc0 == 0xfe80 {
                seg[1] = 0;
            }
            let plen = if mask.is_empty() { 128 } else { abi::prefixlen(&bytes(8, 16)) };
            Some(Cidr { addr: IpAddr::V6(Ipv6Addr::from(seg)), prefixlen: plen })
        }
        _ => None,
    }
}

/// Every interface with its flags, MAC, MTU and IPv4/IPv6 addresses, in the kernel's order.
/// Messages of other types, or too short to read, are skipped.
pub fn parse(buf: &[u8]) -> Vec<IfInfo> {
    let mut out: Vec<(u16, IfInfo)> = vec![];
    let mut at = 0;
    while let Some(len) = u16_at(buf, at) {
        let len = len as usize;
        if len < 4 || at + len > buf.len() {
            break;
        }
        let m = &buf[at..at + len];
        at += len;
        let Some(addrs) = u32_at(m, 4) else { continue };
        let Some(index) = u16_at(m, 12) else { continue };
        match m[3] {
            RTM_IFINFO => {
                let Some(flags) = u32_at(m, 8) else { continue };
                let data = m.get(IF_MSGHDR_DATA..).unwrap_or(&[]);
                let datalen = match u16_at(data, 6) {
                    Some(0) | None => IF_DATA_SIZE,
                    Some(n) => n as usize,
                };
                let mtu = abi::if_data_mtu(data).unwrap_or(0);
                let epoch = abi::if_data_epoch(data).unwrap_or(0);
                let sas = sockaddrs(m.get(IF_MSGHDR_DATA + datalen..).unwrap_or(&[]), addrs);
                let Some(dl) = sas[rtax(RTA_IFP)] else { continue };
                let Some(name) = sockaddr_dl_name(dl) else { continue };
                let mac = abi::sockaddr_dl_mac(dl);
                out.push((index, IfInfo { name, flags, mac, addrs: vec![], mtu, epoch }));
            }
            RTM_NEWADDR => {
                let sas = sockaddrs(m.get(IFA_MSGHDR_SIZE..).unwrap_or(&[]), addrs);
                let Some(ifa) = sas[rtax(RTA_IFA)] else { continue };
                let Some(c) = cidr(ifa, sas[rtax(RTA_NETMASK)]) else { continue };
                if let Some((_, i)) = out.iter_mut().rev().find(|(ix, _)| *ix == index) {
                    i.addrs.push(c);
                }
            }
            _ => {}
        }
    }
    out.into_iter().map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mac::Mac;

    fn pad8(v: &mut Vec<u8>) {
        while v.len() % 8 != 0 {
            v.push(0);
        }
    }

    fn sockaddr_dl(index: u16, name: &str, mac: Option<[u8; 6]>) -> Vec<u8> {
        let alen = if mac.is_some() { 6 } else { 0 };
        let mut s = vec![0u8, AF_LINK];
        s.extend_from_slice(&index.to_ne_bytes());
        s.extend_from_slice(&[6, name.len() as u8, alen, 0]);
        s.extend_from_slice(name.as_bytes());
        if let Some(m) = mac {
            s.extend_from_slice(&m);
        }
        // sizeof(struct sockaddr_dl) is 54 at least: sdl_data[46].
        s.resize(s.len().max(54), 0);
        s[0] = s.len() as u8;
        pad8(&mut s);
        s
    }

    fn if_msg(index: u16, flags: u32, mtu: u32, dl: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; IF_MSGHDR_DATA + IF_DATA_SIZE];
        m[2] = 5; // RTM_VERSION
        m[3] = RTM_IFINFO;
        m[4..8].copy_from_slice(&RTA_IFP.to_ne_bytes());
        m[8..12].copy_from_slice(&flags.to_ne_bytes());
        m[12..14].copy_from_slice(&index.to_ne_bytes());
        m[16 + 6..16 + 8].copy_from_slice(&(IF_DATA_SIZE as u16).to_ne_bytes());
        m[16 + 8..16 + 12].copy_from_slice(&mtu.to_ne_bytes());
        m.extend_from_slice(dl);
        let len = m.len() as u16;
        m[0..2].copy_from_slice(&len.to_ne_bytes());
        m
    }

    fn ifa_msg(index: u16, mask: &[u8], ifa: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; IFA_MSGHDR_SIZE];
        m[3] = RTM_NEWADDR;
        m[4..8].copy_from_slice(&(RTA_NETMASK | RTA_IFA).to_ne_bytes());
        m[12..14].copy_from_slice(&index.to_ne_bytes());
        let mut mk = mask.to_vec();
        pad8(&mut mk);
        let mut a = ifa.to_vec();
        pad8(&mut a);
        m.extend_from_slice(&mk);
        m.extend_from_slice(&a);
        pad8(&mut m);
        let len = m.len() as u16;
        m[0..2].copy_from_slice(&len.to_ne_bytes());
        m
    }

    #[test]
    fn interfaces_with_mac_mtu_flags_and_both_families() {
        let mac = [0x02, 0x6a, 0x6e, 0, 0, 1];
        let mut buf = if_msg(1, 0x8843, 1500, &sockaddr_dl(1, "e0a_www", Some(mac)));
        // ifi_epoch: ifm_data @16, the epoch union @128 of it; ifi_lastchange after it.
        buf[16 + 128..16 + 136].copy_from_slice(&4242u64.to_ne_bytes());
        buf[16 + 136..16 + 144].copy_from_slice(&u64::MAX.to_ne_bytes());
        let mut m4 = abi::sockaddr_in(Ipv4Addr::new(255, 255, 255, 0)).to_vec();
        m4[1] = AF_INET;
        buf.extend(ifa_msg(1, &m4, &abi::sockaddr_in(Ipv4Addr::new(192, 0, 2, 5))));
        let ll: Ipv6Addr = "fe80::6a:6eff:fe00:1".parse().unwrap();
        let mask6 = abi::sockaddr_in6(abi::mask6(64), 0);
        buf.extend(ifa_msg(1, &mask6, &abi::sockaddr_in6(ll, 1)));
        buf.extend(if_msg(2, 0x8802, 9000, &sockaddr_dl(2, "bridge0", Some([2, 0, 0, 0, 0, 9]))));
        buf.extend(if_msg(3, 0x8049, 16384, &sockaddr_dl(3, "lo0", None)));
        let g: Ipv6Addr = "2001:db8::5".parse().unwrap();
        buf.extend(ifa_msg(3, &abi::sockaddr_in6(abi::mask6(128), 0), &abi::sockaddr_in6(g, 0)));
        let l = parse(&buf);
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].name, "e0a_www");
        assert_eq!(l[0].flags, 0x8843);
        assert_eq!(l[0].mtu, 1500);
        assert_eq!(l[0].epoch, 4242, "the uptime it was attached at");
        assert_eq!(l[1].epoch, 0);
        assert_eq!(l[0].mac, Some(Mac(mac)));
        assert_eq!(
            l[0].addrs,
            vec![
                Cidr { addr: "192.0.2.5".parse().unwrap(), prefixlen: 24 },
                Cidr { addr: IpAddr::V6(ll), prefixlen: 64 }
            ]
        );
        assert_eq!((l[1].name.as_str(), l[1].mtu, l[1].addrs.len()), ("bridge0", 9000, 0));
        assert_eq!((l[2].name.as_str(), l[2].mac), ("lo0", None));
        assert_eq!(l[2].addrs, vec![Cidr { addr: IpAddr::V6(g), prefixlen: 128 }]);
    }

    #[test]
    fn an_embedded_scope_is_removed_and_a_missing_mask_is_a_host_prefix() {
        let mut buf = if_msg(4, 0, 1500, &sockaddr_dl(4, "epair0b", Some([2, 0, 0, 0, 0, 0xb])));
        let mut ll = abi::sockaddr_in6("fe80::1".parse().unwrap(), 0).to_vec();
        ll[10..12].copy_from_slice(&4u16.to_be_bytes());
        let mut m = vec![0u8; IFA_MSGHDR_SIZE];
        m[3] = RTM_NEWADDR;
        m[4..8].copy_from_slice(&RTA_IFA.to_ne_bytes());
        m[12..14].copy_from_slice(&4u16.to_ne_bytes());
        m.extend_from_slice(&ll);
        pad8(&mut m);
        let len = m.len() as u16;
        m[0..2].copy_from_slice(&len.to_ne_bytes());
        buf.extend(m);
        let l = parse(&buf);
        assert_eq!(l[0].addrs, vec![Cidr { addr: "fe80::1".parse().unwrap(), prefixlen: 128 }]);
    }

    #[test]
    fn a_truncated_list_keeps_what_was_whole() {
        let mut buf = if_msg(1, 1, 1500, &sockaddr_dl(1, "igb0", Some([0, 1, 2, 3, 4, 5])));
        let whole = buf.len();
        buf.extend(if_msg(2, 1, 1500, &sockaddr_dl(2, "igb1", Some([0, 1, 2, 3, 4, 6]))));
        let l = parse(&buf[..whole + 30]);
        assert_eq!(l.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), vec!["igb0"]);
        assert!(parse(&[]).is_empty());
    }

    #[test]
    fn sa_size_rounds_to_longs() {
        assert_eq!(sa_size(&[0]), 8);
        assert_eq!(sa_size(&[16]), 16);
        assert_eq!(sa_size(&[28]), 32);
        assert_eq!(sa_size(&[54]), 56);
    }
}
