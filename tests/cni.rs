//! jnet-cni driven the way container runtimes drive it: through the CNI project's own libcni
//! (tests/cni/driver.go, built offline in GOPATH mode against Debian's
//! golang-github-appc-cni-dev) with Debian's host-local IPAM plugin, against the simulated
//! host, and the exact kernel state, leases and records each step leaves. GC and STATUS,
//! which that libcni (1.1.2) does not offer, are run as a spec 1.1.0 runtime runs them: the
//! plugin executed with the CNI_* environment and its configuration on stdin.

mod common;
use common::*;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const LIBCNI: &str = "/usr/share/gocode/src/github.com/containernetworking/cni/libcni";
const HOST_LOCAL: &str = "/usr/lib/cni/host-local";

/// The libcni driver, built once per run into cargo's target directory.
fn driver() -> &'static Path {
    static DRIVER: OnceLock<PathBuf> = OnceLock::new();
    DRIVER.get_or_init(|| {
        let missing = !Path::new(LIBCNI).is_dir() || !Path::new(HOST_LOCAL).is_file();
        let go = Command::new("go").arg("version").output();
        assert!(
            !missing && go.is_ok_and(|o| o.status.success()),
            "jnet-cni's tests need Go, libcni and host-local: apt-get install golang-go golang-github-appc-cni-dev \
             containernetworking-plugins (.ci/run installs them)"
        );
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let out = tmp.join("cni-driver");
        let o = Command::new("go")
            .args(["build", "-o"])
            .arg(&out)
            .arg("tests/cni/driver.go")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("GOPATH", "/usr/share/gocode")
            .env("GO111MODULE", "off")
            .env("GOPROXY", "off")
            .env("GOCACHE", tmp.join("go-cache"))
            .env("GOTMPDIR", &tmp)
            .output()
            .unwrap();
        assert!(o.status.success(), "go build tests/cni/driver.go: {}", String::from_utf8_lossy(&o.stderr));
        out
    })
}

/// A host with VNET jails, the plugin directory a runtime would search, host-local's lease
/// directory and libcni's result cache, all in the host's scratch directory.
struct Runtime {
    host: Host,
    dir: PathBuf,
    conf: Value,
}

impl Runtime {
    fn new(tag: &str, jails: &[String], mut plugin: Value) -> Runtime {
        let host = Host::init(&format!("cni-{tag}"), &["--phys", "igb0"]);
        for j in jails {
            host.ok("jnet-sim", &["jail", "create", j, "--vnet"]);
        }
        let dir = host.path.parent().unwrap().to_path_buf();
        let plugins = dir.join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        std::os::unix::fs::symlink(bin("jnet-cni"), plugins.join("jnet-cni")).unwrap();
        std::os::unix::fs::symlink(HOST_LOCAL, plugins.join("host-local")).unwrap();
        if plugin["ipam"]["type"] == "host-local" {
            plugin["ipam"]["dataDir"] = json!(dir.join("ipam"));
        }
        plugin["type"] = json!(plugin["type"].as_str().unwrap_or("jnet-cni"));
        let conf = json!({ "cniVersion": "1.0.0", "name": "jails", "plugins": [plugin] });
        std::fs::write(dir.join("net.conflist"), conf.to_string()).unwrap();
        Runtime { host, dir, conf }
    }

    /// libcni's ADD, CHECK, DEL or VERSION: (succeeded, what it printed).
    fn libcni(&self, op: &str, container: &str, netns: &str, ifname: &str) -> (bool, Value) {
        let d = &self.dir;
        let o = Command::new(driver())
            .arg(op)
            .arg(d.join("net.conflist"))
            .args([container, netns, ifname])
            .arg(d.join("cache"))
            .arg(d.join("plugins"))
            .env("JNET_SIM", &self.host.path)
            .env_remove("JNET_LOG")
            .output()
            .unwrap();
        let text = String::from_utf8(o.stdout).unwrap();
        let v = if text.trim().is_empty() { Value::Null } else { serde_json::from_str(&text).expect(&text) };
        (o.status.success(), v)
    }

    /// libcni's ADD of `container` into `netns` as eth0, refused with `code`: its message.
    fn add_fails(&self, container: &str, netns: &str, code: u64) -> String {
        let (ok, e) = self.libcni("add", container, netns, "eth0");
        assert!(!ok, "ADD {container} succeeded");
        assert_eq!(e["code"], json!(code), "{e}");
        e["msg"].as_str().unwrap().to_string()
    }

    fn ok(&self, op: &str, container: &str, netns: &str, ifname: &str) -> Value {
        let (ok, v) = self.libcni(op, container, netns, ifname);
        assert!(ok, "libcni {op} {container}: {v}");
        v
    }

    /// The plugin run directly, as a runtime of spec 1.1.0 runs GC and STATUS: exit status
    /// and stdout.
    fn exec(&self, command: &str, env: &[(&str, &str)], stdin: &Value) -> (i32, Value) {
        let mut c = Command::new(bin("jnet-cni"));
        c.env("CNI_COMMAND", command)
            .env("CNI_PATH", self.dir.join("plugins"))
            .env("JNET_SIM", &self.host.path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().unwrap();
        // A request refused before its configuration is read (a bad CNI_COMMAND) closes
        // stdin unread: a broken pipe here is the plugin's answer, not the test's failure.
        let _ = child.stdin.take().unwrap().write_all(stdin.to_string().as_bytes());
        let o = child.wait_with_output().unwrap();
        let text = String::from_utf8(o.stdout).unwrap();
        let v = if text.trim().is_empty() { Value::Null } else { serde_json::from_str(&text).expect(&text) };
        (o.status.code().unwrap(), v)
    }

    /// The plugin's configuration as libcni hands it over (name and version injected).
    fn plugin_conf(&self, version: &str) -> Value {
        let mut p = self.conf["plugins"][0].clone();
        p["name"] = json!("jails");
        p["cniVersion"] = json!(version);
        p
    }

    /// host-local's leases: address → "container\r\nifname".
    fn leases(&self) -> Vec<(String, String)> {
        let d = self.dir.join("ipam/jails");
        let mut out: Vec<(String, String)> = match std::fs::read_dir(&d) {
            Ok(r) => r
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n != "lock" && !n.starts_with("last_reserved_ip"))
                .map(|n| {
                    let owner = std::fs::read_to_string(d.join(&n)).unwrap();
                    (n, owner.lines().next().unwrap_or_default().trim().to_string())
                })
                .collect(),
            Err(_) => vec![],
        };
        out.sort();
        out
    }

    /// jnet-cni's records.
    fn records(&self) -> Vec<String> {
        let d = jnet::sim::SimFiles::new(&self.host.path).run_dir().join("cni");
        let mut out: Vec<String> = match std::fs::read_dir(d) {
            Ok(r) => r.map(|e| e.unwrap().file_name().into_string().unwrap()).collect(),
            Err(_) => vec![],
        };
        out.sort();
        out
    }

    /// libcni's cached results.
    fn cached(&self) -> usize {
        std::fs::read_dir(self.dir.join("cache/results")).map(|r| r.count()).unwrap_or(0)
    }
}

fn bridge_conf() -> Value {
    json!({
        "type": "jnet-cni", "bridge": "cni0", "isGateway": true, "isDefaultGateway": true,
        "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.88.0.0/16" }]] }
    })
}

fn routes(s: &Value, jail: &str) -> Value {
    s["vnets"].as_array().unwrap().iter().find(|v| v["jail"] == json!(jail)).unwrap()["routes"].clone()
}

/// The host as it is before any container: lo0, the NIC and nothing else.
fn assert_bare_host(s: &Value, bridge: Option<&str>) {
    let mut want = vec!["lo0", "igb0"];
    want.extend(bridge);
    assert_eq!(names(s, "host"), want, "{s}");
    if let Some(b) = bridge {
        assert_eq!(iface(s, "host", b)["members"], json!([]));
    }
}

#[test]
fn libcni_add_check_del_and_del_again() {
    let rt = Runtime::new("life", &["c1".into()], bridge_conf());
    // VERSION, as libcni reads it.
    assert_eq!(rt.ok("version", "c1id", "c1", "eth0"), json!(["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]));

    let r = rt.ok("add", "c1id", "c1", "eth0");
    let s = rt.host.show();
    let (host_mac, jail_mac) = (iface(&s, "host", "e0a_c1")["mac"].clone(), iface(&s, "c1", "eth0")["mac"].clone());
    assert_eq!(
        r,
        json!({
            "cniVersion": "1.0.0",
            "interfaces": [
                { "name": "e0a_c1", "mac": host_mac },
                { "name": "eth0", "mac": jail_mac, "sandbox": "c1" },
            ],
            "ips": [{ "interface": 1, "address": "10.88.0.2/16", "gateway": "10.88.0.1" }],
            "routes": [{ "dst": "0.0.0.0/0", "gw": "10.88.0.1" }],
            "dns": {},
        })
    );
    // The kernel: the bridge with the gateway address and the host end, the jail's eth0 with
    // the leased address and the default route, jnet's marks on the host end.
    assert_eq!(names(&s, "host"), ["lo0", "igb0", "cni0", "e0a_c1"]);
    let cni0 = iface(&s, "host", "cni0");
    assert_eq!((cni0["members"].clone(), addrs(&cni0)), (json!(["e0a_c1"]), vec!["10.88.0.1/16".to_string()]));
    let host_end = iface(&s, "host", "e0a_c1");
    assert_eq!(
        (host_end["description"].clone(), host_end["groups"].clone()),
        (json!("jnet:c1:epair0a"), json!(["all", "epair", "jnet"]))
    );
    assert_eq!(names(&s, "c1"), ["lo0", "eth0"]);
    assert_eq!(addrs(&iface(&s, "c1", "eth0")), ["10.88.0.2/16"]);
    assert_eq!(iface(&s, "c1", "eth0")["up"], json!(true));
    assert_eq!(routes(&s, "c1"), json!([{ "dest": "0.0.0.0/0", "gateway": "10.88.0.1", "flags": "UGS" }]));
    assert_eq!(rt.leases(), [("10.88.0.2".to_string(), "c1id".to_string())]);
    assert_eq!(rt.records(), ["e0a_c1.json"]);
    assert_eq!(rt.cached(), 1);

    rt.ok("check", "c1id", "c1", "eth0");
    assert_eq!(rt.host.show(), s, "CHECK changed the host");

    rt.ok("del", "c1id", "c1", "eth0");
    let after = rt.host.show();
    assert_bare_host(&after, Some("cni0"));
    assert_eq!(addrs(&iface(&after, "host", "cni0")), ["10.88.0.1/16"], "the gateway stays with the bridge");
    assert_eq!(names(&after, "c1"), ["lo0"]);
    assert_eq!(routes(&after, "c1"), json!([]));
    assert!(rt.leases().is_empty() && rt.records().is_empty() && rt.cached() == 0);

    // DEL again: success, nothing changes.
    rt.ok("del", "c1id", "c1", "eth0");
    assert_eq!(rt.host.show(), after);
    // CHECK of what is gone fails (libcni has no cached result left to give it).
    assert!(!rt.libcni("check", "c1id", "c1", "eth0").0);
}

#[test]
fn the_ipam_results_routes_go_into_the_jail() {
    let mut conf = bridge_conf();
    conf["ipam"]["ranges"] = json!([
        [{ "subnet": "10.88.0.0/16" }],
        [{ "subnet": "2001:db8:88::/64" }],
    ]);
    conf["ipam"]["routes"] = json!([
        { "dst": "198.51.100.0/24", "gw": "10.88.0.254" },
        { "dst": "2001:db8:99::/48" },
        { "dst": "::/0" },
    ]);
    let rt = Runtime::new("routes", &["c1".into()], conf);
    let r = rt.ok("add", "c1id", "c1", "eth0");
    assert_eq!(
        r["routes"],
        json!([
            { "dst": "198.51.100.0/24", "gw": "10.88.0.254" },
            { "dst": "2001:db8:99::/48", "gw": "2001:db8:88::1" },
            { "dst": "::/0", "gw": "2001:db8:88::1" },
            { "dst": "0.0.0.0/0", "gw": "10.88.0.1" },
        ])
    );
    let s = rt.host.show();
    // IPv6 enabled on it, the interface has its link-local address too.
    let a = addrs(&iface(&s, "c1", "eth0"));
    assert_eq!(a[1..], ["10.88.0.2/16", "2001:db8:88::2/64"]);
    assert!(a[0].starts_with("fe80::") && a[0].ends_with("/64"), "{a:?}");
    assert_eq!(
        routes(&s, "c1"),
        json!([
            { "dest": "::/0", "gateway": "2001:db8:88::1", "flags": "UGS" },
            { "dest": "0.0.0.0/0", "gateway": "10.88.0.1", "flags": "UGS" },
            { "dest": "198.51.100.0/24", "gateway": "10.88.0.254", "flags": "UGS" },
            { "dest": "2001:db8:99::/48", "gateway": "2001:db8:88::1", "flags": "UGS" },
        ])
    );
    // The bridge's IPv6 gateway address comes with its link-local address, which a router
    // advertisement from the host would need.
    let b = addrs(&iface(&s, "host", "cni0"));
    assert_eq!(b[..2], ["10.88.0.1/16", "2001:db8:88::1/64"]);
    assert!(b.len() == 3 && b[2].starts_with("fe80::") && b[2].ends_with("/64"), "{b:?}");
    rt.ok("check", "c1id", "c1", "eth0");
    rt.ok("del", "c1id", "c1", "eth0");
    let s = rt.host.show();
    assert_eq!(routes(&s, "c1"), json!([]));
    assert!(rt.leases().is_empty() && rt.records().is_empty());
}

#[test]
fn thirty_two_containers_in_parallel() {
    let jails: Vec<String> = (0..32).map(|i| format!("c{i}")).collect();
    let mut conf = bridge_conf();
    conf["prune"] = json!(true);
    let rt = Runtime::new("parallel", &jails, conf);
    let results: Vec<Value> = std::thread::scope(|sc| {
        let rt = &rt;
        let hs: Vec<_> = jails.iter().map(|j| sc.spawn(move || rt.ok("add", &format!("{j}id"), j, "eth0"))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let s = rt.host.show();
    let mut seen: Vec<String> = vec![];
    for (j, r) in jails.iter().zip(&results) {
        let a = r["ips"][0]["address"].as_str().unwrap().to_string();
        assert_eq!(addrs(&iface(&s, j, "eth0")), std::slice::from_ref(&a), "{j}");
        assert_eq!(routes(&s, j), json!([{ "dest": "0.0.0.0/0", "gateway": "10.88.0.1", "flags": "UGS" }]));
        assert!(!seen.contains(&a), "{a} given twice");
        seen.push(a);
    }
    let mut members: Vec<String> =
        iface(&s, "host", "cni0")["members"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().into()).collect();
    members.sort();
    let mut want: Vec<String> = jails.iter().map(|j| format!("e0a_{j}")).collect();
    want.sort();
    assert_eq!(members, want);
    assert_eq!(addrs(&iface(&s, "host", "cni0")), ["10.88.0.1/16"]);
    assert_eq!(rt.leases().len(), 32);
    assert_eq!(rt.records().len(), 32);

    std::thread::scope(|sc| {
        for j in &jails {
            let rt = &rt;
            sc.spawn(move || rt.ok("del", &format!("{j}id"), j, "eth0"));
        }
    });
    // With prune, the last DEL took the bridge too: nothing is left.
    let s = rt.host.show();
    assert_bare_host(&s, None);
    for j in &jails {
        assert_eq!(names(&s, j), ["lo0"], "{j}");
    }
    assert!(rt.leases().is_empty() && rt.records().is_empty() && rt.cached() == 0);
}

#[test]
fn prune_takes_the_bridge_with_its_last_attachment_and_never_the_admins() {
    let mut conf = bridge_conf();
    conf["prune"] = json!(true);
    let rt = Runtime::new("prune", &["c1".into(), "c2".into(), "c3".into()], conf);
    rt.ok("add", "c1id", "c1", "eth0");
    rt.ok("add", "c2id", "c2", "eth0");
    rt.ok("del", "c1id", "c1", "eth0");
    assert_eq!(names(&rt.host.show(), "host"), ["lo0", "igb0", "cni0", "e0a_c2"], "c2 is still on it");
    rt.ok("del", "c2id", "c2", "eth0");
    assert_bare_host(&rt.host.show(), None);
    // GC prunes too.
    rt.ok("add", "c3id", "c3", "eth0");
    let mut gc = rt.plugin_conf("1.1.0");
    gc["cni.dev/valid-attachments"] = json!([]);
    assert_eq!(rt.exec("GC", &[], &gc), (0, Value::Null));
    assert_bare_host(&rt.host.show(), None);
    assert!(rt.leases().is_empty() && rt.records().is_empty());

    // A bridge of the administrator's is never taken, members or not.
    let mut conf = bridge_conf();
    conf["prune"] = json!(true);
    conf["isGateway"] = json!(false);
    conf["isDefaultGateway"] = json!(false);
    let rt = Runtime::new("prune-admin", &["c1".into()], conf);
    rt.host.ok("jnet-sim", &["ifconfig", "bridge", "create"]);
    rt.host.ok("jnet-sim", &["ifconfig", "bridge0", "name", "cni0"]);
    rt.ok("add", "c1id", "c1", "eth0");
    rt.ok("del", "c1id", "c1", "eth0");
    assert_bare_host(&rt.host.show(), Some("cni0"));
}

#[test]
fn a_failing_ipam_or_epair_leaves_nothing_behind() {
    // One address in the range: the second container cannot have one.
    let mut conf = bridge_conf();
    conf["ipam"]["ranges"] =
        json!([[{ "subnet": "10.99.0.0/24", "rangeStart": "10.99.0.10", "rangeEnd": "10.99.0.10" }]]);
    let rt = Runtime::new("ipamfail", &["c1".into(), "c2".into()], conf);
    rt.ok("add", "c1id", "c1", "eth0");
    let before = rt.host.show();
    let (ok, e) = rt.libcni("add", "c2id", "c2", "eth0");
    assert!(!ok);
    assert!(e["msg"].as_str().unwrap().starts_with("IPAM plugin host-local ADD: "), "{e}");
    assert_eq!(rt.host.show(), before, "a failed IPAM changed the kernel");
    assert_eq!(rt.records(), ["e0a_c1.json"]);
    assert_eq!(rt.leases(), [("10.99.0.10".to_string(), "c1id".to_string())]);
    // The runtime's DEL after a failed ADD succeeds and changes nothing.
    rt.ok("del", "c2id", "c2", "eth0");
    assert_eq!(rt.host.show(), before);

    // IPAM gives an address, then the epair cannot be made (the "bridge" is the NIC): the
    // address is given back.
    let mut conf = bridge_conf();
    conf["bridge"] = json!("igb0");
    let rt = Runtime::new("epairfail", &["c1".into()], conf);
    let before = rt.host.show();
    let msg = rt.add_fails("c1id", "c1", 178);
    assert!(msg.contains("igb0"), "{msg}");
    assert_eq!(rt.host.show(), before);
    assert!(rt.leases().is_empty() && rt.records().is_empty());

    // An IPAM plugin that is not installed: the spec's "invalid configuration", nothing made.
    let mut conf = bridge_conf();
    conf["ipam"] = json!({ "type": "no-such-ipam" });
    let rt = Runtime::new("noipam", &["c1".into()], conf);
    let before = rt.host.show();
    let msg = rt.add_fails("c1id", "c1", 7);
    assert!(msg.contains("not in CNI_PATH"), "{msg}");
    assert_eq!(rt.host.show(), before);
    assert!(rt.records().is_empty());
}

#[test]
fn a_missing_jail_is_an_unknown_container() {
    let rt = Runtime::new("nojail", &["c1".into()], bridge_conf());
    let before = rt.host.show();
    let msg = rt.add_fails("ghostid", "ghost", 3);
    assert!(msg.contains("no jail ghost runs"), "{msg}");
    assert_eq!(rt.host.show(), before);
    assert!(rt.leases().is_empty() && rt.records().is_empty());
    // A jail without a vnet of its own cannot take an interface.
    rt.host.ok("jnet-sim", &["jail", "create", "shared"]);
    let msg = rt.add_fails("sharedid", "shared", 3);
    assert!(msg.contains("no vnet"), "{msg}");
    assert!(rt.leases().is_empty() && rt.records().is_empty());
}

#[test]
fn the_jails_root_changes_what_check_sees_not_what_del_destroys() {
    let rt = Runtime::new("hostile", &["c1".into(), "c2".into()], bridge_conf());
    rt.ok("add", "c1id", "c1", "eth0");
    rt.ok("add", "c2id", "c2", "eth0");
    let c2_before = vnet(&rt.host.show(), "c2");
    // c1's root renames its interface and writes c2's tag on it.
    rt.host.ok("jnet-sim", &["ifconfig", "-j", "c1", "eth0", "name", "net0"]);
    rt.host.ok("jnet-sim", &["ifconfig", "-j", "c1", "net0", "description", "jnet:c2:epair0b"]);
    let (ok, e) = rt.libcni("check", "c1id", "c1", "eth0");
    assert!(!ok);
    assert_eq!(e["code"], json!(178), "{e}");
    assert!(e["msg"].as_str().unwrap().contains("jail c1 has no interface eth0"), "{e}");
    // His MAC changed: CHECK says so too.
    rt.host.ok("jnet-sim", &["ifconfig", "-j", "c1", "net0", "name", "eth0"]);
    rt.host.ok("jnet-sim", &["ifconfig", "-j", "c1", "eth0", "ether", "02:00:00:00:00:01"]);
    let (ok, e) = rt.libcni("check", "c1id", "c1", "eth0");
    assert!(!ok && e["msg"].as_str().unwrap().contains("has MAC 02:00:00:00:00:01"), "{e}");
    // DEL acts on the host end by the kernel's marks: c1's pair goes, c2 is untouched.
    rt.ok("del", "c1id", "c1", "eth0");
    let s = rt.host.show();
    assert_eq!(names(&s, "host"), ["lo0", "igb0", "cni0", "e0a_c2"]);
    assert_eq!(names(&s, "c1"), ["lo0"]);
    assert_eq!(vnet(&s, "c2"), c2_before);
    assert_eq!(rt.leases().len(), 1);
    assert_eq!(rt.records(), ["e0a_c2.json"]);
}

#[test]
fn del_without_the_jail_and_an_attachment_per_epair() {
    let rt = Runtime::new("gone", &["c1".into()], bridge_conf());
    rt.ok("add", "c1id", "c1", "eth0");
    // Another container cannot be the same epair of the same jail.
    let msg = rt.add_fails("otherid", "c1", 178);
    assert!(msg.contains("container c1id"), "{msg}");
    assert_eq!(rt.records(), ["e0a_c1.json"]);
    assert_eq!(rt.leases().len(), 1, "the refused ADD gave its address back");
    // eth1 is another epair of the same jail.
    rt.ok("add", "c1id", "c1", "eth1");
    assert_eq!(names(&rt.host.show(), "c1"), ["lo0", "eth0", "eth1"]);
    // The jail is removed; the runtime's DEL comes without CNI_NETNS.
    rt.host.ok("jnet-sim", &["jail", "remove", "c1"]);
    let conf = rt.plugin_conf("1.0.0");
    for ifname in ["eth0", "eth1"] {
        let (code, out) = rt.exec("DEL", &[("CNI_CONTAINERID", "c1id"), ("CNI_IFNAME", ifname)], &conf);
        assert_eq!((code, out), (0, Value::Null), "{ifname}");
    }
    let s = rt.host.show();
    assert_bare_host(&s, Some("cni0"));
    assert!(rt.leases().is_empty() && rt.records().is_empty());
}

#[test]
fn gc_and_status_as_a_1_1_0_runtime_runs_them() {
    let rt = Runtime::new("gc", &["c1".into(), "c2".into(), "c3".into()], bridge_conf());
    for j in ["c1", "c2", "c3"] {
        rt.ok("add", &format!("{j}id"), j, "eth0");
    }
    let mut conf = rt.plugin_conf("1.1.0");
    let (code, out) = rt.exec("STATUS", &[], &conf);
    assert_eq!((code, out), (0, Value::Null));
    conf["cni.dev/valid-attachments"] = json!([{ "containerID": "c2id", "ifname": "eth0" }]);
    let (code, out) = rt.exec("GC", &[], &conf);
    assert_eq!((code, out), (0, Value::Null));
    let s = rt.host.show();
    assert_eq!(names(&s, "host"), ["lo0", "igb0", "cni0", "e0a_c2"]);
    assert_eq!((names(&s, "c1"), names(&s, "c3")), (vec!["lo0".to_string()], vec!["lo0".to_string()]));
    assert_eq!(names(&s, "c2"), ["lo0", "eth0"]);
    assert_eq!(rt.leases().iter().map(|l| l.1.as_str()).collect::<Vec<_>>(), ["c2id"]);
    assert_eq!(rt.records(), ["e0a_c2.json"]);
    // GC again changes nothing.
    assert_eq!(rt.exec("GC", &[], &conf), (0, Value::Null));
    assert_eq!(rt.host.show(), s);

    // Records in a directory others can write are not believed: STATUS says the plugin is
    // not available, and ADD changes nothing.
    let cni_dir = jnet::sim::SimFiles::new(&rt.host.path).run_dir().join("cni");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cni_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, out) = rt.exec("STATUS", &[], &conf);
    assert_eq!((code, out["code"].clone()), (1, json!(50)), "{out}");
    let (ok, e) = rt.libcni("add", "c1id", "c1", "eth0");
    assert!(!ok);
    assert_eq!(e["code"], json!(5), "{e}");
    assert_eq!(rt.host.show(), s);
}

#[test]
fn bad_requests_are_refused_with_the_specs_codes() {
    let rt = Runtime::new("bad", &["c1".into()], bridge_conf());
    let before = rt.host.show();
    let conf = rt.plugin_conf("1.0.0");
    let add = |env: &[(&str, &str)], conf: &Value| rt.exec("ADD", env, conf);
    let full = [("CNI_CONTAINERID", "c1id"), ("CNI_NETNS", "c1"), ("CNI_IFNAME", "eth0")];
    // (environment, configuration, code, part of the message)
    let mut unknown_version = conf.clone();
    unknown_version["cniVersion"] = json!("9.9.9");
    let mut bad_vlan = conf.clone();
    bad_vlan["vlan"] = json!("twenty");
    let mut route = conf.clone();
    route["ipam"]["routes"] = json!([{ "dst": "192.0.2.0/24", "gw": "fe80::1" }]);
    type Case<'a> = (Vec<(&'a str, &'a str)>, Value, u64, &'a str);
    let cases: Vec<Case> = vec![
        (full[1..].to_vec(), conf.clone(), 4, "CNI_CONTAINERID"),
        (vec![full[0], full[1], ("CNI_IFNAME", "eth/0")], conf.clone(), 4, "CNI_IFNAME"),
        (vec![full[0], full[1], ("CNI_IFNAME", "eth100")], conf.clone(), 4, "0-99"),
        (vec![("CNI_CONTAINERID", "../x"), full[1], full[2]], conf.clone(), 4, "container ID"),
        (vec![full[0], full[2]], conf.clone(), 4, "CNI_NETNS"),
        (full.to_vec(), unknown_version, 1, "9.9.9"),
        (full.to_vec(), bad_vlan, 6, "expected u16"),
        (full.to_vec(), json!("not a configuration"), 6, "configuration"),
        (full.to_vec(), route, 7, "different families"),
    ];
    for (env, conf, code, says) in cases {
        let (status, out) = add(&env, &conf);
        assert_ne!(status, 0, "{env:?} {conf}");
        assert_eq!(out["code"], json!(code), "{env:?} {conf}: {out}");
        assert!(out["msg"].as_str().unwrap().contains(says), "{out}");
    }
    let (status, out) = rt.exec("FROB", &full, &conf);
    assert_eq!((status, out["code"].clone()), (1, json!(4)));
    assert_eq!(rt.host.show(), before);
    assert!(rt.leases().is_empty() && rt.records().is_empty());
}
