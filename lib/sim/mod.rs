//! The simulated FreeBSD host: a `Kernel` whose state is a JSON file shared by processes.
//!
//! Each kernel operation takes an exclusive `flock` on `<state>.lock`, loads the state,
//! settles time-dependent changes, consumes an injected failure if one is due, applies the
//! rule, appends a line to the operation log `<state>.ops` and, if anything changed,
//! replaces the state file atomically (write, then rename), so a process killed mid-way
//! leaves the previous state intact. One operation is atomic, as one ioctl is; a sequence
//! is not, so races between processes are as real as on FreeBSD.

/// A vnet: None is the host's, Some(jid) the vnet of VNET jail `jid`.
pub type VnetId = Option<crate::kernel::Jid>;

pub mod command;
pub mod host;
pub mod jail8;
pub mod jailconf;
pub mod jailrc;
pub mod link;
pub mod netgraph;
pub mod ngnode;
pub mod rcconf;
pub mod rcifconfig;
pub mod rcroute;
pub mod show;
pub mod slaac;
pub mod stackprocess;
pub mod stacktraffic;

use crate::errno::Errno;
use crate::error::{Error, Kind};
use crate::kernel::{
    Cidr, Gateway, IfInfo, Interfaces, JailInfo, JailRef, Jails, Jid, KResult, Nd6, Netgraph, NgHook, NgNode, System,
    Vnets,
};
use crate::mac::Mac;
use host::Host;
use nix::fcntl::{Flock, FlockArg};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable naming the state file.
pub const ENV: &str = "JNET_SIM";

/// Wall-clock milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// One line of the operation log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpRecord {
    /// milliseconds since the epoch
    pub ms: u64,
    /// the process that issued it
    pub pid: u32,
    /// "host" or the jail whose vnet it ran in
    pub vnet: String,
    /// the kernel call ("SIOCIFCREATE2")
    pub op: String,
    /// its arguments ("epair")
    pub args: String,
    /// "ok" or the errno name
    pub result: String,
}

/// Paths of a state file's companions.
#[derive(Clone, Debug)]
pub struct SimFiles {
    /// the state (JSON)
    pub state: PathBuf,
    /// the lock
    pub lock: PathBuf,
    /// the operation log (JSON lines)
    pub ops: PathBuf,
    /// the simulated host's `/var/run/jnet` (jnet's host-side records)
    pub run: PathBuf,
}

impl SimFiles {
    /// The files for state file `state`.
    pub fn new(state: &Path) -> SimFiles {
        let with = |ext: &str| {
            let mut s = state.as_os_str().to_owned();
            s.push(ext);
            PathBuf::from(s)
        };
        SimFiles { state: state.to_path_buf(), lock: with(".lock"), ops: with(".ops"), run: with(".run") }
    }

    /// The simulated host's `/var/run/jnet`.
    pub fn run_dir(&self) -> PathBuf {
        self.run.clone()
    }

    fn io_err(&self, what: &str, e: std::io::Error) -> Error {
        Error::new(Kind::Io, format!("simulated host {}: {what}: {e}", self.state.display()))
    }

    /// Take the lock (blocks until it is free).
    pub fn lock(&self) -> Result<Flock<File>, Error> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock)
            .map_err(|e| self.io_err("open lock", e))?;
        Flock::lock(f, FlockArg::LockExclusive)
            .map_err(|(_, e)| self.io_err("lock", std::io::Error::from_raw_os_error(e as i32)))
    }

    fn missing(&self) -> Error {
        Error::new(
            Kind::Unavailable,
            format!("simulated host {} does not exist: run `jnet-sim init` first", self.state.display()),
        )
    }

    /// Fail unless the state file exists (checked before locking, so a wrong path does not
    /// leave a lock file behind).
    pub fn require(&self) -> Result<(), Error> {
        if self.state.exists() {
            Ok(())
        } else {
            Err(self.missing())
        }
    }

    /// Lock, load and settle the state, let `f` change it, and save it if it changed.
    pub fn edit<T>(&self, f: impl FnOnce(&mut Host, u64) -> Result<T, Error>) -> Result<T, Error> {
        self.require()?;
        let _lock = self.lock()?;
        let now = now_ms();
        let mut loaded = self.load()?;
        // The clock is not state: a read leaves the file as it was.
        loaded.clock_ms = now;
        let mut host = loaded.clone();
        host.settle(now);
        let r = f(&mut host, now)?;
        if host != loaded {
            self.save(&host)?;
        }
        Ok(r)
    }

    /// Read the state (the caller holds the lock).
    pub fn load(&self) -> Result<Host, Error> {
        let mut s = String::new();
        File::open(&self.state).and_then(|mut f| f.read_to_string(&mut s)).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                self.missing()
            } else {
                self.io_err("read", e)
            }
        })?;
        serde_json::from_str(&s)
            .map_err(|e| Error::new(Kind::Io, format!("simulated host {}: corrupt state: {e}", self.state.display())))
    }

    /// Replace the state atomically (the caller holds the lock).
    pub fn save(&self, host: &Host) -> Result<(), Error> {
        let mut tmp = self.state.as_os_str().to_owned();
        tmp.push(format!(".tmp{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let body = serde_json::to_vec(host).map_err(|e| Error::new(Kind::Internal, e.to_string()))?;
        std::fs::write(&tmp, body).map_err(|e| self.io_err("write", e))?;
        std::fs::rename(&tmp, &self.state).map_err(|e| self.io_err("rename", e))
    }

    /// Append to the operation log (the caller holds the lock).
    pub fn log(&self, rec: &OpRecord) -> Result<(), Error> {
        let mut f =
            OpenOptions::new().create(true).append(true).open(&self.ops).map_err(|e| self.io_err("open ops", e))?;
        let mut line = serde_json::to_string(rec).map_err(|e| Error::new(Kind::Internal, e.to_string()))?;
        line.push('\n');
        f.write_all(line.as_bytes()).map_err(|e| self.io_err("append ops", e))
    }

    /// The operation log.
    pub fn ops(&self) -> Result<Vec<OpRecord>, Error> {
        let s = match std::fs::read_to_string(&self.ops) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(self.io_err("read ops", e)),
        };
        s.lines()
            .map(|l| serde_json::from_str(l).map_err(|e| Error::new(Kind::Io, format!("corrupt ops log: {e}"))))
            .collect()
    }
}

/// A directory of its own for one simulated host, in the system's temporary directory,
/// removed with everything in it when dropped: tests and the benchmark make hundreds.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A new, empty directory named after `tag`, this process and a counter.
    pub fn new(tag: &str) -> ScratchDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("jnet-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        ScratchDir(dir)
    }
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The simulated kernel as seen by one process, in one vnet.
#[derive(Debug)]
pub struct Sim {
    files: SimFiles,
    ctx: VnetId,
    /// A unit test's host lives in a scratch directory that goes with it.
    #[cfg(test)]
    scratch: Option<ScratchDir>,
}

impl Sim {
    /// Open the simulated host in `path` (it must have been made with `jnet-sim init`).
    pub fn open(path: &Path) -> Result<Sim, Error> {
        let files = SimFiles::new(path);
        files.require()?;
        Ok(Sim {
            files,
            ctx: None,
            #[cfg(test)]
            scratch: None,
        })
    }

    /// A unit test's host, with the scratch directory it lives in.
    #[cfg(test)]
    pub(crate) fn in_scratch(mut self, dir: ScratchDir) -> Sim {
        self.scratch = Some(dir);
        self
    }

    /// The files behind this host.
    pub fn files(&self) -> &SimFiles {
        &self.files
    }

    /// One kernel operation: lock, load, settle, maybe fail, apply, log, save.
    fn op<T>(
        &mut self,
        op: &str,
        args: impl Fn() -> String,
        rule: impl FnOnce(&mut Host, VnetId, u64) -> KResult<T>,
    ) -> KResult<T> {
        let _lock = self.files.lock().map_err(|_| Errno::EIO)?;
        let now = now_ms();
        let mut loaded = self.files.load().map_err(|_| Errno::EIO)?;
        // The clock is not state: an operation that changes nothing leaves the file alone.
        loaded.clock_ms = now;
        let mut host = loaded.clone();
        host.settle(now);
        let before = host.clone();
        let result = match host.fail.take() {
            Some(f) if f.after == 0 && f.kill => {
                // A crash between two kernel operations: nothing more happens, no undo runs.
                let rec = OpRecord {
                    ms: now,
                    pid: std::process::id(),
                    vnet: host.vnet_label(self.ctx),
                    op: op.to_string(),
                    args: args(),
                    result: "KILLED".into(),
                };
                let _ = self.files.log(&rec);
                let _ = self.files.save(&host);
                drop(_lock);
                // SAFETY: kill(2) on ourselves.
                unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
                unreachable!("SIGKILL cannot be caught");
            }
            Some(f) if f.after == 0 => {
                // Several failures in a row: the next operation fails too.
                if f.times > 1 {
                    host.fail = Some(host::FailSpec { times: f.times - 1, ..f.clone() });
                }
                Err(f.errno)
            }
            Some(mut f) => {
                f.after -= 1;
                host.fail = Some(f);
                let fail = host.fail.clone();
                // A failed rule changes nothing: roll back, keeping the failure counter.
                let r = rule(&mut host, self.ctx, now);
                if r.is_err() {
                    host = before.clone();
                    host.fail = fail;
                }
                r
            }
            None => {
                let r = rule(&mut host, self.ctx, now);
                if r.is_err() {
                    host = before.clone();
                }
                r
            }
        };
        let rec = OpRecord {
            ms: now,
            pid: std::process::id(),
            vnet: host.vnet_label(self.ctx),
            op: op.to_string(),
            args: args(),
            result: match &result {
                Ok(_) => "ok".into(),
                Err(e) => e.name().map(str::to_string).unwrap_or_else(|| e.0.to_string()),
            },
        };
        self.files.log(&rec).map_err(|_| Errno::EIO)?;
        if host != loaded {
            self.files.save(&host).map_err(|_| Errno::EIO)?;
        }
        result
    }
}

impl Interfaces for Sim {
    fn if_create(&mut self, cloner: &str) -> KResult<String> {
        self.op("SIOCIFCREATE2", || cloner.to_string(), |h, v, _| h.create(v, cloner))
    }
    fn if_destroy(&mut self, name: &str) -> KResult<()> {
        self.op("SIOCIFDESTROY", || name.to_string(), |h, v, _| h.destroy(v, name))
    }
    fn if_rename(&mut self, name: &str, new_name: &str) -> KResult<()> {
        self.op("SIOCSIFNAME", || format!("{name} {new_name}"), |h, v, _| h.rename(v, name, new_name))
    }
    fn if_description(&mut self, name: &str) -> KResult<Option<String>> {
        match self.op("SIOCGIFDESCR", || name.to_string(), |h, v, _| h.description(v, name)) {
            Ok(d) => Ok(Some(d)),
            Err(Errno::ENOMSG) => Ok(None),
            Err(e) => Err(e),
        }
    }
    fn if_set_description(&mut self, name: &str, descr: Option<&str>) -> KResult<()> {
        self.op(
            "SIOCSIFDESCR",
            || format!("{name} {:?}", descr.unwrap_or("")),
            |h, v, _| h.set_description(v, name, descr),
        )
    }
    fn if_groups(&mut self, name: &str) -> KResult<Vec<String>> {
        self.op("SIOCGIFGROUP", || name.to_string(), |h, v, _| h.groups(v, name))
    }
    fn if_add_group(&mut self, name: &str, group: &str) -> KResult<()> {
        self.op("SIOCAIFGROUP", || format!("{name} {group}"), |h, v, _| h.add_group(v, name, group))
    }
    fn if_del_group(&mut self, name: &str, group: &str) -> KResult<()> {
        self.op("SIOCDIFGROUP", || format!("{name} {group}"), |h, v, _| h.del_group(v, name, group))
    }
    fn if_flags(&mut self, name: &str) -> KResult<u32> {
        self.op("SIOCGIFFLAGS", || name.to_string(), |h, v, _| h.flags(v, name))
    }
    fn if_set_flags(&mut self, name: &str, flags: u32) -> KResult<()> {
        self.op("SIOCSIFFLAGS", || format!("{name} {flags:#x}"), |h, v, now| h.set_flags(v, name, flags, now))
    }
    fn if_mtu(&mut self, name: &str) -> KResult<u32> {
        self.op("SIOCGIFMTU", || name.to_string(), |h, v, _| h.mtu(v, name))
    }
    fn if_set_mtu(&mut self, name: &str, mtu: u32) -> KResult<()> {
        self.op("SIOCSIFMTU", || format!("{name} {mtu}"), |h, v, _| h.set_mtu(v, name, mtu))
    }
    fn if_capenable(&mut self, name: &str) -> KResult<u32> {
        self.op("SIOCGIFCAP", || name.to_string(), |h, v, _| h.capenable(v, name))
    }
    fn if_set_capenable(&mut self, name: &str, caps: u32) -> KResult<()> {
        self.op("SIOCSIFCAP", || format!("{name} {caps:#x}"), |h, v, _| h.set_capenable(v, name, caps))
    }
    fn if_vlan(&mut self, name: &str) -> KResult<(String, u16, u16)> {
        self.op("SIOCGETVLAN", || name.to_string(), |h, v, _| h.vlan_of(v, name))
    }
    fn if_set_mac(&mut self, name: &str, mac: Mac) -> KResult<()> {
        self.op("SIOCSIFLLADDR", || format!("{name} {mac}"), |h, v, _| h.set_mac(v, name, mac))
    }
    fn if_add_addr(&mut self, name: &str, addr: Cidr, flags6: u32) -> KResult<()> {
        let op = if addr.addr.is_ipv4() { "SIOCAIFADDR" } else { "SIOCAIFADDR_IN6" };
        self.op(op, || format!("{name} {addr}"), |h, v, now| h.add_addr(v, name, addr, flags6, now))
    }
    fn if_del_addr(&mut self, name: &str, addr: IpAddr) -> KResult<()> {
        let op = if addr.is_ipv4() { "SIOCDIFADDR" } else { "SIOCDIFADDR_IN6" };
        self.op(op, || format!("{name} {addr}"), |h, v, _| h.del_addr(v, name, addr))
    }
    fn if_addr6_flags(&mut self, name: &str, addr: Ipv6Addr) -> KResult<u32> {
        self.op("SIOCGIFAFLAG_IN6", || format!("{name} {addr}"), |h, v, _| h.addr6_flags(v, name, addr))
    }
    fn if_nd6(&mut self, name: &str) -> KResult<Nd6> {
        self.op(
            "SIOCGIFINFO_IN6",
            || name.to_string(),
            |h, v, _| h.nd6(v, name).map(|n| Nd6 { flags: n.flags, retrans_ms: n.retrans }),
        )
    }
    fn if_set_nd6_flags(&mut self, name: &str, flags: u32) -> KResult<()> {
        self.op(
            "SIOCSIFINFO_IN6",
            || format!("{name} flags={flags:#x}"),
            |h, v, now| {
                let mut ndi = h.nd6(v, name)?;
                ndi.flags = flags;
                h.set_nd6(v, name, &ndi, now)
            },
        )
    }
    fn bridge_add(&mut self, bridge: &str, member: &str) -> KResult<()> {
        self.op("BRDGADD", || format!("{bridge} {member}"), |h, v, _| h.bridge_add(v, bridge, member))
    }
    fn bridge_del(&mut self, bridge: &str, member: &str) -> KResult<()> {
        self.op("BRDGDEL", || format!("{bridge} {member}"), |h, v, _| h.bridge_del(v, bridge, member))
    }
    fn bridge_members(&mut self, bridge: &str) -> KResult<Vec<String>> {
        self.op("BRDGGIFS", || bridge.to_string(), |h, v, _| h.bridge_members(v, bridge))
    }
    fn if_lagg(&mut self, name: &str) -> KResult<Option<crate::kernel::Lagg>> {
        self.op(
            "SIOCGLAGG",
            || name.to_string(),
            |h, v, _| {
                let ifp = h.find(v, name).ok_or(Errno::ENXIO)?;
                Ok(match &ifp.kind {
                    host::IfKind::Lagg { proto, ports } => Some(crate::kernel::Lagg {
                        proto: crate::freebsd::abi::lagg::name(*proto).to_string(),
                        ports: ports.clone(),
                    }),
                    _ => None,
                })
            },
        )
    }
    fn if_driver(&mut self, name: &str) -> KResult<String> {
        self.op("sysctl", || format!("ifdata.{name}.drivername"), |h, v, _| h.driver(v, name))
    }
    fn if_list(&mut self) -> KResult<Vec<IfInfo>> {
        self.op("getifaddrs", String::new, |h, v, _| Ok(h.list(v)))
    }
    fn if_index(&mut self, name: &str) -> KResult<u32> {
        self.op("SIOCGIFINDEX", || name.to_string(), |h, v, _| h.find(v, name).map(|i| i.index).ok_or(Errno::ENXIO))
    }
}

impl Vnets for Sim {
    fn if_move_to_jail(&mut self, name: &str, jid: Jid) -> KResult<String> {
        self.op("SIOCSIFVNET", || format!("{name} {jid}"), |h, v, _| h.move_to_jail(v, name, jid))
    }
    fn if_reclaim(&mut self, name: &str, jid: Jid) -> KResult<String> {
        self.op("SIOCSIFRVNET", || format!("{name} {jid}"), |h, v, _| h.reclaim(v, name, jid))
    }
    fn in_jail_within<R, F>(&mut self, jid: Jid, deadline: std::time::Duration, step: F) -> Result<R, Error>
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce(&mut Self) -> Result<R, Error>,
    {
        // jail_attach(2): EINVAL unless the jail exists and is alive.
        let (vnet, trap) = self
            .op(
                "jail_attach",
                || jid.to_string(),
                |h, _, _| match h.jail_by_jid(jid) {
                    Some(j) if j.state == host::JailState::Alive => Ok((j.vnet_id(), j.trap)),
                    _ => Err(Errno::EINVAL),
                },
            )
            .map_err(|e| Error::kernel(format!("attach to jail {jid}"), e))?;
        // What the jail's root does to a process that enters his jail (`jnet-sim jail trap`):
        // the FreeBSD backend's child is killed at the deadline, or dies; the sim answers
        // as it would, without the wait.
        match trap {
            Some(host::Trap::Stop) => return Err(crate::child::timed_out(&jid.to_string(), deadline)),
            Some(host::Trap::Kill) => return Err(crate::child::died(&jid.to_string(), "killed by signal 9")),
            None => {}
        }
        let saved = std::mem::replace(&mut self.ctx, vnet);
        let r = step(self);
        self.ctx = saved;
        r
    }
}

/// How route(8) names a destination: `default` (`-inet6` for IPv6's), else `-net NETWORK/LEN`.
fn route_words(dst: Cidr) -> String {
    match (dst.is_default(), dst.addr.is_ipv6()) {
        (true, false) => "default".into(),
        (true, true) => "default -inet6".into(),
        (false, _) => format!("-net {}", dst.network()),
    }
}

impl crate::kernel::Routes for Sim {
    fn route(&mut self, dst: Cidr) -> KResult<Option<Gateway>> {
        self.op(
            "RTM_GET",
            || route_words(dst),
            |h, v, _| match h.route(v, dst) {
                Ok(g) => Ok(Some(g)),
                Err(Errno::ESRCH) => Ok(None),
                Err(e) => Err(e),
            },
        )
    }
    fn add_route(&mut self, dst: Cidr, gateway: Gateway) -> KResult<()> {
        self.op("RTM_ADD", || format!("{} {gateway}", route_words(dst)), |h, v, _| h.add_route(v, dst, gateway))
    }
    fn del_route(&mut self, dst: Cidr) -> KResult<()> {
        self.op("RTM_DELETE", || route_words(dst), |h, v, _| h.del_route(v, dst))
    }
}

impl Jails for Sim {
    fn jail(&mut self, which: &JailRef) -> KResult<Option<JailInfo>> {
        self.op(
            "jail_get",
            || which.to_string(),
            |h, _, _| {
                Ok(match which {
                    JailRef::Jid(j) => h.jail_by_jid(*j),
                    JailRef::Name(n) => h.jail_by_name(n),
                }
                .map(|j| j.info()))
            },
        )
    }
    fn jail_ip6(&mut self, jid: Jid) -> KResult<Vec<Ipv6Addr>> {
        self.op(
            "jail_get",
            || format!("{jid} ip6.addr"),
            |h, _, _| {
                let j = h.jail_by_jid(jid).ok_or(Errno::ENOENT)?;
                Ok(j.ips
                    .iter()
                    .filter_map(|(_, c)| match c.addr {
                        IpAddr::V6(a) => Some(a),
                        IpAddr::V4(_) => None,
                    })
                    .collect())
            },
        )
    }
    fn jails(&mut self) -> KResult<Vec<JailInfo>> {
        self.op("jail_get", || "lastjid".into(), |h, _, _| Ok(h.jails.iter().map(|j| j.info()).collect()))
    }
}

impl Sim {
    /// A netgraph operation, sent from this process's control-socket node in its vnet.
    fn ng_op<T>(
        &mut self,
        to: &str,
        op: &str,
        args: impl Fn() -> String,
        rule: impl FnOnce(&mut Host, VnetId, u32, u64) -> KResult<T>,
    ) -> KResult<T> {
        self.op(op, args, |h, v, now| {
            // The destination travels in a struct sockaddr_ng, and ng_socket's sendto refuses
            // sg_len > NG_NODESIZ + 2 (ng_socket.c): a path of at most 31 characters.
            if to.len() > 31 {
                return Err(Errno::EINVAL);
            }
            let me = h.ng_socket(v, std::process::id())?;
            rule(h, v, me, now)
        })
    }
}

impl Sim {
    /// A type-specific message that sets one switch of the node at `path`; `field` picks
    /// it out of the node's state, and a node of another type does not know the message
    /// (EINVAL).
    fn ng_set(
        &mut self,
        op: &str,
        path: &str,
        on: bool,
        field: impl FnOnce(&mut netgraph::NgKind) -> Option<&mut bool>,
    ) -> KResult<()> {
        self.ng_op(
            path,
            op,
            || format!("{path} {}", on as u8),
            |h, v, me, _| match field(&mut h.ng_typed(v, me, path)?.kind) {
                Some(f) => {
                    *f = on;
                    Ok(())
                }
                None => Err(Errno::EINVAL),
            },
        )
    }
}

impl Netgraph for Sim {
    fn ng_mkpeer(&mut self, path: &str, node_type: &str, ourhook: &str, peerhook: &str) -> KResult<()> {
        self.ng_op(
            path,
            "NGM_MKPEER",
            || format!("{path} {node_type} {ourhook} {peerhook}"),
            |h, v, me, _| h.ng_mkpeer(v, me, path, node_type, ourhook, peerhook),
        )
    }
    fn ng_connect(&mut self, path: &str, peer_path: &str, ourhook: &str, peerhook: &str) -> KResult<()> {
        self.ng_op(
            path,
            "NGM_CONNECT",
            || format!("{path} {peer_path} {ourhook} {peerhook}"),
            |h, v, me, _| h.ng_connect(v, me, path, peer_path, ourhook, peerhook),
        )
    }
    fn ng_name(&mut self, path: &str, name: &str) -> KResult<()> {
        self.ng_op(path, "NGM_NAME", || format!("{path} {name}"), |h, v, me, _| h.ng_name(v, me, path, name))
    }
    fn ng_rmhook(&mut self, path: &str, hook: &str) -> KResult<()> {
        self.ng_op(path, "NGM_RMHOOK", || format!("{path} {hook}"), |h, v, me, _| h.ng_rmhook(v, me, path, hook))
    }
    fn ng_shutdown(&mut self, path: &str) -> KResult<()> {
        self.ng_op(path, "NGM_SHUTDOWN", || path.to_string(), |h, v, me, now| h.ng_shutdown(v, me, path, now))
    }
    fn ng_node(&mut self, path: &str) -> KResult<NgNode> {
        self.ng_op(path, "NGM_NODEINFO", || path.to_string(), |h, v, me, _| h.ng_nodeinfo(v, me, path))
    }
    fn ng_hooks(&mut self, path: &str) -> KResult<(NgNode, Vec<NgHook>)> {
        self.ng_op(path, "NGM_LISTHOOKS", || path.to_string(), |h, v, me, _| h.ng_listhooks(v, me, path))
    }
    fn ng_nodes(&mut self) -> KResult<Vec<NgNode>> {
        self.ng_op(".", "NGM_LISTNODES", String::new, |h, v, _me, _| Ok(h.ng_listnodes(v)))
    }
    fn ng_eiface_ifname(&mut self, path: &str) -> KResult<String> {
        self.ng_op(
            path,
            "NGM_EIFACE_GET_IFNAME",
            || path.to_string(),
            |h, v, me, _| match h.ng_typed(v, me, path)?.kind {
                netgraph::NgKind::Eiface { ifindex } => h.ng_ifname(ifindex),
                _ => Err(Errno::EINVAL),
            },
        )
    }
    fn ng_ether_ifname(&mut self, path: &str) -> KResult<String> {
        self.ng_op(
            path,
            "NGM_ETHER_GET_IFNAME",
            || path.to_string(),
            |h, v, me, _| match h.ng_typed(v, me, path)?.kind {
                netgraph::NgKind::Ether { ifindex, .. } => h.ng_ifname(ifindex),
                _ => Err(Errno::EINVAL),
            },
        )
    }
    fn ng_ether_set_promisc(&mut self, path: &str, on: bool) -> KResult<()> {
        self.ng_op(
            path,
            "NGM_ETHER_SET_PROMISC",
            || format!("{path} {}", on as u8),
            |h, v, me, _| h.ng_ether_promisc(v, me, path, on),
        )
    }
    fn ng_ether_set_autosrc(&mut self, path: &str, on: bool) -> KResult<()> {
        self.ng_set("NGM_ETHER_SET_AUTOSRC", path, on, |k| match k {
            netgraph::NgKind::Ether { autosrc, .. } => Some(autosrc),
            _ => None,
        })
    }
    fn ng_bridge_set_persistent(&mut self, path: &str) -> KResult<()> {
        self.ng_set("NGM_BRIDGE_SET_PERSISTENT", path, true, |k| match k {
            netgraph::NgKind::Bridge { persistent } => Some(persistent),
            _ => None,
        })
    }
    fn ng_bridge_link_stats(&mut self, path: &str, link: i32) -> KResult<[u64; 14]> {
        self.ng_op(
            path,
            "NGM_BRIDGE_GET_STATS",
            || format!("{path} {link}"),
            |h, v, me, _| {
                let node = h.ng_typed(v, me, path)?;
                let hook = if link < 0 { format!("uplink{}", -link) } else { format!("link{link}") };
                match node.kind {
                    netgraph::NgKind::Bridge { .. } if node.hooks.iter().any(|x| x.name == hook) => Ok([0; 14]),
                    netgraph::NgKind::Bridge { .. } => Err(Errno::ENOTCONN),
                    _ => Err(Errno::EINVAL),
                }
            },
        )
    }
}

impl Drop for Sim {
    /// close(2) of the control socket: its node shuts down, and bridges whose last hook it
    /// held follow unless persistent.
    fn drop(&mut self) {
        let pid = std::process::id();
        let _ = self.files.edit(|h, _| {
            let vnets: Vec<VnetId> =
                h.netgraph.iter().filter(|n| n.kind == (netgraph::NgKind::Socket { pid })).map(|n| n.vnet).collect();
            for v in vnets {
                h.ng_close(v, pid);
            }
            Ok(())
        });
    }
}

/// Modules a FreeBSD kernel would find for `kldload`.
const KNOWN_MODULES: &[&str] =
    &["if_epair", "if_bridge", "if_vlan", "netgraph", "ng_socket", "ng_bridge", "ng_eiface", "ng_ether"];

impl System for Sim {
    fn sysctl_int(&mut self, name: &str) -> KResult<i64> {
        self.op("sysctl", || name.to_string(), |h, _, _| h.sysctls.get(name).copied().ok_or(Errno::ENOENT))
    }
    fn sysctl_string(&mut self, name: &str) -> KResult<String> {
        self.op(
            "sysctl",
            || name.to_string(),
            |h, _, _| match name {
                "kern.hostuuid" => Ok(h.hostuuid.clone()),
                _ => Err(Errno::ENOENT),
            },
        )
    }
    fn state_dir(&self) -> std::path::PathBuf {
        self.files.run_dir()
    }
    fn kld_load(&mut self, module: &str) -> KResult<()> {
        self.op(
            "kldload",
            || module.to_string(),
            |h, v, _| {
                // kldload needs PRIV_KLD_LOAD, which no jail has.
                if v.is_some() {
                    return Err(Errno::EPERM);
                }
                if !KNOWN_MODULES.contains(&module) {
                    return Err(Errno::ENOENT);
                }
                // Already loaded is EEXIST from the kernel; the trait's contract is "loaded".
                // Loading ng_ether attaches it to every Ethernet ifnet there is (its
                // MOD_LOAD); loading it again does nothing.
                if h.modules.insert(module.to_string()) && module == "ng_ether" {
                    h.ng_ether_attach_all();
                }
                Ok(())
            },
        )
    }
}

#[cfg(test)]
mod tests;
