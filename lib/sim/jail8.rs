//! jail(8) played on the simulated host: `jnet-sim jail start|stop NAME -f FILE` reads a
//! jail.conf and runs its hooks in jail(8)'s order, running the `jnet-*` programs for real
//! against the simulated host, and undoing on a failed start only what jail(8) undoes.
//!
//! This is the one place in the project that starts processes: it stands in for jail(8),
//! whose job that is. The jnet programs themselves never do.

use super::host::JailState;
use super::jailconf::{JailConf, Params};
use super::SimFiles;
use crate::error::{Error, Kind, Result};
use crate::kernel::Cidr;
use std::fmt::Write;
use std::path::PathBuf;
use std::process::Command;

fn list(p: &Params, key: &str) -> Vec<String> {
    p.get(key).cloned().unwrap_or_default()
}

fn is_vnet(p: &Params) -> bool {
    p.get("vnet").is_some_and(|v| v.iter().any(|x| x == "true" || x == "new"))
}

/// The directory of the jnet programs: beside jnet-sim.
fn bindir() -> PathBuf {
    std::env::current_exe().ok().and_then(|p| p.parent().map(|d| d.to_path_buf())).unwrap_or_else(|| PathBuf::from("."))
}

/// Run one hook's commands as jail(8) would; only `jnet-*` programs are run (from beside
/// jnet-sim, whatever directory the command names), anything else is reported and skipped.
fn hook(files: &SimFiles, name: &str, param: &str, p: &Params, out: &mut String) -> Result<()> {
    for cmd in list(p, param) {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let Some(prog) = words.first() else { continue };
        let base = prog.rsplit('/').next().unwrap_or(prog);
        if !base.starts_with("jnet-") || base == "jnet-sim" {
            let _ = writeln!(out, "{name}: {param}: {cmd}  (not a jnet program: not run here)");
            continue;
        }
        let _ = writeln!(out, "{name}: {param}: {cmd}");
        let o = Command::new(bindir().join(base))
            .args(&words[1..])
            .env(super::ENV, &files.state)
            .output()
            .map_err(|e| Error::new(Kind::Internal, format!("{name}: {param}: cannot run {base}: {e}")))?;
        for l in String::from_utf8_lossy(&o.stdout).lines() {
            let _ = writeln!(out, "    {l}");
        }
        if !o.status.success() {
            let err = String::from_utf8_lossy(&o.stderr).trim().to_string();
            return Err(Error::new(
                Kind::Kernel,
                format!(
                    "jail: {name}: {param}: {cmd}: failed ({}): {err}",
                    o.status.code().map(|c| c.to_string()).unwrap_or("killed".into())
                ),
            ));
        }
    }
    Ok(())
}

fn ips(p: &Params) -> Result<Vec<(String, Cidr)>> {
    let mut v = vec![];
    for key in ["ip4.addr", "ip6.addr"] {
        for item in list(p, key) {
            let (ifname, addr) = item
                .split_once('|')
                .ok_or_else(|| Error::data(format!("{key} {item:?}: jnet-sim needs IF|ADDR/LEN")))?;
            v.push((ifname.to_string(), addr.parse::<Cidr>()?));
        }
    }
    Ok(v)
}

/// jail -c NAME: prepare, prestart, create, created, vnet.interface, start, poststart.
pub fn start(files: &SimFiles, conf: &JailConf, name: &str, out: &mut String) -> Result<i32> {
    let p = conf.resolve(name).map_err(|e| Error::usage(e.0))?;
    let vnet = is_vnet(&p);
    let addrs = ips(&p)?;
    hook(files, name, "exec.prepare", &p, out)?;
    hook(files, name, "exec.prestart", &p, out)?;
    let jid = files.edit(|h, now| {
        let jid = h.create_jail(name, vnet).map_err(|e| Error::kernel(format!("jail: {name}: create"), e))?;
        for (ifname, c) in &addrs {
            h.add_addr(None, ifname, *c, 0, now)
                .map_err(|e| Error::kernel(format!("jail: {name}: add {c} to {ifname}"), e))?;
        }
        if let Some(j) = h.jails.iter_mut().find(|j| j.jid == jid) {
            j.ips = addrs.clone();
        }
        Ok(jid)
    })?;
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
        let _ = writeln!(out, "{name}: start failed: jail removed{}", if r.is_ok() { "" } else { " (with errors)" });
    };
    if let Err(e) = hook(files, name, "exec.created", &p, out) {
        undo(&[], out);
        return Err(e);
    }
    let mut moved = vec![];
    for i in list(&p, "vnet.interface") {
        let r = files.edit(|h, _| {
            h.move_to_jail(None, &i, jid)
                .map_err(|e| Error::kernel(format!("jail: {name}: ifconfig {i} vnet {jid}"), e))
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
    let _ = writeln!(out, "{name}: exec.start runs inside the jail: not emulated");
    if let Err(e) = hook(files, name, "exec.poststart", &p, out) {
        undo(&moved, out);
        return Err(e);
    }
    Ok(jid)
}

/// jail -r NAME: prestop, stop, remove, poststop, release.
pub fn stop(files: &SimFiles, conf: &JailConf, name: &str, linger_ms: u64, out: &mut String) -> Result<()> {
    let p = conf.resolve(name).map_err(|e| Error::usage(e.0))?;
    let running =
        files.edit(|h, _| Ok(h.jails.iter().find(|j| j.name == name && j.state == JailState::Alive).map(|j| j.jid)))?;
    let jid = running.ok_or_else(|| Error::new(Kind::NoJail, format!("jail {name} is not running")))?;
    hook(files, name, "exec.prestop", &p, out)?;
    let _ = writeln!(out, "{name}: exec.stop runs inside the jail: not emulated");
    files.edit(|h, now| {
        h.remove_jail(jid, linger_ms, false, now).map_err(|e| Error::kernel(format!("jail: {name}: remove"), e))
    })?;
    let _ = writeln!(
        out,
        "{name}: removed{}",
        if linger_ms > 0 { format!(", its vnet lingers {} s", linger_ms / 1000) } else { String::new() }
    );
    hook(files, name, "exec.poststop", &p, out)?;
    hook(files, name, "exec.release", &p, out)?;
    Ok(())
}
