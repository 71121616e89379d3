//! The FreeBSD kernel backend: ioctls on ordinary sockets, the routing and netgraph sockets,
//! sysctl, jail_get(2) and kldload(2), all through the syscall seam (`sys`), so the same
//! requests reach FreeBSD's kernel through libc or FreeBSD 13.0's stack through the stack
//! host. Requests are the byte encodings of `abi`, `ngabi` and `rtabi`.

use super::abi::{self, IfGroupReq, IfReq, In6IfReq, In6NdiReq};
use super::iflist;
use super::ngabi;
use super::stackhost::StackHost;
use super::sys::{Fd, Indirect, Syscalls, PF_INET, PF_INET6, PF_ROUTE, SOCK_DGRAM, SOCK_RAW};
use crate::errno::Errno;
use crate::error::{Error, Kind};
use crate::kernel::{
    Cidr, Gateway, IfInfo, Interfaces, JailInfo, JailRef, Jails, Jid, KResult, Lagg, Nd6, Netgraph, NgHook, NgNode,
    Routes, System, Vnets,
};
use crate::mac::Mac;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::ffi::CString;
use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

/// The environment variable that sends the backend to a stack host (`jnet-stackhost`, the
/// socket it serves) instead of the running kernel.
pub const STACK_ENV: &str = "JNET_FBSD_STACK";

/// How long a netgraph or routing answer may take.
const ANSWER_WAIT: Duration = Duration::from_secs(5);

/// The kernel, through sockets created in the vnet this process is in.
#[derive(Debug)]
pub struct FreeBsd {
    sys: Box<dyn Syscalls>,
    /// Generic interface ioctls and the IPv4 ones (AF_INET socket).
    inet: Fd,
    /// The IPv6 ioctls need an AF_INET6 socket; None on a kernel without INET6.
    inet6: Option<Fd>,
    /// The netgraph control socket, opened on first use.
    ng: Option<Fd>,
    /// Token of the last netgraph request.
    token: u32,
    /// Where jnet keeps host state (/var/run/jnet on FreeBSD).
    state: std::path::PathBuf,
}

impl Drop for FreeBsd {
    fn drop(&mut self) {
        for fd in [Some(self.inet), self.inet6, self.ng].into_iter().flatten() {
            self.sys.close(fd);
        }
    }
}

impl FreeBsd {
    /// The running FreeBSD kernel.
    #[cfg(target_os = "freebsd")]
    pub fn open() -> Result<FreeBsd, Error> {
        FreeBsd::over(Box::new(super::libc_sys::LibcSys), "/var/run/jnet".into())
    }

    /// FreeBSD 13.0's network stack served by `jnet-stackhost` at `socket`: VIMAGE, its own
    /// jails (fbsd-stack/jnet_prison.c), every module compiled in. That host's /var/run/jnet
    /// is `run-jnet` beside its socket.
    pub fn over_stack(socket: &Path) -> Result<FreeBsd, Error> {
        let host = StackHost::connect(socket)
            .map_err(|e| Error::new(Kind::Unavailable, format!("use the FreeBSD stack host: {e}")))?;
        let state = socket.parent().unwrap_or(Path::new(".")).join("run-jnet");
        FreeBsd::over(Box::new(host), state)
    }

    /// The backend over any seam, keeping host state in `state`.
    pub fn over(mut sys: Box<dyn Syscalls>, state: std::path::PathBuf) -> Result<FreeBsd, Error> {
        let inet = sys
            .socket(PF_INET, SOCK_DGRAM, 0)
            .map_err(|e| Error::kernel("open an AF_INET socket for interface ioctls", e))?;
        let inet6 = sys.socket(PF_INET6, SOCK_DGRAM, 0).ok();
        Ok(FreeBsd { sys, inet, inet6, ng: None, token: std::process::id() & 0xffff, state })
    }

    fn inet6(&self) -> KResult<Fd> {
        self.inet6.ok_or(Errno::EAFNOSUPPORT)
    }

    /// An ioctl on the AF_INET socket with no indirect buffers.
    fn ifreq(&mut self, req: u64, r: &mut IfReq) -> KResult<()> {
        self.sys.ioctl(self.inet, req, &mut r.0, &mut [])
    }

    /// An ioctl on the AF_INET6 socket with no indirect buffers.
    fn ioctl6(&mut self, req: u64, arg: &mut [u8]) -> KResult<()> {
        let fd = self.inet6()?;
        self.sys.ioctl(fd, req, arg, &mut [])
    }

    fn group_ioctl(&mut self, req: u64, name: &str, group: &str) -> KResult<()> {
        check_len(group)?;
        let mut r = IfGroupReq::group(name, group);
        self.sys.ioctl(self.inet, req, &mut r.0, &mut [])
    }

    /// SIOCxDRVSPEC: `data` is what ifd_data points to; `inner` a buffer a pointer in `data`
    /// points to, at the given offset (BRDGGIFS's member array).
    fn drvspec(
        &mut self,
        req: u64,
        bridge: &str,
        cmd: u64,
        data: &mut [u8],
        inner: Option<(usize, &mut [u8])>,
    ) -> KResult<()> {
        let mut d = abi::ifdrv(bridge, cmd, data.len(), 0);
        let mut bufs = vec![Indirect { parent: 0, offset: abi::IFDRV_DATA, buf: data }];
        if let Some((offset, buf)) = inner {
            bufs.push(Indirect { parent: 1, offset, buf });
        }
        self.sys.ioctl(self.inet, req, &mut d, &mut bufs)
    }

    /// A whole sysctl value, however long it is now: size, read, and again if it grew.
    fn sysctl_value(&mut self, mib: &[i32]) -> KResult<Vec<u8>> {
        for round in 0..6 {
            let need = self.sys.sysctl(mib, None)?;
            // Room for growth in between, doubled each time it was not enough: hooks of other
            // jails starting at once add interfaces and addresses between the two calls (the
            // interface list of 8 parallel starts outgrew a fixed margin 4 times running).
            let mut buf = vec![0u8; need + ((need / 8 + 1024) << round)];
            match self.sys.sysctl(mib, Some(&mut buf)) {
                Err(Errno::ENOMEM) => continue,
                Err(e) => return Err(e),
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(buf);
                }
            }
        }
        Err(Errno::EAGAIN)
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
        let mut new = abi::ifname_buf(new_name);
        let mut r = IfReq::data(name, 0);
        self.sys.ioctl(
            self.inet,
            abi::SIOCSIFNAME,
            &mut r.0,
            &mut [Indirect { parent: 0, offset: abi::IFR_DATA, buf: &mut new }],
        )
    }

    fn if_description(&mut self, name: &str) -> KResult<Option<String>> {
        let mut size = 128usize;
        // The description can change between calls; a few rounds settle any race.
        for _ in 0..4 {
            let mut buf = vec![0u8; size];
            let mut r = IfReq::buffer(name, buf.len(), 0);
            let bufs = &mut [Indirect { parent: 0, offset: abi::IFR_BUFFER, buf: &mut buf }];
            match self.sys.ioctl(self.inet, abi::SIOCGIFDESCR, &mut r.0, bufs) {
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
                let mut bytes = c.into_bytes_with_nul();
                let mut r = IfReq::buffer(name, bytes.len(), 0);
                let bufs = &mut [Indirect { parent: 0, offset: abi::IFR_BUFFER, buf: &mut bytes }];
                self.sys.ioctl(self.inet, abi::SIOCSIFDESCR, &mut r.0, bufs)
            }
        }
    }

    fn if_groups(&mut self, name: &str) -> KResult<Vec<String>> {
        for _ in 0..4 {
            let mut q = IfGroupReq::list(name, 0, 0);
            self.sys.ioctl(self.inet, abi::SIOCGIFGROUP, &mut q.0, &mut [])?;
            let need = q.get_len() as usize;
            let mut buf = vec![0u8; need + abi::size::IFG_REQ];
            let mut r = IfGroupReq::list(name, buf.len() as u32, 0);
            let bufs = &mut [Indirect { parent: 0, offset: abi::IFGR_GROUPS, buf: &mut buf }];
            match self.sys.ioctl(self.inet, abi::SIOCGIFGROUP, &mut r.0, bufs) {
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

    fn if_capenable(&mut self, name: &str) -> KResult<u32> {
        let mut r = IfReq::name(name);
        self.ifreq(abi::SIOCGIFCAP, &mut r)?;
        Ok(r.get_curcap())
    }

    fn if_set_capenable(&mut self, name: &str, caps: u32) -> KResult<()> {
        self.ifreq(abi::SIOCSIFCAP, &mut IfReq::reqcap(name, caps))
    }

    fn if_vlan(&mut self, name: &str) -> KResult<(String, u16, u16)> {
        let mut vlr = abi::VlanReq::default();
        let mut r = IfReq::data(name, 0);
        let bufs = &mut [Indirect { parent: 0, offset: abi::IFR_DATA, buf: &mut vlr.0 }];
        self.sys.ioctl(self.inet, abi::SIOCGETVLAN, &mut r.0, bufs)?;
        Ok(vlr.get())
    }

    fn if_set_mac(&mut self, name: &str, mac: Mac) -> KResult<()> {
        self.ifreq(abi::SIOCSIFLLADDR, &mut IfReq::lladdr(name, mac))
    }

    fn if_add_addr(&mut self, name: &str, addr: Cidr, flags6: u32) -> KResult<()> {
        match addr.addr {
            IpAddr::V4(a) => {
                let mut r = abi::ifaliasreq(name, a, addr.prefixlen);
                self.sys.ioctl(self.inet, abi::SIOCAIFADDR, &mut r, &mut [])
            }
            IpAddr::V6(a) => self.ioctl6(abi::SIOCAIFADDR_IN6, &mut abi::in6_aliasreq(name, a, addr.prefixlen, flags6)),
        }
    }

    fn if_del_addr(&mut self, name: &str, addr: IpAddr) -> KResult<()> {
        match addr {
            IpAddr::V4(a) => self.ifreq(abi::SIOCDIFADDR, &mut IfReq::addr4(name, a)),
            IpAddr::V6(a) => self.ioctl6(abi::SIOCDIFADDR_IN6, &mut In6IfReq::addr(name, a).0),
        }
    }

    fn if_addr6_flags(&mut self, name: &str, addr: Ipv6Addr) -> KResult<u32> {
        let mut r = In6IfReq::addr(name, addr);
        self.ioctl6(abi::SIOCGIFAFLAG_IN6, &mut r.0)?;
        Ok(r.get_flags6())
    }

    fn if_nd6(&mut self, name: &str) -> KResult<Nd6> {
        let mut r = In6NdiReq::new(name, None);
        self.ioctl6(abi::SIOCGIFINFO_IN6, &mut r.0)?;
        let ndi = r.ndi();
        Ok(Nd6 { flags: ndi.flags, retrans_ms: ndi.retrans })
    }

    fn if_set_nd6_flags(&mut self, name: &str, flags: u32) -> KResult<()> {
        // Written back exactly as read but for the flags: SIOCSIFINFO_IN6 applies every
        // non-zero field it is given (nd6.c nd6_ioctl).
        let mut r = In6NdiReq::new(name, None);
        self.ioctl6(abi::SIOCGIFINFO_IN6, &mut r.0)?;
        let mut ndi = r.ndi();
        ndi.flags = flags;
        let mut w = In6NdiReq::new(name, Some(&ndi));
        self.ioctl6(abi::SIOCSIFINFO_IN6, &mut w.0)
    }

    fn bridge_add(&mut self, bridge: &str, member: &str) -> KResult<()> {
        let mut m = abi::ifbreq(member);
        self.drvspec(abi::SIOCSDRVSPEC, bridge, abi::BRDGADD, &mut m, None)
    }

    fn bridge_del(&mut self, bridge: &str, member: &str) -> KResult<()> {
        let mut m = abi::ifbreq(member);
        self.drvspec(abi::SIOCSDRVSPEC, bridge, abi::BRDGDEL, &mut m, None)
    }

    fn bridge_members(&mut self, bridge: &str) -> KResult<Vec<String>> {
        let mut conf = abi::ifbifconf(0, 0);
        self.drvspec(abi::SIOCGDRVSPEC, bridge, abi::BRDGGIFS, &mut conf, None)?;
        // Room for a few members added meanwhile; the kernel reports what it filled.
        let mut buf = vec![0u8; abi::ifbifconf_len(&conf) as usize + 4 * abi::size::IFBREQ];
        let mut conf = abi::ifbifconf(buf.len() as u32, 0);
        self.drvspec(abi::SIOCGDRVSPEC, bridge, abi::BRDGGIFS, &mut conf, Some((abi::IFBIC_BUF, &mut buf)))?;
        let used = (abi::ifbifconf_len(&conf) as usize).min(buf.len());
        Ok(abi::parse_ifbreqs(&buf[..used]))
    }

    fn if_driver(&mut self, name: &str) -> KResult<String> {
        let index = self.if_index(name)?;
        let mib = abi::ifdata_drivername_mib(index);
        // "%s%d" of a driver name (at most IFNAMSIZ) and an int: 64 bytes are plenty.
        let mut buf = [0u8; 64];
        let len = match self.sys.sysctl(&mib, Some(&mut buf)) {
            // The ifindex went away between the two calls.
            Err(Errno::ENOENT) => return Err(Errno::ENXIO),
            r => r?,
        };
        let len = len.min(buf.len());
        let end = buf[..len].iter().position(|&b| b == 0).unwrap_or(len);
        Ok(String::from_utf8_lossy(&buf[..end]).into_owned())
    }

    fn if_lagg(&mut self, name: &str) -> KResult<Option<Lagg>> {
        let mut ports = vec![0u8; 32 * abi::size::LAGG_REQPORT];
        let mut r = abi::lagg_reqall(name, ports.len(), 0);
        let bufs = &mut [Indirect { parent: 0, offset: abi::RA_PORT, buf: &mut ports }];
        match self.sys.ioctl(self.inet, abi::SIOCGLAGG, &mut r, bufs) {
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
        let buf = self.sysctl_value(&iflist::IFLIST_MIB)?;
        Ok(iflist::parse(&buf))
    }

    /// SIOCGIFINDEX: what if_nametoindex(3) asks.
    fn if_index(&mut self, name: &str) -> KResult<u32> {
        let mut r = IfReq::name(name);
        self.ifreq(abi::SIOCGIFINDEX, &mut r)?;
        Ok(r.get_index())
    }
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

    fn in_jail_within<R, F>(&mut self, jid: Jid, deadline: Duration, step: F) -> Result<R, Error>
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce(&mut Self) -> Result<R, Error>,
    {
        if !self.sys.has_jails() {
            let _ = (deadline, step);
            return Err(Error::new(Kind::Unavailable, format!("enter jail {jid}: this kernel has no jails")));
        }
        if let Some(inside) = self.sys.enter_jail(jid) {
            // The stack host: a connection attached to the jail is its process. Nothing in
            // the jail runs there to stall it, so the deadline has nothing to bound.
            let _ = deadline;
            let sys = inside.map_err(|e| Error::kernel(format!("attach to jail {jid}"), e))?;
            let mut inside = FreeBsd::over(sys, self.state.clone())?;
            return step(&mut inside);
        }
        #[cfg(target_os = "freebsd")]
        {
            // The parent's sockets are closed in the child by closefrom and never used: the
            // child _exits without running destructors.
            let ended = crate::child::run(deadline, |fd| super::jail_child::run(jid, fd, step))?;
            let body = match ended {
                crate::child::Ended::Result(b) => b,
                crate::child::Ended::TimedOut => return Err(crate::child::timed_out(&jid.to_string(), deadline)),
                crate::child::Ended::Died(how) => return Err(crate::child::died(&jid.to_string(), &how)),
            };
            serde_json::from_slice::<Result<R, Error>>(&body)
                .map_err(|e| Error::new(Kind::Protocol, format!("unreadable result from inside jail {jid}: {e}")))?
        }
        #[cfg(not(target_os = "freebsd"))]
        {
            let _ = (deadline, step);
            Err(Error::new(Kind::Unavailable, format!("enter jail {jid}: jail_attach(2) is FreeBSD's")))
        }
    }
}

impl FreeBsd {
    /// One jail_get(2) call. `key` is a jid, a name, or `lastjid` iteration (`iterate`).
    fn jail_get(&mut self, key: &JailRef, iterate: bool) -> KResult<Option<JailInfo>> {
        let mut q = match key {
            JailRef::Jid(j) => abi::JailGet::by_jid(*j, iterate),
            JailRef::Name(n) => abi::JailGet::by_name(n),
        };
        let mut iov = q.iovecs();
        match self.sys.jail_get(&mut iov, abi::jailparam::JAIL_DYING) {
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(e),
            Ok(jid) => Ok(Some(JailInfo { jid, name: q.jail_name(), vnet: q.has_vnet(), dying: q.dying != 0 })),
        }
    }
}

impl Jails for FreeBsd {
    fn jail(&mut self, which: &JailRef) -> KResult<Option<JailInfo>> {
        self.jail_get(which, false)
    }

    fn jail_ip6(&mut self, jid: Jid) -> KResult<Vec<Ipv6Addr>> {
        let mut q = abi::JailGetIp6::new(jid, 256);
        let mut iov = q.iovecs();
        self.sys.jail_get(&mut iov, abi::jailparam::JAIL_DYING)?;
        Ok(q.addrs(iov[3].1))
    }

    fn jails(&mut self) -> KResult<Vec<JailInfo>> {
        let mut out = vec![];
        let mut last = 0;
        while let Some(j) = self.jail_get(&JailRef::Jid(last), true)? {
            last = j.jid;
            out.push(j);
        }
        Ok(out)
    }
}

impl System for FreeBsd {
    fn sysctl_int(&mut self, name: &str) -> KResult<i64> {
        let mib = self.sys.sysctl_mib(name)?;
        let mut buf = [0u8; 8];
        Ok(match self.sys.sysctl(&mib, Some(&mut buf))? {
            4 => i32::from_ne_bytes(buf[..4].try_into().expect("4")) as i64,
            8 => i64::from_ne_bytes(buf),
            _ => return Err(Errno::EINVAL),
        })
    }

    fn sysctl_string(&mut self, name: &str) -> KResult<String> {
        let mib = self.sys.sysctl_mib(name)?;
        let buf = self.sysctl_value(&mib)?;
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        Ok(String::from_utf8_lossy(&buf[..end]).into_owned())
    }

    fn state_dir(&self) -> std::path::PathBuf {
        self.state.clone()
    }

    fn kld_load(&mut self, module: &str) -> KResult<()> {
        self.sys.kldload(module)
    }
}

impl FreeBsd {
    /// The NG_CONTROL socket; loads ng_socket when the domain is missing, as libnetgraph's
    /// NgMkSockNode does (older kernels answer EPROTONOSUPPORT instead of EAFNOSUPPORT).
    fn ng_fd(&mut self) -> KResult<Fd> {
        if let Some(fd) = self.ng {
            return Ok(fd);
        }
        let fd = match self.sys.socket(ngabi::PF_NETGRAPH, SOCK_DGRAM, ngabi::NG_CONTROL) {
            Err(Errno::EAFNOSUPPORT) | Err(Errno::EPROTONOSUPPORT) => {
                self.kld_load("ng_socket")?;
                self.sys.socket(ngabi::PF_NETGRAPH, SOCK_DGRAM, ngabi::NG_CONTROL)?
            }
            r => r?,
        };
        self.ng = Some(fd);
        // Room for big LISTNODES answers; without it only hosts with thousands of nodes
        // notice (their answer times out), so a refusal is not an error here.
        if let Err(e) = self.sys.set_rcvbuf(fd, 256 * 1024) {
            log::debug!("SO_RCVBUF on the netgraph socket: {e}");
        }
        Ok(fd)
    }

    /// Send one control message; ngc_send returns the node's own error as sendto's.
    fn ng_send(&mut self, path: &str, cookie: u32, cmd: u32, args: &[u8]) -> KResult<u32> {
        let fd = self.ng_fd()?;
        let addr = ngabi::sockaddr_ng(path).map_err(|_| Errno::ENAMETOOLONG)?;
        self.token = (self.token + 1) & 0x7fff_ffff;
        let msg = ngabi::message(cookie, cmd, self.token, args);
        self.sys.sendto(fd, &msg, &addr)?;
        Ok(self.token)
    }

    /// Send and wait for the answer with the same token; other messages (flow control,
    /// late answers) are skipped.
    fn ng_request(&mut self, path: &str, cookie: u32, cmd: u32, args: &[u8]) -> KResult<Vec<u8>> {
        let token = self.ng_send(path, cookie, cmd, args)?;
        let fd = self.ng_fd()?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = self.sys.recv(fd, &mut buf, ANSWER_WAIT)?;
            let reply = ngabi::parse(&buf[..n]).map_err(|e| {
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
        // struct ngm_name has NG_NODESIZ bytes, NUL included: a longer name would be cut,
        // and another node named than the one asked for.
        if name.len() >= ngabi::NAMESIZ {
            return Err(Errno::ENAMETOOLONG);
        }
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
        let fd = self.sys.socket(PF_ROUTE, SOCK_RAW, 0)?;
        let r = self.route_exchange(fd, msg, seq, want_reply);
        self.sys.close(fd);
        r
    }

    fn route_exchange(
        &mut self,
        fd: Fd,
        msg: &[u8],
        seq: i32,
        want_reply: bool,
    ) -> KResult<Option<super::rtabi::RtReply>> {
        self.sys.sendto(fd, msg, &[])?;
        if !want_reply {
            return Ok(None);
        }
        let pid = self.sys.rtm_pid();
        let mut buf = vec![0u8; 2048];
        loop {
            let n = self.sys.recv(fd, &mut buf, ANSWER_WAIT)?;
            // Other processes' routing messages arrive too: ours has our sequence number
            // (which starts from our pid) and, where the kernel knows us, our pid.
            match super::rtabi::parse_reply(&buf[..n]) {
                Some(r) if r.seq == seq && pid.is_none_or(|p| p == r.pid) => {
                    return if r.errno != 0 { Err(Errno(r.errno)) } else { Ok(Some(r)) };
                }
                _ => continue,
            }
        }
    }
}

impl Routes for FreeBsd {
    fn route(&mut self, dst: Cidr) -> KResult<Option<Gateway>> {
        self.token = self.token.wrapping_add(1);
        let seq = self.token as i32;
        let msg = super::rtabi::route_msg(super::rtabi::RTM_GET, dst, None, std::process::id() as i32, seq);
        match self.route_msg(&msg, seq, true) {
            Ok(r) => Ok(r.and_then(|r| r.gateway)),
            // No such route.
            Err(Errno::ESRCH) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn add_route(&mut self, dst: Cidr, gateway: Gateway) -> KResult<()> {
        self.token = self.token.wrapping_add(1);
        let seq = self.token as i32;
        let msg = super::rtabi::route_msg(super::rtabi::RTM_ADD, dst, Some(gateway), std::process::id() as i32, seq);
        self.route_msg(&msg, seq, false).map(|_| ())
    }

    fn del_route(&mut self, dst: Cidr) -> KResult<()> {
        self.token = self.token.wrapping_add(1);
        let seq = self.token as i32;
        let msg = super::rtabi::route_msg(super::rtabi::RTM_DELETE, dst, None, std::process::id() as i32, seq);
        self.route_msg(&msg, seq, false).map(|_| ())
    }
}
