//! Helpers the integration tests share: a simulated host in a fresh state file, the
//! programs run against it, and lookups in `jnet-sim show --json`.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Output};

/// The path of one of the built programs.
pub fn bin(name: &str) -> &'static str {
    match name {
        "jnet-sim" => env!("CARGO_BIN_EXE_jnet-sim"),
        "jnet-epair" => env!("CARGO_BIN_EXE_jnet-epair"),
        "jnet-ngattach" => env!("CARGO_BIN_EXE_jnet-ngattach"),
        "jnet-ip6wait" => env!("CARGO_BIN_EXE_jnet-ip6wait"),
        "jnet-release" => env!("CARGO_BIN_EXE_jnet-release"),
        "jnet-nic" => env!("CARGO_BIN_EXE_jnet-nic"),
        "jnet-cni" => env!("CARGO_BIN_EXE_jnet-cni"),
        _ => panic!("no program {name}"),
    }
}

/// A simulated host, in a directory removed with it.
pub struct Host {
    /// its state file
    pub path: PathBuf,
    _dir: jnet::sim::ScratchDir,
}

impl Host {
    /// A fresh host in its own directory, made with `jnet-sim init ARGS`.
    pub fn init(tag: &str, args: &[&str]) -> Host {
        let dir = jnet::sim::ScratchDir::new(tag);
        let h = Host { path: dir.path().join("host.json"), _dir: dir };
        let mut a = vec!["init"];
        a.extend_from_slice(args);
        h.ok("jnet-sim", &a);
        h
    }
    /// Run a program against the host.
    pub fn run(&self, prog: &str, args: &[&str]) -> Output {
        Command::new(bin(prog)).args(args).env("JNET_SIM", &self.path).env_remove("JNET_LOG").output().unwrap()
    }
    /// Run, expect success, return stdout.
    pub fn ok(&self, prog: &str, args: &[&str]) -> String {
        let o = self.run(prog, args);
        assert!(o.status.success(), "{prog} {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }
    /// Run, expect exit status `code` and a message; return stderr.
    pub fn fails(&self, prog: &str, args: &[&str], code: i32) -> String {
        let o = self.run(prog, args);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(code), "{prog} {args:?}: {err}");
        assert!(!err.trim().is_empty(), "{prog} {args:?} failed silently");
        err
    }
    /// `jnet-sim show --json`.
    pub fn show(&self) -> Value {
        serde_json::from_str(&self.ok("jnet-sim", &["show", "--json"])).unwrap()
    }
    /// The netgraph node name jnet gives `jail`'s eiface `index` on this host (keyed with the
    /// host's secret in its state directory).
    pub fn node(&self, jail: &str, index: u32) -> String {
        let key = jnet::hoststate::naming_key(&jnet::sim::SimFiles::new(&self.path).run_dir()).unwrap();
        jnet::names::eiface_node_name(&key, jail, index)
    }
    /// The host as a kernel, to make things behind jnet's back.
    pub fn kernel(&self) -> jnet::sim::Sim {
        jnet::sim::Sim::open(&self.path).unwrap()
    }
}

/// The interfaces of a vnet: "host" or a jail's name.
pub fn vnet(s: &Value, which: &str) -> Vec<Value> {
    let want = if which == "host" { Value::Null } else { json!(which) };
    s["vnets"].as_array().unwrap().iter().find(|v| v["jail"] == want).expect(which)["interfaces"]
        .as_array()
        .unwrap()
        .clone()
}

/// One interface of a vnet.
pub fn iface(s: &Value, which: &str, name: &str) -> Value {
    vnet(s, which).into_iter().find(|i| i["name"] == name).unwrap_or_else(|| panic!("{name} not in {which}: {s}"))
}

/// The interface names of a vnet.
pub fn names(s: &Value, which: &str) -> Vec<String> {
    vnet(s, which).iter().map(|i| i["name"].as_str().unwrap().to_string()).collect()
}

/// An interface's addresses (of `jnet-sim show --json`) as ADDR/LEN.
pub fn addrs(i: &Value) -> Vec<String> {
    i["addrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{}/{}", a["addr"].as_str().unwrap(), a["prefixlen"]))
        .collect()
}
