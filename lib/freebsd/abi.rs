//! Byte encodings of every FreeBSD kernel request jnet sends, as pure functions.
//!
//! Each request is a byte array of the C struct's exact size, filled field by field at the
//! offsets of the LP64 layout (amd64 and arm64 agree; `../shared/freebsd-abi.md` §2, §12).
//! Building them from bytes rather than `#[repr(C)]` structs means the layout is written
//! down once, here, and checked byte for byte by the tests below on any platform.
//! Integers are native-endian: both targets are little-endian.
//! Pointers embedded in a request are passed in as `usize` so the encoders stay pure.

use crate::mac::Mac;
use std::net::{Ipv4Addr, Ipv6Addr};

/// `sys/net/if.h`: IFNAMSIZ, NUL included.
pub const IFNAMSIZ: usize = 16;

// --- ioctl numbers: `sys/sys/ioccom.h` ---------------------------------------------------

const IOCPARM_MASK: u64 = 0x1fff;
const IOC_VOID: u64 = 0x2000_0000;
const IOC_OUT: u64 = 0x4000_0000;
const IOC_IN: u64 = 0x8000_0000;

const fn ioc(inout: u64, group: u8, num: u8, len: usize) -> u64 {
    inout | (((len as u64) & IOCPARM_MASK) << 16) | ((group as u64) << 8) | num as u64
}
/// `_IOW(g, n, t)`
pub const fn iow(group: u8, num: u8, len: usize) -> u64 {
    ioc(IOC_IN, group, num, len)
}
/// `_IOR(g, n, t)`
pub const fn ior(group: u8, num: u8, len: usize) -> u64 {
    ioc(IOC_OUT, group, num, len)
}
/// `_IOWR(g, n, t)`
pub const fn iowr(group: u8, num: u8, len: usize) -> u64 {
    ioc(IOC_IN | IOC_OUT, group, num, len)
}
/// `_IO(g, n)`
pub const fn io(group: u8, num: u8) -> u64 {
    ioc(IOC_VOID, group, num, 0)
}

/// Struct sizes (LP64).
pub mod size {
    /// struct ifreq, `sys/net/if.h`
    pub const IFREQ: usize = 32;
    /// struct ifaliasreq, `sys/net/if.h`
    pub const IFALIASREQ: usize = 68;
    /// struct ifdrv, `sys/net/if.h`
    pub const IFDRV: usize = 40;
    /// struct ifgroupreq, `sys/net/if.h`
    pub const IFGROUPREQ: usize = 40;
    /// struct ifg_req, `sys/net/if.h`
    pub const IFG_REQ: usize = 16;
    /// struct in6_ifreq, `sys/netinet6/in6_var.h`
    pub const IN6_IFREQ: usize = 288;
    /// struct in6_aliasreq, `sys/netinet6/in6_var.h`
    pub const IN6_ALIASREQ: usize = 136;
    /// struct nd_ifinfo, `sys/netinet6/nd6.h`
    pub const ND_IFINFO: usize = 56;
    /// struct in6_ndireq, `sys/netinet6/nd6.h`
    pub const IN6_NDIREQ: usize = 72;
    /// struct ifbreq, `sys/net/if_bridgevar.h`
    pub const IFBREQ: usize = 80;
    /// struct ifbifconf, `sys/net/if_bridgevar.h`
    pub const IFBIFCONF: usize = 16;
    /// struct sockaddr_in, `sys/netinet/in.h`
    pub const SOCKADDR_IN: usize = 16;
    /// struct sockaddr_in6, `sys/netinet6/in6.h`
    pub const SOCKADDR_IN6: usize = 28;
    /// struct lagg_reqall, `sys/net/if_lagg.h`
    pub const LAGG_REQALL: usize = 80;
    /// struct lagg_reqport, `sys/net/if_lagg.h`
    pub const LAGG_REQPORT: usize = 72;
}

// `sys/sys/sockio.h` (and `sys/netinet6/in6_var.h`, `nd6.h` where noted).
/// SIOCGIFINDEX: _IOWR('i', 32, struct ifreq) (`sys/sys/sockio.h`), what if_nametoindex(3)
/// asks; the answer is ifr_index (u_short) @16.
pub const SIOCGIFINDEX: u64 = iowr(b'i', 32, size::IFREQ);
/// SIOCGIFCAP: _IOWR('i', 31, struct ifreq) (`sys/sys/sockio.h`); the answer is ifr_reqcap
/// (int) @16 and ifr_curcap (int, the enabled ones) @20 (`sys/net/if.h` ifru_cap[2]).
pub const SIOCGIFCAP: u64 = iowr(b'i', 31, size::IFREQ);
/// SIOCSIFCAP: _IOW('i', 30, struct ifreq) (`sys/sys/sockio.h`), ifr_reqcap @16.
pub const SIOCSIFCAP: u64 = iow(b'i', 30, size::IFREQ);
/// SIOCGETVLAN: SIOCGIFGENERIC (`net/if_vlan_var.h`), _IOWR('i', 58, struct ifreq)
/// (`sys/sys/sockio.h`); ifr_data points at a struct vlanreq (`VlanReq`).
pub const SIOCGETVLAN: u64 = iowr(b'i', 58, size::IFREQ);
/// SIOCSIFFLAGS
pub const SIOCSIFFLAGS: u64 = iow(b'i', 16, size::IFREQ);
/// SIOCGIFFLAGS
pub const SIOCGIFFLAGS: u64 = iowr(b'i', 17, size::IFREQ);
/// SIOCDIFADDR (IPv4, AF_INET socket)
pub const SIOCDIFADDR: u64 = iow(b'i', 25, size::IFREQ);
/// SIOCSIFNAME: ifr_data points at the new name
pub const SIOCSIFNAME: u64 = iow(b'i', 40, size::IFREQ);
/// SIOCSIFDESCR
pub const SIOCSIFDESCR: u64 = iow(b'i', 41, size::IFREQ);
/// SIOCGIFDESCR
pub const SIOCGIFDESCR: u64 = iowr(b'i', 42, size::IFREQ);
/// SIOCAIFADDR with the 68-byte ifaliasreq (not Go's legacy 0x8040691a)
pub const SIOCAIFADDR: u64 = iow(b'i', 43, size::IFALIASREQ);
/// SIOCGIFMTU
pub const SIOCGIFMTU: u64 = iowr(b'i', 51, size::IFREQ);
/// SIOCSIFMTU
pub const SIOCSIFMTU: u64 = iow(b'i', 52, size::IFREQ);
/// SIOCSIFLLADDR
pub const SIOCSIFLLADDR: u64 = iow(b'i', 60, size::IFREQ);
/// SIOCSIFVNET: move to a jail
pub const SIOCSIFVNET: u64 = iowr(b'i', 90, size::IFREQ);
/// SIOCSIFRVNET: reclaim from a jail
pub const SIOCSIFRVNET: u64 = iowr(b'i', 91, size::IFREQ);
/// SIOCIFDESTROY
pub const SIOCIFDESTROY: u64 = iow(b'i', 121, size::IFREQ);
/// SIOCIFCREATE2
pub const SIOCIFCREATE2: u64 = iowr(b'i', 124, size::IFREQ);
/// SIOCSDRVSPEC (bridge set commands)
pub const SIOCSDRVSPEC: u64 = iow(b'i', 123, size::IFDRV);
/// SIOCGDRVSPEC (bridge get commands)
pub const SIOCGDRVSPEC: u64 = iowr(b'i', 123, size::IFDRV);
/// SIOCAIFGROUP
pub const SIOCAIFGROUP: u64 = iow(b'i', 135, size::IFGROUPREQ);
/// SIOCGIFGROUP
pub const SIOCGIFGROUP: u64 = iowr(b'i', 136, size::IFGROUPREQ);
/// SIOCDIFGROUP
pub const SIOCDIFGROUP: u64 = iow(b'i', 137, size::IFGROUPREQ);
/// SIOCDIFADDR_IN6 (`in6_var.h`)
pub const SIOCDIFADDR_IN6: u64 = iow(b'i', 25, size::IN6_IFREQ);
/// SIOCAIFADDR_IN6 (`in6_var.h`)
pub const SIOCAIFADDR_IN6: u64 = iow(b'i', 27, size::IN6_ALIASREQ);
/// SIOCGIFAFLAG_IN6 (`in6_var.h`)
pub const SIOCGIFAFLAG_IN6: u64 = iowr(b'i', 73, size::IN6_IFREQ);
/// SIOCGIFINFO_IN6 (`nd6.h`)
pub const SIOCGIFINFO_IN6: u64 = iowr(b'i', 108, size::IN6_NDIREQ);
/// SIOCSIFINFO_IN6 (`nd6.h`)
pub const SIOCSIFINFO_IN6: u64 = iowr(b'i', 109, size::IN6_NDIREQ);

/// `sys/sys/socket.h`
pub const AF_INET: u8 = 2;
/// `sys/sys/socket.h`
pub const AF_LINK: u8 = 18;
/// `sys/sys/socket.h`
pub const AF_INET6: u8 = 28;

/// if_bridge commands, `sys/net/if_bridgevar.h`
pub const BRDGADD: u64 = 0;
/// BRDGDEL
pub const BRDGDEL: u64 = 1;
/// BRDGGIFS
pub const BRDGGIFS: u64 = 6;

/// `sys/netinet6/nd6.h`
pub const ND6_INFINITE_LIFETIME: u32 = 0xffff_ffff;

// --- field helpers ------------------------------------------------------------------------

fn put(buf: &mut [u8], off: usize, bytes: &[u8]) {
    buf[off..off + bytes.len()].copy_from_slice(bytes);
}
fn put_u16(buf: &mut [u8], off: usize, v: u16) {
    put(buf, off, &v.to_ne_bytes());
}
fn put_u32(buf: &mut [u8], off: usize, v: u32) {
    put(buf, off, &v.to_ne_bytes());
}
fn put_u64(buf: &mut [u8], off: usize, v: u64) {
    put(buf, off, &v.to_ne_bytes());
}
fn get_u32(buf: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(buf[off..off + 4].try_into().expect("4 bytes"))
}
fn get_u64(buf: &[u8], off: usize) -> u64 {
    u64::from_ne_bytes(buf[off..off + 8].try_into().expect("8 bytes"))
}
fn get_i32(buf: &[u8], off: usize) -> i32 {
    get_u32(buf, off) as i32
}

/// A name in a fixed `char[n]` field: at most n-1 bytes, NUL-terminated.
/// Callers validate lengths first; an over-long name is cut so the request stays valid.
fn put_name(buf: &mut [u8], off: usize, field: usize, name: &str) {
    let b = name.as_bytes();
    let n = b.len().min(field - 1);
    put(buf, off, &b[..n]);
    buf[off + n] = 0;
}

/// Read a NUL-terminated string from a fixed field.
pub fn get_name(buf: &[u8], off: usize, field: usize) -> String {
    let f = &buf[off..off + field];
    let end = f.iter().position(|&c| c == 0).unwrap_or(field);
    String::from_utf8_lossy(&f[..end]).into_owned()
}

/// struct sockaddr_in (16): sin_len, sin_family, sin_port, sin_addr @4.
pub fn sockaddr_in(addr: Ipv4Addr) -> [u8; size::SOCKADDR_IN] {
    let mut b = [0u8; size::SOCKADDR_IN];
    b[0] = size::SOCKADDR_IN as u8;
    b[1] = AF_INET;
    put(&mut b, 4, &addr.octets());
    b
}

/// struct sockaddr_in6 (28): len @0, family @1, port @2, flowinfo @4, addr @8, scope_id @24.
pub fn sockaddr_in6(addr: Ipv6Addr, scope_id: u32) -> [u8; size::SOCKADDR_IN6] {
    let mut b = [0u8; size::SOCKADDR_IN6];
    b[0] = size::SOCKADDR_IN6 as u8;
    b[1] = AF_INET6;
    put(&mut b, 8, &addr.octets());
    put_u32(&mut b, 24, scope_id);
    b
}

/// The netmask for a prefix length, as an IPv4 address.
pub fn mask4(prefixlen: u8) -> Ipv4Addr {
    let bits = if prefixlen == 0 { 0 } else { u32::MAX << (32 - u32::from(prefixlen.min(32))) };
    Ipv4Addr::from(bits)
}

/// The netmask for a prefix length, as an IPv6 address.
pub fn mask6(prefixlen: u8) -> Ipv6Addr {
    let bits = if prefixlen == 0 { 0 } else { u128::MAX << (128 - u32::from(prefixlen.min(128))) };
    Ipv6Addr::from(bits)
}

/// Prefix length of a contiguous netmask given as bytes (from getifaddrs).
pub fn prefixlen(mask: &[u8]) -> u8 {
    mask.iter().map(|b| b.count_ones() as u8).sum()
}

// --- struct ifreq (32): ifr_name[16] @0, union ifr_ifru @16 ------------------------------

/// Where the pointers the kernel follows sit in the request structs (the syscall seam writes
/// each buffer's address there): ifr_data @16 (SIOCSIFNAME), ifr_buffer.buffer @24
/// (SIOCxIFDESCR), ifgr_groups @24, ifd_data @32, ifbic_buf @8 of struct ifbifconf,
/// ra_port @32 of struct lagg_reqall.
pub const IFR_DATA: usize = 16;
/// ifr_buffer.buffer (see `IFR_DATA`).
pub const IFR_BUFFER: usize = 24;
/// ifgr_groups (see `IFR_DATA`).
pub const IFGR_GROUPS: usize = 24;
/// ifd_data (see `IFR_DATA`).
pub const IFDRV_DATA: usize = 32;
/// ifbic_buf (see `IFR_DATA`).
pub const IFBIC_BUF: usize = 8;
/// ra_port (see `IFR_DATA`).
pub const RA_PORT: usize = 32;

/// A 32-byte `struct ifreq`, 8-aligned like the C union's pointer members.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(8))]
pub struct IfReq(pub [u8; size::IFREQ]);

impl IfReq {
    /// An ifreq with only ifr_name set (SIOCIFDESTROY, SIOCGIFFLAGS, SIOCGIFMTU, SIOCIFCREATE2
    /// with ifr_data = NULL).
    pub fn name(name: &str) -> IfReq {
        let mut b = [0u8; size::IFREQ];
        put_name(&mut b, 0, IFNAMSIZ, name);
        IfReq(b)
    }
    /// SIOCSIFFLAGS: ifr_flags (low 16 bits) @16, ifr_flagshigh @18.
    pub fn flags(name: &str, flags: u32) -> IfReq {
        let mut r = IfReq::name(name);
        put_u16(&mut r.0, 16, (flags & 0xffff) as u16);
        put_u16(&mut r.0, 18, (flags >> 16) as u16);
        r
    }
    /// The flags of a SIOCGIFFLAGS answer.
    pub fn get_flags(&self) -> u32 {
        let lo = u16::from_ne_bytes([self.0[16], self.0[17]]) as u32;
        let hi = u16::from_ne_bytes([self.0[18], self.0[19]]) as u32;
        lo | (hi << 16)
    }
    /// SIOCSIFMTU: ifr_mtu (int) @16.
    pub fn mtu(name: &str, mtu: u32) -> IfReq {
        let mut r = IfReq::name(name);
        put_u32(&mut r.0, 16, mtu);
        r
    }
    /// ifr_mtu of a SIOCGIFMTU answer.
    pub fn get_mtu(&self) -> u32 {
        get_u32(&self.0, 16)
    }
    /// SIOCSIFVNET / SIOCSIFRVNET: ifr_jid (int) @16.
    pub fn jid(name: &str, jid: i32) -> IfReq {
        let mut r = IfReq::name(name);
        put_u32(&mut r.0, 16, jid as u32);
        r
    }
    /// SIOCSIFNAME: ifr_data (pointer to the new NUL-terminated name, char[IFNAMSIZ]) @16.
    pub fn data(name: &str, ptr: usize) -> IfReq {
        let mut r = IfReq::name(name);
        put_u64(&mut r.0, 16, ptr as u64);
        r
    }
    /// SIOCSIFDESCR / SIOCGIFDESCR: ifr_buffer {size_t length @16; void *buffer @24}.
    /// `length` counts the NUL; 0 with NULL clears the description.
    pub fn buffer(name: &str, length: usize, ptr: usize) -> IfReq {
        let mut r = IfReq::name(name);
        put_u64(&mut r.0, 16, length as u64);
        put_u64(&mut r.0, 24, ptr as u64);
        r
    }
    /// ifr_buffer of an answer: (length, buffer pointer). SIOCGIFDESCR sets the pointer to
    /// NULL and returns 0 when the buffer was too small; length is then the size needed.
    pub fn get_buffer(&self) -> (usize, usize) {
        (get_u64(&self.0, 16) as usize, get_u64(&self.0, 24) as usize)
    }
    /// SIOCSIFLLADDR: ifr_addr = {sa_len 6, sa_family AF_LINK, sa_data = MAC} @16.
    pub fn lladdr(name: &str, mac: Mac) -> IfReq {
        let mut r = IfReq::name(name);
        r.0[16] = 6;
        r.0[17] = AF_LINK;
        put(&mut r.0, 18, &mac.0);
        r
    }
    /// SIOCDIFADDR: ifr_addr = sockaddr_in @16.
    pub fn addr4(name: &str, addr: Ipv4Addr) -> IfReq {
        let mut r = IfReq::name(name);
        put(&mut r.0, 16, &sockaddr_in(addr));
        r
    }
    /// SIOCSIFCAP: ifr_reqcap (int) @16, the capabilities wanted enabled.
    pub fn reqcap(name: &str, caps: u32) -> IfReq {
        let mut r = IfReq::name(name);
        put_u32(&mut r.0, 16, caps);
        r
    }
    /// ifr_curcap of a SIOCGIFCAP answer.
    pub fn get_curcap(&self) -> u32 {
        get_u32(&self.0, 20)
    }
    /// ifr_index of a SIOCGIFINDEX answer.
    pub fn get_index(&self) -> u32 {
        u16::from_ne_bytes([self.0[16], self.0[17]]) as u32
    }
    /// ifr_name of an answer (SIOCIFCREATE2, SIOCSIFVNET write the name back).
    pub fn get_name(&self) -> String {
        get_name(&self.0, 0, IFNAMSIZ)
    }
}

/// The sysctl MIB of an interface's driver name and unit (`igb2`, `epair7`, `ngeth3`), which
/// no rename changes: net.link.generic.ifdata.<ifindex>.drivername, i.e. {CTL_NET
/// (`sys/sys/sysctl.h`), PF_LINK (= AF_LINK 18, `sys/sys/socket.h`), NETLINK_GENERIC 0,
/// IFMIB_IFDATA 2, ifindex, IFDATA_DRIVERNAME 3} (`sys/net/if_mib.h`; answered by
/// `sysctl_ifdata` in `sys/net/if_mib.c` as `if_dname` + `if_dunit`, NUL-terminated). Both
/// ends of an epair carry the same one: `if_epair.c` `epair_setup_ifp` gives each the pair's
/// unit.
pub fn ifdata_drivername_mib(ifindex: u32) -> [i32; 6] {
    const CTL_NET: i32 = 4;
    const PF_LINK: i32 = 18;
    const NETLINK_GENERIC: i32 = 0;
    const IFMIB_IFDATA: i32 = 2;
    const IFDATA_DRIVERNAME: i32 = 3;
    [CTL_NET, PF_LINK, NETLINK_GENERIC, IFMIB_IFDATA, ifindex as i32, IFDATA_DRIVERNAME]
}

/// `ifi_mtu` of a `struct if_data` (`sys/net/if.h`: six uint8_t, uint16_t ifi_datalen, then
/// uint32_t ifi_mtu @8), as getifaddrs(3) hands it out in `ifa_data` of an AF_LINK entry.
pub fn if_data_mtu(b: &[u8]) -> Option<u32> {
    b.get(8..12).map(|m| u32::from_ne_bytes(m.try_into().expect("4 bytes")))
}

/// `ifi_epoch` of a `struct if_data` (`sys/net/if.h`): after the eight bytes of uint8_t and
/// ifi_datalen, ifi_mtu and ifi_metric (u32 @8, @12), ifi_baudrate and twelve counters and
/// ifi_hwassist (u64 @16 to @128), the union `__ifi_epoch` (time_t or uint64_t, 8 bytes
/// everywhere, "to make sizes MI") @128; the uptime at attach (if.c if_attach_internal).
pub fn if_data_epoch(b: &[u8]) -> Option<u64> {
    b.get(128..136).map(|m| u64::from_ne_bytes(m.try_into().expect("8 bytes")))
}

/// SIOCGLAGG (`sys/net/if_lagg.h`): _IOWR('i', 143, struct lagg_reqall)
pub const SIOCGLAGG: u64 = iowr(b'i', 143, size::LAGG_REQALL);

/// lagg protocols (`sys/net/if_lagg.h`).
pub mod lagg {
    /// LAGG_PROTO_NONE
    pub const NONE: u32 = 0;
    /// LAGG_PROTO_ROUNDROBIN
    pub const ROUNDROBIN: u32 = 1;
    /// LAGG_PROTO_FAILOVER
    pub const FAILOVER: u32 = 2;
    /// LAGG_PROTO_LOADBALANCE
    pub const LOADBALANCE: u32 = 3;
    /// LAGG_PROTO_LACP
    pub const LACP: u32 = 4;
    /// LAGG_PROTO_BROADCAST ("broadcast"; the old "fec"/ETHERCHANNEL is gone since
    /// FreeBSD 11, `sys/net/if_lagg.h`)
    pub const BROADCAST: u32 = 5;
    /// ifconfig's word for a protocol.
    pub fn name(p: u32) -> &'static str {
        match p {
            NONE => "none",
            ROUNDROBIN => "roundrobin",
            FAILOVER => "failover",
            LOADBALANCE => "loadbalance",
            LACP => "lacp",
            BROADCAST => "broadcast",
            _ => "unknown",
        }
    }
    /// The protocol for ifconfig's word.
    pub fn parse(s: &str) -> Option<u32> {
        (0..=5).find(|p| name(*p) == s)
    }
}

/// struct lagg_reqall (80, `sys/net/if_lagg.h`): ra_ifname[16] @0, u_int ra_proto @16,
/// size_t ra_size @24, struct lagg_reqport *ra_port @32, int ra_ports @40, union ra_psc
/// (struct lacp_opreq, 32 bytes, align 2) @44, padded to 80.
pub fn lagg_reqall(name: &str, size: usize, ports: usize) -> [u8; size::LAGG_REQALL] {
    let mut b = [0u8; size::LAGG_REQALL];
    put_name(&mut b, 0, IFNAMSIZ, name);
    put_u64(&mut b, 24, size as u64);
    put_u64(&mut b, 32, ports as u64);
    b
}

/// ra_proto and ra_ports of a SIOCGLAGG answer.
pub fn lagg_reqall_answer(b: &[u8]) -> (u32, usize) {
    (get_u32(b, 16), get_u32(b, 40) as usize)
}

/// Port names from the struct lagg_reqport array (72 bytes each: rp_ifname @0,
/// rp_portname @16, rp_prio @32, rp_flags @36, rp_psc @40).
pub fn parse_lagg_ports(buf: &[u8], count: usize) -> Vec<String> {
    buf.chunks_exact(size::LAGG_REQPORT).take(count).map(|c| get_name(c, 16, IFNAMSIZ)).collect()
}

/// The new-name buffer SIOCSIFNAME's ifr_data points at (copyinstr of IFNAMSIZ bytes).
pub fn ifname_buf(name: &str) -> [u8; IFNAMSIZ] {
    let mut b = [0u8; IFNAMSIZ];
    put_name(&mut b, 0, IFNAMSIZ, name);
    b
}

/// struct ifaliasreq (68, SIOCAIFADDR): ifra_name @0, ifra_addr @16, ifra_broadaddr @32,
/// ifra_mask @48, ifra_vhid @64. The broadcast address is left empty (sin_len 0) so the
/// kernel derives it.
pub fn ifaliasreq(name: &str, addr: Ipv4Addr, prefixlen: u8) -> [u8; size::IFALIASREQ] {
    let mut b = [0u8; size::IFALIASREQ];
    put_name(&mut b, 0, IFNAMSIZ, name);
    put(&mut b, 16, &sockaddr_in(addr));
    put(&mut b, 48, &sockaddr_in(mask4(prefixlen)));
    b
}

/// struct in6_aliasreq (136, SIOCAIFADDR_IN6): ifra_name @0, ifra_addr @16, ifra_dstaddr @44
/// (zero: not point-to-point), ifra_prefixmask @72, ifra_flags @100, ifra_lifetime @104
/// {expire @104, preferred @112, vltime @120, pltime @124}, ifra_vhid @128.
/// Both lifetimes are infinite: vltime 0 makes the kernel silently add nothing.
pub fn in6_aliasreq(name: &str, addr: Ipv6Addr, prefixlen: u8, flags: u32) -> [u8; size::IN6_ALIASREQ] {
    let mut b = [0u8; size::IN6_ALIASREQ];
    put_name(&mut b, 0, IFNAMSIZ, name);
    put(&mut b, 16, &sockaddr_in6(addr, 0));
    put(&mut b, 72, &sockaddr_in6(mask6(prefixlen), 0));
    put_u32(&mut b, 100, flags);
    put_u32(&mut b, 120, ND6_INFINITE_LIFETIME);
    put_u32(&mut b, 124, ND6_INFINITE_LIFETIME);
    b
}

/// A 288-byte `struct in6_ifreq`, 8-aligned.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
pub struct In6IfReq(pub [u8; size::IN6_IFREQ]);

impl In6IfReq {
    /// SIOCGIFAFLAG_IN6 / SIOCDIFADDR_IN6: ifr_name @0, ifr_addr sockaddr_in6 @16. A
    /// link-local address may leave scope_id 0: the kernel scopes it to the named interface.
    pub fn addr(name: &str, addr: Ipv6Addr) -> In6IfReq {
        let mut b = [0u8; size::IN6_IFREQ];
        put_name(&mut b, 0, IFNAMSIZ, name);
        put(&mut b, 16, &sockaddr_in6(addr, 0));
        In6IfReq(b)
    }
    /// ifru_flags6 (int @16) of a SIOCGIFAFLAG_IN6 answer.
    pub fn get_flags6(&self) -> u32 {
        get_u32(&self.0, 16)
    }
}

/// struct nd_ifinfo (`sys/netinet6/nd6.h`), decoded whole so SIOCSIFINFO_IN6 can write back
/// exactly what SIOCGIFINFO_IN6 returned (it applies any non-zero field it is given).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NdIfInfo {
    /// linkmtu @0
    pub linkmtu: u32,
    /// maxmtu @4
    pub maxmtu: u32,
    /// basereachable @8
    pub basereachable: u32,
    /// reachable @12
    pub reachable: u32,
    /// retrans @16 (ms)
    pub retrans: u32,
    /// flags @20 (ND6_IFF_*)
    pub flags: u32,
    /// recalctm @24
    pub recalctm: i32,
    /// chlim @28
    pub chlim: u8,
    /// initialized @29
    pub initialized: u8,
    /// randomseed0 @30, randomseed1 @38, randomid @46 (24 bytes, opaque), padding to 56
    #[serde(with = "hex26")]
    pub opaque: [u8; 26],
}

impl NdIfInfo {
    /// Decode the 56 bytes of a struct nd_ifinfo.
    pub fn decode(b: &[u8]) -> NdIfInfo {
        let mut opaque = [0u8; 26];
        opaque.copy_from_slice(&b[30..56]);
        NdIfInfo {
            linkmtu: get_u32(b, 0),
            maxmtu: get_u32(b, 4),
            basereachable: get_u32(b, 8),
            reachable: get_u32(b, 12),
            retrans: get_u32(b, 16),
            flags: get_u32(b, 20),
            recalctm: get_i32(b, 24),
            chlim: b[28],
            initialized: b[29],
            opaque,
        }
    }
    /// Encode as the 56 bytes of a struct nd_ifinfo.
    pub fn encode(&self) -> [u8; size::ND_IFINFO] {
        let mut b = [0u8; size::ND_IFINFO];
        put_u32(&mut b, 0, self.linkmtu);
        put_u32(&mut b, 4, self.maxmtu);
        put_u32(&mut b, 8, self.basereachable);
        put_u32(&mut b, 12, self.reachable);
        put_u32(&mut b, 16, self.retrans);
        put_u32(&mut b, 20, self.flags);
        put_u32(&mut b, 24, self.recalctm as u32);
        b[28] = self.chlim;
        b[29] = self.initialized;
        put(&mut b, 30, &self.opaque);
        b
    }
}

/// The opaque tail of nd_ifinfo as a hex string in JSON (the simulated host's state).
mod hex26 {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(b: &[u8; 26], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&b.iter().map(|x| format!("{x:02x}")).collect::<String>())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 26], D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; 26];
        if s.len() != 52 {
            return Err(serde::de::Error::custom("nd_ifinfo tail: expected 52 hex digits"));
        }
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(serde::de::Error::custom)?;
        }
        Ok(out)
    }
}

/// A 72-byte `struct in6_ndireq`: ifname[16] @0, struct nd_ifinfo ndi @16.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
pub struct In6NdiReq(pub [u8; size::IN6_NDIREQ]);

impl In6NdiReq {
    /// SIOCGIFINFO_IN6 request (ndi zero) or SIOCSIFINFO_IN6 (ndi as read, modified).
    pub fn new(name: &str, ndi: Option<&NdIfInfo>) -> In6NdiReq {
        let mut b = [0u8; size::IN6_NDIREQ];
        put_name(&mut b, 0, IFNAMSIZ, name);
        if let Some(ndi) = ndi {
            put(&mut b, 16, &ndi.encode());
        }
        In6NdiReq(b)
    }
    /// The nd_ifinfo of an answer.
    pub fn ndi(&self) -> NdIfInfo {
        NdIfInfo::decode(&self.0[16..16 + size::ND_IFINFO])
    }
}

/// struct ifgroupreq (40): ifgr_name[16] @0, u_int ifgr_len @16, union @24
/// {char ifgru_group[16]; struct ifg_req *ifgru_groups}.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
pub struct IfGroupReq(pub [u8; size::IFGROUPREQ]);

impl IfGroupReq {
    /// SIOCAIFGROUP / SIOCDIFGROUP: ifgr_group = the group name.
    pub fn group(name: &str, group: &str) -> IfGroupReq {
        let mut b = [0u8; size::IFGROUPREQ];
        put_name(&mut b, 0, IFNAMSIZ, name);
        put_name(&mut b, 24, IFNAMSIZ, group);
        IfGroupReq(b)
    }
    /// SIOCGIFGROUP: ifgr_len = buffer bytes (0 asks for the size), ifgr_groups = buffer.
    pub fn list(name: &str, len: u32, ptr: usize) -> IfGroupReq {
        let mut b = [0u8; size::IFGROUPREQ];
        put_name(&mut b, 0, IFNAMSIZ, name);
        put_u32(&mut b, 16, len);
        put_u64(&mut b, 24, ptr as u64);
        IfGroupReq(b)
    }
    /// ifgr_len of an answer.
    pub fn get_len(&self) -> u32 {
        get_u32(&self.0, 16)
    }
}

/// Group names from a SIOCGIFGROUP buffer of struct ifg_req (16 bytes each).
pub fn parse_ifg_reqs(buf: &[u8]) -> Vec<String> {
    buf.chunks_exact(size::IFG_REQ).map(|c| get_name(c, 0, IFNAMSIZ)).filter(|s| !s.is_empty()).collect()
}

/// struct ifdrv (40): ifd_name[16] @0, u_long ifd_cmd @16, size_t ifd_len @24, void *ifd_data @32.
pub fn ifdrv(bridge: &str, cmd: u64, len: usize, data: usize) -> [u8; size::IFDRV] {
    let mut b = [0u8; size::IFDRV];
    put_name(&mut b, 0, IFNAMSIZ, bridge);
    put_u64(&mut b, 16, cmd);
    put_u64(&mut b, 24, len as u64);
    put_u64(&mut b, 32, data as u64);
    b
}

/// struct ifbreq (80): ifbr_ifsname[16] @0, then flags, STP and address-cache fields, all zero
/// for BRDGADD/BRDGDEL.
pub fn ifbreq(member: &str) -> [u8; size::IFBREQ] {
    let mut b = [0u8; size::IFBREQ];
    put_name(&mut b, 0, IFNAMSIZ, member);
    b
}

/// struct ifbifconf (16): u32 ifbic_len @0, (pad), caddr_t ifbic_buf @8.
pub fn ifbifconf(len: u32, buf: usize) -> [u8; size::IFBIFCONF] {
    let mut b = [0u8; size::IFBIFCONF];
    put_u32(&mut b, 0, len);
    put_u64(&mut b, 8, buf as u64);
    b
}

/// ifbic_len of a BRDGGIFS answer.
pub fn ifbifconf_len(b: &[u8]) -> u32 {
    get_u32(b, 0)
}

/// Member names from a BRDGGIFS buffer of struct ifbreq.
pub fn parse_ifbreqs(buf: &[u8]) -> Vec<String> {
    buf.chunks_exact(size::IFBREQ).map(|c| get_name(c, 0, IFNAMSIZ)).collect()
}

/// The link-level address in a struct sockaddr_dl (`sys/net/if_dl.h`): sdl_len @0,
/// sdl_family @1, sdl_index @2, sdl_type @4, sdl_nlen @5, sdl_alen @6, sdl_slen @7,
/// sdl_data @8 holding the name then the address (LLADDR = sdl_data + sdl_nlen).
pub fn sockaddr_dl_mac(b: &[u8]) -> Option<Mac> {
    if b.len() < 8 || b[1] != AF_LINK || b[6] != 6 {
        return None;
    }
    let start = 8 + b[5] as usize;
    let mac: [u8; 6] = b.get(start..start + 6)?.try_into().ok()?;
    Some(Mac(mac))
}

/// jail_get(2) parameters (`sys/kern/kern_jail.c`): name/value pairs, each name
/// NUL-terminated with its length counting the NUL; int values exactly 4 bytes.
pub mod jailparam {
    /// "jid" (int)
    pub const JID: &[u8] = b"jid\0";
    /// "lastjid" (int): iterate jails in jid order
    pub const LASTJID: &[u8] = b"lastjid\0";
    /// "name" (string, MAXHOSTNAMELEN 256)
    pub const NAME: &[u8] = b"name\0";
    /// "vnet" (jailsys int: 1 = new, 2 = inherit)
    pub const VNET: &[u8] = b"vnet\0";
    /// "dying" (bool as int)
    pub const DYING: &[u8] = b"dying\0";
    /// "errmsg" (string buffer the kernel fills)
    pub const ERRMSG: &[u8] = b"errmsg\0";
    /// "ip6.addr" (array of struct in6_addr)
    pub const IP6_ADDR: &[u8] = b"ip6.addr\0";
    /// MAXHOSTNAMELEN, the size of the name buffer
    pub const NAME_LEN: usize = 256;
    /// JAIL_DYING: also find dying jails (`sys/sys/jail.h`)
    pub const JAIL_DYING: i32 = 0x08;
    /// JAIL_SYS_NEW: the jail has its own vnet (`sys/sys/jail.h`)
    pub const JAIL_SYS_NEW: i32 = 1;
}

/// A jail_get(2) request and its answer buffers (`sys/kern/kern_jail.c` kern_jail_get).
///
/// Looked up by name the name is the key and the jid comes back; by jid (or `lastjid`, to
/// iterate) the name comes back. "vnet" (jailsys: 1 own vnet, 2 inherited) and "dying" are
/// ints of exactly 4 bytes; "errmsg" gets the kernel's message.
#[derive(Debug)]
pub struct JailGet {
    key_name: Option<Vec<u8>>,
    iterate: bool,
    /// jid (in for a jid lookup, out otherwise)
    pub jid: i32,
    /// "vnet" answer
    pub vnet: i32,
    /// "dying" answer
    pub dying: i32,
    /// "name" answer buffer
    pub name: [u8; jailparam::NAME_LEN],
    /// "errmsg" answer buffer
    pub errmsg: [u8; 256],
}

impl JailGet {
    /// Look up by name (the name must not contain NUL; callers validate names first).
    pub fn by_name(name: &str) -> JailGet {
        let mut key: Vec<u8> = name.bytes().filter(|&b| b != 0).collect();
        key.push(0);
        JailGet {
            key_name: Some(key),
            iterate: false,
            jid: 0,
            vnet: 0,
            dying: 0,
            name: [0; jailparam::NAME_LEN],
            errmsg: [0; 256],
        }
    }
    /// Look up by jid; with `iterate`, the first jail whose jid is greater.
    pub fn by_jid(jid: i32, iterate: bool) -> JailGet {
        JailGet { key_name: None, iterate, jid, vnet: 0, dying: 0, name: [0; jailparam::NAME_LEN], errmsg: [0; 256] }
    }
    /// The (address, length) pairs of the iovec array: parameter name, value, and so on.
    pub fn iovecs(&mut self) -> Vec<(usize, usize)> {
        use jailparam as jp;
        let p = |s: &'static [u8]| (s.as_ptr() as usize, s.len());
        let mut v = vec![];
        match &self.key_name {
            Some(k) => {
                v.push(p(jp::NAME));
                v.push((k.as_ptr() as usize, k.len()));
                v.push(p(jp::JID));
                v.push((&mut self.jid as *mut i32 as usize, 4));
            }
            None => {
                v.push(p(if self.iterate { jp::LASTJID } else { jp::JID }));
                v.push((&mut self.jid as *mut i32 as usize, 4));
                v.push(p(jp::NAME));
                v.push((self.name.as_mut_ptr() as usize, self.name.len()));
            }
        }
        v.push(p(jp::VNET));
        v.push((&mut self.vnet as *mut i32 as usize, 4));
        v.push(p(jp::DYING));
        v.push((&mut self.dying as *mut i32 as usize, 4));
        v.push(p(jp::ERRMSG));
        v.push((self.errmsg.as_mut_ptr() as usize, self.errmsg.len()));
        v
    }
    /// The jail's name: the key, or the answer.
    pub fn jail_name(&self) -> String {
        match &self.key_name {
            Some(k) => String::from_utf8_lossy(&k[..k.len() - 1]).into_owned(),
            None => get_name(&self.name, 0, self.name.len()),
        }
    }
    /// The jail has its own vnet.
    pub fn has_vnet(&self) -> bool {
        self.vnet == jailparam::JAIL_SYS_NEW
    }
}

/// struct vlanreq (`net/if_vlan_var.h`): vlr_parent char[IFNAMSIZ] @0, vlr_tag u_short @16,
/// vlr_proto u_short @18; 20 bytes. SIOCGETVLAN fills it (zeroed when the vlan has no
/// parent).
#[derive(Debug, Default)]
pub struct VlanReq(pub [u8; 20]);

impl VlanReq {
    /// The parent's name ("" for none), the tag and the protocol (ETHERTYPE_VLAN 0x8100 for
    /// 802.1Q, 0x88a8 for 802.1ad).
    pub fn get(&self) -> (String, u16, u16) {
        let end = self.0[..16].iter().position(|&c| c == 0).unwrap_or(16);
        let parent = String::from_utf8_lossy(&self.0[..end]).into_owned();
        (parent, u16::from_ne_bytes([self.0[16], self.0[17]]), u16::from_ne_bytes([self.0[18], self.0[19]]))
    }
}

/// A jail_get(2) request for a jail's `ip6.addr`: an array of `struct in6_addr` (16 bytes
/// each). The kernel writes the length it used back into the value's iov_len
/// (`kern_jail_get`: "Write the fetched parameters back to userspace").
#[derive(Debug)]
pub struct JailGetIp6 {
    /// jid (in)
    pub jid: i32,
    /// the addresses (out)
    pub buf: Vec<u8>,
    /// "errmsg" answer buffer
    pub errmsg: [u8; 256],
}

impl JailGetIp6 {
    /// Room for `max` addresses; a jail with more makes the kernel answer EINVAL.
    pub fn new(jid: i32, max: usize) -> JailGetIp6 {
        JailGetIp6 { jid, buf: vec![0; max * 16], errmsg: [0; 256] }
    }
    /// The (address, length) pairs of the iovec array.
    pub fn iovecs(&mut self) -> Vec<(usize, usize)> {
        use jailparam as jp;
        let p = |s: &'static [u8]| (s.as_ptr() as usize, s.len());
        vec![
            p(jp::JID),
            (&mut self.jid as *mut i32 as usize, 4),
            p(jp::IP6_ADDR),
            (self.buf.as_mut_ptr() as usize, self.buf.len()),
            p(jp::ERRMSG),
            (self.errmsg.as_mut_ptr() as usize, self.errmsg.len()),
        ]
    }
    /// The addresses in the first `len` bytes (the iov_len the kernel wrote back).
    pub fn addrs(&self, len: usize) -> Vec<std::net::Ipv6Addr> {
        in6_addrs(&self.buf[..len.min(self.buf.len())])
    }
}

/// An array of `struct in6_addr` (16 bytes each, as jail(2)'s ip6.addr holds them).
pub fn in6_addrs(b: &[u8]) -> Vec<std::net::Ipv6Addr> {
    b.chunks_exact(16).map(|c| std::net::Ipv6Addr::from(<[u8; 16]>::try_from(c).expect("16"))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lagg_protocol_names() {
        assert_eq!(lagg::parse("broadcast"), Some(lagg::BROADCAST));
        assert_eq!(lagg::parse("fec"), None, "gone since FreeBSD 11");
        assert_eq!(lagg::name(lagg::FAILOVER), "failover");
    }

    #[test]
    fn vlanreq_is_parent_tag_proto() {
        let mut r = VlanReq::default();
        r.0[..4].copy_from_slice(b"igb0");
        r.0[16..18].copy_from_slice(&20u16.to_ne_bytes());
        r.0[18..20].copy_from_slice(&0x8100u16.to_ne_bytes());
        assert_eq!(r.get(), ("igb0".to_string(), 20, 0x8100));
        assert_eq!(VlanReq::default().get(), (String::new(), 0, 0));
    }

    #[test]
    fn if_data_mtu_is_at_byte_8() {
        let mut d = [0u8; 152];
        d[0] = 6; // IFT_ETHER
        d[6..8].copy_from_slice(&152u16.to_ne_bytes());
        d[8..12].copy_from_slice(&9000u32.to_ne_bytes());
        assert_eq!(if_data_mtu(&d), Some(9000));
        assert_eq!(if_data_mtu(&d[..10]), None);
    }

    #[test]
    fn drivername_mib() {
        assert_eq!(ifdata_drivername_mib(7), [4, 18, 0, 2, 7, 3]);
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn ioctl_numbers_match_freebsd_abi_md() {
        // Values from ../shared/freebsd-abi.md §3 (computed and cross-checked with golang/sys).
        let table: &[(&str, u64, u64)] = &[
            ("SIOCSIFFLAGS", SIOCSIFFLAGS, 0x80206910),
            ("SIOCGIFFLAGS", SIOCGIFFLAGS, 0xc0206911),
            // sys/sys/sockio.h; not in freebsd-abi.md
            ("SIOCGIFINDEX", SIOCGIFINDEX, 0xc0206920),
            ("SIOCGIFCAP", SIOCGIFCAP, 0xc020691f),
            // SIOCGIFGENERIC, sys/sys/sockio.h; not in freebsd-abi.md
            ("SIOCGETVLAN", SIOCGETVLAN, 0xc020693a),
            ("SIOCSIFCAP", SIOCSIFCAP, 0x8020691e),
            ("SIOCDIFADDR", SIOCDIFADDR, 0x80206919),
            ("SIOCSIFNAME", SIOCSIFNAME, 0x80206928),
            ("SIOCSIFDESCR", SIOCSIFDESCR, 0x80206929),
            ("SIOCGIFDESCR", SIOCGIFDESCR, 0xc020692a),
            ("SIOCAIFADDR", SIOCAIFADDR, 0x8044692b),
            ("SIOCGIFMTU", SIOCGIFMTU, 0xc0206933),
            ("SIOCSIFMTU", SIOCSIFMTU, 0x80206934),
            ("SIOCSIFLLADDR", SIOCSIFLLADDR, 0x8020693c),
            ("SIOCSIFVNET", SIOCSIFVNET, 0xc020695a),
            ("SIOCSIFRVNET", SIOCSIFRVNET, 0xc020695b),
            ("SIOCIFDESTROY", SIOCIFDESTROY, 0x80206979),
            ("SIOCIFCREATE2", SIOCIFCREATE2, 0xc020697c),
            ("SIOCSDRVSPEC", SIOCSDRVSPEC, 0x8028697b),
            ("SIOCGDRVSPEC", SIOCGDRVSPEC, 0xc028697b),
            ("SIOCAIFGROUP", SIOCAIFGROUP, 0x80286987),
            ("SIOCGIFGROUP", SIOCGIFGROUP, 0xc0286988),
            ("SIOCDIFGROUP", SIOCDIFGROUP, 0x80286989),
            ("SIOCDIFADDR_IN6", SIOCDIFADDR_IN6, 0x81206919),
            ("SIOCAIFADDR_IN6", SIOCAIFADDR_IN6, 0x8088691b),
            ("SIOCGIFAFLAG_IN6", SIOCGIFAFLAG_IN6, 0xc1206949),
            ("SIOCGIFINFO_IN6", SIOCGIFINFO_IN6, 0xc048696c),
            ("SIOCSIFINFO_IN6", SIOCSIFINFO_IN6, 0xc048696d),
        ];
        for (name, got, want) in table {
            assert_eq!(got, want, "{name}: {got:#x} != {want:#x}");
        }
        assert_eq!(io(b'i', 1), 0x2000_6901);
        assert_eq!(ior(b'N', 40, 72), 0x40484e28, "NGIOCGINFO");
    }

    #[test]
    fn ifreq_layouts() {
        assert_eq!(std::mem::size_of::<IfReq>(), 32);
        assert_eq!(std::mem::align_of::<IfReq>(), 8);

        let r = IfReq::name("epair0a");
        assert_eq!(&r.0[..8], b"epair0a\0");
        assert!(r.0[8..].iter().all(|&b| b == 0));
        assert_eq!(r.get_name(), "epair0a");

        // A 15-character name fills the field with its NUL last.
        let r = IfReq::name("e0a_abcdefghijk");
        assert_eq!(&r.0[..16], b"e0a_abcdefghijk\0");

        // ifr_flags @16 (low half), ifr_flagshigh @18 (high half).
        let r = IfReq::flags("lo0", 0x0001_8843);
        assert_eq!(hex(&r.0[16..20]), "43880100");
        assert_eq!(r.get_flags(), 0x0001_8843);

        let r = IfReq::mtu("igb0", 9000);
        assert_eq!(hex(&r.0[16..20]), "28230000");
        assert_eq!(r.get_mtu(), 9000);

        let r = IfReq::jid("e0b_www", 7);
        assert_eq!(hex(&r.0[16..24]), "0700000000000000");

        let r = IfReq::data("epair3a", 0x1122_3344_5566_7788);
        assert_eq!(hex(&r.0[16..24]), "8877665544332211");

        let r = IfReq::buffer("e0a_www", 12, 0x0000_7fff_0000_1000);
        assert_eq!(hex(&r.0[16..32]), "0c0000000000000000100000ff7f0000");
        assert_eq!(r.get_buffer(), (12, 0x0000_7fff_0000_1000));
        // SIOCGIFDESCR's "too small" answer: length = needed, buffer = NULL, return 0.
        let r = IfReq::buffer("e0a_www", 40, 0);
        assert_eq!(r.get_buffer(), (40, 0));

        let r = IfReq::lladdr("e0a_www", Mac([0x02, 0xab, 0xcd, 0xef, 0x01, 0x23]));
        assert_eq!(hex(&r.0[16..24]), "061202abcdef0123");
        assert!(r.0[24..].iter().all(|&b| b == 0));

        let r = IfReq::addr4("igb0", Ipv4Addr::new(192, 0, 2, 5));
        assert_eq!(hex(&r.0[16..32]), "10020000c00002050000000000000000");
    }

    #[test]
    fn ifname_buffer() {
        assert_eq!(&ifname_buf("vnet0")[..6], b"vnet0\0");
        assert_eq!(ifname_buf("vnet0").len(), 16);
    }

    #[test]
    fn ifaliasreq_layout() {
        let b = ifaliasreq("e0a_www", Ipv4Addr::new(10, 1, 2, 3), 24);
        assert_eq!(b.len(), 68);
        assert_eq!(&b[..8], b"e0a_www\0");
        // ifra_addr @16
        assert_eq!(hex(&b[16..32]), "100200000a0102030000000000000000");
        // ifra_broadaddr @32 empty: the kernel derives it
        assert!(b[32..48].iter().all(|&x| x == 0));
        // ifra_mask @48
        assert_eq!(hex(&b[48..56]), "10020000ffffff00");
        // ifra_vhid @64
        assert_eq!(hex(&b[64..68]), "00000000");
    }

    #[test]
    fn in6_aliasreq_layout() {
        let a: Ipv6Addr = "2001:db8::5".parse().unwrap();
        let b = in6_aliasreq("vnet0", a, 64, 0x20);
        assert_eq!(b.len(), 136);
        assert_eq!(&b[..6], b"vnet0\0");
        // ifra_addr @16: len 28, family 28, port 0, flowinfo 0, addr @24, scope @40
        assert_eq!(b[16], 28);
        assert_eq!(b[17], 28);
        assert_eq!(hex(&b[24..40]), "20010db8000000000000000000000005");
        assert_eq!(hex(&b[40..44]), "00000000");
        // ifra_dstaddr @44 zero
        assert!(b[44..72].iter().all(|&x| x == 0));
        // ifra_prefixmask @72: len/family then the mask at @80
        assert_eq!(b[72], 28);
        assert_eq!(b[73], 28);
        assert_eq!(hex(&b[80..96]), "ffffffffffffffff0000000000000000");
        // ifra_flags @100
        assert_eq!(hex(&b[100..104]), "20000000");
        // lifetime: expire @104, preferred @112 zero; vltime @120, pltime @124 infinite
        assert!(b[104..120].iter().all(|&x| x == 0));
        assert_eq!(hex(&b[120..128]), "ffffffffffffffff");
        // vhid @128 and padding
        assert!(b[128..136].iter().all(|&x| x == 0));
    }

    #[test]
    fn in6_ifreq_layout() {
        assert_eq!(std::mem::size_of::<In6IfReq>(), 288);
        let a: Ipv6Addr = "fe80::1".parse().unwrap();
        let mut r = In6IfReq::addr("lo0", a);
        assert_eq!(&r.0[..4], b"lo0\0");
        assert_eq!(r.0[16], 28);
        assert_eq!(r.0[17], 28);
        assert_eq!(hex(&r.0[24..40]), "fe800000000000000000000000000001");
        assert!(r.0[44..].iter().all(|&x| x == 0));
        // ifru_flags6 is the int at @16 of the answer.
        r.0[16..20].copy_from_slice(&0x02u32.to_ne_bytes());
        assert_eq!(r.get_flags6(), 0x02);
    }

    #[test]
    fn nd_ifinfo_round_trip_and_offsets() {
        assert_eq!(std::mem::size_of::<In6NdiReq>(), 72);
        let mut raw = [0u8; 72];
        raw[..5].copy_from_slice(b"igb0\0");
        for (i, b) in raw[16..].iter_mut().enumerate() {
            *b = i as u8 + 1;
        }
        let r = In6NdiReq(raw);
        let ndi = r.ndi();
        // retrans @16+16 = 32, flags @36
        assert_eq!(ndi.retrans, u32::from_ne_bytes([17, 18, 19, 20]));
        assert_eq!(ndi.flags, u32::from_ne_bytes([21, 22, 23, 24]));
        assert_eq!(ndi.chlim, 29);
        assert_eq!(ndi.initialized, 30);
        // Written back exactly as read.
        let back = In6NdiReq::new("igb0", Some(&ndi));
        assert_eq!(back.0, raw);
        let q = In6NdiReq::new("igb0", None);
        assert!(q.0[16..].iter().all(|&b| b == 0));
    }

    #[test]
    fn ifgroupreq_layout() {
        let r = IfGroupReq::group("e0a_www", "jnet");
        assert_eq!(&r.0[..8], b"e0a_www\0");
        assert_eq!(&r.0[24..29], b"jnet\0");
        assert!(r.0[16..24].iter().all(|&b| b == 0));
        let r = IfGroupReq::list("e0a_www", 48, 0xdead_beef);
        assert_eq!(hex(&r.0[16..20]), "30000000");
        assert_eq!(hex(&r.0[24..32]), "efbeadde00000000");
        assert_eq!(r.get_len(), 48);
        let mut buf = [0u8; 48];
        buf[..4].copy_from_slice(b"all\0");
        buf[16..22].copy_from_slice(b"epair\0");
        buf[32..37].copy_from_slice(b"jnet\0");
        assert_eq!(parse_ifg_reqs(&buf), vec!["all", "epair", "jnet"]);
    }

    #[test]
    fn bridge_layouts() {
        let d = ifdrv("bridge0", BRDGADD, 80, 0x1000);
        assert_eq!(d.len(), 40);
        assert_eq!(&d[..8], b"bridge0\0");
        assert_eq!(hex(&d[16..40]), "000000000000000050000000000000000010000000000000");
        let d = ifdrv("bridge0", BRDGGIFS, 16, 0x2000);
        assert_eq!(hex(&d[16..24]), "0600000000000000");
        let m = ifbreq("e0a_www");
        assert_eq!(m.len(), 80);
        assert_eq!(&m[..8], b"e0a_www\0");
        assert!(m[8..].iter().all(|&b| b == 0));
        let c = ifbifconf(160, 0x3000);
        assert_eq!(hex(&c), "a0000000000000000030000000000000");
        assert_eq!(ifbifconf_len(&c), 160);
        let mut buf = vec![0u8; 160];
        buf[..5].copy_from_slice(b"igb0\0");
        buf[80..88].copy_from_slice(b"e0a_www\0");
        assert_eq!(parse_ifbreqs(&buf), vec!["igb0", "e0a_www"]);
    }

    #[test]
    fn lagg_layouts() {
        assert_eq!(SIOCGLAGG, 0xc050698f);
        let b = lagg_reqall("lagg0", 144, 0x4000);
        assert_eq!(b.len(), 80);
        assert_eq!(&b[..6], b"lagg0\0");
        assert_eq!(hex(&b[16..48]), "0000000000000000900000000000000000400000000000000000000000000000");
        let mut ans = b;
        ans[16..20].copy_from_slice(&2u32.to_ne_bytes());
        ans[40..44].copy_from_slice(&2u32.to_ne_bytes());
        assert_eq!(lagg_reqall_answer(&ans), (lagg::FAILOVER, 2));
        let mut ports = vec![0u8; 144];
        ports[16..21].copy_from_slice(b"igb0\0");
        ports[72 + 16..72 + 21].copy_from_slice(b"igb1\0");
        assert_eq!(parse_lagg_ports(&ports, 2), ["igb0", "igb1"]);
        assert_eq!(parse_lagg_ports(&ports, 1), ["igb0"]);
        assert_eq!(lagg::parse("failover"), Some(2));
        assert_eq!(lagg::name(4), "lacp");
        assert_eq!(lagg::parse("bogus"), None);
    }

    #[test]
    fn sockaddr_dl_mac_parse() {
        // sockaddr_dl for "igb0" with a 6-byte address after the name.
        let mut b = vec![0u8; 20];
        b[0] = 20;
        b[1] = AF_LINK;
        b[4] = 6; // IFT_ETHER
        b[5] = 4;
        b[6] = 6;
        b[8..12].copy_from_slice(b"igb0");
        b[12..18].copy_from_slice(&[0x58, 0x9c, 0xfc, 1, 2, 3]);
        assert_eq!(sockaddr_dl_mac(&b), Some(Mac([0x58, 0x9c, 0xfc, 1, 2, 3])));
        b[6] = 0; // lo0: no address
        assert_eq!(sockaddr_dl_mac(&b), None);
    }

    #[test]
    fn masks() {
        assert_eq!(mask4(24), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(mask4(0), Ipv4Addr::new(0, 0, 0, 0));
        assert_eq!(mask4(32), Ipv4Addr::new(255, 255, 255, 255));
        assert_eq!(mask6(64).to_string(), "ffff:ffff:ffff:ffff::");
        assert_eq!(prefixlen(&mask6(48).octets()), 48);
        assert_eq!(prefixlen(&mask4(30).octets()), 30);
    }

    #[test]
    fn jail_get_iovecs() {
        fn param(addr: usize, len: usize) -> Vec<u8> {
            // SAFETY (test): the pairs point into the request's own buffers or statics.
            unsafe { std::slice::from_raw_parts(addr as *const u8, len) }.to_vec()
        }
        let mut q = JailGet::by_name("www");
        let v = q.iovecs();
        let names: Vec<Vec<u8>> = v.iter().step_by(2).map(|&(a, l)| param(a, l)).collect();
        assert_eq!(
            names,
            [b"name\0".to_vec(), b"jid\0".to_vec(), b"vnet\0".to_vec(), b"dying\0".to_vec(), b"errmsg\0".to_vec()]
        );
        let lens: Vec<usize> = v.iter().skip(1).step_by(2).map(|&(_, l)| l).collect();
        assert_eq!(lens, [4, 4, 4, 4, 256], "name value \"www\\0\", then ints of exactly 4 bytes");
        assert_eq!(param(v[1].0, v[1].1), b"www\0");
        assert_eq!(v[3].0, &q.jid as *const i32 as usize);
        q.vnet = 1;
        assert!(q.has_vnet());
        assert_eq!(q.jail_name(), "www");

        let mut q = JailGet::by_jid(7, false);
        let v = q.iovecs();
        assert_eq!(param(v[0].0, v[0].1), b"jid\0");
        assert_eq!(param(v[1].0, v[1].1), 7i32.to_ne_bytes());
        assert_eq!(param(v[2].0, v[2].1), b"name\0");
        assert_eq!(v[3].1, 256);
        let mut q = JailGet::by_jid(7, true);
        let v = q.iovecs();
        assert_eq!(param(v[0].0, v[0].1), b"lastjid\0");
        q.name[..4].copy_from_slice(b"db1\0");
        q.vnet = 2;
        assert_eq!(q.jail_name(), "db1");
        assert!(!q.has_vnet());
    }

    #[test]
    fn jail_get_ip6_iovecs() {
        let mut q = JailGetIp6::new(3, 4);
        let v = q.iovecs();
        assert_eq!(v.len(), 6);
        // SAFETY (test): the pairs point into the request or statics.
        let name = unsafe { std::slice::from_raw_parts(v[2].0 as *const u8, v[2].1) };
        assert_eq!(name, b"ip6.addr\0");
        assert_eq!(v[1].1, 4);
        assert_eq!(v[3].1, 64, "4 addresses of 16 bytes");
        let a: Ipv6Addr = "2001:db8::10".parse().unwrap();
        q.buf[16..32].copy_from_slice(&a.octets());
        assert_eq!(q.addrs(32), vec![Ipv6Addr::UNSPECIFIED, a]);
        assert!(q.addrs(0).is_empty());
    }

    #[test]
    fn jail_param_names_are_nul_terminated() {
        for p in [
            jailparam::JID,
            jailparam::NAME,
            jailparam::VNET,
            jailparam::DYING,
            jailparam::ERRMSG,
            jailparam::LASTJID,
            jailparam::IP6_ADDR,
        ] {
            assert_eq!(*p.last().unwrap(), 0);
            assert_eq!(p.iter().filter(|&&c| c == 0).count(), 1);
        }
    }
}
