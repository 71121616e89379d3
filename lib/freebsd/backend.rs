//! The FreeBSD kernel backend: ioctls on ordinary sockets, jail_get(2), jail_attach(2),
//! sysctlbyname(3) and kldload(2). Requests are the byte encodings of `abi`.

use super::abi::{self, IfGroupReq, IfReq, In6IfReq, In6NdiReq};
use super::ngabi;
use crate::errno::Errno;
use crate::error::{Error, Kind};
use crate::kernel::{
    Cidr, IfInfo, Interfaces, JailInfo, JailRef, Jails, Jid, KResult, Lagg, Nd6, Netgraph, NgHook, NgNode, Routes,
    System, Vnets,
};
use crate::mac::Mac;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::ffi::{CStr, CString};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

extern "C" {
    // sys/linker.h; not in the libc crate.
    fn kldload(file: *const libc::c_char) -> libc::c_int;
}

/// The real kernel, through sockets created in the vnet this process is in.
#[derive(Debug)]
pub struct FreeBsd {
    /// Generic interface ioctls and the IPv4 ones (AF_INET socket).
    inet: OwnedFd,
    /// The IPv6 ioctls need an AF_INET6 socket; None on a kernel without INET6.
    inet6: Option<OwnedFd>,
    /// The netgraph control socket, opened on first use.
    ng: Option<OwnedFd>,
    /// Token of the last netgraph request.
    token: u32,
}

fn socket(family: libc::c_int) -> Result<OwnedFd, Errno> {
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let fd = unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn ioctl(fd: RawFd, req: u64, arg: *mut libc::c_void) -> KResult<()> {
    // SAFETY: every caller passes a buffer of the size encoded in `req`.
    let r = unsafe { libc::ioctl(fd, req as libc::c_ulong, arg) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

impl FreeBsd {
    /// Open the sockets the ioctls go through.
    pub fn open() -> Result<FreeBsd, Error> {
        let inet =
            socket(libc::AF_INET).map_err(|e| Error::kernel("open an AF_INET socket for interface ioctls", e))?;
        let inet6 = socket(libc::AF_INET6).ok();
        Ok(FreeBsd { inet, inet6, ng: None, token: std::process::id() & 0xffff })
    }

    fn inet(&self) -> RawFd {
        self.inet.as_raw_fd()
    }

    fn inet6(&self) -> KResult<RawFd> {
        self.inet6.as_ref().map(|f| f.as_raw_fd()).ok_or(Errno::EAFNOSUPPORT)
    }

    fn ifreq(&self, req: u64, r: &mut IfReq) -> KResult<()> {
        ioctl(self.inet(), req, r as *mut IfReq as *mut libc::c_void)
    }

    fn group_ioctl(&self, req: u64, name: &str, group: &str) -> KResult<()> {
        check_len(group)?;
        let mut r = IfGroupReq::group(name, group);
        ioctl(self.inet(), req, r.0.as_mut_ptr() as *mut libc::c_void)
    }

    fn drvspec(&self, req: u64, bridge: &str, cmd: u64, data: &mut [u8]) -> KResult<()> {
        let mut d = abi::ifdrv(bridge, cmd, data.len(), data.as_mut_ptr() as usize);
        ioctl(self.inet(), req, d.as_mut_ptr() as *mut libc::c_void)
    }
}

fn check_len(name: &str) -> KResult<()> {
    if name.len() >= abi::IFNAMSIZ {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

impl Interfaces for FreeBsd {
    fn if_create(&mut self, cloner: &str) -> KResult<String> {
        check_len(cloner)?;
        let mut r = IfReq::name(cloner);
        self.ifreq(abi::SIOCIFCREATE2, &mut r)?;
        Ok(r.get_name())
    }

    fn if_destroy(&mut self, name: &str) -> KResult<()> {
        self.ifreq(abi::SIOCIFDESTROY, &mut IfReq::name(name))
    }

    fn if_rename(&mut self, name: &str, new_name: &str) -> KResult<()> {
        check_len(new_name)?;
        let new = abi::ifname_buf(new_name);
        let mut r = IfReq::data(name, new.as_ptr() as usize);
        self.ifreq(abi::SIOCSIFNAME, &mut r)
    }

    fn if_description(&mut self, name: &str) -> KResult<Option<String>> {
        let mut size = 128usize;
        // The description can change between calls; a few rounds settle any race.
        for _ in 0..4 {
            let mut buf = vec![0u8; size];
            let mut r = IfReq::buffer(name, buf.len(), buf.as_mut_ptr() as usize);
            match self.ifreq(abi::SIOCGIFDESCR, &mut r) {
                Err(Errno::ENOMSG) => return Ok(None),
                Err(e) => return Err(e),
                Ok(()) => {}
            }
            let (len, ptr) = r.get_buffer();
            if ptr == 0 {
                // Too small: the kernel returned 0, a NULL buffer and the size it needs.
                size = len.max(size + 1);
                continue;
            }
            let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
            return Ok(Some(String::from_utf8_lossy(&buf[..end]).into_owned()));
        }
        Err(Errno::EAGAIN)
    }

    fn if_set_description(&mut self, name: &str, descr: Option<&str>) -> KResult<()> {
        match descr {
            None | Some("") => self.ifreq(abi::SIOCSIFDESCR, &mut IfReq::buffer(name, 0, 0)),
            Some(d) => {
                let c = CString::new(d).map_err(|_| Errno::EINVAL)?;
                let bytes = c.as_bytes_with_nul();
                self.ifreq(abi::SIOCSIFDESCR, &mut IfReq::buffer(name, bytes.len(), bytes.as_ptr() as usize))
            }
        }
    }

    fn if_groups(&mut self, name: &str) -> KResult<Vec<String>> {
        for _ in 0..4 {
            let mut q = IfGroupReq::list(name, 0, 0);
            ioctl(self.inet(), abi::SIOCGIFGROUP, q.0.as_mut_ptr() as *mut libc::c_void)?;
            let need = q.get_len() as usize;
            let mut buf = vec![0u8; need + abi::size::IFG_REQ];
            let mut r = IfGroupReq::list(name, buf.len() as u32, buf.as_mut_ptr() as usize);
            match ioctl(self.inet(), abi::SIOCGIFGROUP, r.0.as_mut_ptr() as *mut libc::c_void) {
                // A group was added in between: ask for the size again.
                Err(Errno::EINVAL) => continue,
                Err(e) => return Err(e),
                Ok(()) => {
                    let used = (r.get_len() as usize).min(buf.len());
                    return Ok(abi::parse_ifg_reqs(&buf[..used]));
                }
            }
        }
        Err(Errno::EAGAIN)
    }

    fn if_add_group(&mut self, name: &str, group: &str) -> KResult<()> {
        self.group_ioctl(abi::SIOCAIFGROUP, name, group)
    }

    fn if_del_group(&mut self, name: &str, group: &str) -> KResult<()> {
        self.group_ioctl(abi::SIOCDIFGROUP, name, group)
    }

    fn if_flags(&mut self, name: &str) -> KResult<u32> {
        let mut r = IfReq::name(name);
        self.ifreq(abi::SIOCGIFFLAGS, &mut r)?;
        Ok(r.get_flags())
    }

    fn if_set_flags(&mut self, name: &str, flags: u32) -> KResult<()> {
        self.ifreq(abi::SIOCSIFFLAGS, &mut IfReq::flags(name, flags))
    }

    fn if_mtu(&mut self, name: &str) -> KResult<u32> {
        let mut r = IfReq::name(name);
        self.ifreq(abi::SIOCGIFMTU, &mut r)?;
        Ok(r.get_mtu())
    }

    fn if_set_mtu(&mut self, name: &str, mtu: u32) -> KResult<()> {
        self.ifreq(abi::SIOCSIFMTU, &mut IfReq::mtu(name, mtu))
    }

    fn if_set_mac(&mut self, name: &str, mac: Mac) -> KResult<()> {
        self.ifreq(abi::SIOCSIFLLADDR, &mut IfReq::lladdr(name, mac))
    }

    fn if_add_addr(&mut self, name: &str, addr: Cidr, flags6: u32) -> KResult<()> {
        match addr.addr {
            IpAddr::V4(a) => {
                let mut r = abi::ifaliasreq(name, a, addr.prefixlen);
                ioctl(self.inet(), abi::SIOCAIFADDR, r.as_mut_ptr() as *mut libc::c_void)
            }
            IpAddr::V6(a) => {
                let mut r = abi::in6_aliasreq(name, a, addr.prefixlen, flags6);
                ioctl(self.inet6()?, abi::SIOCAIFADDR_IN6, r.as_mut_ptr() as *mut libc::c_void)
            }
        }
    }

    fn if_del_addr(&mut self, name: &str, addr: IpAddr) -> KResult<()> {
        match addr {
            IpAddr::V4(a) => self.ifreq(abi::SIOCDIFADDR, &mut IfReq::addr4(name, a)),
            IpAddr::V6(a) => {
                let mut r = In6IfReq::addr(name, a);
                ioctl(self.inet6()?, abi::SIOCDIFADDR_IN6, r.0.as_mut_ptr() as *mut libc::c_void)
            }
        }
    }

    fn if_addr6_flags(&mut self, name: &str, addr: Ipv6Addr) -> KResult<u32> {
        let mut r = In6IfReq::addr(name, addr);
        ioctl(self.inet6()?, abi::SIOCGIFAFLAG_IN6, r.0.as_mut_ptr() as *mut libc::c_void)?;
        Ok(r.get_flags6())
    }

    fn if_nd6(&mut self, name: &str) -> KResult<Nd6> {
        let mut r = In6NdiReq::new(name, None);
        ioctl(self.inet6()?, abi::SIOCGIFINFO_IN6, r.0.as_mut_ptr() as *mut libc::c_void)?;
        let ndi = r.ndi();
        Ok(Nd6 { flags: ndi.flags, retrans_ms: ndi.retrans })
    }

    fn if_set_nd6_flags(&mut self, name: &str, flags: u32) -> KResult<()> {
        // Written back exactly as read but for the flags: SIOCSIFINFO_IN6 applies every
        // non-zero field it is given (nd6.c nd6_ioctl).
        let mut r = In6NdiReq::new(name, None);
        ioctl(self.inet6()?, abi::SIOCGIFINFO_IN6, r.0.as_mut_ptr() as *mut libc::c_void)?;
        let mut ndi = r.ndi();
        ndi.flags = flags;
        let mut w = In6NdiReq::new(name, Some(&ndi));
        ioctl(self.inet6()?, abi::SIOCSIFINFO_IN6, w.0.as_mut_ptr() as *mut libc::c_void)
    }

    fn bridge_add(&mut self, bridge: &str, member: &str) -> KResult<()> {
        let mut m = abi::ifbreq(member);
        self.drvspec(abi::SIOCSDRVSPEC, bridge, abi::BRDGADD, &mut m)
    }

    fn bridge_del(&mut self, bridge: &str, member: &str) -> KResult<()> {
        let mut m = abi::ifbreq(member);
        self.drvspec(abi::SIOCSDRVSPEC, bridge, abi::BRDGDEL, &mut m)
    }

    fn bridge_members(&mut self, bridge: &str) -> KResult<Vec<String>> {
        let mut conf = abi::ifbifconf(0, 0);
        self.drvspec(abi::SIOCGDRVSPEC, bridge, abi::BRDGGIFS, &mut conf)?;
        // Room for a few members added meanwhile; the kernel reports what it filled.
        let mut buf = vec![0u8; abi::ifbifconf_len(&conf) as usize + 4 * abi::size::IFBREQ];
        let mut conf = abi::ifbifconf(buf.len() as u32, buf.as_mut_ptr() as usize);
        self.drvspec(abi::SIOCGDRVSPEC, bridge, abi::BRDGGIFS, &mut conf)?;
        let used = (abi::ifbifconf_len(&conf) as usize).min(buf.len());
        Ok(abi::parse_ifbreqs(&buf[..used]))
    }

    fn if_driver(&mut self, name: &str) -> KResult<String> {
        let c = CString::new(name).map_err(|_| Errno::EINVAL)?;
        // SAFETY: a NUL-terminated name.
        let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
        if index == 0 {
            return Err(Errno::ENXIO);
        }
        let mib = abi::ifdata_drivername_mib(index);
        // "%s%d" of a driver name (at most IFNAMSIZ) and an int: 64 bytes are plenty.
        let mut buf = [0u8; 64];
        let mut len: libc::size_t = buf.len();
        // SAFETY: mib has 6 entries; buf has len bytes and the kernel writes at most that many.
        let r = unsafe {
            libc::sysctl(
                mib.as_ptr(),
                mib.len() as libc::c_uint,
                buf.as_mut_ptr() as *mut libc::c_void,
                &mut len,
                std::ptr::null(),
                0,
            )
        };
        if r != 0 {
            return Err(match Errno::last() {
                // The ifindex went away between the two calls.
                Errno::ENOENT => Errno::ENXIO,
                e => e,
            });
        }
        let end = buf[..len.min(buf.len())].iter().position(|&b| b == 0).unwrap_or(len.min(buf.len()));
        Ok(String::from_utf8_lossy(&buf[..end]).into_owned())
    }

    fn if_lagg(&mut self, name: &str) -> KResult<Option<Lagg>> {
        let mut ports = vec![0u8; 32 * abi::size::LAGG_REQPORT];
        let mut r = abi::lagg_reqall(name, ports.len(), ports.as_mut_ptr() as usize);
        match ioctl(self.inet(), abi::SIOCGLAGG, r.as_mut_ptr() as *mut libc::c_void) {
            // Only if_lagg's ioctl handler knows SIOCGLAGG.
            Err(Errno::EINVAL) | Err(Errno::ENOTTY) | Err(Errno::EOPNOTSUPP) => Ok(None),
            Err(e) => Err(e),
            Ok(()) => {
                let (proto, count) = abi::lagg_reqall_answer(&r);
                let proto = abi::lagg::name(proto).to_string();
                Ok(Some(Lagg { proto, ports: abi::parse_lagg_ports(&ports, count) }))
            }
        }
    }

    fn if_list(&mut self) -> KResult<Vec<IfInfo>> {
        let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
        // SAFETY: getifaddrs fills `head`, freed below with freeifaddrs.
        if unsafe { libc::getifaddrs(&mut head) } != 0 {
            return Err(Errno::last());
        }
        let mut out: Vec<IfInfo> = vec![];
        let mut p = head;
        while !p.is_null() {
            // SAFETY: p walks the list getifaddrs returned; each sockaddr is sa_len bytes.
            let ifa = unsafe { &*p };
            p = ifa.ifa_next;
            let name = unsafe { CStr::from_ptr(ifa.ifa_name) }.to_string_lossy().into_owned();
            let idx = match out.iter().position(|i| i.name == name) {
                Some(i) => i,
                None => {
                    out.push(IfInfo { name, flags: ifa.ifa_flags, mac: None, addrs: vec![], mtu: 0 });
                    out.len() - 1
                }
            };
            if ifa.ifa_addr.is_null() {
                continue;
            }
            let sa = unsafe { std::slice::from_raw_parts(ifa.ifa_addr as *const u8, (*ifa.ifa_addr).sa_len as usize) };
            let mask: &[u8] = if ifa.ifa_netmask.is_null() {
                &[]
            } else {
                unsafe { std::slice::from_raw_parts(ifa.ifa_netmask as *const u8, (*ifa.ifa_netmask).sa_len as usize) }
            };
            match sa.get(1).copied() {
                Some(abi::AF_LINK) => {
                    out[idx].mac = abi::sockaddr_dl_mac(sa);
                    if !ifa.ifa_data.is_null() {
                        // SAFETY: an AF_LINK entry's ifa_data is the interface's struct if_data
                        // (at least its first 12 bytes).
                        let d = unsafe { std::slice::from_raw_parts(ifa.ifa_data as *const u8, 12) };
                        out[idx].mtu = abi::if_data_mtu(d).unwrap_or(0);
                    }
                }
                Some(abi::AF_INET) if sa.len() >= 8 => {
                    let a = Ipv4Addr::new(sa[4], sa[5], sa[6], sa[7]);
                    let plen = mask.get(4..8).map(abi::prefixlen).unwrap_or(32);
                    out[idx].addrs.push(Cidr { addr: IpAddr::V4(a), prefixlen: plen });
                }
                Some(abi::AF_INET6) if sa.len() >= 24 => {
                    let o: [u8; 16] = sa[8..24].try_into().expect("16 bytes");
                    let plen = mask.get(8..24).map(abi::prefixlen).unwrap_or(128);
                    let mut a = Ipv6Addr::from(o);
                    // The kernel embeds the scope (interface index) in bytes 2-3 of
                    // link-local addresses it hands to userland via getifaddrs.
                    let mut seg = a.segments();
                    if seg[0] & 0xffc0 == 0xfe80 {
                        seg[1] = 0;
                        a = Ipv6Addr::from(seg);
                    }
                    out[idx].addrs.push(Cidr { addr: IpAddr::V6(a), prefixlen: plen });
                }
                _ => {}
            }
        }
        // SAFETY: head came from getifaddrs.
        unsafe { libc::freeifaddrs(head) };
        Ok(out)
    }
}

/// Write the whole buffer to a raw descriptor.
fn write_all(fd: RawFd, data: &[u8]) {
    // SAFETY: fd is the child's result pipe; ManuallyDrop keeps it from being closed here.
    let mut f = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    let _ = f.write_all(data);
}

/// The child side of `in_jail`. Never returns.
fn jail_child<R, F>(jid: Jid, result_fd: RawFd, step: F) -> !
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

impl Vnets for FreeBsd {
    fn if_move_to_jail(&mut self, name: &str, jid: Jid) -> KResult<String> {
        let mut r = IfReq::jid(name, jid);
        self.ifreq(abi::SIOCSIFVNET, &mut r)?;
        Ok(r.get_name())
    }

    fn if_reclaim(&mut self, name: &str, jid: Jid) -> KResult<String> {
        let mut r = IfReq::jid(name, jid);
        self.ifreq(abi::SIOCSIFRVNET, &mut r)?;
        Ok(r.get_name())
    }

    fn in_jail_within<R, F>(&mut self, jid: Jid, deadline: std::time::Duration, step: F) -> Result<R, Error>
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce(&mut Self) -> Result<R, Error>,
    {
        // The parent's sockets are closed in the child by closefrom and never used: the
        // child _exits without running destructors.
        let ended = crate::child::run(deadline, |fd| jail_child(jid, fd, step))?;
        let body = match ended {
            crate::child::Ended::Result(b) => b,
            crate::child::Ended::TimedOut => return Err(crate::child::timed_out(&jid.to_string(), deadline)),
            crate::child::Ended::Died(how) => return Err(crate::child::died(&jid.to_string(), &how)),
        };
        serde_json::from_slice::<Result<R, Error>>(&body)
            .map_err(|e| Error::new(Kind::Protocol, format!("unreadable result from inside jail {jid}: {e}")))?
    }
}

/// One jail_get(2) call. `key` is a jid, a name, or `lastjid` iteration (`iterate`).
fn jail_get(key: &JailRef, iterate: bool) -> KResult<Option<JailInfo>> {
    let mut q = match key {
        JailRef::Jid(j) => abi::JailGet::by_jid(*j, iterate),
        JailRef::Name(n) => abi::JailGet::by_name(n),
    };
    let mut v: Vec<libc::iovec> = q
        .iovecs()
        .into_iter()
        .map(|(base, len)| libc::iovec { iov_base: base as *mut libc::c_void, iov_len: len })
        .collect();
    // SAFETY: every iovec points into `q` or a static, with its true length.
    let r = unsafe { libc::jail_get(v.as_mut_ptr(), v.len() as libc::c_uint, abi::jailparam::JAIL_DYING) };
    if r < 0 {
        return match Errno::last() {
            Errno::ENOENT => Ok(None),
            e => Err(e),
        };
    }
    Ok(Some(JailInfo { jid: r, name: q.jail_name(), vnet: q.has_vnet(), dying: q.dying != 0 }))
}

impl Jails for FreeBsd {
    fn jail(&mut self, which: &JailRef) -> KResult<Option<JailInfo>> {
        jail_get(which, false)
    }

    fn jail_ip6(&mut self, jid: Jid) -> KResult<Vec<Ipv6Addr>> {
        let mut q = abi::JailGetIp6::new(jid, 256);
        let mut v: Vec<libc::iovec> = q
            .iovecs()
            .into_iter()
            .map(|(base, len)| libc::iovec { iov_base: base as *mut libc::c_void, iov_len: len })
            .collect();
        // SAFETY: every iovec points into `q` or a static, with its true length.
        let r = unsafe { libc::jail_get(v.as_mut_ptr(), v.len() as libc::c_uint, abi::jailparam::JAIL_DYING) };
        if r < 0 {
            return Err(Errno::last());
        }
        Ok(q.addrs(v[3].iov_len))
    }

    fn jails(&mut self) -> KResult<Vec<JailInfo>> {
        let mut out = vec![];
        let mut last = 0;
        while let Some(j) = jail_get(&JailRef::Jid(last), true)? {
            last = j.jid;
            out.push(j);
        }
        Ok(out)
    }
}

impl System for FreeBsd {
    fn sysctl_int(&mut self, name: &str) -> KResult<i64> {
        let c = CString::new(name).map_err(|_| Errno::EINVAL)?;
        let mut buf = [0u8; 8];
        let mut len: libc::size_t = buf.len();
        // SAFETY: buf has len bytes; the kernel writes at most that many.
        let r = unsafe {
            libc::sysctlbyname(c.as_ptr(), buf.as_mut_ptr() as *mut libc::c_void, &mut len, std::ptr::null(), 0)
        };
        if r != 0 {
            return Err(Errno::last());
        }
        Ok(match len {
            4 => i32::from_ne_bytes(buf[..4].try_into().expect("4")) as i64,
            8 => i64::from_ne_bytes(buf),
            _ => return Err(Errno::EINVAL),
        })
    }

    fn sysctl_string(&mut self, name: &str) -> KResult<String> {
        let c = CString::new(name).map_err(|_| Errno::EINVAL)?;
        let mut len: libc::size_t = 0;
        // SAFETY: a size query with a NULL buffer, then a read into a buffer of that size.
        unsafe {
            if libc::sysctlbyname(c.as_ptr(), std::ptr::null_mut(), &mut len, std::ptr::null(), 0) != 0 {
                return Err(Errno::last());
            }
            let mut buf = vec![0u8; len + 1];
            let mut len2 = buf.len();
            if libc::sysctlbyname(c.as_ptr(), buf.as_mut_ptr() as *mut libc::c_void, &mut len2, std::ptr::null(), 0)
                != 0
            {
                return Err(Errno::last());
            }
            let end = buf.iter().position(|&b| b == 0).unwrap_or(len2);
            Ok(String::from_utf8_lossy(&buf[..end]).into_owned())
        }
    }

    fn state_dir(&self) -> std::path::PathBuf {
        std::path::PathBuf::from("/var/run/jnet")
    }

    fn kld_load(&mut self, module: &str) -> KResult<()> {
        let c = CString::new(module).map_err(|_| Errno::EINVAL)?;
        // SAFETY: a NUL-terminated module name.
        if unsafe { kldload(c.as_ptr()) } < 0 {
            return match Errno::last() {
                // Already loaded or compiled in.
                Errno::EEXIST => Ok(()),
                e => Err(e),
            };
        }
        Ok(())
    }
}

impl FreeBsd {
    /// The NG_CONTROL socket; loads ng_socket when the domain is missing, as libnetgraph's
    /// NgMkSockNode does (older kernels answer EPROTONOSUPPORT instead of EAFNOSUPPORT).
    fn ng_fd(&mut self) -> KResult<RawFd> {
        if let Some(fd) = &self.ng {
            return Ok(fd.as_raw_fd());
        }
        let open = || {
            // SAFETY: socket(2); the descriptor is owned at once below.
            let fd =
                unsafe { libc::socket(ngabi::PF_NETGRAPH, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, ngabi::NG_CONTROL) };
            if fd < 0 {
                Err(Errno::last())
            } else {
                Ok(fd)
            }
        };
        let fd = match open() {
            Err(Errno::EAFNOSUPPORT) | Err(Errno::EPROTONOSUPPORT) => {
                self.kld_load("ng_socket")?;
                open()?
            }
            r => r?,
        };
        // SAFETY: fd is fresh and ours.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // Big LISTNODES answers, and a bounded wait for any answer.
        let rcvbuf: libc::c_int = 256 * 1024;
        let tv = libc::timeval { tv_sec: 5, tv_usec: 0 };
        // SAFETY: setsockopt with correctly sized option values.
        unsafe {
            libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &rcvbuf as *const _ as *const libc::c_void, 4);
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            );
        }
        self.ng = Some(owned);
        Ok(fd)
    }

    /// Send one control message; ngc_send returns the node's own error as sendto's.
    fn ng_send(&mut self, path: &str, cookie: u32, cmd: u32, args: &[u8]) -> KResult<u32> {
        let fd = self.ng_fd()?;
        let addr = ngabi::sockaddr_ng(path).map_err(|_| Errno::ENAMETOOLONG)?;
        self.token = (self.token + 1) & 0x7fff_ffff;
        let msg = ngabi::message(cookie, cmd, self.token, args);
        // SAFETY: msg and addr are live buffers of the given lengths.
        let r = unsafe {
            libc::sendto(
                fd,
                msg.as_ptr() as *const libc::c_void,
                msg.len(),
                0,
                addr.as_ptr() as *const libc::sockaddr,
                addr.len() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(Errno::last());
        }
        Ok(self.token)
    }

    /// Send and wait for the answer with the same token; other messages (flow control,
    /// late answers) are skipped.
    fn ng_request(&mut self, path: &str, cookie: u32, cmd: u32, args: &[u8]) -> KResult<Vec<u8>> {
        let token = self.ng_send(path, cookie, cmd, args)?;
        let fd = self.ng_fd()?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            // SAFETY: buf is a live buffer of its length; the source address is not needed.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
            if n < 0 {
                return Err(match Errno::last() {
                    Errno::EAGAIN => Errno::ETIMEDOUT,
                    e => e,
                });
            }
            let reply = ngabi::parse(&buf[..n as usize]).map_err(|e| {
                log::warn!("netgraph answer to {path}: {e}");
                Errno::EPROTO
            })?;
            if reply.flags & ngabi::NGF_RESP != 0 && reply.token == token && reply.cookie == cookie && reply.cmd == cmd
            {
                return Ok(reply.data.to_vec());
            }
        }
    }
}

fn proto<T>(r: Result<T, ngabi::ParseError>) -> KResult<T> {
    r.map_err(|e| {
        log::warn!("netgraph answer: {e}");
        Errno::EPROTO
    })
}

impl Netgraph for FreeBsd {
    fn ng_mkpeer(&mut self, path: &str, node_type: &str, ourhook: &str, peerhook: &str) -> KResult<()> {
        self.ng_send(path, ngabi::generic::COOKIE, ngabi::generic::MKPEER, &ngabi::mkpeer(node_type, ourhook, peerhook))
            .map(|_| ())
    }
    fn ng_connect(&mut self, path: &str, peer_path: &str, ourhook: &str, peerhook: &str) -> KResult<()> {
        self.ng_send(
            path,
            ngabi::generic::COOKIE,
            ngabi::generic::CONNECT,
            &ngabi::connect(peer_path, ourhook, peerhook),
        )
        .map(|_| ())
    }
    fn ng_name(&mut self, path: &str, name: &str) -> KResult<()> {
        self.ng_send(path, ngabi::generic::COOKIE, ngabi::generic::NAME, &ngabi::name32(name)).map(|_| ())
    }
    fn ng_rmhook(&mut self, path: &str, hook: &str) -> KResult<()> {
        self.ng_send(path, ngabi::generic::COOKIE, ngabi::generic::RMHOOK, &ngabi::name32(hook)).map(|_| ())
    }
    fn ng_shutdown(&mut self, path: &str) -> KResult<()> {
        self.ng_send(path, ngabi::generic::COOKIE, ngabi::generic::SHUTDOWN, &[]).map(|_| ())
    }
    fn ng_node(&mut self, path: &str) -> KResult<NgNode> {
        let d = self.ng_request(path, ngabi::generic::COOKIE, ngabi::generic::NODEINFO, &[])?;
        proto(ngabi::parse_nodeinfo(&d))
    }
    fn ng_hooks(&mut self, path: &str) -> KResult<(NgNode, Vec<NgHook>)> {
        let d = self.ng_request(path, ngabi::generic::COOKIE, ngabi::generic::LISTHOOKS, &[])?;
        proto(ngabi::parse_hooklist(&d))
    }
    fn ng_nodes(&mut self) -> KResult<Vec<NgNode>> {
        let d = self.ng_request(".", ngabi::generic::COOKIE, ngabi::generic::LISTNODES, &[])?;
        proto(ngabi::parse_namelist(&d))
    }
    fn ng_eiface_ifname(&mut self, path: &str) -> KResult<String> {
        let d = self.ng_request(path, ngabi::eiface::COOKIE, ngabi::eiface::GET_IFNAME, &[])?;
        proto(ngabi::parse_ifname(&d))
    }
    fn ng_ether_ifname(&mut self, path: &str) -> KResult<String> {
        let d = self.ng_request(path, ngabi::ether::COOKIE, ngabi::ether::GET_IFNAME, &[])?;
        proto(ngabi::parse_ifname(&d))
    }
    fn ng_ether_set_promisc(&mut self, path: &str, on: bool) -> KResult<()> {
        self.ng_send(path, ngabi::ether::COOKIE, ngabi::ether::SET_PROMISC, &(on as u32).to_ne_bytes()).map(|_| ())
    }
    fn ng_ether_set_autosrc(&mut self, path: &str, on: bool) -> KResult<()> {
        self.ng_send(path, ngabi::ether::COOKIE, ngabi::ether::SET_AUTOSRC, &(on as u32).to_ne_bytes()).map(|_| ())
    }
    fn ng_bridge_set_persistent(&mut self, path: &str) -> KResult<()> {
        self.ng_send(path, ngabi::bridge::COOKIE, ngabi::bridge::SET_PERSISTENT, &[]).map(|_| ())
    }
    fn ng_bridge_link_stats(&mut self, path: &str, link: i32) -> KResult<[u64; 14]> {
        let d = self.ng_request(path, ngabi::bridge::COOKIE, ngabi::bridge::GET_STATS, &link.to_ne_bytes())?;
        proto(ngabi::parse_link_stats(&d))
    }
}

impl FreeBsd {
    /// Send one routing message on a fresh routing socket; for RTM_GET, the kernel's answer
    /// to it (matched by pid and sequence number).
    fn route_msg(&mut self, msg: &[u8], seq: i32, want_reply: bool) -> KResult<Option<super::rtabi::RtReply>> {
        // SAFETY: socket(2); the descriptor is owned at once.
        let fd = unsafe { libc::socket(super::rtabi::PF_ROUTE, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(Errno::last());
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: msg is a complete message of msg.len() bytes.
        let n = unsafe { libc::write(sock.as_raw_fd(), msg.as_ptr() as *const libc::c_void, msg.len()) };
        if n < 0 {
            return Err(Errno::last());
        }
        if !want_reply {
            return Ok(None);
        }
        let pid = std::process::id() as i32;
        let mut buf = vec![0u8; 2048];
        loop {
            // SAFETY: reading into our buffer from our socket.
            let n = unsafe { libc::read(sock.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
            if n < 0 {
                return Err(Errno::last());
            }
            // Other processes' routing messages arrive too: ours has our pid and sequence.
            match super::rtabi::parse_reply(&buf[..n as usize]) {
                Some(r) if r.pid == pid && r.seq == seq => {
                    return if r.errno != 0 { Err(Errno(r.errno)) } else { Ok(Some(r)) };
                }
                _ => continue,
            }
        }
    }
}

impl Routes for FreeBsd {
    fn default_route(&mut self, v6: bool) -> KResult<Option<IpAddr>> {
        self.token = self.token.wrapping_add(1);
        let seq = self.token as i32;
        let msg = super::rtabi::default_route_msg(super::rtabi::RTM_GET, v6, None, std::process::id() as i32, seq);
        match self.route_msg(&msg, seq, true) {
            Ok(r) => Ok(r.and_then(|r| r.gateway)),
            // No default route.
            Err(Errno::ESRCH) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn add_default_route(&mut self, gateway: IpAddr) -> KResult<()> {
        self.token = self.token.wrapping_add(1);
        let seq = self.token as i32;
        let msg = super::rtabi::default_route_msg(
            super::rtabi::RTM_ADD,
            gateway.is_ipv6(),
            Some(gateway),
            std::process::id() as i32,
            seq,
        );
        self.route_msg(&msg, seq, false).map(|_| ())
    }

    fn del_default_route(&mut self, v6: bool) -> KResult<()> {
        self.token = self.token.wrapping_add(1);
        let seq = self.token as i32;
        let msg = super::rtabi::default_route_msg(super::rtabi::RTM_DELETE, v6, None, std::process::id() as i32, seq);
        self.route_msg(&msg, seq, false).map(|_| ())
    }
}
