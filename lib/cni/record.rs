//! Which jail interface each CNI attachment is, kept on the host.
//!
//! An attachment (network, CNI_CONTAINERID, CNI_IFNAME) becomes epair `index` of the jail
//! CNI_NETNS names. A DEL may come without CNI_NETNS, after the jail is gone, and a GC names
//! only container IDs: so each attachment has a record, in the root-only state directory
//! (`/var/run/jnet/cni`), named after the epair's host end (`e0a_c1.json`). The name is the
//! claim: the record is created with link(2), so of two attachments that would be the same
//! epair one wins and the other is refused, and a crash between the record and the epair
//! leaves a record that DEL and GC find.

use super::spec::{code, CniError};
use crate::hoststate;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One attachment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The network's name.
    pub network: String,
    /// CNI_CONTAINERID.
    pub container_id: String,
    /// CNI_IFNAME.
    pub ifname: String,
    /// The jail's name.
    pub jail: String,
    /// Its epair's index.
    pub index: u32,
}

impl Record {
    /// Is this the attachment (network, container, ifname)?
    pub fn is(&self, network: &str, container_id: &str, ifname: &str) -> bool {
        self.network == network && self.container_id == container_id && self.ifname == ifname
    }
}

/// The records' directory under the host's state directory.
pub fn dir(state: &Path) -> PathBuf {
    state.join("cni")
}

fn path_of(dir: &Path, host_end: &str) -> PathBuf {
    dir.join(format!("{host_end}.json"))
}

fn io(e: crate::error::Error) -> CniError {
    CniError::new(code::IO_FAILURE, e.message)
}

/// Claim epair `host_end` for `rec`: made now, or already this attachment's (an ADD run
/// again). Another attachment's is refused, with what it is.
pub fn claim(dir: &Path, host_end: &str, rec: &Record) -> Result<PathBuf, CniError> {
    hoststate::ensure_dir(dir).map_err(io)?;
    let path = path_of(dir, host_end);
    let bytes = serde_json::to_vec_pretty(rec).expect("a record encodes");
    if hoststate::create_atomic(&path, &bytes).map_err(io)? {
        return Ok(path);
    }
    match hoststate::read_json::<Record>(&path).map_err(io)? {
        Some(have) if have == *rec => Ok(path),
        Some(have) => Err(CniError::new(
            code::JNET_BASE + crate::error::sysexits::CONFIG as u32,
            format!(
                "interface {} of jail {} is attachment {} of container {} in network {} already; give this \
                 attachment another CNI_IFNAME (its digits choose the interface), or DEL that one first",
                have.ifname, have.jail, have.ifname, have.container_id, have.network
            ),
        )),
        // Removed between the two looks (a DEL of the other attachment): try once more.
        None => match hoststate::create_atomic(&path, &bytes).map_err(io)? {
            true => Ok(path),
            false => Err(CniError::new(code::TRY_AGAIN_LATER, format!("{} is being claimed", path.display()))),
        },
    }
}

/// The record of epair `host_end`, if the directory and the record exist.
pub fn at(dir: &Path, host_end: &str) -> Result<Option<(PathBuf, Record)>, CniError> {
    if !hoststate::check_dir(dir).map_err(io)? {
        return Ok(None);
    }
    let path = path_of(dir, host_end);
    Ok(hoststate::read_json::<Record>(&path).map_err(io)?.map(|r| (path, r)))
}

/// Every record of `network`.
pub fn all(dir: &Path, network: &str) -> Result<Vec<(PathBuf, Record)>, CniError> {
    if !hoststate::check_dir(dir).map_err(io)? {
        return Ok(vec![]);
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| CniError::new(code::IO_FAILURE, format!("read {}: {e}", dir.display())))?;
    let mut out = vec![];
    for entry in entries {
        let p = entry.map_err(|e| CniError::new(code::IO_FAILURE, format!("read {}: {e}", dir.display())))?.path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        if let Some(r) = hoststate::read_json::<Record>(&p).map_err(io)? {
            if r.network == network {
                out.push((p, r));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Forget a record.
pub fn remove(path: &Path) -> Result<(), CniError> {
    hoststate::remove(path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(container: &str) -> Record {
        Record {
            network: "jails".into(),
            container_id: container.into(),
            ifname: "eth0".into(),
            jail: "c1".into(),
            index: 0,
        }
    }

    #[test]
    fn one_attachment_per_epair() {
        let scratch = std::env::temp_dir().join(format!("jnet-cni-record-{}", std::process::id()));
        let d = dir(&scratch);
        let p = claim(&d, "e0a_c1", &rec("a")).unwrap();
        // The same attachment again is fine; another is refused and the record stays.
        assert_eq!(claim(&d, "e0a_c1", &rec("a")).unwrap(), p);
        let e = claim(&d, "e0a_c1", &rec("b")).unwrap_err();
        assert_eq!(e.code, 178);
        assert!(e.msg.contains("container a in network jails"), "{}", e.msg);
        assert_eq!(at(&d, "e0a_c1").unwrap().unwrap().1, rec("a"));
        assert_eq!(all(&d, "jails").unwrap().len(), 1);
        assert!(all(&d, "other").unwrap().is_empty());
        remove(&p).unwrap();
        assert!(at(&d, "e0a_c1").unwrap().is_none());
        std::fs::remove_dir_all(&scratch).unwrap();
        // Readers create nothing.
        assert!(at(&d, "e0a_c1").unwrap().is_none());
        assert!(!d.exists());
    }
}
