//! A fresh FreeBSD 13.0 stack (jnet-stackhost under F-Stack) for a test, with jnet's own
//! FreeBSD backend connected to it.

use jnet::freebsd::FreeBsd;
use jnet::sim::stackprocess::StackProcess;
use std::path::PathBuf;

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

/// `StackProcess::start_in` or `start_wired_in`.
type StartIn = fn(&std::path::Path, &str, &str) -> jnet::freebsd::stackhost::StackResult<(StackProcess, PathBuf)>;

impl Stack {
    /// Start one; `tag` keeps its files and DPDK runtime prefix apart from the others'.
    pub fn start(tag: &str) -> Stack {
        Stack::start_by(tag, StackProcess::start_in)
    }

    /// The same with two more NICs, igb1 and igb2, cabled to each other
    /// (`StackProcess::start_wired_in`).
    pub fn start_wired(tag: &str) -> Stack {
        Stack::start_by(tag, StackProcess::start_wired_in)
    }

    fn start_by(tag: &str, start: StartIn) -> Stack {
        let dir = jnet::sim::ScratchDir::new(tag);
        let (process, sock) = start(dir.path(), tag, HOSTUUID).unwrap();
        let k = FreeBsd::over_stack(&sock).unwrap();
        Stack { k, sock, _process: process, _dir: dir }
    }
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
        self.ctl().jail_remove(jid).map_err(traffic::errno)
    }
}

/// Packets on the stack (lib/sim/stacktraffic.rs).
pub use jnet::sim::stacktraffic as traffic;
