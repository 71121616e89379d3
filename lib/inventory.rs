//! What jnet owns: interfaces carrying a jnet tag, on the host and inside jails.
//!
//! A description is a claim: a jail's root can write any description on any interface in
//! his vnet, and the kernel keeps descriptions across vnet moves. On the host an interface
//! is jnet's only when the kernel backs the claim with marks no jail can forge: it is in
//! interface group `jnet` (every vnet move clears an interface's groups, and only the host's
//! root adds them on the host), and an epair or bridge is also in its cloner's group. Inside
//! a jail there is nothing to back a claim: what is found there is the jail's own word about
//! its own vnet, used only for that jail.

use crate::errno::Errno;
use crate::error::{Error, KernelContext, Result};
use crate::kernel::{IfInfo, Interfaces, Jid, Kernel};
use crate::owner::{self, Role, Tag};
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

/// What a host interface's description and groups say about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostMark {
    /// Its description (None: none, or the interface is gone).
    pub descr: Option<String>,
    /// The tag the description claims.
    pub tag: Option<Tag>,
    /// The kernel backs the tag (group `jnet`, and the cloner's group for epairs and bridges).
    pub backed: bool,
}

impl HostMark {
    /// The tag, if the kernel backs it.
    pub fn owned(&self) -> Option<&Tag> {
        self.tag.as_ref().filter(|_| self.backed)
    }
}

/// The cloner group an interface with this role is in.
fn cloner_group(role: &Role) -> Option<&'static str> {
    match role {
        Role::EpairHost(_) | Role::EpairJail(_) => Some("epair"),
        Role::Bridge => Some("bridge"),
        Role::Vlan => Some("vlan"),
        Role::Eiface(_) | Role::Nic => None,
    }
}

/// Read `name`'s description, and its groups when the description is a tag; None if there
/// is no such interface (any more).
pub fn host_mark<K: Interfaces>(k: &mut K, name: &str) -> Result<Option<HostMark>> {
    let descr = match k.if_description(name) {
        Ok(d) => d,
        Err(Errno::ENXIO) => return Ok(None),
        Err(e) => return Err(Error::kernel(format!("read the description of {name}"), e)),
    };
    let tag = descr.as_deref().and_then(Tag::parse);
    let backed = match &tag {
        // A NIC record in a description is never trusted: records live on the host.
        Some(t) if t.role != Role::Nic => {
            let groups = match k.if_groups(name) {
                Ok(g) => g,
                Err(Errno::ENXIO) => vec![],
                Err(e) => return Err(Error::kernel(format!("read the groups of {name}"), e)),
            };
            groups.iter().any(|g| g == owner::GROUP)
                && cloner_group(&t.role).is_none_or(|c| groups.iter().any(|g| g == c))
        }
        _ => false,
    };
    Ok(Some(HostMark { descr, tag, backed }))
}

/// Names that more than one interface of `list` has. Neither if_vmove nor vnet_if_return
/// checks names (if.c), so an interface a jail renamed comes home beside the host's own of
/// that name; an ioctl on the name then reaches whichever the kernel finds first (ifunit).
/// jnet acts through no such name.
pub fn ambiguous(list: &[IfInfo]) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for (n, i) in list.iter().enumerate() {
        if list[..n].iter().any(|x| x.name == i.name) && !out.contains(&i.name) {
            out.push(i.name.clone());
        }
    }
    out
}

/// `name` designates at most one interface of `list`; otherwise the error that says so.
pub fn designates_one(list: &[IfInfo], name: &str) -> Result<()> {
    match list.iter().filter(|i| i.name == name).count() {
        0 | 1 => Ok(()),
        n => Err(ambiguous_error(name, n)),
    }
}

/// The error for a name that designates `n` interfaces.
fn ambiguous_error(name: &str, n: usize) -> Error {
    Error::conflict(format!(
        "{name} designates {n} interfaces on the host (one came back from a jail under that name): jnet acts on \
         none of them through it; rename them apart by hand (ifconfig {name} name OTHER renames the first the \
         kernel finds), then run this again"
    ))
}

/// Every interface on the host that is jnet's (tag backed by the kernel), with the full
/// listing. An interface whose name another has too is never counted as jnet's (`ambiguous`).
pub fn scan_host<K: Interfaces>(k: &mut K) -> Result<(Vec<IfInfo>, Vec<Owned>)> {
    let list = k.if_list().step(|| "list interfaces".into())?;
    let twice = ambiguous(&list);
    let mut owned = vec![];
    for info in list.iter().filter(|i| !twice.contains(&i.name)) {
        if let Some(tag) = host_mark(k, &info.name)?.as_ref().and_then(HostMark::owned) {
            owned.push(Owned { name: info.name.clone(), tag: tag.clone(), info: info.clone() });
        }
    }
    Ok((list, owned))
}

/// Every interface inside jail `jid`'s vnet whose description claims a tag for `jail`. Claims
/// for other jails are dropped: a jail speaks for itself only.
pub fn scan_jail<K: Kernel>(k: &mut K, jid: Jid, jail: &str) -> Result<(Vec<IfInfo>, Vec<Owned>)> {
    let jail_s = jail.to_string();
    k.in_jail(jid, move |k| {
        let list = k.if_list().step(|| "list interfaces".into())?;
        let mut owned = vec![];
        for info in &list {
            let d = match k.if_description(&info.name) {
                Ok(d) => d,
                // Destroyed between the listing and now: nothing to own.
                Err(Errno::ENXIO) => continue,
                Err(e) => return Err(Error::kernel(format!("read the description of {}", info.name), e)),
            };
            if let Some(tag) = d.as_deref().and_then(Tag::parse).filter(|t| t.is_for(&jail_s)) {
                owned.push(Owned { name: info.name.clone(), tag, info: info.clone() });
            }
        }
        Ok((list, owned))
    })
    .map_err(|e| e.context(format!("inside jail {jail}")))
}
