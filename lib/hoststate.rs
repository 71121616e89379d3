//! The little host state jnet cannot keep in the kernel, in a root-only directory on the
//! host (`System::state_dir`, `/var/run/jnet` on FreeBSD).
//!
//! Everything else jnet knows it reads back from the kernel. These two things cannot be
//! read back from anything a jail's root cannot write: what a dedicated NIC looked like on
//! the host before it was lent to a jail (its name, description, groups and state travel
//! into the jail, where its root may change them), and the secret that keys netgraph node
//! names. Files are written whole and renamed into place, so a reader never sees half a
//! record; `/var/run` is emptied at boot, as are the NICs' loans and netgraph.

use crate::error::{Error, Kind, Result};
use serde::{de::DeserializeOwned, Serialize};
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

fn io(what: impl std::fmt::Display, e: std::io::Error) -> Error {
    Error::new(Kind::Io, format!("{what}: {e}"))
}

/// Make `dir` (and its parents) if missing, mode 0700, and refuse one that others may
/// write to or that another user owns: its files decide what jnet restores on the host.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    match fs::DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) => return Err(io(format!("create {}", dir.display()), e)),
    }
    check_dir(dir).map(|_| ())
}

/// `ensure_dir`'s checks without creating anything, for readers: false if `dir` does not
/// exist, an error if it exists and fails them (records there are not to be believed).
pub fn check_dir(dir: &Path) -> Result<bool> {
    let m = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(format!("look at {}", dir.display()), e)),
    };
    // SAFETY: geteuid(2) cannot fail.
    let me = unsafe { libc::geteuid() };
    if !m.is_dir() || m.uid() != me || m.permissions().mode() & 0o022 != 0 {
        return Err(Error::new(
            Kind::Io,
            format!(
                "{} must be a directory owned by uid {me} that no one else can write to (it is mode {:o}, uid {}): \
                 jnet keeps host records there",
                dir.display(),
                m.permissions().mode() & 0o7777,
                m.uid()
            ),
        ));
    }
    Ok(true)
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".tmp{}", std::process::id()));
    PathBuf::from(s)
}

fn write_tmp(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let tmp = tmp_path(path);
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io(format!("create {}", tmp.display()), e))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| io(format!("write {}", tmp.display()), e))?;
    Ok(tmp)
}

/// Write `path` whole: a temporary file renamed over it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = write_tmp(path, bytes)?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io(format!("rename {} to {}", tmp.display(), path.display()), e)
    })
}

/// Write `path` whole unless it exists; false if another writer got there first.
pub fn create_atomic(path: &Path, bytes: &[u8]) -> Result<bool> {
    let tmp = write_tmp(path, bytes)?;
    // link(2) fails with EEXIST instead of replacing: of two racing writers, one wins.
    let r = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io(format!("create {}", path.display()), e)),
    }
}

/// Read `path`; None if it does not exist.
pub fn read(path: &Path) -> Result<Option<Vec<u8>>> {
    let mut f = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(format!("open {}", path.display()), e)),
    };
    let mut v = vec![];
    f.read_to_end(&mut v).map_err(|e| io(format!("read {}", path.display()), e))?;
    Ok(Some(v))
}

/// Remove `path`; already gone is fine.
pub fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(format!("remove {}", path.display()), e)),
    }
}

/// A JSON record.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match read(path)? {
        None => Ok(None),
        Some(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| Error::new(Kind::Io, format!("{} is not a jnet record: {e}", path.display()))),
    }
}

/// Write a JSON record whole.
pub fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    let b = serde_json::to_vec_pretty(v).map_err(|e| Error::new(Kind::Internal, format!("encode a record: {e}")))?;
    write_atomic(path, &b)
}

fn random16() -> Result<[u8; 16]> {
    let mut k = [0u8; 16];
    fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut k)).map_err(|e| io("read /dev/urandom", e))?;
    Ok(k)
}

/// This host's secret for netgraph node names (`<dir>/ngkey`), if there is one; nothing is
/// made, and the directory must pass the checks it is written under.
pub fn read_naming_key(dir: &Path) -> Result<Option<[u8; 16]>> {
    if !check_dir(dir)? {
        return Ok(None);
    }
    let path = dir.join("ngkey");
    match read(&path)? {
        None => Ok(None),
        Some(b) => b
            .as_slice()
            .try_into()
            .map(Some)
            .map_err(|_| Error::new(Kind::Io, format!("{} is not a 16-byte key", path.display()))),
    }
}

/// This host's secret for netgraph node names (`<dir>/ngkey`), made if there is none.
/// Several hooks starting at once agree on one: the first to create the file wins. Only for
/// a caller that has checked no node named with a lost key exists (`ngplan::naming_key`).
pub fn naming_key(dir: &Path) -> Result<[u8; 16]> {
    let path = dir.join("ngkey");
    for _ in 0..2 {
        if let Some(key) = read_naming_key(dir)? {
            return Ok(key);
        }
        ensure_dir(dir)?;
        create_atomic(&path, &random16()?)?;
    }
    Err(Error::new(Kind::Io, format!("{} vanished while it was being made", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory path of its own (the tests make and remove it).
    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("jnet-hoststate-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn key_is_made_once_and_kept() {
        let d = dir("key");
        let k1 = naming_key(&d).unwrap();
        let k2 = naming_key(&d).unwrap();
        assert_eq!(k1, k2);
        assert_eq!(fs::metadata(&d).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(fs::metadata(d.join("ngkey")).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(!create_atomic(&d.join("ngkey"), b"x").unwrap());
        assert_eq!(naming_key(&d).unwrap(), k1);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_open_directory_is_refused() {
        let d = dir("open");
        fs::create_dir_all(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
        let e = ensure_dir(&d).unwrap_err();
        assert!(e.message.contains("no one else can write"), "{e}");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn records_are_written_whole() {
        let d = dir("rec");
        ensure_dir(&d).unwrap();
        let p = d.join("r.json");
        assert_eq!(read_json::<Vec<u32>>(&p).unwrap(), None);
        write_json(&p, &vec![1u32, 2]).unwrap();
        write_json(&p, &vec![3u32]).unwrap();
        assert_eq!(read_json::<Vec<u32>>(&p).unwrap(), Some(vec![3]));
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1, "no temporary file is left");
        remove(&p).unwrap();
        remove(&p).unwrap();
        fs::remove_dir_all(&d).unwrap();
    }
}
