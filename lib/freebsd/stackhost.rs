//! Client of `jnet-stackhost` (fbsd-stack/stackhost.c): FreeBSD 13.0's network stack run as a
//! Linux library (F-Stack), taking the same request codes and struct bytes a FreeBSD kernel
//! takes. The frames are encoded here, byte for byte as stackhost.c reads them; what goes in
//! them comes from `abi`, the encoders the FreeBSD backend uses.

use crate::errno::Errno;
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

const OP_SOCKET: u32 = 1;
const OP_IOCTL: u32 = 2;
const OP_CLOSE: u32 = 3;
const OP_SYSCTL: u32 = 4;
const OP_SENDTO: u32 = 5;
const OP_RECV: u32 = 6;
const OP_COUNT: u32 = 7;
const OP_JAIL_CREATE: u32 = 8;
const OP_JAIL_REMOVE: u32 = 9;
const OP_JAIL_GET: u32 = 10;
const OP_JAIL_ATTACH: u32 = 11;
const OP_BIND: u32 = 12;
const OP_CONNECT: u32 = 13;
const OP_LISTEN: u32 = 14;
const OP_ACCEPT: u32 = 15;
/// stackhost.c's OP_JAIL_GET name answer: 256 bytes, NUL-padded (MAXHOSTNAMELEN).
const JAIL_NAME_LEN: usize = 256;
/// stackhost.c MAX_FRAME and MAX_BUFS.
const MAX_FRAME: usize = 1 << 20;
const MAX_BUFS: usize = 8;
/// "No old buffer" in an OP_SYSCTL request.
const NO_OLD: u32 = 0xffff_ffff;

pub use super::sys::Indirect;

/// What can go wrong talking to the stack host: the kernel code said no (a FreeBSD errno), or
/// the host itself failed.
#[derive(Debug)]
pub enum StackError {
    /// The kernel code's answer, in FreeBSD's numbering.
    Kernel(Errno),
    /// The stack host is gone, refused the frame, or answered out of shape.
    Transport(String),
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StackError::Kernel(e) => write!(f, "{e}"),
            StackError::Transport(t) => write!(f, "stack host: {t}"),
        }
    }
}

impl From<std::io::Error> for StackError {
    fn from(e: std::io::Error) -> StackError {
        StackError::Transport(e.to_string())
    }
}

/// A stack host answer.
pub type StackResult<T> = Result<T, StackError>;

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_ne_bytes());
}

fn get32(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// OP_SOCKET body.
pub fn encode_socket(domain: i32, ty: i32, protocol: i32) -> Vec<u8> {
    let mut b = Vec::with_capacity(16);
    put32(&mut b, OP_SOCKET);
    for v in [domain, ty, protocol] {
        put32(&mut b, v as u32);
    }
    b
}

/// OP_CLOSE body.
pub fn encode_close(fd: i32) -> Vec<u8> {
    encode_one_int(OP_CLOSE, fd)
}

/// OP_IOCTL body: fd, a zero word, the request (u64), the arg length, the buffer table
/// (parent, offset, length), the arg, the buffers.
pub fn encode_ioctl(fd: i32, request: u64, arg: &[u8], bufs: &[Indirect<'_>]) -> Vec<u8> {
    let mut b = Vec::with_capacity(28 + bufs.len() * 12 + arg.len());
    put32(&mut b, OP_IOCTL);
    put32(&mut b, fd as u32);
    put32(&mut b, 0);
    b.extend_from_slice(&request.to_ne_bytes());
    put32(&mut b, arg.len() as u32);
    put32(&mut b, bufs.len() as u32);
    for i in bufs {
        put32(&mut b, i.parent as u32);
        put32(&mut b, i.offset as u32);
        put32(&mut b, i.buf.len() as u32);
    }
    b.extend_from_slice(arg);
    for i in bufs {
        b.extend_from_slice(i.buf);
    }
    b
}

/// OP_SYSCTL body; `old_cap` None asks only for the size.
pub fn encode_sysctl(mib: &[i32], old_cap: Option<usize>, new: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(16 + mib.len() * 4 + new.len());
    put32(&mut b, OP_SYSCTL);
    put32(&mut b, mib.len() as u32);
    put32(&mut b, old_cap.map_or(NO_OLD, |c| c as u32));
    put32(&mut b, new.len() as u32);
    for m in mib {
        put32(&mut b, *m as u32);
    }
    b.extend_from_slice(new);
    b
}

/// OP_SENDTO body: fd, the address length, the data length, the address, the data.
pub fn encode_sendto(fd: i32, data: &[u8], addr: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(16 + addr.len() + data.len());
    put32(&mut b, OP_SENDTO);
    put32(&mut b, fd as u32);
    put32(&mut b, addr.len() as u32);
    put32(&mut b, data.len() as u32);
    b.extend_from_slice(addr);
    b.extend_from_slice(data);
    b
}

/// OP_RECV body: fd and the most bytes wanted.
pub fn encode_recv(fd: i32, cap: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(12);
    put32(&mut b, OP_RECV);
    put32(&mut b, fd as u32);
    put32(&mut b, cap as u32);
    b
}

/// OP_JAIL_CREATE body: own vnet (JAIL_SYS_NEW 1) or the host's (JAIL_SYS_INHERIT 2), the
/// ip6.addr list (count, then each address's 16 bytes), name.
pub fn encode_jail_create(name: &str, vnet: bool, ip6: &[std::net::Ipv6Addr]) -> Vec<u8> {
    let mut b = Vec::with_capacity(12 + 16 * ip6.len() + name.len());
    put32(&mut b, OP_JAIL_CREATE);
    put32(&mut b, if vnet { 1 } else { 2 });
    put32(&mut b, ip6.len() as u32);
    for a in ip6 {
        b.extend_from_slice(&a.octets());
    }
    b.extend_from_slice(name.as_bytes());
    b
}

/// OP_BIND or OP_CONNECT body: the fd, a FreeBSD sockaddr.
fn encode_fd_addr(op: u32, fd: i32, addr: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + addr.len());
    put32(&mut b, op);
    put32(&mut b, fd as u32);
    b.extend_from_slice(addr);
    b
}

/// A body of one int after the op: OP_JAIL_REMOVE and OP_JAIL_ATTACH (a jid), OP_ACCEPT (an fd).
fn encode_one_int(op: u32, v: i32) -> Vec<u8> {
    let mut b = Vec::with_capacity(8);
    put32(&mut b, op);
    put32(&mut b, v as u32);
    b
}

/// How OP_JAIL_GET finds its jail, in kern_jail_get's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JailKey {
    /// The first jail whose jid is greater ("lastjid").
    After(i32),
    /// By jid.
    Jid(i32),
    /// By name.
    Name(String),
}

/// OP_JAIL_GET body: the jail_get(2) flags, how (0 lastjid, 1 jid, 2 name), the jid, the name.
pub fn encode_jail_get(key: &JailKey, flags: i32) -> Vec<u8> {
    let (by, jid, name) = match key {
        JailKey::After(j) => (0, *j, ""),
        JailKey::Jid(j) => (1, *j, ""),
        JailKey::Name(n) => (2, 0, n.as_str()),
    };
    let mut b = Vec::with_capacity(16 + name.len());
    for v in [OP_JAIL_GET, flags as u32, by, jid as u32] {
        put32(&mut b, v);
    }
    b.extend_from_slice(name.as_bytes());
    b
}

/// A jail as OP_JAIL_GET answers: jid, name, own vnet, dying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackJail {
    /// jid
    pub jid: i32,
    /// name
    pub name: String,
    /// "vnet": JAIL_SYS_NEW (1) or JAIL_SYS_INHERIT (2)
    pub vnet: i32,
    /// "dying"
    pub dying: bool,
    /// "ip6.addr": an IP-sharing jail's addresses, the first its primary
    pub ip6: Vec<std::net::Ipv6Addr>,
}

/// A reply: the return value, then the FreeBSD errno when it is negative, and the payload.
fn decode_reply(body: &[u8]) -> StackResult<(i32, &[u8])> {
    if body.len() < 8 {
        return Err(StackError::Transport(format!("a {}-byte reply", body.len())));
    }
    let rc = get32(body, 0) as i32;
    if rc < 0 {
        return Err(StackError::Kernel(Errno(get32(body, 4) as i32)));
    }
    Ok((rc, &body[8..]))
}

/// One connection to a stack host; its sockets are closed by the host when it is dropped.
#[derive(Debug)]
pub struct StackHost {
    stream: UnixStream,
    /// Where the host serves: a step inside a jail is another connection, attached to it.
    path: std::path::PathBuf,
}

impl StackHost {
    /// Connect to a stack host serving `path`.
    pub fn connect(path: &Path) -> StackResult<StackHost> {
        let stream = UnixStream::connect(path)
            .map_err(|e| StackError::Transport(format!("connect to {}: {e}", path.display())))?;
        // The host serves one request per turn of its loop: seconds mean it is gone.
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        Ok(StackHost { stream, path: path.to_path_buf() })
    }

    fn call(&mut self, body: &[u8]) -> StackResult<Vec<u8>> {
        if body.len() > MAX_FRAME {
            return Err(StackError::Transport(format!("a {}-byte request is over the host's limit", body.len())));
        }
        let mut frame = Vec::with_capacity(4 + body.len());
        put32(&mut frame, body.len() as u32);
        frame.extend_from_slice(body);
        self.stream.write_all(&frame)?;
        let mut head = [0u8; 4];
        self.stream.read_exact(&mut head)?;
        let len = u32::from_ne_bytes(head) as usize;
        if len == 0 {
            return Err(StackError::Transport("the host refused a malformed request".into()));
        }
        let mut reply = vec![0u8; len];
        self.stream.read_exact(&mut reply)?;
        Ok(reply)
    }

    /// socket(2) with FreeBSD's domain numbers (AF_INET6 is 28).
    pub fn socket(&mut self, domain: i32, ty: i32, protocol: i32) -> StackResult<i32> {
        let reply = self.call(&encode_socket(domain, ty, protocol))?;
        Ok(decode_reply(&reply)?.0)
    }

    /// close(2) of a socket this connection opened.
    pub fn close(&mut self, fd: i32) -> StackResult<()> {
        let reply = self.call(&encode_close(fd))?;
        decode_reply(&reply).map(|_| ())
    }

    /// ioctl(2): `arg` and every buffer come back as the kernel code left them.
    pub fn ioctl(&mut self, fd: i32, request: u64, arg: &mut [u8], bufs: &mut [Indirect<'_>]) -> StackResult<()> {
        if bufs.len() > MAX_BUFS {
            return Err(StackError::Transport(format!("{} indirect buffers, the host takes {MAX_BUFS}", bufs.len())));
        }
        for (k, i) in bufs.iter().enumerate() {
            let room = match i.parent {
                0 => arg.len(),
                p if p <= k => bufs[p - 1].buf.len(),
                p => {
                    return Err(StackError::Transport(format!(
                        "buffer {k} points from buffer {}, not an earlier one",
                        p - 1
                    )))
                }
            };
            if i.offset + 8 > room {
                return Err(StackError::Transport(format!("a pointer at {} is past its {room}-byte parent", i.offset)));
            }
        }
        let reply = self.call(&encode_ioctl(fd, request, arg, bufs))?;
        let (_, payload) = decode_reply(&reply)?;
        let want = arg.len() + bufs.iter().map(|i| i.buf.len()).sum::<usize>();
        if payload.len() != want {
            return Err(StackError::Transport(format!("{} bytes back for {want}", payload.len())));
        }
        arg.copy_from_slice(&payload[..arg.len()]);
        let mut at = arg.len();
        for i in bufs.iter_mut() {
            let n = i.buf.len();
            i.buf.copy_from_slice(&payload[at..at + n]);
            at += n;
        }
        Ok(())
    }

    /// sendto(2); `addr` empty for a connected or routing socket.
    pub fn sendto(&mut self, fd: i32, data: &[u8], addr: &[u8]) -> StackResult<usize> {
        let reply = self.call(&encode_sendto(fd, data, addr))?;
        Ok(decode_reply(&reply)?.0 as usize)
    }

    /// recv(2) that never waits: EAGAIN when nothing is queued (the stack's timers run on the
    /// host's one thread, so it cannot block).
    pub fn recv(&mut self, fd: i32, buf: &mut [u8]) -> StackResult<usize> {
        let reply = self.call(&encode_recv(fd, buf.len()))?;
        let (n, payload) = decode_reply(&reply)?;
        let n = n as usize;
        if payload.len() != n || n > buf.len() {
            return Err(StackError::Transport(format!("recv says {n} bytes and sends {}", payload.len())));
        }
        buf[..n].copy_from_slice(payload);
        Ok(n)
    }

    /// How many requests the host has served, every client's, but these: the kernel
    /// operations a program made, read before and after it.
    pub fn served(&mut self) -> StackResult<u64> {
        let reply = self.call(&OP_COUNT.to_ne_bytes())?;
        let (_, payload) = decode_reply(&reply)?;
        let count: [u8; 8] =
            payload.try_into().map_err(|_| StackError::Transport(format!("a {}-byte count", payload.len())))?;
        Ok(u64::from_ne_bytes(count))
    }

    /// jail -c name=NAME persist (vnet=new when `vnet`): the jid. A jail without its own
    /// vnet and without ip6.addr has IPv4 and IPv6 disabled (kern_jail_set).
    pub fn jail_create(&mut self, name: &str, vnet: bool) -> StackResult<i32> {
        let reply = self.call(&encode_jail_create(name, vnet, &[]))?;
        Ok(decode_reply(&reply)?.0)
    }

    /// jail -c name=NAME ip6.addr=... persist: an IP-sharing jail whose sockets may use only
    /// these IPv6 addresses (in6_jail.c); the jid.
    pub fn jail_create_sharing(&mut self, name: &str, ip6: &[std::net::Ipv6Addr]) -> StackResult<i32> {
        let reply = self.call(&encode_jail_create(name, false, ip6))?;
        Ok(decode_reply(&reply)?.0)
    }

    /// jail_remove(2): the jail dies; its processes (connections attached to it) are killed;
    /// it goes, with its vnet, when the last reference (a socket's cred) goes.
    pub fn jail_remove(&mut self, jid: i32) -> StackResult<()> {
        let reply = self.call(&encode_one_int(OP_JAIL_REMOVE, jid))?;
        decode_reply(&reply).map(|_| ())
    }

    /// jail_attach(2) for this connection: its next sockets act in the jail's vnet.
    pub fn jail_attach(&mut self, jid: i32) -> StackResult<()> {
        let reply = self.call(&encode_one_int(OP_JAIL_ATTACH, jid))?;
        decode_reply(&reply).map(|_| ())
    }

    /// jail_get(2)'s lookup (JAIL_DYING in `flags` finds dying jails too).
    pub fn jail_lookup(&mut self, key: &JailKey, flags: i32) -> StackResult<StackJail> {
        let reply = self.call(&encode_jail_get(key, flags))?;
        let (jid, payload) = decode_reply(&reply)?;
        let bad = || StackError::Transport(format!("a {}-byte jail answer", payload.len()));
        let at = 8 + JAIL_NAME_LEN;
        if payload.len() < at + 4 {
            return Err(bad());
        }
        let n = get32(payload, at) as usize;
        if payload.len() != at + 4 + 16 * n {
            return Err(bad());
        }
        let end = payload[8..].iter().position(|&b| b == 0).unwrap_or(JAIL_NAME_LEN);
        let ip6 = crate::freebsd::abi::in6_addrs(&payload[at + 4..]);
        Ok(StackJail {
            jid,
            name: String::from_utf8_lossy(&payload[8..8 + end]).into_owned(),
            vnet: get32(payload, 0) as i32,
            dying: get32(payload, 4) != 0,
            ip6,
        })
    }

    /// bind(2) to a FreeBSD sockaddr.
    pub fn bind(&mut self, fd: i32, addr: &[u8]) -> StackResult<()> {
        let reply = self.call(&encode_fd_addr(OP_BIND, fd, addr))?;
        decode_reply(&reply).map(|_| ())
    }

    /// connect(2) to a FreeBSD sockaddr (EINPROGRESS on a non-blocking TCP socket).
    pub fn connect_to(&mut self, fd: i32, addr: &[u8]) -> StackResult<()> {
        let reply = self.call(&encode_fd_addr(OP_CONNECT, fd, addr))?;
        decode_reply(&reply).map(|_| ())
    }

    /// listen(2).
    pub fn listen(&mut self, fd: i32, backlog: i32) -> StackResult<()> {
        let mut b = encode_fd_addr(OP_LISTEN, fd, &[]);
        put32(&mut b, backlog as u32);
        let reply = self.call(&b)?;
        decode_reply(&reply).map(|_| ())
    }

    /// accept(2) that never waits (EAGAIN while no connection is queued): the new socket.
    pub fn accept(&mut self, fd: i32) -> StackResult<i32> {
        let reply = self.call(&encode_one_int(OP_ACCEPT, fd))?;
        Ok(decode_reply(&reply)?.0)
    }

    /// Another connection to the same host, attached to jail `jid`: a process in the jail.
    pub fn attached(&self, jid: i32) -> StackResult<StackHost> {
        let mut inside = StackHost::connect(&self.path)?;
        inside.jail_attach(jid)?;
        Ok(inside)
    }

    /// sysctl(3) by MIB with no old buffer: how many bytes the value has now.
    pub fn sysctl_size(&mut self, mib: &[i32]) -> StackResult<usize> {
        let reply = self.call(&encode_sysctl(mib, None, &[]))?;
        let (_, payload) = decode_reply(&reply)?;
        if payload.len() != 4 {
            return Err(StackError::Transport("a sysctl size reply without its length".into()));
        }
        Ok(get32(payload, 0) as usize)
    }

    /// sysctl(3) by MIB: the value read (at most `old_cap` bytes).
    pub fn sysctl(&mut self, mib: &[i32], old_cap: usize, new: &[u8]) -> StackResult<Vec<u8>> {
        let reply = self.call(&encode_sysctl(mib, Some(old_cap), new))?;
        let (_, payload) = decode_reply(&reply)?;
        if payload.len() < 4 {
            return Err(StackError::Transport("a sysctl reply without its length".into()));
        }
        let len = get32(payload, 0) as usize;
        if payload.len() != 4 + len {
            return Err(StackError::Transport(format!("sysctl says {len} bytes and sends {}", payload.len() - 4)));
        }
        Ok(payload[4..].to_vec())
    }
}

/// The stack host's answer as the backend's errno: the kernel's own, or EIO for a failed
/// host (said once on the log, with what failed).
fn seam<T>(r: StackResult<T>) -> crate::kernel::KResult<T> {
    r.map_err(|e| match e {
        StackError::Kernel(e) => e,
        StackError::Transport(t) => {
            log::error!("stack host: {t}");
            Errno::EIO
        }
    })
}

/// CTL_SYSCTL 0, CTL_SYSCTL_NAME2OID 3 (`sys/sys/sysctl.h`): the MIB of the name written
/// as the new value, without its NUL (`sysctl_sysctl_name2oid`, `sys/kern/kern_sysctl.c`).
const NAME2OID: [i32; 2] = [0, 3];

impl super::sys::Syscalls for StackHost {
    fn socket(&mut self, domain: i32, ty: i32, protocol: i32) -> crate::kernel::KResult<i32> {
        seam(StackHost::socket(self, domain, ty, protocol))
    }

    fn close(&mut self, fd: i32) {
        let _ = StackHost::close(self, fd);
    }

    fn ioctl(
        &mut self,
        fd: i32,
        request: u64,
        arg: &mut [u8],
        bufs: &mut [Indirect<'_>],
    ) -> crate::kernel::KResult<()> {
        // Our own addresses go in first: the host swaps them for its copies' and back, so a
        // slot the kernel left alone reads as on FreeBSD.
        super::sys::fill_pointers(arg, bufs)?;
        seam(StackHost::ioctl(self, fd, request, arg, bufs))
    }

    fn sysctl(&mut self, mib: &[i32], old: Option<&mut [u8]>) -> crate::kernel::KResult<usize> {
        match old {
            None => seam(StackHost::sysctl_size(self, mib)),
            Some(buf) => {
                let v = seam(StackHost::sysctl(self, mib, buf.len(), &[]))?;
                if v.len() > buf.len() {
                    return seam(Err(StackError::Transport(format!("{} sysctl bytes for {}", v.len(), buf.len()))));
                }
                buf[..v.len()].copy_from_slice(&v);
                Ok(v.len())
            }
        }
    }

    fn sysctl_mib(&mut self, name: &str) -> crate::kernel::KResult<Vec<i32>> {
        let v = seam(StackHost::sysctl(self, &NAME2OID, 24 * 4, name.as_bytes()))?;
        Ok(v.chunks_exact(4).map(|c| get32(c, 0) as i32).collect())
    }

    fn set_rcvbuf(&mut self, _fd: i32, _bytes: i32) -> crate::kernel::KResult<()> {
        // The host has no setsockopt; its netgraph answers are small (a few nodes).
        Ok(())
    }

    fn sendto(&mut self, fd: i32, data: &[u8], addr: &[u8]) -> crate::kernel::KResult<usize> {
        seam(StackHost::sendto(self, fd, data, addr))
    }

    fn recv(&mut self, fd: i32, buf: &mut [u8], wait: Duration) -> crate::kernel::KResult<usize> {
        let until = std::time::Instant::now() + wait;
        loop {
            match seam(StackHost::recv(self, fd, buf)) {
                Err(Errno::EAGAIN) if std::time::Instant::now() < until => {
                    // Each request is one turn of the stack's loop: its timers run between.
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(Errno::EAGAIN) => return Err(Errno::ETIMEDOUT),
                r => return r,
            }
        }
    }

    fn kldload(&mut self, _module: &str) -> crate::kernel::KResult<()> {
        // Everything F-Stack has is compiled in.
        Ok(())
    }

    fn has_jails(&self) -> bool {
        true
    }

    fn rtm_pid(&self) -> Option<i32> {
        None
    }

    fn jail_get(&mut self, iov: &mut [(usize, usize)], flags: i32) -> crate::kernel::KResult<i32> {
        // SAFETY: the iovecs are the caller's, built by abi::JailGet/JailGetIp6 over buffers
        // it holds for the call, as jail_get(2) requires of its caller.
        let params = unsafe { jailget::Params::read(iov) }?;
        let found = seam(self.jail_lookup(&params.key()?, flags));
        // SAFETY: as above; the answers go into the same buffers, within their lengths.
        unsafe { params.answer(iov, found) }
    }

    fn enter_jail(&self, jid: i32) -> Option<crate::kernel::KResult<Box<dyn super::sys::Syscalls>>> {
        Some(seam(self.attached(jid)).map(|h| Box::new(h) as Box<dyn super::sys::Syscalls>))
    }
}

/// jail_get(2)'s parameters (name, value iovec pairs), read and answered as kern_jail_get
/// does for those jnet asks: lastjid, jid, name (key or answer), vnet, dying, ip6.addr (an
/// IP-sharing jail's list; a VNET jail has none), errmsg.
mod jailget {
    use super::{JailKey, StackJail};
    use crate::errno::Errno;
    use crate::kernel::KResult;

    /// Each parameter's name and the value as given.
    pub struct Params {
        names: Vec<String>,
        values: Vec<Vec<u8>>,
    }

    fn int(v: &[u8]) -> KResult<i32> {
        // vfs_copyopt: a value of another size is EINVAL.
        Ok(i32::from_ne_bytes(v.try_into().map_err(|_| Errno::EINVAL)?))
    }

    impl Params {
        /// # Safety
        /// Every (address, length) must be readable memory of that length.
        pub unsafe fn read(iov: &[(usize, usize)]) -> KResult<Params> {
            if iov.len() % 2 != 0 {
                return Err(Errno::EINVAL);
            }
            let bytes = |&(a, l): &(usize, usize)| -> Vec<u8> {
                if l == 0 {
                    vec![]
                } else {
                    std::slice::from_raw_parts(a as *const u8, l).to_vec()
                }
            };
            let mut names = vec![];
            let mut values = vec![];
            for pair in iov.chunks(2) {
                let n = bytes(&pair[0]);
                // A parameter name is a C string (vfs_buildopts: EINVAL otherwise).
                if n.last() != Some(&0) {
                    return Err(Errno::EINVAL);
                }
                names.push(String::from_utf8_lossy(&n[..n.len() - 1]).into_owned());
                values.push(bytes(&pair[1]));
            }
            Ok(Params { names, values })
        }

        fn value(&self, name: &str) -> Option<&[u8]> {
            self.names.iter().position(|n| n == name).map(|k| self.values[k].as_slice())
        }

        /// kern_jail_get's order: lastjid, then a jid other than 0, then name.
        pub fn key(&self) -> KResult<JailKey> {
            if let Some(v) = self.value("lastjid") {
                return Ok(JailKey::After(int(v)?));
            }
            if let Some(v) = self.value("jid") {
                let jid = int(v)?;
                if jid != 0 {
                    return Ok(JailKey::Jid(jid));
                }
            }
            match self.value("name") {
                Some(v) if v.last() == Some(&0) => Ok(JailKey::Name(String::from_utf8_lossy(&v[..v.len() - 1]).into())),
                Some(_) => Err(Errno::EINVAL),
                None => Err(Errno::ENOENT),
            }
        }

        /// Write the answers into the caller's buffers (lengths as the kernel sets them).
        ///
        /// # Safety
        /// As `read`, and the value buffers must be writable.
        pub unsafe fn answer(&self, iov: &mut [(usize, usize)], found: KResult<StackJail>) -> KResult<i32> {
            let put = |slot: &mut (usize, usize), data: &[u8]| -> KResult<()> {
                if slot.1 < data.len() {
                    return Err(Errno::EINVAL);
                }
                std::ptr::copy_nonoverlapping(data.as_ptr(), slot.0 as *mut u8, data.len());
                Ok(())
            };
            let j = match found {
                Ok(j) => j,
                Err(e) => {
                    if let Some(k) = self.names.iter().position(|n| n == "errmsg") {
                        let msg = b"jail not found\0";
                        let slot = &mut iov[2 * k + 1];
                        let n = msg.len().min(slot.1);
                        std::ptr::copy_nonoverlapping(msg.as_ptr(), slot.0 as *mut u8, n);
                    }
                    return Err(e);
                }
            };
            for (k, name) in self.names.iter().enumerate() {
                let slot = &mut iov[2 * k + 1];
                match name.as_str() {
                    "jid" => put(slot, &j.jid.to_ne_bytes())?,
                    "vnet" => put(slot, &j.vnet.to_ne_bytes())?,
                    "dying" => put(slot, &(j.dying as i32).to_ne_bytes())?,
                    "name" => {
                        let mut n = j.name.clone().into_bytes();
                        n.push(0);
                        put(slot, &n)?;
                    }
                    // vfs_setopt_part: with no buffer the length is told; a buffer too
                    // small is EINVAL; else the addresses and their length.
                    "ip6.addr" => {
                        let bytes: Vec<u8> = j.ip6.iter().flat_map(|a| a.octets()).collect();
                        if slot.0 != 0 {
                            put(slot, &bytes)?;
                        }
                        slot.1 = bytes.len();
                    }
                    "lastjid" | "errmsg" => {}
                    // vfs_getopt in kern_jail_get: a parameter it does not know.
                    _ => return Err(Errno::ENOENT),
                }
            }
            Ok(j.jid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(b: &[u8]) -> Vec<u32> {
        b.chunks(4).map(|c| get32(c, 0)).collect()
    }

    #[test]
    fn socket_and_close_frames() {
        assert_eq!(words(&encode_socket(28, 2, 0)), vec![OP_SOCKET, 28, 2, 0]);
        assert_eq!(words(&encode_close(1025)), vec![OP_CLOSE, 1025]);
    }

    #[test]
    fn ioctl_frame_carries_table_arg_and_buffers_in_order() {
        let mut name = *b"e0b_www\0";
        let arg = [0x11u8; 32];
        let bufs = [Indirect { parent: 0, offset: 16, buf: &mut name }];
        let b = encode_ioctl(1024, 0x8020_6928, &arg, &bufs);
        assert_eq!(b.len(), 28 + 12 + 32 + 8);
        assert_eq!(&b[0..4], &OP_IOCTL.to_ne_bytes());
        assert_eq!(&b[4..8], &1024u32.to_ne_bytes());
        assert_eq!(&b[8..12], &[0, 0, 0, 0]);
        assert_eq!(&b[12..20], &0x8020_6928u64.to_ne_bytes());
        assert_eq!(&b[20..24], &32u32.to_ne_bytes());
        assert_eq!(&b[24..28], &1u32.to_ne_bytes());
        assert_eq!(&b[28..32], &0u32.to_ne_bytes());
        assert_eq!(&b[32..36], &16u32.to_ne_bytes());
        assert_eq!(&b[36..40], &8u32.to_ne_bytes());
        assert_eq!(&b[40..72], &[0x11u8; 32]);
        assert_eq!(&b[72..80], b"e0b_www\0");
    }

    #[test]
    fn ioctl_frame_names_a_nested_buffers_parent() {
        let mut conf = [0u8; 16];
        let mut members = [0u8; 160];
        let arg = [0u8; 40];
        let bufs =
            [Indirect { parent: 0, offset: 32, buf: &mut conf }, Indirect { parent: 1, offset: 8, buf: &mut members }];
        let b = encode_ioctl(7, 0xc028_697b, &arg, &bufs);
        assert_eq!(words(&b[28..52]), vec![0, 32, 16, 1, 8, 160]);
        assert_eq!(b.len(), 28 + 24 + 40 + 16 + 160);
    }

    #[test]
    fn sendto_and_recv_frames() {
        let b = encode_sendto(1030, &[1, 2, 3, 4], &[5, 32, b'.', 0]);
        assert_eq!(words(&b[..16]), vec![OP_SENDTO, 1030, 4, 4]);
        assert_eq!(&b[16..], &[5, 32, b'.', 0, 1, 2, 3, 4]);
        assert_eq!(words(&encode_recv(1030, 65536)), vec![OP_RECV, 1030, 65536]);
    }

    #[test]
    fn sysctl_frame_marks_a_size_query() {
        let b = encode_sysctl(&[4, 17, 0, 0, 3, 0], None, &[]);
        assert_eq!(words(&b), vec![OP_SYSCTL, 6, NO_OLD, 0, 4, 17, 0, 0, 3, 0]);
        let b = encode_sysctl(&[1, 1], Some(64), &[7, 0, 0, 0]);
        assert_eq!(words(&b), vec![OP_SYSCTL, 2, 64, 4, 1, 1, 7]);
    }

    #[test]
    fn replies_carry_freebsd_errnos() {
        let mut r = (-1i32).to_ne_bytes().to_vec();
        r.extend_from_slice(&17u32.to_ne_bytes());
        match decode_reply(&r) {
            Err(StackError::Kernel(e)) => assert_eq!(e, Errno::EEXIST),
            other => panic!("{other:?}"),
        }
        let mut ok = 3i32.to_ne_bytes().to_vec();
        ok.extend_from_slice(&[0, 0, 0, 0, 9, 9]);
        assert_eq!(decode_reply(&ok).unwrap(), (3, &[9u8, 9][..]));
        assert!(matches!(decode_reply(&[1, 2]), Err(StackError::Transport(_))));
    }

    #[test]
    fn jail_frames() {
        assert_eq!(words(&encode_jail_create("www", true, &[])[..12]), [OP_JAIL_CREATE, 1, 0]);
        assert_eq!(&encode_jail_create("www", false, &[])[4..], &[2, 0, 0, 0, 0, 0, 0, 0, b'w', b'w', b'w']);
        let web = encode_jail_create("web", false, &["2001:db8::80".parse().unwrap()]);
        assert_eq!(words(&web[..12]), [OP_JAIL_CREATE, 2, 1]);
        assert_eq!(&web[12..28], &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80]);
        assert_eq!(&web[28..], b"web");
        assert_eq!(words(&encode_one_int(OP_JAIL_ATTACH, 7)), [OP_JAIL_ATTACH, 7]);
        assert_eq!(words(&encode_fd_addr(OP_CONNECT, 3, &[16, 2, 0, 80])), [OP_CONNECT, 3, 0x5000_0210]);
        assert_eq!(words(&encode_jail_get(&JailKey::After(3), 8)), [OP_JAIL_GET, 8, 0, 3]);
        assert_eq!(words(&encode_jail_get(&JailKey::Jid(4), 0)), [OP_JAIL_GET, 0, 1, 4]);
        let by_name = encode_jail_get(&JailKey::Name("db".into()), 8);
        assert_eq!(words(&by_name[..16]), [OP_JAIL_GET, 8, 2, 0]);
        assert_eq!(&by_name[16..], b"db");
    }

    /// jail_get(2)'s iovecs as abi::JailGet builds them: the key in kern_jail_get's order,
    /// the answers written back where the kernel writes them.
    #[test]
    fn jail_get_parameters_are_read_and_answered_as_the_kernel_does() {
        use crate::freebsd::abi::JailGet;
        let mut q = JailGet::by_name("www");
        let mut iov = q.iovecs();
        // SAFETY: iovecs over q's own buffers, alive for the calls.
        let p = unsafe { jailget::Params::read(&iov) }.unwrap();
        assert_eq!(p.key().unwrap(), JailKey::Name("www".into()));
        let j = StackJail { jid: 5, name: "www".into(), vnet: 1, dying: true, ip6: vec![] };
        assert_eq!(unsafe { p.answer(&mut iov, Ok(j)) }, Ok(5));
        drop(iov);
        assert_eq!((q.jid, q.has_vnet(), q.dying), (5, true, 1));

        let mut q = JailGet::by_jid(2, true);
        let iov = q.iovecs();
        let p = unsafe { jailget::Params::read(&iov) }.unwrap();
        assert_eq!(p.key().unwrap(), JailKey::After(2));
        let mut q = JailGet::by_jid(9, false);
        let mut iov = q.iovecs();
        let p = unsafe { jailget::Params::read(&iov) }.unwrap();
        assert_eq!(p.key().unwrap(), JailKey::Jid(9));
        let j = StackJail { jid: 9, name: "db".into(), vnet: 2, dying: false, ip6: vec![] };
        assert_eq!(unsafe { p.answer(&mut iov, Ok(j)) }, Ok(9));
        drop(iov);
        assert_eq!((q.jail_name(), q.has_vnet(), q.dying), ("db".to_string(), false, 0));
        // Not found: the kernel's errno, a message in errmsg.
        let mut iov = q.iovecs();
        let p = unsafe { jailget::Params::read(&iov) }.unwrap();
        assert_eq!(unsafe { p.answer(&mut iov, Err(Errno::ENOENT)) }, Err(Errno::ENOENT));
        drop(iov);
        assert!(q.errmsg.starts_with(b"jail not found\0"));
    }

    /// An IP-sharing jail's ip6.addr as abi::JailGetIp6 asks for it: the addresses and the
    /// length used; a buffer too small for them is EINVAL (vfs_setopt_part).
    #[test]
    fn jail_get_answers_an_ip_sharing_jails_addresses() {
        use crate::freebsd::abi::JailGetIp6;
        let addrs: Vec<std::net::Ipv6Addr> = vec!["2001:db8::80".parse().unwrap(), "2001:db8::81".parse().unwrap()];
        let web = StackJail { jid: 3, name: "web".into(), vnet: 2, dying: false, ip6: addrs.clone() };
        let mut q = JailGetIp6::new(3, 4);
        let mut iov = q.iovecs();
        // SAFETY: iovecs over q's own buffers, alive for the calls.
        let p = unsafe { jailget::Params::read(&iov) }.unwrap();
        assert_eq!(p.key().unwrap(), JailKey::Jid(3));
        assert_eq!(unsafe { p.answer(&mut iov, Ok(web.clone())) }, Ok(3));
        let len = iov[3].1;
        drop(iov);
        assert_eq!((len, q.addrs(len)), (32, addrs));
        let mut small = JailGetIp6::new(3, 1);
        let mut iov = small.iovecs();
        let p = unsafe { jailget::Params::read(&iov) }.unwrap();
        assert_eq!(unsafe { p.answer(&mut iov, Ok(web)) }, Err(Errno::EINVAL));
    }
}
