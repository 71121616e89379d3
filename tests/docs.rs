//! The documentation matches the programs: every option a program accepts is in its man
//! page and every option a page documents is accepted; every page has the SEE ALSO an
//! administrator expects; the port's plist lists exactly what is built and documented;
//! and no program runs another program.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn bin(name: &str) -> &'static str {
    match name {
        "jnet-sim" => env!("CARGO_BIN_EXE_jnet-sim"),
        "jnet-epair" => env!("CARGO_BIN_EXE_jnet-epair"),
        "jnet-ngattach" => env!("CARGO_BIN_EXE_jnet-ngattach"),
        "jnet-ip6wait" => env!("CARGO_BIN_EXE_jnet-ip6wait"),
        "jnet-release" => env!("CARGO_BIN_EXE_jnet-release"),
        "jnet-nic" => env!("CARGO_BIN_EXE_jnet-nic"),
        "jnet-cni" => env!("CARGO_BIN_EXE_jnet-cni"),
        _ => unreachable!(),
    }
}

/// Options listed by `PROG [SUB...] --help` (argh's "Options:" section).
fn help_options(prog: &str, sub: &[&str]) -> BTreeSet<String> {
    let mut args: Vec<&str> = sub.to_vec();
    args.push("--help");
    let o = Command::new(bin(prog)).args(&args).output().unwrap();
    assert!(o.status.success(), "{prog} {sub:?} --help");
    let text = String::from_utf8(o.stdout).unwrap();
    let mut out = BTreeSet::new();
    let mut in_opts = false;
    for line in text.lines() {
        if line.starts_with("Options:") {
            in_opts = true;
            continue;
        }
        if in_opts && !line.starts_with("  ") {
            in_opts = false;
        }
        // Options sit at a two-space indent; deeper lines continue a description.
        if !in_opts || line.starts_with("   ") {
            continue;
        }
        let head = line.trim_start().split("  ").next().unwrap_or("");
        for t in head.split(", ") {
            if t.starts_with('-') && t != "--help" {
                out.insert(t.to_string());
            }
        }
    }
    out
}

/// Options a man page documents: `Fl -long` and `Fl xyz` (short flags run together).
fn man_options(page: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("man").join(page)).unwrap();
    let mut out = BTreeSet::new();
    for line in text.lines().filter(|l| l.starts_with('.')) {
        let words: Vec<&str> = line.split_whitespace().collect();
        for w in words.windows(2) {
            if w[0] != "Fl" && w[0] != ".Fl" {
                continue;
            }
            let t = w[1].trim_end_matches([',', ';', '.', ')', ':']);
            if let Some(long) = t.strip_prefix('-') {
                if !long.is_empty() {
                    out.insert(format!("--{long}"));
                }
            } else if !t.is_empty() && t.chars().all(|c| c.is_ascii_alphabetic()) {
                for c in t.chars() {
                    out.insert(format!("-{c}"));
                }
            }
        }
    }
    out
}

#[test]
fn every_option_is_documented_and_every_documented_option_exists() {
    let progs: &[(&str, &str, &[&[&str]])] = &[
        ("jnet-epair", "jnet-epair.8", &[&[]]),
        ("jnet-ngattach", "jnet-ngattach.8", &[&[]]),
        ("jnet-ip6wait", "jnet-ip6wait.8", &[&[]]),
        ("jnet-release", "jnet-release.8", &[&[]]),
        ("jnet-nic", "jnet-nic.8", &[&[]]),
        ("jnet-cni", "jnet-cni.8", &[&[]]),
        (
            "jnet-sim",
            "jnet-sim.1",
            &[
                &[],
                &["init"],
                &["jail", "create"],
                &["jail", "remove"],
                &["jail", "start"],
                &["jail", "stop"],
                &["jail", "trap"],
                &["show"],
                &["fail"],
                &["dup"],
                &["ra"],
                &["sysctl"],
                &["ops"],
                &["ifconfig"],
            ],
        ),
    ];
    for (prog, page, subs) in progs {
        let mut help = BTreeSet::new();
        for s in subs.iter() {
            help.extend(help_options(prog, s));
        }
        let man = man_options(page);
        let undocumented: Vec<_> = help.difference(&man).collect();
        let unknown: Vec<_> = man.difference(&help).collect();
        assert!(undocumented.is_empty(), "{prog}: options missing from {page}: {undocumented:?}");
        assert!(unknown.is_empty(), "{page}: documents options {prog} does not take: {unknown:?}");
        // jnet-cni takes its request from the environment: --version is its one option.
        let least = if *prog == "jnet-cni" { 1 } else { 4 };
        assert!(help.len() >= least, "{prog}: parsed too few options: {help:?}");
    }
}

#[test]
fn every_program_answers_version_and_help() {
    for p in ["jnet-epair", "jnet-ngattach", "jnet-ip6wait", "jnet-release", "jnet-nic", "jnet-cni", "jnet-sim"] {
        let o = Command::new(bin(p)).arg("--version").output().unwrap();
        assert!(o.status.success());
        assert_eq!(String::from_utf8(o.stdout).unwrap(), format!("{p} {}\n", env!("CARGO_PKG_VERSION")));
        let o = Command::new(bin(p)).arg("--help").output().unwrap();
        assert!(o.status.success());
        let h = String::from_utf8(o.stdout).unwrap();
        assert!(h.starts_with(&format!("Usage: {p} ")), "{h}");
    }
}

#[test]
fn every_page_has_the_see_also_an_administrator_expects() {
    let want =
        ["jail 8", "jail.conf 5", "ifconfig 8", "ngctl 8", "epair 4", "if_bridge 4", "ng_bridge 4", "ng_eiface 4"];
    for entry in std::fs::read_dir(root().join("man")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let see = &text[text.find(".Sh SEE ALSO").unwrap_or_else(|| panic!("{path:?}: no SEE ALSO"))..];
        for w in want {
            assert!(see.contains(&format!(".Xr {w}")), "{path:?}: SEE ALSO lacks {w}");
        }
        for section in [".Sh EXIT STATUS", ".Sh SYNOPSIS", ".Sh DESCRIPTION"] {
            if !path.ends_with("jnet.7") || section != ".Sh SYNOPSIS" {
                assert!(text.contains(section), "{path:?}: no {section}");
            }
        }
        if !path.ends_with("jnet.7") {
            assert!(text.contains(".Sh EXAMPLES"), "{path:?}: no EXAMPLES");
        }
    }
}

#[test]
fn pkg_plist_lists_exactly_the_programs_and_pages() {
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    // The port builds without the simulated host: programs that need the `sim` feature, and
    // their pages, are not in it.
    let mut want = BTreeSet::new();
    let mut sim_only = vec![];
    for block in cargo.split("\n[").filter(|b| b.starts_with("[bin]]")) {
        let name = block.lines().find_map(|l| l.strip_prefix("name = ")).unwrap().trim_matches('"').to_string();
        if block.contains("required-features = [\"sim\"]") {
            sim_only.push(name);
        } else if name == "jnet-cni" {
            // A CNI plugin, where runtimes look for plugins, not a command for root.
            want.insert(format!("libexec/cni/{name}"));
        } else {
            want.insert(format!("sbin/{name}"));
        }
    }
    assert_eq!(want.len(), 6);
    assert_eq!(sim_only, ["jnet-sim"]);
    for entry in std::fs::read_dir(root().join("man")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let (page, section) = name.rsplit_once('.').unwrap();
        if !sim_only.iter().any(|s| s == page) {
            want.insert(format!("share/man/man{section}/{name}.gz"));
        }
    }
    want.insert("%%PORTEXAMPLES%%%%EXAMPLESDIR%%/jail.conf.sample".into());
    let plist = std::fs::read_to_string(root().join("packaging/freebsd/pkg-plist")).unwrap();
    let have: BTreeSet<String> = plist.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect();
    assert_eq!(have, want);
}

#[test]
fn no_program_spawns_a_process_or_a_shell() {
    let forbidden =
        ["process::Command", "Command::new", "execv", "execl", "posix_spawn", "libc::system", "\"/bin/sh\"", "popen"];
    let mut checked = 0;
    for dir in ["lib", "bins"] {
        let mut stack = vec![root().join(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|e| e == "rs") {
                    // The jail(8) emulator of the simulated host runs hook programs: that is
                    // jail(8)'s job, not a jnet program's.
                    // So does the launcher of FreeBSD's stack for the differential tests.
                    // jnet-cni runs the IPAM plugin its configuration names: the CNI spec's
                    // delegation, in that one module.
                    if p.ends_with("sim/jail8.rs") || p.ends_with("sim/stackprocess.rs") || p.ends_with("cni/ipam.rs") {
                        continue;
                    }
                    let text = std::fs::read_to_string(&p).unwrap();
                    for f in forbidden {
                        assert!(!text.contains(f), "{p:?} uses {f}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} source files found");
}

#[test]
fn jnet_cni_documents_every_variable_and_key_it_reads() {
    let page = std::fs::read_to_string(root().join("man/jnet-cni.8")).unwrap();
    let source = std::fs::read_to_string(root().join("lib/cni/mod.rs")).unwrap();
    let spec = std::fs::read_to_string(root().join("lib/cni/spec.rs")).unwrap();
    for var in ["CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"] {
        assert!(source.contains(&format!("\"{var}\"")), "jnet-cni does not read {var}");
        assert!(page.contains(&format!(".It Ev {var}")), "jnet-cni.8 does not document {var}");
    }
    // Every key of the configuration struct, in the camelCase the configuration uses.
    let conf = &spec[spec.find("pub struct NetConf {").unwrap() + "pub struct NetConf {".len()..];
    let conf = &conf[..conf.find("\n}").unwrap()];
    let mut keys = 0;
    for line in conf.lines().map(str::trim).filter(|l| l.starts_with("pub ")) {
        let field = line.trim_start_matches("pub ").split(':').next().unwrap();
        if matches!(field, "cni_version" | "name" | "plugin" | "prev_result" | "valid_attachments") {
            continue;
        }
        let mut camel = String::new();
        let mut up = false;
        for c in field.chars() {
            if c == '_' {
                up = true;
            } else if up {
                camel.push(c.to_ascii_uppercase());
                up = false;
            } else {
                camel.push(c);
            }
        }
        assert!(page.contains(&format!(".It Li {camel}")), "jnet-cni.8 does not document the key {camel}");
        keys += 1;
    }
    assert_eq!(keys, 9, "the configuration keys were not all found");
}
