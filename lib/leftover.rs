//! What a crashed run left where it had written an intent (`intent`), found and taken away
//! by `jnet-release --stale` (or listed by `--stale -n`).
//!
//! An intent names exactly what its run was making; the run is gone (its lock is free).
//! Whatever the intent names that carries jnet's marks is left to the rest of `--stale`,
//! which knows it by them. Whatever carries none is taken away only if it is what the run
//! would have made and has not been touched since: an interface of that exact name on the
//! host, one name designating one interface, created by that cloner and unit (its driver
//! name and unit, IFDATA_DRIVERNAME, which no rename changes: `epair7` for both ends of
//! epair 7, `bridge3`, `vlan` for a vlan), with no address (a link-local one aside) and, for
//! a bridge, no member; a netgraph bridge on the named ng_ether's lower hook, unnamed or of
//! the intended name, with nothing on it but that NIC and control sockets.

use crate::error::{Error, ErrorList, KernelContext, Result};
use crate::intent::{self, Creation};
use crate::inventory;
use crate::kernel::{IfInfo, Kernel};
use crate::ngplan;

/// What was done (or, in a dry run, would be).
#[derive(Debug, Default)]
pub struct Report {
    /// the equivalent commands
    pub cmds: Vec<String>,
    /// what was taken away
    pub undone: Vec<String>,
    /// what could not be
    pub errs: ErrorList,
}

/// Which intents: what crashed runs were making (taken first), or the prunes crashed
/// releases were doing (finished last, once `--stale` has shut down the nodes of jails
/// that are gone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// interfaces and splices being made
    Making,
    /// bridges being pruned
    Pruning,
}

/// Take away what the intents of crashed runs name; with `dry_run`, only say it.
pub fn undo_orphans<K: Kernel>(k: &mut K, phase: Phase, dry_run: bool) -> Result<Report> {
    let mut r = Report::default();
    for o in intent::orphans(&k.state_dir())? {
        let done = match (&o.what, phase) {
            (Creation::Interface { cloner, names, .. }, Phase::Making) => {
                interface(k, cloner, names, &o.program, dry_run, &mut r)
            }
            (Creation::Splice { ether, bridge }, Phase::Making) => {
                splice(k, ether, bridge, &o.program, dry_run, &mut r)
            }
            (Creation::NgBridge { bridge }, Phase::Making) => {
                prune(k, std::slice::from_ref(bridge), &o.program, dry_run, &mut r)
            }
            (Creation::Prune { ng_bridges }, Phase::Pruning) => prune(k, ng_bridges, &o.program, dry_run, &mut r),
            _ => continue,
        };
        match done {
            Ok(()) if !dry_run => {
                r.errs.collect(o.done());
            }
            Ok(()) => {}
            Err(e) => r.errs.push(e.context(format!("what a crashed {} left", o.program))),
        }
    }
    Ok(r)
}

/// The names an interface intent may have left on the host: an epair's two ends, or the
/// name a clone got and the one it was to be renamed to.
fn candidates(cloner: &str, names: &[String]) -> Vec<String> {
    match (cloner, names.first()) {
        ("epair", Some(base)) => vec![format!("{base}a"), format!("{base}b")],
        _ => names.to_vec(),
    }
}

/// The driver name and unit an interface the intent names must have.
fn driver_of(cloner: &str, names: &[String]) -> String {
    match cloner {
        // if_vlan attaches with IF_DUNIT_NONE: the driver name is the bare "vlan".
        "vlan" => "vlan".into(),
        _ => names.first().cloned().unwrap_or_default(),
    }
}

fn interface<K: Kernel>(
    k: &mut K,
    cloner: &str,
    names: &[String],
    program: &str,
    dry_run: bool,
    r: &mut Report,
) -> Result<()> {
    let list: Vec<IfInfo> = k.if_list().step(|| "list interfaces".into())?;
    let want = driver_of(cloner, names);
    // One end of a pair with jnet's marks makes the pair jnet's: the rest of --stale
    // decides on it (by its jail), and its other end goes with it.
    if cloner == "epair" {
        for name in candidates(cloner, names).iter().filter(|n| list.iter().any(|i| &i.name == *n)) {
            if carries_marks(k, name)? {
                return Ok(());
            }
        }
    }
    for name in candidates(cloner, names) {
        let Some(i) = list.iter().find(|i| i.name == name) else { continue };
        inventory::designates_one(&list, &name)?;
        let driver = match k.if_driver(&name) {
            Ok(d) => d,
            Err(crate::errno::Errno::ENXIO) => continue,
            Err(e) => return Err(Error::kernel(format!("read the driver name of {name}"), e)),
        };
        if driver != want {
            // Not what the run made: another interface has the name now.
            continue;
        }
        // It carries jnet's marks: the rest of --stale knows it. (An epair's ends were
        // read above.)
        if cloner != "epair" && carries_marks(k, &name)? {
            continue;
        }
        let global =
            i.addrs.iter().any(|a| !matches!(a.addr, std::net::IpAddr::V6(v) if crate::kernel::is_link_local(&v)));
        let members = if cloner == "bridge" {
            crate::plan::bridge_state(k, &name).ok().flatten().unwrap_or_default()
        } else {
            vec![]
        };
        if global || !members.is_empty() {
            // Someone uses it: not as the crashed run left it.
            continue;
        }
        r.cmds.push(format!("ifconfig {name} destroy  # a {program} crashed right after making it"));
        if !dry_run {
            match k.if_destroy(&name) {
                Ok(()) | Err(crate::errno::Errno::ENXIO) => r.undone.push(name.clone()),
                Err(e) => r.errs.push(Error::kernel(format!("destroy {name}"), e)),
            }
        }
        if cloner == "epair" {
            // An epair's other end goes with it.
            break;
        }
    }
    Ok(())
}

fn carries_marks<K: Kernel>(k: &mut K, name: &str) -> Result<bool> {
    Ok(inventory::host_mark(k, name)?.as_ref().is_some_and(|m| m.owned().is_some()))
}

fn splice<K: Kernel>(k: &mut K, ether: &str, bridge: &str, program: &str, dry_run: bool, r: &mut Report) -> Result<()> {
    let (_, hooks) = match k.ng_hooks(&format!("{ether}:")) {
        Ok(h) => h,
        Err(crate::errno::Errno::ENOENT)
        | Err(crate::errno::Errno::EAFNOSUPPORT)
        | Err(crate::errno::Errno::EPROTONOSUPPORT) => return Ok(()),
        Err(e) => return Err(Error::kernel(format!("list the hooks of {ether}:"), e)),
    };
    let Some(lower) = hooks.iter().find(|h| h.ourhook == "lower") else { return Ok(()) };
    if lower.peer.node_type != "bridge" || !(lower.peer.name.is_empty() || lower.peer.name == bridge) {
        return Ok(());
    }
    let path = if lower.peer.name.is_empty() { format!("[{:x}]", lower.peer.id) } else { lower.peer.name.clone() };
    if dry_run {
        let (_, on) = k.ng_hooks(&format!("{path}:")).step(|| format!("list the hooks of {path}"))?;
        if on.iter().all(|h| h.peer.node_type == "ether" || h.peer.node_type == "socket") {
            r.cmds.push(format!("ngctl shutdown {path}:  # spliced onto {ether} by a {program} that crashed"));
        }
        return Ok(());
    }
    if ngplan::unsplice_if_unused(k, &path)? {
        r.cmds.push(format!("ngctl shutdown {path}:  # spliced onto {ether} by a {program} that crashed"));
        r.undone.push(if lower.peer.name.is_empty() { format!("the unnamed bridge on {ether}") } else { path });
    }
    Ok(())
}

/// Finish a crashed release's prune: each bridge with nothing but NICs and sockets on it.
fn prune<K: Kernel>(k: &mut K, bridges: &[String], program: &str, dry_run: bool, r: &mut Report) -> Result<()> {
    for b in bridges {
        if dry_run {
            r.cmds.push(format!("ngctl shutdown {b}:  # if no jail is on it; a {program} pruning it crashed"));
            continue;
        }
        if ngplan::unsplice_if_unused(k, b)? {
            r.cmds.push(format!("ngctl shutdown {b}:  # a {program} pruning it crashed"));
            r.undone.push(b.clone());
        }
    }
    Ok(())
}
