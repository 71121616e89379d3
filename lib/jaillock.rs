//! One jail's hooks take turns (and jnet-cni's attachments keep their bridge).
//!
//! jail(8) can run the same jail's hook from two processes at once (rc.d/jail with
//! `jail_parallel_start` and a `depend` starts a jail from two jail(8) runs), and a release
//! can race a start. Two runs for one jail would each see no pair and each make one; the
//! loser's rename fails half-way. So every run that changes a jail's network holds an
//! exclusive flock(2) on a file of that jail's in the host's state directory
//! (`/var/run/jnet/locks/`), for the whole run: the second run waits, then finds what the
//! first made and converges. The lock goes with the process (a crash releases it); the
//! files stay, tiny, until the next boot empties /var/run. Runs for different jails never
//! wait for each other: what they share (bridges, vlans, netgraph bridges) the kernel
//! arbitrates. Dry runs and listings take no lock and create nothing.
//!
//! jnet-cni's `prune` takes a shared bridge away while other attachments may be being made
//! on it: its ADDs hold the bridge's lock shared, and the DEL that would take the bridge
//! away tries it exclusive, without waiting, and leaves the bridge when it cannot.

use crate::error::{Error, KernelContext, Kind, Result};
use crate::kernel::{JailRef, Kernel};
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a run waits for another run of the same jail: longer than any one run takes
/// (an in-jail step has 15 s, `jnet-release --wait` a few tens).
pub const WAIT: Duration = Duration::from_secs(90);

/// The lock, held until dropped.
#[derive(Debug)]
pub struct JailLock {
    _flock: Flock<File>,
}

/// The lock file of `what` (`jail` or `bridge`) named `name`: a hash of both (a jail name
/// may hold any character but NUL and be 255 bytes long), so two share a file only by a
/// 64-bit collision, which would only make their runs take turns.
fn file_name(what: &str, name: &str) -> String {
    let mut h = crate::mac::Fnv64::new();
    h.write(what.as_bytes());
    h.write(&[0]);
    h.write(name.as_bytes());
    format!("{what}-{:016x}", crate::mac::mix64(h.finish()))
}

fn open(state: &Path, what: &str, name: &str) -> Result<(File, std::path::PathBuf)> {
    let dir = state.join("locks");
    crate::hoststate::ensure_dir(&dir)?;
    let path = dir.join(file_name(what, name));
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Error::new(Kind::Io, format!("open {}: {e}", path.display())))?;
    Ok((f, path))
}

/// Take a lock, waiting up to `wait`; `busy` says what holds it, for the error.
fn take(file: File, path: &Path, arg: FlockArg, wait: Duration, busy: &str) -> Result<JailLock> {
    let start = Instant::now();
    let mut file = file;
    loop {
        match Flock::lock(file, arg) {
            Ok(f) => return Ok(JailLock { _flock: f }),
            Err((f, nix::errno::Errno::EWOULDBLOCK)) if start.elapsed() < wait => {
                file = f;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                return Err(Error::new(
                    Kind::TempFail,
                    format!(
                        "{busy} has held its lock ({}) for {} s; nothing was changed: wait for it to finish, or \
                         find it with fstat {}",
                        path.display(),
                        wait.as_secs(),
                        path.display()
                    ),
                ))
            }
            Err((_, e)) => return Err(Error::new(Kind::Io, format!("flock {}: {e}", path.display()))),
        }
    }
}

/// Take `jail`'s lock in `state`, waiting up to `wait` for another run to let it go.
pub fn lock_name(state: &Path, jail: &str, wait: Duration) -> Result<JailLock> {
    let (f, path) = open(state, "jail", jail)?;
    take(f, &path, FlockArg::LockExclusiveNonblock, wait, &format!("another jnet run for jail {jail}"))
}

/// A shared lock on a bridge jnet-cni attaches to: any number of attachments at once, none
/// while a DEL takes the bridge away (`try_bridge`).
pub fn share_bridge(state: &Path, bridge: &str, wait: Duration) -> Result<JailLock> {
    let (f, path) = open(state, "bridge", bridge)?;
    take(f, &path, FlockArg::LockSharedNonblock, wait, &format!("a run taking bridge {bridge} away"))
}

/// The bridge's lock alone, if no attachment is being made on it right now.
pub fn try_bridge(state: &Path, bridge: &str) -> Result<Option<JailLock>> {
    let (f, path) = open(state, "bridge", bridge)?;
    match take(f, &path, FlockArg::LockExclusiveNonblock, Duration::ZERO, "") {
        Ok(l) => Ok(Some(l)),
        Err(e) if e.kind == Kind::TempFail => Ok(None),
        Err(e) => Err(e),
    }
}

/// Take the lock of the jail `which` names. A jid is looked up for its name; a jid no jail
/// has needs no lock (the run fails on it anyway).
pub fn lock<K: Kernel>(k: &mut K, which: &JailRef) -> Result<Option<JailLock>> {
    let name = match which {
        JailRef::Name(n) => n.clone(),
        JailRef::Jid(_) => match k.jail(which).step(|| format!("look up jail {which}"))? {
            Some(j) => j.name,
            None => return Ok(None),
        },
    };
    lock_name(&k.state_dir(), &name, WAIT).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_run_per_jail_at_a_time() {
        let scratch = std::env::temp_dir().join(format!("jnet-jaillock-{}", std::process::id()));
        let held = lock_name(&scratch, "www", WAIT).unwrap();
        // Another jail's lock is free; the same jail's is not, and waiting ends with a
        // clear error.
        let other = lock_name(&scratch, "db", Duration::ZERO).unwrap();
        let e = lock_name(&scratch, "www", Duration::from_millis(20)).unwrap_err();
        assert_eq!(e.kind, Kind::TempFail);
        assert!(e.message.contains("another jnet run for jail www"), "{}", e.message);
        drop(held);
        lock_name(&scratch, "www", Duration::ZERO).unwrap();
        drop(other);
        assert_ne!(file_name("jail", "www"), file_name("jail", "www "));
        assert_ne!(file_name("jail", "www"), file_name("bridge", "www"));
        // Attachments share a bridge; taking it away waits for none of them.
        let a = share_bridge(&scratch, "cni0", WAIT).unwrap();
        let b = share_bridge(&scratch, "cni0", Duration::ZERO).unwrap();
        assert!(try_bridge(&scratch, "cni0").unwrap().is_none());
        drop((a, b));
        let x = try_bridge(&scratch, "cni0").unwrap().unwrap();
        assert!(share_bridge(&scratch, "cni0", Duration::from_millis(10)).is_err());
        drop(x);
        std::fs::remove_dir_all(&scratch).unwrap();
    }
}
