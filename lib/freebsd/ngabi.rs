//! Netgraph control messages as bytes (`sys/netgraph/ng_message.h`, `ng_socket.h`,
//! `ng_eiface.h`, `ng_bridge.h`, `ng_ether.h`; `../shared/freebsd-abi.md` §7-8).
//!
//! Pure encoders and a reply parser that refuses, never panics on, short or malformed
//! input: replies come from the kernel, but a parser that trusts lengths is one bug away
//! from reading past a buffer.

use crate::kernel::{NgHook, NgNode};
use std::fmt;

/// NG_VERSION
pub const NG_VERSION: u8 = 8;
/// sizeof(struct ng_msghdr)
pub const HEADER: usize = 56;
/// NG_TYPESIZ, NG_HOOKSIZ, NG_NODESIZ (NUL included)
pub const NAMESIZ: usize = 32;
/// NG_PATHSIZ
pub const PATHSIZ: usize = 512;
/// NG_CMDSTRSIZ
pub const CMDSTRSIZ: usize = 32;
/// Longest destination path a 15-CURRENT ng_socket accepts (sg_len <= NG_NODESIZ + 2).
pub const SENDTO_PATH_MAX: usize = 31;
/// PF_NETGRAPH / AF_NETGRAPH (`sys/sys/socket.h`)
pub const PF_NETGRAPH: i32 = 32;
/// NG_CONTROL protocol (`ng_socket.h`)
pub const NG_CONTROL: i32 = 2;
/// NGF_RESP
pub const NGF_RESP: u32 = 1;

/// NGM_GENERIC_COOKIE and its commands.
pub mod generic {
    /// cookie
    pub const COOKIE: u32 = 1_137_070_366;
    /// NGM_SHUTDOWN
    pub const SHUTDOWN: u32 = 1;
    /// NGM_MKPEER
    pub const MKPEER: u32 = 2;
    /// NGM_CONNECT
    pub const CONNECT: u32 = 3;
    /// NGM_NAME
    pub const NAME: u32 = 4;
    /// NGM_RMHOOK
    pub const RMHOOK: u32 = 5;
    /// NGM_NODEINFO (READONLY|HASREPLY)
    pub const NODEINFO: u32 = 0x3000_0006;
    /// NGM_LISTHOOKS
    pub const LISTHOOKS: u32 = 0x3000_0007;
    /// NGM_LISTNODES
    pub const LISTNODES: u32 = 0x3000_0009;
}

/// NGM_EIFACE_COOKIE and its commands.
pub mod eiface {
    /// cookie
    pub const COOKIE: u32 = 948_105_892;
    /// NGM_EIFACE_GET_IFNAME
    pub const GET_IFNAME: u32 = 1;
}

/// NGM_BRIDGE_COOKIE (13.0 and later) and its commands.
pub mod bridge {
    /// cookie
    pub const COOKIE: u32 = 1_569_321_993;
    /// NGM_BRIDGE_GET_STATS
    pub const GET_STATS: u32 = 4;
    /// NGM_BRIDGE_SET_PERSISTENT
    pub const SET_PERSISTENT: u32 = 8;
}

/// NGM_ETHER_COOKIE and its commands.
pub mod ether {
    /// cookie
    pub const COOKIE: u32 = 917_786_906;
    /// NGM_ETHER_GET_IFNAME
    pub const GET_IFNAME: u32 = 1;
    /// NGM_ETHER_SET_PROMISC
    pub const SET_PROMISC: u32 = 6;
    /// NGM_ETHER_SET_AUTOSRC
    pub const SET_AUTOSRC: u32 = 8;
}

/// NGM_SOCKET_COOKIE (not sent by jnet; listed for completeness of the table).
pub const SOCKET_COOKIE: u32 = 851_601_233;

fn put_name(buf: &mut [u8], off: usize, field: usize, s: &str) {
    let b = s.as_bytes();
    let n = b.len().min(field - 1);
    buf[off..off + n].copy_from_slice(&b[..n]);
}

/// A control message: the 56-byte header, then `args`.
/// `cmdstr` follows libnetgraph ("cmd<N>"), for ngctl-like tracing in the kernel.
pub fn message(cookie: u32, cmd: u32, token: u32, args: &[u8]) -> Vec<u8> {
    let mut m = vec![0u8; HEADER + args.len()];
    m[0] = NG_VERSION;
    m[4..8].copy_from_slice(&(args.len() as u32).to_ne_bytes());
    m[8..12].copy_from_slice(&cmd.to_ne_bytes());
    // flags @12 = NGF_ORIG (0)
    m[16..20].copy_from_slice(&token.to_ne_bytes());
    m[20..24].copy_from_slice(&cookie.to_ne_bytes());
    put_name(&mut m, 24, CMDSTRSIZ, &format!("cmd{cmd}"));
    m[HEADER..].copy_from_slice(args);
    m
}

/// struct ngm_mkpeer (96): type @0, ourhook @32, peerhook @64.
pub fn mkpeer(node_type: &str, ourhook: &str, peerhook: &str) -> Vec<u8> {
    let mut b = vec![0u8; 96];
    put_name(&mut b, 0, NAMESIZ, node_type);
    put_name(&mut b, 32, NAMESIZ, ourhook);
    put_name(&mut b, 64, NAMESIZ, peerhook);
    b
}

/// struct ngm_connect (576): path @0 (512), ourhook @512, peerhook @544.
pub fn connect(path: &str, ourhook: &str, peerhook: &str) -> Vec<u8> {
    let mut b = vec![0u8; 576];
    put_name(&mut b, 0, PATHSIZ, path);
    put_name(&mut b, 512, NAMESIZ, ourhook);
    put_name(&mut b, 544, NAMESIZ, peerhook);
    b
}

/// struct ngm_name / ngm_rmhook (32): one name.
pub fn name32(s: &str) -> Vec<u8> {
    let mut b = vec![0u8; 32];
    put_name(&mut b, 0, NAMESIZ, s);
    b
}

/// struct sockaddr_ng for sendto(2): sg_len = strlen(path) + 1 + 2, sg_family, sg_data.
pub fn sockaddr_ng(path: &str) -> Result<Vec<u8>, ParseError> {
    if path.is_empty() || path.len() > SENDTO_PATH_MAX || path.contains('\0') {
        return Err(ParseError(format!("netgraph path {path:?} must have 1 to {SENDTO_PATH_MAX} characters")));
    }
    let mut b = vec![0u8; 2 + path.len() + 1];
    b[0] = b.len() as u8;
    b[1] = PF_NETGRAPH as u8;
    b[2..2 + path.len()].copy_from_slice(path.as_bytes());
    Ok(b)
}

/// A malformed kernel answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A parsed message header and its argument bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply<'a> {
    /// cmd
    pub cmd: u32,
    /// flags (NGF_RESP)
    pub flags: u32,
    /// token
    pub token: u32,
    /// typecookie
    pub cookie: u32,
    /// data[arglen]
    pub data: &'a [u8],
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, ParseError> {
    b.get(off..off + 4)
        .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| ParseError(format!("answer too short: need 4 bytes at {off}, have {}", b.len())))
}

fn name_at(b: &[u8], off: usize, field: usize) -> Result<String, ParseError> {
    let f = b.get(off..off + field).ok_or_else(|| ParseError(format!("answer too short for a name at {off}")))?;
    let end =
        f.iter().position(|&c| c == 0).ok_or_else(|| ParseError(format!("name at {off} is not NUL-terminated")))?;
    String::from_utf8(f[..end].to_vec()).map_err(|_| ParseError(format!("name at {off} is not UTF-8")))
}

/// Parse a whole datagram.
pub fn parse(b: &[u8]) -> Result<Reply<'_>, ParseError> {
    if b.len() < HEADER {
        return Err(ParseError(format!("message of {} bytes is shorter than the {HEADER}-byte header", b.len())));
    }
    if b[0] != NG_VERSION {
        return Err(ParseError(format!("netgraph message version {} (expected {NG_VERSION})", b[0])));
    }
    let arglen = u32_at(b, 4)? as usize;
    if arglen > b.len() - HEADER {
        return Err(ParseError(format!("message says {arglen} argument bytes but carries {}", b.len() - HEADER)));
    }
    Ok(Reply {
        cmd: u32_at(b, 8)?,
        flags: u32_at(b, 12)?,
        token: u32_at(b, 16)?,
        cookie: u32_at(b, 20)?,
        data: &b[HEADER..HEADER + arglen],
    })
}

/// struct nodeinfo (72): name @0, type @32, id @64, hooks @68.
pub fn parse_nodeinfo(b: &[u8]) -> Result<NgNode, ParseError> {
    if b.len() < 72 {
        return Err(ParseError(format!("nodeinfo of {} bytes (expected 72)", b.len())));
    }
    Ok(NgNode { name: name_at(b, 0, 32)?, node_type: name_at(b, 32, 32)?, id: u32_at(b, 64)?, hooks: u32_at(b, 68)? })
}

/// struct hooklist: a nodeinfo, then nodeinfo.hooks × struct linkinfo (136: ourhook @0,
/// peerhook @32, nodeinfo @64).
pub fn parse_hooklist(b: &[u8]) -> Result<(NgNode, Vec<NgHook>), ParseError> {
    let node = parse_nodeinfo(b)?;
    let n = node.hooks as usize;
    let need =
        n.checked_mul(136).and_then(|x| x.checked_add(72)).ok_or_else(|| ParseError("hook count overflows".into()))?;
    if b.len() < need {
        return Err(ParseError(format!("hook list says {n} hooks but has {} bytes (need {need})", b.len())));
    }
    let mut hooks = Vec::with_capacity(n);
    for i in 0..n {
        let l = &b[72 + 136 * i..72 + 136 * (i + 1)];
        hooks.push(NgHook {
            ourhook: name_at(l, 0, 32)?,
            peerhook: name_at(l, 32, 32)?,
            peer: parse_nodeinfo(&l[64..])?,
        });
    }
    Ok((node, hooks))
}

/// struct namelist: u32 numnames, then numnames × nodeinfo @4.
pub fn parse_namelist(b: &[u8]) -> Result<Vec<NgNode>, ParseError> {
    let n = u32_at(b, 0)? as usize;
    let need =
        n.checked_mul(72).and_then(|x| x.checked_add(4)).ok_or_else(|| ParseError("node count overflows".into()))?;
    if b.len() < need {
        return Err(ParseError(format!("node list says {n} nodes but has {} bytes (need {need})", b.len())));
    }
    (0..n).map(|i| parse_nodeinfo(&b[4 + 72 * i..4 + 72 * (i + 1)])).collect()
}

/// An interface name answer (char[IFNAMSIZ]).
pub fn parse_ifname(b: &[u8]) -> Result<String, ParseError> {
    let name = name_at(b, 0, b.len().min(16))?;
    if name.is_empty() {
        return Err(ParseError("empty interface name".into()));
    }
    Ok(name)
}

/// struct ng_bridge_link_stats: 14 × u64.
pub fn parse_link_stats(b: &[u8]) -> Result<[u64; 14], ParseError> {
    if b.len() < 112 {
        return Err(ParseError(format!("link stats of {} bytes (expected 112)", b.len())));
    }
    let mut out = [0u64; 14];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u64::from_ne_bytes(b[8 * i..8 * i + 8].try_into().expect("8"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodeinfo(name: &str, t: &str, id: u32, hooks: u32) -> Vec<u8> {
        let mut b = vec![0u8; 72];
        put_name(&mut b, 0, 32, name);
        put_name(&mut b, 32, 32, t);
        b[64..68].copy_from_slice(&id.to_ne_bytes());
        b[68..72].copy_from_slice(&hooks.to_ne_bytes());
        b
    }

    #[test]
    fn constants_match_freebsd_abi_md() {
        assert_eq!(HEADER, 56);
        assert_eq!(generic::COOKIE, 0x43c6511e);
        assert_eq!(eiface::COOKIE, 0x3882f2a4);
        assert_eq!(bridge::COOKIE, 0x5d89f409);
        assert_eq!(ether::COOKIE, 0x36b4511a);
        assert_eq!(SOCKET_COOKIE, 0x32c26751);
        assert_eq!(generic::LISTHOOKS, 0x30000007);
        assert_eq!(mkpeer("eiface", "e1", "ether").len(), 96);
        assert_eq!(connect("b:", "ether", "link2").len(), 576);
        assert_eq!(name32("x").len(), 32);
    }

    #[test]
    fn header_layout() {
        let m = message(generic::COOKIE, generic::MKPEER, 7, &mkpeer("eiface", "e1", "ether"));
        assert_eq!(m.len(), 56 + 96);
        assert_eq!(m[0], 8, "version");
        assert_eq!(&m[1..4], &[0, 0, 0], "spare");
        assert_eq!(&m[4..8], &96u32.to_ne_bytes(), "arglen");
        assert_eq!(&m[8..12], &2u32.to_ne_bytes(), "cmd");
        assert_eq!(&m[12..16], &0u32.to_ne_bytes(), "flags");
        assert_eq!(&m[16..20], &7u32.to_ne_bytes(), "token");
        assert_eq!(&m[20..24], &0x43c6511eu32.to_ne_bytes(), "typecookie");
        assert_eq!(&m[24..29], b"cmd2\0");
        assert_eq!(&m[56..63], b"eiface\0");
        assert_eq!(&m[88..91], b"e1\0");
        assert_eq!(&m[120..126], b"ether\0");
        let c = connect("igb0bridge:", "ether", "link2");
        assert_eq!(&c[..12], b"igb0bridge:\0");
        assert_eq!(&c[512..518], b"ether\0");
        assert_eq!(&c[544..550], b"link2\0");
        let p = parse(&m).unwrap();
        assert_eq!((p.cmd, p.flags, p.token, p.cookie, p.data.len()), (2, 0, 7, generic::COOKIE, 96));
    }

    #[test]
    fn sockaddr_ng_layout_and_path_limit() {
        let s = sockaddr_ng("igb0bridge:").unwrap();
        assert_eq!(s[0] as usize, 11 + 1 + 2);
        assert_eq!(s[1], 32);
        assert_eq!(&s[2..], b"igb0bridge:\0");
        assert!(sockaddr_ng(&"x".repeat(31)).is_ok());
        assert!(sockaddr_ng(&"x".repeat(32)).is_err());
        assert!(sockaddr_ng("").is_err());
    }

    #[test]
    fn replies_parse() {
        let mut hl = nodeinfo("igb0bridge", "bridge", 0x1a9, 2);
        for (our, peer, pn, pt, pid) in
            [("link0", "lower", "igb0", "ether", 3u32), ("link2", "ether", "ng0_www", "eiface", 0x2b)]
        {
            let mut l = vec![0u8; 64];
            put_name(&mut l, 0, 32, our);
            put_name(&mut l, 32, 32, peer);
            l.extend(nodeinfo(pn, pt, pid, 1));
            hl.extend(l);
        }
        let (n, hooks) = parse_hooklist(&hl).unwrap();
        assert_eq!(n, NgNode { name: "igb0bridge".into(), node_type: "bridge".into(), id: 0x1a9, hooks: 2 });
        assert_eq!(hooks[1].ourhook, "link2");
        assert_eq!(hooks[1].peer.name, "ng0_www");
        assert_eq!(hooks[0].peer.id, 3);
        let mut nl = 2u32.to_ne_bytes().to_vec();
        nl.extend(nodeinfo("", "socket", 9, 0));
        nl.extend(nodeinfo("igb0", "ether", 3, 1));
        let nodes = parse_namelist(&nl).unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].name, "");
        assert_eq!(parse_ifname(b"ngeth3\0\0\0\0\0\0\0\0\0\0").unwrap(), "ngeth3");
        let mut st = vec![];
        for i in 0..14u64 {
            st.extend(i.to_ne_bytes());
        }
        assert_eq!(parse_link_stats(&st).unwrap()[13], 13);
        // Malformed: truncated, lying counts, bad version, missing NUL.
        assert!(parse_hooklist(&hl[..100]).is_err());
        let mut lie = nl.clone();
        lie[..4].copy_from_slice(&3u32.to_ne_bytes());
        assert!(parse_namelist(&lie).is_err());
        let mut huge = nl.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(parse_namelist(&huge).is_err());
        let mut m = message(1, 2, 3, &[]);
        m[0] = 7;
        assert!(parse(&m).is_err());
        let mut m = message(1, 2, 3, &[1, 2]);
        m[4..8].copy_from_slice(&10u32.to_ne_bytes());
        assert!(parse(&m).is_err());
        assert!(parse_nodeinfo(&[b'x'; 72]).is_err(), "no NUL in the name");
        assert!(parse_ifname(b"\0").is_err());
    }

    /// No byte string makes any parser panic: random messages, and every truncation and
    /// single-byte corruption of valid ones.
    #[test]
    fn parsers_never_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let run = |b: &[u8]| {
            let _ = parse(b);
            let _ = parse_nodeinfo(b);
            let _ = parse_hooklist(b);
            let _ = parse_namelist(b);
            let _ = parse_ifname(b);
            let _ = parse_link_stats(b);
        };
        // JNET_FUZZ_ITERS scales the run (the README's long fuzz command sets it).
        let iters: usize = std::env::var("JNET_FUZZ_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
        for _ in 0..iters {
            let len = (next() % 700) as usize;
            let v: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            run(&v);
        }
        let mut valid = nodeinfo("b", "bridge", 1, 1);
        let mut l = vec![0u8; 64];
        put_name(&mut l, 0, 32, "link0");
        put_name(&mut l, 32, 32, "lower");
        l.extend(nodeinfo("igb0", "ether", 2, 1));
        valid.extend(l);
        let msg = message(generic::COOKIE, generic::LISTHOOKS, 1, &valid);
        for cut in 0..msg.len() {
            run(&msg[..cut]);
            if let Ok(r) = parse(&msg[..cut]) {
                run(r.data);
            }
        }
        for i in 0..msg.len() {
            for v in [0u8, 0xff, 0x7f] {
                let mut m = msg.clone();
                m[i] = v;
                run(&m);
                if let Ok(r) = parse(&m) {
                    run(r.data);
                }
            }
        }
    }
}
