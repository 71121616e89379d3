//! The simulated host's netgraph state: typed nodes with ids, optional names and hooks.
//! Plain data, kept apart from the rules (`netgraph`) so that the host's state (`host`) can
//! hold it without depending on them: `host` uses this module, `netgraph` uses both.

use super::VnetId;
use serde::{Deserialize, Serialize};

/// A node's type and type-specific state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NgKind {
    /// A control socket's node; it goes when its process does.
    Socket {
        /// the owning process
        pid: u32,
    },
    /// ng_ether, attached to an Ethernet ifnet; persistent.
    Ether {
        /// the ifnet
        ifindex: u32,
        /// NGM_ETHER_SET_PROMISC state
        promisc: bool,
        /// NGM_ETHER_SET_AUTOSRC state
        autosrc: bool,
    },
    /// ng_bridge; shuts down with its last hook unless persistent.
    Bridge {
        /// NGM_BRIDGE_SET_PERSISTENT given
        persistent: bool,
    },
    /// ng_eiface and its ifnet; outlives the socket that made it.
    Eiface {
        /// the ifnet
        ifindex: u32,
    },
}

impl NgKind {
    /// The type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            NgKind::Socket { .. } => "socket",
            NgKind::Ether { .. } => "ether",
            NgKind::Bridge { .. } => "bridge",
            NgKind::Eiface { .. } => "eiface",
        }
    }
}

/// A hook, seen from its node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimNgHook {
    /// this side's name
    pub name: String,
    /// peer node id
    pub peer: u32,
    /// peer's hook name
    pub peer_hook: String,
}

/// A node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimNgNode {
    /// unique id (addressed as `[id]:`)
    pub id: u32,
    /// name, if any
    pub name: Option<String>,
    /// type and state
    pub kind: NgKind,
    /// the vnet it lives in
    pub vnet: VnetId,
    /// hooks
    pub hooks: Vec<SimNgHook>,
    /// NGM_SHUTDOWN was queued: the node goes at this time (`Host::ng_async_ms`)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dying_until: Option<u64>,
}
