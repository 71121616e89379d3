//! `jnet-sim jail start|stop` as a dry run of FreeBSD 14's jail(8): jail.conf files written the
//! way administrators write them start and stop as on FreeBSD, and broken ones fail as there.

mod common;
use common::*;
use serde_json::Value;

impl Host {
    fn new(tag: &str) -> Host {
        Host::init(&format!("j8-{tag}"), &["--phys", "igb0,igb1"])
    }
    /// Write `files` (name, text) beside the host's state; returns the path of the first.
    fn conf(&self, files: &[(&str, &str)]) -> String {
        let dir = self.path.parent().unwrap();
        for (name, text) in files {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir.join(files[0].0).display().to_string()
    }
    fn start(&self, name: &str, f: &str) -> std::process::Output {
        self.run("jnet-sim", &["jail", "start", name, "-f", f])
    }
    fn stop(&self, name: &str, f: &str) -> std::process::Output {
        self.run("jnet-sim", &["jail", "stop", name, "-f", f])
    }
}

fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn jails(h: &Host) -> Vec<(String, String)> {
    h.show()["jails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["name"].as_str().unwrap().to_string(), j["state"].as_str().unwrap().to_string()))
        .collect()
}

/// The Handbook's layout: /etc/jail.conf with the common lines and an .include of
/// /etc/jail.conf.d/*.conf, one file per jail, hooks with `--` before $name.
#[test]
fn the_handbook_layout_starts_and_stops() {
    let h = Host::new("handbook");
    let f = h.conf(&[
        (
            "jail.conf",
            "exec.clean;\nmount.devfs;\npath = \"/usr/local/jails/containers/${name}\";\nhost.hostname = ${name};\n\
             .include \"jail.conf.d/*.conf\";\n",
        ),
        (
            "jail.conf.d/web.conf",
            "web {\n  vnet;\n  $bridge = bridge0;\n  vnet.interface = \"e0b_${name}\";\n  \
             exec.prestart += \"/usr/local/sbin/jnet-epair -b ${bridge} -u igb0 -- $name\";\n  \
             exec.poststop += \"/usr/local/sbin/jnet-release -- $name\";\n}\n",
        ),
        ("jail.conf.d/db.conf", "db {\n  vnet = new;\n  vnet.interface = e0b_$name;\n  exec.prestart += \"/usr/local/sbin/jnet-epair -b bridge0 -- $name\";\n  exec.poststop += \"/usr/local/sbin/jnet-release -- $name\";\n}\n"),
    ]);
    for j in ["web", "db"] {
        let o = h.start(j, &f);
        assert!(o.status.success(), "{}", text(&o));
    }
    let s = h.show();
    assert_eq!(names(&s, "web"), ["lo0", "e0b_web"]);
    assert_eq!(names(&s, "db"), ["lo0", "e0b_db"]);
    assert_eq!(iface(&s, "host", "bridge0")["members"], serde_json::json!(["igb0", "e0a_web", "e0a_db"]));
    let o = h.start("web", &f);
    assert_eq!(o.status.code(), Some(78), "a running jail is not started again: {}", text(&o));
    assert!(text(&o).contains("jail: web: already exists"));
    for j in ["web", "db"] {
        let o = h.stop(j, &f);
        assert!(o.status.success(), "{}", text(&o));
    }
    assert_eq!(names(&h.show(), "host"), ["lo0", "igb0", "igb1", "bridge0"]);
}

/// Hooks run as jail(8) runs them: a command with a shell metacharacter through /bin/sh -c,
/// others directly; exec.clean leaves PATH=/bin:/usr/bin, so a bare program name or another
/// prefix is not found.
#[test]
fn hook_commands_run_as_jail8_runs_them() {
    let h = Host::new("hooks");
    let f = h.conf(&[(
        "jail.conf",
        "exec.clean;\nwww { vnet; vnet.interface = e0b_$name;\n\
         exec.prestart += \"/usr/local/sbin/jnet-epair -b bridge0 -- $name && echo made by sh\";\n\
         exec.poststop += \"/usr/local/sbin/jnet-release -- $name\"; }\n\
         bare { vnet; exec.prestart += \"jnet-epair -b bridge0 -- $name\"; }\n\
         other { vnet; exec.prestart += \"/usr/local/bin/jnet-epair -b bridge0 -- $name\"; }\n",
    )]);
    let o = h.start("www", &f);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("    made by sh"), "{}", text(&o));
    for j in ["bare", "other"] {
        let before = h.show();
        let o = h.start(j, &f);
        assert!(!o.status.success(), "{j}: {}", text(&o));
        assert!(text(&o).contains(&format!("jail: {j}: exec.prestart")), "{}", text(&o));
        assert_eq!(h.show(), before, "{j}: nothing was made");
    }
    // --prefix names where the programs are on the host the file is for.
    let o = h.run("jnet-sim", &["jail", "start", "other", "-f", &f, "--prefix", "/usr/local/bin"]);
    assert!(o.status.success(), "{}", text(&o));
}

/// vnet as jail(8) takes it; vnet.interface without a vnet fails with the reason.
#[test]
fn vnet_values_and_a_missing_vnet() {
    let h = Host::new("vnet");
    let f = h.conf(&[(
        "jail.conf",
        "t { vnet = true; }\ni { vnet = inherit; }\nn { vnet = 1; }\n\
         novnet { exec.prestart += \"/usr/local/sbin/jnet-epair -b bridge0 -- $name\"; vnet.interface = e0b_$name; }\n",
    )]);
    let o = h.start("t", &f);
    assert_eq!(o.status.code(), Some(65));
    assert!(text(&o).contains("vnet: unknown value \"true\""), "{}", text(&o));
    assert!(h.start("i", &f).status.success());
    assert!(h.start("n", &f).status.success());
    let vnets: Vec<(String, bool)> = h.show()["jails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["name"].as_str().unwrap().to_string(), j["vnet"].as_bool().unwrap()))
        .collect();
    assert_eq!(vnets, [("i".to_string(), false), ("n".to_string(), true)]);
    let o = h.start("novnet", &f);
    assert!(!o.status.success());
    assert!(text(&o).contains("the jail has no vnet of its own: add `vnet;` to it"), "{}", text(&o));
}

/// ip4.addr/ip6.addr go on their interfaces before exec.prestart and come off after
/// exec.poststop; a failing exec.poststop does not stop the rest.
#[test]
fn addresses_and_the_order_of_a_stop() {
    let h = Host::new("order");
    let f = h.conf(&[(
        "jail.conf",
        "web { interface = igb1; ip4.addr = \"192.0.2.7 netmask 255.255.255.0\", \"igb0|198.51.100.7/24\";\n\
         exec.prestart += \"/usr/local/sbin/jnet-sim show --json\";\n\
         exec.poststop += \"/usr/local/sbin/jnet-sim show --json\";\n\
         exec.poststop += /bin/false;\n\
         exec.release += \"/usr/local/sbin/jnet-sim show --json\"; }\n",
    )]);
    let addrs_at = |out: &str, which: usize| -> Vec<String> {
        // The n-th `show --json` a hook printed: the host's IPv4 addresses then.
        let blocks: Vec<&str> = out.split("jnet-sim show --json\n").skip(1).collect();
        let json: String =
            blocks[which].lines().take_while(|l| l.starts_with("    ")).map(|l| &l[4..]).collect::<Vec<_>>().join("\n");
        let s: Value = serde_json::from_str(&json).unwrap();
        vnet(&s, "host")
            .iter()
            .flat_map(|i| i["addrs"].as_array().unwrap().clone())
            .map(|a| a["addr"].as_str().unwrap().to_string())
            .filter(|a| a.contains('.') && !a.starts_with("127."))
            .collect()
    };
    let o = h.start("web", &f);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(addrs_at(&text(&o), 0), ["198.51.100.7", "192.0.2.7"], "on the host before exec.prestart");
    let o = h.stop("web", &f);
    assert!(!o.status.success(), "exec.poststop failed");
    let out = text(&o);
    assert!(out.contains("jail: web: exec.poststop: /bin/false: failed"), "{out}");
    assert_eq!(addrs_at(&out, 0), ["198.51.100.7", "192.0.2.7"], "still there in exec.poststop");
    assert!(addrs_at(&out, 1).is_empty(), "gone before exec.release, which still ran");
}

/// depend starts what it names first and stops it last; a name with a dot is a child.
#[test]
fn depend_and_parent_child_jails() {
    let h = Host::new("depend");
    let f = h.conf(&[("jail.conf", "db { }\nweb { depend = db; }\na { }\na.b { }\nlonely.c { }\n")]);
    let o = h.start("web", &f);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("web: depends on db: starting it first"));
    assert_eq!(jails(&h), [("db".into(), "alive".into()), ("web".into(), "alive".into())]);
    let o = h.stop("db", &f);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("db: web depends on it: stopping web first"));
    assert!(jails(&h).is_empty());
    let o = h.start("lonely.c", &f);
    assert_eq!(o.status.code(), Some(68));
    assert!(text(&o).contains("parent jail \"lonely\" is not running"), "{}", text(&o));
    // A parent the file defines is started first, as jail(8)'s implied dependency.
    let o = h.start("a.b", &f);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("a.b: its parent a is not running: starting it first"), "{}", text(&o));
    assert_eq!(jails(&h), [("a".into(), "alive".into()), ("a.b".into(), "alive".into())]);
    let o = h.stop("a", &f);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("a: stopping its child a.b first"));
    assert!(jails(&h).is_empty());
}

/// Broken files fail as jail(8) fails them.
#[test]
fn broken_files_fail() {
    let h = Host::new("broken");
    for (name, src, want) in [
        ("loop", ".include \"loop.conf\";\nwww { }\n", "maximum include depth exceeded"),
        ("missing", ".include \"nope.conf\";\nwww { }\n", "nope.conf"),
        ("var", "www { path = \"/j/$nope\"; }\n", "variable \"nope\" not found"),
        ("brace", "www { vnet;\n", "block www is not closed"),
    ] {
        let f = h.conf(&[(&format!("{name}.conf"), src)]);
        let o = h.start("www", &f);
        assert_eq!(o.status.code(), Some(65), "{name}: {}", text(&o));
        assert!(text(&o).contains(want), "{name}: {}", text(&o));
    }
    assert!(jails(&h).is_empty());
}

/// ip4.addr's ADDR/MASK may give a dotted netmask (command.c hands ifconfig what follows the
/// '/'): `igb0|192.0.2.25/255.255.255.0` is 192.0.2.25/24 on igb0; a netmask with holes is
/// refused.
#[test]
fn an_ip4_addr_with_a_dotted_netmask() {
    let h = Host::new("netmask");
    let f = h.conf(&[(
        "jail.conf",
        "mail { ip4.addr = \"igb0|192.0.2.25/255.255.255.0\"; }\nbad { ip4.addr = \"igb0|192.0.2.26/255.0.255.0\"; }\n",
    )]);
    let o = h.start("mail", &f);
    assert!(o.status.success(), "{}", text(&o));
    let igb0 = iface(&h.show(), "host", "igb0");
    let a: Vec<(String, u64)> = igb0["addrs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["addr"].as_str().unwrap().contains('.'))
        .map(|a| (a["addr"].as_str().unwrap().to_string(), a["prefixlen"].as_u64().unwrap()))
        .collect();
    assert_eq!(a, [("192.0.2.25".to_string(), 24)]);
    let o = h.start("bad", &f);
    assert!(!o.status.success());
    assert!(text(&o).contains("bad netmask"), "{}", text(&o));
}

/// `jnet-sim jail start|stop -f FILE` with no name acts on every jail of the file, as
/// `jail -c` and `jail -r` (and `service jail start` with an empty jail_list) do: in the
/// file's order, dependencies first when starting, last when stopping.
#[test]
fn every_jail_of_the_file_with_no_name() {
    let h = Host::new("all");
    let f = h.conf(&[("jail.conf", "web { depend = db; }\ndb { }\nhosting { }\nhosting.www { }\n")]);
    let o = h.run("jnet-sim", &["jail", "start", "-f", &f]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    let created: Vec<&str> =
        out.lines().filter(|l| l.contains(": created, jid")).map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(created, ["db", "web", "hosting", "hosting.www"]);
    // Again: they all run, nothing is started twice.
    let o = h.run("jnet-sim", &["jail", "start", "-f", &f]);
    assert!(o.status.success() && !text(&o).contains("created"), "{}", text(&o));
    let o = h.run("jnet-sim", &["jail", "stop", "-f", &f]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(jails(&h).is_empty(), "{:?}", jails(&h));
    let out = text(&o);
    let pos = |s: &str| out.find(s).unwrap_or_else(|| panic!("{s} not in {out}"));
    assert!(pos("hosting.www: removed") < pos("hosting: removed"), "{out}");
    assert!(pos("web: removed") < pos("db: removed"), "{out}");
}

/// Recipe 2 end to end with the jail's own rc: exec.start `/bin/sh /etc/rc` runs rc.d/netif
/// and rc.d/routing from the jail's rc.conf, so the dry run shows the jail end renamed,
/// addressed, described, up, and the routes its rc adds (a link-local IPv6 router included).
#[test]
fn the_jails_rc_configures_its_network() {
    let h = Host::new("rc");
    let dir = h.path.parent().unwrap().display().to_string();
    let f = h.conf(&[
        (
            "jail.conf",
            &format!(
                "path = \"{dir}/jails/$name\";\nexec.start = \"/bin/sh /etc/rc\";\nexec.clean;\n\
                 www {{\n  vnet;\n  exec.prestart += \"/usr/local/sbin/jnet-epair -b bridge0 --uplink igb0 -- $name\";\n  \
                 vnet.interface = \"e0b_$name\";\n  exec.poststop += \"/usr/local/sbin/jnet-release -- $name\";\n}}\n"
            ),
        ),
        (
            "jails/www/etc/rc.conf",
            "hostname=\"www.example.org\"\nsshd_enable=\"YES\"\nifconfig_e0b_www_name=\"net0\"\n\
             ifconfig_net0=\"inet 192.0.2.10/24\"\nifconfig_net0_ipv6=\"inet6 2001:db8::10/64\"\n\
             ifconfig_net0_alias0=\"inet 192.0.2.11/32\"\nifconfig_net0_descr=\"www uplink\"\n\
             defaultrouter=\"192.0.2.1\"\nipv6_defaultrouter=\"fe80::1%net0\"\n\
             static_routes=\"lan\"\nroute_lan=\"-net 198.51.100.0/24 192.0.2.254\"\n",
        ),
    ]);
    let o = h.start("www", &f);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    for line in [
        "www: exec.start: /bin/sh /etc/rc",
        "    ifconfig e0b_www name net0",
        "    ifconfig net0 inet 192.0.2.10/24",
        "    ifconfig net0 inet6 -ifdisabled",
        "    ifconfig net0 inet 192.0.2.11/32 alias",
        "    ifconfig net0 description www uplink",
        "    ifconfig net0 up",
        "    Starting Network: lo0 net0.",
        "    route add -net 198.51.100.0/24 192.0.2.254",
        "      add net 198.51.100.0/24: gateway 192.0.2.254",
        "      add net default: gateway 192.0.2.1",
        "    route add -inet6 default fe80::1%net0",
        "      add net default: gateway fe80::1%net0",
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} not in:\n{out}");
    }
    let s = h.show();
    assert_eq!(names(&s, "www"), ["lo0", "net0"]);
    let lo0 = iface(&s, "www", "lo0");
    // `ifconfig lo0 up` (ifconfig_up) runs before ipv4_up adds 127.0.0.1, as `ifconfig lo0`
    // in a FreeBSD jail lists them: inet6 ::1, fe80::1%lo0, then inet 127.0.0.1.
    assert_eq!(addrs(&lo0), ["::1/128", "fe80::1/64", "127.0.0.1/8"]);
    let net0 = iface(&s, "www", "net0");
    assert_eq!(net0["description"], "www uplink");
    assert!(net0["flags"].as_array().unwrap().contains(&"UP".into()), "{net0}");
    let mut a = addrs(&net0);
    let ll = a.iter().position(|x| x.starts_with("fe80::")).map(|p| a.remove(p));
    assert!(ll.is_some(), "the link-local address came with up: {net0}");
    assert_eq!(a, ["192.0.2.10/24", "2001:db8::10/64", "192.0.2.11/32"]);
    let tentative =
        net0["addrs"].as_array().unwrap().iter().any(|x| x["flags"].as_array().unwrap().contains(&"TENTATIVE".into()));
    assert!(!tentative, "rc waits for DAD before routing: {net0}");
    let v = s["vnets"].as_array().unwrap().iter().find(|v| v["jail"] == "www").unwrap().clone();
    let routes: Vec<(String, String)> = v["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["dest"].as_str().unwrap().into(), r["gateway"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        routes,
        [
            ("198.51.100.0/24".into(), "192.0.2.254".into()),
            ("0.0.0.0/0".into(), "192.0.2.1".into()),
            ("::/0".into(), "fe80::1%net0".into())
        ]
    );
    let text_show = h.ok("jnet-sim", &["show"]);
    assert!(
        text_show
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["default", "fe80::1%net0", "UGS", "net0"]),
        "{text_show}"
    );
    // The host is as jnet-epair left it: rc ran in the jail's vnet only.
    assert!(names(&h.show(), "host").contains(&"e0a_www".to_string()));
    let o = h.stop("www", &f);
    assert!(o.status.success(), "{}", text(&o));
}

/// What rc prints when it meets what jnet already did, and where it does not run: a route
/// jnet's --gateway set is "already in table" (rc goes on, the jail starts); a jail without a
/// vnet of its own skips netif and routing; without rc.conf the network stays as it is; a
/// construct the emulation cannot read is said, not guessed.
#[test]
fn the_jails_rc_meets_jnet_and_its_limits() {
    let h = Host::new("rc2");
    let dir = h.path.parent().unwrap().display().to_string();
    let f = h.conf(&[
        (
            "jail.conf",
            &format!(
                "path = \"{dir}/jails/$name\";\nexec.start = \"/bin/sh /etc/rc\";\n\
                 gw {{\n  vnet;\n  exec.created += \"/usr/local/sbin/jnet-epair -b jails0 --bridge-addr 10.8.0.1/24 --ifname vnet0 --addr 10.8.0.10/24 --gateway 10.8.0.1 -- $name\";\n  \
                 exec.poststop += \"/usr/local/sbin/jnet-release --prune -- $name\";\n}}\n\
                 shared {{ ip4.addr = \"igb0|192.0.2.30/24\"; }}\nbare {{ vnet; }}\nodd {{ vnet; }}\n"
            ),
        ),
        ("jails/gw/etc/rc.conf", "defaultrouter=\"10.8.0.1\"\nifconfig_vnet0_descr=\"jails\"\n"),
        ("jails/shared/etc/rc.conf", "ifconfig_igb0=\"inet 203.0.113.9/24\"\n"),
        ("jails/odd/etc/rc.conf", "if [ -f /x ]; then ifconfig_e0=up; fi\n"),
    ]);
    let o = h.start("gw", &f);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("      route: writing to routing socket: File exists\n      add net default: gateway 10.8.0.1 fib 0: route already in table\n"), "{out}");
    assert_eq!(iface(&h.show(), "gw", "vnet0")["description"], "jails", "{out}");
    let o = h.start("shared", &f);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("rc.d/netif and rc.d/routing do not run in a jail without a vnet of its own"),
        "{}",
        text(&o)
    );
    assert!(!addrs(&iface(&h.show(), "host", "igb0")).contains(&"203.0.113.9/24".to_string()));
    let o = h.start("bare", &f);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("no {dir}/jails/bare/etc/rc.conf: the jail's rc leaves the network as it is")),
        "{}",
        text(&o)
    );
    let lo0 = iface(&h.show(), "bare", "lo0");
    assert!(addrs(&lo0).is_empty() && !lo0["flags"].as_array().unwrap().contains(&"UP".into()), "{lo0}");
    let o = h.start("odd", &f);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("line 1: not an assignment: \"if [ -f /x ]; then ifconfig_e0=up; fi\""), "{}", text(&o));
    assert!(text(&o).contains("the network part of the jail's rc is not emulated"), "{}", text(&o));
}

/// What jail(8) does after a failing command, phase by phase (jail.c startcommands and
/// stopcommands, command.c next_command): a start turns back, undoing addresses and the jail
/// and running no hook; a jail whose dependency failed is skipped; a stop ends where it
/// failed while the jail exists, and after the removal every later command still runs.
#[test]
fn failures_phase_by_phase_as_jail8() {
    let h = Host::new("fail");
    let show_cmd = "/usr/local/sbin/jnet-sim show --json";
    let f = h.conf(&[(
        "jail.conf",
        &format!(
            "db {{ exec.prestart = /bin/false; }}\nweb {{ depend = db; }}\n\
             prep {{ ip4.addr = \"igb0|192.0.2.7/24\"; exec.prepare = \"{show_cmd}\"; exec.prepare += /bin/false; }}\n\
             addrs {{ ip4.addr = \"igb0|192.0.2.8/24\", \"nope0|192.0.2.9/24\"; }}\n\
             post {{ ip4.addr = \"igb1|198.51.100.9/24\"; exec.poststop = /bin/false; exec.poststop += \"/bin/echo second poststop\";\n  \
               exec.release = \"/bin/echo released\"; }}\n\
             pre {{ exec.prestop = /bin/false; exec.poststop = \"/bin/echo poststop\"; }}\n"
        ),
    )]);
    let v4 = |h: &Host, nic: &str| -> Vec<String> {
        addrs(&iface(&h.show(), "host", nic)).into_iter().filter(|a| a.contains('.')).collect()
    };
    // A dependency that fails: the jail that needs it is skipped.
    let o = h.start("web", &f);
    assert!(!o.status.success());
    assert!(text(&o).contains("jail: web: skipped"), "{}", text(&o));
    assert!(jails(&h).is_empty(), "{:?}", jails(&h));
    // exec.prepare runs before the addresses: when it fails, none were added.
    let o = h.start("prep", &f);
    assert!(!o.status.success());
    let out = text(&o);
    let json: String = out
        .split(&format!("exec.prepare: {show_cmd}\n"))
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| l.starts_with("    "))
        .map(|l| &l[4..])
        .collect::<Vec<_>>()
        .join("\n");
    let at_prepare: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(!addrs(&iface(&at_prepare, "host", "igb0")).contains(&"192.0.2.7/24".to_string()));
    assert!(v4(&h, "igb0").is_empty());
    // The second address cannot be added: the first is taken off again.
    let o = h.start("addrs", &f);
    assert!(!o.status.success());
    assert!(v4(&h, "igb0").is_empty(), "{:?}", v4(&h, "igb0"));
    assert!(jails(&h).is_empty());
    // After the removal, a failing exec.poststop does not stop the rest.
    assert!(h.start("post", &f).status.success());
    let o = h.stop("post", &f);
    assert!(!o.status.success());
    let out = text(&o);
    for l in ["    second poststop", "    released"] {
        assert!(out.lines().any(|x| x == l), "{l}: {out}");
    }
    assert!(v4(&h, "igb1").is_empty(), "the addresses went too");
    // A failing exec.prestop ends the stop: the jail runs on, no exec.poststop.
    assert!(h.start("pre", &f).status.success());
    let o = h.stop("pre", &f);
    assert!(!o.status.success());
    assert!(!text(&o).contains("    poststop"), "{}", text(&o));
    assert_eq!(jails(&h), [("pre".to_string(), "alive".to_string())]);
}

/// The same jail stopped twice at once, and a dependency cascade racing a stop of the
/// dependent: both `jail -r` go through (the one that finds the jail gone goes on as
/// jail(8) does, whose jail_remove stops only on EPERM), both run exec.poststop, and
/// nothing of the jails is left.
#[test]
fn concurrent_stops_go_through() {
    let h = Host::new("concurrent");
    let f = h.conf(&[(
        "jail.conf",
        "www { vnet; vnet.interface = \"e0b_$name\";\n  \
           exec.prestart += \"/usr/local/sbin/jnet-epair -b bridge0 -- $name\";\n  \
           exec.prestop += \"/bin/sleep 0.4\";\n  exec.poststop += \"/usr/local/sbin/jnet-release -- $name\"; }\n\
         db { vnet; vnet.interface = \"e0b_$name\";\n  \
           exec.prestart += \"/usr/local/sbin/jnet-epair -b bridge0 -- $name\";\n  \
           exec.poststop += \"/usr/local/sbin/jnet-release -- $name\"; }\n\
         web { vnet; depend = db; vnet.interface = \"e0b_$name\";\n  \
           exec.prestart += \"/usr/local/sbin/jnet-epair -b bridge0 -- $name\";\n  \
           exec.prestop += \"/bin/sleep 0.4\";\n  exec.poststop += \"/usr/local/sbin/jnet-release -- $name\"; }\n",
    )]);
    let stop_bg = |name: &str| {
        std::process::Command::new(common::bin("jnet-sim"))
            .args(["jail", "stop", name, "-f", &f])
            .env("JNET_SIM", &h.path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    for round in 0..3 {
        assert!(h.start("www", &f).status.success());
        let (a, b) = (stop_bg("www"), stop_bg("www"));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        assert!(a.status.success() && b.status.success(), "round {round}: {}\n{}", text(&a), text(&b));
        let both = format!("{}{}", text(&a), text(&b));
        assert_eq!(both.matches("www: exec.poststop:").count(), 2, "{both}");
        assert!(both.contains("www: removed (already, by another jail -r)"), "{both}");
        assert!(jails(&h).iter().all(|(_, s)| s != "alive"));
        let host = names(&h.show(), "host");
        assert!(!host.iter().any(|n| n.ends_with("_www")), "{host:?}");
    }
    // Stopping db stops web first; a `jail -r web` at the same moment does not break it.
    assert!(h.start("web", &f).status.success());
    let (a, b) = (stop_bg("db"), stop_bg("web"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success(), "{}\n{}", text(&a), text(&b));
    assert!(jails(&h).iter().all(|(_, s)| s != "alive"), "{:?}", jails(&h));
    let host = names(&h.show(), "host");
    assert!(!host.iter().any(|n| n.ends_with("_web") || n.ends_with("_db")), "{host:?}");
}

/// Recipe 7 end to end with the jail's own rc renaming the lent NIC (issue 20, 7):
/// `ifconfig_igb2_name="net0"` in the jail's rc.conf, then `jail -r` with the vnet
/// lingering 60 s: jnet-nic --track in exec.prestop notes net0, and exec.poststop brings
/// igb2 home at once, under its own name, as it was recorded.
#[test]
fn recipe7_with_the_jails_rc_renaming_the_nic() {
    let h = Host::init("j8-r7rc", &["--phys", "igb0,igb2"]);
    let dir = h.path.parent().unwrap().display().to_string();
    let f = {
        let conf = format!(
            "path = \"{dir}/jails/$name\";\nexec.start = \"/bin/sh /etc/rc\";\n\
             dmz {{\n  vnet;\n  vnet.interface = \"igb2\";\n  \
             exec.prestart += \"/usr/local/sbin/jnet-nic --iface igb2 -- $name\";\n  \
             exec.prestop += \"/usr/local/sbin/jnet-nic --track --iface igb2 -- $name\";\n  \
             exec.poststop += \"/usr/local/sbin/jnet-release --iface igb2 --wait 30 -- $name\";\n}}\n"
        );
        h.conf(&[
            ("jail.conf", &conf),
            ("jails/dmz/etc/rc.conf", "ifconfig_igb2_name=\"net0\"\nifconfig_net0=\"inet 192.0.2.50/24\"\n"),
        ])
    };
    h.ok("jnet-sim", &["ifconfig", "igb2", "description", "dmz uplink"]);
    let before = iface(&h.show(), "host", "igb2");
    let o = h.start("dmz", &f);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("    ifconfig igb2 name net0"), "{}", text(&o));
    let net0 = iface(&h.show(), "dmz", "net0");
    assert_eq!(addrs(&net0), ["192.0.2.50/24"]);
    let t = std::time::Instant::now();
    let o = h.run("jnet-sim", &["jail", "stop", "dmz", "-f", &f, "--linger", "60"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(t.elapsed() < std::time::Duration::from_secs(5), "back at once, not after the linger");
    assert!(text(&o).contains("exec.prestop: /usr/local/sbin/jnet-nic --track"), "{}", text(&o));
    let s = h.show();
    let igb2 = iface(&s, "host", "igb2");
    for key in ["description", "groups", "mac", "mtu", "driver"] {
        assert_eq!(igb2[key], before[key], "{key}: {igb2}");
    }
    assert_eq!(jails(&h), [("dmz".to_string(), "dying".to_string())], "the vnet still lingers");
}
