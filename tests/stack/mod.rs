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
        let bin = std::env::var_os("JNET_STACKHOST")
            .expect("JNET_STACKHOST must name the built jnet-stackhost (see .ci/fbsd-stack)");
        let ini = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fbsd-stack/f-stack.ini");
        let dir = jnet::sim::ScratchDir::new(tag);
        let sock = dir.path().join("stack.sock");
        let prefix = format!("jnet-{tag}-{}", std::process::id());
        let process = StackProcess::start(Path::new(&bin), &ini, &sock, &prefix, HOSTUUID).unwrap();
        let k = FreeBsd::over_stack(&sock).unwrap();
        Stack { k, sock, _process: process, _dir: dir }
    }
}
