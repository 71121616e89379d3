//! Delegation to the IPAM plugin, exactly as the CNI spec has it ("Delegated plugin
//! protocol"): the plugin named by `ipam.type` is found in CNI_PATH and run with this
//! process's environment and the very network configuration jnet-cni was given on stdin;
//! its result (or error object) comes back on its stdout.
//!
//! This is the one place a jnet program runs another program: CNI requires it, and the
//! plugin it runs is the one the runtime's configuration names, from the runtime's own
//! plugin directories.

use super::spec::{code, CniError, IpamResult};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How to reach the IPAM plugin for one request.
#[derive(Clone, Copy)]
pub struct Delegate<'a> {
    /// `ipam.type`.
    pub plugin: &'a str,
    /// CNI_PATH.
    pub cni_path: &'a str,
    /// The network configuration, as received.
    pub config: &'a [u8],
}

/// Find `plugin` in the colon-separated `cni_path`, as libcni's FindInPath does.
fn find(plugin: &str, cni_path: &str) -> Result<PathBuf, CniError> {
    if plugin.is_empty() || plugin.contains('/') || plugin == "." || plugin == ".." {
        return Err(CniError::new(code::INVALID_CONFIG, format!("ipam.type {plugin:?} is not a plugin name")));
    }
    cni_path.split(':').filter(|d| !d.is_empty()).map(|d| Path::new(d).join(plugin)).find(|p| p.is_file()).ok_or_else(
        || {
            CniError::new(
                code::INVALID_CONFIG,
                format!("IPAM plugin {plugin:?} is not in CNI_PATH ({cni_path}); install it or fix ipam.type"),
            )
        },
    )
}

impl Delegate<'_> {
    /// Run the IPAM plugin for `command` (ADD, DEL, CHECK), with `env` overriding this
    /// process's CNI_* variables (GC releases other attachments than the one in the
    /// environment). Its stdout when it succeeds; its error object, passed through, when not.
    pub fn run(&self, command: &str, env: &[(&str, &str)]) -> Result<Vec<u8>, CniError> {
        let exe = find(self.plugin, self.cni_path)?;
        let mut cmd = Command::new(&exe);
        cmd.env("CNI_COMMAND", command).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| CniError::new(code::IO_FAILURE, format!("run IPAM plugin {}: {e}", exe.display())))?;
        // Its stdin is closed once written. A plugin may answer without reading it all
        // (host-local's VERSION exits at once), so a broken pipe is not a failure: the
        // plugin's exit status and output say how the request went.
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(self.config);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| CniError::new(code::IO_FAILURE, format!("wait for IPAM plugin {}: {e}", exe.display())))?;
        if out.status.success() {
            return Ok(out.stdout);
        }
        Err(passed_through(self.plugin, command, &out.stdout, &out.stderr))
    }

    /// VERSION: the spec versions the IPAM plugin speaks.
    pub fn versions(&self) -> Result<Vec<String>, CniError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            supported_versions: Vec<String>,
        }
        let out = Delegate { config: br#"{"cniVersion":"0.4.0"}"#, ..*self }.run("VERSION", &[])?;
        let a: Answer = serde_json::from_slice(&out).map_err(|e| {
            CniError::new(code::DECODING_FAILURE, format!("IPAM plugin {}'s VERSION answer: {e}", self.plugin))
        })?;
        Ok(a.supported_versions)
    }

    /// ADD: the addresses, routes and DNS the IPAM plugin gives.
    pub fn add(&self) -> Result<IpamResult, CniError> {
        let out = self.run("ADD", &[])?;
        serde_json::from_slice(&out).map_err(|e| {
            CniError::new(
                code::DECODING_FAILURE,
                format!("IPAM plugin {}'s result is not a CNI result: {e}", self.plugin),
            )
        })
    }
}

/// The IPAM plugin's error object, as it gave it (its code, its message, prefixed with who
/// said it); without one, its stderr.
fn passed_through(plugin: &str, command: &str, stdout: &[u8], stderr: &[u8]) -> CniError {
    #[derive(serde::Deserialize)]
    struct Obj {
        code: u32,
        msg: String,
        #[serde(default)]
        details: String,
    }
    match serde_json::from_slice::<Obj>(stdout) {
        Ok(o) => {
            CniError { code: o.code, msg: format!("IPAM plugin {plugin} {command}: {}", o.msg), details: o.details }
        }
        Err(_) => CniError::new(
            code::JNET_BASE + crate::error::sysexits::SOFTWARE as u32,
            format!(
                "IPAM plugin {plugin} {command} failed without a CNI error: {}",
                crate::cli::escape_text(String::from_utf8_lossy(stderr).trim())
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names_are_names() {
        for bad in ["", "../host-local", "/usr/bin/x", "."] {
            assert_eq!(find(bad, "/usr/lib/cni").unwrap_err().code, code::INVALID_CONFIG, "{bad}");
        }
        let e = find("no-such-ipam", "/nonexistent:/also-not").unwrap_err();
        assert!(e.msg.contains("not in CNI_PATH"), "{}", e.msg);
    }

    #[test]
    fn errors_pass_through_with_their_code() {
        let e = passed_through("host-local", "ADD", br#"{"code":11,"msg":"no addresses left"}"#, b"");
        assert_eq!(e.code, 11);
        assert_eq!(e.msg, "IPAM plugin host-local ADD: no addresses left");
        let e = passed_through("x", "DEL", b"garbage", b"panic: \x1b[31m");
        assert_eq!(e.code, 170);
        assert!(e.msg.contains("\\x1b"), "{}", e.msg);
    }
}
