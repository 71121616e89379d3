//! Write-ahead intents: what a jnet run is about to make on the host that carries none of
//! jnet's marks until a later operation gives it them.
//!
//! Between SIOCIFCREATE2 and the tag that names an interface jnet's (the group, then the
//! description), and between splicing an ng_bridge onto a NIC and naming it, a crash would
//! leave something no scan can tell from the administrator's. So before such an operation
//! the run writes an intent, naming exactly what it will make (an interface under the
//! exact name it asks the kernel for: `epair7`, `bridge3`, `igb1.20`; the NIC it splices),
//! in `intents/` of the host's state directory (root-only, `hoststate::ensure_dir`), and
//! holds an exclusive flock(2) on the file while it lives. The run removes it when the plan
//! is done, made or undone. A crash leaves the file and releases the lock: `jnet-release
//! --stale` takes such intents (the lock is free, so their writer is gone), looks at what
//! they name, and takes away only what still carries no mark and is as the run left it
//! (`release::undo_intent`); what carries the marks is jnet's, and the rest of `--stale`
//! sees it.

use crate::error::{Error, Kind, Result};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// What a run is about to make.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Creation {
    /// An interface of `cloner` created as `names[0]` (an epair: its ends `…a`, `…b`), and
    /// the names it gets next (a bridge renamed after it is made).
    Interface {
        /// the cloner: epair, bridge, vlan
        cloner: String,
        /// the name it is created under, then any it is renamed to
        names: Vec<String>,
        /// the jail it is for, if one
        #[serde(default)]
        jail: Option<String>,
    },
    /// A standalone ng_bridge made under this name (`--virtual`), persistent, on which the
    /// run is to connect its eiface.
    NgBridge {
        /// its name
        bridge: String,
    },
    /// A release that takes the ng_bridges its jail's eifaces were on away (`--prune`)
    /// once they are shut down: a crash in between leaves bridges no mark ties to jnet.
    Prune {
        /// the bridges
        ng_bridges: Vec<String>,
    },
    /// An ng_bridge spliced onto the ng_ether node `ether` (a NIC's, or a vlan's: `igb1_20`),
    /// its lower and upper hooks, to be named
    /// `bridge`.
    Splice {
        /// the ng_ether node's name
        ether: String,
        /// the bridge's name
        bridge: String,
    },
}

#[derive(Serialize, Deserialize)]
struct Record {
    program: String,
    pid: u32,
    what: Creation,
}

/// The directory of the intents in the host's state directory.
pub fn dir(state: &Path) -> PathBuf {
    state.join("intents")
}

fn io(what: impl std::fmt::Display, e: std::io::Error) -> Error {
    Error::new(Kind::Io, format!("{what}: {e}"))
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A live intent: its file, locked for as long as this value lives. Dropping it (the run
/// is over, made or undone) removes the file.
#[derive(Debug)]
pub struct Intent {
    path: PathBuf,
    file: Option<Flock<File>>,
}

impl Intent {
    /// Write the intent before acting: a temporary file, locked, written and synced, then
    /// renamed into place, so a file in `intents/` is always whole and locked while its
    /// writer lives.
    pub fn begin(state: &Path, program: &str, what: Creation) -> Result<Intent> {
        let d = dir(state);
        crate::hoststate::ensure_dir(&d)?;
        // The time in the name too: a later process with a crashed one's pid must not
        // replace its intent.
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let stem = format!("{}-{t}-{n}", std::process::id());
        let path = d.join(format!("{stem}.json"));
        let tmp = d.join(format!(".{stem}.tmp"));
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| io(format!("create {}", tmp.display()), e))?;
        let f = Flock::lock(f, FlockArg::LockExclusiveNonblock)
            .map_err(|(_, e)| Error::new(Kind::Io, format!("flock {}: {e}", tmp.display())))?;
        let mut intent = Intent { path: tmp.clone(), file: Some(f) };
        intent.write(program, what)?;
        std::fs::rename(&tmp, &path).map_err(|e| io(format!("rename {} to {}", tmp.display(), path.display()), e))?;
        intent.path = path;
        Ok(intent)
    }

    /// Say what is about to be made now (the next unit to try, say).
    pub fn update(&mut self, program: &str, what: Creation) -> Result<()> {
        self.write(program, what)
    }

    fn write(&mut self, program: &str, what: Creation) -> Result<()> {
        let rec = Record { program: program.to_string(), pid: std::process::id(), what };
        let bytes =
            serde_json::to_vec(&rec).map_err(|e| Error::new(Kind::Internal, format!("encode an intent: {e}")))?;
        let path = self.path.clone();
        let f = self.file.as_mut().ok_or_else(|| Error::new(Kind::Internal, "an intent used after its end"))?;
        // No fsync: what an intent guards against is a process killed mid-run, whose
        // writes the kernel keeps; a host that loses power empties /var/run at boot, and
        // the interfaces with it.
        f.set_len(0)
            .and_then(|_| f.rewind())
            .and_then(|_| f.write_all(&bytes))
            .map_err(|e| io(format!("write {}", path.display()), e))
    }
}

impl Drop for Intent {
    fn drop(&mut self) {
        // Removed while still locked: --stale never sees it unlocked and whole.
        let _ = std::fs::remove_file(&self.path);
        self.file.take();
    }
}

/// An intent whose writer is gone (its lock was free), held locked while it is looked at;
/// `done` removes it.
#[derive(Debug)]
pub struct Orphan {
    /// what its writer was making
    pub what: Creation,
    /// the program that wrote it
    pub program: String,
    path: PathBuf,
    _file: Flock<File>,
}

impl Orphan {
    /// What it named has been dealt with: the intent goes.
    pub fn done(self) -> Result<()> {
        crate::hoststate::remove(&self.path)
    }
}

/// The intents of runs that are gone, in `state`'s `intents/`. A live run's intents are
/// locked and skipped. The directory is read only if it passes the checks records do
/// (`hoststate::check_dir`); a file that is not an intent is an error, not ignored.
pub fn orphans(state: &Path) -> Result<Vec<Orphan>> {
    let d = dir(state);
    if !crate::hoststate::check_dir(&d)? {
        return Ok(vec![]);
    }
    let all: Vec<PathBuf> = std::fs::read_dir(&d)
        .map_err(|e| io(format!("read {}", d.display()), e))?
        .flatten()
        .map(|e| e.path())
        .collect();
    // A crash before its intent was renamed into place leaves a temporary file with nothing
    // in it to act on: gone once no one holds it.
    for tmp in all.iter().filter(|p| p.extension().is_some_and(|x| x == "tmp")) {
        if let Ok(f) = OpenOptions::new().read(true).open(tmp) {
            if Flock::lock(f, FlockArg::LockExclusiveNonblock).is_ok() {
                let _ = std::fs::remove_file(tmp);
            }
        }
    }
    let mut names: Vec<PathBuf> = all.into_iter().filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
    names.sort();
    let mut out = vec![];
    for path in names {
        let f = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => f,
            // Its writer finished meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(format!("open {}", path.display()), e)),
        };
        let f = match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(f) => f,
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => continue,
            Err((_, e)) => return Err(Error::new(Kind::Io, format!("flock {}: {e}", path.display()))),
        };
        // Removed by its writer between our open and our lock: nothing to do.
        if !path.exists() {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| io(format!("read {}", path.display()), e))?;
        let rec: Record = serde_json::from_slice(&bytes)
            .map_err(|e| Error::new(Kind::Io, format!("{} is not a jnet intent: {e}", path.display())))?;
        out.push(Orphan { what: rec.what, program: rec.program, path, _file: f });
    }
    Ok(out)
}

/// The next unit to ask `cloner` for: a hint kept in `units/` of the state directory (the
/// unit after the last one jnet made), so that a run names the interface it creates
/// before creating it without trying every unit renamed interfaces hold. Only a hint: the
/// kernel's EEXIST decides.
pub fn unit_hint(state: &Path, cloner: &str) -> u32 {
    let p = state.join("units").join(cloner);
    crate::hoststate::read(&p)
        .ok()
        .flatten()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Remember that `unit` of `cloner` was made (a hint: written whole, not synced).
pub fn unit_made(state: &Path, cloner: &str, unit: u32) -> Result<()> {
    let d = state.join("units");
    crate::hoststate::ensure_dir(&d)?;
    let path = d.join(cloner);
    let tmp = d.join(format!(".{cloner}.{}", std::process::id()));
    std::fs::write(&tmp, format!("{}\n", unit + 1))
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| io(format!("write {}", path.display()), e))
}

#[cfg(all(test, feature = "sim"))]
mod tests {
    use super::*;

    #[test]
    fn an_intent_is_orphaned_only_when_its_writer_is_gone() {
        let d = crate::sim::ScratchDir::new("intent");
        let what =
            Creation::Interface { cloner: "epair".into(), names: vec!["epair3".into()], jail: Some("www".into()) };
        let live = Intent::begin(d.path(), "jnet-epair", what.clone()).unwrap();
        assert!(orphans(d.path()).unwrap().is_empty(), "a live intent is locked");
        // A crash: the lock goes, the file stays.
        let path = live.path.clone();
        let mut live = live;
        live.file.take();
        std::mem::forget(live);
        let o = orphans(d.path()).unwrap();
        assert_eq!(o.len(), 1);
        assert_eq!((o[0].what.clone(), o[0].program.as_str()), (what, "jnet-epair"));
        assert!(path.exists());
        o.into_iter().next().unwrap().done().unwrap();
        assert!(!path.exists());
        // A temporary file a crash left before its rename goes once no one holds it.
        std::fs::write(dir(d.path()).join(".1-2-3.tmp"), b"").unwrap();
        assert!(orphans(d.path()).unwrap().is_empty());
        // A finished run leaves nothing.
        drop(
            Intent::begin(
                d.path(),
                "jnet-epair",
                Creation::Splice { ether: "igb1".into(), bridge: "igb1bridge".into() },
            )
            .unwrap(),
        );
        assert!(std::fs::read_dir(dir(d.path())).unwrap().next().is_none());
    }

    #[test]
    fn unit_hints() {
        let d = crate::sim::ScratchDir::new("units");
        assert_eq!(unit_hint(d.path(), "epair"), 0);
        unit_made(d.path(), "epair", 41).unwrap();
        assert_eq!(unit_hint(d.path(), "epair"), 42);
    }
}
