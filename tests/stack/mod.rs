//! A fresh FreeBSD 13.0 stack (jnet-stackhost under F-Stack) for a test, with jnet's own
//! FreeBSD backend connected to it.

use jnet::freebsd::FreeBsd;
use jnet::sim::stackprocess::StackProcess;
use std::path::{Path, PathBuf};

/// The kern.hostuuid of every test host, stack and sim alike: jnet derives MACs from it.
pub const HOSTUUID: &str = "6a6e6574-0000-4000-8000-000000000001";

/// A stack host process of the test's own and the backend over it.
pub struct Stack {
    /// jnet's FreeBSD backend, through the syscall seam to the stack host.
    pub k: FreeBsd,
    /// The socket the stack host serves (JNET_FBSD_STACK for the programs).
    pub sock: PathBuf,
    _process: StackProcess,
    _dir: jnet::sim::ScratchDir,
}

impl Stack {
    /// Start one; `tag` keeps its files and DPDK runtime prefix apart from the others'.
    pub fn start(tag: &str) -> Stack {
        let dir = jnet::sim::ScratchDir::new(tag);
        let (process, sock) = StackProcess::start_in(dir.path(), tag, HOSTUUID).unwrap();
        let k = FreeBsd::over_stack(&sock).unwrap();
        Stack { k, sock, _process: process, _dir: dir }
    }
}

/// Another host on the link holding `target`: it answers with an unsolicited Neighbor
/// Advertisement (RFC 4861 §4.4: type 136, Override, the target, its link-layer address),
/// sent from interface `from` of the stack to `to`, a settled link-local address of the
/// interface whose DAD it must fail. A raw ICMPv6 socket, whose checksum the kernel fills in
/// (raw_ip6.c); the hop limit must be 255 for nd6_na_input, so `from`'s current hop limit
/// (nd_ifinfo.chlim, the unicast default in6_selecthlim uses) is raised first.
pub fn advertise(sock: &Path, from: &str, to: std::net::Ipv6Addr, target: std::net::Ipv6Addr) {
    use jnet::freebsd::abi::{self, IfReq, In6NdiReq};
    let mut conn = jnet::freebsd::stackhost::StackHost::connect(sock).unwrap();
    let inet6 = conn.socket(28, 2, 0).unwrap();
    let mut r = In6NdiReq::new(from, None);
    conn.ioctl(inet6, abi::SIOCGIFINFO_IN6, &mut r.0, &mut []).unwrap();
    let mut ndi = r.ndi();
    ndi.chlim = 255;
    let mut w = In6NdiReq::new(from, Some(&ndi));
    conn.ioctl(inet6, abi::SIOCSIFINFO_IN6, &mut w.0, &mut []).unwrap();
    let mut q = IfReq::name(from);
    conn.ioctl(inet6, abi::SIOCGIFINDEX, &mut q.0, &mut []).unwrap();
    // SOCK_RAW 3, IPPROTO_ICMPV6 58.
    let raw = conn.socket(28, 3, 58).unwrap();
    let mut na = vec![136u8, 0, 0, 0, 0x20, 0, 0, 0];
    na.extend_from_slice(&target.octets());
    na.extend_from_slice(&[2, 1, 0x02, 0x6e, 0x62, 0x72, 0x00, 0x01]);
    let dst = abi::sockaddr_in6(to, q.get_index());
    assert_eq!(conn.sendto(raw, &na, &dst).unwrap(), na.len());
}

impl Stack {
    /// A control connection of the test's own: the admin's jail(8) on the stack host.
    pub fn ctl(&self) -> jnet::freebsd::stackhost::StackHost {
        jnet::freebsd::stackhost::StackHost::connect(&self.sock).unwrap()
    }

    /// `jail -c name=NAME vnet persist`: the jid.
    pub fn jail_create(&self, name: &str) -> i32 {
        self.ctl().jail_create(name, true).unwrap()
    }

    /// `jail -c name=NAME persist`, sharing the host's vnet: the jid.
    pub fn jail_create_shared(&self, name: &str) -> i32 {
        self.ctl().jail_create(name, false).unwrap()
    }

    /// jail_remove(2) of `jid`.
    pub fn jail_remove(&self, jid: i32) -> Result<(), jnet::errno::Errno> {
        self.ctl().jail_remove(jid).map_err(|e| match e {
            jnet::freebsd::stackhost::StackError::Kernel(e) => e,
            t => panic!("{t}"),
        })
    }
}

/// Packets on the stack: the sockets of a process (a connection, the host's or attached to
/// a jail), through FreeBSD's own socket, IP, ICMP and TCP code. Nothing here is simulated:
/// the sim carries no packets, so these are checked against what must happen.
pub mod traffic {
    use jnet::freebsd::abi;
    use jnet::freebsd::stackhost::{StackError, StackHost};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use std::time::{Duration, Instant};

    /// FIONBIO, `_IOW('f', 126, int)` (sys/sys/filio.h).
    const FIONBIO: u64 = 0x8004_667e;
    /// PF_INET 2, PF_INET6 28, SOCK_STREAM 1, SOCK_RAW 3, IPPROTO_ICMP 1, IPPROTO_ICMPV6 58
    /// (sys/sys/socket.h, netinet/in.h).
    const PF_INET: i32 = 2;
    const PF_INET6: i32 = 28;
    const SOCK_STREAM: i32 = 1;
    const SOCK_RAW: i32 = 3;

    fn sockaddr(addr: IpAddr, port: u16) -> Vec<u8> {
        let mut b = match addr {
            IpAddr::V4(a) => abi::sockaddr_in(a).to_vec(),
            IpAddr::V6(a) => abi::sockaddr_in6(a, 0).to_vec(),
        };
        b[2..4].copy_from_slice(&port.to_be_bytes());
        b
    }

    fn nonblocking(c: &mut StackHost, fd: i32) {
        let mut on = 1i32.to_ne_bytes();
        c.ioctl(fd, FIONBIO, &mut on, &mut []).unwrap();
    }

    /// Ask `f` every 20 ms for at most `secs` seconds: the stack's timers and queues run
    /// between requests.
    fn within<T>(secs: u64, mut f: impl FnMut() -> Option<T>) -> Option<T> {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = f() {
                return Some(v);
            }
            if Instant::now() > end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The Internet checksum (RFC 1071), for ICMP (the kernel fills in ICMPv6's).
    fn checksum(b: &[u8]) -> u16 {
        let mut sum: u32 = b.chunks(2).map(|c| u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0))).sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    /// ICMP or ICMPv6 echoes from process `c` to `dst`: whether a reply came within 6 s.
    pub fn ping(c: &mut StackHost, dst: IpAddr, id: u16) -> bool {
        let (domain, proto, request, reply) = match dst {
            IpAddr::V4(_) => (PF_INET, 1, 8u8, 0u8),
            IpAddr::V6(_) => (PF_INET6, 58, 128, 129),
        };
        let raw = c.socket(domain, SOCK_RAW, proto).unwrap();
        let mut echo = vec![request, 0, 0, 0];
        echo.extend_from_slice(&id.to_be_bytes());
        echo.extend_from_slice(&[0, 1]);
        echo.extend_from_slice(b"jnet");
        if dst.is_ipv4() {
            let sum = checksum(&echo);
            echo[2..4].copy_from_slice(&sum.to_be_bytes());
        }
        // Sent again every 500 ms: the first may wait on ARP or ND, or on DAD of `dst`.
        let mut turn = 0;
        let got = within(6, || {
            if turn % 25 == 0 {
                // A neighbour that never answered: arpresolve and nd6_resolve say so
                // (EHOSTDOWN 64, EHOSTUNREACH 65, sys/sys/errno.h).
                match c.sendto(raw, &echo, &sockaddr(dst, 0)) {
                    Ok(_) => {}
                    Err(StackError::Kernel(jnet::errno::Errno(64 | 65))) => {}
                    Err(e) => panic!("sendto: {e}"),
                }
            }
            turn += 1;
            let mut buf = [0u8; 2048];
            loop {
                match c.recv(raw, &mut buf) {
                    Ok(n) => {
                        // A raw IPv4 socket gets the IP header too (its length in the first byte).
                        let at = if dst.is_ipv4() { usize::from(buf[0] & 0x0f) * 4 } else { 0 };
                        let m = &buf[at..n];
                        if m.len() >= 8 && m[0] == reply && m[4..6] == id.to_be_bytes() {
                            return Some(());
                        }
                    }
                    Err(StackError::Kernel(e)) if e == jnet::errno::Errno::EAGAIN => return None,
                    Err(e) => panic!("recv: {e}"),
                }
            }
        });
        c.close(raw).unwrap();
        got.is_some()
    }

    /// A TCP connection from process `client` to `server` listening on `addr`:`port`,
    /// "hello" sent each way, then closed by the client first (which keeps TIME_WAIT).
    /// Ok when every step happened within 5 s, else the step that did not.
    pub fn tcp_exchange(client: &mut StackHost, server: &mut StackHost, addr: IpAddr, port: u16) -> Result<(), String> {
        let domain = if addr.is_ipv4() { PF_INET } else { PF_INET6 };
        let l = server.socket(domain, SOCK_STREAM, 0).unwrap();
        server.bind(l, &sockaddr(addr, port)).unwrap();
        server.listen(l, 4).unwrap();
        nonblocking(server, l);
        let s = client.socket(domain, SOCK_STREAM, 0).unwrap();
        nonblocking(client, s);
        match client.connect_to(s, &sockaddr(addr, port)) {
            Ok(()) => {}
            // EINPROGRESS 36 (sys/sys/errno.h).
            Err(StackError::Kernel(jnet::errno::Errno(36))) => {}
            Err(e) => panic!("connect: {e}"),
        }
        let steps = (|| {
            let a = within(5, || server.accept(l).ok()).ok_or("accept")?;
            within(5, || client.sendto(s, b"hello", &[]).ok()).ok_or("send from the client")?;
            let mut buf = [0u8; 16];
            within(5, || server.recv(a, &mut buf).ok().filter(|&n| &buf[..n] == b"hello"))
                .ok_or("the server's recv")?;
            server.sendto(a, b"hello", &[]).map_err(|_| "send from the server")?;
            within(5, || client.recv(s, &mut buf).ok().filter(|&n| &buf[..n] == b"hello"))
                .ok_or("the client's recv")?;
            client.close(s).map_err(|_| "close by the client")?;
            server.close(a).map_err(|_| "close by the server")
        })();
        let _ = server.close(l);
        steps.map_err(|step| format!("{step} did not happen"))
    }

    /// The IPv4 address of a unit-numbered test network: 10.N.0.H.
    pub fn v4(n: u8, h: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, n, 0, h))
    }

    /// 2001:db8:N::H, written as the scenarios write it (`2001:db8:8::10` for (8, 10)).
    pub fn v6(n: u16, h: u16) -> IpAddr {
        IpAddr::V6(format!("2001:db8:{n}::{h}").parse::<Ipv6Addr>().expect("an address"))
    }
}
