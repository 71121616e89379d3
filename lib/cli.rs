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
use std::sync::atomic::{AtomicBool, Ordering};

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

/// Declare a program's argument struct with the flags every program takes, once (argh has no
/// `flatten`): `-n/--dry-run` (its help is given, as each program's dry run shows something
/// else), `--json`, `-v/--verbose`, `--syslog`, and `common_flags()` to read them. With
/// `jail_end;`, also the options that configure the interface a jail gets, shared by
/// jnet-epair and jnet-ngattach: `-i/--index`, `--short`, `--ifname`, `-a/--addr`, `--mac`,
/// `--mtu`, `--accept-rtadv`, `--gateway`, `--route`.
#[macro_export]
macro_rules! program_args {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($fields:tt)* }
        dry_run = $dry:literal;
        jail_end;
    ) => {
        $crate::program_args! {
            $(#[$meta])*
            pub struct $name {
                $($fields)*
                /// which of the jail's interfaces (default 0)
                #[argh(option, short = 'i', default = "0")]
                pub index: u32,
                /// name the interfaces after this instead of the jail (e0b_NAME, ng0_NAME): for long jail names
                #[argh(option)]
                pub short: Option<String>,
                /// the interface's name inside the jail (e.g. vnet0)
                #[argh(option)]
                pub ifname: Option<String>,
                /// address for the interface, set inside the jail (repeatable)
                #[argh(option, short = 'a')]
                pub addr: Vec<String>,
                /// MAC: auto (derived, the default), kernel, or the address for the jail's interface
                #[argh(option, default = "String::from(\"auto\")")]
                pub mac: String,
                /// MTU of the interface (of both ends of an epair)
                #[argh(option)]
                pub mtu: Option<u32>,
                /// accept IPv6 router advertisements on the jail's interface (SLAAC, rtsold)
                #[argh(switch)]
                pub accept_rtadv: bool,
                /// the jail's default router, IPv4 or IPv6 (one of each at most)
                #[argh(option)]
                pub gateway: Vec<String>,
                /// a static route in the jail, NETWORK/LEN,ROUTER (repeatable)
                #[argh(option)]
                pub route: Vec<String>,
            }
            dry_run = $dry;
        }
    };
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($fields:tt)* }
        dry_run = $dry:literal;
    ) => {
        $(#[$meta])*
        pub struct $name {
            $($fields)*
            #[doc = $dry]
            #[argh(switch, short = 'n')]
            pub dry_run: bool,
            /// print the result (or the error) as one JSON object
            #[argh(switch)]
            pub json: bool,
            /// log each step on stderr
            #[argh(switch, short = 'v')]
            pub verbose: bool,
            /// also log to syslog
            #[argh(switch)]
            pub syslog: bool,
        }

        impl $name {
            /// The flags every program takes.
            pub fn common_flags(&self) -> $crate::cli::Common {
                $crate::cli::Common {
                    dry_run: self.dry_run,
                    json: self.json,
                    verbose: self.verbose,
                    syslog: self.syslog,
                }
            }
        }
    };
}

/// What a program prints when it succeeds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Output {
    /// Human output: the names that matter, one per line.
    pub lines: Vec<String>,
    /// The `--json` result.
    pub json: Value,
    /// What failed while the rest went on (a teardown, a listing of many jails): printed
    /// after the result, and it sets the exit code.
    pub error: Option<crate::error::Error>,
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

static SYSLOG: AtomicBool = AtomicBool::new(false);

fn syslog_enabled() -> bool {
    SYSLOG.load(Ordering::Relaxed)
}

/// No more syslog from this process (a child about to enter a jail).
pub fn disable_syslog() {
    SYSLOG.store(false, Ordering::Relaxed);
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
            syslog_line(r.level(), &escape_text(&r.args().to_string()));
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
    SYSLOG.store(syslog, Ordering::Relaxed);
    let mut b = env_logger::Builder::new();
    b.filter_level(if c.verbose { log::LevelFilter::Debug } else { log::LevelFilter::Warn });
    if let Ok(spec) = std::env::var("JNET_LOG") {
        b.parse_filters(&spec);
    }
    b.format(move |f, r| writeln!(f, "{prog}: {}", escape_text(&r.args().to_string())));
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
    let mut args: Vec<String> = vec![];
    for (n, a) in std::env::args_os().skip(1).enumerate() {
        match a.into_string() {
            Ok(s) => args.push(s),
            Err(raw) => {
                // Jail and interface names are text; a hook must not abort on one that is not.
                eprintln!(
                    "{prog}: argument {} ({}) is not valid UTF-8; jail and interface names must be",
                    n + 1,
                    escape_text(&raw.to_string_lossy())
                );
                std::process::exit(sysexits::USAGE);
            }
        }
    }
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
    let (error, printed) = match r {
        Ok(o) => {
            if json_mode {
                let mut j = o.json;
                if let (Some(e), Some(obj)) = (&o.error, j.as_object_mut()) {
                    obj.insert("error".into(), error_json(e));
                }
                let _ = writeln!(out, "{j}");
            } else {
                for l in &o.lines {
                    let _ = writeln!(out, "{}", escape_text(l));
                }
            }
            (o.error, true)
        }
        Err(e) => (Some(e), false),
    };
    let Some(e) = error else { return sysexits::OK };
    if json_mode && !printed {
        let _ = writeln!(out, "{}", json!({ "error": error_json(&e) }));
    }
    let msg = escape_text(&e.message);
    eprintln!("{prog}: {msg}");
    syslog_line(log::Level::Error, &msg);
    e.exit_code()
}

fn error_json(e: &crate::error::Error) -> Value {
    json!({
        "message": e.message,
        "kind": e.kind,
        "errno": e.errno.and_then(|x| x.name()),
        "exit_code": e.exit_code(),
    })
}

/// Text for a terminal or a log: names and descriptions can come from inside a jail, where
/// its root may put escape sequences or line breaks in them to forge output. Control
/// characters (C0, DEL, C1), bidirectional overrides and line separators are shown as
/// `\xNN` or `\u{NNNN}`; everything else, other UTF-8 text included, is kept. JSON output is
/// not touched: it escapes by itself.
pub fn escape_text(s: &str) -> String {
    let risky = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(risky) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !risky(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        }
    }
    out
}

/// Work that runs against whichever kernel this process uses (see `on_kernel`).
pub trait KernelTask {
    /// What the work gives.
    type Output;
    /// Do it.
    fn run<K: Kernel>(self, kernel: &mut K) -> Self::Output;
}

/// Run `task` against the kernel this process should use: the simulated host when
/// `JNET_SIM` is set (builds with the `sim` feature only), else FreeBSD's; elsewhere a clear
/// refusal. `name` is the program's, for that refusal.
pub fn on_kernel<T: KernelTask>(name: &str, task: T) -> Result<T::Output> {
    #[cfg(feature = "sim")]
    if let Some(path) = std::env::var_os(crate::sim::ENV) {
        let mut k = crate::sim::Sim::open(std::path::Path::new(&path))?;
        return Ok(task.run(&mut k));
    }
    // FreeBSD 13.0's network stack run as a Linux library (jnet-stackhost): the FreeBSD
    // backend itself, over the stack host's socket. Never on FreeBSD, where the kernel is
    // the only one.
    #[cfg(not(target_os = "freebsd"))]
    if let Some(sock) = std::env::var_os(crate::freebsd::STACK_ENV) {
        let mut k = crate::freebsd::FreeBsd::over_stack(std::path::Path::new(&sock))?;
        return Ok(task.run(&mut k));
    }
    #[cfg(target_os = "freebsd")]
    {
        let _ = name;
        let mut k = crate::freebsd::FreeBsd::open()?;
        Ok(task.run(&mut k))
    }
    #[cfg(not(target_os = "freebsd"))]
    {
        let _ = task;
        Err(Error::new(
            Kind::Unavailable,
            format!("{name} talks to the FreeBSD kernel and this is not FreeBSD{SIM_HINT}"),
        ))
    }
}

struct RunProgram<P>(P);

impl<P: Program> KernelTask for RunProgram<P> {
    type Output = Result<Output>;
    fn run<K: Kernel>(self, kernel: &mut K) -> Result<Output> {
        self.0.run(kernel)
    }
}

/// Run a program against the kernel this process should use (`on_kernel`).
pub fn dispatch<P: Program>(p: P) -> Result<Output> {
    on_kernel(P::NAME, RunProgram(p))?
}

#[cfg(all(not(target_os = "freebsd"), feature = "sim"))]
const SIM_HINT: &str =
    "; set JNET_SIM=FILE to use the simulated host (see jnet-sim(1)), or JNET_FBSD_STACK=SOCKET for FreeBSD's stack";
#[cfg(all(not(target_os = "freebsd"), not(feature = "sim")))]
const SIM_HINT: &str =
    " (this build has no simulated host; JNET_FBSD_STACK=SOCKET uses FreeBSD's stack served by jnet-stackhost)";

/// A whole program's main: parse, log, run, print, exit.
pub fn main<P: Program + FromArgs>() -> ! {
    let p: P = parse_args(P::NAME);
    let c = p.common();
    init_logging(P::NAME, &c);
    let code = finish(P::NAME, c.json, dispatch(p));
    std::process::exit(code)
}
