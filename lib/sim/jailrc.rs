//! The network part of the jail's own `/etc/rc`, which jail(8) runs as `exec.start` after
//! `exec.created` and the `vnet.interface` moves: FreeBSD 14's rc.d/netif with
//! network.subr, then rc.d/routing, read from the jail's rc.conf (`rcconf`), applied to the
//! jail's vnet on the simulated host.
//!
//! /etc/rc skips scripts with `KEYWORD: nojailvnet` in a jail without its own vnet
//! (libexec/rc/rc: `-s nojailvnet` unless security.jail.vnet), and netif and routing carry
//! it: only a VNET jail's rc touches the network.
//!
//! What runs, in rc's order: netif_start (clone_up for `cloned_interfaces`, ifnet_rename for
//! `ifconfig_IF_name`, then ifn_start for every interface of `list_net_interfaces`:
//! ifconfig_up with `ipv6_activate_all_interfaces`, `ifconfig_IF`, `ifconfig_IF_ipv6`,
//! `ipv6_prefix_IF`, `ifconfig_IF_descr`, up, accept_rtadv for SLAAC; ipv4_up and ipv6_up with
//! `ifconfig_IF_aliasN`, `ifconfig_IF_aliases`, `ipv4_addrs_IF`; childif_create for
//! `vlans_IF`), the DAD wait (`sleep dad_count; sleep 1`), then routing's static routes
//! (`defaultrouter`, `static_routes`, `ipv6_defaultrouter`, `ipv6_static_routes`). Each
//! command is printed as rc would run it, and its error as the tool prints it; rc goes on
//! after a failing command, as it does.
//!
//! Not emulated, and said so in the output: daemons (dhclient for DHCP, rtsol, wpa_supplicant,
//! hostapd), `/etc/start_if.IF` scripts, wlans, address ranges, create_args, and
//! routing's predefined loopback and reject routes, `ipv6_default_interface` and its
//! sysctl options.

use super::host::Host;
use super::rcconf::RcConf;
use super::rcifconfig::ifconfig;
use super::rcroute::route_add;
use super::VnetId;
use std::path::Path;

/// One run of the jail's rc against the simulated host.
pub struct JailRc<'a> {
    /// the jail's rc configuration
    pub conf: &'a RcConf,
    /// the jail's root on the host (`path`), for start_if.IF scripts
    pub root: &'a Path,
    /// the jail's vnet
    pub vnet: VnetId,
    /// what rc prints, line by line
    pub out: Vec<String>,
}

/// sh's word splitting of a value rc `eval`s: blanks separate, quotes group.
fn words(s: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The family keywords that start an alias's words.
const AFS: [&str; 4] = ["inet", "inet6", "link", "ether"];

impl JailRc<'_> {
    fn say(&mut self, line: impl Into<String>) {
        self.out.push(line.into());
    }

    /// `ifconfig IF ARGS`, printed, its error printed; whether it succeeded. The
    /// interface's name afterwards is returned through `name` (`name NEW` renames it).
    fn ifconfig(&mut self, h: &mut Host, name: &str, args: &[String], now: u64) -> Option<String> {
        self.say(format!("ifconfig {name} {}", args.join(" ")));
        match ifconfig(h, self.vnet, name, args, now) {
            Ok(n) => Some(n),
            Err(e) => {
                self.say(format!("  {e}"));
                None
            }
        }
    }

    fn ifconfig_str(&mut self, h: &mut Host, name: &str, args: &str, now: u64) -> bool {
        self.ifconfig(h, name, &words(args), now).is_some()
    }

    fn not_emulated(&mut self, what: &str) {
        self.say(format!("  ({what}: not emulated)"));
    }

    /// rc.d/netif `netif_start`: whether an IPv6-configured interface came up (rc then
    /// sleeps for DAD).
    pub fn netif_start(&mut self, h: &mut Host, now: u64) -> bool {
        if !self.conf.yes("netif_enable") {
            self.say("netif: netif_enable is not YES: rc.d/netif does not run");
            return false;
        }
        self.clone_up(h);
        self.ifnet_rename(h, now);
        let mut ok = vec![];
        let mut dadwait = false;
        for ifn in self.list_net_interfaces(h) {
            if self.ifn_start(h, &ifn, now) {
                dadwait |= self.ipv6if(&ifn);
                ok.push(ifn);
            }
        }
        if !ok.is_empty() {
            self.say(format!("Starting Network: {}.", ok.join(" ")));
        }
        dadwait
    }

    fn exists(&self, h: &Host, name: &str) -> bool {
        h.find(self.vnet, name).is_some()
    }

    /// network.subr `clone_up`: `cloned_interfaces`, each made unless it exists.
    fn clone_up(&mut self, h: &mut Host) {
        let mut made = vec![];
        for item in words(self.conf.value("cloned_interfaces")) {
            let ifn = item.split(':').next().unwrap_or_default().to_string();
            let epair =
                ifn.strip_prefix("epair").is_some_and(|u| !u.is_empty() && u.bytes().all(|c| c.is_ascii_digit()));
            let present = if epair {
                self.exists(h, &format!("{ifn}a")) || self.exists(h, &format!("{ifn}b"))
            } else {
                self.exists(h, &ifn)
            };
            if present {
                continue;
            }
            self.say(format!("ifconfig {ifn} create"));
            if self.conf.if_var(&ifn, "create_args_IF").is_some() {
                self.not_emulated(&format!("create_args_{ifn}"));
                continue;
            }
            match h.create(self.vnet, &ifn) {
                Ok(_) if epair => made.extend([format!("{ifn}a"), format!("{ifn}b")]),
                Ok(n) => made.push(n),
                Err(e) => self.say(format!("  ifconfig: SIOCIFCREATE2 ({ifn}): {}", e.text())),
            }
        }
        if !made.is_empty() {
            self.say(format!("Created clone interfaces: {}.", made.join(" ")));
        }
    }

    /// network.subr `ifnet_rename`: every interface (`ifconfig -l`) with `ifconfig_IF_name`.
    fn ifnet_rename(&mut self, h: &mut Host, now: u64) {
        let names: Vec<String> = h.in_vnet(self.vnet).iter().map(|i| i.name.clone()).collect();
        for ifn in names {
            if let Some(new) = self.conf.if_var(&ifn, "ifconfig_IF_name").filter(|n| !n.is_empty()) {
                let new = new.to_string();
                self.ifconfig(h, &ifn, &["name".into(), new], now);
            }
        }
    }

    /// `_ifconfig_getargs IF [ipv6]`: `ifconfig_IF[_ipv6]`, else `ifconfig_DEFAULT`.
    fn raw_args(&self, ifn: &str, ipv6: bool) -> String {
        let var = if ipv6 { "ifconfig_IF_ipv6" } else { "ifconfig_IF" };
        self.conf.if_var(ifn, var).unwrap_or(self.conf.value("ifconfig_DEFAULT")).to_string()
    }

    fn has_word(&self, ifn: &str, ipv6: bool, w: &str) -> bool {
        words(&self.raw_args(ifn, ipv6)).iter().any(|x| x.eq_ignore_ascii_case(w))
    }

    /// `ifconfig_getargs`: without the pseudo-arguments DHCP, NOAUTO, SYNCDHCP, NOSYNCDHCP,
    /// WPA, HOSTAP and `vnet JAIL`.
    fn args(&self, ifn: &str, ipv6: bool) -> Vec<String> {
        let mut out = vec![];
        let mut skip_next = false;
        for w in words(&self.raw_args(ifn, ipv6)) {
            if skip_next {
                skip_next = false;
                continue;
            }
            match w.to_ascii_lowercase().as_str() {
                "dhcp" | "noauto" | "syncdhcp" | "nosyncdhcp" | "wpa" | "hostap" => {}
                "vnet" if w == "vnet" => skip_next = true,
                _ => out.push(w),
            }
        }
        out
    }

    /// `list_net_interfaces`: with `network_interfaces=auto`, every interface not marked
    /// NOAUTO, lo0 first; otherwise the list (and `cloned_interfaces`), lo0 added first.
    fn list_net_interfaces(&self, h: &Host) -> Vec<String> {
        let ni = self.conf.value("network_interfaces");
        if ni.eq_ignore_ascii_case("auto") {
            let all: Vec<String> = h.in_vnet(self.vnet).iter().map(|i| i.name.clone()).collect();
            let auto: Vec<String> = all.into_iter().filter(|i| !self.has_word(i, false, "noauto")).collect();
            let lo = auto.iter().any(|i| i == "lo0");
            return lo.then(|| "lo0".to_string()).into_iter().chain(auto.into_iter().filter(|i| i != "lo0")).collect();
        }
        let mut list = vec![];
        for i in words(ni).into_iter().chain(words(self.conf.value("cloned_interfaces"))) {
            let i = i.split(':').next().unwrap_or_default().to_string();
            if i.strip_prefix("epair").is_some_and(|u| !u.is_empty() && u.bytes().all(|c| c.is_ascii_digit())) {
                list.extend([format!("{i}a"), format!("{i}b")]);
            } else {
                list.push(i);
            }
        }
        if !list.iter().any(|i| i == "lo0") {
            list.insert(0, "lo0".into());
        }
        list
    }

    /// `ipv6if`: lo0, or an interface of `ipv6_network_interfaces` with IPv6 configuration.
    fn ipv6if(&self, ifn: &str) -> bool {
        if ifn == "lo0" {
            return true;
        }
        let list = self.conf.value("ipv6_network_interfaces");
        if !(list.eq_ignore_ascii_case("auto") || words(list).iter().any(|w| w == ifn)) {
            return false;
        }
        !self.raw_args(ifn, true).is_empty()
            || self.conf.if_var(ifn, "ipv6_prefix_IF").is_some_and(|v| !v.is_empty())
            || self.conf.if_var(ifn, "ipv6_ifconfig_IF").is_some_and(|v| !v.is_empty())
    }

    /// `ipv6_autoconfif`: SLAAC wanted (`accept_rtadv` in `ifconfig_IF_ipv6`), not a router,
    /// no `ipv6_prefix_IF`.
    fn ipv6_autoconfif(&self, ifn: &str) -> bool {
        if ["lo", "stf", "lp", "sl"]
            .iter()
            .any(|p| ifn.strip_prefix(p).is_some_and(|u| u.starts_with(|c: char| c.is_ascii_digit())))
        {
            return false;
        }
        if !self.ipv6if(ifn) || self.conf.yes("ipv6_gateway_enable") {
            return false;
        }
        if self.conf.if_var(ifn, "ipv6_prefix_IF").is_some_and(|v| !v.is_empty()) {
            return false;
        }
        self.has_word(ifn, true, "accept_rtadv")
            || words(self.conf.if_var(ifn, "ipv6_ifconfig_IF").unwrap_or("")).iter().any(|w| w == "accept_rtadv")
    }

    fn dhcpif(&self, ifn: &str) -> bool {
        let special = ["lo", "stf", "lp", "sl"]
            .iter()
            .any(|p| ifn.strip_prefix(p).is_some_and(|u| u.starts_with(|c: char| c.is_ascii_digit())));
        !special && ["dhcp", "syncdhcp", "nosyncdhcp"].iter().any(|w| self.has_word(ifn, false, w))
    }

    /// network.subr `ifn_start`: whether anything was configured (ipv6_up counts an
    /// interface without IPv6 configuration as done, so nearly every one is).
    fn ifn_start(&mut self, h: &mut Host, ifn: &str, now: u64) -> bool {
        let mut cfg = false;
        if self.root.join(format!("etc/start_if.{ifn}")).exists() {
            self.say(format!(". /etc/start_if.{ifn}"));
            self.not_emulated("start_if scripts");
            cfg = true;
        }
        cfg |= self.ifconfig_up(h, ifn, now);
        cfg |= self.ipv4_up(h, ifn, now);
        cfg |= self.ipv6_up(h, ifn, now);
        cfg |= self.childif_create(h, ifn, now);
        cfg
    }

    /// network.subr `ifconfig_up`.
    fn ifconfig_up(&mut self, h: &mut Host, ifn: &str, now: u64) -> bool {
        let mut cfg = ifn == "lo0";
        let mut opts: Vec<String> = vec![];
        if self.conf.yes("ipv6_activate_all_interfaces") {
            opts.push("-ifdisabled".into());
        }
        if self.conf.value("ipv6_cpe_wanif") == ifn {
            opts.extend(["-no_radr".into(), "accept_rtadv".into()]);
        }
        if !opts.is_empty() {
            self.ifconfig(h, ifn, &[vec!["inet6".to_string()], opts].concat(), now);
        }
        let args = self.args(ifn, false);
        if !args.is_empty() {
            self.ifconfig(h, ifn, &args, now);
            cfg = true;
        }
        let mut args6 = self.args(ifn, true);
        if !args6.is_empty() {
            // network.subr's case pattern `:*|[0-9a-fA-F]*:*`: an address without its keyword.
            let a = &args6[0];
            if a.starts_with(':') || (a.starts_with(|c: char| c.is_ascii_hexdigit()) && a.contains(':')) {
                self.say(format!("  $ifconfig_{ifn}_ipv6 needs leading \"inet6\" keyword for an IPv6 address."));
                args6.insert(0, "inet6".into());
            }
            self.ifconfig(h, ifn, &["inet6".into(), "-ifdisabled".into()], now);
            self.ifconfig(h, ifn, &args6, now);
            cfg = true;
        }
        if self.conf.if_var(ifn, "ipv6_prefix_IF").is_some_and(|v| !v.is_empty()) {
            self.ifconfig(h, ifn, &["inet6".into(), "-ifdisabled".into()], now);
            cfg = true;
        }
        if let Some(old) = self.conf.if_var(ifn, "ipv6_ifconfig_IF").filter(|v| !v.is_empty()).map(String::from) {
            self.say(format!("  $ipv6_ifconfig_{ifn} is obsolete.  Use ifconfig_{ifn}_ipv6 instead."));
            self.ifconfig(h, ifn, &["inet6".into(), "-ifdisabled".into()], now);
            self.ifconfig_str(h, ifn, &format!("inet6 {old}"), now);
            cfg = true;
        }
        cfg |= self.ifalias(h, ifn, "link", now);
        cfg |= self.ifalias(h, ifn, "ether", now);
        if let Some(d) = self.conf.if_var(ifn, "ifconfig_IF_descr").filter(|d| !d.is_empty()).map(String::from) {
            self.ifconfig(h, ifn, &["description".into(), d], now);
        }
        if self.has_word(ifn, false, "wpa") || self.has_word(ifn, false, "hostap") {
            self.say(format!("/etc/rc.d/wpa_supplicant start {ifn}"));
            self.not_emulated("wpa_supplicant and hostapd");
            cfg = true;
        } else if cfg {
            self.ifconfig(h, ifn, &["up".into()], now);
        }
        if self.ipv6_autoconfif(ifn) {
            self.ifconfig(h, ifn, &["inet6".into(), "accept_rtadv".into(), "up".into()], now);
            self.say(format!("/sbin/rtsol {ifn}"));
            self.say("  (rtsol: not emulated; `jnet-sim ra` plays a router's advertisement)");
            cfg = true;
        }
        if self.dhcpif(ifn) {
            if !cfg {
                self.ifconfig(h, ifn, &["up".into()], now);
            }
            self.say(format!("/etc/rc.d/dhclient start {ifn}"));
            self.not_emulated("dhclient");
            cfg = true;
        }
        cfg
    }

    /// network.subr `ipv4_up`: lo0's 127.0.0.1/8 unless `ifconfig_lo0` is set, then the
    /// IPv4 aliases.
    fn ipv4_up(&mut self, h: &mut Host, ifn: &str, now: u64) -> bool {
        if ifn == "lo0" && self.conf.if_var(ifn, "ifconfig_IF").is_none_or(|v| v.is_empty()) {
            self.ifconfig_str(h, ifn, "inet 127.0.0.1/8 alias", now);
        }
        self.ifalias(h, ifn, "inet", now)
    }

    /// network.subr `ipv6_up`: nothing to do (and done) unless `ipv6if`; then the IPv6
    /// aliases and `ipv6_prefix_IF` (its prefix with the interface's EUI-64).
    fn ipv6_up(&mut self, h: &mut Host, ifn: &str, now: u64) -> bool {
        if !self.ipv6if(ifn) {
            return true;
        }
        let mut ret = self.ifalias(h, ifn, "inet6", now);
        let prefixes = words(self.conf.if_var(ifn, "ipv6_prefix_IF").unwrap_or(""));
        for p in prefixes {
            let (net, len) = p.split_once('/').map_or((p.as_str(), "64"), |(n, l)| (n, l));
            let net = net.trim_end_matches("::").trim_end_matches(':');
            ret |= self.ifconfig_str(h, ifn, &format!("inet6 {net}:: prefixlen {len} eui64 alias"), now);
        }
        ret
    }

    /// network.subr `ifalias` / `ifalias_af_common`: `ifconfig_IF_aliasN` (in numeric order,
    /// stopping at an empty one), `ipv4_addrs_IF` and `ifconfig_IF_aliases`, each group of
    /// family `af` as `ifconfig IF AF ADDR ... alias`.
    fn ifalias(&mut self, h: &mut Host, ifn: &str, af: &str, now: u64) -> bool {
        let vif: String = ifn.chars().map(|c| if ".-/+".contains(c) { '_' } else { c }).collect();
        let prefix = format!("ifconfig_{vif}_alias");
        let mut numbered: Vec<(u64, String)> = self
            .conf
            .with_prefix(&prefix)
            .filter_map(|(k, v)| k[prefix.len()..].parse::<u64>().ok().map(|n| (n, v.to_string())))
            .collect();
        numbered.sort();
        let mut aliasn: Vec<String> = vec![];
        for (n, v) in numbered {
            let first = words(&v).into_iter().next().unwrap_or_default();
            if AFS.contains(&first.as_str()) {
                if first == af {
                    aliasn.push(v);
                }
            } else if v.is_empty() {
                break;
            } else if af == "inet" {
                self.say(format!("  $ifconfig_{vif}_alias{n} needs leading \"inet\" keyword for an IPv4 address."));
                aliasn.push(format!("inet {v}"));
            }
        }
        if af == "inet" {
            for a in words(self.conf.if_var(ifn, "ipv4_addrs_IF").unwrap_or("")) {
                aliasn.push(format!("inet {a}"));
            }
        }
        let all: Vec<String> = words(self.conf.if_var(ifn, "ifconfig_IF_aliases").unwrap_or(""))
            .into_iter()
            .chain(aliasn.iter().flat_map(|a| words(a)))
            .collect();
        let mut groups: Vec<Vec<String>> = vec![];
        for w in all {
            if AFS.contains(&w.as_str()) || groups.is_empty() {
                groups.push(vec![]);
            }
            groups.last_mut().expect("a group").push(w);
        }
        let mut ret = false;
        for g in groups.into_iter().filter(|g| g.first().map(String::as_str) == Some(af) && g.len() > 1) {
            if g[1].contains('-') && g[1].chars().any(|c| c.is_ascii_hexdigit()) && !g[1].contains("--") {
                self.say(format!("ifconfig {ifn} {} alias", g.join(" ")));
                self.not_emulated("address ranges");
                continue;
            }
            ret |= self.ifconfig(h, ifn, &[g, vec!["alias".into()]].concat(), now).is_some();
        }
        ret
    }

    /// network.subr `childif_create`: `vlans_IF` with numeric tags become `IF.TAG` and start.
    fn childif_create(&mut self, h: &mut Host, ifn: &str, now: u64) -> bool {
        let mut cfg = false;
        for child in words(self.conf.if_var(ifn, "vlans_IF").unwrap_or("")) {
            if !child.bytes().all(|c| c.is_ascii_digit()) || child.starts_with('0') {
                self.say(format!("ifconfig vlan create vlandev {ifn}"));
                self.not_emulated("named vlans (vlans_IF with a name)");
                continue;
            }
            let name = format!("{ifn}.{child}");
            self.say(format!("ifconfig {name} create"));
            match h.create(self.vnet, &name) {
                Ok(_) => cfg = true,
                Err(e) => {
                    self.say(format!("  ifconfig: SIOCIFCREATE2 ({name}): {}", e.text()));
                    continue;
                }
            }
            if !self.has_word(&name, false, "noauto") {
                self.ifn_start(h, &name, now);
            }
        }
        cfg
    }

    /// rc.d/routing `static_inet add` and `static_inet6 add`: the default routers, then the
    /// named static routes (a name without its `route_NAME` is warned about).
    pub fn routing_start(&mut self, h: &mut Host) {
        self.say("(routing: the predefined loopback and reject routes are not emulated)");
        for (v6, router, list, var) in [
            (false, "defaultrouter", "static_routes", "route_"),
            (true, "ipv6_defaultrouter", "ipv6_static_routes", "ipv6_route_"),
        ] {
            let mut routes: Vec<(String, Vec<String>)> = vec![];
            for name in words(self.conf.value(list)) {
                let base = name.rsplit_once(':').map_or(name.as_str(), |(b, _)| b).to_string();
                match self.conf.get(&format!("{var}{base}")).filter(|v| !v.is_empty()) {
                    Some(a) => routes.push((base.clone(), words(a))),
                    None => self.say(format!("route_{base} not found.")),
                }
            }
            let gw = self.conf.value(router);
            if !gw.is_empty() && !gw.eq_ignore_ascii_case("no") {
                routes.push(("_default".into(), vec!["default".into(), gw.to_string()]));
            }
            for (_, mut args) in routes {
                if v6 {
                    args.insert(0, "-inet6".into());
                }
                self.say(format!("route add {}", args.join(" ")));
                let (lines, _) = route_add(h, self.vnet, &args);
                for l in lines {
                    self.say(format!("  {l}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_address_without_its_keyword_is_warned_about_and_taken() {
        let mut h = Host::new("u".into(), &["igb0".into()], 10);
        h.modules.insert("if_epair".into());
        let jid = h.create_jail("www", true).unwrap();
        let a = h.create(None, "epair").unwrap();
        let b = format!("{}b", a.trim_end_matches('a'));
        h.move_to_jail(None, &b, jid).unwrap();
        let mut conf = RcConf::defaults();
        conf.source(&format!("ifconfig_{b}_ipv6=\"2001:db8::7/64\"\n")).unwrap();
        let mut rc = JailRc { conf: &conf, root: Path::new("/nonexistent"), vnet: Some(jid), out: vec![] };
        assert!(rc.netif_start(&mut h, 0), "an IPv6 interface: rc waits for DAD");
        assert!(rc.out.iter().any(|l| l.contains("needs leading \"inet6\" keyword")), "{:?}", rc.out);
        assert!(rc.out.contains(&format!("ifconfig {b} inet6 2001:db8::7/64")), "{:?}", rc.out);
        let i = h.find(Some(jid), &b).unwrap();
        assert!(i.addrs.iter().any(|x| x.cidr.to_string() == "2001:db8::7/64"));
    }

    #[test]
    fn words_split_as_sh_after_eval() {
        assert_eq!(
            words("inet 192.0.2.1/24  description 'my net' up"),
            ["inet", "192.0.2.1/24", "description", "my net", "up"]
        );
        assert_eq!(words(""), Vec::<String>::new());
        assert_eq!(words("a \"\" b"), ["a", "", "b"]);
    }
}
