//! Plumbing shared by every program: argument parsing with sysexits codes, logging to
//! stderr and syslog, choosing the kernel backend, and printing results or errors as text
//! or as one JSON object.

use crate::error::{sysexits, Result};
#[cfg(not(target_os = "freebsd"))]
use crate::error::{Error, Kind};
use crate::kernel::Kernel;
use argh::FromArgs;
use serde_json::{json, Value};
use std::ffi::CString;
use std::io::Write;
use std::sync::OnceLock;

/// The flags every program takes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Common {
    /// -n/--dry-run: print the plan, change nothing
    pub dry_run: bool,
    /// --json: one JSON object on stdout
    pub json: bool,
    /// -v/--verbose: log each step on stderr
    pub verbose: bool,
    /// --syslog (or JNET_SYSLOG=1): also log to syslog(3)
    pub syslog: bool,
}

/// What a program prints when it succeeds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Output {
    /// Human output: the names that matter, one per line.
    pub lines: Vec<String>,
    /// The `--json` result.
    pub json: Value,
}

/// A program: parsed arguments that can run against any kernel.
pub trait Program {
    /// The program's name, for messages.
    const NAME: &'static str;
    /// The common flags.
    fn common(&self) -> Common;
    /// Do the work.
    fn run<K: Kernel>(self, kernel: &mut K) -> Result<Output>;
}

static SYSLOG: OnceLock<bool> = OnceLock::new();

fn syslog_enabled() -> bool {
    *SYSLOG.get().unwrap_or(&false)
}

/// Send one line to syslog(3) (LOG_DAEMON) if syslog logging is on.
pub fn syslog_line(level: log::Level, msg: &str) {
    if !syslog_enabled() {
        return;
    }
    let prio = match level {
        log::Level::Error => libc::LOG_ERR,
        log::Level::Warn => libc::LOG_WARNING,
        log::Level::Info => libc::LOG_INFO,
        _ => libc::LOG_DEBUG,
    };
    if let Ok(c) = CString::new(msg.replace('\0', " ")) {
        // SAFETY: a constant "%s" format and a NUL-terminated argument.
        unsafe { libc::syslog(prio, c"%s".as_ptr(), c.as_ptr()) };
    }
}

struct Logger {
    stderr: env_logger::Logger,
}

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        self.stderr.enabled(m)
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.stderr.matches(r) {
            self.stderr.log(r);
            syslog_line(r.level(), &r.args().to_string());
        }
    }
    fn flush(&self) {
        self.stderr.flush();
    }
}

/// Set up logging: warnings by default (quiet when all is well), debug with -v,
/// `JNET_LOG` (env_logger syntax) overrides; syslog with --syslog or JNET_SYSLOG=1.
pub fn init_logging(prog: &'static str, c: &Common) {
    let syslog = c.syslog || std::env::var("JNET_SYSLOG").map(|v| v == "1").unwrap_or(false);
    if syslog {
        let ident = CString::new(prog).unwrap_or_default();
        // openlog keeps the pointer: the ident must live for the whole process.
        let ident: &'static std::ffi::CStr = Box::leak(ident.into_boxed_c_str());
        // SAFETY: ident is a leaked, NUL-terminated string.
        unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
    }
    let _ = SYSLOG.set(syslog);
    let mut b = env_logger::Builder::new();
    b.filter_level(if c.verbose { log::LevelFilter::Debug } else { log::LevelFilter::Warn });
    if let Ok(spec) = std::env::var("JNET_LOG") {
        b.parse_filters(&spec);
    }
    b.format(move |f, r| writeln!(f, "{prog}: {}", r.args()));
    b.target(env_logger::Target::Stderr);
    let stderr = b.build();
    let max = stderr.filter();
    if log::set_boxed_logger(Box::new(Logger { stderr })).is_ok() {
        log::set_max_level(max);
    }
}

/// Parse the command line; `--help` exits 0, errors exit EX_USAGE (64), `--version` prints
/// the version.
pub fn parse_args<T: FromArgs>(prog: &str) -> T {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--version") {
        println!("{prog} {}", env!("CARGO_PKG_VERSION"));
        std::process::exit(0);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    match T::from_args(&[prog], &refs) {
        Ok(t) => t,
        Err(e) => {
            if e.status.is_ok() {
                print!("{}", e.output);
                std::process::exit(0);
            }
            eprint!("{prog}: {}", e.output);
            if !e.output.ends_with('\n') {
                eprintln!();
            }
            eprintln!("Run '{prog} --help' for usage.");
            std::process::exit(sysexits::USAGE);
        }
    }
}

/// Print a result (text or JSON) and return the exit code.
pub fn finish(prog: &str, json_mode: bool, r: Result<Output>) -> i32 {
    let mut out = std::io::stdout().lock();
    match r {
        Ok(o) => {
            if json_mode {
                let _ = writeln!(out, "{}", o.json);
            } else {
                for l in &o.lines {
                    let _ = writeln!(out, "{l}");
                }
            }
            sysexits::OK
        }
        Err(e) => {
            let code = e.exit_code();
            if json_mode {
                let v = json!({ "error": {
                    "message": e.message,
                    "kind": e.kind,
                    "errno": e.errno.and_then(|x| x.name()),
                    "exit_code": code,
                }});
                let _ = writeln!(out, "{v}");
            }
            eprintln!("{prog}: {}", e.message);
            syslog_line(log::Level::Error, &e.message);
            code
        }
    }
}

/// Run a program against the kernel this process should use: the simulated host when
/// `JNET_SIM` is set, else FreeBSD's; elsewhere a clear refusal.
pub fn dispatch<P: Program>(p: P) -> Result<Output> {
    if let Some(path) = std::env::var_os(crate::sim::ENV) {
        let mut k = crate::sim::Sim::open(std::path::Path::new(&path))?;
        return p.run(&mut k);
    }
    #[cfg(target_os = "freebsd")]
    {
        let mut k = crate::freebsd::FreeBsd::open()?;
        p.run(&mut k)
    }
    #[cfg(not(target_os = "freebsd"))]
    {
        Err(Error::new(
            Kind::Unavailable,
            format!(
                "{} talks to the FreeBSD kernel and this is not FreeBSD; set {}=FILE to use the simulated host (see jnet-sim(1))",
                P::NAME,
                crate::sim::ENV
            ),
        ))
    }
}

/// A whole program's main: parse, log, run, print, exit.
pub fn main<P: Program + FromArgs>() -> ! {
    let p: P = parse_args(P::NAME);
    let c = p.common();
    init_logging(P::NAME, &c);
    let code = finish(P::NAME, c.json, dispatch(p));
    std::process::exit(code)
}
