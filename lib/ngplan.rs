//! The netgraph steps of a plan: splice or create an ng_bridge, make an eiface that can
//! neither leak nor collide when many jails start at once, and undo a splice.
//!
//! The eiface is made on our own socket node, named at once (`jnet-<ifname>` marks it as
//! jnet's; an eiface outlives the socket that made it, so a crash after this point leaves a
//! node `jnet-release` recognises), then moved to the first free `link<N>` of the bridge.
//! CONNECT fails with EEXIST when another hook took that link first, and the next number
//! is tried: the kernel arbitrates, no lock is needed.

use crate::errno::Errno;
use crate::error::{Error, KernelContext, Kind, Result};
use crate::kernel::Kernel;

/// How long a queued shutdown may take to be applied.
const SHUTDOWN_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// NGM_SHUTDOWN, and wait until the node is gone. The kernel queues a shutdown and a netgraph
/// thread applies it a moment later (ng_base.c); until then the node keeps its name, its
/// hooks and, for an eiface, its interface, and what comes next (pruning its bridge, a new
/// node or interface of the same name) would find them. Ok(false) if it was gone already.
pub fn shut_down<K: Kernel>(k: &mut K, path: &str) -> std::result::Result<bool, Errno> {
    let id = match k.ng_node(path) {
        Ok(n) => n.id,
        Err(Errno::ENOENT) => return Ok(false),
        Err(e) => return Err(e),
    };
    match k.ng_shutdown(path) {
        Ok(()) => {}
        Err(Errno::ENOENT) => return Ok(false),
        Err(e) => return Err(e),
    }
    let by_id = format!("[{id:x}]:");
    let start = std::time::Instant::now();
    loop {
        match k.ng_node(&by_id) {
            Err(Errno::ENOENT) => return Ok(true),
            Err(e) => return Err(e),
            Ok(_) if start.elapsed() >= SHUTDOWN_WAIT => return Err(Errno::ETIMEDOUT),
            Ok(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
}

/// Our temporary hook on our own socket node.
pub const NG_TMP_HOOK: &str = "jnet";
/// How many link numbers to try before giving up.
const LINK_TRIES: u32 = 4096;

/// Are there eiface nodes named by jnet (`jnet-...`) on this host?
fn keyed_nodes_exist<K: Kernel>(k: &mut K) -> Result<bool> {
    match k.ng_nodes() {
        Ok(nodes) => Ok(nodes.iter().any(|n| n.node_type == "eiface" && n.name.starts_with(crate::names::NODE_PREFIX))),
        Err(Errno::EAFNOSUPPORT) | Err(Errno::EPROTONOSUPPORT) => Ok(false),
        Err(e) => Err(Error::kernel("list netgraph nodes", e)),
    }
}

/// The host's key for node names, made on first use: only when no node jnet named exists,
/// as a key made while such nodes exist would judge them all under the wrong key (and a
/// sweep would shut every running jail's eiface down).
fn naming_key<K: Kernel>(k: &mut K) -> Result<[u8; 16]> {
    let dir = k.state_dir();
    if let Some(key) = crate::hoststate::read_naming_key(&dir)? {
        return Ok(key);
    }
    if keyed_nodes_exist(k)? {
        // A run starting at the same moment may have made the key, then its node, since the
        // first look: its key names its node.
        if let Some(key) = crate::hoststate::read_naming_key(&dir)? {
            return Ok(key);
        }
        return Err(Error::new(
            Kind::Io,
            format!(
                "{} is missing while eiface nodes jnet named with it exist: a new key would not recognise them, \
                 so none is made and nothing was changed; put the key back (from a backup of /var/run/jnet), or \
                 shut those nodes down (ngctl shutdown jnet-...:) and run again",
                dir.join("ngkey").display()
            ),
        ));
    }
    crate::hoststate::naming_key(&dir)
}

/// The node name of jail `jail`'s eiface `index` on this host (`names::eiface_node_name`,
/// keyed with the host's secret from the state directory, made on first use). A dry run
/// makes no key: without one it names the node `jnet-<new key>`.
pub fn eiface_node<K: Kernel>(k: &mut K, jail: &str, index: u32, dry_run: bool) -> Result<String> {
    if dry_run {
        return Ok(match crate::hoststate::read_naming_key(&k.state_dir())? {
            Some(key) => crate::names::eiface_node_name(&key, jail, index),
            None => format!("{}<new key>", crate::names::NODE_PREFIX),
        });
    }
    let key = naming_key(k)?;
    Ok(crate::names::eiface_node_name(&key, jail, index))
}

/// Every node name jail `jail`'s eifaces can have on this host; None without the host's
/// key, which only a run that makes an eiface creates (`eiface_node`).
pub fn eiface_nodes<K: Kernel>(k: &mut K, jail: &str) -> Result<Option<Vec<String>>> {
    let key = crate::hoststate::read_naming_key(&k.state_dir())?;
    Ok(key.map(|key| eiface_nodes_under(&key, jail)))
}

/// Every node name jail `jail`'s eifaces can have under `key`.
pub fn eiface_nodes_under(key: &[u8; 16], jail: &str) -> Vec<String> {
    (0..=crate::names::INDEX_MAX).map(|i| crate::names::eiface_node_name(key, jail, i)).collect()
}

/// The ng_ether node name of NIC `ifname` (ng_ether replaces '.' and ':').
pub fn ether_node(ifname: &str) -> String {
    ifname.replace(['.', ':'], "_")
}

/// Is `bridge` an ng_bridge? Some(true) if so, None if no such node.
pub fn bridge_exists<K: Kernel>(k: &mut K, bridge: &str) -> Result<bool> {
    match k.ng_node(&format!("{bridge}:")) {
        Ok(n) if n.node_type == "bridge" => Ok(true),
        Ok(n) => Err(Error::conflict(format!("netgraph node {bridge} is of type {}, not a bridge", n.node_type))),
        Err(Errno::ENOENT) => Ok(false),
        Err(e) => Err(Error::kernel(format!("look up netgraph node {bridge}"), e)),
    }
}

/// Wait briefly for a bridge another hook is creating right now to get its name.
fn wait_for_bridge<K: Kernel>(k: &mut K, bridge: &str) -> Result<bool> {
    for _ in 0..100 {
        if bridge_exists(k, bridge)? {
            return Ok(true);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Ok(false)
}

/// Create `bridge` unless it exists; `made` is told the bridge's name when this call made it.
pub fn ensure_bridge<K: Kernel>(
    k: &mut K,
    bridge: &str,
    uplink: Option<&str>,
    made: &mut dyn FnMut(String),
    intents: &mut Vec<crate::intent::Intent>,
) -> Result<()> {
    if bridge_exists(k, bridge)? {
        return Ok(());
    }
    match uplink {
        Some(u) => {
            // Between the splice and the name, the bridge is anonymous and the NIC deaf: a
            // crash there must be undoable (intent.rs).
            let what = crate::intent::Creation::Splice { ether: u.to_string(), bridge: bridge.to_string() };
            intents.push(crate::intent::Intent::begin(&k.state_dir(), "jnet-ngattach", what)?);
            let ether = format!("{u}:");
            match k.ng_mkpeer(&ether, "bridge", "lower", "link0") {
                Ok(()) => {}
                // Another hook is splicing the same NIC this very moment.
                Err(Errno::EEXIST) => {
                    if wait_for_bridge(k, bridge)? {
                        return Ok(());
                    }
                    return Err(Error::conflict(format!(
                        "the lower hook of {u} is taken by a netgraph node other than {bridge}; nothing was changed. \
                         If it is an unnamed bridge a crashed jnet-ngattach left (ngctl show {u}:), \
                         jnet-release --stale takes it away (it knows it from the crashed run's intent), as does \
                         jnet-release --unsplice {u} (and gives {u} its traffic back)"
                    )));
                }
                Err(e) => return Err(Error::kernel(format!("attach a new bridge to {u}:lower"), e)),
            }
            let lower = format!("{u}:lower");
            match k.ng_name(&lower, bridge) {
                Ok(()) => {}
                Err(e) => {
                    let _ = k.ng_shutdown(&lower);
                    return Err(Error::kernel(format!("name the bridge on {u}:lower {bridge}"), e));
                }
            }
            made(bridge.to_string());
            k.ng_connect(&ether, "lower", "upper", "link1").step(|| format!("connect {u}:upper to {bridge}:link1"))?;
            k.ng_ether_set_promisc(&ether, true).step(|| format!("set {u} promiscuous"))?;
            k.ng_ether_set_autosrc(&ether, false).step(|| format!("turn off autosrc on {u}"))
        }
        None => {
            // Once persistent and unhooked from our socket, it outlives a crash with nothing
            // on it: the intent tells --stale it was ours.
            let what = crate::intent::Creation::NgBridge { bridge: bridge.to_string() };
            intents.push(crate::intent::Intent::begin(&k.state_dir(), "jnet-ngattach", what)?);
            k.ng_mkpeer(".", "bridge", NG_TMP_HOOK, "link0").step(|| format!("create bridge {bridge}"))?;
            let tmp = format!(".:{NG_TMP_HOOK}");
            match k.ng_name(&tmp, bridge) {
                Ok(()) => {}
                // Another hook named its new bridge first: ours dies with our hook.
                Err(Errno::EADDRINUSE) => {
                    k.ng_rmhook(".", NG_TMP_HOOK).step(|| "drop the spare bridge".into())?;
                    return if bridge_exists(k, bridge)? {
                        Ok(())
                    } else {
                        Err(Error::conflict(format!("netgraph name {bridge} is taken by a node that is not a bridge")))
                    };
                }
                Err(e) => {
                    let _ = k.ng_rmhook(".", NG_TMP_HOOK);
                    return Err(Error::kernel(format!("name the new bridge {bridge}"), e));
                }
            }
            made(bridge.to_string());
            let path = format!("{bridge}:");
            k.ng_bridge_set_persistent(&path).step(|| format!("make {bridge} persistent"))?;
            k.ng_rmhook(".", NG_TMP_HOOK).step(|| format!("unhook {bridge} from our socket"))
        }
    }
}

/// Make the eiface: returns its interface name. `made` is told the node id
/// as soon as the node exists, so a later failure can shut it down.
pub fn make_eiface<K: Kernel>(
    k: &mut K,
    node: &str,
    bridge: &str,
    first_link: u32,
    made_nursery: &mut dyn FnMut(String),
    made: &mut dyn FnMut(u32),
) -> Result<String> {
    // The eiface is born on a link of jnet's own persistent nursery bridge, not on our
    // socket: an eiface outlives the socket that made it, and between its creation and its
    // naming nothing else marks it as jnet's. Born on the nursery, a crash in that window
    // leaves a node `jnet-release --stale` recognises by where it hangs.
    ensure_nursery(k, made_nursery)?;
    let nursery = format!("{NURSERY}:");
    let mut n = 0u32;
    let hook = loop {
        let h = format!("link{n}");
        match k.ng_mkpeer(&nursery, "eiface", &h, "ether") {
            Ok(()) => break h,
            // Another jail is creating one at the same time.
            Err(Errno::EEXIST) if n < LINK_TRIES => n += 1,
            Err(e) => return Err(Error::kernel(format!("create an ng_eiface on {NURSERY}:{h}"), e)),
        }
    };
    let born = format!("{NURSERY}:{hook}");
    let id = match k.ng_node(&born) {
        Ok(x) => x.id,
        Err(e) => {
            let err = Error::kernel("look up the new ng_eiface", e);
            return Err(match shut_down(k, &born) {
                Ok(_) => err,
                Err(d) => err.context(format!("and shut it down through {born}: {d}")),
            });
        }
    };
    made(id);
    match k.ng_name(&born, node) {
        Err(Errno::EADDRINUSE) => {
            return Err(Error::conflict(format!(
                "netgraph name {node} is taken by another node (another run for the same jail?)"
            )))
        }
        r => r.step(|| format!("name the new ng_eiface {node}"))?,
    }
    let ifname = k.ng_eiface_ifname(&format!("{node}:")).step(|| format!("get the interface name of {node}"))?;
    k.ng_rmhook(&nursery, &hook).step(|| format!("unhook {node} from {NURSERY}"))?;
    link(k, node, bridge, first_link)?;
    Ok(ifname)
}

/// jnet's nursery: a persistent ng_bridge with no NIC where new eifaces are born.
pub const NURSERY: &str = "jnet-nursery";

/// Make the nursery unless it exists (two hooks may race: the loser's copy dies with its
/// last hook, unnamed and not persistent); `made` is told when this call made it.
fn ensure_nursery<K: Kernel>(k: &mut K, made: &mut dyn FnMut(String)) -> Result<()> {
    if bridge_exists(k, NURSERY)? {
        return Ok(());
    }
    k.ng_mkpeer(".", "bridge", NG_TMP_HOOK, "link0").step(|| format!("create {NURSERY}"))?;
    let tmp = format!(".:{NG_TMP_HOOK}");
    match k.ng_name(&tmp, NURSERY) {
        Ok(()) => {}
        Err(Errno::EADDRINUSE) => {
            k.ng_rmhook(".", NG_TMP_HOOK).step(|| format!("drop the spare {NURSERY}"))?;
            return match bridge_exists(k, NURSERY)? {
                true => Ok(()),
                false => {
                    Err(Error::conflict(format!("netgraph name {NURSERY} is taken by a node that is not a bridge")))
                }
            };
        }
        Err(e) => {
            let _ = k.ng_rmhook(".", NG_TMP_HOOK);
            return Err(Error::kernel(format!("name {NURSERY}"), e));
        }
    }
    made(NURSERY.to_string());
    k.ng_bridge_set_persistent(&format!("{NURSERY}:")).step(|| format!("make {NURSERY} persistent"))?;
    k.ng_rmhook(".", NG_TMP_HOOK).step(|| format!("unhook {NURSERY} from our socket"))
}

/// Eifaces left on the nursery by a crash before they were named: (path, node name).
pub fn orphans<K: Kernel>(k: &mut K) -> Result<Vec<String>> {
    match k.ng_hooks(&format!("{NURSERY}:")) {
        Ok((_, hooks)) => Ok(hooks
            .iter()
            .filter(|h| h.peer.node_type == "eiface" && !h.peer.name.starts_with(crate::names::NODE_PREFIX))
            .map(|h| format!("[{:x}]:", h.peer.id))
            .collect()),
        Err(Errno::ENOENT) | Err(Errno::EAFNOSUPPORT) | Err(Errno::EPROTONOSUPPORT) => Ok(vec![]),
        Err(e) => Err(Error::kernel(format!("list the hooks of {NURSERY}"), e)),
    }
}

/// Connect eiface `node` to the first free `link<N>` of `bridge`, N >= `first_link`.
pub fn link<K: Kernel>(k: &mut K, node: &str, bridge: &str, first_link: u32) -> Result<()> {
    let (_, hooks) = k.ng_hooks(&format!("{bridge}:")).step(|| format!("list the hooks of {bridge}"))?;
    let used: Vec<u32> = hooks.iter().filter_map(|h| h.ourhook.strip_prefix("link")?.parse().ok()).collect();
    let mut n = first_link;
    for _ in 0..LINK_TRIES {
        while used.contains(&n) {
            n += 1;
        }
        match k.ng_connect(&format!("{node}:"), &format!("{bridge}:"), "ether", &format!("link{n}")) {
            Ok(()) => return Ok(()),
            // Another jail took link<n> since we listed the hooks.
            Err(Errno::EEXIST) => n += 1,
            Err(e) => return Err(Error::kernel(format!("connect {node}:ether to {bridge}:link{n}"), e)),
        }
    }
    Err(Error::new(crate::error::Kind::TempFail, format!("no free link on {bridge} after {LINK_TRIES} tries")))
}

/// Take a bridge away when no jail link is left on it: a spliced bridge is shut down (its
/// hooks to the NIC go) and the NIC's ng_ether gets promiscuous off and autosrc on again,
/// ng_ether's defaults; a standalone one is shut down. Returns whether it went.
pub fn unsplice_if_unused<K: Kernel>(k: &mut K, bridge: &str) -> Result<bool> {
    let path = format!("{bridge}:");
    let (_, hooks) = match k.ng_hooks(&path) {
        Ok(h) => h,
        Err(Errno::ENOENT) | Err(Errno::EAFNOSUPPORT) | Err(Errno::EPROTONOSUPPORT) => return Ok(false),
        Err(e) => return Err(Error::kernel(format!("list the hooks of {bridge}"), e)),
    };
    // Jails' eifaces keep it; the NIC's ng_ether and a control socket (ours, half-way
    // through making it) do not.
    if hooks.iter().any(|h| h.peer.node_type != "ether" && h.peer.node_type != "socket") {
        return Ok(false);
    }
    let ethers: Vec<u32> = hooks.iter().filter(|h| h.peer.node_type == "ether").map(|h| h.peer.id).collect();
    // The NIC gets its settings back first, the bridge goes last: a crash in between
    // leaves the bridge, which the next prune finds and takes, not a NIC left promiscuous
    // with nothing to tell why.
    let mut seen = vec![];
    for id in ethers {
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        let e = format!("[{id:x}]:");
        k.ng_ether_set_promisc(&e, false).step(|| format!("turn promiscuous mode off on {e}"))?;
        k.ng_ether_set_autosrc(&e, true).step(|| format!("turn autosrc back on on {e}"))?;
    }
    shut_down(k, &path).step(|| format!("shut down bridge {bridge}"))?;
    Ok(true)
}

/// Take the ng_bridge spliced onto NIC `nic` away (`jnet-release --unsplice`): for a NIC whose
/// last jail stopped without `--prune`. Refused while jails' interfaces are still on it.
/// Returns the bridge's name, or None if the NIC was not spliced.
pub fn unsplice_nic<K: Kernel>(k: &mut K, nic: &str) -> Result<Option<String>> {
    let ether = format!("{}:", ether_node(nic));
    let (node, hooks) = match k.ng_hooks(&ether) {
        Ok(h) => h,
        Err(Errno::ENOENT) => {
            return Err(Error::data(format!(
                "{nic} has no ng_ether node (no such Ethernet interface, or ng_ether is not loaded)"
            )))
        }
        Err(e) => return Err(Error::kernel(format!("list the hooks of {ether}"), e)),
    };
    if node.node_type != "ether" {
        return Err(Error::conflict(format!(
            "netgraph node {} is a {}, not {nic}'s ng_ether",
            node.name, node.node_type
        )));
    }
    let Some(lower) = hooks.iter().find(|h| h.ourhook == "lower") else { return Ok(None) };
    if lower.peer.node_type != "bridge" {
        return Err(Error::conflict(format!(
            "{nic}'s lower hook goes to a netgraph {} ({}), not a bridge: not jnet's to take away",
            lower.peer.node_type, lower.peer.name
        )));
    }
    let bridge = if lower.peer.name.is_empty() { format!("[{:x}]", lower.peer.id) } else { lower.peer.name.clone() };
    if unsplice_if_unused(k, &bridge)? {
        return Ok(Some(bridge));
    }
    let (_, on) = k.ng_hooks(&format!("{bridge}:")).step(|| format!("list the hooks of {bridge}"))?;
    let users: Vec<String> = on
        .iter()
        .filter(|h| h.peer.node_type != "ether" && h.peer.node_type != "socket")
        .map(|h| if h.peer.name.is_empty() { format!("[{:x}]", h.peer.id) } else { h.peer.name.clone() })
        .collect();
    Err(Error::conflict(format!(
        "bridge {bridge} on {nic} still has {} on it ({}): release those jails first",
        users.len(),
        users.join(", ")
    )))
}
