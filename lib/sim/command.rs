//! The `jnet-sim` command: build and drive the simulated host as jail(8) and an
//! administrator would.

use super::host::Host;
use super::{now_ms, show, SimFiles, ENV};
use crate::errno::Errno;
use crate::error::{Error, Kind, Result};
use crate::kernel::Cidr;
use crate::names;
use argh::FromArgs;
use std::path::PathBuf;

#[derive(FromArgs, Debug)]
/// Drive the simulated FreeBSD host that the jnet programs use when JNET_SIM is set.
pub struct SimArgs {
    /// state file (default: $JNET_SIM)
    #[argh(option)]
    pub state: Option<PathBuf>,
    #[argh(subcommand)]
    cmd: SimCmd,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum SimCmd {
    Init(InitArgs),
    Jail(JailArgs),
    Show(ShowArgs),
    Fail(FailArgs),
    Dup(DupArgs),
    Ra(RaArgs),
    Ops(OpsArgs),
    Ifconfig(IfconfigArgs),
    Sysctl(SysctlArgs),
}

#[derive(FromArgs, Debug)]
/// Read or set an integer sysctl of the host, e.g. net.link.bridge.member_ifaddrs=0 to
/// behave as FreeBSD 15.0 does.
#[argh(subcommand, name = "sysctl")]
struct SysctlArgs {
    /// NAME or NAME=VALUE
    #[argh(positional)]
    setting: String,
}

#[derive(FromArgs, Debug)]
/// Act as root with ifconfig(8), on the host or with -j inside a jail's vnet: to play the
/// administrator or a jail's root. IF name NEW | IF description TEXT | IF -description |
/// IF group G | IF -group G | IF ether MAC | IF mtu N | IF vlanmtu | IF -vlanmtu | IF up |
/// IF down | IF destroy | IF inet|inet6 ADDR/LEN | BRIDGE addm|deletem IF | CLONER create
/// (epair, vlan, bridge; prints the new name).
#[argh(subcommand, name = "ifconfig")]
struct IfconfigArgs {
    /// the jail whose vnet to act in (name or jid)
    #[argh(option, short = 'j')]
    jail: Option<String>,
    /// the interface (or cloner) and what to do to it
    #[argh(positional, greedy)]
    words: Vec<String>,
}

/// One `ifconfig` command line against the kernel `k`, in the vnet `k` is in.
fn ifconfig<K: crate::kernel::Kernel>(k: &mut K, words: &[String], on_host: bool) -> Result<String> {
    use crate::error::KernelContext;
    use crate::kernel::iff;
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let usage = || {
        Error::usage(format!(
            "ifconfig {}: expected IF name NEW, IF description TEXT, IF -description, IF group G, IF -group G, \
             IF ether MAC, IF mtu N, IF vlanmtu, IF -vlanmtu, IF up, IF down, IF destroy, IF inet|inet6 ADDR/LEN, \
             BRIDGE addm|deletem IF, \
             or CLONER create",
            w.join(" ")
        ))
    };
    let (ifn, verb, rest) = match w.as_slice() {
        [i, v, rest @ ..] => (*i, *v, rest),
        _ => return Err(usage()),
    };
    let what = || format!("ifconfig {}", w.join(" "));
    match (verb, rest) {
        ("create", []) => {
            // ifconfig loads if_<cloner> first; inside a jail that is not allowed, and the
            // host's module serves every vnet.
            // NIC.TAG is if_vlan's.
            let base = if ifn.contains('.') { "vlan" } else { ifn.trim_end_matches(|c: char| c.is_ascii_digit()) };
            if on_host {
                let _ = k.kld_load(&format!("if_{base}"));
            }
            let name = k.if_create(ifn).step(what)?;
            return Ok(format!("{name}\n"));
        }
        ("name", [new]) => k.if_rename(ifn, new).step(what)?,
        ("description", text) if !text.is_empty() => k.if_set_description(ifn, Some(&text.join(" "))).step(what)?,
        ("-description", []) => k.if_set_description(ifn, None).step(what)?,
        ("group", [g]) => k.if_add_group(ifn, g).step(what)?,
        ("-group", [g]) => k.if_del_group(ifn, g).step(what)?,
        ("ether", [m]) => k.if_set_mac(ifn, m.parse()?).step(what)?,
        ("mtu", [n]) => {
            let mtu: u32 = n.parse().map_err(|_| Error::usage(format!("mtu {n:?} is not a number")))?;
            k.if_set_mtu(ifn, mtu).step(what)?
        }
        ("vlanmtu", []) | ("-vlanmtu", []) => {
            let c = k.if_capenable(ifn).step(what)?;
            let vlan_mtu = crate::sim::host::IFCAP_VLAN_MTU;
            let c = if verb == "vlanmtu" { c | vlan_mtu } else { c & !vlan_mtu };
            k.if_set_capenable(ifn, c).step(what)?
        }
        ("up", []) | ("down", []) => {
            let f = k.if_flags(ifn).step(what)?;
            let f = if verb == "up" { f | iff::UP } else { f & !iff::UP };
            k.if_set_flags(ifn, f).step(what)?
        }
        ("destroy", []) => k.if_destroy(ifn).step(what)?,
        ("addm", [m]) => k.bridge_add(ifn, m).step(what)?,
        ("deletem", [m]) => k.bridge_del(ifn, m).step(what)?,
        ("inet" | "inet6", [a] | [a, "alias"]) => {
            let c: Cidr = a.parse()?;
            if c.addr.is_ipv6() != (verb == "inet6") {
                return Err(Error::usage(format!("{a} is not an {verb} address")));
            }
            k.if_add_addr(ifn, c, 0).step(what)?
        }
        _ => return Err(usage()),
    }
    Ok(String::new())
}

#[derive(FromArgs, Debug)]
/// Make a fresh host: lo0 plus the given Ethernet NICs, up, with IPv6 enabled.
#[argh(subcommand, name = "init")]
struct InitArgs {
    /// comma-separated physical NICs to create (e.g. igb0,igb1)
    #[argh(option, default = "String::new()")]
    phys: String,
    /// IPv6 DAD probe interval (the ND retrans timer) in ms; DAD takes dad_count times this
    #[argh(option, default = "1000")]
    dad_ms: u32,
    /// netgraph shutdowns and vnet teardowns complete this many ms after they are asked for,
    /// as FreeBSD queues them (default 0: at once)
    #[argh(option, default = "0")]
    async_ms: u64,
    /// the host's kern.hostuuid (default: a new random one)
    #[argh(option)]
    hostuuid: Option<String>,
    /// a lagg over some of the NICs, as NAME:PROTO:PORT,PORT (e.g. lagg0:failover:igb0,igb1)
    #[argh(option)]
    lagg: Vec<String>,
}

#[derive(FromArgs, Debug)]
/// Create or remove a jail, as jail -c and jail -r do.
#[argh(subcommand, name = "jail")]
struct JailArgs {
    #[argh(subcommand)]
    cmd: JailCmd,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum JailCmd {
    Create(JailCreateArgs),
    Remove(JailRemoveArgs),
    Start(JailStartArgs),
    Stop(JailStopArgs),
    Trap(JailTrapArgs),
}

#[derive(FromArgs, Debug)]
/// Play a hostile jail root: what happens to a process that enters the jail (a jnet step
/// inside it). stop: it is stopped and never finishes; kill: it is killed; none: left alone.
#[argh(subcommand, name = "trap")]
struct JailTrapArgs {
    /// jail name or jid
    #[argh(positional)]
    name: String,
    /// stop, kill or none
    #[argh(positional)]
    what: String,
}

#[derive(FromArgs, Debug)]
/// Start a jail as jail(8) would from a jail.conf: its hooks run, jnet's for real.
#[argh(subcommand, name = "start")]
struct JailStartArgs {
    /// jail name (none: every jail of the file, as jail -c does)
    #[argh(positional)]
    name: Option<String>,
    /// the jail.conf to read
    #[argh(option, short = 'f')]
    file: PathBuf,
    /// where the jnet programs are installed on the host the file is for
    #[argh(option, default = "String::from(\"/usr/local/sbin\")")]
    prefix: String,
}

#[derive(FromArgs, Debug)]
/// Stop a jail as jail(8) would from a jail.conf.
#[argh(subcommand, name = "stop")]
struct JailStopArgs {
    /// jail name (none: every running jail of the file, as jail -r does)
    #[argh(positional)]
    name: Option<String>,
    /// the jail.conf to read
    #[argh(option, short = 'f')]
    file: PathBuf,
    /// seconds the removed jail keeps its vnet
    #[argh(option, default = "0.0")]
    linger: f64,
    /// where the jnet programs are installed on the host the file is for
    #[argh(option, default = "String::from(\"/usr/local/sbin\")")]
    prefix: String,
}

fn read_conf(path: &std::path::Path) -> Result<super::jailconf::JailConf> {
    // The file itself unreadable is an I/O error (74); what it says, or includes, data (65).
    std::fs::metadata(path).map_err(|e| Error::new(Kind::Io, format!("{}: {e}", path.display())))?;
    super::jailconf::read(path).map_err(|e| Error::data(e.0))
}

#[derive(FromArgs, Debug)]
/// Create a jail and print its jid.
#[argh(subcommand, name = "create")]
struct JailCreateArgs {
    /// jail name
    #[argh(positional)]
    name: String,
    /// give the jail its own vnet
    #[argh(switch)]
    vnet: bool,
    /// move this host interface into the jail (vnet.interface)
    #[argh(option)]
    interface: Vec<String>,
    /// ip4.addr as IF|ADDR/LEN: the address goes on host NIC IF (IP-sharing jails)
    #[argh(option)]
    ip4: Vec<String>,
    /// ip6.addr as IF|ADDR/LEN: the address goes on host NIC IF and starts DAD
    #[argh(option)]
    ip6: Vec<String>,
}

#[derive(FromArgs, Debug)]
/// Remove a jail; its vnet and the NICs in it go home only after --linger seconds.
#[argh(subcommand, name = "remove")]
struct JailRemoveArgs {
    /// jail name or jid
    #[argh(positional)]
    name: String,
    /// seconds the dying jail keeps its vnet (as TIME_WAIT sockets would)
    #[argh(option, default = "0.0")]
    linger: f64,
    /// the lingering vnet is already shutting down: nothing can be reclaimed from it
    #[argh(switch)]
    stuck: bool,
}

#[derive(FromArgs, Debug)]
/// Show every vnet's interfaces and the netgraph nodes.
#[argh(subcommand, name = "show")]
struct ShowArgs {
    /// print the documented JSON instead of text
    #[argh(switch)]
    json: bool,
}

#[derive(FromArgs, Debug)]
/// Make the operation after N succeeding ones fail.
#[argh(subcommand, name = "fail")]
struct FailArgs {
    /// operations that still succeed first
    #[argh(option)]
    after: u64,
    /// errno of the failure, by name or number (default EIO)
    #[argh(option, default = "String::from(\"EIO\")")]
    errno: String,
    /// kill the process that makes that operation (SIGKILL) instead: a crash mid-run
    #[argh(switch)]
    kill: bool,
    /// how many operations in a row fail (default 1)
    #[argh(option, default = "1")]
    times: u32,
}

#[derive(FromArgs, Debug)]
/// Another host on the link claims this IPv6 address: its DAD fails.
#[argh(subcommand, name = "dup")]
struct DupArgs {
    /// the IPv6 address
    #[argh(positional)]
    addr: String,
}

#[derive(FromArgs, Debug)]
/// A router advertisement sent out of a host interface, as rtadvd(8) on the host sends
/// one: the interfaces on its link that accept advertisements autoconfigure an address in
/// the prefix (SLAAC) and take the sender as their default router.
#[argh(subcommand, name = "ra")]
struct RaArgs {
    /// the host interface it goes out of (a bridge, or an epair end)
    #[argh(positional)]
    iface: String,
    /// the advertised prefix, PREFIX/64
    #[argh(positional)]
    prefix: String,
    /// its source, a link-local address (default: the interface's own)
    #[argh(option)]
    router: Option<String>,
    /// router lifetime in seconds; 0 advertises no default router (default 1800)
    #[argh(option, default = "1800")]
    lifetime: u32,
}

#[derive(FromArgs, Debug)]
/// Print the operation log.
#[argh(subcommand, name = "ops")]
struct OpsArgs {
    /// print JSON lines
    #[argh(switch)]
    json: bool,
    /// empty the log afterwards
    #[argh(switch)]
    clear: bool,
    /// print only the number of operations
    #[argh(switch)]
    count: bool,
}

fn random_uuid() -> String {
    let mut h = crate::mac::Fnv64::new();
    h.write(&now_ms().to_le_bytes());
    h.write(&std::process::id().to_le_bytes());
    let a = crate::mac::mix64(h.finish());
    let b = crate::mac::mix64(a ^ 0x9e37_79b9_7f4a_7c15);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

fn parse_jail_ip(s: &str, v6: bool) -> Result<(String, Cidr)> {
    let (ifname, cidr) = s
        .split_once('|')
        .ok_or_else(|| Error::usage(format!("{s:?}: expected IF|ADDR/LEN, e.g. igb0|192.0.2.5/24")))?;
    names::check_ifname("interface", ifname)?;
    let cidr: Cidr = cidr.parse()?;
    if cidr.addr.is_ipv6() != v6 {
        return Err(Error::usage(format!("{s:?}: not an IPv{} address", if v6 { 6 } else { 4 })));
    }
    Ok((ifname.to_string(), cidr))
}

/// Run `jnet-sim`; returns what to print on stdout.
pub fn run(args: SimArgs) -> Result<String> {
    let state = match args.state.or_else(|| std::env::var_os(ENV).map(PathBuf::from)) {
        Some(p) => p,
        None => return Err(Error::usage(format!("no state file: set {ENV} or pass --state FILE"))),
    };
    let files = SimFiles::new(&state);
    if !matches!(args.cmd, SimCmd::Init(_)) {
        files.require()?;
    }
    match args.cmd {
        SimCmd::Init(a) => {
            let phys: Vec<String> = a.phys.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect();
            for p in &phys {
                names::check_ifname("NIC", p)?;
                if p == "lo0" || phys.iter().filter(|q| *q == p).count() > 1 {
                    return Err(Error::usage(format!("NIC {p:?} is given twice or clashes with lo0")));
                }
            }
            if a.dad_ms == 0 {
                return Err(Error::usage("--dad-ms must be at least 1"));
            }
            let _lock = files.lock()?;
            let mut host = Host::new(a.hostuuid.unwrap_or_else(random_uuid), &phys, a.dad_ms);
            host.ng_async_ms = a.async_ms;
            for l in &a.lagg {
                let parts: Vec<&str> = l.splitn(3, ':').collect();
                let [name, proto, ports] = parts[..] else {
                    return Err(Error::usage(format!("--lagg {l:?}: expected NAME:PROTO:PORT,PORT")));
                };
                names::check_ifname("lagg", name)?;
                let proto = crate::freebsd::abi::lagg::parse(proto).ok_or_else(|| {
                    Error::usage(format!(
                        "--lagg {l:?}: unknown protocol {proto:?} (failover, lacp, loadbalance, roundrobin, broadcast, none)"
                    ))
                })?;
                let ports: Vec<String> = ports.split(',').filter(|p| !p.is_empty()).map(str::to_string).collect();
                host.add_lagg(name, proto, &ports)
                    .map_err(|e| Error::usage(format!("--lagg {l:?}: {e} (the ports must be --phys NICs)")))?;
            }
            let host = host;
            files.save(&host)?;
            std::fs::write(&files.ops, b"")
                .map_err(|e| Error::new(Kind::Io, format!("{}: {e}", files.ops.display())))?;
            // A fresh host has an empty /var/run.
            match std::fs::remove_dir_all(&files.run) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::new(Kind::Io, format!("{}: {e}", files.run.display()))),
            }
            Ok(String::new())
        }
        SimCmd::Jail(JailArgs { cmd: JailCmd::Create(a) }) => {
            names::check_jail_name(&a.name)?;
            if a.name.bytes().all(|c| c.is_ascii_digit()) {
                return Err(Error::usage(format!(
                    "jail name {:?} is a number; jail(8) reserves numbers for jids",
                    a.name
                )));
            }
            let mut ips = vec![];
            for s in &a.ip4 {
                ips.push(parse_jail_ip(s, false)?);
            }
            for s in &a.ip6 {
                ips.push(parse_jail_ip(s, true)?);
            }
            if a.vnet && !ips.is_empty() {
                return Err(Error::usage(
                    "--ip4/--ip6 are for IP-sharing jails; a VNET jail configures its own addresses",
                ));
            }
            if !a.vnet && !a.interface.is_empty() {
                return Err(Error::usage("--interface needs --vnet"));
            }
            files.edit(|host, now| {
                for ifname in &a.interface {
                    if host.find(None, ifname).is_none() {
                        return Err(Error::new(
                            Kind::Data,
                            format!("jail: vnet.interface {ifname}: no such interface on the host"),
                        ));
                    }
                }
                for (ifname, _) in &ips {
                    if host.find(None, ifname).is_none() {
                        return Err(Error::new(Kind::Data, format!("jail: {ifname}: no such interface on the host")));
                    }
                }
                let jid = host
                    .create_jail(&a.name, a.vnet)
                    .map_err(|e| Error::kernel(format!("jail -c name={}", a.name), e))?;
                for ifname in &a.interface {
                    host.move_to_jail(None, ifname, jid)
                        .map_err(|e| Error::kernel(format!("jail: ifconfig {ifname} vnet {jid}"), e))?;
                }
                for (ifname, cidr) in &ips {
                    host.add_addr(None, ifname, *cidr, 0, now)
                        .map_err(|e| Error::kernel(format!("jail: add {cidr} to {ifname}"), e))?;
                }
                if let Some(j) = host.jails.iter_mut().find(|j| j.jid == jid) {
                    j.ips = ips;
                }
                Ok(format!("{jid}\n"))
            })
        }
        SimCmd::Jail(JailArgs { cmd: JailCmd::Remove(a) }) => {
            if !(a.linger >= 0.0 && a.linger.is_finite()) {
                return Err(Error::usage("--linger must be a number of seconds >= 0"));
            }
            let which = crate::kernel::JailRef::parse(&a.name)?;
            files.edit(|host, now| {
                let jid = match which {
                    crate::kernel::JailRef::Jid(j) => host.jail_by_jid(j).map(|j| j.jid),
                    crate::kernel::JailRef::Name(n) => host.jail_by_name(&n).map(|j| j.jid),
                };
                let jid = jid.ok_or_else(|| Error::new(Kind::NoJail, format!("jail {:?} not found", a.name)))?;
                host.remove_jail(jid, (a.linger * 1000.0) as u64, a.stuck, now)
                    .map_err(|_| Error::new(Kind::NoJail, format!("jail {:?} is not running", a.name)))?;
                Ok(String::new())
            })
        }
        SimCmd::Jail(JailArgs { cmd: JailCmd::Trap(a) }) => {
            let trap = match a.what.as_str() {
                "stop" => Some(super::host::Trap::Stop),
                "kill" => Some(super::host::Trap::Kill),
                "none" => None,
                w => return Err(Error::usage(format!("trap {w:?}: expected stop, kill or none"))),
            };
            let which = crate::kernel::JailRef::parse(&a.name)?;
            files.edit(|host, _| {
                let jid = match which {
                    crate::kernel::JailRef::Jid(j) => host.jail_by_jid(j).map(|j| j.jid),
                    crate::kernel::JailRef::Name(n) => host.jail_by_name(&n).map(|j| j.jid),
                };
                let j = host
                    .jails
                    .iter_mut()
                    .find(|j| Some(j.jid) == jid && j.state == super::host::JailState::Alive)
                    .ok_or_else(|| Error::new(Kind::NoJail, format!("jail {:?} is not running", a.name)))?;
                j.trap = trap;
                Ok(String::new())
            })
        }
        SimCmd::Jail(JailArgs { cmd: JailCmd::Start(a) }) => {
            let conf = read_conf(&a.file)?;
            let mut out = String::new();
            let emu = super::jail8::Emulation { prefix: a.prefix };
            let started = match &a.name {
                Some(n) => emu.start(&files, &conf, n, &mut out).map(|_| ()),
                None => emu.start_all(&files, &conf, &mut out),
            };
            match started {
                Ok(()) => Ok(out),
                Err(e) => {
                    print!("{out}");
                    Err(e)
                }
            }
        }
        SimCmd::Jail(JailArgs { cmd: JailCmd::Stop(a) }) => {
            if !(a.linger >= 0.0 && a.linger.is_finite()) {
                return Err(Error::usage("--linger must be a number of seconds >= 0"));
            }
            let conf = read_conf(&a.file)?;
            let mut out = String::new();
            let emu = super::jail8::Emulation { prefix: a.prefix };
            let linger = (a.linger * 1000.0) as u64;
            let stopped = match &a.name {
                Some(n) => emu.stop(&files, &conf, n, linger, &mut out),
                None => emu.stop_all(&files, &conf, linger, &mut out),
            };
            match stopped {
                Ok(()) => Ok(out),
                Err(e) => {
                    print!("{out}");
                    Err(e)
                }
            }
        }
        SimCmd::Show(a) => files.edit(|host, _| {
            Ok(if a.json {
                let mut s = serde_json::to_string_pretty(&show::to_json(host))
                    .map_err(|e| Error::new(Kind::Internal, e.to_string()))?;
                s.push('\n');
                s
            } else {
                show::to_text(host)
            })
        }),
        SimCmd::Fail(a) => {
            let errno = Errno::parse(&a.errno).ok_or_else(|| Error::usage(format!("unknown errno {:?}", a.errno)))?;
            files.edit(|host, _| {
                host.fail = Some(super::host::FailSpec { after: a.after, errno, kill: a.kill, times: a.times });
                Ok(String::new())
            })
        }
        SimCmd::Ifconfig(a) => {
            use crate::kernel::{JailRef, Jails, Vnets};
            let mut k = super::Sim::open(&state)?;
            match &a.jail {
                None => ifconfig(&mut k, &a.words, true),
                Some(j) => {
                    let which = JailRef::parse(j)?;
                    let info = k
                        .jail(&which)
                        .map_err(|e| Error::kernel(format!("look up jail {which}"), e))?
                        .ok_or_else(|| Error::new(Kind::NoJail, format!("jail {which} not found")))?;
                    let words = a.words.clone();
                    k.in_jail(info.jid, move |k| ifconfig(k, &words, false))
                }
            }
        }
        SimCmd::Sysctl(a) => files.edit(|host, _| match a.setting.split_once('=') {
            Some((name, v)) => {
                let v: i64 = v.parse().map_err(|_| Error::usage(format!("{v:?} is not an integer")))?;
                host.sysctls.insert(name.to_string(), v);
                Ok(String::new())
            }
            None => match host.sysctls.get(&a.setting) {
                Some(v) => Ok(format!("{}: {v}\n", a.setting)),
                None => Err(Error::new(Kind::Data, format!("unknown oid '{}'", a.setting))),
            },
        }),
        SimCmd::Dup(a) => {
            let addr: std::net::Ipv6Addr =
                a.addr.parse().map_err(|_| Error::usage(format!("{:?} is not an IPv6 address", a.addr)))?;
            files.edit(|host, _| {
                host.dups.insert(addr);
                Ok(String::new())
            })
        }
        SimCmd::Ra(a) => {
            let prefix = Cidr::parse_network(&a.prefix).map_err(|e| e.context("ra"))?;
            let router = match &a.router {
                None => None,
                Some(r) => Some(
                    r.parse::<std::net::Ipv6Addr>()
                        .map_err(|_| Error::usage(format!("--router {r:?} is not an IPv6 address")))?,
                ),
            };
            let ra = super::slaac::Advertisement { prefix, router, lifetime_s: a.lifetime };
            files.edit(|host, now| {
                let lines = host.router_advertisement(&a.iface, &ra, now).map_err(Error::data)?;
                Ok(lines.iter().map(|l| format!("{l}\n")).collect::<String>())
            })
        }
        SimCmd::Ops(a) => {
            let _lock = files.lock()?;
            let ops = files.ops()?;
            let mut out = String::new();
            if a.count {
                out = format!("{}\n", ops.len());
            } else {
                for o in &ops {
                    if a.json {
                        out.push_str(&serde_json::to_string(o).map_err(|e| Error::new(Kind::Internal, e.to_string()))?);
                        out.push('\n');
                    } else {
                        out.push_str(&format!("{} {} {} {} -> {}\n", o.pid, o.vnet, o.op, o.args, o.result));
                    }
                }
            }
            if a.clear {
                std::fs::write(&files.ops, b"")
                    .map_err(|e| Error::new(Kind::Io, format!("{}: {e}", files.ops.display())))?;
            }
            Ok(out)
        }
    }
}
