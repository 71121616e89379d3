//! jnet-ip6wait: wait until IPv6 duplicate address detection has finished, so daemons can
//! bind; fail at once on a duplicate, or on an interface that cannot finish DAD.
//!
//! DAD state is read with SIOCGIFAFLAG_IN6 in a short poll (20 ms), so the program exits
//! within one poll of the kernel clearing TENTATIVE. For a VNET jail the whole wait runs
//! inside one child attached to the jail.

use crate::cli::{Common, Output, Program};
use crate::errno::Errno;
use crate::error::{Error, KernelContext, Kind, Result};
use crate::kernel::{iff, in6f, nd6f, JailRef, Kernel};
use crate::names;
use argh::FromArgs;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// How often DAD state is read.
pub const POLL: Duration = Duration::from_millis(20);
/// MAX_RTR_SOLICITATION_DELAY: DAD may start up to 1 s after an interface comes up.
const UP_DELAY_MS: u64 = 1000;
/// Waiting for a router: rtsol(8) sends MAX_RTR_SOLICITATIONS (3) solicitations
/// RTR_SOLICITATION_INTERVAL (4 s) apart (sys/netinet6/nd6.h, RFC 4861 10), then DAD runs
/// on what the advertisement gave; 30 s covers both with room.
const ROUTER_WAIT_MS: u64 = 30_000;
/// Slack on top of the computed DAD time.
const MARGIN_MS: u64 = 1000;

crate::program_args! {
#[derive(FromArgs, Debug)]
/// Wait until IPv6 duplicate address detection has finished for the host, an IP-sharing
/// jail's ip6.addr, or a VNET jail's addresses. Run it from exec.created or exec.start.
pub struct Ip6WaitArgs {
    /// jail name or jid (none: the host)
    #[argh(positional)]
    pub jail: Option<String>,
    /// only addresses on this interface (repeatable)
    #[argh(option, short = 'i')]
    pub iface: Vec<String>,
    /// wait for this address, which must appear (repeatable)
    #[argh(option, short = 'a')]
    pub addr: Vec<String>,
    /// give up after this many seconds (default: from dad_count and the ND retrans timer;
    /// 30 with --autoconf or --router)
    #[argh(option, short = 't')]
    pub timeout: Option<f64>,
    /// also wait until this many global addresses were autoconfigured from router
    /// advertisements (SLAAC) and passed DAD
    #[argh(option)]
    pub autoconf: Option<u32>,
    /// also wait until an IPv6 default route exists (one a router advertisement gives)
    #[argh(switch)]
    pub router: bool,
}
dry_run = "print the plan and change nothing (jnet-ip6wait changes nothing anyway)";
}

/// What is waited for, after validation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WaitSpec {
    /// Only these interfaces (empty: all).
    pub ifaces: Vec<String>,
    /// Addresses that must appear and settle (empty: every address in scope).
    pub addrs: Vec<Ipv6Addr>,
    /// Give up after this long (None: derived).
    pub timeout_ms: Option<u64>,
    /// At least this many autoconfigured global addresses must be ready.
    #[serde(default)]
    pub autoconf: u32,
    /// An IPv6 default route must exist.
    #[serde(default)]
    pub router: bool,
}

/// The final state of one address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddrState {
    /// The address.
    pub addr: Ipv6Addr,
    /// Its interface (empty if it never appeared).
    pub iface: String,
    /// ready, tentative, duplicated, detached, deprecated, missing.
    pub state: String,
    /// How long it took to get there.
    pub waited_ms: u64,
    /// Autoconfigured from a router advertisement (IN6_IFF_AUTOCONF).
    #[serde(default)]
    pub autoconf: bool,
}

/// The outcome of a wait.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// Each address.
    pub addrs: Vec<AddrState>,
    /// The timeout used.
    pub timeout_ms: u64,
    /// Total time.
    pub waited_ms: u64,
}

impl Ip6WaitArgs {
    fn spec(&self) -> Result<WaitSpec> {
        for i in &self.iface {
            names::check_ifname("--iface", i)?;
        }
        let mut addrs = vec![];
        for a in &self.addr {
            let a = a.split('/').next().unwrap_or("");
            let v6: Ipv6Addr = a.parse().map_err(|_| Error::data(format!("--addr {a:?} is not an IPv6 address")))?;
            if addrs.contains(&v6) {
                return Err(Error::data(format!("--addr {v6} is given twice")));
            }
            addrs.push(v6);
        }
        if self.timeout == Some(0.0) {
            return Err(Error::data(
                "--timeout 0 would give up before DAD could finish: give seconds above 0 (at most 86400), \
                 or leave --timeout out to wait as long as dad_count and the ND timer need",
            ));
        }
        let timeout_ms = match self.timeout {
            None => None,
            Some(t) if t.is_finite() && t > 0.0 && t <= 86400.0 => Some((t * 1000.0) as u64),
            Some(t) => {
                return Err(Error::data(format!("--timeout {t} is not a number of seconds above 0 and at most 86400")))
            }
        };
        if self.autoconf == Some(0) {
            return Err(Error::data("--autoconf 0 waits for nothing: give the number of addresses, 1 or more"));
        }
        Ok(WaitSpec {
            ifaces: self.iface.clone(),
            addrs,
            timeout_ms,
            autoconf: self.autoconf.unwrap_or(0),
            router: self.router,
        })
    }
}

fn state_word(flags: u32) -> &'static str {
    if flags & in6f::DUPLICATED != 0 {
        "duplicated"
    } else if flags & in6f::TENTATIVE != 0 {
        "tentative"
    } else if flags & in6f::DETACHED != 0 {
        "detached"
    } else if flags & in6f::DEPRECATED != 0 {
        "deprecated"
    } else {
        "ready"
    }
}

/// What a step waiting inside a jail gets beyond its --timeout: entering the jail, and the
/// answer back.
const IN_JAIL_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

/// The wait itself, in the caller's vnet. `only` limits the scope to these addresses
/// (an IP-sharing jail's ip6.addr), on top of the spec's filters.
pub fn wait<K: Kernel>(k: &mut K, spec: &WaitSpec, only: Option<&[Ipv6Addr]>) -> Result<Report> {
    let start = Instant::now();
    let dad_count =
        k.sysctl_int("net.inet6.ip6.dad_count").step(|| "read net.inet6.ip6.dad_count".into())?.max(0) as u64;
    let mut timeout_ms = spec.timeout_ms;
    let mut done: std::collections::BTreeMap<Ipv6Addr, AddrState> = Default::default();
    loop {
        let elapsed = start.elapsed().as_millis() as u64;
        let list = k.if_list().step(|| "list interfaces".into())?;
        // (address, interface) pairs in scope.
        let mut scope: Vec<(Ipv6Addr, String, u32)> = vec![];
        for i in &list {
            if !spec.ifaces.is_empty() && !spec.ifaces.contains(&i.name) {
                continue;
            }
            for c in &i.addrs {
                let IpAddr::V6(a) = c.addr else { continue };
                // With --autoconf, addresses a router advertisement may have given are
                // looked at too (which they are is known from their flags, below).
                let named = spec.addrs.is_empty() || spec.addrs.contains(&a) || spec.autoconf > 0;
                let wanted = named && only.is_none_or(|o| o.contains(&a));
                if wanted && !scope.iter().any(|(x, n, _)| *x == a && *n == i.name) {
                    scope.push((a, i.name.clone(), i.flags));
                }
            }
        }
        for i in &spec.ifaces {
            if !list.iter().any(|l| &l.name == i) {
                return Err(Error::data(format!("--iface {i}: no such interface")));
            }
        }
        if timeout_ms.is_none() && (spec.autoconf > 0 || spec.router) {
            timeout_ms = Some(ROUTER_WAIT_MS);
        }
        if timeout_ms.is_none() {
            // netwait's rule: dad_count probes one retrans apart, the random delay after an
            // interface comes up, and a margin.
            let mut retrans = 1000u64;
            for (_, n, _) in &scope {
                if let Ok(nd6) = k.if_nd6(n) {
                    retrans = retrans.max(u64::from(nd6.retrans_ms));
                }
            }
            timeout_ms = Some(dad_count * retrans + UP_DELAY_MS + MARGIN_MS);
        }
        let limit = timeout_ms.expect("set above");
        let mut pending: Vec<AddrState> = vec![];
        for (a, n, flags) in &scope {
            if done.contains_key(a) {
                continue;
            }
            let f6 = match k.if_addr6_flags(n, *a) {
                Ok(f) => f,
                // Removed between the listing and now: look again next round.
                Err(Errno::EADDRNOTAVAIL) | Err(Errno::ENXIO) => continue,
                Err(e) => return Err(Error::kernel(format!("read the flags of {a} on {n}"), e)),
            };
            if !spec.addrs.is_empty() && !spec.addrs.contains(a) && f6 & in6f::AUTOCONF == 0 {
                continue;
            }
            let st = AddrState {
                addr: *a,
                iface: n.clone(),
                state: state_word(f6).into(),
                waited_ms: elapsed,
                autoconf: f6 & in6f::AUTOCONF != 0 && !crate::kernel::is_link_local(a),
            };
            if f6 & in6f::DUPLICATED != 0 {
                return Err(Error::new(
                    Kind::Conflict,
                    format!(
                        "{a} on {n} is DUPLICATED: duplicate address detection found another host on the link using it; \
                         change the address (or find that host) and restart the jail"
                    ),
                ));
            }
            if f6 & in6f::TENTATIVE != 0 {
                if flags & iff::UP == 0 {
                    return Err(Error::new(
                        Kind::Unavailable,
                        format!("{a} on {n} is tentative and {n} is down: DAD cannot finish until it is up"),
                    ));
                }
                let ndi = k.if_nd6(n).step(|| format!("read the IPv6 settings of {n}"))?;
                if ndi.flags & nd6f::IFDISABLED != 0 {
                    return Err(Error::new(
                        Kind::Unavailable,
                        format!("{a} on {n} is tentative and IPv6 is disabled on {n} (ifdisabled): DAD cannot finish"),
                    ));
                }
                pending.push(st);
                continue;
            }
            if st.state != "ready" {
                log::warn!("{a} on {n} is {}: not waited for", st.state);
            }
            done.insert(*a, st);
        }
        let missing: Vec<Ipv6Addr> =
            spec.addrs.iter().filter(|a| !scope.iter().any(|(x, _, _)| x == *a)).copied().collect();
        let autoconf_ready = done.values().filter(|d| d.autoconf && d.state == "ready").count();
        let autoconf_short = (spec.autoconf as usize).saturating_sub(autoconf_ready);
        let no_router = spec.router && k.default_route(true).step(|| "read the IPv6 default route".into())?.is_none();
        if pending.is_empty() && missing.is_empty() && autoconf_short == 0 && !no_router {
            return Ok(Report { addrs: done.into_values().collect(), timeout_ms: limit, waited_ms: elapsed });
        }
        if elapsed >= limit {
            let mut what: Vec<String> =
                pending.iter().map(|p| format!("{} on {} is still tentative", p.addr, p.iface)).collect();
            what.extend(missing.iter().map(|a| format!("{a} never appeared")));
            if autoconf_short > 0 {
                what.push(format!(
                    "{autoconf_ready} of {} autoconfigured addresses are ready (is a router advertising on the link, \
                     and does the interface accept its advertisements: --accept-rtadv, or inet6 accept_rtadv?)",
                    spec.autoconf
                ));
            }
            if no_router {
                what.push("no IPv6 default route (no router advertisement with a router lifetime came)".into());
            }
            return Err(Error::new(
                Kind::TempFail,
                format!("timed out after {:.1} s: {}", limit as f64 / 1000.0, what.join("; ")),
            ));
        }
        std::thread::sleep(POLL);
    }
}

impl Program for Ip6WaitArgs {
    const NAME: &'static str = "jnet-ip6wait";

    fn common(&self) -> Common {
        self.common_flags()
    }

    fn run<K: Kernel>(self, k: &mut K) -> Result<Output> {
        let spec = self.spec()?;
        let (scope, report) = match &self.jail {
            None => ("host".to_string(), if self.dry_run { None } else { Some(wait(k, &spec, None)?) }),
            Some(j) => {
                let which = JailRef::parse(j)?;
                let info = k
                    .jail(&which)
                    .step(|| format!("look up jail {which}"))?
                    .filter(|i| !i.dying)
                    .ok_or_else(|| Error::new(Kind::NoJail, format!("jail {which} is not running")))?;
                let scope = format!("jail {}", info.name);
                if self.dry_run {
                    (scope, None)
                } else if info.vnet {
                    let s = spec.clone();
                    // The step inside waits as long as --timeout says: its deadline covers
                    // that, plus a margin for entering the jail and answering.
                    let deadline = spec
                        .timeout_ms
                        .map(|t| std::time::Duration::from_millis(t) + IN_JAIL_MARGIN)
                        .map_or(crate::kernel::JAIL_STEP_DEADLINE, |d| d.max(crate::kernel::JAIL_STEP_DEADLINE));
                    (
                        scope,
                        Some(
                            k.in_jail_within(info.jid, deadline, move |k| wait(k, &s, None))
                                .map_err(|e| e.context(format!("jail {}", info.name)))?,
                        ),
                    )
                } else if spec.autoconf > 0 || spec.router {
                    return Err(Error::usage(format!(
                        "--autoconf and --router wait for what router advertisements give a vnet, and jail {} \
                         shares the host's: run jnet-ip6wait --autoconf for the host, or give the jail a vnet",
                        info.name
                    )));
                } else {
                    let ips = k.jail_ip6(info.jid).step(|| format!("read ip6.addr of jail {}", info.name))?;
                    if ips.is_empty() {
                        (scope, Some(Report { addrs: vec![], timeout_ms: 0, waited_ms: 0 }))
                    } else {
                        (scope, Some(wait(k, &spec, Some(&ips))?))
                    }
                }
            }
        };
        let Some(report) = report else {
            let line = format!(
                "would wait for DAD of {} addresses in {scope}",
                if spec.addrs.is_empty() { "all IPv6" } else { "the given" }
            );
            return Ok(Output { json: json!({ "dry_run": true, "scope": scope }), lines: vec![line], error: None });
        };
        log::info!("{scope}: DAD finished in {} ms", report.waited_ms);
        Ok(Output {
            error: None,
            lines: report
                .addrs
                .iter()
                .filter(|a| a.state == "ready")
                .map(|a| format!("{} {}", a.addr, a.iface))
                .collect(),
            json: json!({ "scope": scope, "waited_ms": report.waited_ms, "timeout_ms": report.timeout_ms, "addresses": report.addrs }),
        })
    }
}
