//! The simulated host's netgraph: typed nodes with ids and optional names, hooks, path
//! addressing, and the lifetime rules of ng_socket, ng_bridge, ng_eiface and ng_ether
//! (`sys/netgraph/ng_base.c` and the node types; `../shared/freebsd-abi.md` §7-8).

use super::host::{Host, IfKind, SimIf, VnetId};
pub use super::ngnode::{NgKind, SimNgHook, SimNgNode};
use crate::errno::Errno;
use crate::kernel::{iff, KResult, NgHook, NgNode};
use crate::mac::Mac;

/// Module each creatable type comes from.
fn module_of(node_type: &str) -> Option<&'static str> {
    match node_type {
        "bridge" => Some("ng_bridge"),
        "eiface" => Some("ng_eiface"),
        _ => None,
    }
}

/// `ng_bridge_newhook`: "link<N>" or "uplink<N>" (N >= 1), canonical digits.
fn bridge_hook_ok(name: &str) -> bool {
    let (prefix, min) = if let Some(r) = name.strip_prefix("uplink") {
        (r, 1)
    } else if let Some(r) = name.strip_prefix("link") {
        (r, 0)
    } else {
        return false;
    };
    !prefix.is_empty()
        && prefix.bytes().all(|c| c.is_ascii_digit())
        && (prefix == "0" || !prefix.starts_with('0'))
        && prefix.parse::<u64>().is_ok_and(|n| n >= min && n <= u32::MAX as u64)
}

fn hook_ok(kind: &NgKind, name: &str) -> bool {
    if name.is_empty() || name.len() > 31 || name.contains(['.', ':']) {
        return false;
    }
    match kind {
        NgKind::Socket { .. } => true,
        NgKind::Ether { .. } => matches!(name, "lower" | "upper" | "divert" | "orphans"),
        NgKind::Bridge { .. } => bridge_hook_ok(name),
        NgKind::Eiface { .. } => name == "ether",
    }
}

/// `ng_name_node` rules: 1-31 characters, no '.' or ':', not of the `[hex]` id form.
fn node_name_ok(name: &str) -> bool {
    let id_form = name.starts_with('[') && name.ends_with(']');
    (1..=31).contains(&name.len()) && !name.contains(['.', ':']) && !id_form
}

fn ether_node_name(ifname: &str) -> String {
    ifname.replace(['.', ':'], "_")
}

impl Host {
    fn ng(&self, id: u32) -> Option<&SimNgNode> {
        self.netgraph.iter().find(|n| n.id == id)
    }
    fn ng_mut(&mut self, id: u32) -> Option<&mut SimNgNode> {
        self.netgraph.iter_mut().find(|n| n.id == id)
    }
    fn ng_alloc_id(&mut self) -> u32 {
        let id = self.next_ng_id.max(1);
        self.next_ng_id = id + 1;
        id
    }

    /// This process's control-socket node in `vnet`, made on first use (socket(2) with
    /// PF_NETGRAPH needs ng_socket).
    pub fn ng_socket(&mut self, vnet: VnetId, pid: u32) -> KResult<u32> {
        if let Some(n) = self.netgraph.iter().find(|n| n.vnet == vnet && n.kind == (NgKind::Socket { pid })) {
            return Ok(n.id);
        }
        if !self.modules.contains("ng_socket") {
            return Err(Errno::EAFNOSUPPORT);
        }
        let id = self.ng_alloc_id();
        self.netgraph.push(SimNgNode {
            id,
            name: None,
            kind: NgKind::Socket { pid },
            vnet,
            hooks: vec![],
            dying_until: None,
        });
        Ok(id)
    }

    /// Close a control socket: its node shuts down.
    pub fn ng_close(&mut self, vnet: VnetId, pid: u32) {
        let ids: Vec<u32> = self
            .netgraph
            .iter()
            .filter(|n| n.vnet == vnet && n.kind == (NgKind::Socket { pid }))
            .map(|n| n.id)
            .collect();
        for id in ids {
            self.ng_remove(id);
        }
    }

    /// Socket nodes of processes that are gone (killed, crashed) close like any other.
    pub fn ng_sweep_dead_sockets(&mut self) {
        let dead: Vec<u32> = self
            .netgraph
            .iter()
            .filter_map(|n| match n.kind {
                // SAFETY: kill(2) with signal 0 only checks that the process exists.
                NgKind::Socket { pid }
                    if unsafe { libc::kill(pid as i32, 0) } != 0
                        && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) =>
                {
                    Some(n.id)
                }
                _ => None,
            })
            .collect();
        for id in dead {
            self.ng_remove(id);
        }
    }

    /// ng_ether attaches a node to every Ethernet ifnet of the vnet (once loaded).
    pub fn ng_ether_attach_all(&mut self) {
        let all: Vec<u32> = self.ifaces.iter().map(|i| i.index).collect();
        for index in all {
            self.ng_ether_attach(index);
        }
    }

    /// `ng_ether_attach`, run for every Ethernet-like ifnet as it attaches (ether_ifattach,
    /// and again in the new vnet after a move) once ng_ether is loaded: NICs, laggs, epairs,
    /// if_bridges and vlans (IFT_ETHER, IFT_L2VLAN, IFT_BRIDGE; `ng_ether.c`), and an
    /// eiface's ifnet too, whose own node usually holds the name already. The node is named
    /// after the interface; it is skipped when that name is taken.
    pub fn ng_ether_attach(&mut self, ifindex: u32) {
        if !self.modules.contains("ng_ether") {
            return;
        }
        let Some((name, vnet)) = self.ifaces.iter().find(|i| i.index == ifindex).and_then(|i| match i.kind {
            IfKind::Loopback { .. } => None,
            _ => Some((i.name.clone(), i.vnet)),
        }) else {
            return;
        };
        if self.netgraph.iter().any(|n| matches!(n.kind, NgKind::Ether { ifindex: x, .. } if x == ifindex)) {
            return;
        }
        let nname = ether_node_name(&name);
        if self.netgraph.iter().any(|n| n.vnet == vnet && n.name.as_deref() == Some(&nname)) {
            return;
        }
        let id = self.ng_alloc_id();
        self.netgraph.push(SimNgNode {
            id,
            name: Some(nname),
            kind: NgKind::Ether { ifindex, promisc: false, autosrc: true },
            vnet,
            hooks: vec![],
            dying_until: None,
        });
    }

    /// An ifnet was renamed: its ng_ether node follows.
    pub fn ng_ifnet_renamed(&mut self, ifindex: u32, new: &str) {
        if let Some(n) =
            self.netgraph.iter_mut().find(|n| matches!(n.kind, NgKind::Ether { ifindex: x, .. } if x == ifindex))
        {
            n.name = Some(ether_node_name(new));
        }
    }

    /// An ifnet left its vnet (moved or destroyed): its ng_ether node detaches with it, and
    /// attaches again in the new vnet.
    pub fn ng_ifnet_detached(&mut self, ifindex: u32) {
        if let Some((id, promisc)) = self.netgraph.iter().find_map(|n| match n.kind {
            NgKind::Ether { ifindex: x, promisc, .. } if x == ifindex => Some((n.id, promisc)),
            _ => None,
        }) {
            self.ng_remove(id);
            if promisc {
                self.promisc(ifindex, false);
            }
        }
    }

    /// NGM_ETHER_SET_PROMISC: ng_ether takes or gives back a promiscuous reference on its
    /// interface when the setting changes (ng_ether.c).
    pub fn ng_ether_promisc(&mut self, vnet: VnetId, me: u32, path: &str, on: bool) -> KResult<()> {
        let x = self.ng_resolve(vnet, me, path)?;
        let changed = match self.ng_mut(x).map(|n| &mut n.kind) {
            Some(NgKind::Ether { ifindex, promisc, .. }) => {
                let changed = (*promisc != on).then_some(*ifindex);
                *promisc = on;
                changed
            }
            _ => return Err(Errno::EINVAL),
        };
        if let Some(ifindex) = changed {
            self.promisc(ifindex, on);
        }
        Ok(())
    }

    /// Remove a node and its hooks; peers react as their types do.
    fn ng_remove(&mut self, id: u32) {
        let Some(node) = self.ng(id).cloned() else { return };
        self.netgraph.retain(|n| n.id != id);
        for h in node.hooks {
            self.ng_unhook(h.peer, &h.peer_hook);
        }
        if let NgKind::Eiface { ifindex } = node.kind {
            // NGM_SHUTDOWN of an eiface destroys its ifnet, in whatever vnet it is (and
            // with it the ng_ether node a move may have given it).
            self.ifaces.retain(|i| i.index != ifindex);
            self.ng_ifnet_detached(ifindex);
        }
    }

    /// Drop hook `hook` of node `id` (its peer is already gone or going) and apply the
    /// node's disconnect rule.
    fn ng_unhook(&mut self, id: u32, hook: &str) {
        let Some(n) = self.ng_mut(id) else { return };
        n.hooks.retain(|h| h.name != hook);
        let empty = n.hooks.is_empty();
        if let NgKind::Bridge { persistent: false } = n.kind {
            if empty {
                self.ng_remove(id);
            }
        }
    }

    /// Resolve a path as ng_path_parse does, from the socket node `me`.
    pub fn ng_resolve(&self, vnet: VnetId, me: u32, path: &str) -> KResult<u32> {
        if path.is_empty() || path.len() >= 512 {
            return Err(Errno::EINVAL);
        }
        let (node_part, hooks) = match path.split_once(':') {
            Some((n, rest)) => (Some(n), rest),
            None if path == "." => (None, ""),
            None => (None, path),
        };
        let mut cur = match node_part {
            None | Some("") | Some(".") => me,
            Some(n) if n.starts_with('[') && n.ends_with(']') => {
                let id = u32::from_str_radix(&n[1..n.len() - 1], 16).map_err(|_| Errno::EINVAL)?;
                if id == 0 {
                    return Err(Errno::EINVAL);
                }
                self.netgraph.iter().find(|x| x.id == id && x.vnet == vnet).map(|x| x.id).ok_or(Errno::ENOENT)?
            }
            Some(n) => self
                .netgraph
                .iter()
                .find(|x| x.vnet == vnet && x.name.as_deref() == Some(n))
                .map(|x| x.id)
                .ok_or(Errno::ENOENT)?,
        };
        for h in hooks.split('.').filter(|h| !h.is_empty()) {
            let node = self.ng(cur).ok_or(Errno::ENOENT)?;
            cur = node.hooks.iter().find(|x| x.name == h).map(|x| x.peer).ok_or(Errno::ENOENT)?;
        }
        Ok(cur)
    }

    fn ng_link(&mut self, a: u32, ahook: &str, b: u32, bhook: &str) -> KResult<()> {
        if a == b {
            return Err(Errno::EINVAL);
        }
        let (na, nb) = (self.ng(a).ok_or(Errno::ENOENT)?, self.ng(b).ok_or(Errno::ENOENT)?);
        if na.hooks.iter().any(|h| h.name == ahook) || nb.hooks.iter().any(|h| h.name == bhook) {
            return Err(Errno::EEXIST);
        }
        if !hook_ok(&na.kind, ahook) || !hook_ok(&nb.kind, bhook) {
            return Err(Errno::EINVAL);
        }
        self.ng_mut(a).expect("a").hooks.push(SimNgHook { name: ahook.into(), peer: b, peer_hook: bhook.into() });
        self.ng_mut(b).expect("b").hooks.push(SimNgHook { name: bhook.into(), peer: a, peer_hook: ahook.into() });
        Ok(())
    }

    fn ng_new_eiface(&mut self, vnet: VnetId) -> u32 {
        let used: Vec<u32> = self
            .ifaces
            .iter()
            .filter_map(|i| match &i.kind {
                IfKind::Eiface { unit, .. } => Some(*unit),
                _ => None,
            })
            .collect();
        let unit = (0..).find(|u| !used.contains(u)).expect("a free unit");
        let id = self.ng_alloc_id();
        let index = self.next_index;
        self.next_index += 1;
        let name = format!("ngeth{unit}");
        let mut m = Mac::derive(&self.hostuuid, "ng_eiface", unit, &id.to_string()).0;
        m[0] = 0x58;
        m[1] = 0x9c;
        m[2] = 0xfc;
        let kind = IfKind::Eiface { unit, node: id };
        let nd6 = self.nd6_defaults(&kind);
        self.ifaces.push(SimIf {
            pcount: 0,
            index,
            epoch_ms: self.clock_ms,
            name: name.clone(),
            vnet,
            home: vnet,
            capenable: super::host::default_capenable(&kind),
            kind,
            // ng_eiface.c: if_initname(ifp, "ngeth", unit).
            driver: name.clone(),
            descr: None,
            groups: vec!["all".into()],
            flags: iff::BROADCAST | iff::SIMPLEX | iff::MULTICAST,
            mac: Some(Mac(m)),
            mtu: 1500,
            addrs: vec![],
            nd6,
        });
        // The constructor names the node after its interface, if that name is free.
        let free = !self.netgraph.iter().any(|n| n.vnet == vnet && n.name.as_deref() == Some(&name));
        self.netgraph.push(SimNgNode {
            id,
            name: free.then_some(name),
            kind: NgKind::Eiface { ifindex: index },
            vnet,
            hooks: vec![],
            dying_until: None,
        });
        // ether_ifattach, after the node took the name: ng_ether is skipped then.
        self.ng_ether_attach(index);
        id
    }

    /// NGM_MKPEER.
    pub fn ng_mkpeer(
        &mut self,
        vnet: VnetId,
        me: u32,
        path: &str,
        node_type: &str,
        ourhook: &str,
        peerhook: &str,
    ) -> KResult<()> {
        let x = self.ng_resolve(vnet, me, path)?;
        let module = module_of(node_type).ok_or(if node_type == "ether" || node_type == "socket" {
            Errno::EINVAL
        } else {
            Errno::ENOENT
        })?;
        if !self.modules.contains(module) {
            // ngc_send loads ng_<type> itself, which needs PRIV_KLD_LOAD: not in a jail.
            if vnet.is_some() {
                return Err(Errno::EPERM);
            }
            self.modules.insert(module.to_string());
        }
        let xn = self.ng(x).ok_or(Errno::ENOENT)?;
        if xn.hooks.iter().any(|h| h.name == ourhook) {
            return Err(Errno::EEXIST);
        }
        if !hook_ok(&xn.kind, ourhook) {
            return Err(Errno::EINVAL);
        }
        let probe = match node_type {
            "bridge" => NgKind::Bridge { persistent: false },
            _ => NgKind::Eiface { ifindex: 0 },
        };
        if !hook_ok(&probe, peerhook) {
            return Err(Errno::EINVAL);
        }
        let id = match node_type {
            "bridge" => {
                let id = self.ng_alloc_id();
                self.netgraph.push(SimNgNode { id, name: None, kind: probe, vnet, hooks: vec![], dying_until: None });
                id
            }
            _ => self.ng_new_eiface(vnet),
        };
        self.ng_link(x, ourhook, id, peerhook)
    }

    /// NGM_CONNECT: `peer_path` is relative to the addressed node.
    pub fn ng_connect(
        &mut self,
        vnet: VnetId,
        me: u32,
        path: &str,
        peer_path: &str,
        ourhook: &str,
        peerhook: &str,
    ) -> KResult<()> {
        let x = self.ng_resolve(vnet, me, path)?;
        let y = self.ng_resolve(vnet, x, peer_path)?;
        self.ng_link(x, ourhook, y, peerhook)
    }

    /// NGM_NAME.
    pub fn ng_name(&mut self, vnet: VnetId, me: u32, path: &str, name: &str) -> KResult<()> {
        let x = self.ng_resolve(vnet, me, path)?;
        // The FreeBSD backend refuses a name that does not fit struct ngm_name.
        if name.len() >= 32 {
            return Err(Errno::ENAMETOOLONG);
        }
        if !node_name_ok(name) {
            return Err(Errno::EINVAL);
        }
        // ng_name_node: any node with the name, the node itself included (FreeBSD 13.0 through
        // F-Stack refuses a node its own name).
        if self.netgraph.iter().any(|n| n.vnet == vnet && n.name.as_deref() == Some(name)) {
            return Err(Errno::EADDRINUSE);
        }
        self.ng_mut(x).expect("resolved").name = Some(name.to_string());
        Ok(())
    }

    /// NGM_RMHOOK.
    pub fn ng_rmhook(&mut self, vnet: VnetId, me: u32, path: &str, hook: &str) -> KResult<()> {
        let x = self.ng_resolve(vnet, me, path)?;
        let h = self.ng(x).and_then(|n| n.hooks.iter().find(|h| h.name == hook).cloned()).ok_or(Errno::ENOENT)?;
        self.ng_unhook(h.peer, &h.peer_hook);
        self.ng_unhook(x, hook);
        Ok(())
    }

    /// NGM_SHUTDOWN: ng_ether only resets (loses its hooks), others go.
    pub fn ng_shutdown(&mut self, vnet: VnetId, me: u32, path: &str, now_ms: u64) -> KResult<()> {
        let x = self.ng_resolve(vnet, me, path)?;
        let node = self.ng(x).cloned().expect("resolved");
        if let NgKind::Ether { ifindex, promisc, .. } = node.kind {
            for h in node.hooks {
                self.ng_unhook(h.peer, &h.peer_hook);
            }
            if let Some(n) = self.ng_mut(x) {
                n.hooks.clear();
                n.kind = NgKind::Ether { ifindex, promisc: false, autosrc: true };
            }
            // ng_ether_shutdown gives back its promiscuous reference.
            if promisc {
                self.promisc(ifindex, false);
            }
            return Ok(());
        }
        // On FreeBSD the shutdown is an item on the node's queue, applied by a netgraph
        // thread a moment later (ng_base.c); with `jnet-sim init --async-ms` the node, its
        // name, hooks and interface stay until then.
        if self.ng_async_ms > 0 {
            let at = now_ms + self.ng_async_ms;
            if let Some(n) = self.ng_mut(x) {
                n.dying_until.get_or_insert(at);
            }
            return Ok(());
        }
        self.ng_remove(x);
        Ok(())
    }

    /// Apply the shutdowns whose time has come.
    pub fn ng_settle(&mut self, now_ms: u64) {
        let due: Vec<u32> =
            self.netgraph.iter().filter(|n| n.dying_until.is_some_and(|t| t <= now_ms)).map(|n| n.id).collect();
        for id in due {
            self.ng_remove(id);
        }
    }

    fn ng_info(&self, id: u32) -> NgNode {
        let n = self.ng(id).expect("exists");
        NgNode {
            name: n.name.clone().unwrap_or_default(),
            node_type: n.kind.type_name().into(),
            id: n.id,
            hooks: n.hooks.len() as u32,
        }
    }

    /// NGM_NODEINFO.
    pub fn ng_nodeinfo(&self, vnet: VnetId, me: u32, path: &str) -> KResult<NgNode> {
        Ok(self.ng_info(self.ng_resolve(vnet, me, path)?))
    }

    /// NGM_LISTHOOKS.
    pub fn ng_listhooks(&self, vnet: VnetId, me: u32, path: &str) -> KResult<(NgNode, Vec<NgHook>)> {
        let x = self.ng_resolve(vnet, me, path)?;
        let hooks = self
            .ng(x)
            .expect("resolved")
            .hooks
            .iter()
            .map(|h| NgHook { ourhook: h.name.clone(), peerhook: h.peer_hook.clone(), peer: self.ng_info(h.peer) })
            .collect();
        Ok((self.ng_info(x), hooks))
    }

    /// NGM_LISTNODES.
    pub fn ng_listnodes(&self, vnet: VnetId) -> Vec<NgNode> {
        self.netgraph.iter().filter(|n| n.vnet == vnet).map(|n| self.ng_info(n.id)).collect()
    }

    /// A type-specific message to node `path`; a node of another type does not know the
    /// cookie (EINVAL).
    pub fn ng_typed(&mut self, vnet: VnetId, me: u32, path: &str) -> KResult<&mut SimNgNode> {
        let x = self.ng_resolve(vnet, me, path)?;
        Ok(self.ng_mut(x).expect("resolved"))
    }

    /// The ifnet name behind an eiface or ether node.
    pub fn ng_ifname(&self, ifindex: u32) -> KResult<String> {
        self.ifaces.iter().find(|i| i.index == ifindex).map(|i| i.name.clone()).ok_or(Errno::ENXIO)
    }
}
