//! Starts `jnet-stackhost` (FreeBSD 13.0's stack under F-Stack) for the differential tests and
//! the stack benchmark. Like the jail(8) emulator, this starts a process: test tooling, never
//! part of a jnet program.

use crate::freebsd::stackhost::{StackError, StackResult};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The environment variable naming the built jnet-stackhost (`.ci/fbsd-stack` builds it).
pub const BIN_ENV: &str = "JNET_STACKHOST";

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
    /// Start the stack host `JNET_STACKHOST` names, with the project's `fbsd-stack/f-stack.ini`,
    /// serving `stack.sock` in `dir`; `tag` and this process's id name its DPDK runtime files.
    /// Returns the process and the socket.
    pub fn start_in(dir: &Path, tag: &str, hostuuid: &str) -> StackResult<(StackProcess, PathBuf)> {
        let bin = std::env::var_os(BIN_ENV).ok_or_else(|| {
            StackError::Transport(format!("{BIN_ENV} must name the built jnet-stackhost (see .ci/fbsd-stack)"))
        })?;
        let ini = Path::new(env!("CARGO_MANIFEST_DIR")).join("fbsd-stack/f-stack.ini");
        let sock = dir.join("stack.sock");
        let prefix = format!("jnet-{tag}-{}", std::process::id());
        let process = StackProcess::start(Path::new(&bin), &ini, &sock, &prefix, hostuuid)?;
        Ok((process, sock))
    }

    /// Start `bin` (jnet-stackhost) with F-Stack's `ini`, serving `sock`, and wait until it
    /// says it serves. `prefix` names its DPDK runtime files, so stacks can run side by side;
    /// `hostuuid` is written to its kern.hostuuid at start.
    pub fn start(bin: &Path, ini: &Path, sock: &Path, prefix: &str, hostuuid: &str) -> StackResult<StackProcess> {
        // no-rx: DPDK's null port otherwise receives a stream of made-up zero frames
        // (rte_eth_null.c eth_null_rx), which a bridge with the NIC as a member floods to
        // every jail; the stack's NIC is on a quiet link instead.
        let eal = format!("--vdev=net_null0,no-rx=1 --no-pci --no-shconf --file-prefix={prefix}");
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
