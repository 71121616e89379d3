//! The crash sweep, shared by tests/crash.rs (which asserts it) and examples/bench.rs
//! (which reports its size in BENCHMARKS.md): every program of the recipes of
//! jail.conf.sample killed (SIGKILL, `jnet-sim fail --kill`) at each of its kernel
//! operations, start and stop, then what an administrator does after a crash: the jail is
//! gone (jail(8) removed it, or the host rebooted its jails away) and `jnet-release --stale
//! --prune` runs. The host must then be as before the start, or as a clean start and stop
//! leave it (the shared bridge and what it holds stay, as after any stop).
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A simulated host in a scratch directory, its programs found by `bin`.
pub struct Host {
    pub path: PathBuf,
    bin: fn(&str) -> PathBuf,
    _dir: jnet::sim::ScratchDir,
}

impl Host {
    fn new(tag: &str, bin: fn(&str) -> PathBuf) -> Host {
        let dir = jnet::sim::ScratchDir::new(&format!("crash-{tag}"));
        let h = Host { path: dir.path().join("host.json"), bin, _dir: dir };
        h.ok(
            "jnet-sim",
            &[
                "init",
                "--phys",
                "igb0,igb1,igb2",
                "--dad-ms",
                "20",
                "--hostuuid",
                "00000000-1111-2222-3333-444444444444",
            ],
        );
        h
    }
    pub fn run(&self, prog: &str, args: &[&str]) -> Output {
        Command::new((self.bin)(prog)).args(args).env("JNET_SIM", &self.path).env_remove("JNET_LOG").output().unwrap()
    }
    pub fn ok(&self, prog: &str, args: &[&str]) -> String {
        let o = self.run(prog, args);
        assert!(o.status.success(), "{prog} {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }
    fn show(&self) -> Value {
        serde_json::from_str(&self.ok("jnet-sim", &["show", "--json"])).unwrap()
    }
}

/// What of the host a crash must not change: its interfaces (without their indexes and
/// the kernel's DAD timing), its routes and its netgraph nodes (without ids and control
/// sockets), jnet's records and intents.
pub fn host_state(h: &Host) -> Value {
    let s = h.show();
    let host = s["vnets"].as_array().unwrap().iter().find(|v| v["jail"].is_null()).unwrap().clone();
    let mut ifs: Vec<Value> = host["interfaces"].as_array().unwrap().clone();
    for i in &mut ifs {
        i.as_object_mut().unwrap().remove("index");
        if let Some(a) = i["addrs"].as_array_mut() {
            for x in a {
                x.as_object_mut().unwrap().remove("flags");
            }
        }
    }
    let nodes = s["netgraph"].as_array().unwrap();
    let name_of =
        |id: &str| nodes.iter().find(|n| n["id"] == id).and_then(|n| n["name"].as_str()).unwrap_or("?").to_string();
    let mut graph: Vec<String> = nodes
        .iter()
        .filter(|n| n["type"] != "socket" && n["vnet"] == "host")
        // An ng_ether node is there while ng_ether is loaded (loading a module is never
        // undone): only one with hooks or changed settings tells of a splice.
        .filter(|n| {
            !(n["type"] == "ether"
                && n["hooks"] == serde_json::json!([])
                && n["promisc"] == false
                && n["autosrc"] == true)
        })
        .map(|n| {
            let mut hooks: Vec<String> = n["hooks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| {
                    let (id, hook) = x["peer"].as_str().unwrap().trim_start_matches('[').split_once("]:").unwrap();
                    format!("{}->{}:{hook}", x["name"].as_str().unwrap(), name_of(id))
                })
                .collect();
            hooks.sort();
            format!("{} {} {:?} promisc={} autosrc={}", n["name"], n["type"], hooks, n["promisc"], n["autosrc"])
        })
        .collect();
    graph.sort();
    let run = jnet::sim::SimFiles::new(&h.path).run_dir();
    let mut files: Vec<String> = walk(&run)
        .into_iter()
        // The naming key, the lock files and the unit hints stay by design.
        .filter(|p| p != "ngkey" && !p.starts_with("locks/") && !p.starts_with("units/"))
        .collect();
    files.sort();
    serde_json::json!({ "interfaces": ifs, "routes": host["routes"], "netgraph": graph, "state_files": files })
}

fn walk(dir: &Path) -> Vec<String> {
    fn inner(root: &Path, dir: &Path, out: &mut Vec<String>) {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    inner(root, &p, out);
                } else {
                    out.push(p.strip_prefix(root).map(|x| x.display().to_string()).unwrap_or_default());
                }
            }
        }
    }
    let mut out = vec![];
    inner(dir, dir, &mut out);
    out
}

/// One recipe's hook.
pub struct Recipe {
    /// jail.conf.sample's recipe number
    pub name: &'static str,
    prog: &'static str,
    args: &'static [&'static str],
    /// the jail exists when the hook runs (exec.created), with these jnet-sim jail create flags
    jail: Option<&'static [&'static str]>,
}

pub const RECIPES: &[Recipe] = &[
    Recipe { name: "2", prog: "jnet-epair", args: &["-b", "bridge0", "--uplink", "igb0", "--", "www"], jail: None },
    Recipe {
        name: "3",
        prog: "jnet-epair",
        args: &[
            "-b",
            "bridge0",
            "--ifname",
            "vnet0",
            "--addr",
            "2001:db8::5/64",
            "--addr",
            "192.0.2.5/24",
            "--",
            "app",
        ],
        jail: Some(&["--vnet"]),
    },
    Recipe {
        name: "4",
        prog: "jnet-epair",
        args: &["--host-addr", "10.9.0.1/30", "--addr", "10.9.0.2/30", "--", "db"],
        jail: Some(&["--vnet"]),
    },
    Recipe { name: "5", prog: "jnet-ngattach", args: &["--uplink", "igb1", "--", "mail"], jail: None },
    Recipe {
        name: "6",
        prog: "jnet-ngattach",
        args: &["--virtual", "-b", "vbr0", "--ifname", "vnet0", "--addr", "10.7.0.2/24", "--", "cache"],
        jail: Some(&["--vnet"]),
    },
    Recipe { name: "7", prog: "jnet-nic", args: &["--iface", "igb2", "--", "dmz"], jail: None },
    Recipe {
        name: "8",
        prog: "jnet-epair",
        args: &[
            "-b",
            "jails0",
            "--bridge-addr",
            "10.8.0.1/24",
            "--bridge-addr",
            "2001:db8:8::1/64",
            "--ifname",
            "vnet0",
            "--addr",
            "10.8.0.10/24",
            "--gateway",
            "10.8.0.1",
            "--accept-rtadv",
            "--",
            "gw",
        ],
        jail: Some(&["--vnet"]),
    },
    Recipe { name: "9", prog: "jnet-epair", args: &["-u", "igb0", "--vlan", "20", "--", "vlan20"], jail: None },
    Recipe { name: "9-ng", prog: "jnet-ngattach", args: &["-u", "igb1", "--vlan", "20", "--", "mail"], jail: None },
];

fn jail_of(r: &Recipe) -> &'static str {
    r.args.last().unwrap()
}

fn fresh(tag: &str, r: &Recipe, bin: fn(&str) -> PathBuf) -> Host {
    let h = Host::new(tag, bin);
    if let Some(flags) = r.jail {
        let mut a = vec!["jail", "create", jail_of(r)];
        a.extend_from_slice(flags);
        h.ok("jnet-sim", &a);
    }
    h.ok("jnet-sim", &["ops", "--clear"]);
    h
}

/// The jail goes, as jail(8) removes it after a failed start (or a reboot would).
fn jail_gone(h: &Host, r: &Recipe) {
    if r.jail.is_some() {
        let _ = h.run("jnet-sim", &["jail", "remove", jail_of(r)]);
    }
}

/// The result of a sweep: how many kill points, and each one that left the host changed.
pub struct Swept {
    /// kill points tried
    pub runs: usize,
    /// what each bad one left
    pub bad: Vec<String>,
}

/// The operation `k` of the host's log, for a report.
fn op_at(h: &Host, k: usize) -> Value {
    serde_json::from_str(h.ok("jnet-sim", &["ops", "--json"]).lines().nth(k).unwrap_or("null")).unwrap_or(Value::Null)
}

/// Every kill point of every recipe's start, then `--stale --prune`: the host as before the
/// start, or as a clean start and stop leave it.
pub fn starts(bin: fn(&str) -> PathBuf) -> Swept {
    let mut runs = 0;
    let mut bad: Vec<String> = vec![];
    for r in RECIPES {
        let probe = fresh(&format!("{}-probe", r.name), r, bin);
        let before = host_state(&probe);
        probe.ok(r.prog, r.args);
        let total: usize = probe.ok("jnet-sim", &["ops", "--count"]).trim().parse().unwrap();
        jail_gone(&probe, r);
        probe.ok("jnet-release", &["--stale", "--prune"]);
        let after_stop = host_state(&probe);
        for k in 0..total {
            let h = fresh(&format!("{}-{k}", r.name), r, bin);
            h.ok("jnet-sim", &["fail", "--after", &k.to_string(), "--kill"]);
            let o = h.run(r.prog, r.args);
            assert!(!o.status.success(), "recipe {} kill at {k}: the run was not killed", r.name);
            h.ok("jnet-sim", &["fail", "--after", "1000000"]);
            jail_gone(&h, r);
            runs += 1;
            bad.extend(stale_prune(&h, k, &[&before, &after_stop], &format!("recipe {} ({total} ops)", r.name)));
        }
    }
    Swept { runs, bad }
}

/// After a run killed at operation `k`: `jnet-release --stale --prune`, then the host must
/// be in one of the `accepted` states; what it left if not.
fn stale_prune(h: &Host, k: usize, accepted: &[&Value], what: &str) -> Option<String> {
    let o = h.run("jnet-release", &["--stale", "--prune"]);
    let now = host_state(h);
    if o.status.success() && accepted.iter().any(|a| **a == now) {
        return None;
    }
    let op = op_at(h, k);
    Some(format!(
        "{what} killed at {k} ({} {}): --stale --prune: {}\n  left: {}",
        op["op"],
        op["args"],
        String::from_utf8_lossy(&o.stderr).trim(),
        diff(&now, accepted[0])
    ))
}

/// What `now` has that `base` has not, briefly.
fn diff(now: &Value, base: &Value) -> String {
    let mut out = vec![];
    let names = |v: &Value| -> Vec<Value> { v["interfaces"].as_array().unwrap().clone() };
    for i in names(now) {
        if !names(base).contains(&i) {
            out.push(format!("{} {} {}", i["name"], i["description"], i["flags"]));
        }
    }
    for (k, v) in [("netgraph", &now["netgraph"]), ("state_files", &now["state_files"])] {
        if v != &base[k] {
            out.push(format!("{k}: {v}"));
        }
    }
    out.join("; ")
}

/// How each recipe's jail stops: its exec.poststop.
fn release_args(r: &Recipe, prune: bool) -> Vec<&'static str> {
    match (r.name, prune) {
        ("7", _) => vec!["--iface", "igb2", "--", jail_of(r)],
        (_, true) => vec!["--prune", "--", jail_of(r)],
        (_, false) => vec!["--", jail_of(r)],
    }
}

/// The recipe's start as jail(8) runs it, whole, then the jail's end: the lent NIC of
/// recipe 7 comes home when its jail goes.
fn started(tag: &str, r: &Recipe, bin: fn(&str) -> PathBuf) -> Host {
    let h = fresh(tag, r, bin);
    h.ok(r.prog, r.args);
    if r.name == "7" {
        h.ok("jnet-sim", &["jail", "create", "dmz", "--vnet", "--interface", "igb2"]);
        h.ok("jnet-sim", &["jail", "remove", "dmz"]);
    }
    jail_gone(&h, r);
    h
}

/// Every kill point of every recipe's stop (its jnet-release, with `--prune` and without),
/// then `--stale --prune`: the host as a clean stop leaves it.
pub fn releases(bin: fn(&str) -> PathBuf) -> Swept {
    let mut runs = 0;
    let mut bad: Vec<String> = vec![];
    // Each stop with --prune and without (recipe 7 gives a NIC back: no bridge to prune).
    let runs_of = RECIPES.iter().flat_map(|r| [(r, true), (r, false)]).filter(|(r, p)| *p || r.name != "7");
    for (r, prune) in runs_of {
        let args = release_args(r, prune);
        let probe = started(&format!("{}-rprobe", r.name), r, bin);
        probe.ok("jnet-sim", &["ops", "--clear"]);
        probe.ok("jnet-release", &args);
        let total: usize = probe.ok("jnet-sim", &["ops", "--count"]).trim().parse().unwrap();
        probe.ok("jnet-release", &["--stale", "--prune"]);
        let after_stop = host_state(&probe);
        // After a stop without --prune, `--stale --prune` may also find the jail's empty
        // bridge (through the node a crash left on it) and take it, as a pruning stop does.
        let pruned = started(&format!("{}-rpruned", r.name), r, bin);
        pruned.ok("jnet-release", &release_args(r, true));
        pruned.ok("jnet-release", &["--stale", "--prune"]);
        let after_pruning_stop = host_state(&pruned);
        for k in 0..total {
            let h = started(&format!("{}-r{k}", r.name), r, bin);
            h.ok("jnet-sim", &["ops", "--clear"]);
            h.ok("jnet-sim", &["fail", "--after", &k.to_string(), "--kill"]);
            let o = h.run("jnet-release", &args);
            assert!(!o.status.success(), "recipe {} release kill at {k}: not killed", r.name);
            h.ok("jnet-sim", &["fail", "--after", "1000000"]);
            runs += 1;
            let what = format!("recipe {} release {args:?} ({total} ops)", r.name);
            bad.extend(stale_prune(&h, k, &[&after_stop, &after_pruning_stop], &what));
        }
    }
    Swept { runs, bad }
}
