//! jnet-release: give back or destroy what jnet made for a jail.
//!
//! Idempotent like CNI's DEL: whatever is already gone counts as released, every failure
//! is collected rather than stopping the teardown, and only objects tagged for the jail
//! (or jnet's shared bridges, with --prune) are touched.

use crate::cli::{Common, Output, Program};
use crate::errno::Errno;
use crate::error::{Error, ErrorList, KernelContext, Kind, Result};
use crate::inventory::{self, Owned};
use crate::kernel::{JailRef, Kernel};
use crate::names::{self, End};
use crate::ngplan;
use crate::nic::{self, NicOutcome};
use crate::owner::Role;
use crate::owner::Tag;
use crate::plan::bridge_state;
use argh::FromArgs;
use serde_json::json;
use std::time::Duration;

#[derive(FromArgs, Debug)]
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
    /// print what would be done as ifconfig(8) commands and change nothing
    #[argh(switch, short = 'n')]
    pub dry_run: bool,
    /// print the result (or the error) as one JSON object
    #[argh(switch)]
    pub json: bool,
    /// log each step on stderr
    #[argh(switch, short = 'v')]
    pub verbose: bool,
    /// also log to syslog
    #[argh(switch)]
    pub syslog: bool,
}

fn is_epair_role(r: &Role) -> bool {
    matches!(r, Role::EpairHost(_) | Role::EpairJail(_))
}

/// The jail's name: given, or looked up from its jid.
fn jail_name<K: Kernel>(k: &mut K, s: &str) -> Result<String> {
    match JailRef::parse(s)? {
        JailRef::Name(n) => Ok(n),
        JailRef::Jid(j) => match k.jail(&JailRef::Jid(j)).step(|| format!("look up jail {j}"))? {
            Some(info) => Ok(info.name),
            None => Err(Error::new(crate::error::Kind::NoJail, format!("no jail with jid {j}; name the jail instead"))),
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

impl ReleaseArgs {
    /// Bring the `--iface` NICs home from `jail` first, at once.
    fn reclaim_nics<K: Kernel>(&self, k: &mut K, jail: &str, d: &mut Done) -> Result<()> {
        let wait = self.wait.map(Duration::from_secs_f64);
        for nic in &self.iface {
            if self.dry_run {
                d.cmds.push(format!("ifconfig {nic} -vnet {jail}"));
                continue;
            }
            match nic::reclaim(k, nic, jail, wait) {
                Ok(NicOutcome::Reclaimed) => d.released.push(nic.clone()),
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
        Ok(())
    }

    fn output(&self, d: Done, what: &str, json_head: serde_json::Value) -> Result<Output> {
        d.errs.into_result(what)?;
        if self.dry_run {
            return Ok(Output { json: json!({ "dry_run": true, "commands": d.cmds }), lines: d.cmds });
        }
        let mut lines: Vec<String> = d.released.iter().chain(d.pruned.iter()).cloned().collect();
        if lines.is_empty() {
            lines.push("nothing to release".into());
        }
        let mut j = json_head;
        j["released"] = json!(d.released);
        j["pruned"] = json!(d.pruned);
        Ok(Output { lines, json: j })
    }

    fn release<K: Kernel>(&self, k: &mut K, jail: &str) -> Result<Output> {
        let mut d = Done::default();
        self.reclaim_nics(k, jail, &mut d)?;
        self.release_jail(k, jail, &[], &mut d)?;
        self.output(d, &format!("jnet-release {jail}"), json!({ "jail": jail }))
    }

    /// Everything tagged for a jail that is not running: epairs, eifaces, NICs that came
    /// home with a record. Running jails' objects are left alone.
    fn stale<K: Kernel>(&self, k: &mut K) -> Result<Output> {
        let (list, owned) = inventory::scan(k)?;
        let jails = k.jails().step(|| "list jails".into())?;
        let running: Vec<&crate::kernel::JailInfo> = jails.iter().filter(|j| !j.dying).collect();
        let is_running = |name: &str| running.iter().any(|j| j.name == name);
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
        let mut d = Done::default();
        for j in &stale {
            let also: Vec<String> = owned
                .iter()
                .filter(|o| o.tag.is_for(j) && matches!(o.tag.role, Role::EpairHost(_) | Role::EpairJail(_)))
                .map(|o| o.name.clone())
                .collect();
            self.release_jail(k, j, &also, &mut d)?;
        }
        // Eiface nodes whose interface is in no running jail and not on the host (it went
        // with a dead vnet's jail, or the start failed half-way).
        let mut in_use: Vec<String> = owned
            .iter()
            .filter_map(|o| match (&o.tag.role, &o.tag.jail) {
                (Role::Eiface(i), Some(j)) if is_running(j) => Some(ngplan::eiface_node(&names::eiface_name(j, *i))),
                _ => None,
            })
            .collect();
        for j in running.iter().filter(|j| j.vnet) {
            let (_, inside) = inventory::scan_jail(k, j.jid)?;
            for o in inside {
                if let (Role::Eiface(i), Some(oj)) = (&o.tag.role, &o.tag.jail) {
                    in_use.push(ngplan::eiface_node(&names::eiface_name(oj, *i)));
                }
            }
        }
        let nodes = match k.ng_nodes() {
            Ok(n) => n,
            Err(Errno::EAFNOSUPPORT) | Err(Errno::EPROTONOSUPPORT) => vec![],
            Err(e) => return Err(Error::kernel("list netgraph nodes", e)),
        };
        for n in
            nodes.iter().filter(|n| n.node_type == "eiface" && n.name.starts_with("jnet-") && !in_use.contains(&n.name))
        {
            let path = format!("{}:", n.name);
            d.cmds.push(format!("ngctl shutdown {path}"));
            if self.dry_run {
                continue;
            }
            let ifname = match k.ng_eiface_ifname(&path) {
                Ok(i) => i,
                Err(e) => {
                    d.errs.push(Error::kernel(format!("get the interface name of {}", n.name), e));
                    n.name.clone()
                }
            };
            match k.ng_shutdown(&path) {
                Ok(()) => d.released.push(ifname),
                Err(Errno::ENOENT) => {}
                Err(e) => d.errs.push(Error::kernel(format!("shut down netgraph node {}", n.name), e)),
            }
        }
        // Eifaces a crash left on the nursery before they were named.
        for path in ngplan::orphans(k)? {
            d.cmds.push(format!("ngctl shutdown {path}"));
            if self.dry_run {
                continue;
            }
            let ifname = k.ng_eiface_ifname(&path).unwrap_or_else(|_| path.clone());
            match k.ng_shutdown(&path) {
                Ok(()) => d.released.push(ifname),
                Err(Errno::ENOENT) => {}
                Err(e) => d.errs.push(Error::kernel(format!("shut down netgraph node {path}"), e)),
            }
        }
        // NICs that came home when their jail's vnet died, still carrying our record.
        for (now, rec) in nic::recorded_on_host(k, &list)? {
            if is_running(&rec.jail) {
                continue;
            }
            d.cmds.push(format!("ifconfig {now} name {} description ...", rec.host_name));
            if self.dry_run {
                continue;
            }
            match nic::restore(k, &now, &rec) {
                Ok(()) => d.released.push(rec.host_name.clone()),
                Err(e) => d.errs.push(e),
            }
        }
        self.output(d, "jnet-release --stale", json!({ "stale_jails": stale }))
    }

    /// Release one jail's epairs and eifaces (and prune their bridges), into `d`.
    /// `also` are more interfaces known to be tagged for the jail under other names (a crash
    /// between tagging and renaming), found by `--stale`'s full scan.
    fn release_jail<K: Kernel>(&self, k: &mut K, jail: &str, also: &[String], d: &mut Done) -> Result<()> {
        // Only the names jnet gives this jail's epairs can be ours: reading those few
        // descriptions, not every interface's, keeps a release to a handful of ioctls on a
        // host with hundreds of jails. (`--list`, `--prune` and `--stale` look at everything.)
        let list = k.if_list().step(|| "list interfaces".into())?;
        let candidates: Vec<String> = (0..=names::INDEX_MAX)
            .flat_map(|i| [names::epair_name(jail, i, End::A), names::epair_name(jail, i, End::B)])
            .chain(also.iter().cloned())
            .collect();
        let mut found: Vec<(String, Role)> = vec![];
        for info in list.iter().filter(|i| candidates.contains(&i.name)) {
            match k.if_description(&info.name) {
                Ok(d) => {
                    if let Some(t) =
                        d.as_deref().and_then(Tag::parse).filter(|t| t.is_for(jail) && is_epair_role(&t.role))
                    {
                        found.push((info.name.clone(), t.role));
                    }
                }
                Err(Errno::ENXIO) => {}
                Err(e) => return Err(Error::kernel(format!("read the description of {}", info.name), e)),
            }
        }
        // One end per pair: destroying it takes the other, wherever that is.
        let host_ends: Vec<u32> =
            found.iter().filter_map(|(_, r)| if let Role::EpairHost(i) = r { Some(*i) } else { None }).collect();
        let ours: Vec<String> = found
            .into_iter()
            .filter(|(_, r)| !matches!(r, Role::EpairJail(i) if host_ends.contains(i)))
            .map(|(n, _)| n)
            .collect();
        // Out of their bridges first. The kernel detaches a destroyed member by itself
        // (bridge_ifdetach); the explicit BRDGDEL keeps older kernels' epair teardown away
        // from a busy bridge. Bridges named bridge<N> are checked; others rely on the kernel.
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
        for o in &ours {
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
        // Netgraph: jnet's eiface nodes for this jail. Shutting one down destroys its
        // interface wherever it is, inside a live or dying jail too.
        let mut ng_bridges: Vec<String> = vec![];
        let nodes = match k.ng_nodes() {
            Ok(n) => n,
            // No netgraph in this kernel, so nothing of ours in it.
            Err(Errno::EAFNOSUPPORT) | Err(Errno::EPROTONOSUPPORT) => vec![],
            Err(e) => {
                d.errs.push(Error::kernel("list netgraph nodes", e));
                vec![]
            }
        };
        let ng_names: Vec<String> =
            (0..=names::INDEX_MAX).map(|i| ngplan::eiface_node(&names::eiface_name(jail, i))).collect();
        for n in nodes.iter().filter(|n| n.node_type == "eiface" && ng_names.contains(&n.name)) {
            let path = format!("{}:", n.name);
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
            let ifname = match k.ng_eiface_ifname(&path) {
                Ok(i) => i,
                Err(e) => {
                    d.errs.push(Error::kernel(format!("get the interface name of {}", n.name), e));
                    n.name.clone()
                }
            };
            d.cmds.push(format!("ngctl shutdown {path}"));
            if self.dry_run {
                continue;
            }
            match k.ng_shutdown(&path) {
                Ok(()) => d.released.push(ifname),
                Err(Errno::ENOENT) => {}
                Err(e) => d.errs.push(Error::kernel(format!("shut down netgraph node {}", n.name), e)),
            }
        }
        if self.prune {
            for b in &ng_bridges {
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
                match ngplan::unsplice_if_unused(k, ngplan::NURSERY) {
                    Ok(_) => {}
                    Err(e) => d.errs.push(e),
                }
            }
            let (_, owned) = inventory::scan(k)?;
            for b in owned.iter().filter(|o| o.tag.role == Role::Bridge) {
                match bridge_state(k, &b.name) {
                    Ok(Some(m)) if m.is_empty() || (self.dry_run && m.iter().all(|x| ours.contains(x))) => {
                        d.cmds.push(format!("ifconfig {} destroy", b.name));
                        if self.dry_run {
                            continue;
                        }
                        match k.if_destroy(&b.name) {
                            Ok(()) => d.pruned.push(b.name.clone()),
                            Err(Errno::ENXIO) => {}
                            Err(e) => d.errs.push(Error::kernel(format!("destroy bridge {}", b.name), e)),
                        }
                    }
                    Ok(_) => {}
                    Err(e) => d.errs.push(e),
                }
            }
        }
        Ok(())
    }

    fn list<K: Kernel>(&self, k: &mut K, jail: Option<&str>) -> Result<Output> {
        let (_, host) = inventory::scan(k)?;
        let mut rows: Vec<(String, Owned)> = host.into_iter().map(|o| ("host".to_string(), o)).collect();
        for j in k.jails().step(|| "list jails".into())? {
            if j.vnet && !j.dying && jail.is_none_or(|n| n == j.name) {
                let (_, inside) = inventory::scan_jail(k, j.jid)?;
                rows.extend(inside.into_iter().map(|o| (format!("jail:{}", j.name), o)));
            }
        }
        rows.retain(|(_, o)| jail.is_none_or(|n| o.tag.is_for(n)));
        let lines: Vec<String> = rows
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
        let mut lines: Vec<String> = lines;
        // jnet's eiface nodes: which bridge link each uses, and its traffic (NGM_BRIDGE_GET_STATS).
        let nodes = match k.ng_nodes() {
            Ok(n) => n,
            Err(Errno::EAFNOSUPPORT) | Err(Errno::EPROTONOSUPPORT) => vec![],
            Err(e) => return Err(Error::kernel("list netgraph nodes", e)),
        };
        for n in nodes.iter().filter(|n| n.node_type == "eiface" && n.name.starts_with("jnet-")) {
            let ifname = &n.name["jnet-".len()..];
            // The node is named after the interface's original name, which it may no longer
            // have inside the jail: match through the tag.
            let owner = rows.iter().find(|(_, o)| match (&o.tag.role, &o.tag.jail) {
                (Role::Eiface(i), Some(j)) => names::eiface_name(j, *i) == ifname,
                _ => false,
            });
            if jail.is_some() && owner.is_none() {
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
            let (rx, tx) = stats.map(|s| (s[1], s[8])).unwrap_or((0, 0));
            let who = owner.and_then(|(_, o)| o.tag.jail.clone()).unwrap_or_else(|| "-".into());
            lines.push(format!("{who} ng-node {} netgraph {bridge}:{linkname} rx={rx} tx={tx}", n.name));
            objs.push(json!({ "jail": who, "role": "ng-node", "name": n.name, "where": "netgraph",
                              "bridge": bridge, "link": linkname, "rx_packets": rx, "tx_packets": tx }));
        }
        Ok(Output { lines, json: json!({ "objects": objs }) })
    }
}

impl Program for ReleaseArgs {
    const NAME: &'static str = "jnet-release";

    fn common(&self) -> Common {
        Common { dry_run: self.dry_run, json: self.json, verbose: self.verbose, syslog: self.syslog }
    }

    fn run<K: Kernel>(self, k: &mut K) -> Result<Output> {
        for i in &self.iface {
            names::check_ifname("--iface", i)?;
        }
        if let Some(w) = self.wait {
            if !(w.is_finite() && w > 0.0 && w <= 3600.0) {
                return Err(Error::data(format!("--wait {w} is not a number of seconds from 0 to 3600")));
            }
            if self.iface.is_empty() {
                return Err(Error::usage("--wait is for --iface NICs that are still away"));
            }
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
