//! What jnet owns: interfaces carrying a jnet tag, on the host and inside jails.

use crate::errno::Errno;
use crate::error::{KernelContext, Result};
use crate::kernel::{IfInfo, Interfaces, Jid, Kernel};
use crate::owner::Tag;
use serde::{Deserialize, Serialize};

/// A tagged interface and where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owned {
    /// Its name where it is.
    pub name: String,
    /// Its tag.
    pub tag: Tag,
    /// Its flags, addresses and MAC as listed.
    pub info: IfInfo,
}

/// Every tagged interface in the caller's vnet, with the full listing.
pub fn scan<K: Interfaces>(k: &mut K) -> Result<(Vec<IfInfo>, Vec<Owned>)> {
    let list = k.if_list().step(|| "list interfaces".into())?;
    let mut owned = vec![];
    for info in &list {
        match k.if_description(&info.name) {
            Ok(Some(d)) => {
                if let Some(tag) = Tag::parse(&d) {
                    owned.push(Owned { name: info.name.clone(), tag, info: info.clone() });
                }
            }
            Ok(None) => {}
            // Destroyed between the listing and now: nothing to own.
            Err(Errno::ENXIO) => {}
            Err(e) => return Err(crate::error::Error::kernel(format!("read the description of {}", info.name), e)),
        }
    }
    Ok((list, owned))
}

/// Every tagged interface inside jail `jid`'s vnet.
pub fn scan_jail<K: Kernel>(k: &mut K, jid: Jid) -> Result<(Vec<IfInfo>, Vec<Owned>)> {
    k.in_jail(jid, |k| scan(k)).map_err(|e| e.context(format!("inside jail {jid}")))
}
