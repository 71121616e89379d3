//! Plans: lists of kernel steps that can be printed (`--dry-run`, as the equivalent
//! ifconfig(8) commands), executed, and undone in reverse when a later step fails.
//!
//! Interfaces a plan creates are named by slot, since their kernel names (`epair7a`) are only
//! known once created; a slot follows its interface through renames. Steps on interfaces the
//! plan created need no undo (destroying the interface undoes them); steps on interfaces
//! that existed before record their inverse.

use crate::errno::Errno;
use crate::error::{Error, ErrorList, KernelContext, Result};
use crate::intent::{Creation, Intent};
use crate::kernel::{iff, nd6f, Cidr, Gateway, Jid, Kernel};
use crate::mac::Mac;
use crate::ngplan::NG_TMP_HOOK;
use crate::owner::{self, Role, Tag};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An interface a step acts on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IfRef {
    /// An interface that exists under this name.
    Name(String),
    /// The interface in this slot (made by an earlier step).
    Slot(usize),
}

/// One kernel step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// kldload, already loaded is fine.
    Load(String),
    /// Create an epair; its ends go into slots `a` and `b`.
    CreateEpair {
        /// slot of the `a` end
        a: usize,
        /// slot of the `b` end
        b: usize,
    },
    /// Destroy (an epair: both ends). Not undoable: used only on what is already broken.
    Destroy(IfRef),
    /// Rename.
    Rename(IfRef, String),
    /// Set the description.
    Describe(IfRef, String),
    /// Join an interface group.
    AddGroup(IfRef, String),
    /// Set the MAC.
    SetMac(IfRef, Mac),
    /// Set the MTU.
    SetMtu(IfRef, u32),
    /// Bring up.
    Up(IfRef),
    /// Clear ND6 IFDISABLED (`ifconfig IF inet6 -ifdisabled`).
    EnableInet6(IfRef),
    /// Accept router advertisements, IPv6 enabled (`ifconfig IF inet6 -ifdisabled
    /// accept_rtadv`), for SLAAC and rtsold.
    AcceptRtadv(IfRef),
    /// Add an address.
    AddAddr(IfRef, Cidr),
    /// Add an address of a bridge every jail shares (the jails' gateway): whichever hook
    /// comes first adds it, one racing it adds it again (EEXIST is fine), and it is never
    /// undone, as other jails may already route through it.
    SharedAddr(String, Cidr),
    /// Route the network (0.0.0.0/0 or ::/0: the default route) through this gateway,
    /// replacing a route to it through another.
    Route(Cidr, Router),
    /// Add a member to an if_bridge.
    BridgeAdd(String, IfRef),
    /// Move into a jail's vnet.
    MoveToJail(IfRef, Jid),
    /// Steps run inside the jail's vnet; a failure there is undone there first.
    InJail(Jid, Vec<Step>),
    /// Make sure an if_bridge of this name exists (create it, tagged as jnet's, and bring it
    /// up), safe against another hook creating it at the same moment.
    EnsureBridge(String),
    /// Make sure the vlan interface `NIC.TAG` exists (created through if_vlan's `NIC.TAG`
    /// name form, tagged as jnet's, up), safe against another hook making it at once.
    EnsureVlan(String),
    /// Make sure the ng_bridge node `bridge` exists: spliced onto the ng_ether node of
    /// `uplink` (lower to link0, upper to link1, promiscuous, no autosrc), or standalone and
    /// persistent when there is no uplink.
    NgEnsureBridge {
        /// node name
        bridge: String,
        /// ng_ether node name of the NIC
        uplink: Option<String>,
    },
    /// A new ng_eiface named `node`, hooked to the first free link<N> (from `first_link`)
    /// of `bridge`; its interface goes into `slot`.
    NgEiface {
        /// slot of the interface
        slot: usize,
        /// node name
        node: String,
        /// bridge node name
        bridge: String,
        /// lowest link number to use
        first_link: u32,
    },
    /// Shut a netgraph node down (not undoable: used only on what is already broken).
    NgShutdown(String),
    /// Remove a hook (to move an existing eiface to another bridge).
    NgRmhook(String, String),
    /// Connect an existing eiface node to the first free link<N> of a bridge.
    NgLink {
        /// eiface node name
        node: String,
        /// bridge node name
        bridge: String,
        /// lowest link number to use
        first_link: u32,
    },
}

fn quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"_-.:/".contains(&c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Current names of the slots (None: not created yet).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slots(pub Vec<Option<String>>);

impl Slots {
    fn set(&mut self, slot: usize, name: String) {
        if self.0.len() <= slot {
            self.0.resize(slot + 1, None);
        }
        self.0[slot] = Some(name);
    }
    /// The current name of `r`, if known.
    pub fn get(&self, r: &IfRef) -> Option<String> {
        match r {
            IfRef::Name(n) => Some(n.clone()),
            IfRef::Slot(s) => self.0.get(*s).cloned().flatten(),
        }
    }
    fn name(&self, r: &IfRef) -> Result<String> {
        self.get(r).ok_or_else(|| {
            Error::new(crate::error::Kind::Internal, format!("plan refers to slot {r:?} before it exists"))
        })
    }
}

/// The ifconfig line of `mark_shared_and_up`.
fn shared_mark_command(prefix: &str, name: &str, role: Role) -> String {
    format!("ifconfig {prefix}{name} description {} group {} up", Tag::shared(role), owner::GROUP)
}

impl Step {
    /// The equivalent command line, with names as known so far (`jail` maps jids to names
    /// for `ifconfig -j`).
    fn render(&self, slots: &mut Slots, prefix: &str, out: &mut Vec<String>) {
        let n = |r: &IfRef| slots.get(r).unwrap_or_else(|| "?".into());
        match self {
            Step::Load(m) => out.push(format!("kldload -n {m}")),
            Step::CreateEpair { a, b } => {
                out.push(format!("ifconfig {prefix}epair create"));
                slots.set(*a, "epairNa".into());
                slots.set(*b, "epairNb".into());
            }
            Step::Rename(r, to) => {
                out.push(format!("ifconfig {prefix}{} name {to}", n(r)));
                if let IfRef::Slot(s) = r {
                    slots.set(*s, to.clone());
                }
            }
            Step::Destroy(r) => out.push(format!("ifconfig {prefix}{} destroy", n(r))),
            Step::Describe(r, d) => out.push(format!("ifconfig {prefix}{} description {}", n(r), quote(d))),
            Step::AddGroup(r, g) => out.push(format!("ifconfig {prefix}{} group {g}", n(r))),
            Step::SetMac(r, m) => out.push(format!("ifconfig {prefix}{} ether {m}", n(r))),
            Step::SetMtu(r, m) => out.push(format!("ifconfig {prefix}{} mtu {m}", n(r))),
            Step::Up(r) => out.push(format!("ifconfig {prefix}{} up", n(r))),
            Step::EnableInet6(r) => out.push(format!("ifconfig {prefix}{} inet6 -ifdisabled", n(r))),
            Step::AcceptRtadv(r) => out.push(format!("ifconfig {prefix}{} inet6 -ifdisabled accept_rtadv", n(r))),
            Step::AddAddr(r, c) => {
                let fam = if c.addr.is_ipv4() { "inet" } else { "inet6" };
                out.push(format!("ifconfig {prefix}{} {fam} {c} alias", n(r)))
            }
            Step::SharedAddr(b, c) => {
                let fam = if c.addr.is_ipv4() { "inet" } else { "inet6" };
                out.push(format!("ifconfig {prefix}{b} {fam} {c} alias"));
                if c.addr.is_ipv6() {
                    out.push(format!("ifconfig {prefix}{b} inet6 auto_linklocal"));
                }
            }
            Step::BridgeAdd(b, m) => out.push(format!("ifconfig {prefix}{b} addm {}", n(m))),
            Step::Route(d, g) => {
                let fam = if g.addr.is_ipv6() { "-inet6" } else { "-inet" };
                let dst = if d.is_default() { "default".to_string() } else { format!("-net {}", d.network()) };
                out.push(format!("route {prefix}add {fam} {dst} {g}"))
            }
            Step::MoveToJail(r, jid) => out.push(format!("ifconfig {prefix}{} vnet {jid}", n(r))),
            Step::InJail(jid, steps) => {
                let p = format!("-j {jid} ");
                for s in steps {
                    s.render(slots, &p, out);
                }
            }
            Step::EnsureVlan(v) => {
                out.push(format!("ifconfig {prefix}{v} create"));
                out.push(shared_mark_command(prefix, v, Role::Vlan));
            }
            Step::EnsureBridge(b) => {
                out.push(format!("ifconfig {prefix}bridge create name {b}"));
                out.push(shared_mark_command(prefix, b, Role::Bridge));
            }
            Step::NgEnsureBridge { bridge, uplink: Some(u) } => {
                out.push(format!("ngctl mkpeer {u}: bridge lower link0"));
                out.push(format!("ngctl name {u}:lower {bridge}"));
                out.push(format!("ngctl connect {u}: {u}:lower upper link1"));
                out.push(format!("ngctl msg {u}: setpromisc 1"));
                out.push(format!("ngctl msg {u}: setautosrc 0"));
            }
            Step::NgEnsureBridge { bridge, uplink: None } => {
                out.push(format!("ngctl mkpeer . bridge {NG_TMP_HOOK} link0"));
                out.push(format!("ngctl name .:{NG_TMP_HOOK} {bridge}"));
                out.push(format!("ngctl msg {bridge}: setpersistent"));
                out.push(format!("ngctl rmhook . {NG_TMP_HOOK}"));
            }
            Step::NgEiface { slot, node, bridge, first_link } => {
                let nursery = crate::ngplan::NURSERY;
                out.push(format!("ngctl mkpeer {nursery}: eiface link0 ether  # or the next free link<N>"));
                out.push(format!("ngctl name {nursery}:link0 {node}"));
                out.push(format!("ngctl msg {node}: getifname"));
                out.push(format!("ngctl rmhook {nursery}: link0"));
                out.push(format!("ngctl connect {node}: {bridge}: ether link{first_link}  # or the next free link<N>"));
                slots.set(*slot, "ngethN".into());
            }
            Step::NgShutdown(path) => out.push(format!("ngctl shutdown {path}")),
            Step::NgRmhook(path, hook) => out.push(format!("ngctl rmhook {path} {hook}")),
            Step::NgLink { node, bridge, first_link } => {
                out.push(format!("ngctl connect {node}: {bridge}: ether link{first_link}  # or the next free link<N>"))
            }
        }
    }
}

/// What to do to take back one executed step.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Undo {
    Destroy(IfRef),
    NgShutdown(String),
    NgUnsplice(String),
    DestroyBridgeIfEmpty(String),
    Rename(String, String),
    /// Take an existing interface back from a jail: its name there, the jail, its driver.
    /// Take an interface back from a jail: its name there, the jail, and what identifies
    /// it: its driver name and unit, and its ifindex.
    Reclaim(String, Jid, String, u32),
    BridgeDel(String, String),
    Down(String),
    DelAddr(String, Cidr),
    DelGroup(String, String),
    Describe(String, Option<String>),
    Nd6Flags(String, u32),
    DelRoute(Cidr),
    AddRoute(Cidr, Gateway),
}

/// "IPv4 default route", "route to 192.0.2.0/24".
/// A route's next hop as the administrator names it: an address and, for a link-local one,
/// the jail interface it is on (`fe80::1%vnet0`). The name is turned into the interface's
/// index in the jail, where it means that interface, when the route is added.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Router {
    /// the router's address
    pub addr: std::net::IpAddr,
    /// its interface, for a link-local address
    pub zone: Option<String>,
}

impl fmt::Display for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.zone {
            Some(z) => write!(f, "{}%{z}", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}

impl Router {
    /// The kernel's gateway: the zone's name resolved to its ifindex here.
    fn gateway<K: Kernel>(&self, k: &mut K) -> Result<Gateway> {
        let scope = match &self.zone {
            None => None,
            Some(z) => Some(k.if_index(z).step(|| format!("find interface {z}, the zone of router {self}"))?),
        };
        Gateway::new(self.addr, scope).map_err(|e| e.context(format!("router {self}")))
    }
}

fn route_name(d: Cidr) -> String {
    match (d.is_default(), d.addr.is_ipv6()) {
        (true, false) => "IPv4 default route".into(),
        (true, true) => "IPv6 default route".into(),
        (false, _) => format!("route to {}", d.network()),
    }
}

/// A list of steps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// The steps, in order.
    pub steps: Vec<Step>,
    next_slot: usize,
}

impl Plan {
    /// An empty plan.
    pub fn new() -> Plan {
        Plan::default()
    }
    /// A fresh slot.
    pub fn slot(&mut self) -> usize {
        self.next_slot += 1;
        self.next_slot - 1
    }
    /// Append a step.
    pub fn push(&mut self, s: Step) {
        self.steps.push(s);
    }

    /// The equivalent commands, one per line.
    pub fn render(&self) -> Vec<String> {
        let mut slots = Slots::default();
        let mut out = vec![];
        for s in &self.steps {
            s.render(&mut slots, "", &mut out);
        }
        out
    }

    /// Run every step; on a failure undo what was done, in reverse, and return the error
    /// (naming the step, and any undo that failed too). Returns the slots' final names.
    pub fn execute<K: Kernel>(&self, k: &mut K) -> Result<Slots> {
        let mut slots = Slots::default();
        let mut undo: Vec<Undo> = vec![];
        // The intents of what this run makes live until it is made or undone.
        let mut intents: Vec<Intent> = vec![];
        for step in &self.steps {
            if let Err(e) = exec(k, step, &mut slots, &mut undo, &mut intents) {
                return Err(undo_all(k, &undo, &slots, e));
            }
        }
        Ok(slots)
    }
}

fn exec<K: Kernel>(
    k: &mut K,
    step: &Step,
    slots: &mut Slots,
    undo: &mut Vec<Undo>,
    intents: &mut Vec<Intent>,
) -> Result<()> {
    // Steps on interfaces the plan made are undone by destroying them.
    let existing = |r: &IfRef| matches!(r, IfRef::Name(_));
    match step {
        Step::Load(m) => k.kld_load(m).step(|| format!("kldload {m}")),
        Step::CreateEpair { a, b } => {
            let name = create_intended(k, "epair", None, intents)?;
            let peer = format!("{}b", &name[..name.len() - 1]);
            slots.set(*a, name);
            slots.set(*b, peer);
            undo.push(Undo::Destroy(IfRef::Slot(*a)));
            Ok(())
        }
        Step::Destroy(r) => {
            let n = slots.name(r)?;
            k.if_destroy(&n).step(|| format!("destroy {n}"))
        }
        Step::Rename(r, to) => {
            let from = slots.name(r)?;
            k.if_rename(&from, to).step(|| format!("rename {from} to {to}"))?;
            match r {
                IfRef::Slot(s) => slots.set(*s, to.clone()),
                IfRef::Name(_) => undo.push(Undo::Rename(to.clone(), from)),
            }
            Ok(())
        }
        Step::Describe(r, d) => {
            let n = slots.name(r)?;
            if existing(r) {
                let old = k.if_description(&n).step(|| format!("read the description of {n}"))?;
                undo.push(Undo::Describe(n.clone(), old));
            }
            k.if_set_description(&n, Some(d)).step(|| format!("set the description of {n}"))
        }
        Step::AddGroup(r, g) => {
            let n = slots.name(r)?;
            k.if_add_group(&n, g).step(|| format!("add {n} to group {g}"))?;
            if existing(r) {
                undo.push(Undo::DelGroup(n, g.clone()));
            }
            Ok(())
        }
        Step::SetMac(r, m) => {
            let n = slots.name(r)?;
            k.if_set_mac(&n, *m).step(|| format!("set the MAC of {n} to {m}"))
        }
        Step::SetMtu(r, m) => {
            let n = slots.name(r)?;
            k.if_set_mtu(&n, *m).step(|| format!("set the MTU of {n} to {m}"))
        }
        Step::Up(r) => {
            let n = slots.name(r)?;
            let f = k.if_flags(&n).step(|| format!("read the flags of {n}"))?;
            if f & iff::UP != 0 {
                return Ok(());
            }
            k.if_set_flags(&n, f | iff::UP).step(|| format!("bring {n} up"))?;
            if existing(r) {
                undo.push(Undo::Down(n));
            }
            Ok(())
        }
        Step::EnableInet6(r) => {
            let n = slots.name(r)?;
            let nd6 = k.if_nd6(&n).step(|| format!("read the IPv6 settings of {n}"))?;
            if nd6.flags & nd6f::IFDISABLED == 0 {
                return Ok(());
            }
            k.if_set_nd6_flags(&n, nd6.flags & !nd6f::IFDISABLED).step(|| format!("enable IPv6 on {n}"))
        }
        Step::AcceptRtadv(r) => {
            let n = slots.name(r)?;
            let nd6 = k.if_nd6(&n).step(|| format!("read the IPv6 settings of {n}"))?;
            let want = (nd6.flags | nd6f::ACCEPT_RTADV) & !nd6f::IFDISABLED;
            if nd6.flags == want {
                return Ok(());
            }
            k.if_set_nd6_flags(&n, want).step(|| format!("accept router advertisements on {n}"))?;
            if existing(r) {
                undo.push(Undo::Nd6Flags(n, nd6.flags));
            }
            Ok(())
        }
        Step::AddAddr(r, c) => {
            let n = slots.name(r)?;
            k.if_add_addr(&n, *c, 0).step(|| format!("add {c} to {n}"))?;
            if existing(r) {
                undo.push(Undo::DelAddr(n, *c));
            }
            Ok(())
        }
        Step::SharedAddr(b, c) => {
            match k.if_add_addr(b, *c, 0) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(Error::kernel(format!("add {c} to {b}"), e)),
            }
            // An if_bridge has no link-local address (nd6_ifattach clears auto_linklocal on
            // IFT_BRIDGE), so rtadvd could not advertise from it: an IPv6 gateway bridge
            // gets one, as `ifconfig BRIDGE inet6 auto_linklocal` gives it (nd6_ioctl runs
            // in6_ifattach on auto_linklocal 0->1).
            if c.addr.is_ipv6() {
                let nd = k.if_nd6(b).step(|| format!("read the IPv6 settings of {b}"))?;
                if nd.flags & nd6f::AUTO_LINKLOCAL == 0 {
                    k.if_set_nd6_flags(b, nd.flags | nd6f::AUTO_LINKLOCAL)
                        .step(|| format!("give {b} its link-local address (auto_linklocal)"))?;
                }
            }
            Ok(())
        }
        Step::Route(d, router) => {
            let what = route_name(*d);
            let g = &router.gateway(k)?;
            match k.route(*d).step(|| format!("read the {what}"))? {
                Some(cur) if cur == *g => return Ok(()),
                Some(cur) => {
                    k.del_route(*d).step(|| format!("remove the {what} via {cur}"))?;
                    undo.push(Undo::AddRoute(*d, cur));
                }
                None => {}
            }
            match k.add_route(*d, *g) {
                Err(Errno::ENETUNREACH) => {
                    let why = match &router.zone {
                        Some(z) => format!(
                            "{z} has no link-local address: enable IPv6 on it, with an IPv6 --addr or --accept-rtadv"
                        ),
                        None => "it is on none of the networks of the jail's addresses".into(),
                    };
                    return Err(Error::kernel(format!("add a {what} via {router} ({why})"), Errno::ENETUNREACH));
                }
                r => r.step(|| format!("add a {what} via {router}"))?,
            }
            undo.push(Undo::DelRoute(*d));
            Ok(())
        }
        Step::BridgeAdd(b, m) => {
            let n = slots.name(m)?;
            match k.bridge_add(b, &n) {
                // Another hook added the same uplink a moment ago: it is a member, and not
                // ours to take out again.
                Err(Errno::EEXIST) if existing(m) => Ok(()),
                // if_bridge takes no interface that another bridge has (EBUSY).
                Err(Errno::EBUSY) => Err(Error::conflict(format!(
                    "add {n} to bridge {b}: {n} is a member of another bridge; to move a jail that runs to \
                     another bridge, release it first (jnet-release) and run this again"
                ))),
                r => {
                    r.step(|| format!("add {n} to bridge {b}"))?;
                    if existing(m) {
                        undo.push(Undo::BridgeDel(b.clone(), n));
                    }
                    Ok(())
                }
            }
        }
        Step::MoveToJail(r, jid) => {
            let n = slots.name(r)?;
            // An existing interface must come back if a later step fails, and the jail's root
            // could give its name to something else meanwhile: keep what identifies it. Its
            // driver tells it from an interface of another kind; a clone the jail makes of
            // the same kind can have the same unit (cloner units are per vnet), but not its
            // ifindex, which a vnet move keeps (FreeBSD 14 if.c: if_vmove detaches and
            // attaches the ifnet under the same if_index, if_attach_internal asserts it).
            let ident = match r {
                IfRef::Name(_) => Some((
                    k.if_driver(&n).step(|| format!("read the driver name of {n}"))?,
                    k.if_index(&n).step(|| format!("read the index of {n}"))?,
                )),
                IfRef::Slot(_) => None,
            };
            k.if_move_to_jail(&n, *jid).step(|| format!("move {n} into jail {jid}"))?;
            if let Some((d, index)) = ident {
                undo.push(Undo::Reclaim(n, *jid, d, index));
            }
            Ok(())
        }
        Step::InJail(jid, steps) => {
            let start = slots.clone();
            let done = k.in_jail(*jid, move |k| {
                let mut slots = start;
                let mut inner_undo = vec![];
                // Nothing is created inside a jail: no intents there.
                let mut none = vec![];
                for s in steps {
                    if let Err(e) = exec(k, s, &mut slots, &mut inner_undo, &mut none) {
                        return Err(undo_all(k, &inner_undo, &slots, e));
                    }
                }
                Ok(slots)
            });
            *slots = done.map_err(|e| e.context(format!("inside jail {jid}")))?;
            Ok(())
        }
        Step::EnsureBridge(b) => ensure_bridge(k, b, undo, intents),
        Step::EnsureVlan(v) => ensure_vlan(k, v, undo, intents),
        Step::NgEnsureBridge { bridge, uplink } => {
            crate::ngplan::ensure_bridge(k, bridge, uplink.as_deref(), &mut |b| undo.push(Undo::NgUnsplice(b)), intents)
        }
        Step::NgEiface { slot, node, bridge, first_link } => {
            // Undo in reverse: the eiface goes before a nursery this run made.
            let mut nursery = None;
            let mut eiface = None;
            let r = crate::ngplan::make_eiface(k, node, bridge, *first_link, &mut |n| nursery = Some(n), &mut |id| {
                eiface = Some(id)
            });
            if let Some(n) = nursery {
                undo.push(Undo::NgUnsplice(n));
            }
            if let Some(id) = eiface {
                undo.push(Undo::NgShutdown(format!("[{id:x}]:")));
            }
            let ifname = r?;
            slots.set(*slot, ifname);
            Ok(())
        }
        Step::NgShutdown(path) => {
            crate::ngplan::shut_down(k, path).map(|_| ()).step(|| format!("shut down netgraph node {path}"))
        }
        Step::NgRmhook(path, hook) => k.ng_rmhook(path, hook).step(|| format!("remove hook {hook} of {path}")),
        Step::NgLink { node, bridge, first_link } => crate::ngplan::link(k, node, bridge, *first_link),
    }
}

/// How many units to try before giving up.
const UNIT_TRIES: u32 = 256;
/// The highest unit a cloner hands out (IF_MAXUNIT, sys/net/if_clone.h: unit numbers are
/// 15 bits).
const MAX_UNIT: u32 = 0x7fff;

/// The name of this program, for the intents it writes.
fn program() -> String {
    std::env::args_os()
        .next()
        .and_then(|a| std::path::Path::new(&a).file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "jnet".into())
}

/// Create from `cloner` ("epair", "bridge") under an explicit unit that an intent names
/// first (and `rename_to`, the name it gets next), so that a crash between creating it
/// and marking it leaves nothing `--stale` cannot tell from the administrator's
/// (`intent`). The unit tried first is the hint after the last one made; on EEXIST (a unit another hook took, or one a renamed interface holds:
/// if_epair refuses a unit whose `epair3a` or `epair3b` exists, epair_handle_unit) others.
fn create_intended<K: Kernel>(
    k: &mut K,
    cloner: &str,
    rename_to: Option<&str>,
    intents: &mut Vec<Intent>,
) -> Result<String> {
    let state = k.state_dir();
    let mut unit = crate::intent::unit_hint(&state, cloner);
    // After an EEXIST, a stride of the process's own: hooks that collided once do not
    // collide again on the next unit.
    let stride = 1 + std::process::id() % 61;
    let mut intent: Option<Intent> = None;
    for _ in 0..UNIT_TRIES {
        unit %= MAX_UNIT + 1;
        let base = format!("{cloner}{unit}");
        let what = Creation::Interface {
            cloner: cloner.to_string(),
            names: std::iter::once(base.clone()).chain(rename_to.map(String::from)).collect(),
            jail: None,
        };
        match intent.as_mut() {
            None => intent = Some(Intent::begin(&state, &program(), what)?),
            Some(i) => i.update(&program(), what)?,
        }
        match k.if_create(&base) {
            Ok(n) => {
                // Only a hint: failing to keep it costs a try next time, nothing more.
                let _ = crate::intent::unit_made(&state, cloner, unit);
                intents.extend(intent);
                return Ok(n);
            }
            Err(Errno::EEXIST) => unit += stride,
            Err(e) => return Err(Error::kernel(format!("create {base}"), e)),
        }
    }
    Err(Error::new(crate::error::Kind::TempFail, format!("create {cloner}: {UNIT_TRIES} units tried were all taken")))
}

/// Is `name` an if_bridge? Some(members) if so, None if there is no such interface.
pub fn bridge_state<K: Kernel>(k: &mut K, name: &str) -> Result<Option<Vec<String>>> {
    match k.bridge_members(name) {
        Ok(m) => Ok(Some(m)),
        Err(Errno::ENXIO) => Ok(None),
        // Only if_bridge's ioctl handler knows BRDGGIFS.
        Err(Errno::EINVAL) => Err(Error::conflict(format!("{name} exists and is not an if_bridge"))),
        Err(e) => Err(Error::kernel(format!("list the members of {name}"), e)),
    }
}

/// Create bridge `name` unless it exists. Two hooks may race here: the loser of the name
/// (EEXIST) drops its own clone and uses the winner's bridge.
fn ensure_bridge<K: Kernel>(k: &mut K, name: &str, undo: &mut Vec<Undo>, intents: &mut Vec<Intent>) -> Result<()> {
    if bridge_state(k, name)?.is_some() {
        return Ok(());
    }
    k.kld_load("if_bridge").step(|| "kldload if_bridge".into())?;
    // "bridge<N>" can be created under its own name in one step; other names need a clone
    // and a rename. A unit held by a renamed bridge makes the direct way EEXIST although
    // the name is free: then take the other.
    let unit = name.strip_prefix("bridge").unwrap_or("");
    let direct =
        !unit.is_empty() && unit.bytes().all(|c| c.is_ascii_digit()) && (unit == "0" || !unit.starts_with('0'));
    let mut created = false;
    if direct {
        let what = Creation::Interface { cloner: "bridge".into(), names: vec![name.to_string()], jail: None };
        intents.push(Intent::begin(&k.state_dir(), &program(), what)?);
        match k.if_create(name) {
            Ok(_) => created = true,
            Err(Errno::EEXIST) => {
                if bridge_state(k, name)?.is_some() {
                    return Ok(());
                }
            }
            Err(e) => return Err(Error::kernel(format!("create bridge {name}"), e)),
        }
    }
    if !created {
        let tmp = create_intended(k, "bridge", Some(name), intents)?;
        match k.if_rename(&tmp, name) {
            Ok(()) => {}
            Err(Errno::EEXIST) => {
                k.if_destroy(&tmp).step(|| format!("destroy {tmp}, the spare bridge"))?;
                return match bridge_state(k, name)? {
                    Some(_) => Ok(()),
                    None => Err(Error::conflict(format!("the name {name} was taken and is gone again; try again"))),
                };
            }
            Err(e) => {
                let err = Error::kernel(format!("rename {tmp} to {name}"), e);
                return Err(match k.if_destroy(&tmp) {
                    Ok(()) => err,
                    Err(d) => err.context(format!("and destroy {tmp}: {d}")),
                });
            }
        }
    }
    undo.push(Undo::DestroyBridgeIfEmpty(name.to_string()));
    mark_shared_and_up(k, name, Role::Bridge)
}

/// Create the vlan `name` (`NIC.TAG`) unless it is there. Two hooks may race: the loser
/// (EEXIST) waits briefly for the winner's tag; a vlan of that name that is not jnet's is a
/// conflict.
fn ensure_vlan<K: Kernel>(k: &mut K, name: &str, undo: &mut Vec<Undo>, intents: &mut Vec<Intent>) -> Result<()> {
    k.kld_load("if_vlan").step(|| "kldload if_vlan".into())?;
    let what = Creation::Interface { cloner: "vlan".into(), names: vec![name.to_string()], jail: None };
    intents.push(Intent::begin(&k.state_dir(), &program(), what)?);
    match k.if_create(name) {
        Ok(_) => {}
        Err(Errno::EEXIST) => {
            if shared_mark_within(k, name, Role::Vlan)? {
                return Ok(());
            }
            return Err(Error::conflict(format!(
                "{name} exists and is not a vlan jnet made for jails; nothing was changed"
            )));
        }
        Err(e) => return Err(Error::kernel(format!("create vlan {name}"), e)),
    }
    undo.push(Undo::Destroy(IfRef::Name(name.to_string())));
    mark_shared_and_up(k, name, Role::Vlan)
}

/// Does `name` carry jnet's mark for all jails as `role`, or get it within a second? A hook
/// that made it a moment ago marks it after creating (and, for a bridge, renaming) it:
/// another hook that sees it in between waits for the mark rather than call it foreign.
pub fn shared_mark_within<K: Kernel>(k: &mut K, name: &str, role: Role) -> Result<bool> {
    for _ in 0..100 {
        let mark = crate::inventory::host_mark(k, name)?;
        if mark.as_ref().and_then(|m| m.owned()).is_some_and(|t| t.role == role) {
            return Ok(true);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Ok(false)
}

/// Mark an interface jnet made for all jails (a bridge, a vlan) and bring it up. The group
/// goes on before the tag: a crash in between leaves a group without a tag, which no scan
/// counts as jnet's.
fn mark_shared_and_up<K: Kernel>(k: &mut K, name: &str, role: Role) -> Result<()> {
    k.if_add_group(name, owner::GROUP).step(|| format!("add {name} to group {}", owner::GROUP))?;
    let tag = Tag::shared(role).description();
    k.if_set_description(name, Some(&tag)).step(|| format!("set the description of {name}"))?;
    let f = k.if_flags(name).step(|| format!("read the flags of {name}"))?;
    k.if_set_flags(name, f | iff::UP).step(|| format!("bring {name} up"))
}

/// Undo `undo` in reverse after `e`; the error says what failed, and any undo that failed.
fn undo_all<K: Kernel>(k: &mut K, undo: &[Undo], slots: &Slots, e: Error) -> Error {
    let mut errs = ErrorList::default();
    for u in undo.iter().rev() {
        errs.collect(rollback(k, u, slots));
    }
    match errs.into_result("undo") {
        Ok(()) => e,
        Err(u) => e.context("failed, and undoing it failed too").context(u.message),
    }
}

fn rollback<K: Kernel>(k: &mut K, u: &Undo, slots: &Slots) -> Result<()> {
    match u {
        Undo::Destroy(r) => {
            let n = slots.name(r)?;
            k.if_destroy(&n).step(|| format!("destroy {n}"))
        }
        Undo::DestroyBridgeIfEmpty(b) => {
            // Another jail may have joined the new bridge meanwhile: then it stays.
            if bridge_state(k, b)?.is_some_and(|m| m.is_empty()) {
                k.if_destroy(b).step(|| format!("destroy {b}"))?;
            }
            Ok(())
        }
        Undo::NgShutdown(path) => match crate::ngplan::shut_down(k, path) {
            Ok(_) => Ok(()),
            Err(e) => Err(Error::kernel(format!("shut down netgraph node {path}"), e)),
        },
        Undo::NgUnsplice(bridge) => crate::ngplan::unsplice_if_unused(k, bridge).map(|_| ()),
        Undo::Rename(now, was) => k.if_rename(now, was).step(|| format!("rename {now} back to {was}")),
        Undo::Reclaim(n, jid, driver, index) => {
            let back = k.if_reclaim(n, *jid).step(|| format!("take {n} back from jail {jid}"))?;
            let got = k.if_driver(&back).step(|| format!("read the driver name of {back}"))?;
            let got_index = k.if_index(&back).step(|| format!("read the index of {back}"))?;
            if &got == driver && got_index == *index {
                return Ok(());
            }
            let what = if &got == driver {
                format!("{got} with index {got_index}, not the {driver} with index {index} that went in")
            } else {
                format!("{got}, not {driver}")
            };
            let moved_back = k.if_move_to_jail(&back, *jid).map(|_| ()).map_err(|e| e.to_string());
            Err(Error::conflict(format!(
                "{n} taken back from jail {jid} is {what}: something in the jail took its name ({})",
                match moved_back {
                    Ok(()) => "moved back into the jail".to_string(),
                    Err(e) => format!("moving it back failed: {e}"),
                }
            )))
        }
        Undo::BridgeDel(b, m) => k.bridge_del(b, m).step(|| format!("remove {m} from bridge {b}")),
        Undo::Down(n) => {
            let f = k.if_flags(n).step(|| format!("read the flags of {n}"))?;
            k.if_set_flags(n, f & !iff::UP).step(|| format!("bring {n} down"))
        }
        Undo::DelAddr(n, c) => k.if_del_addr(n, c.addr).step(|| format!("remove {c} from {n}")),
        Undo::DelGroup(n, g) => k.if_del_group(n, g).step(|| format!("remove {n} from group {g}")),
        Undo::DelRoute(d) => k.del_route(*d).step(|| format!("remove the {}", route_name(*d))),
        Undo::AddRoute(d, g) => k.add_route(*d, *g).step(|| format!("put the {} via {g} back", route_name(*d))),
        Undo::Nd6Flags(n, flags) => k.if_set_nd6_flags(n, *flags).step(|| format!("restore the IPv6 settings of {n}")),
        Undo::Describe(n, old) => {
            k.if_set_description(n, old.as_deref()).step(|| format!("restore the description of {n}"))
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in self.render() {
            writeln!(f, "{l}")?;
        }
        Ok(())
    }
}

#[cfg(all(test, feature = "sim"))]
mod tests {
    use super::*;
    use crate::sim::host::Host;
    use crate::sim::{ScratchDir, Sim, SimFiles};

    fn sim(tag: &str) -> (Sim, SimFiles) {
        let dir = ScratchDir::new(&format!("plan-{tag}"));
        let path = dir.path().join("host.json");
        let files = SimFiles::new(&path);
        let mut h = Host::new("u".into(), &["igb0".to_string()], 1000);
        h.create_jail("www", true).unwrap();
        files.save(&h).unwrap();
        (Sim::open(&path).unwrap().in_scratch(dir), files)
    }

    fn sample() -> Plan {
        let mut p = Plan::new();
        let (a, b) = (p.slot(), p.slot());
        p.push(Step::Load("if_epair".into()));
        p.push(Step::Load("if_bridge".into()));
        p.push(Step::CreateEpair { a, b });
        p.push(Step::Rename(IfRef::Slot(a), "e0a_www".into()));
        p.push(Step::Rename(IfRef::Slot(b), "e0b_www".into()));
        p.push(Step::Describe(IfRef::Slot(a), "jnet:www:epair0a".into()));
        p.push(Step::AddGroup(IfRef::Slot(a), "jnet".into()));
        p.push(Step::Up(IfRef::Slot(a)));
        p.push(Step::Describe(IfRef::Name("igb0".into()), "uplink of www".into()));
        p.push(Step::AddAddr(IfRef::Name("igb0".into()), "192.0.2.1/24".parse().unwrap()));
        p.push(Step::MoveToJail(IfRef::Slot(b), 1));
        p.push(Step::InJail(
            1,
            vec![
                Step::Rename(IfRef::Slot(b), "vnet0".into()),
                Step::Up(IfRef::Slot(b)),
                Step::AddAddr(IfRef::Slot(b), "2001:db8::5/64".parse().unwrap()),
            ],
        ));
        p
    }

    #[test]
    fn renders_as_ifconfig_commands() {
        assert_eq!(
            sample().render(),
            [
                "kldload -n if_epair",
                "kldload -n if_bridge",
                "ifconfig epair create",
                "ifconfig epairNa name e0a_www",
                "ifconfig epairNb name e0b_www",
                "ifconfig e0a_www description jnet:www:epair0a",
                "ifconfig e0a_www group jnet",
                "ifconfig e0a_www up",
                "ifconfig igb0 description 'uplink of www'",
                "ifconfig igb0 inet 192.0.2.1/24 alias",
                "ifconfig e0b_www vnet 1",
                "ifconfig -j 1 e0b_www name vnet0",
                "ifconfig -j 1 vnet0 up",
                "ifconfig -j 1 vnet0 inet6 2001:db8::5/64 alias",
            ]
        );
    }

    #[test]
    fn executes_and_tracks_names_through_the_jail() {
        let (mut k, files) = sim("exec");
        let slots = sample().execute(&mut k).unwrap();
        assert_eq!(slots.0, [Some("e0a_www".to_string()), Some("vnet0".to_string())]);
        let h = files.load().unwrap();
        let a = h.find(None, "e0a_www").unwrap();
        assert_eq!(a.descr.as_deref(), Some("jnet:www:epair0a"));
        assert_eq!(a.groups, ["all", "epair", "jnet"]);
        assert_ne!(a.flags & iff::UP, 0);
        let b = h.find(Some(1), "vnet0").unwrap();
        assert_ne!(b.flags & iff::UP, 0);
        // The added address, and the link-local the kernel adds once IPv6 is enabled and up.
        let addrs: Vec<String> = b.addrs.iter().map(|a| a.cidr.to_string()).collect();
        assert_eq!(addrs.len(), 2, "{addrs:?}");
        assert!(addrs.contains(&"2001:db8::5/64".to_string()));
        assert!(addrs.iter().any(|a| a.starts_with("fe80::")));
        assert_eq!(h.find(None, "igb0").unwrap().descr.as_deref(), Some("uplink of www"));
    }

    #[test]
    fn undoing_a_move_brings_back_only_what_was_moved() {
        use crate::kernel::{Interfaces, System, Vnets};
        let (mut k, files) = sim("undo-reclaim");
        k.kld_load("if_epair").unwrap();
        k.kld_load("if_vlan").unwrap();
        let a = k.if_create("epair").unwrap();
        let b = format!("{}b", &a[..a.len() - 1]);
        k.if_move_to_jail(&b, 1).unwrap();
        // Inside, the jail's root hides the real one and gives its name to his own clone.
        k.in_jail(1, |k| {
            k.if_rename(&b, "hidden").step(|| "rename".into())?;
            let mine = k.if_create("vlan").step(|| "create".into())?;
            k.if_rename(&mine, &b).step(|| "rename".into())
        })
        .unwrap();
        let index = files.load().unwrap().find(Some(1), "hidden").unwrap().index;
        let before: Vec<String> = files.load().unwrap().list(None).into_iter().map(|i| i.name).collect();
        let e = rollback(&mut k, &Undo::Reclaim(b.clone(), 1, "epair0".into(), index), &Slots::default()).unwrap_err();
        assert!(e.message.contains("is vlan0, not epair0") && e.message.contains("moved back into the jail"), "{e}");
        let h = files.load().unwrap();
        let after: Vec<String> = h.list(None).into_iter().map(|i| i.name).collect();
        assert_eq!(after, before, "nothing of the jail's came out");
        assert_eq!(h.find(Some(1), &b).unwrap().driver, "vlan0", "his clone is back in his jail");
        // The real one, under its own name, comes back.
        k.in_jail(1, |k| {
            k.if_destroy(&b).step(|| "destroy".into())?;
            k.if_rename("hidden", &b).step(|| "rename".into())
        })
        .unwrap();
        // A clone of the same kind and unit made in the jail's vnet (cloner units are per
        // vnet) under the name: its index gives it away.
        k.in_jail(1, |k| {
            k.if_rename(&b, "hidden").step(|| "rename".into())?;
            // His epair0 comes as epair0a and epair0b: the second has the name.
            k.if_create("epair0").step(|| "create".into())
        })
        .unwrap();
        assert_eq!(files.load().unwrap().find(Some(1), &b).unwrap().driver, "epair0", "the same driver and unit");
        let e = rollback(&mut k, &Undo::Reclaim(b.clone(), 1, "epair0".into(), index), &Slots::default()).unwrap_err();
        assert!(e.message.contains(&format!("not the epair0 with index {index}")), "{e}");
        assert!(files.load().unwrap().find(Some(1), &b).is_some(), "his clone is back in his jail");
        k.in_jail(1, |k| {
            k.if_destroy(&b).step(|| "destroy".into())?;
            k.if_rename("hidden", &b).step(|| "rename".into())
        })
        .unwrap();
        rollback(&mut k, &Undo::Reclaim(b.clone(), 1, "epair0".into(), index), &Slots::default()).unwrap();
        let h = files.load().unwrap();
        let real = h.find(None, &b).unwrap();
        assert_eq!((real.driver.as_str(), real.index), ("epair0", index));
    }

    #[test]
    fn a_failure_at_any_step_leaves_the_host_as_it_was() {
        let (mut k, files) = sim("fail");
        // Count the operations of a full run, then fail each one in turn on a fresh host.
        let before_ops = files.ops().unwrap().len();
        sample().execute(&mut k).unwrap();
        let total = files.ops().unwrap().len() - before_ops;
        assert!(total > 10);
        for at in 0..total {
            let (mut k, files) = sim(&format!("fail{at}"));
            let mut before = files.load().unwrap();
            before.modules.insert("if_epair".into());
            before.modules.insert("if_bridge".into());
            let mut h = before.clone();
            h.fail = Some(crate::sim::host::FailSpec {
                after: at as u64,
                errno: crate::errno::Errno::EIO,
                kill: false,
                times: 1,
            });
            files.save(&h).unwrap();
            let e = sample().execute(&mut k).unwrap_err();
            assert!(e.message.ends_with("Input/output error (EIO)"), "op {at}: {e}");
            let mut after = files.load().unwrap();
            after.fail = None;
            after.next_index = before.next_index;
            // The host's clock moves on with every operation.
            after.clock_ms = before.clock_ms;
            assert_eq!(after, before, "operation {at} ({e}) left state behind");
        }
    }
}
