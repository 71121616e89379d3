//! A forked child whose result comes back over a pipe, waited for with a deadline.
//!
//! A step inside a jail runs in a child that attached to the jail, and everything inside a
//! jail is its root's: he can stop that child (SIGSTOP), kill it, or keep it busy. So the
//! parent never waits without limit: it polls the pipe until the deadline, then kills and
//! reaps the child; and a child that dies or says nothing is an error for that one step, not
//! a crash of the caller.

use crate::error::{Error, Kind};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// The most a child may send back; a result is a few kilobytes of JSON.
const MAX_RESULT: usize = 16 << 20;

/// The error for a step inside `jail` that did not answer in time.
pub fn timed_out(jail: &str, deadline: Duration) -> Error {
    Error::new(
        Kind::TempFail,
        format!(
            "the step inside jail {jail} did not finish within {} s (stopped or held up from inside the jail?); \
             it was killed",
            deadline.as_secs_f64()
        ),
    )
}

/// The error for a step inside `jail` that ended without a result.
pub fn died(jail: &str, how: &str) -> Error {
    Error::new(Kind::TempFail, format!("the step inside jail {jail} ended without a result ({how})"))
}

/// How a child ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// It wrote this and exited.
    Result(Vec<u8>),
    /// It did not finish by the deadline: it was killed and reaped.
    TimedOut,
    /// It ended without writing anything; the wait status in words.
    Died(String),
}

fn describe(status: libc::c_int) -> String {
    if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else if libc::WIFEXITED(status) {
        format!("exit status {}", libc::WEXITSTATUS(status))
    } else {
        format!("wait status {status:#x}")
    }
}

/// Kill `pid` and reap it. SIGKILL ends a stopped process too.
fn kill_and_reap(pid: libc::pid_t) {
    // SAFETY: signalling and waiting for our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        let mut status = 0;
        while libc::waitpid(pid, &mut status, 0) < 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
        {}
    }
}

/// Fork; the child runs `child` with the write end of a fresh pipe and should end with
/// `_exit` (if it returns, it exits 127 without a result). The parent reads what the child writes until it closes the pipe
/// and exits, for at most `deadline`.
pub fn run<F>(deadline: Duration, child: F) -> Result<Ended, Error>
where
    F: FnOnce(RawFd),
{
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2(2) fills two fresh close-on-exec descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Error::kernel("make a pipe for a child", crate::errno::Errno::last()));
    }
    // SAFETY: both descriptors were just created and are owned here.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: the programs are single-threaded when they fork; the child only makes system
    // calls and runs its step, then _exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::kernel("fork a child", crate::errno::Errno::last()));
    }
    if pid == 0 {
        drop(rd);
        let raw = wr.as_raw_fd();
        std::mem::forget(wr);
        child(raw);
        // SAFETY: leave without running the parent's destructors.
        unsafe { libc::_exit(127) }
    }
    drop(wr);
    let start = Instant::now();
    let mut body = vec![];
    let mut buf = [0u8; 8192];
    let mut eof = false;
    loop {
        let left = deadline.saturating_sub(start.elapsed());
        if left.is_zero() {
            kill_and_reap(pid);
            return Ok(Ended::TimedOut);
        }
        if !eof {
            let mut p = libc::pollfd { fd: rd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            let ms = left.as_millis().clamp(1, 1000) as libc::c_int;
            // SAFETY: one pollfd.
            let n = unsafe { libc::poll(&mut p, 1, ms) };
            if n < 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                kill_and_reap(pid);
                return Err(Error::kernel("poll a child's pipe", crate::errno::Errno::last()));
            }
            if n == 0 {
                // Gone without closing its end? (Another process may hold a copy of it.)
                let mut status = 0;
                // SAFETY: waiting for our own child without blocking.
                if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
                    return Ok(if body.is_empty() { Ended::Died(describe(status)) } else { Ended::Result(body) });
                }
                continue;
            }
            // SAFETY: reading into our buffer from our descriptor.
            let r = unsafe { libc::read(rd.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
            match r {
                0 => eof = true,
                r if r > 0 => {
                    body.extend_from_slice(&buf[..r as usize]);
                    if body.len() > MAX_RESULT {
                        kill_and_reap(pid);
                        return Ok(Ended::Died(format!("it sent more than {MAX_RESULT} bytes")));
                    }
                }
                _ if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => {}
                _ => eof = true,
            }
            continue;
        }
        // The pipe is closed: the child should be gone, or about to be.
        let mut status = 0;
        // SAFETY: waiting for our own child without blocking.
        let w = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if w == pid {
            return Ok(if body.is_empty() { Ended::Died(describe(status)) } else { Ended::Result(body) });
        }
        std::thread::sleep(Duration::from_millis(2).min(left));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_and_exit(fd: RawFd, msg: &[u8]) -> ! {
        // SAFETY: write(2) and _exit(2) in the child.
        unsafe {
            libc::write(fd, msg.as_ptr() as *const libc::c_void, msg.len());
            libc::_exit(0)
        }
    }

    #[test]
    fn a_result_comes_back() {
        let r = run(Duration::from_secs(10), |fd| write_and_exit(fd, b"{\"Ok\":1}")).unwrap();
        assert_eq!(r, Ended::Result(b"{\"Ok\":1}".to_vec()));
    }

    #[test]
    fn a_stopped_child_is_killed_at_the_deadline() {
        let t = Instant::now();
        let r = run(Duration::from_millis(300), |_| {
            // SAFETY: raise(3) and _exit(2) in the child; a jail's root sending SIGSTOP.
            unsafe {
                libc::raise(libc::SIGSTOP);
                libc::_exit(0)
            }
        })
        .unwrap();
        assert_eq!(r, Ended::TimedOut);
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_killed_child_is_an_error_not_a_crash() {
        let r = run(Duration::from_secs(10), |_| {
            // SAFETY: the child kills itself, as something in the jail might.
            unsafe {
                libc::raise(libc::SIGKILL);
                libc::_exit(0)
            }
        })
        .unwrap();
        assert_eq!(r, Ended::Died("killed by signal 9".into()));
    }

    #[test]
    fn a_child_that_closes_its_pipe_and_hangs_is_killed_too() {
        let r = run(Duration::from_millis(300), |fd| {
            // SAFETY: close(2) and pause(2) in the child.
            unsafe {
                libc::close(fd);
                libc::pause();
                libc::_exit(0)
            }
        })
        .unwrap();
        assert_eq!(r, Ended::TimedOut);
    }
}
