//! The child that runs one step inside a jail: it turns off tracing, closes every host
//! descriptor but its result pipe, attaches to the jail and opens new sockets there (they act
//! on the jail's vnet). FreeBSD only: jail_attach(2) and procctl(2).

use super::backend::FreeBsd;
use crate::errno::Errno;
use crate::error::Error;
use crate::kernel::Jid;
use serde::Serialize;
use std::io::Write;
use std::os::fd::{FromRawFd, RawFd};

/// Write the whole buffer to a raw descriptor.
fn write_all(fd: RawFd, data: &[u8]) {
    // SAFETY: fd is the child's result pipe; ManuallyDrop keeps it from being closed here.
    let mut f = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    let _ = f.write_all(data);
}

/// The child side of `in_jail_within`. Never returns.
pub fn run<R, F>(jid: Jid, result_fd: RawFd, step: F) -> !
where
    R: Serialize,
    F: FnOnce(&mut FreeBsd) -> Result<R, Error>,
{
    const PIPE: RawFd = 3;
    // Nothing from inside the jail goes to the host's syslog (the jail's /var/run/log is
    // its root's), and the parent reports the result.
    crate::cli::disable_syslog();
    // SAFETY: plain system calls in a freshly forked, single-threaded child.
    let traced_off = unsafe {
        // Nothing in the jail may ptrace us once we are inside it.
        let mut disable: libc::c_int = libc::PROC_TRACE_CTL_DISABLE;
        let r =
            libc::procctl(libc::P_PID, 0, libc::PROC_TRACE_CTL, &mut disable as *mut libc::c_int as *mut libc::c_void);
        // Keep only the result pipe: stdio goes to /dev/null, every other host
        // descriptor is closed before we enter the jail.
        // With stdio closed by the caller the pipe may sit at 0-2: lift it out of the way of
        // the /dev/null redirections first.
        let result_fd = if result_fd < PIPE { libc::fcntl(result_fd, libc::F_DUPFD, 10) } else { result_fd };
        if result_fd != PIPE {
            libc::dup2(result_fd, PIPE);
        }
        // Opened after the pipe is at 3, so it cannot land there.
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        for fd in 0..3 {
            libc::dup2(null, fd);
        }
        libc::closefrom(PIPE + 1);
        if r == 0 {
            Ok(())
        } else {
            Err(Errno::last())
        }
    };
    let result: Result<R, Error> = (|| {
        // Never enter a jail while the jail's root could still attach a debugger to us.
        traced_off.map_err(|e| Error::kernel("turn off tracing before entering the jail (procctl)", e))?;
        // SAFETY: jail_attach(2) changes this (child) process only.
        if unsafe { libc::jail_attach(jid) } != 0 {
            return Err(Error::kernel(format!("attach to jail {jid}"), Errno::last()));
        }
        // New sockets, created inside the jail, act on its vnet.
        let mut inside = FreeBsd::open()?;
        step(&mut inside)
    })();
    let body = serde_json::to_vec(&result).unwrap_or_default();
    write_all(PIPE, &body);
    // SAFETY: leave without running the parent's atexit handlers or destructors.
    unsafe { libc::_exit(0) }
}
