//! jnet-release: give back or destroy what jnet made for a jail.
//!
//! Idempotent like CNI's DEL: whatever is already gone counts as released, every failure
//! is collected rather than stopping the teardown, and only what is jnet's is touched: on the
//! host, interfaces whose tag the kernel backs (`inventory::host_mark`) and eiface nodes under
//! the jail's keyed node names; NICs by their driver and a record kept on the host.

use crate::cli::{Common, Output, Program};
use crate::errno::Errno;
use crate::error::{Error, ErrorList, KernelContext, Kind, Result};
use crate::inventory::{self, Owned};
use crate::kernel::{IfInfo, JailInfo, JailRef, Kernel, NgNode};
use crate::names::{self, End};
use crate::ngplan;
use crate::nic::{self, NicOutcome};
use crate::owner::Role;
use crate::plan::bridge_state;
use argh::FromArgs;
use serde_json::json;
use std::time::Duration;

crate::program_args! {
#[derive(FromArgs, Debug, Default)]
/// Release what jnet made for a jail: destroy its epairs (from the host, even while the
/// jail is dying). Run it from exec.poststop, or by hand.
pub struct ReleaseArgs {
    /// jail name or jid (optional with --list)
    #[argh(positional)]
    pub jail: Option<String>,
    /// also destroy bridges jnet created that have no members left
    #[argh(switch)]
    pub prune: bool,
    /// list what jnet owns (for JAIL, or for every jail) and change nothing
    #[argh(switch)]
    pub list: bool,
    /// a NIC given to the jail (vnet.interface): take it back at once (repeatable)
    #[argh(option)]
    pub iface: Vec<String>,
    /// wait up to this many seconds for --iface NICs the kernel cannot give back yet
    #[argh(option)]
    pub wait: Option<f64>,
    /// release everything tagged for jails that are not running (no JAIL)
    #[argh(switch)]
    pub stale: bool,
    /// the --short name the jail's interfaces were made with
    #[argh(option)]
    pub short: Option<String>,
    /// take the netgraph bridge off this NIC, if no jail is left on it (no JAIL)
    #[argh(option)]
    pub unsplice: Vec<String>,
    /// with --stale: rename interfaces that have jnet's names without its marks (they came
    /// home from a jail) to squatN, so the jails those names are for can start again
    #[argh(switch)]
    pub squatters: bool,
}
dry_run = "print what would be done as ifconfig(8) commands and change nothing";
}

/// The jail's name: given, or looked up from its jid.
fn jail_name<K: Kernel>(k: &mut K, s: &str) -> Result<String> {
    match JailRef::parse(s)? {
        JailRef::Name(n) => Ok(n),
        JailRef::Jid(j) => match k.jail(&JailRef::Jid(j)).step(|| format!("look up jail {j}"))? {
            Some(info) => Ok(info.name),
            None => Err(Error::new(Kind::NoJail, format!("no jail with jid {j}; name the jail instead"))),
        },
    }
}

/// `bridge<N>`, the names if_bridge gives.
fn is_bridge_unit(name: &str) -> bool {
    let unit = name.strip_prefix("bridge").unwrap_or("");
    !unit.is_empty() && unit.bytes().all(|c| c.is_ascii_digit())
}

/// What a release did, and what failed, gathered across its parts.
#[derive(Default)]
struct Done {
    cmds: Vec<String>,
    released: Vec<String>,
    pruned: Vec<String>,
    errs: ErrorList,
}

/// The netgraph bridges spliced onto the host's interfaces under the name jnet-ngattach
/// gives them (`igb1bridge` on igb1's lower hook): the ones `--stale --prune` looks at.
fn spliced_bridges<K: Kernel>(k: &mut K, list: &[IfInfo], d: &mut Done) -> Vec<String> {
    let mut out = vec![];
    for i in list {
        let ether = ngplan::ether_node(&i.name);
        let hooks = match k.ng_hooks(&format!("{ether}:")) {
            Ok((_, h)) => h,
            Err(Errno::ENOENT) | Err(Errno::EAFNOSUPPORT) | Err(Errno::EPROTONOSUPPORT) | Err(Errno::EINVAL) => {
                continue
            }
            Err(e) => {
                d.errs.push(Error::kernel(format!("list the hooks of {ether}:"), e));
                continue;
            }
        };
        let want = format!("{ether}bridge");
        let lower = hooks.iter().find(|h| h.ourhook == "lower" && h.peer.node_type == "bridge" && h.peer.name == want);
        if lower.is_some() && !out.contains(&want) {
            out.push(want);
        }
    }
    out
}

/// The error for eiface nodes jnet named with a key that is gone: none can be told to be a
/// jail's, so none is touched.
fn missing_key<K: Kernel>(k: &mut K) -> Error {
    Error::new(
        Kind::Io,
        format!(
            "{} is missing, so jnet cannot tell which jail each of its eiface nodes belongs to: none was shut \
             down (put the key back from a backup of /var/run/jnet, or shut the nodes down with ngctl)",
            k.state_dir().join("ngkey").display()
        ),
    )
}

/// Every netgraph node, or none on a kernel without netgraph.
fn ng_nodes<K: Kernel>(k: &mut K) -> Result<Vec<NgNode>> {
    match k.ng_nodes() {
        Ok(n) => Ok(n),
        Err(Errno::EAFNOSUPPORT) | Err(Errno::EPROTONOSUPPORT) => Ok(vec![]),
        Err(e) => Err(Error::kernel("list netgraph nodes", e)),
    }
}

/// The interface name of eiface node `node`; None if the node is gone or cannot say (then
/// the failure is in `d`).
fn eiface_ifname<K: Kernel>(k: &mut K, node: &str, d: &mut Done) -> Option<String> {
    match k.ng_eiface_ifname(&format!("{node}:")) {
        Ok(i) => Some(i),
        Err(Errno::ENOENT) => None,
        Err(e) => {
            d.errs.push(Error::kernel(format!("get the interface name of {node}"), e));
            None
        }
    }
}

/// The interfaces on the host that are `jail`'s epair ends: the names jnet gives them (and
/// `also`), with the jail's tag backed by the kernel. One end per pair: destroying it takes
/// the other, wherever that is.
fn epairs_of<K: Kernel>(
    k: &mut K,
    list: &[IfInfo],
    jail: &str,
    short: Option<&str>,
    also: &[String],
    only: Option<u32>,
) -> Result<Vec<String>> {
    // Only the names jnet gives this jail's epairs can be ours: reading those few
    // descriptions, not every interface's, keeps a release to a handful of ioctls on a host
    // with hundreds of jails. (`--list`, `--prune` and `--stale` look at everything.)
    let candidates: Vec<String> = [Some(jail), short]
        .into_iter()
        .flatten()
        .flat_map(|stem| {
            (0..=names::INDEX_MAX).flat_map(move |i| [End::A, End::B].map(|e| names::epair_name(stem, i, e)))
        })
        .chain(also.iter().cloned())
        .collect();
    let mut found: Vec<(String, Role)> = vec![];
    for c in &candidates {
        inventory::designates_one(list, c)?;
    }
    for info in list.iter().filter(|i| candidates.contains(&i.name)) {
        let mark = inventory::host_mark(k, &info.name)?;
        if let Some(t) = mark.as_ref().and_then(|m| m.owned()) {
            let index = match t.role {
                Role::EpairHost(i) | Role::EpairJail(i) => Some(i),
                _ => None,
            };
            if t.is_for(jail) && index.is_some() && only.is_none_or(|o| Some(o) == index) {
                found.push((info.name.clone(), t.role.clone()));
            }
        }
    }
    let host_ends: Vec<u32> =
        found.iter().filter_map(|(_, r)| if let Role::EpairHost(i) = r { Some(*i) } else { None }).collect();
    Ok(found
        .into_iter()
        .filter(|(_, r)| !matches!(r, Role::EpairJail(i) if host_ends.contains(i)))
        .map(|(n, _)| n)
        .collect())
}

/// Destroy jail `jail`'s epair `index` from the host (one CNI attachment): the end that
/// carries the kernel's marks, which takes the other end with it wherever that is. Already
/// gone is success. Returns what was destroyed.
pub fn release_epair<K: Kernel>(k: &mut K, jail: &str, index: u32) -> Result<Vec<String>> {
    let _lock = crate::jaillock::lock_name(&k.state_dir(), jail, crate::jaillock::WAIT)?;
    let mut d = Done::default();
    let list = k.if_list().step(|| "list interfaces".into())?;
    let ours = epairs_of(k, &list, jail, None, &[], Some(index))?;
    ReleaseArgs::default().destroy_epairs(k, &list, &ours, &mut d);
    d.errs.into_result(&format!("release epair {index} of jail {jail}"))?;
    Ok(d.released)
}

impl ReleaseArgs {
    /// Shut down the netgraph node at `path` (its interface, `ifname`, goes with it), or in a
    /// dry run only say so.
    fn shut_down_node<K: Kernel>(&self, k: &mut K, path: &str, ifname: String, d: &mut Done) {
        d.cmds.push(format!("ngctl shutdown {path}"));
        if self.dry_run {
            return;
        }
        match ngplan::shut_down(k, path) {
            Ok(true) => d.released.push(ifname),
            Ok(false) => {}
            Err(e) => d.errs.push(Error::kernel(format!("shut down netgraph node {path}"), e)),
        }
    }

    /// `jail`'s lock (jaillock.rs), unless this is a dry run.
    fn lock<K: Kernel>(&self, k: &mut K, jail: &str) -> Result<Option<crate::jaillock::JailLock>> {
        if self.dry_run {
            return Ok(None);
        }
        crate::jaillock::lock_name(&k.state_dir(), jail, crate::jaillock::WAIT).map(Some)
    }

    /// Bring the `--iface` NICs home from `jail` first, at once.
    fn reclaim_nics<K: Kernel>(&self, k: &mut K, jail: &str, d: &mut Done) {
        let wait = self.wait.map(Duration::from_secs_f64);
        for nic in &self.iface {
            if self.dry_run {
                d.cmds.push(format!("ifconfig {nic} -vnet {jail}"));
                continue;
            }
            match nic::reclaim(k, nic, jail, wait) {
                Ok(NicOutcome::Reclaimed) | Ok(NicOutcome::Restored) => d.released.push(nic.clone()),
                Ok(NicOutcome::Home) => {}
                Ok(NicOutcome::Away(why)) => {
                    let waited = self.wait.map(|w| format!(" after waiting {w} s")).unwrap_or_default();
                    d.errs.push(Error::new(
                        Kind::TempFail,
                        format!("{nic} is still in jail {jail}'s vnet{waited}: {why}"),
                    ));
                }
                Err(e) => d.errs.push(e),
            }
        }
    }

    fn output(&self, d: Done, what: &str, json_head: serde_json::Value) -> Output {
        let error = d.errs.into_result(what).err();
        if self.dry_run {
            return Output { json: json!({ "dry_run": true, "commands": d.cmds }), lines: d.cmds, error };
        }
        let mut lines: Vec<String> = d.released.iter().chain(d.pruned.iter()).cloned().collect();
        if lines.is_empty() && error.is_none() {
            lines.push("nothing to release".into());
        }
        let mut j = json_head;
        j["released"] = json!(d.released);
        j["pruned"] = json!(d.pruned);
        Output { lines, json: j, error }
    }

    fn release<K: Kernel>(&self, k: &mut K, jail: &str) -> Result<Output> {
        let _lock = self.lock(k, jail)?;
        let mut d = Done::default();
        self.reclaim_nics(k, jail, &mut d);
        self.release_jail(k, jail, &[], &mut d)?;
        Ok(self.output(d, &format!("jnet-release {jail}"), json!({ "jail": jail })))
    }

    /// Release one jail's epairs and eifaces (and prune their bridges), into `d`.
    /// `also` are more interfaces known to be the jail's under other names (a crash between
    /// tagging and renaming), found by `--stale`'s full scan.
    fn release_jail<K: Kernel>(&self, k: &mut K, jail: &str, also: &[String], d: &mut Done) -> Result<()> {
        let list = k.if_list().step(|| "list interfaces".into())?;
        let ours = epairs_of(k, &list, jail, self.short.as_deref(), also, None)?;
        self.destroy_epairs(k, &list, &ours, d);
        // The bridges to prune are known from the eifaces' hooks, which go with them: an
        // intent keeps them until the prune is done (a crash in between: --stale does it).
        let mut intent: Option<crate::intent::Intent> = None;
        let ng_bridges = self.shut_down_eifaces(k, &list, jail, d, &mut intent)?;
        if self.prune {
            self.prune(k, &ng_bridges, &ours, d)?;
        }
        drop(intent);
        Ok(())
    }

    /// Take `ours` out of their bridges and destroy them.
    fn destroy_epairs<K: Kernel>(&self, k: &mut K, list: &[IfInfo], ours: &[String], d: &mut Done) {
        self.leave_bridges(k, list, ours, d);
        for o in ours {
            d.cmds.push(format!("ifconfig {o} destroy"));
            if self.dry_run {
                continue;
            }
            // Already gone (another release, the jail's vnet died) is success.
            match k.if_destroy(o) {
                Ok(()) => d.released.push(o.clone()),
                Err(Errno::ENXIO) => {}
                Err(e) => d.errs.push(Error::kernel(format!("destroy {o}"), e)),
            }
        }
    }

    /// Take `ours` out of their bridges. The kernel detaches a destroyed member by itself
    /// (bridge_ifdetach); the explicit BRDGDEL keeps older kernels' epair teardown away from a
    /// busy bridge. Bridges named bridge<N> are checked; others rely on the kernel.
    fn leave_bridges<K: Kernel>(&self, k: &mut K, list: &[IfInfo], ours: &[String], d: &mut Done) {
        for b in list.iter().map(|i| &i.name).filter(|n| is_bridge_unit(n)) {
            let members = match bridge_state(k, b) {
                Ok(Some(m)) => m,
                Ok(None) => continue,
                Err(e) => {
                    d.errs.push(e);
                    continue;
                }
            };
            for o in ours.iter().filter(|o| members.contains(o)) {
                d.cmds.push(format!("ifconfig {b} deletem {o}"));
                if !self.dry_run {
                    match k.bridge_del(b, o) {
                        Ok(()) | Err(Errno::ENOENT) | Err(Errno::ENXIO) => {}
                        Err(e) => d.errs.push(Error::kernel(format!("remove {o} from bridge {b}"), e)),
                    }
                }
            }
        }
    }

    /// Shut down the jail's eiface nodes (found by its keyed node names: only the host's root
    /// names host nodes). Shutting one down destroys its interface wherever it is, inside a
    /// live or dying jail too. Returns the ng_bridges they were on.
    fn shut_down_eifaces<K: Kernel>(
        &self,
        k: &mut K,
        list: &[IfInfo],
        jail: &str,
        d: &mut Done,
        intent: &mut Option<crate::intent::Intent>,
    ) -> Result<Vec<String>> {
        let mut ng_bridges: Vec<String> = vec![];
        let nodes = match ng_nodes(k) {
            Ok(n) => n,
            Err(e) => {
                d.errs.push(e);
                return Ok(ng_bridges);
            }
        };
        if !nodes.iter().any(|n| n.node_type == "eiface" && n.name.starts_with(names::NODE_PREFIX)) {
            return Ok(ng_bridges);
        }
        // Without the key the nodes were named with, none can be told to be this jail's.
        let Some(ng_names) = ngplan::eiface_nodes(k, jail)? else {
            d.errs.push(missing_key(k));
            return Ok(ng_bridges);
        };
        for n in nodes.iter().filter(|n| n.node_type == "eiface" && ng_names.contains(&n.name)) {
            let path = format!("{}:", n.name);
            let Some(ifname) = eiface_ifname(k, &n.name, d) else { continue };
            // Its interface, where the host can read it, must not be another jail's.
            if list.iter().any(|i| i.name == ifname) {
                if let Some(t) = inventory::host_mark(k, &ifname)?.as_ref().and_then(|m| m.owned()) {
                    if !t.is_for(jail) {
                        d.errs.push(Error::conflict(format!(
                            "netgraph node {} has interface {ifname}, which is jnet's for jail {}: left alone",
                            n.name,
                            t.jail.as_deref().unwrap_or("-")
                        )));
                        continue;
                    }
                }
            }
            match k.ng_hooks(&path) {
                Ok((_, hooks)) => {
                    for h in hooks.iter().filter(|h| h.peer.node_type == "bridge" && !h.peer.name.is_empty()) {
                        if !ng_bridges.contains(&h.peer.name) {
                            ng_bridges.push(h.peer.name.clone());
                        }
                    }
                }
                Err(Errno::ENOENT) => continue,
                // Without its hooks we would not know which bridge to prune later: leave the
                // node for the next run rather than lose track of the bridge.
                Err(e) => {
                    d.errs.push(Error::kernel(format!("list the hooks of {}", n.name), e));
                    continue;
                }
            }
            if self.prune && !self.dry_run && !ng_bridges.is_empty() {
                let what = crate::intent::Creation::Prune { ng_bridges: ng_bridges.clone() };
                let state = k.state_dir();
                let r = match intent.as_mut() {
                    None => crate::intent::Intent::begin(&state, "jnet-release", what).map(|i| *intent = Some(i)),
                    Some(i) => i.update("jnet-release", what),
                };
                if let Err(e) = r {
                    d.errs.push(e);
                    continue;
                }
            }
            self.shut_down_node(k, &path, ifname, d);
        }
        Ok(ng_bridges)
    }

    /// Remove the ng_bridges (and jnet's nursery) no jail uses any more, and jnet's empty
    /// if_bridges.
    fn prune<K: Kernel>(&self, k: &mut K, ng_bridges: &[String], ours: &[String], d: &mut Done) -> Result<()> {
        for b in ng_bridges {
            if self.dry_run {
                d.cmds.push(format!("ngctl shutdown {b}:  # if no jail is left on it"));
                continue;
            }
            match ngplan::unsplice_if_unused(k, b) {
                Ok(true) => d.pruned.push(b.clone()),
                Ok(false) => {}
                Err(e) => d.errs.push(e),
            }
        }
        // jnet's nursery bridge, when no eiface is being born on it.
        if !self.dry_run {
            if let Err(e) = ngplan::unsplice_if_unused(k, ngplan::NURSERY) {
                d.errs.push(e);
            }
        }
        let (_, owned) = inventory::scan_host(k)?;
        let vlans: Vec<&str> = owned.iter().filter(|o| o.tag.role == Role::Vlan).map(|o| o.name.as_str()).collect();
        let mut bridged: Vec<String> = vec![];
        for b in owned.iter().filter(|o| o.tag.role == Role::Bridge) {
            let members = match bridge_state(k, &b.name) {
                Ok(Some(m)) => m,
                Ok(None) => continue,
                Err(e) => {
                    d.errs.push(e);
                    continue;
                }
            };
            bridged.extend(members.iter().cloned());
            // No jail left: no members, or only jnet's own vlans (a --vlan bridge's uplink).
            let left: Vec<&String> = members.iter().filter(|x| !(self.dry_run && ours.contains(x))).collect();
            if !left.iter().all(|x| vlans.contains(&x.as_str())) {
                continue;
            }
            d.cmds.push(format!("ifconfig {} destroy", b.name));
            for v in &left {
                d.cmds.push(format!("ifconfig {v} destroy"));
            }
            if self.dry_run {
                continue;
            }
            match k.if_destroy(&b.name) {
                Ok(()) => d.pruned.push(b.name.clone()),
                Err(Errno::ENXIO) => {}
                Err(e) => {
                    d.errs.push(Error::kernel(format!("destroy bridge {}", b.name), e));
                    continue;
                }
            }
            for v in left {
                match k.if_destroy(v) {
                    Ok(()) => d.pruned.push(v.clone()),
                    Err(Errno::ENXIO) => {}
                    Err(e) => d.errs.push(Error::kernel(format!("destroy vlan {v}"), e)),
                }
            }
        }
        // jnet's vlans that no bridge uses any more: in no jnet bridge, nothing spliced on
        // their ng_ether (a netgraph bridge was taken away above).
        for v in vlans.iter().filter(|v| !bridged.iter().any(|b| b == *v)) {
            let spliced = match k.ng_hooks(&format!("{}:", ngplan::ether_node(v))) {
                Ok((_, hooks)) => !hooks.is_empty(),
                Err(Errno::ENOENT) | Err(Errno::EAFNOSUPPORT) | Err(Errno::EPROTONOSUPPORT) => false,
                Err(e) => {
                    d.errs.push(Error::kernel(format!("list the hooks of {v}'s ng_ether"), e));
                    continue;
                }
            };
            if spliced || self.dry_run {
                continue;
            }
            match k.if_destroy(v) {
                Ok(()) => d.pruned.push(v.to_string()),
                Err(Errno::ENXIO) => {}
                Err(e) => d.errs.push(Error::kernel(format!("destroy vlan {v}"), e)),
            }
        }
        Ok(())
    }

    /// Everything jnet's for jails that are not running: epairs, eifaces, NICs that came home.
    /// Running jails' objects are left alone, and so is anything a jail that could not be
    /// read might be using.
    fn stale<K: Kernel>(&self, k: &mut K) -> Result<Output> {
        let mut squatted = Done::default();
        if self.squatters {
            self.move_squatters(k, &mut squatted)?;
        }
        // First what crashed runs were making when they died (their intents): then the
        // rest sees a host where everything left of them carries jnet's marks.
        let crashed = crate::leftover::undo_orphans(k, crate::leftover::Phase::Making, self.dry_run)?;
        squatted.cmds.extend(crashed.cmds);
        squatted.released.extend(crashed.undone);
        if let Err(e) = crashed.errs.into_result("undo what crashed runs left") {
            squatted.errs.push(e);
        }
        let (list, owned) = inventory::scan_host(k)?;
        let jails = k.jails().step(|| "list jails".into())?;
        let running: Vec<&JailInfo> = jails.iter().filter(|j| !j.dying).collect();
        let running_names: Vec<String> = running.iter().map(|j| j.name.clone()).collect();
        let is_running = |name: &str| running_names.iter().any(|j| j == name);
        let mut stale: Vec<String> = vec![];
        for o in &owned {
            if let Some(j) = &o.tag.jail {
                if matches!(o.tag.role, Role::EpairHost(_) | Role::EpairJail(_) | Role::Eiface(_))
                    && !is_running(j)
                    && !stale.contains(j)
                {
                    stale.push(j.clone());
                }
            }
        }
        let mut d = squatted;
        for j in &stale {
            let also: Vec<String> = owned
                .iter()
                .filter(|o| o.tag.is_for(j) && matches!(o.tag.role, Role::EpairHost(_) | Role::EpairJail(_)))
                .map(|o| o.name.clone())
                .collect();
            let released = self.lock(k, j).and_then(|_lock| self.release_jail(k, j, &also, &mut d));
            if let Err(e) = released {
                d.errs.push(e.context(format!("jail {j}")));
            }
        }
        let node_bridges = self.stale_nodes(k, &list, &running, &mut d)?;
        // Eifaces a crash left on the nursery before they were named.
        for path in ngplan::orphans(k)? {
            let ifname = k.ng_eiface_ifname(&path).unwrap_or_else(|_| path.clone());
            self.shut_down_node(k, &path, ifname, &mut d);
        }
        // NICs that came home when their jail's vnet died, restored from their records.
        if self.dry_run {
            for r in nic::all(k)?.iter().filter(|r| !is_running(&r.jail)) {
                d.cmds.push(format!("ifconfig {}  # back as {}, if it is on the host", r.driver, r.host_name));
            }
        } else {
            match nic::restore_returned(k, &list, &running_names) {
                Ok(n) => d.released.extend(n),
                Err(e) => d.errs.push(e),
            }
        }
        // The prunes crashed releases were doing, now that the nodes of gone jails are.
        let pruned = crate::leftover::undo_orphans(k, crate::leftover::Phase::Pruning, self.dry_run)?;
        d.cmds.extend(pruned.cmds);
        d.pruned.extend(pruned.undone);
        if let Err(e) = pruned.errs.into_result("finish what crashed releases were pruning") {
            d.errs.push(e);
        }
        if self.prune {
            // Empty jnet bridges and the nursery, whoever left them: if_bridges by their
            // marks, netgraph bridges where jnet splices them (NICbridge on a NIC).
            let mut bridges = spliced_bridges(k, &list, &mut d);
            bridges.extend(node_bridges.into_iter().filter(|b| !bridges.contains(b)).collect::<Vec<_>>());
            self.prune(k, &bridges, &[], &mut d)?;
        }
        Ok(self.output(d, "jnet-release --stale", json!({ "stale_jails": stale })))
    }

    /// `--squatters`: an interface on the host under a name jnet gives (`e<i>a_`, `e<i>b_`,
    /// `ng<i>_`) without jnet's marks came home from a jail that named it so (if_vmove and
    /// vnet_if_return check no names), and blocks the jail that name is for. Each is renamed
    /// `squat<N>` (a name no interface has), through its name only where that name
    /// designates it alone; a name two interfaces share is reported, not touched.
    fn move_squatters<K: Kernel>(&self, k: &mut K, d: &mut Done) -> Result<()> {
        let list = k.if_list().step(|| "list interfaces".into())?;
        let twice = inventory::ambiguous(&list);
        let mut taken: Vec<String> = list.iter().map(|i| i.name.clone()).collect();
        let mut n = 0u32;
        for name in list.iter().map(|i| &i.name).filter(|n| names::is_jnet_style(n)) {
            if twice.contains(name) {
                if let Err(e) = inventory::designates_one(&list, name) {
                    if !d.errs.0.iter().any(|x| x.message == e.message) {
                        d.errs.push(e);
                    }
                }
                continue;
            }
            if inventory::host_mark(k, name)?.as_ref().and_then(|m| m.owned()).is_some() {
                continue;
            }
            while taken.contains(&format!("squat{n}")) {
                n += 1;
            }
            let to = format!("squat{n}");
            d.cmds.push(format!("ifconfig {name} name {to}"));
            taken.push(to.clone());
            if self.dry_run {
                continue;
            }
            match k.if_rename(name, &to) {
                Ok(()) => d.released.push(format!("{name} -> {to}")),
                Err(Errno::ENXIO) => {}
                Err(e) => d.errs.push(Error::kernel(format!("rename {name} to {to}"), e)),
            }
        }
        Ok(())
    }

    /// jnet's eiface nodes that no running jail uses: not under a running jail's keyed
    /// names, and their interface not on the host as a running jail's. Nothing is read from
    /// inside jails: a claim made there could only be the jail's word, and a jail that cannot
    /// be read must not change what is swept.
    /// Returns the ng_bridges the nodes it shut down were on.
    fn stale_nodes<K: Kernel>(
        &self,
        k: &mut K,
        list: &[IfInfo],
        running: &[&JailInfo],
        d: &mut Done,
    ) -> Result<Vec<String>> {
        let mut bridges: Vec<String> = vec![];
        let nodes = match ng_nodes(k) {
            Ok(n) => n,
            Err(e) => {
                d.errs.push(e);
                return Ok(bridges);
            }
        };
        let ours: Vec<&NgNode> =
            nodes.iter().filter(|n| n.node_type == "eiface" && n.name.starts_with(names::NODE_PREFIX)).collect();
        if ours.is_empty() {
            return Ok(bridges);
        }
        // Without the key the nodes were named with, no node can be told apart from another.
        let Some(key) = crate::hoststate::read_naming_key(&k.state_dir())? else {
            d.errs.push(missing_key(k));
            return Ok(bridges);
        };
        let in_use: Vec<String> = running.iter().flat_map(|j| ngplan::eiface_nodes_under(&key, &j.name)).collect();
        for n in ours.into_iter().filter(|n| !in_use.contains(&n.name)) {
            let path = format!("{}:", n.name);
            let Some(ifname) = eiface_ifname(k, &n.name, d) else { continue };
            if list.iter().any(|i| i.name == ifname) {
                let mark = inventory::host_mark(k, &ifname)?;
                let owner = mark.as_ref().and_then(|m| m.owned()).and_then(|t| t.jail.clone());
                if owner.is_some_and(|j| running.iter().any(|r| r.name == j)) {
                    continue;
                }
            }
            if let Ok((_, hooks)) = k.ng_hooks(&path) {
                for h in hooks.iter().filter(|h| h.peer.node_type == "bridge" && !h.peer.name.is_empty()) {
                    if !bridges.contains(&h.peer.name) {
                        bridges.push(h.peer.name.clone());
                    }
                }
            }
            self.shut_down_node(k, &path, ifname, d);
        }
        Ok(bridges)
    }

    /// `--unsplice NIC...`: take jnet's bridges off NICs no jail uses any more.
    fn unsplice<K: Kernel>(&self, k: &mut K) -> Result<Output> {
        let mut d = Done::default();
        for nic in &self.unsplice {
            names::check_ifname("--unsplice", nic)?;
            if self.dry_run {
                d.cmds.push(format!("ngctl shutdown {}:lower  # if no jail is left on it", ngplan::ether_node(nic)));
                continue;
            }
            match ngplan::unsplice_nic(k, nic) {
                Ok(Some(b)) => d.pruned.push(b),
                Ok(None) => {}
                Err(e) => d.errs.push(e),
            }
        }
        Ok(self.output(d, "jnet-release --unsplice", json!({})))
    }

    fn list<K: Kernel>(&self, k: &mut K, jail: Option<&str>) -> Result<Output> {
        let mut errs = ErrorList::default();
        let (_, host) = inventory::scan_host(k)?;
        let mut rows: Vec<(String, Owned)> = host.into_iter().map(|o| ("host".to_string(), o)).collect();
        let jails = k.jails().step(|| "list jails".into())?;
        for j in &jails {
            if j.vnet && !j.dying && jail.is_none_or(|n| n == j.name) {
                match inventory::scan_jail(k, j.jid, &j.name) {
                    Ok((_, inside)) => rows.extend(inside.into_iter().map(|o| (format!("jail:{}", j.name), o))),
                    Err(e) => errs.push(e),
                }
            }
        }
        rows.retain(|(_, o)| jail.is_none_or(|n| o.tag.is_for(n)));
        let mut lines: Vec<String> = rows
            .iter()
            .map(|(place, o)| format!("{} {} {} {}", o.tag.jail.as_deref().unwrap_or("-"), o.tag.role, o.name, place))
            .collect();
        let mut objs: Vec<_> = rows
            .iter()
            .map(|(place, o)| {
                json!({ "jail": o.tag.jail, "role": o.tag.role.to_string(), "name": o.name, "where": place,
                        "up": o.info.flags & crate::kernel::iff::UP != 0 })
            })
            .collect();
        // jnet's eiface nodes: whose (by the keyed names of the jails known), which bridge
        // link each uses, and its traffic (NGM_BRIDGE_GET_STATS).
        let nodes = ng_nodes(k)?;
        let ours: Vec<&NgNode> =
            nodes.iter().filter(|n| n.node_type == "eiface" && n.name.starts_with(names::NODE_PREFIX)).collect();
        let mut known: Vec<String> = jails.iter().map(|j| j.name.clone()).collect();
        known.extend(rows.iter().filter_map(|(_, o)| o.tag.jail.clone()));
        known.sort();
        known.dedup();
        let mut owner_of: Vec<(String, String)> = vec![];
        if !ours.is_empty() {
            for j in &known {
                for n in ngplan::eiface_nodes(k, j)?.into_iter().flatten() {
                    owner_of.push((n, j.clone()));
                }
            }
        }
        for n in ours {
            let who = owner_of.iter().find(|(x, _)| *x == n.name).map(|(_, j)| j.clone());
            if jail.is_some() && who.as_deref() != jail {
                continue;
            }
            let (_, hooks) = k.ng_hooks(&format!("{}:", n.name)).step(|| format!("list the hooks of {}", n.name))?;
            let link = hooks.iter().find(|h| h.ourhook == "ether" && h.peer.node_type == "bridge");
            let (bridge, linkname, stats) = match link {
                Some(h) => {
                    let num = h.peerhook.strip_prefix("link").and_then(|x| x.parse::<i32>().ok());
                    let stats = num.and_then(|x| k.ng_bridge_link_stats(&format!("{}:", h.peer.name), x).ok());
                    (h.peer.name.clone(), h.peerhook.clone(), stats)
                }
                None => (String::new(), String::new(), None),
            };
            let ifname = k.ng_eiface_ifname(&format!("{}:", n.name)).unwrap_or_default();
            let (rx, tx) = stats.map(|s| (s[1], s[8])).unwrap_or((0, 0));
            let who = who.unwrap_or_else(|| "-".into());
            lines
                .push(format!("{who} ng-node {} netgraph {bridge}:{linkname} rx={rx} tx={tx} ifname={ifname}", n.name));
            objs.push(json!({ "jail": who, "role": "ng-node", "name": n.name, "where": "netgraph",
                              "interface": ifname, "bridge": bridge, "link": linkname,
                              "rx_packets": rx, "tx_packets": tx }));
        }
        let error = errs.into_result("jnet-release --list").err();
        Ok(Output { lines, json: json!({ "objects": objs }), error })
    }
}

impl Program for ReleaseArgs {
    const NAME: &'static str = "jnet-release";

    fn common(&self) -> Common {
        self.common_flags()
    }

    fn run<K: Kernel>(self, k: &mut K) -> Result<Output> {
        for i in &self.iface {
            names::check_ifname("--iface", i)?;
        }
        if let Some(short) = &self.short {
            names::check_short(short, 0)?;
        }
        if let Some(w) = self.wait {
            if !(w.is_finite() && w > 0.0 && w <= 3600.0) {
                return Err(Error::data(format!("--wait {w} is not a number of seconds from 0 to 3600")));
            }
            if self.iface.is_empty() {
                return Err(Error::usage("--wait is for --iface NICs that are still away"));
            }
        }
        if !self.unsplice.is_empty() {
            if self.jail.is_some() || self.stale || self.list || !self.iface.is_empty() {
                return Err(Error::usage("--unsplice NIC goes alone: give no JAIL, --stale, --list or --iface"));
            }
            return self.unsplice(k);
        }
        if self.squatters && !self.stale {
            return Err(Error::usage("--squatters goes with --stale: jnet-release --stale --squatters"));
        }
        if self.stale {
            if self.jail.is_some() || !self.iface.is_empty() || self.list {
                return Err(Error::usage(
                    "--stale sweeps every jail that is not running: give no JAIL, --iface or --list",
                ));
            }
            return self.stale(k);
        }
        if self.list {
            if self.prune || !self.iface.is_empty() {
                return Err(Error::usage("--list changes nothing; it does not go with --prune or --iface"));
            }
            let jail = match &self.jail {
                Some(j) => Some(jail_name(k, j)?),
                None => None,
            };
            return self.list(k, jail.as_deref());
        }
        let Some(j) = &self.jail else {
            return Err(Error::usage("which jail? jnet-release JAIL (or --list, or --stale)"));
        };
        let jail = jail_name(k, j)?;
        self.release(k, &jail)
    }
}
