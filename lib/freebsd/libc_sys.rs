//! The seam on FreeBSD: the system calls themselves, through libc.

use super::sys::{fill_pointers, Fd, Indirect, Syscalls};
use crate::errno::Errno;
use crate::kernel::KResult;
use std::ffi::CString;
use std::time::Duration;

extern "C" {
    // sys/linker.h; not in the libc crate.
    fn kldload(file: *const libc::c_char) -> libc::c_int;
}

/// The running FreeBSD kernel.
#[derive(Debug, Default)]
pub struct LibcSys;

fn check(r: libc::c_int) -> KResult<libc::c_int> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

impl Syscalls for LibcSys {
    fn socket(&mut self, domain: i32, ty: i32, protocol: i32) -> KResult<Fd> {
        // SAFETY: plain socket(2); the caller owns the descriptor.
        check(unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, protocol) })
    }

    fn close(&mut self, fd: Fd) {
        // SAFETY: the caller gives up a descriptor it owns.
        unsafe { libc::close(fd) };
    }

    fn ioctl(&mut self, fd: Fd, request: u64, arg: &mut [u8], bufs: &mut [Indirect<'_>]) -> KResult<()> {
        fill_pointers(arg, bufs)?;
        // SAFETY: arg is the request's struct, of the size encoded in `request`; every
        // pointer in it was just set to a live buffer of the length the struct gives.
        check(unsafe { libc::ioctl(fd, request as libc::c_ulong, arg.as_mut_ptr() as *mut libc::c_void) }).map(|_| ())
    }

    fn sysctl(&mut self, mib: &[i32], old: Option<&mut [u8]>) -> KResult<usize> {
        let (ptr, mut len) = match old {
            Some(b) => (b.as_mut_ptr() as *mut libc::c_void, b.len()),
            None => (std::ptr::null_mut(), 0),
        };
        // SAFETY: mib has mib.len() entries; the kernel writes at most len bytes at ptr.
        check(unsafe { libc::sysctl(mib.as_ptr(), mib.len() as libc::c_uint, ptr, &mut len, std::ptr::null(), 0) })?;
        Ok(len)
    }

    fn sysctl_mib(&mut self, name: &str) -> KResult<Vec<i32>> {
        let c = CString::new(name).map_err(|_| Errno::EINVAL)?;
        let mut mib = [0i32; 24];
        let mut len: libc::size_t = mib.len();
        // SAFETY: mib has len entries.
        check(unsafe { libc::sysctlnametomib(c.as_ptr(), mib.as_mut_ptr(), &mut len) })?;
        Ok(mib[..len].to_vec())
    }

    fn set_rcvbuf(&mut self, fd: Fd, bytes: i32) -> KResult<()> {
        // SAFETY: an int option value of its true size.
        check(unsafe {
            libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &bytes as *const i32 as *const libc::c_void, 4)
        })
        .map(|_| ())
    }

    fn sendto(&mut self, fd: Fd, data: &[u8], addr: &[u8]) -> KResult<usize> {
        let (to, tolen) = if addr.is_empty() {
            (std::ptr::null(), 0)
        } else {
            (addr.as_ptr() as *const libc::sockaddr, addr.len() as libc::socklen_t)
        };
        // SAFETY: data and addr are live buffers of the given lengths.
        let n = unsafe { libc::sendto(fd, data.as_ptr() as *const libc::c_void, data.len(), 0, to, tolen) };
        if n < 0 {
            return Err(Errno::last());
        }
        Ok(n as usize)
    }

    fn recv(&mut self, fd: Fd, buf: &mut [u8], wait: Duration) -> KResult<usize> {
        let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        let ms = wait.as_millis().min(i32::MAX as u128) as libc::c_int;
        loop {
            // SAFETY: one pollfd.
            match unsafe { libc::poll(&mut p, 1, ms) } {
                0 => return Err(Errno::ETIMEDOUT),
                r if r < 0 && Errno::last() == Errno::EINTR => continue,
                r => check(r)?,
            };
            break;
        }
        // SAFETY: buf is a live buffer of its length.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
        if n < 0 {
            return Err(Errno::last());
        }
        Ok(n as usize)
    }

    fn kldload(&mut self, module: &str) -> KResult<()> {
        let c = CString::new(module).map_err(|_| Errno::EINVAL)?;
        // SAFETY: a NUL-terminated module name.
        match check(unsafe { kldload(c.as_ptr()) }) {
            // Already loaded or compiled in.
            Err(Errno::EEXIST) => Ok(()),
            r => r.map(|_| ()),
        }
    }

    fn has_jails(&self) -> bool {
        true
    }

    fn rtm_pid(&self) -> Option<i32> {
        Some(std::process::id() as i32)
    }

    fn jail_get(&mut self, iov: &mut [(usize, usize)], flags: i32) -> KResult<i32> {
        let mut v: Vec<libc::iovec> =
            iov.iter().map(|&(base, len)| libc::iovec { iov_base: base as *mut libc::c_void, iov_len: len }).collect();
        // SAFETY: every iovec points into a live buffer of its true length (the caller's).
        let jid = check(unsafe { libc::jail_get(v.as_mut_ptr(), v.len() as libc::c_uint, flags) })?;
        for (slot, got) in iov.iter_mut().zip(&v) {
            slot.1 = got.iov_len;
        }
        Ok(jid)
    }
}
