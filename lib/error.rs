//! Errors with context, their sysexits(3) codes, and teardown error lists.
//!
//! Every error says what failed, on which object and why: "rename epair12a to e0a_www:
//! File exists (EEXIST)". The kind decides the exit code, in one place (`exit_code`).

use crate::errno::Errno;
use serde::{Deserialize, Serialize};
use std::fmt;

/// sysexits(3) values.
pub mod sysexits {
    /// EX_OK
    pub const OK: i32 = 0;
    /// EX_USAGE: bad command line
    pub const USAGE: i32 = 64;
    /// EX_DATAERR: bad input data (address, MAC, name)
    pub const DATAERR: i32 = 65;
    /// EX_NOHOST: the jail does not exist
    pub const NOHOST: i32 = 68;
    /// EX_UNAVAILABLE: a needed facility is missing (no VIMAGE, no backend)
    pub const UNAVAILABLE: i32 = 69;
    /// EX_SOFTWARE: internal error
    pub const SOFTWARE: i32 = 70;
    /// EX_OSERR: a kernel operation failed
    pub const OSERR: i32 = 71;
    /// EX_IOERR: reading or writing a file failed
    pub const IOERR: i32 = 74;
    /// EX_TEMPFAIL: try again later (timeouts, something still away)
    pub const TEMPFAIL: i32 = 75;
    /// EX_PROTOCOL: the kernel answered something we cannot parse
    pub const PROTOCOL: i32 = 76;
    /// EX_NOPERM: not root, or the kernel refused for privilege
    pub const NOPERM: i32 = 77;
    /// EX_CONFIG: a conflict with the existing configuration (a name owned by another)
    pub const CONFIG: i32 = 78;
}

/// What kind of failure, which fixes the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Bad command line.
    Usage,
    /// Bad value (address, MAC, name, index).
    Data,
    /// The jail does not exist, or is not of the needed kind.
    NoJail,
    /// A facility is missing.
    Unavailable,
    /// A kernel operation failed.
    Kernel,
    /// A conflict with objects jnet does not own.
    Conflict,
    /// Not finished in time, or something is still away.
    TempFail,
    /// An unparsable kernel answer.
    Protocol,
    /// A file could not be read or written.
    Io,
    /// A bug.
    Internal,
}

/// An error with its context.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    /// The kind, which fixes the exit code.
    pub kind: Kind,
    /// The full message, outermost context first.
    pub message: String,
    /// The kernel's errno, when a kernel operation failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno: Option<Errno>,
}

impl Error {
    /// A new error.
    pub fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), errno: None }
    }
    /// A failed kernel operation: "`step`: <errno text>", e.g. step = "rename epair3a to e0a_www".
    pub fn kernel(step: impl fmt::Display, errno: Errno) -> Error {
        let kind = match errno {
            Errno::ETIMEDOUT | Errno::EAGAIN => Kind::TempFail,
            _ => Kind::Kernel,
        };
        Error { kind, message: format!("{step}: {errno}"), errno: Some(errno) }
    }
    /// Shorthands.
    pub fn usage(m: impl Into<String>) -> Error {
        Error::new(Kind::Usage, m)
    }
    /// Bad data.
    pub fn data(m: impl Into<String>) -> Error {
        Error::new(Kind::Data, m)
    }
    /// A conflict.
    pub fn conflict(m: impl Into<String>) -> Error {
        Error::new(Kind::Conflict, m)
    }
    /// Put `what` in front: "`what`: <message>".
    pub fn context(mut self, what: impl fmt::Display) -> Error {
        self.message = format!("{what}: {}", self.message);
        self
    }
    /// The sysexits(3) code for this error.
    pub fn exit_code(&self) -> i32 {
        use sysexits::*;
        match self.kind {
            Kind::Usage => USAGE,
            Kind::Data => DATAERR,
            Kind::NoJail => NOHOST,
            Kind::Unavailable => UNAVAILABLE,
            Kind::Kernel => match self.errno {
                Some(Errno::EPERM) | Some(Errno::EACCES) => NOPERM,
                _ => OSERR,
            },
            Kind::Conflict => CONFIG,
            Kind::TempFail => TEMPFAIL,
            Kind::Protocol => PROTOCOL,
            Kind::Io => IOERR,
            Kind::Internal => SOFTWARE,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<crate::names::NameError> for Error {
    fn from(e: crate::names::NameError) -> Error {
        Error::data(e.0)
    }
}

impl From<crate::mac::MacError> for Error {
    fn from(e: crate::mac::MacError) -> Error {
        Error::data(e.0)
    }
}

/// Result with our error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attach a kernel step description to a raw errno result.
pub trait KernelContext<T> {
    /// "`step`: <errno>" on failure.
    fn step(self, step: impl FnOnce() -> String) -> Result<T>;
}

impl<T> KernelContext<T> for std::result::Result<T, Errno> {
    fn step(self, step: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::kernel(step(), e))
    }
}

/// Errors gathered by a teardown that goes on after a failure.
#[derive(Debug, Default)]
pub struct ErrorList(pub Vec<Error>);

impl ErrorList {
    /// Record the error of `r`, if any, and go on.
    pub fn collect<T>(&mut self, r: Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }
    /// Record a failure and go on.
    pub fn push(&mut self, e: Error) {
        self.0.push(e);
    }
    /// Ok if nothing failed, else one error listing every failure; the exit code is that of
    /// the first failure.
    pub fn into_result(self, what: &str) -> Result<()> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(self.0.into_iter().next().expect("one").context(what)),
            n => {
                let first = &self.0[0];
                let msg = self.0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; ");
                Err(Error { kind: first.kind, errno: first.errno, message: format!("{what}: {n} failures: {msg}") })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_codes() {
        let e = Error::kernel("rename epair12a to e0a_www", Errno::EEXIST);
        assert_eq!(e.to_string(), "rename epair12a to e0a_www: File exists (EEXIST)");
        assert_eq!(e.exit_code(), sysexits::OSERR);
        assert_eq!(Error::kernel("x", Errno::EPERM).exit_code(), sysexits::NOPERM);
        assert_eq!(Error::kernel("x", Errno::ETIMEDOUT).exit_code(), sysexits::TEMPFAIL);
        assert_eq!(Error::usage("u").exit_code(), 64);
        assert_eq!(Error::conflict("c").exit_code(), 78);
        assert_eq!(Error::data("d").context("jnet-epair www").to_string(), "jnet-epair www: d");
    }

    #[test]
    fn error_list_keeps_every_failure() {
        let mut l = ErrorList::default();
        assert_eq!(l.collect::<()>(Err(Error::kernel("destroy e0a_a", Errno::ENXIO))), None);
        assert_eq!(l.collect(Ok(3)), Some(3));
        l.collect::<()>(Err(Error::kernel("destroy e1a_a", Errno::EBUSY)));
        let e = l.into_result("release a").unwrap_err();
        assert_eq!(
            e.message,
            "release a: 2 failures: destroy e0a_a: Device not configured (ENXIO); destroy e1a_a: Device busy (EBUSY)"
        );
        assert_eq!(e.errno, Some(Errno::ENXIO));
        assert!(ErrorList::default().into_result("x").is_ok());
    }
}
