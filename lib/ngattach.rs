//! jnet-ngattach: a netgraph ng_eiface for a VNET jail, on an ng_bridge spliced onto a NIC
//! or a standalone persistent one. Same shape as jnet-epair: validate, look, plan, run
//! with undo.

use crate::cli::{Common, Output, Program};
use crate::epair::{
    check_mtu, check_owned, conflict, hand_over, parse_cidrs, parse_mac_choice, vnet_jail, Found, JailSide, MacChoice,
};
use crate::errno::Errno;
use crate::error::{Error, KernelContext, Result};
use crate::inventory;
use crate::kernel::{iff, Cidr, JailRef, Kernel};
use crate::mac::Mac;
use crate::names;
use crate::ngplan::{bridge_exists, eiface_node, ether_node};
use crate::owner::{self, Role, Tag};
use crate::plan::{IfRef, Plan, Step};
use argh::FromArgs;
use serde_json::json;

crate::program_args! {
#[derive(FromArgs, Debug)]
/// Give a VNET jail a netgraph interface: an ng_eiface on an ng_bridge spliced onto a NIC
/// (--uplink) or on a standalone bridge (--virtual). Run it from exec.prestart or
/// exec.created.
pub struct NgAttachArgs {
    /// jail name or jid
    #[argh(positional)]
    pub jail: String,
    /// NIC the bridge is spliced onto (ng_ether lower/upper)
    #[argh(option, short = 'u')]
    pub uplink: Option<String>,
    /// a standalone, persistent bridge with no NIC
    #[argh(switch, long = "virtual")]
    pub virtual_bridge: bool,
    /// bridge node name (default <uplink>bridge; required with --virtual)
    #[argh(option, short = 'b')]
    pub bridge: Option<String>,
    /// splice onto a lagg in failover mode all the same
    #[argh(switch)]
    pub force: bool,
    /// join VLAN ID of the uplink: splice onto a vlan NIC.ID (default bridge NIC_IDbridge)
    #[argh(option)]
    pub vlan: Option<u16>,
}
dry_run = "print the plan as ngctl(8)/ifconfig(8) commands and change nothing";
jail_end;
}

struct Request {
    force: bool,
    /// the vlan interface (NIC.ID) the bridge is spliced onto
    vlan: Option<String>,
    jail: JailRef,
    uplink: Option<String>,
    bridge: String,
    index: u32,
    short: Option<String>,
    ifname: Option<String>,
    addrs: Vec<Cidr>,
    mac: MacChoice,
    mtu: Option<u32>,
    accept_rtadv: bool,
    gateways: Vec<crate::plan::Router>,
    routes: Vec<(Cidr, crate::plan::Router)>,
}

impl NgAttachArgs {
    fn validate(&self) -> Result<Request> {
        let jail = JailRef::parse(&self.jail)?;
        names::check_index(self.index)?;
        if let Some(short) = &self.short {
            names::check_short(short, self.index)?;
        }
        // With --vlan the bridge is spliced onto the NIC's vlan NIC.ID (an if_vlan, which
        // ng_ether attaches to like any Ethernet interface), not onto the NIC.
        let vlan = match (self.vlan, &self.uplink) {
            (None, _) => None,
            (Some(_), None) => return Err(Error::usage("--vlan needs --uplink: the VLAN is one of that NIC's")),
            (Some(id), Some(u)) => {
                if !(1..=4094).contains(&id) {
                    return Err(Error::data(format!("--vlan {id} is not a VLAN ID (1 to 4094)")));
                }
                let v = format!("{u}.{id}");
                names::check_ifname("the vlan interface", &v)?;
                Some(v)
            }
        };
        let splice_on = vlan.as_ref().or(self.uplink.as_ref());
        let bridge = match (splice_on, self.virtual_bridge, &self.bridge) {
            (Some(_), true, _) => return Err(Error::usage("--uplink and --virtual exclude each other")),
            (None, false, _) => {
                return Err(Error::usage("say where the interface goes: --uplink NIC, or --virtual -b NAME"))
            }
            (None, true, None) => return Err(Error::usage("--virtual needs -b NAME, the bridge node's name")),
            (Some(u), false, None) => {
                names::check_ifname("uplink", u)?;
                format!("{}bridge", ether_node(u))
            }
            (u, _, Some(b)) => {
                if let Some(u) = u {
                    names::check_ifname("uplink", u)?;
                }
                b.clone()
            }
        };
        names::check_node_name("bridge", &bridge)?;
        if let Some(n) = &self.ifname {
            names::check_ifname("--ifname", n)?;
        }
        check_mtu(self.mtu)?;
        Ok(Request {
            force: self.force,
            vlan,
            jail,
            uplink: self.uplink.clone(),
            bridge,
            index: self.index,
            short: self.short.clone(),
            ifname: self.ifname.clone(),
            addrs: parse_cidrs("--addr", &self.addr)?,
            mac: parse_mac_choice(&self.mac)?,
            mtu: self.mtu,
            accept_rtadv: self.accept_rtadv,
            gateways: crate::epair::parse_gateways(&self.gateway)?,
            routes: crate::epair::parse_routes(&self.route)?,
        })
    }
}

struct Built {
    plan: Plan,
    action: &'static str,
    jail: String,
    jid: Option<i32>,
    node: String,
    jail_end: String,
    mac: Option<Mac>,
}

impl Request {
    fn build<K: Kernel>(&self, k: &mut K, dry_run: bool) -> Result<Built> {
        let (jail, info) = vnet_jail(k, &self.jail)?;
        let jid = info.as_ref().map(|j| j.jid);
        if jid.is_none()
            && (self.ifname.is_some()
                || !self.addrs.is_empty()
                || self.accept_rtadv
                || !self.gateways.is_empty()
                || !self.routes.is_empty())
        {
            return Err(Error::usage(format!(
                "--ifname, --addr, --accept-rtadv, --gateway and --route configure the interface inside the jail, and jail {jail} does not run yet: \
                 call jnet-ngattach from exec.created (or by hand once the jail runs)"
            )));
        }
        let name = names::eiface_name(self.short.as_deref().unwrap_or(&jail), self.index);
        let node = eiface_node(k, &jail, self.index, dry_run)?;
        let tag = Tag::jail(&jail, Role::Eiface(self.index));
        let list = k.if_list().step(|| "list interfaces".into())?;
        if let Some(u) = &self.uplink {
            if !list.iter().any(|i| &i.name == u) {
                return Err(Error::data(format!("uplink {u} does not exist on the host")));
            }
            // The seed article's trap: a failover lagg drops frames that arrive on a port
            // other than the active one, and once netgraph is spliced in the host can no
            // longer reach the jails bridged into it over that lagg.
            if let Some(lagg) = k.if_lagg(u).step(|| format!("ask {u} whether it is a lagg"))? {
                if lagg.proto == "failover" && !self.force {
                    return Err(Error::conflict(format!(
                        "uplink {u} is a lagg in failover mode (ports {}): it drops frames that arrive on the \
                         inactive port, so with a netgraph bridge spliced onto it the host cannot talk to the jails \
                         behind it. Give the jails a lagg (or NIC) of their own, use laggproto lacp, or pass --force",
                        lagg.ports.join(", ")
                    )));
                }
            }
        }
        // Netgraph needs its socket (and, to see NICs, ng_ether) before anything can be
        // looked at; loading modules is not undone.
        for m in ["ng_socket", "ng_ether", "ng_bridge", "ng_eiface"] {
            k.kld_load(m).step(|| format!("kldload {m}"))?;
        }
        // A vlan to splice onto: jnet's, or made by the plan.
        let make_vlan = match &self.vlan {
            Some(v) => !crate::epair::vlan_there(k, &list, v)?,
            None => false,
        };
        let splice_on = self.vlan.as_ref().or(self.uplink.as_ref());
        if let Some(u) = splice_on.filter(|_| !make_vlan) {
            match k.ng_node(&format!("{}:", ether_node(u))) {
                Ok(n) if n.node_type == "ether" => {}
                Ok(_) | Err(Errno::ENOENT) => {
                    return Err(Error::data(format!(
                        "uplink {u} is not an Ethernet interface (it has no ng_ether node)"
                    )))
                }
                Err(e) => return Err(Error::kernel(format!("look up the ng_ether node of {u}"), e)),
            }
        }
        let bridge_there = bridge_exists(k, &self.bridge)?;
        let host_if = check_owned(k, &list, &name, &tag, &jail, "on the host")?;
        let mut found = match host_if {
            Some(i) => Found::Host(i),
            None => Found::Absent,
        };
        if let Some(jid) = jid {
            let (inside, owned) = inventory::scan_jail(k, jid, &jail)?;
            if found == Found::Absent {
                if let Some(o) = owned.iter().find(|o| o.tag == tag) {
                    found = Found::Jail(o.info.clone());
                }
            }
            let ours = match &found {
                Found::Jail(i) => Some(i.name.as_str()),
                _ => None,
            };
            for want in [Some(name.as_str()), self.ifname.as_deref()].into_iter().flatten() {
                if inside.iter().any(|i| i.name == want) && ours != Some(want) {
                    let d = owned.iter().find(|o| o.name == want).map(|o| o.tag.description());
                    return Err(conflict(want, d.as_deref(), &jail, &format!("inside jail {jail}")));
                }
            }
        }
        // The node's name, which only the host's root can give and which carries a keyed hash
        // of the jail's name, makes it this jail's; its interface is the one it names.
        let node_ifname = match k.ng_node(&format!("{node}:")) {
            Ok(n) if n.node_type == "eiface" => {
                Some(k.ng_eiface_ifname(&format!("{node}:")).step(|| format!("get the interface name of {node}"))?)
            }
            Ok(n) => {
                return Err(Error::conflict(format!("netgraph node {node} is of type {}, not an eiface", n.node_type)))
            }
            Err(Errno::ENOENT) => None,
            Err(e) => return Err(Error::kernel(format!("look up netgraph node {node}"), e)),
        };
        let node_there = node_ifname.is_some();
        // The interface we found is the node's own, or the two do not belong together.
        let whole = match (&found, &node_ifname) {
            (Found::Host(i) | Found::Jail(i), Some(n)) => &i.name == n,
            _ => false,
        };
        let mac = match self.mac {
            MacChoice::Kernel => None,
            MacChoice::Fixed(m) => Some(m),
            MacChoice::Auto => {
                let host = k.sysctl_string("kern.hostuuid").step(|| "read kern.hostuuid".into())?;
                Some(Mac::derive(&host, &jail, self.index, "ng"))
            }
        };
        let mut p = Plan::new();
        if make_vlan {
            p.push(Step::EnsureVlan(self.vlan.clone().expect("make_vlan")));
        }
        if !bridge_there {
            p.push(Step::NgEnsureBridge { bridge: self.bridge.clone(), uplink: splice_on.map(|u| ether_node(u)) });
        }
        let first_link = if self.uplink.is_some() { 2 } else { 0 };
        let (action, b, inside) = if whole {
            // Ours and whole: converge.
            let b = match &found {
                Found::Host(_) => IfRef::Name(name.clone()),
                Found::Jail(i) => IfRef::Name(i.name.clone()),
                Found::Absent | Found::CameHome(_) => unreachable!("checked"),
            };
            let (_, hooks) = k.ng_hooks(&format!("{node}:")).step(|| format!("list the hooks of {node}"))?;
            if !hooks.iter().any(|h| h.ourhook == "ether" && h.peer.name == self.bridge) {
                if hooks.iter().any(|h| h.ourhook == "ether") {
                    p.push(Step::NgRmhook(format!("{node}:"), "ether".into()));
                }
                p.push(Step::NgLink { node: node.clone(), bridge: self.bridge.clone(), first_link });
            }
            if let Found::Host(i) = &found {
                if let Some(m) = mac.filter(|m| i.mac != Some(*m)) {
                    p.push(Step::SetMac(b.clone(), m));
                }
                if i.flags & iff::UP == 0 {
                    p.push(Step::Up(b.clone()));
                }
            }
            let inside = match &found {
                Found::Jail(i) => Some(i.clone()),
                _ => None,
            };
            ("reused", b, inside)
        } else {
            let mut action = "created";
            if node_there {
                // The node survived a crash or failed start but its interface is not ours any
                // more (or not where it should be): start again.
                action = "recreated";
                p.push(Step::NgShutdown(format!("{node}:")));
            } else if matches!(found, Found::Host(_)) {
                return Err(Error::conflict(format!(
                    "{name} is tagged for jail {jail} but has no netgraph node {node}; shut its node down by hand (ngctl shutdown)"
                )));
            }
            let slot = p.slot();
            let b = IfRef::Slot(slot);
            p.push(Step::NgEiface { slot, node: node.clone(), bridge: self.bridge.clone(), first_link });
            p.push(Step::Rename(b.clone(), name.clone()));
            p.push(Step::Describe(b.clone(), tag.description()));
            p.push(Step::AddGroup(b.clone(), owner::GROUP.into()));
            if let Some(m) = mac {
                p.push(Step::SetMac(b.clone(), m));
            }
            if let Some(m) = self.mtu {
                p.push(Step::SetMtu(b.clone(), m));
            }
            (action, b, None)
        };
        let jail_end = match jid {
            Some(jid) => hand_over(
                &mut p,
                jid,
                &b,
                &name,
                inside.as_ref(),
                &JailSide {
                    ifname: self.ifname.as_deref(),
                    addrs: &self.addrs,
                    accept_rtadv: self.accept_rtadv,
                    gateways: &self.gateways,
                    routes: &self.routes,
                },
            ),
            None => {
                // Left on the host for vnet.interface: up, as jng leaves it.
                if !matches!(found, Found::Host(_)) {
                    p.push(Step::Up(b.clone()));
                }
                name.clone()
            }
        };
        Ok(Built { plan: p, action, jail, jid, node, jail_end, mac })
    }
}

impl Program for NgAttachArgs {
    const NAME: &'static str = "jnet-ngattach";

    fn common(&self) -> Common {
        self.common_flags()
    }

    fn run<K: Kernel>(self, k: &mut K) -> Result<Output> {
        let req = self.validate()?;
        let _lock = if self.dry_run { None } else { crate::jaillock::lock(k, &req.jail)? };
        let built = req.build(k, self.dry_run)?;
        if self.dry_run {
            let cmds = built.plan.render();
            return Ok(Output { json: json!({ "dry_run": true, "commands": cmds }), lines: cmds, error: None });
        }
        log::debug!("plan for jail {}:\n{}", built.jail, built.plan);
        built.plan.execute(k).map_err(|e| e.context(format!("jnet-ngattach {}", built.jail)))?;
        Ok(Output {
            error: None,
            lines: vec![built.jail_end.clone()],
            json: json!({
                "jail": built.jail,
                "jid": built.jid,
                "index": req.index,
                "action": built.action,
                "node": built.node,
                "bridge": req.bridge,
                "uplink": req.uplink,
                "vlan": req.vlan,
                "interface": {
                    "name": built.jail_end,
                    "mac": built.mac.map(|m| m.to_string()),
                    "where": if built.jid.is_some() { "jail" } else { "host" },
                },
                "addrs": req.addrs.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
                "gateways": req.gateways.iter().map(|g| g.to_string()).collect::<Vec<_>>(),
                "routes": req.routes.iter().map(|(d, g)| json!({ "dst": d.to_string(), "gw": g.to_string() })).collect::<Vec<_>>(),
                "accept_rtadv": req.accept_rtadv,
            }),
        })
    }
}
