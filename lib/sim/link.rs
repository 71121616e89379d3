//! Which interfaces of the simulated host share an Ethernet link: what one sends, the others
//! receive. The sim carries no frames; DAD uses this to find a neighbour that already holds
//! an address (nd6_nbr.c: the neighbour answers the probe with a Neighbor Advertisement,
//! nd6_dad_na_input; two tentative holders see each other's probe, nd6_dad_ns_input).
//!
//! Links, as the drivers pass frames: an epair's ends (if_epair.c epair_transmit hands the
//! frame to the peer), an if_bridge and its members (if_bridge.c bridge_input/
//! bridge_broadcast: a member's frame goes to the others and to the bridge itself, the
//! bridge's to every member), and an ng_bridge's links to ng_eiface nodes (their interface)
//! and to ng_ether upper hooks (the NIC's own stack; a lower hook is the NIC's wire, on
//! which the sim has nobody). An interface that is not up and running neither sends nor
//! receives (ether_output: ENETDOWN; bridge_input: nothing while the bridge is not running).
//! A vlan's link is its parent's wire, outside the sim.

use super::host::{Host, IfKind};
use super::ngnode::NgKind;
use crate::kernel::iff;
use std::collections::{BTreeMap, BTreeSet};

/// The host's links at one moment: for each interface that is up and running, those it
/// passes frames to directly (and that are up and running too).
pub struct Links {
    next: BTreeMap<u32, BTreeSet<u32>>,
}

impl Links {
    fn join(&mut self, a: u32, b: u32) {
        if a != b && self.next.contains_key(&a) && self.next.contains_key(&b) {
            self.next.get_mut(&a).expect("present").insert(b);
            self.next.get_mut(&b).expect("present").insert(a);
        }
    }

    /// Every other interface, in any vnet, that receives what `index` sends on its link
    /// (none when `index` itself is not up and running).
    pub fn same_link(&self, index: u32) -> BTreeSet<u32> {
        let mut seen = BTreeSet::new();
        if !self.next.contains_key(&index) {
            return seen;
        }
        let mut todo = vec![index];
        seen.insert(index);
        while let Some(i) = todo.pop() {
            for n in &self.next[&i] {
                if seen.insert(*n) {
                    todo.push(*n);
                }
            }
        }
        seen.remove(&index);
        seen
    }
}

impl Host {
    /// The links as they are now.
    pub fn links(&self) -> Links {
        let running = |f: u32| f & (iff::UP | iff::RUNNING) == iff::UP | iff::RUNNING;
        let mut l = Links {
            next: self.ifaces.iter().filter(|i| running(i.flags)).map(|i| (i.index, BTreeSet::new())).collect(),
        };
        for i in &self.ifaces {
            match &i.kind {
                IfKind::Epair { peer, .. } => l.join(i.index, *peer),
                IfKind::Bridge { members, .. } => members.iter().for_each(|m| l.join(i.index, *m)),
                _ => {}
            }
        }
        for bridge in self.netgraph.iter().filter(|n| matches!(n.kind, NgKind::Bridge { .. })) {
            let ends: Vec<u32> = bridge.hooks.iter().filter_map(|h| self.ng_link_end(h.peer, &h.peer_hook)).collect();
            for a in &ends {
                for b in &ends {
                    l.join(*a, *b);
                }
            }
        }
        l
    }

    /// The interface at the end of an ng_bridge link: an eiface's, or a NIC through
    /// ng_ether's upper hook.
    fn ng_link_end(&self, node: u32, hook: &str) -> Option<u32> {
        let n = self.netgraph.iter().find(|n| n.id == node)?;
        match n.kind {
            NgKind::Eiface { ifindex } => Some(ifindex),
            NgKind::Ether { ifindex, .. } if hook == "upper" => Some(ifindex),
            _ => None,
        }
    }
}
