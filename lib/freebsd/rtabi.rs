//! Routing-socket messages (`sys/net/route.h`): RTM_ADD, RTM_DELETE and RTM_GET of a route to
//! a network (the default route is the one to 0.0.0.0/0 or ::/0), encoded and decoded here,
//! byte for byte, on every platform.
//!
//! A message is a `struct rt_msghdr` (152 bytes on LP64: u_short rtm_msglen @0, u_char
//! rtm_version @2, u_char rtm_type @3, u_short rtm_index @4, u_short _rtm_spare1 @6, int
//! rtm_flags @8, int rtm_addrs @12, pid_t rtm_pid @16, int rtm_seq @20, int rtm_errno @24,
//! int rtm_fmask @28, u_long rtm_inits @32, struct rt_metrics rtm_rmx @40, 14 u_long) and
//! the sockaddrs `rtm_addrs` names, in RTA_* bit order, each padded to a multiple of
//! sizeof(long) (`SA_SIZE`).

use super::abi::{mask4, mask6, sockaddr_in, sockaddr_in6, AF_INET, AF_INET6};
use crate::kernel::{Cidr, Gateway};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// sizeof(struct rt_msghdr) on LP64.
pub const RT_MSGHDR: usize = 152;
/// RTM_VERSION
pub const RTM_VERSION: u8 = 5;
/// RTM_ADD
pub const RTM_ADD: u8 = 1;
/// RTM_DELETE
pub const RTM_DELETE: u8 = 2;
/// RTM_GET
pub const RTM_GET: u8 = 4;
/// RTF_UP
pub const RTF_UP: i32 = 0x1;
/// RTF_GATEWAY
pub const RTF_GATEWAY: i32 = 0x2;
/// RTF_STATIC
pub const RTF_STATIC: i32 = 0x800;
/// RTA_DST
pub const RTA_DST: i32 = 0x1;
/// RTA_GATEWAY
pub const RTA_GATEWAY: i32 = 0x2;
/// RTA_NETMASK
pub const RTA_NETMASK: i32 = 0x4;
/// PF_ROUTE (= AF_ROUTE 17, `sys/sys/socket.h`)
pub const PF_ROUTE: i32 = 17;

/// SA_SIZE: a sockaddr's length rounded up to a multiple of sizeof(long), 8 at least.
fn sa_size(len: usize) -> usize {
    if len == 0 {
        8
    } else {
        1 + ((len - 1) | 7)
    }
}

fn push_sa(out: &mut Vec<u8>, sa: &[u8]) {
    out.extend_from_slice(sa);
    out.resize(out.len() + sa_size(sa.len()) - sa.len(), 0);
}

fn sa_of(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v) => sockaddr_in(v).to_vec(),
        IpAddr::V6(v) => sockaddr_in6(v, 0).to_vec(),
    }
}

/// A gateway's sockaddr as route(8) writes it. A link-local gateway's zone travels inside
/// the address, in bytes 2 and 3 (big-endian), with sin6_scope_id 0: sbin/route/route.c
/// getaddr embeds it so (`__KAME__`), and the kernel keeps those bytes and zeroes
/// sin6_scope_id (sys/net/rtsock.c cleanup_xaddrs_gateway, fill_sockaddr_inet6(.., 0)):
/// a scope only in sin6_scope_id would be lost.
fn sa_of_gateway(g: Gateway) -> Vec<u8> {
    match (g.addr, g.scope) {
        (IpAddr::V6(v), Some(scope)) => {
            let mut o = v.octets();
            o[2..4].copy_from_slice(&(scope as u16).to_be_bytes());
            sockaddr_in6(Ipv6Addr::from(o), 0).to_vec()
        }
        (a, _) => sa_of(a),
    }
}

/// A gateway sockaddr_in6 of a reply: the kernel answers with the zone recovered into
/// sin6_scope_id (rtsock.c rtsock_msg_buffer: sa6_recoverscope), and an embedded one is
/// read as well.
fn gateway_of_sin6(sa: &[u8]) -> Option<Gateway> {
    let mut o: [u8; 16] = sa.get(8..24)?.try_into().ok()?;
    let scope_id = u32::from_ne_bytes(sa.get(24..28)?.try_into().ok()?);
    let addr = Ipv6Addr::from(o);
    if !crate::kernel::is_link_local(&addr) {
        return Some(Gateway { addr: IpAddr::V6(addr), scope: None });
    }
    let embedded = u32::from(u16::from_be_bytes([o[2], o[3]]));
    o[2] = 0;
    o[3] = 0;
    let scope = if scope_id != 0 { scope_id } else { embedded };
    Some(Gateway { addr: IpAddr::V6(Ipv6Addr::from(o)), scope: (scope != 0).then_some(scope) })
}

/// A message about the route to the network `dst`: RTM_ADD with `gateway`, RTM_DELETE, or
/// RTM_GET (no gateway). The destination goes with its netmask, always (a /32 or /128 too,
/// rather than RTF_HOST): with one, RTM_GET looks up that exact prefix (rtsock.c
/// handle_rtm_get), without one it would answer the longest match. The host bits of `dst`
/// are cleared, as route(8) clears them.
pub fn route_msg(kind: u8, dst: Cidr, gateway: Option<Gateway>, pid: i32, seq: i32) -> Vec<u8> {
    let net = dst.network();
    let any = net.addr;
    let mask = match net.addr {
        IpAddr::V6(_) => sockaddr_in6(mask6(net.prefixlen), 0).to_vec(),
        IpAddr::V4(_) => sockaddr_in(mask4(net.prefixlen)).to_vec(),
    };
    let mut addrs = RTA_DST | RTA_NETMASK;
    let mut flags = RTF_UP | RTF_STATIC;
    if gateway.is_some() {
        addrs |= RTA_GATEWAY;
        flags |= RTF_GATEWAY;
    }
    let mut m = vec![0u8; RT_MSGHDR];
    m[2] = RTM_VERSION;
    m[3] = kind;
    m[8..12].copy_from_slice(&flags.to_ne_bytes());
    m[12..16].copy_from_slice(&addrs.to_ne_bytes());
    m[16..20].copy_from_slice(&pid.to_ne_bytes());
    m[20..24].copy_from_slice(&seq.to_ne_bytes());
    push_sa(&mut m, &sa_of(any));
    if let Some(g) = gateway {
        push_sa(&mut m, &sa_of_gateway(g));
    }
    push_sa(&mut m, &mask);
    let len = m.len() as u16;
    m[0..2].copy_from_slice(&len.to_ne_bytes());
    m
}

/// What a reply says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtReply {
    /// rtm_type
    pub kind: u8,
    /// rtm_pid
    pub pid: i32,
    /// rtm_seq
    pub seq: i32,
    /// rtm_errno
    pub errno: i32,
    /// the RTA_GATEWAY sockaddr, if it is an IPv4 or IPv6 one
    pub gateway: Option<Gateway>,
}

fn i32_at(b: &[u8], off: usize) -> Option<i32> {
    b.get(off..off + 4).map(|x| i32::from_ne_bytes(x.try_into().expect("4 bytes")))
}

/// Decode a routing message; None if it is not a well-formed `rt_msghdr` message.
pub fn parse_reply(b: &[u8]) -> Option<RtReply> {
    let len = u16::from_ne_bytes(b.get(0..2)?.try_into().ok()?) as usize;
    if len < RT_MSGHDR || len > b.len() || b[2] != RTM_VERSION {
        return None;
    }
    let addrs = i32_at(b, 12)?;
    let mut off = RT_MSGHDR;
    let mut gateway = None;
    for bit in 0..8 {
        if addrs & (1 << bit) == 0 {
            continue;
        }
        let sa = b.get(off..len)?;
        let sa_len = *sa.first()? as usize;
        if 1 << bit == RTA_GATEWAY {
            gateway = match (sa.get(1).copied(), sa_len) {
                (Some(AF_INET), 16) => {
                    let o: [u8; 4] = sa.get(4..8)?.try_into().ok()?;
                    Some(Gateway { addr: IpAddr::V4(Ipv4Addr::from(o)), scope: None })
                }
                (Some(AF_INET6), 28) => Some(gateway_of_sin6(sa)?),
                _ => None,
            };
        }
        off += sa_size(sa_len);
    }
    Some(RtReply { kind: b[3], pid: i32_at(b, 16)?, seq: i32_at(b, 20)?, errno: i32_at(b, 24)?, gateway })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gw(s: &str) -> Gateway {
        Gateway::global(s.parse().unwrap()).unwrap()
    }

    #[test]
    fn a_link_local_gateway_carries_its_zone_inside_the_address() {
        // route add -inet6 default fe80::1%vnet0, vnet0 being ifindex 5
        let g = Gateway::new("fe80::1".parse().unwrap(), Some(5)).unwrap();
        let m = route_msg(RTM_ADD, Cidr::default_dst(true), Some(g), 1, 2);
        assert_eq!(m.len(), 152 + 3 * 32);
        let sa = &m[184..212];
        assert_eq!((sa[0], sa[1]), (28, 28), "sin6_len, AF_INET6");
        assert_eq!(
            &sa[8..24],
            &[0xfe, 0x80, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            "fe80:5::1, as route(8) sends it"
        );
        assert_eq!(&sa[24..28], &[0; 4], "sin6_scope_id 0");
        // The kernel answers with the zone recovered into sin6_scope_id; the embedded
        // form is read as well.
        assert_eq!(parse_reply(&m).unwrap().gateway, Some(g));
        let mut recovered = m.clone();
        recovered[184 + 10..184 + 12].copy_from_slice(&[0, 0]);
        recovered[184 + 24..184 + 28].copy_from_slice(&5u32.to_ne_bytes());
        assert_eq!(parse_reply(&recovered).unwrap().gateway, Some(g));
    }

    #[test]
    fn rtm_add_of_an_ipv4_default_route() {
        let m = route_msg(RTM_ADD, Cidr::default_dst(false), Some(gw("192.0.2.1")), 77, 3);
        // header, then three 16-byte sockaddr_in: dst, gateway, netmask
        assert_eq!(m.len(), 152 + 3 * 16);
        assert_eq!(u16::from_ne_bytes([m[0], m[1]]), 200);
        assert_eq!((m[2], m[3]), (5, 1));
        assert_eq!(i32::from_ne_bytes(m[8..12].try_into().unwrap()), 0x803, "UP | GATEWAY | STATIC");
        assert_eq!(i32::from_ne_bytes(m[12..16].try_into().unwrap()), 0x7, "DST | GATEWAY | NETMASK");
        assert_eq!(i32::from_ne_bytes(m[16..20].try_into().unwrap()), 77);
        assert_eq!(i32::from_ne_bytes(m[20..24].try_into().unwrap()), 3);
        assert!(m[24..152].iter().all(|&b| b == 0), "errno, fmask, inits and metrics zero");
        assert_eq!(&m[152..160], &[16, 2, 0, 0, 0, 0, 0, 0], "dst 0.0.0.0");
        assert_eq!(&m[168..176], &[16, 2, 0, 0, 192, 0, 2, 1], "gateway");
        assert_eq!(&m[184..192], &[16, 2, 0, 0, 0, 0, 0, 0], "netmask 0");
    }

    #[test]
    fn rtm_get_of_the_ipv6_default_route() {
        let m = route_msg(RTM_GET, Cidr::default_dst(true), None, 1, 9);
        // sockaddr_in6 is 28 bytes, padded to 32: dst and netmask
        assert_eq!(m.len(), 152 + 2 * 32);
        assert_eq!(m[3], RTM_GET);
        assert_eq!(i32::from_ne_bytes(m[12..16].try_into().unwrap()), 0x5);
        assert_eq!((m[152], m[153]), (28, 28));
        assert_eq!((m[184], m[185]), (28, 28));
        assert!(m[180..184].iter().all(|&b| b == 0), "padding");
    }

    #[test]
    fn rtm_add_of_a_route_to_a_network() {
        // route add -inet 192.0.2.0/24 10.8.0.1, given with its host bits set
        let dst = Cidr { addr: "192.0.2.77".parse().unwrap(), prefixlen: 24 };
        let m = route_msg(RTM_ADD, dst, Some(gw("10.8.0.1")), 4, 2);
        assert_eq!(m.len(), 152 + 3 * 16);
        assert_eq!(i32::from_ne_bytes(m[8..12].try_into().unwrap()), 0x803, "UP | GATEWAY | STATIC, not HOST");
        assert_eq!(&m[152..160], &[16, 2, 0, 0, 192, 0, 2, 0], "dst, host bits cleared");
        assert_eq!(&m[168..176], &[16, 2, 0, 0, 10, 8, 0, 1], "gateway");
        assert_eq!(&m[184..192], &[16, 2, 0, 0, 255, 255, 255, 0], "netmask /24");
        // an IPv6 /128 still goes with its all-ones netmask
        let dst = Cidr { addr: "2001:db8::9".parse().unwrap(), prefixlen: 128 };
        let m = route_msg(RTM_GET, dst, None, 4, 3);
        assert_eq!(m.len(), 152 + 2 * 32);
        assert_eq!(&m[160..176], &"2001:db8::9".parse::<Ipv6Addr>().unwrap().octets(), "dst");
        assert_eq!(&m[192..208], &[0xff; 16], "netmask /128");
    }

    #[test]
    fn replies_are_parsed_and_bad_ones_refused() {
        let mut m = route_msg(RTM_GET, Cidr::default_dst(false), Some(gw("10.8.0.1")), 5, 6);
        m[24..28].copy_from_slice(&0i32.to_ne_bytes());
        let r = parse_reply(&m).unwrap();
        assert_eq!((r.kind, r.pid, r.seq, r.errno), (RTM_GET, 5, 6, 0));
        assert_eq!(r.gateway, Some(gw("10.8.0.1")));
        let m6 = route_msg(RTM_ADD, Cidr::default_dst(true), Some(gw("2001:db8::1")), 5, 7);
        assert_eq!(parse_reply(&m6).unwrap().gateway, Some(gw("2001:db8::1")));
        assert_eq!(parse_reply(&m[..100]), None);
        let mut bad = m.clone();
        bad[2] = 4;
        assert_eq!(parse_reply(&bad), None, "another RTM_VERSION");
        // Random bytes never panic.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut b = m.clone();
            let k = (seed % b.len() as u64) as usize;
            b[k] = (seed >> 32) as u8;
            b.truncate(((seed >> 40) as usize % (b.len() + 1)).max(1));
            let _ = parse_reply(&b);
        }
    }
}
