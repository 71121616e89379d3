//! Starts `jnet-stackhost` (FreeBSD 13.0's stack under F-Stack) for the differential tests and
//! the stack benchmark. Like the jail(8) emulator, this starts a process: test tooling, never
//! part of a jnet program.

use crate::freebsd::stackhost::{StackError, StackResult};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A stack host process of our own, killed when dropped.
pub struct StackProcess {
    child: Child,
}

impl Drop for StackProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl StackProcess {
    /// Start `bin` (jnet-stackhost) with F-Stack's `ini`, serving `sock`, and wait until it
    /// says it serves. `prefix` names its DPDK runtime files, so stacks can run side by side;
    /// `hostuuid` is written to its kern.hostuuid at start.
    pub fn start(bin: &Path, ini: &Path, sock: &Path, prefix: &str, hostuuid: &str) -> StackResult<StackProcess> {
        let eal = format!("--vdev=net_null0 --no-pci --no-shconf --file-prefix={prefix}");
        let mut child = Command::new(bin)
            .arg("--conf")
            .arg(ini)
            .env("JNET_STACKHOST_SOCKET", sock)
            .env("JNET_STACKHOST_HOSTUUID", hostuuid)
            .env("FF_EAL_EXTRA", eal)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| StackError::Transport(format!("start {}: {e}", bin.display())))?;
        let out = BufReader::new(child.stdout.take().expect("piped"));
        let process = StackProcess { child };
        if out.lines().map_while(Result::ok).any(|l| l.starts_with("jnet-stackhost: serving")) {
            Ok(process)
        } else {
            Err(StackError::Transport(format!("{} exited before serving", bin.display())))
        }
    }
}
