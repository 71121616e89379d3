//! The system calls the FreeBSD backend makes, behind one seam: on FreeBSD they go to the
//! kernel through libc (`LibcSys`); anywhere, with `JNET_FBSD_STACK=SOCKET`, to FreeBSD 13.0's
//! network stack run as a Linux library by `jnet-stackhost` (`stackhost::StackHost`). Both
//! take FreeBSD's numbers (domains, request codes, MIBs, errnos) and struct bytes, so the
//! backend's requests are the same bytes on either side.

use crate::errno::Errno;
use crate::kernel::KResult;
use std::time::Duration;

/// A descriptor in the seam's own numbering (the process's, or the stack host's).
pub type Fd = i32;

/// FreeBSD `sys/sys/socket.h`: PF_INET 2, PF_ROUTE 17, PF_INET6 28.
pub const PF_INET: i32 = 2;
/// PF_ROUTE (`sys/sys/socket.h`).
pub const PF_ROUTE: i32 = 17;
/// PF_INET6 (`sys/sys/socket.h`).
pub const PF_INET6: i32 = 28;
/// SOCK_DGRAM (`sys/sys/socket.h`).
pub const SOCK_DGRAM: i32 = 2;
/// SOCK_RAW (`sys/sys/socket.h`).
pub const SOCK_RAW: i32 = 3;

/// A buffer an ioctl argument points to (ifr_data, ifd_data, a description...), directly or
/// through an earlier buffer (the member array `ifbic_buf` points to, inside the `ifd_data`
/// buffer). Its address goes at `offset` in the parent (`fill_pointers`; the stack host swaps
/// in its own copy's address and back); after the call the slot holds that address unless
/// the kernel changed it (SIOCGIFDESCR sets it to NULL when the buffer is too small).
pub struct Indirect<'a> {
    /// 0: the pointer is in the argument; k: in buffer k-1 of the same call (an earlier one).
    pub parent: usize,
    /// Where in the parent the pointer goes.
    pub offset: usize,
    /// What it points to.
    pub buf: &'a mut [u8],
}

/// The calls, one to one with the system calls of the same name.
pub trait Syscalls: std::fmt::Debug {
    /// socket(2), close-on-exec.
    fn socket(&mut self, domain: i32, ty: i32, protocol: i32) -> KResult<Fd>;
    /// close(2); errors are of no use at the places jnet closes.
    fn close(&mut self, fd: Fd);
    /// ioctl(2) with `arg` holding the request's struct. Each `Indirect` buffer's address is
    /// written into its parent first (`fill_pointers`); on return a pointer slot still holds
    /// that address unless the kernel changed it (SIOCGIFDESCR writes NULL when the buffer
    /// is too small).
    fn ioctl(&mut self, fd: Fd, request: u64, arg: &mut [u8], bufs: &mut [Indirect<'_>]) -> KResult<()>;
    /// sysctl(3) by MIB: the value's length, written into `old` when given (`None` asks for
    /// the size only).
    fn sysctl(&mut self, mib: &[i32], old: Option<&mut [u8]>) -> KResult<usize>;
    /// sysctlnametomib(3).
    fn sysctl_mib(&mut self, name: &str) -> KResult<Vec<i32>>;
    /// SO_RCVBUF, where the seam can set it.
    fn set_rcvbuf(&mut self, fd: Fd, bytes: i32) -> KResult<()>;
    /// sendto(2); an empty `addr` sends on a routing socket (write(2)).
    fn sendto(&mut self, fd: Fd, data: &[u8], addr: &[u8]) -> KResult<usize>;
    /// recv(2) waiting at most `wait`: ETIMEDOUT when nothing came.
    fn recv(&mut self, fd: Fd, buf: &mut [u8], wait: Duration) -> KResult<usize>;
    /// kldload(2); a module already there (or compiled in) is not an error.
    fn kldload(&mut self, module: &str) -> KResult<()>;
    /// Whether this kernel has jails.
    fn has_jails(&self) -> bool;
    /// The pid the kernel writes into this process's routing messages: route_output puts
    /// the sender's (`rtm->rtm_pid = curproc->p_pid`, rtsock.c fill_addrinfo), so a reply
    /// is told from other processes' messages by it. None where another process makes the
    /// calls (the stack host: its messages carry its own pid).
    fn rtm_pid(&self) -> Option<i32>;
    /// jail_get(2) over iovecs given as (address, length); lengths come back as the kernel
    /// set them. Returns the jid.
    fn jail_get(&mut self, iov: &mut [(usize, usize)], flags: i32) -> KResult<i32>;
    /// The seam of a process inside jail `jid`, where the seam makes one itself (the stack
    /// host: another connection, attached with jail_attach); None where jnet forks a child
    /// that attaches (FreeBSD).
    fn enter_jail(&self, _jid: i32) -> Option<KResult<Box<dyn Syscalls>>> {
        None
    }
}

/// Write each buffer's address into its parent (the arg, or an earlier buffer), as the
/// kernel will read it: a native-endian pointer.
pub fn fill_pointers(arg: &mut [u8], bufs: &mut [Indirect<'_>]) -> KResult<()> {
    for k in 0..bufs.len() {
        let (before, rest) = bufs.split_at_mut(k);
        let me = &mut rest[0];
        let addr = (me.buf.as_mut_ptr() as usize as u64).to_ne_bytes();
        let parent: &mut [u8] = match me.parent {
            0 => &mut *arg,
            p if p <= k => &mut *before[p - 1].buf,
            _ => return Err(Errno::EINVAL),
        };
        let slot = parent.get_mut(me.offset..me.offset + 8).ok_or(Errno::EINVAL)?;
        slot.copy_from_slice(&addr);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_go_into_the_arg_and_into_earlier_buffers() {
        let mut arg = [0u8; 40];
        let mut conf = [0u8; 16];
        let mut members = [0u8; 80];
        let conf_at = conf.as_ptr() as usize as u64;
        let members_at = members.as_ptr() as usize as u64;
        let mut bufs =
            [Indirect { parent: 0, offset: 32, buf: &mut conf }, Indirect { parent: 1, offset: 8, buf: &mut members }];
        fill_pointers(&mut arg, &mut bufs).unwrap();
        assert_eq!(&arg[32..40], &conf_at.to_ne_bytes());
        assert_eq!(&bufs[0].buf[8..16], &members_at.to_ne_bytes());
        assert_eq!(&arg[..32], &[0u8; 32]);
    }

    #[test]
    fn a_pointer_past_its_parent_or_from_a_later_buffer_is_refused() {
        let mut arg = [0u8; 16];
        let mut a = [0u8; 8];
        assert_eq!(fill_pointers(&mut arg, &mut [Indirect { parent: 0, offset: 12, buf: &mut a }]), Err(Errno::EINVAL));
        let mut b = [0u8; 8];
        assert_eq!(fill_pointers(&mut arg, &mut [Indirect { parent: 1, offset: 0, buf: &mut b }]), Err(Errno::EINVAL));
    }
}
