//! Dedicated NICs lent to a jail (`vnet.interface`, or `jnet-nic` in `exec.created`): recorded
//! on the host before they go, taken back at once with SIOCSIFRVNET instead of when the dying
//! vnet finally lets them go, and put back as they were.
//!
//! Inside the jail everything about the NIC is its root's to change: name, description,
//! MAC, and he can clone an interface and give it the NIC's name. So the NIC is known by what
//! he cannot change, its driver name and unit (`if_driver`: `igb2` whatever it is called
//! now), checked inside the jail before the reclaim and on the host after it, and what to
//! restore comes from a record jnet wrote on the host while the NIC was still there
//! (`<state dir>/nic/<driver>.json`), never from the NIC itself.

use crate::errno::Errno;
use crate::error::{Error, KernelContext, Kind, Result};
use crate::hoststate;
use crate::kernel::{iff, IfInfo, JailInfo, JailRef, Kernel};
use crate::names;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What a NIC looked like on the host before it was lent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NicRecord {
    /// The jail it was lent to.
    pub jail: String,
    /// Its name on the host.
    pub host_name: String,
    /// Its driver name and unit, which no rename changes.
    pub driver: String,
    /// Its description on the host.
    pub descr: Option<String>,
    /// Its interface groups on the host, other than "all" (a move clears them).
    pub groups: Vec<String>,
    /// It was up on the host (a move brings it down).
    pub up: bool,
    /// Its addresses on the host. Every move purges addresses, vnet_if_return's too (if.c:
    /// VNET_IS_SHUTTING_DOWN is false at SI_SUB_VNET_DONE, shown on FreeBSD's code by test
    /// fbsd_stack), so a NIC comes home bare; whatever it has then that is not here was
    /// added on the host since, and a restore takes it off all the same.
    #[serde(default)]
    pub addrs: Vec<crate::kernel::Cidr>,
    /// The name its driver had inside the jail when `jnet-nic --track` last looked (in
    /// exec.prestop): where to find it in a dying jail that cannot be entered. The jail's
    /// word, tried and then checked by the driver of what comes out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inside_name: Option<String>,
    /// Its epoch when recorded (`IfInfo::epoch`, if_data.ifi_epoch): a vnet move attaches it
    /// anew and changes it, so a NIC at home with the same epoch never left, and its record
    /// is only dropped (the administrator's changes since stay). A move back within the same
    /// second of uptime as the record counts as never left: nothing is then touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
}

impl NicRecord {
    /// Did the NIC, found at home as `now` in `list`, never leave since this record?
    fn never_left(&self, list: &[IfInfo], now: &str) -> bool {
        let epoch = list.iter().find(|i| i.name == now).map(|i| i.epoch);
        self.epoch.is_some() && epoch == self.epoch
    }
}

fn dir<K: Kernel>(k: &K) -> PathBuf {
    k.state_dir().join("nic")
}

fn path<K: Kernel>(k: &K, driver: &str) -> Result<PathBuf> {
    // A driver name comes from the kernel ("igb2"); make sure it is a plain file name.
    names::check_ifname("driver", driver)?;
    if driver.contains(['/', '.']) {
        return Err(Error::new(Kind::Protocol, format!("driver name {driver:?} cannot name a record")));
    }
    Ok(dir(k).join(format!("{driver}.json")))
}

/// The record of the NIC with driver `driver`, if there is one.
pub fn load<K: Kernel>(k: &K, driver: &str) -> Result<Option<NicRecord>> {
    hoststate::read_json(&path(k, driver)?)
}

/// Every record, in driver order.
pub fn all<K: Kernel>(k: &K) -> Result<Vec<NicRecord>> {
    let d = dir(k);
    // Records decide what is restored on the host: read only from a directory that passes
    // the checks it is written under (a planted record in a directory others can write is
    // an error, not a record).
    if !hoststate::check_dir(&d)? {
        return Ok(vec![]);
    }
    let entries = match std::fs::read_dir(&d) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::new(Kind::Io, format!("read {}: {e}", d.display()))),
    };
    let mut out = vec![];
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(driver) = name.strip_suffix(".json") {
            if let Some(r) = load(k, driver)? {
                out.push(r);
            }
        }
    }
    out.sort_by(|a, b| a.driver.cmp(&b.driver));
    Ok(out)
}

fn save<K: Kernel>(k: &K, rec: &NicRecord) -> Result<()> {
    let p = path(k, &rec.driver)?;
    hoststate::ensure_dir(&k.state_dir())?;
    hoststate::ensure_dir(&dir(k))?;
    // One record per NIC: another jail's (or another name's) is never overwritten.
    if let Some(have) = load(k, &rec.driver)? {
        if have.jail != rec.jail || have.host_name != rec.host_name {
            return Err(Error::conflict(format!(
                "{} ({}) is lent to jail {} already ({}): give it back first (jnet-release --iface {} -- {}); \
                 nothing was changed",
                rec.host_name,
                rec.driver,
                have.jail,
                p.display(),
                have.host_name,
                have.jail
            )));
        }
    }
    hoststate::write_json(&p, rec)
}

/// The kind of clone `driver` is, if it is one. A cloned interface is in its cloner's
/// interface group, named as its driver without the unit (if_clone.c adds `ifc_name` when it
/// creates one: if_clone_createif, ifc_link_ifp from 14); ng_eiface's `ngethN` are made by
/// netgraph, not a cloner. A jail's root makes the same kinds in his vnet, with the same
/// driver names (both ends of an epair say `epairN`, every `NIC.TAG` vlan says `vlan`), so
/// none of them can be told from an impostor when it comes back: only hardware NICs, whose
/// driver and unit no jail can produce, are lent.
fn clone_kind(driver: &str, groups: &[String]) -> Option<String> {
    let base = driver.trim_end_matches(|c: char| c.is_ascii_digit());
    (groups.iter().any(|g| g == base) || base == "ngeth").then(|| base.to_string())
}

fn forget<K: Kernel>(k: &K, driver: &str) -> Result<()> {
    hoststate::remove(&path(k, driver)?)
}

/// The record for NIC `nic` lent to `jail` (`nic` is its host name).
fn record_for<K: Kernel>(k: &K, nic: &str, jail: &str) -> Result<Option<NicRecord>> {
    Ok(all(k)?.into_iter().find(|r| r.host_name == nic && r.jail == jail))
}

/// How a lend ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lent {
    /// Recorded; jail(8) moves it (`vnet.interface`), the jail does not run yet.
    Recorded(String),
    /// Recorded and moved into the running jail.
    Moved(String),
    /// Already in the jail, recorded earlier.
    Already(String),
}

/// Record `nic` on the host for `jail` and, if the jail runs, move it in.
pub fn lend<K: Kernel>(k: &mut K, nic: &str, jail: &str, running: Option<&JailInfo>) -> Result<Lent> {
    let list = k.if_list().step(|| "list interfaces".into())?;
    let Some(info) = list.iter().find(|i| i.name == nic) else {
        return match record_for(k, nic, jail)? {
            Some(r) if running.is_some() => Ok(Lent::Already(r.driver)),
            _ => Err(Error::data(format!(
                "{nic} is not on the host (if it came back from a jail under another name, \
                 jnet-release --stale puts it back); nothing was changed"
            ))),
        };
    };
    if info.flags & iff::LOOPBACK != 0 {
        return Err(Error::data(format!("{nic} is a loopback interface; a jail gets its own lo0")));
    }
    if let Some(t) = crate::inventory::host_mark(k, nic)?.as_ref().and_then(|m| m.owned()) {
        return Err(Error::conflict(format!(
            "{nic} is jnet's own interface ({t}), not a NIC to lend; nothing was changed"
        )));
    }
    let driver = k.if_driver(nic).step(|| format!("read the driver name of {nic}"))?;
    let descr = k.if_description(nic).step(|| format!("read the description of {nic}"))?;
    let groups: Vec<String> =
        k.if_groups(nic).step(|| format!("read the groups of {nic}"))?.into_iter().filter(|g| g != "all").collect();
    if let Some(kind) = clone_kind(&driver, &groups) {
        return Err(Error::data(format!(
            "{nic} is a cloned interface ({kind}, driver {driver}): a jail's root can make one with the same \
             driver name in his vnet, so jnet could not tell it from {nic} when it comes back, and lends only \
             hardware NICs. Lend a NIC (igb2, em1, ...), or give the jail its own interface with jnet-epair \
             (--vlan ID for a VLAN) or jnet-ngattach; nothing was changed"
        )));
    }
    let rec = NicRecord {
        jail: jail.to_string(),
        host_name: nic.to_string(),
        driver: driver.clone(),
        descr,
        groups,
        up: info.flags & iff::UP != 0,
        addrs: info.addrs.clone(),
        inside_name: None,
        epoch: Some(info.epoch),
    };
    save(k, &rec)?;
    let Some(j) = running else { return Ok(Lent::Recorded(driver)) };
    match k.if_move_to_jail(nic, j.jid) {
        Ok(_) => Ok(Lent::Moved(driver)),
        Err(e) => {
            let err = Error::kernel(format!("move {nic} into jail {jail}"), e);
            Err(match forget(k, &driver) {
                Ok(()) => err,
                Err(f) => err.context(format!("and {f}")),
            })
        }
    }
}

/// Put a NIC that is on the host (as `now`) back as its record says, or, with no record,
/// under the name it was given on the command line with no description.
fn restore<K: Kernel>(k: &mut K, now: &str, nic: &str, rec: Option<&NicRecord>) -> Result<()> {
    let target = rec.map(|r| r.host_name.as_str()).unwrap_or(nic);
    if now != target {
        k.if_rename(now, target).step(|| format!("rename {now} back to {target}"))?;
    }
    k.if_set_description(target, rec.and_then(|r| r.descr.as_deref()))
        .step(|| format!("restore the description of {target}"))?;
    // Addresses the jail gave it, brought home by a dying vnet. (The host's own come back
    // with rc: `service netif start`, or devd.)
    let kept: &[crate::kernel::Cidr] = rec.map(|r| r.addrs.as_slice()).unwrap_or(&[]);
    let list = k.if_list().step(|| "list interfaces".into())?;
    let foreign: Vec<crate::kernel::Cidr> = list
        .iter()
        .filter(|i| i.name == target)
        .flat_map(|i| i.addrs.iter().filter(|a| !kept.iter().any(|x| x.addr == a.addr)).copied())
        .collect();
    for a in foreign {
        match k.if_del_addr(target, a.addr) {
            Ok(()) | Err(Errno::EADDRNOTAVAIL) => {}
            Err(e) => return Err(Error::kernel(format!("remove {a}, which jail gave {target}"), e)),
        }
    }
    if let Some(r) = rec {
        let have = k.if_groups(target).step(|| format!("read the groups of {target}"))?;
        for g in r.groups.iter().filter(|g| !have.contains(g)) {
            k.if_add_group(target, g).step(|| format!("put {target} back in group {g}"))?;
        }
        if r.up {
            let f = k.if_flags(target).step(|| format!("read the flags of {target}"))?;
            if f & iff::UP == 0 {
                k.if_set_flags(target, f | iff::UP).step(|| format!("bring {target} back up"))?;
            }
        }
        forget(k, &r.driver)?;
    }
    Ok(())
}

/// How one NIC ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NicOutcome {
    /// Brought back now.
    Reclaimed,
    /// Already on the host, back from a jail that let it go, and restored from its record.
    Restored,
    /// Already on the host with no record: left as it is.
    Home,
    /// Still in the jail's vnet.
    Away(String),
}

/// The host interface whose driver is `driver`: under `first` if that is it, else by a scan
/// of the host (a NIC that came home when its vnet died keeps the name the jail gave it).
fn on_host<K: Kernel>(k: &mut K, list: &[IfInfo], first: &str, driver: &str) -> Result<Option<String>> {
    let order = list.iter().filter(|i| i.name == first).chain(list.iter().filter(|i| i.name != first));
    for i in order {
        match k.if_driver(&i.name) {
            Ok(d) if d == driver => return Ok(Some(i.name.clone())),
            Ok(_) | Err(Errno::ENXIO) => {}
            Err(e) => return Err(Error::kernel(format!("read the driver name of {}", i.name), e)),
        }
    }
    Ok(None)
}

/// Reclaim `inside` from jail `j` and check on the host that it is the NIC (`driver`). An
/// interface that is not goes straight back into the jail.
fn take_back<K: Kernel>(k: &mut K, inside: &str, j: &JailInfo, driver: &str, nic: &str) -> Result<String> {
    // SIOCSIFRVNET does not check the name on the host (if.c if_vmove_reclaim): a second
    // interface of that name would leave the host with two.
    let list = k.if_list().step(|| "list interfaces".into())?;
    if list.iter().any(|i| i.name == inside) {
        return Err(Error::conflict(format!(
            "{nic} is called {inside} inside jail {}, and the host has an interface of that name: \
             nothing was moved (rename one of them)",
            j.name
        )));
    }
    let back = k.if_reclaim(inside, j.jid).step(|| format!("take {inside} back from jail {}", j.name))?;
    let got = k.if_driver(&back).step(|| format!("read the driver name of {back}"))?;
    if got == driver {
        return Ok(back);
    }
    let why = format!(
        "{inside} taken back from jail {} is {got}, not {nic}'s {driver}: something in the jail took the NIC's name",
        j.name
    );
    // Nothing that failed the check may stay in the host's vnet: it goes back where it came
    // from (once more if the first move fails), and if it cannot, a clone the jail made is
    // destroyed (its other end, if any, goes with it: the jail's own object). Only the
    // kernel's word decides that it is a clone: its cloner's group, added on the host.
    let mut last = None;
    for _ in 0..2 {
        match k.if_move_to_jail(&back, j.jid) {
            Ok(_) => {
                return Err(Error::conflict(format!("{why}; it was moved back into the jail, and {nic} stays there")))
            }
            Err(e) => last = Some(e),
        }
    }
    let e = last.expect("tried");
    let groups = k.if_groups(&back).unwrap_or_default();
    if let Some(base) = clone_kind(&got, &groups) {
        if k.if_destroy(&back).is_ok() {
            return Err(Error::conflict(format!(
                "{why}; moving it back into the jail failed ({e}), so it was destroyed (the jail's own {base} clone), \
                 and {nic} stays in the jail"
            )));
        }
    }
    Err(Error::conflict(format!(
        "{why}; moving it back into the jail failed ({e}) and it is no clone jnet may destroy: it is on the host as \
         {back}; move it back with ifconfig {back} vnet {}",
        j.name
    )))
}

/// One attempt to bring `nic` home. `jail` is the jail as found (alive or dying), None if
/// it is gone.
fn attempt<K: Kernel>(k: &mut K, nic: &str, jail_name: &str, jail: Option<&JailInfo>) -> Result<NicOutcome> {
    let rec = record_for(k, nic, jail_name)?;
    // Without a record the NIC must still carry its driver name as its host name (igb2).
    let driver = rec.as_ref().map(|r| r.driver.clone()).unwrap_or_else(|| nic.to_string());
    let list = k.if_list().step(|| "list interfaces".into())?;
    let named: Vec<IfInfo> = list.iter().filter(|i| i.name == nic).cloned().collect();
    // At home, it is restored only from its record: without one (never lent with jnet-nic,
    // or already given back and restored by an earlier run) nothing says it was ever away,
    // and a NIC at home is the administrator's as it is.
    if let Some(now) = on_host(k, &named, nic, &driver)? {
        return home(k, &list, &now, nic, rec.as_ref());
    }
    let away = match jail {
        Some(j) if !j.dying => {
            let inside = find_inside(k, j, &driver, nic)?;
            return match take_back(k, &inside, j, &driver, nic) {
                Ok(back) => {
                    restore(k, &back, nic, rec.as_ref())?;
                    Ok(NicOutcome::Reclaimed)
                }
                Err(e) if matches!(e.errno, Some(Errno::ENXIO) | Some(Errno::EBUSY)) => Ok(NicOutcome::Away(e.message)),
                Err(e) => Err(e),
            };
        }
        Some(j) => {
            // A dying jail cannot be entered to look: try the name it was lent under, then
            // the name `jnet-nic --track` saw inside (the jail's word: what comes out under
            // it is checked by its driver, and an impostor goes straight back).
            let lent_as = rec.as_ref().map(|r| r.host_name.clone()).unwrap_or_else(|| nic.to_string());
            let seen = rec.as_ref().and_then(|r| r.inside_name.clone()).filter(|s| *s != lent_as);
            let mut why = String::new();
            for name in std::iter::once(lent_as).chain(seen) {
                match take_back(k, &name, j, &driver, nic) {
                    Ok(back) => {
                        restore(k, &back, nic, rec.as_ref())?;
                        return Ok(NicOutcome::Reclaimed);
                    }
                    // Not there under that name (renamed inside, or home already), or the
                    // vnet is already going away.
                    Err(e) if matches!(e.errno, Some(Errno::ENXIO) | Some(Errno::EBUSY)) => why = e.message,
                    Err(e) => return Err(e),
                }
            }
            why
        }
        None => format!(
            "{nic} ({driver}) is not on the host and jail {jail_name} is gone: its vnet has not released it yet"
        ),
    };
    // Home already under the name the jail gave it (its vnet died): only then is every host
    // interface's driver read.
    if let Some(now) = on_host(k, &list, nic, &driver)? {
        return home(k, &list, &now, nic, rec.as_ref());
    }
    Ok(NicOutcome::Away(away))
}

/// A NIC found at home (as `now`): restored from its record if it has one and came home
/// from a jail; left as it is if it has none, or never left (a start that failed before
/// vnet.interface moved it): that record is dropped.
fn home<K: Kernel>(k: &mut K, list: &[IfInfo], now: &str, nic: &str, rec: Option<&NicRecord>) -> Result<NicOutcome> {
    match rec {
        Some(r) if r.never_left(list, now) => {
            forget(k, &r.driver)?;
            Ok(NicOutcome::Home)
        }
        Some(r) => restore(k, now, nic, Some(r)).map(|_| NicOutcome::Restored),
        None => Ok(NicOutcome::Home),
    }
}

/// The name the NIC with driver `driver` has inside the running jail `j`.
fn find_inside<K: Kernel>(k: &mut K, j: &JailInfo, driver: &str, nic: &str) -> Result<String> {
    let want = driver.to_string();
    let found = k
        .in_jail(j.jid, move |k| {
            for i in k.if_list().step(|| "list interfaces".into())? {
                match k.if_driver(&i.name) {
                    Ok(d) if d == want => return Ok(Some(i.name)),
                    Ok(_) | Err(Errno::ENXIO) => {}
                    Err(e) => return Err(Error::kernel(format!("read the driver name of {}", i.name), e)),
                }
            }
            Ok(None)
        })
        .map_err(|e| e.context(format!("inside jail {}", j.name)))?;
    let found = found.ok_or_else(|| {
        Error::new(Kind::Data, format!("{nic} ({driver}) is neither on the host nor in jail {}", j.name))
    })?;
    // A name that is not UTF-8 comes out of the listing with U+FFFD in place of its bad
    // bytes (iflist.rs), and no interface is called that: asking for it by that name would
    // find nothing, or another interface. Refused, with the way out.
    if found.contains('\u{fffd}') {
        return Err(Error::data(format!(
            "{nic} ({driver}) is called {} inside jail {}, a name that is not UTF-8 (shown with U+FFFD): jnet \
             cannot ask for it by name; rename it inside the jail (ifconfig -j {} ... name ...), or let the jail's \
             vnet die and jnet-release --stale bring it back",
            crate::cli::escape_text(&found),
            j.name,
            j.name
        )));
    }
    Ok(found)
}

/// Note the name `nic` (lent to `j`, which runs) has inside the jail now, found there by its
/// driver, in its record: where `reclaim` looks for it once the jail is dying (exec.poststop),
/// when it can no longer be entered. Returns that name.
pub fn track<K: Kernel>(k: &mut K, nic: &str, j: &JailInfo) -> Result<String> {
    let Some(mut rec) = record_for(k, nic, &j.name)? else {
        return Err(Error::data(format!(
            "{nic} has no record for jail {}: lend it with jnet-nic --iface {nic} first",
            j.name
        )));
    };
    let inside = find_inside(k, j, &rec.driver, nic)?;
    rec.inside_name = Some(inside.clone());
    save(k, &rec)?;
    Ok(inside)
}

/// Bring `nic` home from `jail_name`, waiting up to `wait` for it to come back.
pub fn reclaim<K: Kernel>(k: &mut K, nic: &str, jail_name: &str, wait: Option<Duration>) -> Result<NicOutcome> {
    let start = Instant::now();
    let mut last_note = Instant::now();
    loop {
        let jail = k.jail(&JailRef::Name(jail_name.to_string())).step(|| format!("look up jail {jail_name}"))?;
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

/// Restore the NICs whose jails no longer run and that are back on the host; returns the
/// host names restored. Records of NICs still away are kept.
pub fn restore_returned<K: Kernel>(k: &mut K, list: &[IfInfo], running: &[String]) -> Result<Vec<String>> {
    let mut out = vec![];
    for r in all(k)? {
        if running.contains(&r.jail) {
            continue;
        }
        if let Some(now) = on_host(k, list, &r.host_name, &r.driver)? {
            if r.never_left(list, &now) {
                forget(k, &r.driver)?;
                continue;
            }
            restore(k, &now, &r.host_name, Some(&r))?;
            out.push(r.host_name.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_are_told_by_their_cloners_group() {
        let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(clone_kind("epair0", &g(&["epair"])), Some("epair".into()));
        assert_eq!(clone_kind("vlan", &g(&["vlan", "lan"])), Some("vlan".into()));
        assert_eq!(clone_kind("lagg0", &g(&["lagg"])), Some("lagg".into()));
        assert_eq!(clone_kind("ngeth3", &g(&[])), Some("ngeth".into()));
        assert_eq!(clone_kind("igb2", &g(&["lan", "dmz"])), None);
        assert_eq!(clone_kind("em0", &g(&[])), None);
    }

    #[test]
    fn records_round_trip_as_json() {
        let r = NicRecord {
            jail: "a.b:c".into(),
            host_name: "lan0".into(),
            driver: "igb2".into(),
            descr: Some("uplink to  switch 3".into()),
            groups: vec!["lan".into(), "dmz".into()],
            up: true,
            addrs: vec!["192.0.2.1/24".parse().unwrap()],
            inside_name: Some("net0".into()),
            epoch: Some(1234),
        };
        let j = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<NicRecord>(&j).unwrap(), r);
    }
}
