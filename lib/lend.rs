//! jnet-nic: lend dedicated NICs to a VNET jail, recording first on the host what to give
//! back at release (see `nic`).

use crate::cli::{Common, Output, Program};
use crate::error::{Error, KernelContext, Kind, Result};
use crate::kernel::{JailRef, Kernel};
use crate::names;
use crate::nic::{self, Lent};
use argh::FromArgs;
use serde_json::json;

crate::program_args! {
#[derive(FromArgs, Debug)]
/// Lend a NIC to a VNET jail: record on the host how it looks (name, description, groups,
/// up), then, if the jail runs, move it in. Run it from exec.prestart (then
/// vnet.interface moves it) or exec.created; jnet-release --iface gives it back.
pub struct NicArgs {
    /// jail name or jid
    #[argh(positional)]
    pub jail: String,
    /// the NIC to lend, by its host name (repeatable)
    #[argh(option)]
    pub iface: Vec<String>,
    /// in exec.prestop: note the name the lent NIC has inside the running jail, so that
    /// exec.poststop takes it back at once even if the jail renamed it
    #[argh(switch)]
    pub track: bool,
}
dry_run = "print what would be done and change nothing";
}

impl NicArgs {
    /// `--track`: where each NIC is inside the running jail, noted in its record. It runs in
    /// exec.prestop, where a failing command stops `jail -r`: a NIC it cannot find or note
    /// is only warned about (its record stays as it was, and exec.poststop falls back to
    /// the name the NIC was lent under).
    fn track<K: Kernel>(&self, k: &mut K, jail: &str, running: Option<&crate::kernel::JailInfo>) -> Result<Output> {
        let Some(j) = running else {
            return Err(Error::new(
                Kind::NoJail,
                format!("--track looks inside the running jail, and jail {jail} does not run: use it in exec.prestop"),
            ));
        };
        let mut seen: Vec<(String, Option<String>)> = vec![];
        for i in &self.iface {
            if self.dry_run {
                seen.push((i.clone(), None));
                continue;
            }
            match nic::track(k, i, j) {
                Ok(inside) => seen.push((i.clone(), Some(inside))),
                Err(e) => {
                    log::warn!("jnet-nic --track {jail}: {i} not noted: {}", e.message);
                    seen.push((i.clone(), None));
                }
            }
        }
        let line = |(n, s): &(String, Option<String>)| match (s, self.dry_run) {
            (_, true) => format!("# look for {n} inside jail {jail}"),
            (Some(s), _) => format!("{n} {s}"),
            (None, _) => format!("{n} -"),
        };
        Ok(Output {
            lines: seen.iter().map(line).collect(),
            json: json!({
                "jail": jail,
                "jid": j.jid,
                "nics": seen.iter().map(|(n, s)| json!({ "name": n, "inside": s })).collect::<Vec<_>>(),
            }),
            error: None,
        })
    }
}

impl Program for NicArgs {
    const NAME: &'static str = "jnet-nic";

    fn common(&self) -> Common {
        self.common_flags()
    }

    fn run<K: Kernel>(self, k: &mut K) -> Result<Output> {
        let which = JailRef::parse(&self.jail)?;
        if self.iface.is_empty() {
            return Err(Error::usage("which NIC? jnet-nic --iface NIC JAIL"));
        }
        for (n, i) in self.iface.iter().enumerate() {
            names::check_ifname("--iface", i)?;
            if self.iface[..n].contains(i) {
                return Err(Error::usage(format!("--iface {i} is given twice")));
            }
        }
        let found = k.jail(&which).step(|| format!("look up jail {which}"))?;
        let (jail, running) = match (&which, found) {
            (_, Some(j)) if !j.dying && !j.vnet => {
                return Err(Error::new(
                    Kind::NoJail,
                    format!("jail {} (jid {}) has no vnet of its own: set vnet = new in jail.conf", j.name, j.jid),
                ))
            }
            (_, Some(j)) if !j.dying => (j.name.clone(), Some(j)),
            (JailRef::Name(n), _) => (n.clone(), None),
            (JailRef::Jid(j), _) => return Err(Error::new(Kind::NoJail, format!("no running jail with jid {j}"))),
        };
        let _lock = if self.dry_run {
            None
        } else {
            Some(crate::jaillock::lock_name(&k.state_dir(), &jail, crate::jaillock::WAIT)?)
        };
        if self.track {
            return self.track(k, &jail, running.as_ref());
        }
        if self.dry_run {
            let mut cmds = vec![];
            for i in &self.iface {
                cmds.push(format!("# record {i} on the host for jail {jail}"));
                if let Some(j) = &running {
                    cmds.push(format!("ifconfig {i} vnet {}", j.jid));
                }
            }
            return Ok(Output { json: json!({ "dry_run": true, "commands": cmds }), lines: cmds, error: None });
        }
        let mut done: Vec<(String, Lent)> = vec![];
        for i in &self.iface {
            match nic::lend(k, i, &jail, running.as_ref()) {
                Ok(l) => done.push((i.clone(), l)),
                Err(e) => {
                    // Give back what this run moved, so a failure leaves every NIC as it was.
                    let mut err = e.context(format!("jnet-nic {jail}"));
                    for (n, l) in done.iter().rev() {
                        if matches!(l, Lent::Moved(_)) {
                            if let Err(u) = nic::reclaim(k, n, &jail, None) {
                                err = err.context(format!("and taking {n} back failed too: {}", u.message));
                            }
                        }
                    }
                    return Err(err);
                }
            }
        }
        let nics: Vec<_> = done
            .iter()
            .map(|(n, l)| {
                let (action, driver) = match l {
                    Lent::Recorded(d) => ("recorded", d),
                    Lent::Moved(d) => ("moved", d),
                    Lent::Already(d) => ("already lent", d),
                };
                json!({ "name": n, "driver": driver, "action": action })
            })
            .collect();
        Ok(Output {
            lines: done.iter().map(|(n, _)| n.clone()).collect(),
            json: json!({ "jail": jail, "jid": running.as_ref().map(|j| j.jid), "nics": nics }),
            error: None,
        })
    }
}
