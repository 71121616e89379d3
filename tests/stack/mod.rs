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

    /// The same with two more NICs, igb1 and igb2, cabled to each other
    /// (`StackProcess::start_wired_in`).
    pub fn start_wired(tag: &str) -> Stack {
        let dir = jnet::sim::ScratchDir::new(tag);
        let (process, sock) = StackProcess::start_wired_in(dir.path(), tag, HOSTUUID).unwrap();
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

    /// `jail -c name=NAME ip6.addr=... persist`, an IP-sharing jail: the jid.
    pub fn jail_create_sharing(&self, name: &str, ip6: &[std::net::Ipv6Addr]) -> i32 {
        self.ctl().jail_create_sharing(name, ip6).unwrap()
    }

    /// jail_remove(2) of `jid`.
    pub fn jail_remove(&self, jid: i32) -> Result<(), jnet::errno::Errno> {
        self.ctl().jail_remove(jid).map_err(|e| match e {
            jnet::freebsd::stackhost::StackError::Kernel(e) => e,
            t => panic!("{t}"),
        })
    }
}

/// Packets on the stack (lib/sim/stacktraffic.rs).
pub use jnet::sim::stacktraffic as traffic;
