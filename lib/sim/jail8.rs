//! jail(8) played on the simulated host: `jnet-sim jail start|stop NAME -f FILE` reads a
//! jail.conf (`jailconf`) and runs what FreeBSD 14's jail(8) runs, in its order
//! (usr.sbin/jail: command.c `next_command`, jail.c, state.c): for a start, `depend` and the
//! parent first, ip4.addr/ip6.addr on their host interfaces, exec.prepare, exec.prestart, the
//! jail, exec.created, vnet.interface, exec.start (inside the jail: `/bin/sh /etc/rc` has its
//! network part emulated from the jail's rc.conf, `jailrc`), exec.poststart; for a stop, children and dependents first, exec.prestop, exec.stop (not
//! emulated), the removal, exec.poststop, the addresses, exec.release.
//!
//! Hook commands run as jail(8) runs them: with a shell metacharacter through `/bin/sh -c`,
//! otherwise split into words and executed directly; `exec.clean` gives them a clean
//! environment with PATH=/bin:/usr/bin. Programs under the install prefix (default
//! `/usr/local/sbin`) are the built jnet programs, and every command gets JNET_SIM, so the
//! hooks act on the simulated host.
//!
//! This is the one place in the project that starts processes: it stands in for jail(8),
//! whose job that is. The jnet programs themselves never do.

use super::host::JailState;
use super::jailconf::{JailConf, Params};
use super::jailrc::JailRc;
use super::rcconf::RcConf;
use super::SimFiles;
use crate::error::{Error, Kind, Result};
use crate::kernel::Cidr;
use std::fmt::Write;
use std::path::PathBuf;
use std::process::Command;

/// Characters that make jail(8) run a command through /bin/sh -c (command.c).
const SHELL_CHARS: &str = "!\"$&'()*;<>?[\\]`{|}~";

/// How the emulation runs: where jnet is installed on the host it stands for.
#[derive(Clone, Debug)]
pub struct Emulation {
    /// the install prefix of the jnet programs (`/usr/local/sbin`)
    pub prefix: String,
}

impl Default for Emulation {
    fn default() -> Emulation {
        Emulation { prefix: "/usr/local/sbin".into() }
    }
}

fn list(p: &Params, key: &str) -> Vec<String> {
    p.get(key).cloned().unwrap_or_default()
}

/// A boolean parameter as `bool_param` reads it: present and empty, "true" or a non-zero
/// number (a `no` prefix on the last component inverts it).
fn boolean(p: &Params, key: &str) -> bool {
    match p.get(key) {
        None => false,
        Some(v) => v.last().is_none_or(|s| s.eq_ignore_ascii_case("true") || s.parse::<i64>().is_ok_and(|n| n != 0)),
    }
}

/// `vnet` is a jailsys parameter: bare, `new` or 1 give the jail its own vnet; `inherit`,
/// `disable` or 0 do not; anything else (`true`) is refused as jail(8) refuses it.
fn vnet(name: &str, p: &Params) -> Result<bool> {
    let Some(v) = p.get("vnet") else { return Ok(false) };
    match v.last().map(String::as_str) {
        None | Some("new") | Some("1") => Ok(true),
        Some("inherit") | Some("disable") | Some("0") => Ok(false),
        Some(x) => {
            Err(Error::data(format!("jail: {name}: vnet: unknown value \"{x}\" (vnet takes new, inherit or disable)")))
        }
    }
}

/// The directory of the jnet programs: beside jnet-sim.
fn bindir() -> PathBuf {
    std::env::current_exe().ok().and_then(|p| p.parent().map(|d| d.to_path_buf())).unwrap_or_else(|| PathBuf::from("."))
}

impl Emulation {
    /// `{prefix}/jnet-x` in a command becomes the built program.
    fn map(&self, word: &str) -> String {
        let pre = format!("{}/jnet-", self.prefix.trim_end_matches('/'));
        word.replace(&pre, &format!("{}/jnet-", bindir().display()))
    }

    /// Run one hook's commands as jail(8) would: a failure ends the phase (command.c
    /// next_command then turns back, or jail.c abandons a stop whose jail still exists).
    fn hook(&self, files: &SimFiles, name: &str, param: &str, p: &Params, out: &mut String) -> Result<()> {
        for cmd in list(p, param) {
            self.command(files, name, param, &cmd, p, out)?;
        }
        Ok(())
    }

    /// A phase after the jail's removal (exec.poststop, exec.release): a failing command
    /// marks the stop failed, and next_command goes on with the next one, since the
    /// jail is gone and the stop is not turned back. The first failure is returned.
    fn hook_after_removal(
        &self,
        files: &SimFiles,
        name: &str,
        param: &str,
        p: &Params,
        out: &mut String,
    ) -> Result<()> {
        let mut first = None;
        for cmd in list(p, param) {
            if let Err(e) = self.command(files, name, param, &cmd, p, out) {
                let _ = writeln!(out, "{}", e.message);
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// One command of a hook, run directly or through /bin/sh -c as command.c decides.
    fn command(
        &self,
        files: &SimFiles,
        name: &str,
        param: &str,
        cmd: &str,
        p: &Params,
        out: &mut String,
    ) -> Result<()> {
        let _ = writeln!(out, "{name}: {param}: {cmd}");
        let mut c = if cmd.contains(|c| SHELL_CHARS.contains(c)) {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(self.map(cmd));
            c
        } else {
            let words: Vec<String> = cmd.split_whitespace().map(|w| self.map(w)).collect();
            let Some(prog) = words.first() else { return Ok(()) };
            let mut c = Command::new(prog);
            c.args(&words[1..]);
            c
        };
        if boolean(p, "exec.clean") {
            c.env_clear().env("PATH", "/bin:/usr/bin").env("HOME", "/root").env("SHELL", "/bin/sh");
        }
        c.env(super::ENV, &files.state);
        let o = c.output().map_err(|e| Error::new(Kind::Unavailable, format!("jail: {name}: {param}: {cmd}: {e}")))?;
        for l in String::from_utf8_lossy(&o.stdout).lines() {
            let _ = writeln!(out, "    {l}");
        }
        if o.status.success() {
            return Ok(());
        }
        let err = String::from_utf8_lossy(&o.stderr).trim().to_string();
        let status = o.status.code().map(|c| c.to_string()).unwrap_or("killed".into());
        Err(Error::new(Kind::Kernel, format!("jail: {name}: {param}: {cmd}: failed ({status}): {err}")))
    }
}

/// ip4.addr / ip6.addr as jail(8) takes them: `IF|ADDR` or ADDR with `interface`, a `/LEN`
/// or a netmask, and ifconfig words after the address (ignored here).
fn ips(name: &str, p: &Params) -> Result<Vec<(String, Cidr)>> {
    let default_if = list(p, "interface").last().cloned();
    let mut v = vec![];
    for key in ["ip4.addr", "ip6.addr"] {
        for item in list(p, key) {
            let (ifname, rest) = match item.split_once('|') {
                Some((i, r)) => (i.to_string(), r),
                None => match &default_if {
                    Some(i) => (i.clone(), item.as_str()),
                    // Without an interface jail(8) adds no address: the jail just uses it.
                    None => continue,
                },
            };
            let mut words = rest.split_whitespace();
            let addr = words.next().unwrap_or_default();
            let netmask = |m: Option<&str>| -> Result<u32> {
                let m: std::net::Ipv4Addr = m
                    .and_then(|m| m.parse().ok())
                    .filter(|m: &std::net::Ipv4Addr| u32::from(*m).leading_ones() == u32::from(*m).count_ones())
                    .ok_or_else(|| Error::data(format!("jail: {name}: {key} {item:?}: bad netmask")))?;
                Ok(u32::from(m).count_ones())
            };
            let cidr = match (words.next(), addr.split_once('/')) {
                (Some("netmask"), _) => format!("{addr}/{}", netmask(words.next())?),
                // ADDR/MASK: command.c hands ifconfig(8) what follows the '/', which may be
                // a dotted netmask as well as a prefix length.
                (_, Some((a, m))) if key == "ip4.addr" && m.contains('.') => format!("{a}/{}", netmask(Some(m))?),
                (_, Some(_)) => addr.to_string(),
                _ => format!("{addr}/{}", if key == "ip4.addr" { 32 } else { 128 }),
            };
            let c: Cidr = cidr.parse().map_err(|e: Error| e.context(format!("jail: {name}: {key}")))?;
            v.push((ifname, c));
        }
    }
    Ok(v)
}

/// A jail whose dependency (or parent) failed is not started: state.c dep_done marks it
/// failed too, with "skipped".
fn skipped(name: &str, e: Error, out: &mut String) -> Error {
    let _ = writeln!(out, "{}", e.message);
    let _ = writeln!(out, "jail: {name}: skipped");
    Error::new(e.kind, format!("jail: {name}: skipped: a jail it needs did not start"))
}

fn running(files: &SimFiles, name: &str) -> Result<Option<i32>> {
    files.edit(|h, _| Ok(h.jails.iter().find(|j| j.name == name && j.state == JailState::Alive).map(|j| j.jid)))
}

/// The running jails whose name is `name.` followed by more, deepest first.
fn children(files: &SimFiles, name: &str) -> Result<Vec<String>> {
    let pre = format!("{name}.");
    let mut v: Vec<String> = files.edit(|h, _| {
        Ok(h.jails
            .iter()
            .filter(|j| j.state == JailState::Alive && j.name.starts_with(&pre))
            .map(|j| j.name.clone())
            .collect())
    })?;
    v.sort_by_key(|n| std::cmp::Reverse(n.matches('.').count()));
    Ok(v)
}

impl Emulation {
    /// jail -c NAME.
    pub fn start(&self, files: &SimFiles, conf: &JailConf, name: &str, out: &mut String) -> Result<i32> {
        self.start_with(files, conf, name, out, &mut vec![])
    }

    fn start_with(
        &self,
        files: &SimFiles,
        conf: &JailConf,
        name: &str,
        out: &mut String,
        seen: &mut Vec<String>,
    ) -> Result<i32> {
        if seen.iter().any(|s| s == name) {
            return Err(Error::data(format!("jail: {name}: dependency loop")));
        }
        seen.push(name.to_string());
        let p = conf.resolve(name).map_err(|e| Error::data(e.0))?;
        if let Some(jid) = running(files, name)? {
            return Err(Error::new(Kind::Conflict, format!("jail: {name}: already exists (jid {jid})")));
        }
        // A child needs its parent: jail(8) creates it inside the running parent, and a
        // parent the file defines is an implied dependency (state.c dep_setup), started first.
        if let Some((parent, _)) = name.rsplit_once('.') {
            if running(files, parent)?.is_none() {
                if conf.resolve(parent).is_err() {
                    return Err(Error::new(
                        Kind::NoJail,
                        format!("jail: {name}: parent jail \"{parent}\" is not running (a name with a dot is a child)"),
                    ));
                }
                let _ = writeln!(out, "{name}: its parent {parent} is not running: starting it first");
                self.start_with(files, conf, parent, out, seen).map_err(|e| skipped(name, e, out))?;
            }
        }
        for dep in list(&p, "depend") {
            if running(files, &dep)?.is_none() {
                let _ = writeln!(out, "{name}: depends on {dep}: starting it first");
                self.start_with(files, conf, &dep, out, seen).map_err(|e| skipped(name, e, out))?;
            }
        }
        let vnet = vnet(name, &p)?;
        let addrs = ips(name, &p)?;
        // jail.c startcommands: exec.prepare, the addresses, exec.prestart, the jail,
        // exec.created, vnet.interface, exec.start, exec.poststart. A failure turns back
        // through what came before (command.c next_command), undoing the addresses,
        // the jail and the interface moves, and running no hook.
        self.hook(files, name, "exec.prepare", &p, out)?;
        let mut added: Vec<(String, Cidr)> = vec![];
        let drop_addrs = |added: &[(String, Cidr)], out: &mut String| {
            let _ = files.edit(|h, _| {
                for (ifname, c) in added.iter().rev() {
                    let _ = h.del_addr(None, ifname, c.addr);
                }
                Ok(())
            });
            if !added.is_empty() {
                let _ = writeln!(out, "{name}: addresses removed");
            }
        };
        for (ifname, c) in &addrs {
            let r = files.edit(|h, now| {
                h.add_addr(None, ifname, *c, 0, now)
                    .map_err(|e| Error::kernel(format!("jail: {name}: ifconfig {ifname} {c} alias"), e))
            });
            if let Err(e) = r {
                drop_addrs(&added, out);
                return Err(e);
            }
            added.push((ifname.clone(), *c));
        }
        if let Err(e) = self.hook(files, name, "exec.prestart", &p, out) {
            drop_addrs(&added, out);
            return Err(e);
        }
        let jid = match files.edit(|h, _| {
            let jid = h.create_jail(name, vnet).map_err(|e| Error::kernel(format!("jail: {name}: create"), e))?;
            if let Some(j) = h.jails.iter_mut().find(|j| j.jid == jid) {
                j.ips = addrs.clone();
            }
            Ok(jid)
        }) {
            Ok(j) => j,
            Err(e) => {
                drop_addrs(&added, out);
                return Err(e);
            }
        };
        let _ = writeln!(out, "{name}: created, jid {jid}");
        let undo = |moved: &[String], out: &mut String| {
            // A failed start: jail(8) gives vnet.interface back and removes the jail; it runs
            // no exec.poststop, so what prestart and created made stays behind.
            let r = files.edit(|h, now| {
                for i in moved {
                    let _ = h.reclaim(None, i, jid);
                }
                let _ = h.remove_jail(jid, 0, false, now);
                Ok(())
            });
            let _ =
                writeln!(out, "{name}: start failed: jail removed{}", if r.is_ok() { "" } else { " (with errors)" });
        };
        if let Err(e) = self.hook(files, name, "exec.created", &p, out) {
            undo(&[], out);
            return Err(e);
        }
        let mut moved = vec![];
        for i in list(&p, "vnet.interface") {
            let r = files.edit(|h, _| {
                h.move_to_jail(None, &i, jid).map_err(|e| {
                    let hint = if vnet {
                        String::new()
                    } else {
                        // SIOCSIFVNET into a jail without a vnet of its own answers EEXIST.
                        " (the jail has no vnet of its own: add `vnet;` to it)".into()
                    };
                    Error::kernel(format!("jail: {name}: ifconfig {i} vnet {jid}{hint}"), e)
                })
            });
            match r {
                Ok(_) => {
                    let _ = writeln!(out, "{name}: vnet.interface {i} moved in");
                    moved.push(i);
                }
                Err(e) => {
                    undo(&moved, out);
                    return Err(e);
                }
            }
        }
        self.exec_start(files, name, &p, jid, vnet, out)?;
        if let Err(e) = self.hook(files, name, "exec.poststart", &p, out) {
            undo(&moved, out);
            return Err(e);
        }
        Ok(jid)
    }

    /// exec.start, which runs inside the jail: `/bin/sh /etc/rc` has the network part of the
    /// jail's rc emulated (`jailrc`), any other command is only shown.
    fn exec_start(
        &self,
        files: &SimFiles,
        name: &str,
        p: &Params,
        jid: i32,
        vnet: bool,
        out: &mut String,
    ) -> Result<()> {
        for cmd in list(p, "exec.start") {
            let _ = writeln!(out, "{name}: exec.start: {cmd}");
            let w: Vec<&str> = cmd.split_whitespace().collect();
            if !matches!(w[..], ["/bin/sh" | "sh", "/etc/rc", ..]) {
                let _ = writeln!(out, "    runs inside the jail: not emulated");
                continue;
            }
            if !vnet {
                let _ = writeln!(
                    out,
                    "    rc.d/netif and rc.d/routing do not run in a jail without a vnet of its own (KEYWORD: nojailvnet)"
                );
                continue;
            }
            let Some(root) = list(p, "path").last().map(PathBuf::from) else {
                let _ = writeln!(
                    out,
                    "    the jail has no path: its rc.conf cannot be read; the network part of its rc is not emulated"
                );
                continue;
            };
            let conf = match RcConf::load(&root) {
                Ok(Some(c)) => c,
                Ok(None) => {
                    let _ = writeln!(
                        out,
                        "    no {}/etc/rc.conf: the jail's rc leaves the network as it is",
                        root.display()
                    );
                    continue;
                }
                Err(e) => {
                    let _ =
                        writeln!(out, "    jnet-sim: {}: the network part of the jail's rc is not emulated", e.message);
                    continue;
                }
            };
            let _ = writeln!(
                out,
                "    (the network part of /etc/rc, from {}/etc/rc.conf: rc.d/netif, rc.d/routing)",
                root.display()
            );
            let vnet_id = Some(jid);
            let (lines, dad_ms) = files.edit(|h, now| {
                let mut rc = JailRc { conf: &conf, root: &root, vnet: vnet_id, out: vec![] };
                let dad = rc.netif_start(h, now);
                let count = h.sysctl("net.inet6.ip6.dad_count").max(0) as u64;
                Ok((rc.out, dad.then_some((count, (count + 1) * u64::from(h.dad_ms)))))
            })?;
            for l in lines {
                let _ = writeln!(out, "    {l}");
            }
            if let Some((count, ms)) = dad_ms {
                // netif_common sleeps dad_count seconds and one more so that DAD is over;
                // here the simulated probe interval stands for the second.
                let _ = writeln!(out, "    sleep {count}; sleep 1 (DAD; {ms} ms on the simulated host)");
                std::thread::sleep(std::time::Duration::from_millis(ms));
            }
            let lines = files.edit(|h, _| {
                let mut rc = JailRc { conf: &conf, root: &root, vnet: vnet_id, out: vec![] };
                rc.routing_start(h);
                Ok(rc.out)
            })?;
            for l in lines {
                let _ = writeln!(out, "    {l}");
            }
        }
        Ok(())
    }

    /// jail -c with no name: every jail of the file in its order, each after its parent and
    /// what it depends on; one already running (started as another's dependency) is left as
    /// it is. A failure does not stop the others, as in jail(8); the first is returned.
    pub fn start_all(&self, files: &SimFiles, conf: &JailConf, out: &mut String) -> Result<()> {
        let mut first: Option<Error> = None;
        for name in conf.names() {
            if running(files, &name)?.is_some() {
                continue;
            }
            if let Err(e) = self.start(files, conf, &name, out) {
                let _ = writeln!(out, "{}", e.message);
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// jail -r with no name: every running jail of the file, last first (children and
    /// dependents before what they need, as `stop` does for each).
    pub fn stop_all(&self, files: &SimFiles, conf: &JailConf, linger_ms: u64, out: &mut String) -> Result<()> {
        let mut first: Option<Error> = None;
        for name in conf.names().into_iter().rev() {
            if running(files, &name)?.is_none() {
                continue;
            }
            if let Err(e) = self.stop(files, conf, &name, linger_ms, out) {
                let _ = writeln!(out, "{}", e.message);
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// jail -r NAME: its children and the running jails that depend on it first, then
    /// jail.c's stopcommands: exec.prestop, exec.stop, the removal, exec.poststop, the
    /// addresses, exec.release. A failure while the jail exists ends the stop there (jail.c
    /// main: JF_FAILED with a jid); after the removal every later command still runs and
    /// the stop reports the failure.
    pub fn stop(&self, files: &SimFiles, conf: &JailConf, name: &str, linger_ms: u64, out: &mut String) -> Result<()> {
        let p = conf.resolve(name).map_err(|e| Error::data(e.0))?;
        let jid =
            running(files, name)?.ok_or_else(|| Error::new(Kind::NoJail, format!("jail {name} is not running")))?;
        for child in children(files, name)? {
            let _ = writeln!(out, "{name}: stopping its child {child} first");
            self.stop_needed(files, conf, &child, linger_ms, out).map_err(|e| skipped(name, e, out))?;
        }
        for other in conf.names() {
            let depends = conf.resolve(&other).map(|q| list(&q, "depend").contains(&name.to_string()));
            if other != name && depends.unwrap_or(false) && running(files, &other)?.is_some() {
                let _ = writeln!(out, "{name}: {other} depends on it: stopping {other} first");
                self.stop_needed(files, conf, &other, linger_ms, out).map_err(|e| skipped(name, e, out))?;
            }
        }
        self.hook(files, name, "exec.prestop", &p, out)?;
        let _ = writeln!(out, "{name}: exec.stop runs inside the jail: not emulated");
        let gone = files.edit(|h, now| {
            // Its addresses stay until after exec.poststop: jail(8) removes them itself.
            if let Some(j) = h.jails.iter_mut().find(|j| j.jid == jid) {
                j.ips.clear();
            }
            match h.remove_jail(jid, linger_ms, false, now) {
                Ok(()) => Ok(false),
                // Removed meanwhile by another `jail -r`: jail(8) stops only on EPERM
                // (command.c run_command, IP__OP) and goes on as if it had removed it.
                Err(crate::errno::Errno::ENOENT) => Ok(true),
                Err(e) => Err(Error::kernel(format!("jail: {name}: jail_remove"), e)),
            }
        })?;
        let lingers =
            if linger_ms > 0 && !gone { format!(", its vnet lingers {} s", linger_ms / 1000) } else { String::new() };
        let already = if gone { " (already, by another jail -r)" } else { "" };
        let _ = writeln!(out, "{name}: removed{already}{lingers}");
        let poststop = self.hook_after_removal(files, name, "exec.poststop", &p, out);
        let addrs = self.remove_addresses(files, name, &p, out);
        let release = self.hook_after_removal(files, name, "exec.release", &p, out);
        poststop.and(addrs).and(release)
    }

    /// A child or dependent to stop first; one that no longer runs (another `jail -r` took
    /// it meanwhile) is done, as jail.c treats a dependency without a jid.
    fn stop_needed(
        &self,
        files: &SimFiles,
        conf: &JailConf,
        name: &str,
        linger_ms: u64,
        out: &mut String,
    ) -> Result<()> {
        if running(files, name)?.is_none() {
            let _ = writeln!(out, "{name}: already stopped");
            return Ok(());
        }
        match self.stop(files, conf, name, linger_ms, out) {
            Err(e) if e.kind == Kind::NoJail => {
                let _ = writeln!(out, "{name}: already stopped");
                Ok(())
            }
            r => r,
        }
    }

    /// ip4.addr and ip6.addr come off their host interfaces (`ifconfig IF inet ADDR
    /// -alias`); one that is not there fails that command, and the others still go.
    fn remove_addresses(&self, files: &SimFiles, name: &str, p: &Params, out: &mut String) -> Result<()> {
        let addrs = ips(name, p)?;
        let failed = files.edit(|h, _| {
            let mut failed = vec![];
            for (ifname, c) in &addrs {
                if let Err(e) = h.del_addr(None, ifname, c.addr) {
                    let fam = if c.addr.is_ipv4() { "inet" } else { "inet6" };
                    failed.push(format!(
                        "ifconfig: ioctl (SIOCDIFADDR): {}\njail: {name}: /sbin/ifconfig {ifname} {fam} {} -alias: failed",
                        e.text(),
                        c.addr
                    ));
                }
            }
            Ok(failed)
        })?;
        for f in &failed {
            let _ = writeln!(out, "{f}");
        }
        match failed.first() {
            None => Ok(()),
            Some(f) => Err(Error::new(Kind::Kernel, f.lines().last().unwrap_or_default().to_string())),
        }
    }
}
