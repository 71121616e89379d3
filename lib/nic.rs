//! Dedicated NICs given to a jail (`vnet.interface`): reclaimed at once with SIOCSIFRVNET
//! instead of when the dying vnet finally goes, and put back as they were.
//!
//! What the move loses (groups) or what a rename inside the jail hides (the host name)
//! is kept on the NIC itself, in its description, which survives vnet moves:
//! `jnet-nic <jail> <host name> <groups|-> <original description>`. The record is written
//! before a reclaim is attempted, so a NIC that comes home later (when the vnet dies) can
//! still be recognised and restored by `jnet-release --iface` or `--stale`.

use crate::errno::Errno;
use crate::error::{Error, KernelContext, Kind, Result};
use crate::kernel::{IfInfo, JailInfo, Kernel};
use std::time::{Duration, Instant};

const PREFIX: &str = "jnet-nic ";

/// What a NIC looked like on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NicRecord {
    /// The jail it was given to.
    pub jail: String,
    /// Its name on the host.
    pub host_name: String,
    /// Interface groups to give back (other than "all").
    pub groups: Vec<String>,
    /// Its own description before the record replaced it.
    pub descr: Option<String>,
}

impl NicRecord {
    /// The description that carries the record.
    pub fn description(&self) -> String {
        let groups = if self.groups.is_empty() { "-".to_string() } else { self.groups.join(",") };
        format!("{PREFIX}{} {} {groups} {}", self.jail, self.host_name, self.descr.as_deref().unwrap_or(""))
    }
    /// Parse a description; None if it is not a record.
    pub fn parse(d: &str) -> Option<NicRecord> {
        let rest = d.strip_prefix(PREFIX)?;
        let mut it = rest.splitn(4, ' ');
        let jail = it.next().filter(|s| !s.is_empty())?.to_string();
        let host_name = it.next().filter(|s| !s.is_empty())?.to_string();
        let groups = match it.next()? {
            "-" => vec![],
            g => g.split(',').map(str::to_string).collect(),
        };
        let descr = it.next().filter(|s| !s.is_empty()).map(str::to_string);
        Some(NicRecord { jail, host_name, groups, descr })
    }
}

/// How one NIC ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NicOutcome {
    /// Brought back now.
    Reclaimed,
    /// Already on the host (restored from its record if it had one).
    Home,
    /// Still in the jail's vnet.
    Away(String),
}

/// Put a NIC that is on the host back as its record says: its name, description, groups.
pub fn restore<K: Kernel>(k: &mut K, now: &str, rec: &NicRecord) -> Result<()> {
    if now != rec.host_name {
        k.if_rename(now, &rec.host_name).step(|| format!("rename {now} back to {}", rec.host_name))?;
    }
    let n = &rec.host_name;
    k.if_set_description(n, rec.descr.as_deref()).step(|| format!("restore the description of {n}"))?;
    let have = k.if_groups(n).step(|| format!("read the groups of {n}"))?;
    for g in rec.groups.iter().filter(|g| !have.contains(g)) {
        k.if_add_group(n, g).step(|| format!("put {n} back in group {g}"))?;
    }
    Ok(())
}

/// The record on an interface, if it has one.
fn record_of<K: Kernel>(k: &mut K, name: &str) -> Result<Option<NicRecord>> {
    match k.if_description(name) {
        Ok(d) => Ok(d.as_deref().and_then(NicRecord::parse)),
        Err(Errno::ENXIO) => Ok(None),
        Err(e) => Err(Error::kernel(format!("read the description of {name}"), e)),
    }
}

/// The NIC named `nic` on the host, found on the host: under its name, or under another
/// name with a record naming it.
fn find_home<K: Kernel>(
    k: &mut K,
    list: &[IfInfo],
    nic: &str,
    jail: &str,
) -> Result<Option<(String, Option<NicRecord>)>> {
    if list.iter().any(|i| i.name == nic) {
        let rec = record_of(k, nic)?.filter(|r| r.host_name == nic);
        return Ok(Some((nic.to_string(), rec)));
    }
    for i in list {
        if let Some(r) = record_of(k, &i.name)? {
            if r.host_name == nic && r.jail == jail {
                return Ok(Some((i.name.clone(), Some(r))));
            }
        }
    }
    Ok(None)
}

/// One attempt to bring `nic` home. `jail` is the jail as found (alive or dying), None if
/// it is gone.
fn attempt<K: Kernel>(k: &mut K, nic: &str, jail_name: &str, jail: Option<&JailInfo>) -> Result<NicOutcome> {
    let list = k.if_list().step(|| "list interfaces".into())?;
    if let Some((now, rec)) = find_home(k, &list, nic, jail_name)? {
        if let Some(r) = rec {
            restore(k, &now, &r)?;
        }
        return Ok(NicOutcome::Home);
    }
    let Some(j) = jail else {
        return Ok(NicOutcome::Away(format!(
            "{nic} is not on the host and jail {jail_name} is gone: its vnet has not released it yet"
        )));
    };
    // Inside a live jail: find it (renamed there?) and record what to restore, in case the
    // reclaim fails now and it comes home later.
    let mut inside_name = nic.to_string();
    let mut rec = NicRecord { jail: jail_name.to_string(), host_name: nic.to_string(), groups: vec![], descr: None };
    if !j.dying {
        let jail_s = jail_name.to_string();
        let nic_s = nic.to_string();
        let found = k.in_jail(j.jid, move |k| {
            let list = k.if_list().step(|| "list interfaces".into())?;
            let mut hit: Option<(String, Option<String>)> = None;
            for i in &list {
                let d = match k.if_description(&i.name) {
                    Ok(d) => d,
                    Err(Errno::ENXIO) => continue,
                    Err(e) => return Err(Error::kernel(format!("read the description of {}", i.name), e)),
                };
                let by_record =
                    d.as_deref().and_then(NicRecord::parse).is_some_and(|r| r.host_name == nic_s && r.jail == jail_s);
                if by_record || (i.name == nic_s && hit.is_none()) {
                    hit = Some((i.name.clone(), d));
                }
            }
            if let Some((name, d)) = &hit {
                if d.as_deref().and_then(NicRecord::parse).is_none() {
                    let r =
                        NicRecord { jail: jail_s.clone(), host_name: nic_s.clone(), groups: vec![], descr: d.clone() };
                    k.if_set_description(name, Some(&r.description())).step(|| format!("record {name}'s host name"))?;
                }
            }
            Ok(hit)
        });
        match found.map_err(|e| e.context(format!("inside jail {jail_name}")))? {
            Some((name, d)) => {
                inside_name = name;
                if let Some(r) = d.as_deref().and_then(NicRecord::parse) {
                    rec = r;
                } else {
                    rec.descr = d;
                }
            }
            None => {
                return Err(Error::new(
                    Kind::Data,
                    format!(
                        "{nic} is neither on the host nor in jail {jail_name} (renamed inside without a jnet record?)"
                    ),
                ))
            }
        }
    }
    match k.if_reclaim(&inside_name, j.jid) {
        Ok(back) => {
            restore(k, &back, &rec)?;
            Ok(NicOutcome::Reclaimed)
        }
        // Not there (a dying jail, renamed inside) or the vnet is already going away.
        Err(e @ (Errno::ENXIO | Errno::EBUSY)) => {
            Ok(NicOutcome::Away(format!("take {inside_name} back from jail {jail_name}: {e}")))
        }
        Err(e) => Err(Error::kernel(format!("take {inside_name} back from jail {jail_name}"), e)),
    }
}

/// Bring `nic` home from `jail_name`, waiting up to `wait` for it to come back.
pub fn reclaim<K: Kernel>(k: &mut K, nic: &str, jail_name: &str, wait: Option<Duration>) -> Result<NicOutcome> {
    let start = Instant::now();
    let mut last_note = Instant::now();
    loop {
        let jail = k
            .jail(&crate::kernel::JailRef::Name(jail_name.to_string()))
            .step(|| format!("look up jail {jail_name}"))?;
        let out = attempt(k, nic, jail_name, jail.as_ref())?;
        let NicOutcome::Away(why) = &out else { return Ok(out) };
        match wait {
            Some(w) if start.elapsed() < w => {
                if last_note.elapsed() >= Duration::from_secs(5) {
                    log::warn!("still waiting for {nic} to come back from jail {jail_name}: {why}");
                    last_note = Instant::now();
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            _ => return Ok(out),
        }
    }
}

/// NICs on the host that still carry a record (came home when a vnet died).
pub fn recorded_on_host<K: Kernel>(k: &mut K, list: &[IfInfo]) -> Result<Vec<(String, NicRecord)>> {
    let mut out = vec![];
    for i in list {
        if let Some(r) = record_of(k, &i.name)? {
            out.push((i.name.clone(), r));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        for r in [
            NicRecord { jail: "www".into(), host_name: "igb2".into(), groups: vec![], descr: None },
            NicRecord {
                jail: "a.b:c".into(),
                host_name: "igb2".into(),
                groups: vec!["lan".into(), "dmz".into()],
                descr: Some("uplink to  switch 3".into()),
            },
        ] {
            assert_eq!(NicRecord::parse(&r.description()), Some(r.clone()));
        }
        assert_eq!(
            NicRecord { jail: "www".into(), host_name: "igb2".into(), groups: vec![], descr: Some("x y".into()) }
                .description(),
            "jnet-nic www igb2 - x y"
        );
        assert_eq!(NicRecord::parse("jnet:www:nic"), None);
        assert_eq!(NicRecord::parse("jnet-nic www"), None);
        assert_eq!(NicRecord::parse("uplink"), None);
    }
}
