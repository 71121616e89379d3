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

/// The NICs cabled back to back and the IPv4 address F-Stack gives each at start (every
/// port of f-stack.ini needs one): (name, address, prefix length).
pub const WIRE_NICS: [(&str, &str, u8); 2] = [("igb1", "198.51.100.1", 24), ("igb2", "203.0.113.2", 24)];

fn project_ini() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fbsd-stack/f-stack.ini")
}

/// The project's f-stack.ini with DPDK ports 1 and 2 listed and configured as `WIRE_NICS`.
/// `if_name` names each interface at attach (ff_veth.c if_initname with IF_DUNIT_NONE), so its
/// driver name (net.link.generic.ifdata.N.drivername) is that name too, as a NIC's "igb2" is.
fn wired_ini(base: &str) -> StackResult<String> {
    if !base.lines().any(|l| l == "port_list=0") {
        return Err(StackError::Transport("f-stack.ini: no line port_list=0 to extend".into()));
    }
    let mut ini: String = base
        .lines()
        .map(|l| if l == "port_list=0" { "port_list=0,1,2\n".to_string() } else { format!("{l}\n") })
        .collect();
    for (port, (name, addr, len)) in WIRE_NICS.iter().enumerate() {
        let a: std::net::Ipv4Addr = addr.parse().expect("WIRE_NICS holds IPv4 addresses");
        let mask = u32::MAX << (32 - len);
        let net = u32::from(a) & mask;
        let [m, b, g] = [mask, net | !mask, net | 0xfe].map(std::net::Ipv4Addr::from);
        // The gateway goes to FIB `port` (ff_veth.c ff_veth_set_gateway), which a one-FIB
        // stack refuses; F-Stack says so and goes on.
        ini.push_str(&format!(
            "[port{}]\nif_name={name}\naddr={addr}\nnetmask={m}\nbroadcast={b}\ngateway={g}\n",
            port + 1
        ));
    }
    Ok(ini)
}

impl StackProcess {
    /// Start the stack host `JNET_STACKHOST` names, with the project's `fbsd-stack/f-stack.ini`,
    /// serving `stack.sock` in `dir`; `tag` and this process's id name its DPDK runtime files.
    /// Returns the process and the socket.
    pub fn start_in(dir: &Path, tag: &str, hostuuid: &str) -> StackResult<(StackProcess, PathBuf)> {
        Self::start_with(dir, tag, hostuuid, &project_ini())
    }

    /// The same with the two NICs cabled back to back (`fbsd-stack/jnet_wire.inc`, DPDK ports 1
    /// and 2) attached too, as igb1 (`WIRE_NICS`' addresses) and igb2: what one sends the other
    /// receives.
    pub fn start_wired_in(dir: &Path, tag: &str, hostuuid: &str) -> StackResult<(StackProcess, PathBuf)> {
        let base = std::fs::read_to_string(project_ini())
            .map_err(|e| StackError::Transport(format!("read {}: {e}", project_ini().display())))?;
        let ini = dir.join("f-stack-wired.ini");
        std::fs::write(&ini, wired_ini(&base)?)
            .map_err(|e| StackError::Transport(format!("write {}: {e}", ini.display())))?;
        Self::start_with(dir, tag, hostuuid, &ini)
    }

    fn start_with(dir: &Path, tag: &str, hostuuid: &str, ini: &Path) -> StackResult<(StackProcess, PathBuf)> {
        let bin = std::env::var_os(BIN_ENV).ok_or_else(|| {
            StackError::Transport(format!("{BIN_ENV} must name the built jnet-stackhost (see .ci/fbsd-stack)"))
        })?;
        let sock = dir.join("stack.sock");
        let prefix = format!("jnet-{tag}-{}", std::process::id());
        let process = StackProcess::start(Path::new(&bin), ini, &sock, &prefix, hostuuid)?;
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
        let mut cmd = Command::new(bin);
        cmd.arg("--conf")
            .arg(ini)
            .env("JNET_STACKHOST_SOCKET", sock)
            .env("JNET_STACKHOST_HOSTUUID", hostuuid)
            .env("FF_EAL_EXTRA", eal)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        die_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| StackError::Transport(format!("start {}: {e}", bin.display())))?;
        let out = BufReader::new(child.stdout.take().expect("piped"));
        let process = StackProcess { child };
        if out.lines().map_while(Result::ok).any(|l| l.starts_with("jnet-stackhost: serving")) {
            Ok(process)
        } else {
            Err(StackError::Transport(format!("{} exited before serving", bin.display())))
        }
    }
}

/// The stack host polls its DPDK ports without rest: one whose starter died without running
/// `Drop` (a release build's panic aborts) would spin on until killed. On Linux, where the
/// stack host runs, it gets SIGKILL when the thread that started it ends (prctl(2)
/// PR_SET_PDEATHSIG).
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}
