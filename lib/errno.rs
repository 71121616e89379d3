//! FreeBSD errno values, by name, independent of the platform we run on.
//!
//! The simulated host must answer with FreeBSD's numbers and words even on Linux (where
//! EOPNOTSUPP, ENOMSG, EAGAIN... have other values), so errors carry FreeBSD's numbering
//! (`sys/sys/errno.h`). On FreeBSD a compile-time check ties each value to `libc`.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! errnos {
    ($( $name:ident = $num:expr, $text:expr; )*) => {
        /// A FreeBSD errno value (`sys/sys/errno.h`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct Errno(pub i32);

        #[allow(missing_docs)]
        impl Errno {
            $( pub const $name: Errno = Errno($num); )*

            /// The symbolic name ("EEXIST"), if known.
            pub fn name(self) -> Option<&'static str> {
                match self.0 { $( $num => Some(stringify!($name)), )* _ => None }
            }

            /// strerror(3) text as FreeBSD prints it.
            pub fn text(self) -> &'static str {
                match self.0 { $( $num => $text, )* _ => "Unknown error" }
            }

            /// Parse "EEXIST" or "17".
            pub fn parse(s: &str) -> Option<Errno> {
                if let Ok(n) = s.parse::<i32>() {
                    return (n > 0).then_some(Errno(n));
                }
                match s.to_ascii_uppercase().as_str() {
                    $( stringify!($name) => Some(Errno::$name), )*
                    _ => None,
                }
            }
        }

        #[cfg(target_os = "freebsd")]
        const _: () = { $( assert!($num == libc::$name); )* };
    };
}

errnos! {
    EPERM = 1, "Operation not permitted";
    ENOENT = 2, "No such file or directory";
    ESRCH = 3, "No such process";
    EINTR = 4, "Interrupted system call";
    EIO = 5, "Input/output error";
    ENXIO = 6, "Device not configured";
    EBADF = 9, "Bad file descriptor";
    ECHILD = 10, "No child processes";
    ENOMEM = 12, "Cannot allocate memory";
    EACCES = 13, "Permission denied";
    EFAULT = 14, "Bad address";
    EBUSY = 16, "Device busy";
    EEXIST = 17, "File exists";
    ENODEV = 19, "Operation not supported by device";
    EINVAL = 22, "Invalid argument";
    ENFILE = 23, "Too many open files in system";
    EMFILE = 24, "Too many open files";
    ENOTTY = 25, "Inappropriate ioctl for device";
    ENOSPC = 28, "No space left on device";
    EPIPE = 32, "Broken pipe";
    ERANGE = 34, "Result too large";
    EAGAIN = 35, "Resource temporarily unavailable";
    EMSGSIZE = 40, "Message too long";
    EPROTONOSUPPORT = 43, "Protocol not supported";
    EOPNOTSUPP = 45, "Operation not supported";
    EPFNOSUPPORT = 46, "Protocol family not supported";
    EAFNOSUPPORT = 47, "Address family not supported by protocol family";
    EADDRINUSE = 48, "Address already in use";
    EADDRNOTAVAIL = 49, "Can't assign requested address";
    ENETDOWN = 50, "Network is down";
    ENETUNREACH = 51, "Network is unreachable";
    ENOBUFS = 55, "No buffer space available";
    ENOTCONN = 57, "Socket is not connected";
    ETIMEDOUT = 60, "Operation timed out";
    ELOOP = 62, "Too many levels of symbolic links";
    ENAMETOOLONG = 63, "File name too long";
    ENOSYS = 78, "Function not implemented";
        ENOMSG = 83, "No message of desired type";
    EPROTO = 92, "Protocol error";
}

impl Errno {
    /// The errno of the last failed libc call, translated to FreeBSD numbering.
    /// On FreeBSD the numbers are the same; elsewhere only the sim is used, which never
    /// calls this, but a host syscall (flock, open) may fail: map the common ones by name.
    pub fn last() -> Errno {
        Errno::from_host(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }

    /// Translate a host errno to FreeBSD numbering.
    pub fn from_host(raw: i32) -> Errno {
        #[cfg(target_os = "freebsd")]
        {
            Errno(raw)
        }
        #[cfg(not(target_os = "freebsd"))]
        {
            let table: &[(i32, Errno)] = &[
                (libc::EPERM, Errno::EPERM),
                (libc::ENOENT, Errno::ENOENT),
                (libc::EINTR, Errno::EINTR),
                (libc::EIO, Errno::EIO),
                (libc::ENXIO, Errno::ENXIO),
                (libc::EBADF, Errno::EBADF),
                (libc::ENOMEM, Errno::ENOMEM),
                (libc::EACCES, Errno::EACCES),
                (libc::EBUSY, Errno::EBUSY),
                (libc::EEXIST, Errno::EEXIST),
                (libc::EINVAL, Errno::EINVAL),
                (libc::ENOSPC, Errno::ENOSPC),
                (libc::EAGAIN, Errno::EAGAIN),
                (libc::ENAMETOOLONG, Errno::ENAMETOOLONG),
                (libc::ENOSYS, Errno::ENOSYS),
            ];
            table.iter().find(|(h, _)| *h == raw).map(|(_, e)| *e).unwrap_or(Errno::EIO)
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{} ({})", self.text(), n),
            None => write!(f, "error {}", self.0),
        }
    }
}

impl From<std::io::Error> for Errno {
    fn from(e: std::io::Error) -> Errno {
        Errno::from_host(e.raw_os_error().unwrap_or(libc::EIO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freebsd_numbers_and_words() {
        assert_eq!(Errno::EEXIST.0, 17);
        assert_eq!(Errno::EOPNOTSUPP.0, 45);
        assert_eq!(Errno::ENOMSG.0, 83);
        assert_eq!(Errno::ENAMETOOLONG.0, 63);
        assert_eq!(Errno::EEXIST.to_string(), "File exists (EEXIST)");
        assert_eq!(Errno::parse("eexist"), Some(Errno::EEXIST));
        assert_eq!(Errno::parse("6"), Some(Errno::ENXIO));
        assert_eq!(Errno::parse("EBOGUS"), None);
        assert_eq!(Errno::parse("0"), None);
    }
}
