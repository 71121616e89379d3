//! Packets on FreeBSD's stack in `jnet-stackhost`: the sockets of a process (a connection to
//! the stack host, the host's own or one attached to a jail) through FreeBSD's own socket,
//! IP, ICMP and TCP code. The simulated host carries no packets: the differential test
//! (tests/fbsd_stack.rs) checks these against what must happen, and the stack benchmark
//! (examples/stack_bench.rs) times them.

use crate::freebsd::abi;
use crate::freebsd::stackhost::{StackError, StackHost};
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
                Err(StackError::Kernel(crate::errno::Errno(64 | 65))) => {}
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
                Err(StackError::Kernel(e)) if e == crate::errno::Errno::EAGAIN => return None,
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
        Err(StackError::Kernel(crate::errno::Errno(36))) => {}
        Err(e) => panic!("connect: {e}"),
    }
    let steps = (|| {
        let a = within(5, || server.accept(l).ok()).ok_or("accept")?;
        within(5, || client.sendto(s, b"hello", &[]).ok()).ok_or("send from the client")?;
        let mut buf = [0u8; 16];
        within(5, || server.recv(a, &mut buf).ok().filter(|&n| &buf[..n] == b"hello")).ok_or("the server's recv")?;
        server.sendto(a, b"hello", &[]).map_err(|_| "send from the server")?;
        within(5, || client.recv(s, &mut buf).ok().filter(|&n| &buf[..n] == b"hello")).ok_or("the client's recv")?;
        client.close(s).map_err(|_| "close by the client")?;
        server.close(a).map_err(|_| "close by the server")
    })();
    let _ = server.close(l);
    steps.map_err(|step| format!("{step} did not happen"))
}

/// The kernel's errno of a failed request; a broken connection to the stack host fails the
/// test (`seam` in stackhost.rs makes it EIO for jnet's backend instead).
pub fn errno(e: StackError) -> crate::errno::Errno {
    match e {
        StackError::Kernel(e) => e,
        other => panic!("{other}"),
    }
}

/// What a daemon of process `c` gets when it opens a TCP socket for `addr` and binds it to
/// `addr`:`port`: Ok, or the errno socket(2) or bind(2) gave (a jail without IPv4 cannot
/// open the socket; a tentative address, or one not the jail's, cannot be bound).
pub fn tcp_bind(c: &mut StackHost, addr: IpAddr, port: u16) -> Result<(), crate::errno::Errno> {
    let domain = if addr.is_ipv4() { PF_INET } else { PF_INET6 };
    let s = c.socket(domain, SOCK_STREAM, 0).map_err(errno)?;
    let bound = c.bind(s, &sockaddr(addr, port)).map_err(errno);
    c.close(s).unwrap();
    bound
}

/// The IPv4 address of a unit-numbered test network: 10.N.0.H.
pub fn v4(n: u8, h: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, n, 0, h))
}

/// 2001:db8:N::H, written as the scenarios write it (`2001:db8:8::10` for (8, 10)).
pub fn v6(n: u16, h: u16) -> IpAddr {
    IpAddr::V6(format!("2001:db8:{n}::{h}").parse::<Ipv6Addr>().expect("an address"))
}
