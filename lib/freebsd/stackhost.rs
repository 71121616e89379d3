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
    let mut b = Vec::with_capacity(8);
    put32(&mut b, OP_CLOSE);
    put32(&mut b, fd as u32);
    b
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
}

impl StackHost {
    /// Connect to a stack host serving `path`.
    pub fn connect(path: &Path) -> StackResult<StackHost> {
        let stream = UnixStream::connect(path)
            .map_err(|e| StackError::Transport(format!("connect to {}: {e}", path.display())))?;
        // The host serves one request per turn of its loop: seconds mean it is gone.
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        Ok(StackHost { stream })
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
        false
    }

    fn rtm_pid(&self) -> Option<i32> {
        None
    }

    fn jail_get(&mut self, _iov: &mut [(usize, usize)], _flags: i32) -> crate::kernel::KResult<i32> {
        // No jails: every lookup finds none, as jail_get(2) says of a jail that is not there.
        Err(Errno::ENOENT)
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
}
