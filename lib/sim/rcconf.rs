//! A jail's rc.conf as rc.subr's `load_rc_config` sees it, for the network part of the
//! jail's `/etc/rc` that the jail(8) emulation runs: `/etc/defaults/rc.conf`'s values for
//! the variables rc.d/netif, network.subr and rc.d/routing read (FreeBSD 14's
//! libexec/rc/rc.conf), then the jail's `etc/rc.conf` and `etc/rc.conf.local`
//! (`rc_conf_files`), each a shell script of `NAME=VALUE` lines.
//!
//! Only assignments are understood: quoted, unquoted and multi-line values, `$NAME` and
//! `${NAME}` expansion, comments. Any other shell construct is refused with its line, so a
//! dry run never shows a network the jail's rc would not make.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// libexec/rc/rc.conf (FreeBSD 14): the defaults of the variables the emulation reads.
const DEFAULTS: &[(&str, &str)] = &[
    ("netif_enable", "YES"),
    ("network_interfaces", "auto"),
    ("cloned_interfaces", ""),
    ("ipv6_network_interfaces", "auto"),
    ("ipv6_activate_all_interfaces", "NO"),
    ("ipv6_gateway_enable", "NO"),
    ("ipv6_cpe_wanif", "NO"),
    ("defaultrouter", "NO"),
    ("ipv6_defaultrouter", "NO"),
    ("static_routes", ""),
    ("ipv6_static_routes", ""),
];

/// The variables of a jail's rc configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RcConf {
    vars: BTreeMap<String, String>,
}

impl RcConf {
    /// The jail's configuration under `root` (its `path`): None when `etc/rc.conf` is missing
    /// (the emulation then leaves the network as jail(8) left it).
    pub fn load(root: &Path) -> Result<Option<RcConf>> {
        let main = root.join("etc/rc.conf");
        if !main.exists() {
            return Ok(None);
        }
        let mut conf = RcConf::defaults();
        for f in [main, root.join("etc/rc.conf.local")] {
            match std::fs::read_to_string(&f) {
                Ok(text) => conf.source(&text).map_err(|e| e.context(f.display().to_string()))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::data(format!("{}: {e}", f.display()))),
            }
        }
        Ok(Some(conf))
    }

    /// Only the defaults.
    pub fn defaults() -> RcConf {
        RcConf { vars: DEFAULTS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }

    /// A variable's value, unset as None.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// A variable's value, unset as empty (`${name}`).
    pub fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// rc.subr `checkyesno`: YES, TRUE, ON or 1 in any case.
    pub fn yes(&self, name: &str) -> bool {
        matches!(self.value(name).to_ascii_lowercase().as_str(), "yes" | "true" | "on" | "1")
    }

    /// network.subr `get_if_var IF VAR`: `IF` in VAR replaced by the interface name with
    /// `.-/+` turned into `_` (ltr); unset as None.
    pub fn if_var(&self, ifname: &str, var: &str) -> Option<&str> {
        let norm: String = ifname.chars().map(|c| if ".-/+".contains(c) { '_' } else { c }).collect();
        let name = match var.split_once("IF") {
            Some((pre, post)) => format!("{pre}{norm}{post}"),
            None => var.to_string(),
        };
        self.get(&name)
    }

    /// Every variable whose name starts with `prefix`, as `list_vars` finds them.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.vars.iter().filter(move |(k, _)| k.starts_with(prefix)).map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Run the assignments of one file.
    pub fn source(&mut self, text: &str) -> Result<()> {
        let mut p = Parser { s: text.as_bytes(), i: 0, line: 1, stmt: (0, 1) };
        while let Some((name, value)) = p.next_assignment(self)? {
            self.vars.insert(name, value);
        }
        Ok(())
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    line: usize,
    /// where the statement being read starts (its line is the one an error names)
    stmt: (usize, usize),
}

fn name_char(c: u8, first: bool) -> bool {
    c == b'_' || c.is_ascii_alphabetic() || (!first && c.is_ascii_digit())
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        if c == b'\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn refuse(&self, why: &str) -> Error {
        let (start, line) = self.stmt;
        let end = self.s[start..].iter().position(|&c| c == b'\n').map_or(self.s.len(), |p| start + p);
        let text = String::from_utf8_lossy(&self.s[start..end]);
        Error::data(format!(
            "line {line}: {why}: {:?} (the emulation reads only NAME=VALUE assignments and comments)",
            text.trim()
        ))
    }

    fn skip_blank_and_comments(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\n' | b'\r' | b';' => {
                    self.bump();
                }
                b'#' => {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.bump();
                    }
                }
                _ => break,
            }
        }
    }

    fn next_assignment(&mut self, env: &RcConf) -> Result<Option<(String, String)>> {
        self.skip_blank_and_comments();
        if self.peek().is_none() {
            return Ok(None);
        }
        self.stmt = (self.i, self.line);
        let start = self.i;
        while self.peek().is_some_and(|c| name_char(c, self.i == start)) {
            self.bump();
        }
        if self.i == start || self.peek() != Some(b'=') {
            return Err(self.refuse("not an assignment"));
        }
        let name = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        self.bump();
        let value = self.word(env)?;
        match self.peek() {
            None | Some(b'\n' | b'\r' | b' ' | b'\t' | b';' | b'#') => Ok(Some((name, value))),
            Some(_) => Err(self.refuse("unexpected text after the value")),
        }
    }

    /// One shell word: quoted and unquoted parts, up to blank, `;`, `#` at a word's start or
    /// the end of the line.
    fn word(&mut self, env: &RcConf) -> Result<String> {
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\n' | b'\r' | b';' => break,
                b'\'' => {
                    self.bump();
                    loop {
                        match self.bump() {
                            Some(b'\'') => break,
                            Some(c) => out.push(c),
                            None => return Err(self.refuse("unterminated '")),
                        }
                    }
                }
                b'"' => {
                    self.bump();
                    loop {
                        match self.peek() {
                            Some(b'"') => {
                                self.bump();
                                break;
                            }
                            Some(b'\\') => {
                                self.bump();
                                match self.bump() {
                                    Some(b'\n') => {}
                                    Some(c @ (b'"' | b'\\' | b'$' | b'`')) => out.push(c),
                                    Some(c) => out.extend([b'\\', c]),
                                    None => return Err(self.refuse("unterminated \"")),
                                }
                            }
                            Some(b'$') => self.expand(env, &mut out)?,
                            Some(b'`') => return Err(self.refuse("command substitution")),
                            Some(_) => out.push(self.bump().unwrap_or_default()),
                            None => return Err(self.refuse("unterminated \"")),
                        }
                    }
                }
                b'\\' => {
                    self.bump();
                    match self.bump() {
                        Some(b'\n') | None => {}
                        Some(c) => out.push(c),
                    }
                }
                b'$' => self.expand(env, &mut out)?,
                b'`' | b'(' | b')' | b'|' | b'&' | b'<' | b'>' => {
                    return Err(self.refuse("a shell construct"));
                }
                _ => out.push(self.bump().unwrap_or_default()),
            }
        }
        String::from_utf8(out).map_err(|_| self.refuse("not UTF-8"))
    }

    /// `$NAME` or `${NAME}`; anything else after `$` is refused.
    fn expand(&mut self, env: &RcConf, out: &mut Vec<u8>) -> Result<()> {
        self.bump();
        let braced = self.peek() == Some(b'{');
        if braced {
            self.bump();
        }
        let start = self.i;
        while self.peek().is_some_and(|c| name_char(c, self.i == start)) {
            self.bump();
        }
        if self.i == start || (braced && self.bump() != Some(b'}')) {
            return Err(self.refuse("a parameter expansion other than $NAME or ${NAME}"));
        }
        let name = String::from_utf8_lossy(&self.s[start..self.i - usize::from(braced)]).into_owned();
        out.extend(env.value(&name).as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(text: &str) -> Result<RcConf> {
        let mut c = RcConf::defaults();
        c.source(text)?;
        Ok(c)
    }

    #[test]
    fn assignments_as_sh_reads_them() {
        let c = conf(
            "# a comment\nhostname=\"www\"\nifconfig_e0b_www=\"inet 192.0.2.10/24\" # trailing\n\
             ifconfig_e0b_www_alias0='inet6 2001:db8::10/64'\nnet=192.0.2\n\
             defaultrouter=${net}.1\nifconfig_lo0_descr=\"loop $hostname\"\n\
             ifconfig_vnet0=\"inet 10.0.0.2/24\n    up\"\nempty=\nsysrc_style=abc\\ def\n",
        )
        .unwrap();
        assert_eq!(c.get("hostname"), Some("www"));
        assert_eq!(c.get("ifconfig_e0b_www"), Some("inet 192.0.2.10/24"));
        assert_eq!(c.get("ifconfig_e0b_www_alias0"), Some("inet6 2001:db8::10/64"));
        assert_eq!(c.get("defaultrouter"), Some("192.0.2.1"));
        assert_eq!(c.get("ifconfig_lo0_descr"), Some("loop www"));
        assert_eq!(c.get("ifconfig_vnet0"), Some("inet 10.0.0.2/24\n    up"));
        assert_eq!(c.get("empty"), Some(""));
        assert_eq!(c.get("sysrc_style"), Some("abc def"));
        assert_eq!(c.get("ipv6_defaultrouter"), Some("NO"), "a default stays");
        assert!(c.yes("netif_enable"));
        assert!(!c.yes("ipv6_activate_all_interfaces"));
    }

    #[test]
    fn if_var_replaces_punctuation_as_ltr_does() {
        let c = conf("ifconfig_igb0_20=\"inet 10.0.20.2/24\"\nifconfig_e0b_www_name=net0\n").unwrap();
        assert_eq!(c.if_var("igb0.20", "ifconfig_IF"), Some("inet 10.0.20.2/24"));
        assert_eq!(c.if_var("e0b_www", "ifconfig_IF_name"), Some("net0"));
        assert_eq!(c.if_var("e0b_www", "ifconfig_IF_descr"), None);
    }

    #[test]
    fn other_shell_is_refused_with_its_line() {
        for (text, line) in [
            ("a=1\nif [ -x /x ]; then b=2; fi\n", 2),
            ("a=`hostname`\n", 1),
            ("a=\"${b:-c}\"\n", 1),
            ("\n\n. /etc/rc.conf.d/x\n", 3),
            ("a=\"open\n", 1),
        ] {
            let e = conf(text).unwrap_err();
            assert!(e.message.starts_with(&format!("line {line}: ")), "{text:?}: {}", e.message);
            assert!(e.message.contains("NAME=VALUE"), "{}", e.message);
        }
    }
}
