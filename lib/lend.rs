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
}
dry_run = "print what would be done and change nothing";
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
