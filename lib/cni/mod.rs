//! jnet-cni: jnet's epairs behind the Container Network Interface (CNI spec 1.0.0; GC and
//! STATUS of 1.1.0), for runtimes that schedule jails (containerd with runj, podman with
//! ocijail, Nomad).
//!
//! A runtime runs the plugin with CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS (on FreeBSD the
//! VNET jail it made), CNI_IFNAME and CNI_PATH in the environment and the network
//! configuration on stdin. ADD is `jnet-epair -b BRIDGE --ifname CNI_IFNAME` for that jail,
//! with the addresses and routes the IPAM plugin gives; DEL destroys the epair
//! (already gone is success) and releases the addresses; CHECK compares the kernel with the
//! previous result. The same engine, ownership marks and trust rules as the hooks: the jail's
//! root is not trusted, and what it can change inside is only ever read there, never acted on
//! from the host.

pub mod ipam;
pub mod record;
pub mod spec;

use crate::cli::KernelTask;
use crate::epair::EpairArgs;
use crate::error::KernelContext;
use crate::kernel::{Cidr, Gateway, IfInfo, JailRef, Kernel};
use crate::names::{self, End};
use crate::owner::{Role, Tag};
use record::Record;
use serde_json::Value;
use spec::{code, CniError, InterfaceConfig, IpConfig, IpamResult, NetConf, RouteConfig};
use std::net::IpAddr;

/// CNI_COMMAND.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Attach.
    Add,
    /// Detach; succeeds when there is nothing left.
    Del,
    /// Compare the kernel with the previous result.
    Check,
    /// The versions spoken.
    Version,
    /// Detach every attachment of the network not listed as valid (1.1.0).
    Gc,
    /// Ready to attach? (1.1.0)
    Status,
}

impl Command {
    fn parse(s: &str) -> Result<Command, CniError> {
        Ok(match s {
            "ADD" => Command::Add,
            "DEL" => Command::Del,
            "CHECK" => Command::Check,
            "VERSION" => Command::Version,
            "GC" => Command::Gc,
            "STATUS" => Command::Status,
            _ => {
                return Err(CniError::new(
                    code::INVALID_ENV,
                    format!("CNI_COMMAND {s:?} is not ADD, DEL, CHECK, VERSION, GC or STATUS"),
                ))
            }
        })
    }
}

/// A request: the environment, checked, and the configuration.
pub struct Request {
    /// CNI_COMMAND.
    pub command: Command,
    container_id: Option<String>,
    netns: Option<String>,
    ifname: Option<String>,
    cni_path: String,
    conf: NetConf,
    raw: Vec<u8>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn need<'a>(v: &'a Option<String>, name: &str, command: &str) -> Result<&'a str, CniError> {
    v.as_deref().ok_or_else(|| CniError::new(code::INVALID_ENV, format!("{command} needs {name} in the environment")))
}

impl Request {
    /// Read the environment and `stdin` (the configuration) and check both; VERSION reads
    /// neither configuration nor kernel and is answered by the caller.
    pub fn read(command: Command, stdin: Vec<u8>) -> Result<Request, CniError> {
        let conf: NetConf = serde_json::from_slice(&stdin).map_err(|e| {
            CniError::new(code::DECODING_FAILURE, format!("the network configuration on stdin is not valid: {e}"))
        })?;
        spec::check_version(&conf.cni_version)?;
        let r = Request {
            command,
            container_id: env("CNI_CONTAINERID"),
            netns: env("CNI_NETNS"),
            ifname: env("CNI_IFNAME"),
            cni_path: env("CNI_PATH").unwrap_or_default(),
            conf,
            raw: stdin,
        };
        r.check_env()?;
        Ok(r)
    }

    fn check_env(&self) -> Result<(), CniError> {
        let cmd = format!("{:?}", self.command).to_uppercase();
        let per_attachment = matches!(self.command, Command::Add | Command::Del | Command::Check);
        if per_attachment {
            spec::check_container_id(need(&self.container_id, "CNI_CONTAINERID", &cmd)?)?;
            let ifname = need(&self.ifname, "CNI_IFNAME", &cmd)?;
            names::check_ifname("CNI_IFNAME", ifname).map_err(|e| CniError::new(code::INVALID_ENV, e.0))?;
            index_of(ifname)?;
        }
        // DEL may come after the jail is gone, without CNI_NETNS.
        if matches!(self.command, Command::Add | Command::Check) {
            need(&self.netns, "CNI_NETNS", &cmd)?;
        }
        if let Some(n) = &self.netns {
            JailRef::parse(n).map_err(|e| {
                CniError::new(code::INVALID_ENV, format!("CNI_NETNS must name a jail (its name or jid): {}", e.message))
            })?;
        }
        if self.conf.ipam.is_some() && self.command != Command::Status && self.cni_path.is_empty() {
            return Err(CniError::new(code::INVALID_ENV, format!("{cmd} needs CNI_PATH to find the IPAM plugin")));
        }
        Ok(())
    }

    fn delegate(&self) -> Option<ipam::Delegate<'_>> {
        self.conf.ipam.as_ref().map(|i| ipam::Delegate {
            plugin: &i.plugin,
            cni_path: &self.cni_path,
            config: &self.raw,
        })
    }

    fn attachment(&self) -> (&str, &str) {
        (self.container_id.as_deref().unwrap_or_default(), self.ifname.as_deref().unwrap_or_default())
    }
}

/// The epair index an interface name chooses: its trailing digits (`eth0` 0, `net2` 2), 0
/// without any. A jail's attachments then have distinct epairs as long as their names end
/// in distinct numbers, and a DEL finds its epair from the name alone.
pub fn index_of(ifname: &str) -> Result<u32, CniError> {
    let digits = &ifname[ifname.trim_end_matches(|c: char| c.is_ascii_digit()).len()..];
    if digits.is_empty() {
        return Ok(0);
    }
    match digits.parse::<u32>() {
        Ok(i) if i <= names::INDEX_MAX => Ok(i),
        _ => Err(CniError::new(
            code::INVALID_ENV,
            format!("CNI_IFNAME {ifname}: the number it ends in chooses the epair, and must be 0-{}", names::INDEX_MAX),
        )),
    }
}

impl KernelTask for Request {
    type Output = Result<Option<Value>, CniError>;
    fn run<K: Kernel>(self, k: &mut K) -> Self::Output {
        match self.command {
            Command::Add => self.add(k).map(Some),
            Command::Del => self.del(k).map(|_| None),
            Command::Check => self.check(k).map(|_| None),
            Command::Gc => self.gc(k).map(|_| None),
            Command::Status => self.status(k).map(|_| None),
            Command::Version => Ok(Some(spec::version_json())),
        }
    }
}

/// What the IPAM result asks of the jail and the bridge.
#[derive(Debug)]
struct Addressing {
    addrs: Vec<(Cidr, Option<IpAddr>)>,
    /// The routes, each with its gateway.
    routes: Vec<RouteConfig>,
    bridge_addrs: Vec<Cidr>,
}

impl Request {
    /// The addresses, the routes and the bridge's addresses that the configuration and the
    /// IPAM result ask for; a route without `gw` goes through the gateway of the address of
    /// its family.
    fn addressing(&self, r: &IpamResult) -> Result<Addressing, CniError> {
        let addrs = r.cidrs()?;
        let gw_of = |v6: bool| addrs.iter().find_map(|(c, g)| g.filter(|_| c.addr.is_ipv6() == v6));
        let mut routes: Vec<RouteConfig> = vec![];
        for route in &r.routes {
            let v6 = spec::route_dst(&route.dst)?.addr.is_ipv6();
            let gw = route.gw.or_else(|| gw_of(v6)).ok_or_else(|| {
                CniError::new(
                    code::INVALID_CONFIG,
                    format!("route to {} has no gw and no address of its family has a gateway", route.dst),
                )
            })?;
            routes.push(RouteConfig { dst: route.dst.clone(), gw: Some(gw) });
        }
        if self.conf.is_default_gateway {
            for v6 in [false, true] {
                let have = routes
                    .iter()
                    .any(|r| spec::route_dst(&r.dst).is_ok_and(|d| d.is_default() && d.addr.is_ipv6() == v6));
                if let (Some(g), false) = (gw_of(v6), have) {
                    let dst = if v6 { "::/0" } else { "0.0.0.0/0" };
                    routes.push(RouteConfig { dst: dst.into(), gw: Some(g) });
                }
            }
        }
        let mut bridge_addrs: Vec<Cidr> = vec![];
        for s in &self.conf.bridge_addr {
            let c: Cidr = s.parse().map_err(|e: crate::error::Error| e.context("bridgeAddr"))?;
            bridge_addrs.push(c);
        }
        if self.conf.is_gateway || self.conf.is_default_gateway {
            for (c, g) in &addrs {
                match g {
                    Some(g) if !bridge_addrs.iter().any(|b| b.addr == *g) => {
                        bridge_addrs.push(Cidr { addr: *g, prefixlen: c.prefixlen })
                    }
                    _ => {}
                }
            }
        }
        Ok(Addressing { addrs, routes, bridge_addrs })
    }

    /// jnet-epair's arguments for this attachment.
    fn epair_args(&self, jail: &str, index: u32, a: &Addressing) -> EpairArgs {
        EpairArgs {
            jail: jail.to_string(),
            bridge: Some(self.conf.bridge.clone()),
            uplink: self.conf.uplink.clone(),
            vlan: self.conf.vlan,
            bridge_addr: a.bridge_addrs.iter().map(Cidr::to_string).collect(),
            index,
            ifname: self.ifname.clone(),
            addr: a.addrs.iter().map(|(c, _)| c.to_string()).collect(),
            mac: "auto".into(),
            mtu: self.conf.mtu,
            gateway: self.routes_where(a, true),
            route: self.routes_where(a, false),
            ..EpairArgs::default()
        }
    }

    /// The default routes' gateways (`--gateway`), or the other routes (`--route NET,GW`). A
    /// link-local gateway (an IPAM's `fe80::1`) is on the container's interface: that is its
    /// zone.
    fn routes_where(&self, a: &Addressing, default: bool) -> Vec<String> {
        a.routes
            .iter()
            .filter_map(|r| {
                let dst = spec::route_dst(&r.dst).ok()?;
                let gw = match r.gw? {
                    IpAddr::V6(v) if crate::kernel::is_link_local(&v) => {
                        format!("{v}%{}", self.ifname.as_deref().unwrap_or_default())
                    }
                    g => g.to_string(),
                };
                (dst.is_default() == default).then(|| if default { gw } else { format!("{dst},{gw}") })
            })
            .collect()
    }

    /// The running VNET jail CNI_NETNS names.
    fn jail<K: Kernel>(&self, k: &mut K) -> Result<String, CniError> {
        let netns = self.netns.as_deref().unwrap_or_default();
        let which = JailRef::parse(netns).map_err(CniError::from)?;
        match crate::epair::vnet_jail(k, &which)? {
            (name, Some(_)) => Ok(name),
            (name, None) => Err(CniError::new(
                code::UNKNOWN_CONTAINER,
                format!("no jail {name} runs: CNI_NETNS must name the VNET jail the runtime made"),
            )),
        }
    }

    fn add<K: Kernel>(&self, k: &mut K) -> Result<Value, CniError> {
        let (container_id, ifname) = self.attachment();
        // Attachments share the bridge; a DEL that takes it away waits for none of them.
        let _bridge = crate::jaillock::share_bridge(&k.state_dir(), &self.conf.bridge, crate::jaillock::WAIT)?;
        let jail = self.jail(k)?;
        let index = index_of(ifname)?;
        let host_end = names::epair_name(&jail, index, End::A);
        let rec = Record {
            network: self.conf.name.clone(),
            container_id: container_id.into(),
            ifname: ifname.into(),
            jail: jail.clone(),
            index,
        };
        let dir = record::dir(&k.state_dir());
        let fresh = record::at(&dir, &host_end)?.is_none();
        let rpath = record::claim(&dir, &host_end, &rec)?;
        let undo = |mut e: CniError| -> CniError {
            // A fresh ADD that failed gives back what it took; a repeated one leaves its
            // attachment to the DEL the runtime sends after a failed ADD.
            if fresh {
                if let Some(d) = self.delegate() {
                    if let Err(x) = d.run("DEL", &[]) {
                        e.details = format!("and releasing its addresses failed too: {}", x.msg);
                    }
                }
                let _ = record::remove(&rpath);
            }
            e
        };
        let r = match self.delegate() {
            Some(d) => d.add().map_err(&undo)?,
            None => IpamResult::default(),
        };
        let a = self.addressing(&r).map_err(&undo)?;
        let applied = match self.epair_args(&jail, index, &a).apply(k) {
            Ok((_, Ok(applied))) => applied,
            Ok((_, Err(_))) => unreachable!("jnet-cni never asks for a dry run"),
            Err(e) => return Err(undo(e.into())),
        };
        let interfaces = [
            InterfaceConfig { name: applied.host, mac: applied.host_mac.map(|m| m.to_string()), sandbox: None },
            InterfaceConfig {
                name: applied.jail_end,
                mac: applied.jail_mac.map(|m| m.to_string()),
                sandbox: self.netns.clone(),
            },
        ];
        let ips: Vec<IpConfig> =
            a.addrs.iter().map(|(c, g)| IpConfig { address: c.to_string(), gateway: *g, interface: Some(1) }).collect();
        Ok(spec::result_json(&self.conf.cni_version, &interfaces, &ips, &a.routes, &r.dns))
    }

    /// The record of this attachment: under the epair CNI_NETNS and CNI_IFNAME choose, or,
    /// without a jail name (no CNI_NETNS, or a jid of a jail that is gone), among all.
    fn find_record<K: Kernel>(&self, k: &mut K) -> Result<Option<(std::path::PathBuf, Record)>, CniError> {
        let (container_id, ifname) = self.attachment();
        let dir = record::dir(&k.state_dir());
        let jail = match self.netns.as_deref().map(JailRef::parse) {
            Some(Ok(JailRef::Name(n))) => Some(n),
            Some(Ok(j @ JailRef::Jid(_))) => k.jail(&j).step(|| format!("look up jail {j}"))?.map(|i| i.name),
            _ => None,
        };
        if let Some(jail) = jail {
            let host_end = names::epair_name(&jail, index_of(ifname)?, End::A);
            if let Some(found) = record::at(&dir, &host_end)? {
                if found.1.is(&self.conf.name, container_id, ifname) {
                    return Ok(Some(found));
                }
            }
        }
        Ok(record::all(&dir, &self.conf.name)?.into_iter().find(|(_, r)| r.is(&self.conf.name, container_id, ifname)))
    }

    fn del<K: Kernel>(&self, k: &mut K) -> Result<(), CniError> {
        let found = self.find_record(k)?;
        release(k, found.as_ref(), self.delegate(), &[])?;
        self.prune(k)
    }

    /// With `prune`, take the bridge away once no attachment is on it: a bridge jnet made,
    /// with no member but jnet's vlan of this network, and no ADD under way on it (they hold
    /// the bridge's lock shared). The uplink NIC keeps its bridge, as with
    /// `jnet-release --prune`.
    fn prune<K: Kernel>(&self, k: &mut K) -> Result<(), CniError> {
        let bridge = &self.conf.bridge;
        if !self.conf.prune {
            return Ok(());
        }
        let Some(_alone) = crate::jaillock::try_bridge(&k.state_dir(), bridge)? else { return Ok(()) };
        let Some(members) = crate::plan::bridge_state(k, bridge)? else { return Ok(()) };
        let jnets = |k: &mut K, name: &str, role: Role| -> Result<bool, CniError> {
            let mark = crate::inventory::host_mark(k, name)?;
            Ok(mark.as_ref().and_then(|m| m.owned()).is_some_and(|t| t.role == role && t.jail.is_none()))
        };
        let vlan = match (&self.conf.uplink, self.conf.vlan) {
            (Some(u), Some(id)) => Some(format!("{u}.{id}")),
            _ => None,
        };
        if !members.iter().all(|m| Some(m) == vlan.as_ref()) || !jnets(k, bridge, Role::Bridge)? {
            return Ok(());
        }
        match k.if_destroy(bridge) {
            Ok(()) | Err(crate::errno::Errno::ENXIO) => {}
            Err(e) => return Err(crate::error::Error::kernel(format!("destroy bridge {bridge}"), e).into()),
        }
        for v in vlan.iter().filter(|v| members.contains(v)) {
            if jnets(k, v, Role::Vlan)? {
                match k.if_destroy(v) {
                    Ok(()) | Err(crate::errno::Errno::ENXIO) => {}
                    Err(e) => return Err(crate::error::Error::kernel(format!("destroy vlan {v}"), e).into()),
                }
            }
        }
        Ok(())
    }

    fn check<K: Kernel>(&self, k: &mut K) -> Result<(), CniError> {
        if !spec::version_at_least(&self.conf.cni_version, "0.4.0") {
            return Err(CniError::new(code::INCOMPATIBLE_VERSION, "CHECK needs cniVersion 0.4.0 or later"));
        }
        let prev = self
            .conf
            .prev_result
            .as_ref()
            .ok_or_else(|| CniError::new(code::INVALID_CONFIG, "CHECK needs the ADD's result as prevResult"))?;
        let prev: Previous = serde_json::from_value(prev.clone())
            .map_err(|e| CniError::new(code::DECODING_FAILURE, format!("prevResult is not a CNI result: {e}")))?;
        let jail = self.jail(k)?;
        let (container_id, ifname) = self.attachment();
        let index = index_of(ifname)?;
        let host_end = names::epair_name(&jail, index, End::A);
        let dir = record::dir(&k.state_dir());
        match record::at(&dir, &host_end)? {
            Some((_, r)) if r.is(&self.conf.name, container_id, ifname) => {}
            _ => {
                return Err(mismatch(format!(
                    "no attachment {ifname} of container {container_id} is recorded on {host_end}"
                )))
            }
        }
        check_host_end(k, &jail, index, &host_end, &self.conf.bridge)?;
        check_inside(k, &jail, ifname, &prev)?;
        match self.delegate() {
            Some(d) => d.run("CHECK", &[]).map(|_| ()),
            None => Ok(()),
        }
    }

    /// The configuration in the newest version the IPAM plugin speaks, if it does not speak
    /// this one (GC and STATUS are 1.1.0, and an IPAM plugin of 1.0.0 refuses 1.1.0
    /// configurations even for the DELs GC makes), and whether it speaks 1.1.0.
    fn for_ipam(&self, d: &ipam::Delegate<'_>) -> Result<(Option<Vec<u8>>, bool), CniError> {
        let theirs = d.versions()?;
        let v11 = theirs.iter().any(|v| v == "1.1.0");
        if theirs.contains(&self.conf.cni_version) {
            return Ok((None, v11));
        }
        let mut usable: Vec<&String> = theirs
            .iter()
            .filter(|v| spec::SUPPORTED.contains(&v.as_str()) && spec::version_at_least(&self.conf.cni_version, v))
            .collect();
        usable.sort_by(|a, b| spec::version_at_least(a, b).cmp(&spec::version_at_least(b, a)));
        let best = usable.last().ok_or_else(|| {
            CniError::new(
                code::INCOMPATIBLE_VERSION,
                format!("IPAM plugin {} speaks none of the versions up to {}", d.plugin, self.conf.cni_version),
            )
        })?;
        let mut v: Value = serde_json::from_slice(&self.raw).expect("parsed before");
        v["cniVersion"] = Value::String(best.to_string());
        Ok((Some(serde_json::to_vec(&v).expect("a configuration encodes")), v11))
    }

    /// Detach every attachment of the network the runtime does not list as valid: each as
    /// its DEL would, then the IPAM plugin's own GC where it has one.
    fn gc<K: Kernel>(&self, k: &mut K) -> Result<(), CniError> {
        let valid = self.conf.valid_attachments.clone().unwrap_or_default();
        let (older, ipam_gc) = match self.delegate() {
            Some(d) => self.for_ipam(&d)?,
            None => (None, false),
        };
        let delegate = self.delegate().map(|d| ipam::Delegate { config: older.as_deref().unwrap_or(d.config), ..d });
        let dir = record::dir(&k.state_dir());
        let mut first: Option<CniError> = None;
        for (path, r) in record::all(&dir, &self.conf.name)? {
            if valid.iter().any(|v| v.container_id == r.container_id && v.ifname == r.ifname) {
                continue;
            }
            let env = [
                ("CNI_CONTAINERID", r.container_id.as_str()),
                ("CNI_IFNAME", r.ifname.as_str()),
                ("CNI_NETNS", r.jail.as_str()),
            ];
            if let Err(e) = release(k, Some(&(path.clone(), r.clone())), delegate, &env) {
                first.get_or_insert(e);
            }
        }
        if let (Some(d), true, None) = (self.delegate(), ipam_gc, &first) {
            d.run("GC", &[])?;
        }
        first.map_or(Ok(()), Err)?;
        self.prune(k)
    }

    /// Ready when the kernel answers, the records can be trusted and the IPAM plugin (if it
    /// speaks 1.1.0) says it is ready.
    fn status<K: Kernel>(&self, k: &mut K) -> Result<(), CniError> {
        let not = |why: String| CniError::new(code::NOT_AVAILABLE, why);
        k.if_list().map_err(|e| not(format!("the kernel does not list interfaces: {e}")))?;
        crate::hoststate::check_dir(&record::dir(&k.state_dir())).map_err(|e| not(e.message))?;
        if let Some(d) = self.delegate() {
            if self.for_ipam(&d)?.1 {
                d.run("STATUS", &[])?;
            }
        }
        Ok(())
    }
}

/// Destroy a recorded attachment's epair, release its addresses (whether or not there was a
/// record: a failed ADD may have taken some), and forget it; every step is tried, and the
/// record goes only when both succeeded, so a failed DEL can be repeated.
fn release<K: Kernel>(
    k: &mut K,
    found: Option<&(std::path::PathBuf, Record)>,
    ipam: Option<ipam::Delegate<'_>>,
    env: &[(&str, &str)],
) -> Result<(), CniError> {
    let mut errs: Vec<CniError> = vec![];
    if let Some((_, r)) = found {
        if let Err(e) = crate::release::release_epair(k, &r.jail, r.index) {
            errs.push(e.into());
        }
    }
    if let Some(d) = ipam {
        if let Err(e) = d.run("DEL", env) {
            errs.push(e);
        }
    }
    let mut errs = errs.into_iter();
    match (errs.next(), found) {
        (None, Some((path, _))) => record::remove(path),
        (None, None) => Ok(()),
        (Some(mut e), _) => {
            let rest: Vec<String> = errs.map(|x| x.msg).collect();
            if !rest.is_empty() {
                e.details = format!("also: {}", rest.join("; "));
            }
            Err(e)
        }
    }
}

/// The parts of a previous result CHECK compares.
#[derive(serde::Deserialize)]
struct Previous {
    #[serde(default)]
    interfaces: Vec<InterfaceConfig>,
    #[serde(default)]
    ips: Vec<IpConfig>,
    #[serde(default)]
    routes: Vec<RouteConfig>,
}

fn mismatch(msg: String) -> CniError {
    CniError::new(code::JNET_BASE + crate::error::sysexits::CONFIG as u32, msg)
}

/// The host end is jnet's for this jail and index, by the kernel's marks, and on the bridge.
fn check_host_end<K: Kernel>(k: &mut K, jail: &str, index: u32, host_end: &str, bridge: &str) -> Result<(), CniError> {
    let want = Tag::jail(jail, Role::EpairHost(index));
    let mark = crate::inventory::host_mark(k, host_end)?;
    if mark.as_ref().and_then(|m| m.owned()) != Some(&want) {
        return Err(mismatch(format!("{host_end} is not jnet's epair {index} of jail {jail} on the host")));
    }
    let members = crate::plan::bridge_state(k, bridge)?.unwrap_or_default();
    if !members.iter().any(|m| m == host_end) {
        return Err(mismatch(format!("{host_end} is not a member of bridge {bridge}")));
    }
    Ok(())
}

/// Inside the jail: the interface, its MAC, its addresses and the default routes of the
/// previous result. What is read there is the jail's word, only compared, never acted on.
fn check_inside<K: Kernel>(k: &mut K, jail: &str, ifname: &str, prev: &Previous) -> Result<(), CniError> {
    let info = k.jail(&JailRef::Name(jail.into())).step(|| format!("look up jail {jail}"))?;
    let jid = info
        .filter(|i| !i.dying)
        .map(|i| i.jid)
        .ok_or_else(|| CniError::new(code::UNKNOWN_CONTAINER, format!("jail {jail} does not run")))?;
    let dsts: Vec<Cidr> = prev.routes.iter().map(|r| spec::route_dst(&r.dst)).collect::<Result<_, _>>()?;
    let (list, gws): (Vec<IfInfo>, Vec<Option<Gateway>>) = k.in_jail(jid, |k| {
        let list = k.if_list().step(|| "list interfaces".into())?;
        let gws =
            dsts.iter().map(|d| k.route(*d).step(|| format!("read the route to {d}"))).collect::<Result<_, _>>()?;
        Ok((list, gws))
    })?;
    let Some(i) = list.iter().find(|i| i.name == ifname) else {
        return Err(mismatch(format!("jail {jail} has no interface {ifname}")));
    };
    // Every ADD result names the jail's interface with its sandbox: a prevResult without it
    // is not this plugin's result for this attachment.
    let Some(sandbox) = prev.interfaces.iter().position(|p| p.name == ifname && p.sandbox.is_some()) else {
        return Err(CniError::new(
            code::INVALID_CONFIG,
            format!("prevResult has no interface {ifname} with a sandbox: it is not jnet-cni's ADD result for it"),
        ));
    };
    let have = i.mac.map(|m| m.to_string());
    if let Some(want) = prev.interfaces[sandbox].mac.as_ref().filter(|m| Some(*m) != have.as_ref()) {
        return Err(mismatch(format!("{ifname} in jail {jail} has MAC {}, not {want}", have.unwrap_or_default())));
    }
    for ip in prev.ips.iter().filter(|ip| ip.interface.is_none_or(|x| x == sandbox)) {
        let c: Cidr =
            ip.address.parse().map_err(|e: crate::error::Error| CniError::new(code::DECODING_FAILURE, e.message))?;
        if !i.addrs.contains(&c) {
            return Err(mismatch(format!("{ifname} in jail {jail} lacks {c}")));
        }
    }
    for (r, have) in prev.routes.iter().zip(gws) {
        if let Some(want) = r.gw.filter(|w| have.map(|h| h.addr) != Some(*w)) {
            let now = have.map_or("none".to_string(), |g| g.to_string());
            return Err(mismatch(format!("jail {jail}'s route to {} is via {now}, not {want}", r.dst)));
        }
    }
    Ok(())
}

/// The program: read the request, run it, print the result or the error object; the exit
/// status.
pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--version") => {
            println!("jnet-cni {}", env!("CARGO_PKG_VERSION"));
            return 0;
        }
        Some("--help") => {
            print!("{USAGE}");
            return 0;
        }
        Some(a) => {
            eprintln!("jnet-cni: unexpected argument {}\n{USAGE}", crate::cli::escape_text(a));
            return crate::error::sysexits::USAGE;
        }
        None => {}
    }
    crate::cli::init_logging("jnet-cni", &crate::cli::Common::default());
    let Some(command) = env("CNI_COMMAND") else {
        eprint!("jnet-cni: CNI_COMMAND is not set: a container runtime runs this plugin\n{USAGE}");
        return crate::error::sysexits::USAGE;
    };
    let (version, r) = serve(&command);
    let mut out = std::io::stdout().lock();
    match r {
        Ok(Some(v)) => {
            let _ = writeln!(out, "{v}");
            0
        }
        Ok(None) => 0,
        Err(e) => {
            let _ = writeln!(out, "{}", e.to_json(&version));
            crate::cli::syslog_line(log::Level::Error, &crate::cli::escape_text(&e.msg));
            e.exit_code()
        }
    }
}

use std::io::{Read, Write};

/// One request: its version (for the error object) and its outcome.
fn serve(command: &str) -> (String, Result<Option<Value>, CniError>) {
    let command = match Command::parse(command) {
        Ok(c) => c,
        Err(e) => return (spec::CURRENT.into(), Err(e)),
    };
    if command == Command::Version {
        return (spec::CURRENT.into(), Ok(Some(spec::version_json())));
    }
    let mut stdin = vec![];
    if let Err(e) = std::io::stdin().read_to_end(&mut stdin) {
        return (spec::CURRENT.into(), Err(CniError::new(code::IO_FAILURE, format!("read stdin: {e}"))));
    }
    // Errors are in the configuration's version when it has one jnet-cni speaks.
    let version = serde_json::from_slice::<Value>(&stdin)
        .ok()
        .and_then(|v| v["cniVersion"].as_str().map(str::to_string))
        .filter(|v| spec::SUPPORTED.contains(&v.as_str()))
        .unwrap_or_else(|| spec::CURRENT.into());
    let r = Request::read(command, stdin)
        .and_then(|req| crate::cli::on_kernel("jnet-cni", req).map_err(CniError::from).and_then(|x| x));
    (version, r)
}

const USAGE: &str = "Usage: jnet-cni (run by a container runtime: CNI_COMMAND=ADD|DEL|CHECK|VERSION|GC|STATUS,
CNI_CONTAINERID, CNI_NETNS=JAIL, CNI_IFNAME, CNI_PATH in the environment, the network
configuration on stdin; see jnet-cni(8))

Options:
  --version         print the version
  --help            display usage information
";

#[cfg(test)]
mod tests {
    use super::*;

    fn request(conf: Value) -> Request {
        let raw = serde_json::to_vec(&conf).unwrap();
        Request {
            command: Command::Add,
            container_id: Some("c1".into()),
            netns: Some("c1".into()),
            ifname: Some("eth0".into()),
            cni_path: String::new(),
            conf: serde_json::from_value(conf).unwrap(),
            raw,
        }
    }

    fn ipam(v: Value) -> IpamResult {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn addressing_from_the_configuration_and_the_ipam_result() {
        let r = request(serde_json::json!({
            "cniVersion": "1.0.0", "name": "n", "type": "jnet-cni",
            "isDefaultGateway": true, "bridgeAddr": ["10.0.0.1/24"]
        }));
        let res = ipam(serde_json::json!({
            "ips": [{ "address": "10.0.0.5/24", "gateway": "10.0.0.1" }, { "address": "2001:db8::5/64", "gateway": "2001:db8::1" }],
            "routes": [{ "dst": "::/0", "gw": "2001:db8::fe" }, { "dst": "192.0.2.0/24" }]
        }));
        let a = r.addressing(&res).unwrap();
        // The bridge gets each gateway once, with its network's prefix length.
        let b: Vec<String> = a.bridge_addrs.iter().map(|c| c.to_string()).collect();
        assert_eq!(b, ["10.0.0.1/24", "2001:db8::1/64"]);
        // IPAM's own IPv6 default route wins; isDefaultGateway adds only IPv4's.
        assert_eq!(r.routes_where(&a, true), ["2001:db8::fe", "10.0.0.1"]);
        assert_eq!(r.routes_where(&a, false), ["192.0.2.0/24,10.0.0.1"]);
        // A link-local gateway goes through the container's interface.
        let ll = ipam(serde_json::json!({
            "ips": [{ "address": "2001:db8::5/64" }],
            "routes": [{ "dst": "::/0", "gw": "fe80::1" }, { "dst": "2001:db8:7::/48", "gw": "fe80::7" }]
        }));
        let a = r.addressing(&ll).unwrap();
        assert_eq!(r.routes_where(&a, true), ["fe80::1%eth0"]);
        assert_eq!(r.routes_where(&a, false), ["2001:db8:7::/48,fe80::7%eth0"]);
        // A route with no gw and no gateway of its family to go through.
        let res =
            ipam(serde_json::json!({ "ips": [{ "address": "10.0.0.5/24" }], "routes": [{ "dst": "0.0.0.0/0" }] }));
        assert_eq!(r.addressing(&res).unwrap_err().code, code::INVALID_CONFIG);
        let res = ipam(serde_json::json!({ "ips": [{ "address": "10.0.0.5/24", "gateway": "2001:db8::1" }] }));
        assert_eq!(r.addressing(&res).unwrap_err().code, code::DECODING_FAILURE);
    }

    #[test]
    fn interface_names_choose_the_index() {
        assert_eq!(index_of("eth0").unwrap(), 0);
        assert_eq!(index_of("net12").unwrap(), 12);
        assert_eq!(index_of("vnet").unwrap(), 0);
        assert_eq!(index_of("eth100").unwrap_err().code, code::INVALID_ENV);
    }
}
