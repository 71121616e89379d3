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
/// stackhost.c MAX_FRAME and MAX_BUFS.
const MAX_FRAME: usize = 1 << 20;
const MAX_BUFS: usize = 8;
/// "No old buffer" in an OP_SYSCTL request.
const NO_OLD: u32 = 0xffff_ffff;

/// A buffer an ioctl argument points to (ifr_data, ifd_data, a description...). The stack
/// host writes its own copy's address at `offset` in the argument; on the way back that
/// pointer slot holds what the caller put there, unless the kernel code changed it
/// (SIOCGIFDESCR sets it to NULL when the buffer is too small).
pub struct Indirect<'a> {
    /// Where in the argument the pointer goes.
    pub offset: usize,
    /// What it points to.
    pub buf: &'a mut [u8],
}

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

/// OP_IOCTL body: fd, a zero word, the request (u64), the arg length, the buffer table, the
/// arg, the buffers.
pub fn encode_ioctl(fd: i32, request: u64, arg: &[u8], bufs: &[Indirect<'_>]) -> Vec<u8> {
    let mut b = Vec::with_capacity(28 + bufs.len() * 8 + arg.len());
    put32(&mut b, OP_IOCTL);
    put32(&mut b, fd as u32);
    put32(&mut b, 0);
    b.extend_from_slice(&request.to_ne_bytes());
    put32(&mut b, arg.len() as u32);
    put32(&mut b, bufs.len() as u32);
    for i in bufs {
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
        if let Some(i) = bufs.iter().find(|i| i.offset + 8 > arg.len()) {
            return Err(StackError::Transport(format!(
                "a pointer at {} is past the {}-byte argument",
                i.offset,
                arg.len()
            )));
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
        let bufs = [Indirect { offset: 16, buf: &mut name }];
        let b = encode_ioctl(1024, 0x8020_6928, &arg, &bufs);
        assert_eq!(b.len(), 28 + 8 + 32 + 8);
        assert_eq!(&b[0..4], &OP_IOCTL.to_ne_bytes());
        assert_eq!(&b[4..8], &1024u32.to_ne_bytes());
        assert_eq!(&b[8..12], &[0, 0, 0, 0]);
        assert_eq!(&b[12..20], &0x8020_6928u64.to_ne_bytes());
        assert_eq!(&b[20..24], &32u32.to_ne_bytes());
        assert_eq!(&b[24..28], &1u32.to_ne_bytes());
        assert_eq!(&b[28..32], &16u32.to_ne_bytes());
        assert_eq!(&b[32..36], &8u32.to_ne_bytes());
        assert_eq!(&b[36..68], &[0x11u8; 32]);
        assert_eq!(&b[68..76], b"e0b_www\0");
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
