//! Batched UDP sends: one `sendmmsg(2)` for a whole [`Batch`] of RTP packets on one socket.
//! Written against libc because no maintained crate exposes sendmmsg with per-message
//! destinations without pulling in a runtime (quinn-udp batches only to one destination).

use crate::pacer::Batch;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

/// What a shared socket asks the kernel for, each way. Every call's packets pass through one
/// socket, so the default (~200 KiB, a few milliseconds of traffic at thousands of calls) drops
/// packets — DTMF included — whenever the engine thread is held up. The kernel caps the request
/// at `net.core.rmem_max`/`wmem_max` (docs/operations.md).
pub const SOCKET_BUFFER: usize = 8 << 20;

/// Ask for [`SOCKET_BUFFER`] of receive and send buffer on `sock`; returns the receive buffer
/// the kernel granted.
pub fn grow_buffers(sock: &impl std::os::fd::AsFd) -> usize {
    let s = socket2::SockRef::from(sock);
    let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = s.set_send_buffer_size(SOCKET_BUFFER);
    s.recv_buffer_size().unwrap_or(0)
}

fn sockaddr(addr: &SocketAddr, storage: &mut libc::sockaddr_storage) -> libc::socklen_t {
    // SAFETY: sockaddr_storage is large enough for both address families; we write the
    // matching struct at its start.
    unsafe {
        match addr {
            SocketAddr::V4(a) => {
                let sin = storage as *mut _ as *mut libc::sockaddr_in;
                (*sin).sin_family = libc::AF_INET as libc::sa_family_t;
                (*sin).sin_port = a.port().to_be();
                (*sin).sin_addr = libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                };
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
            }
            SocketAddr::V6(a) => {
                let sin6 = storage as *mut _ as *mut libc::sockaddr_in6;
                (*sin6).sin6_family = libc::AF_INET6 as libc::sa_family_t;
                (*sin6).sin6_port = a.port().to_be();
                (*sin6).sin6_addr = libc::in6_addr {
                    s6_addr: a.ip().octets(),
                };
                (*sin6).sin6_flowinfo = a.flowinfo();
                (*sin6).sin6_scope_id = a.scope_id();
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
            }
        }
    }
}

/// Reusable message headers for `sendmmsg`, sized for the largest batch seen.
#[derive(Default)]
pub struct BatchSender {
    addrs: Vec<libc::sockaddr_storage>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
}

// The raw pointers inside only ever point into buffers owned by the caller during `send`.
unsafe impl Send for BatchSender {}

impl BatchSender {
    pub fn new() -> Self {
        Self::default()
    }

    /// Send every packet of `batch` from `sock`. Returns how many the kernel accepted; packets it
    /// refuses (full buffer) are dropped, as RTP allows, and counted by the caller.
    pub fn send(&mut self, sock: &UdpSocket, batch: &Batch) -> io::Result<usize> {
        let n = batch.len();
        if n == 0 {
            return Ok(0);
        }
        if self.msgs.len() < n {
            // SAFETY: all-zero is a valid value for these plain C structs.
            self.addrs.resize(n, unsafe { std::mem::zeroed() });
            self.iovs.resize(
                n,
                libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                },
            );
            self.msgs.resize(n, unsafe { std::mem::zeroed() });
        }
        for i in 0..n {
            let (pkt, addr) = batch.packet(i);
            let len = sockaddr(&addr, &mut self.addrs[i]);
            self.iovs[i] = libc::iovec {
                iov_base: pkt.as_ptr() as *mut libc::c_void,
                iov_len: pkt.len(),
            };
            let h = &mut self.msgs[i].msg_hdr;
            h.msg_name = &mut self.addrs[i] as *mut _ as *mut libc::c_void;
            h.msg_namelen = len;
            h.msg_iov = &mut self.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
        }
        let mut sent = 0;
        while sent < n {
            // SAFETY: msgs[sent..n] point at live buffers (batch, addrs, iovs) for this call.
            let r = unsafe {
                libc::sendmmsg(
                    sock.as_raw_fd(),
                    self.msgs[sent..].as_mut_ptr(),
                    (n - sent) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::Interrupted => continue,
                    // Full socket buffer or an unreachable peer (ICMP): skip that packet.
                    io::ErrorKind::WouldBlock | io::ErrorKind::ConnectionRefused => {
                        sent += 1;
                        continue;
                    }
                    _ => return Err(e),
                }
            }
            sent += r as usize;
            if r == 0 {
                break;
            }
        }
        Ok(sent)
    }
}

fn from_sockaddr(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in for an AF_INET address.
            let sin = unsafe { &*(s as *const _ as *const libc::sockaddr_in) };
            let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::new(ip.into(), u16::from_be(sin.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: the kernel wrote a sockaddr_in6 for an AF_INET6 address.
            let sin6 = unsafe { &*(s as *const _ as *const libc::sockaddr_in6) };
            Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                sin6.sin6_addr.s6_addr.into(),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Largest datagram kept whole; RTP for our codecs is far smaller (truncated ones are dropped).
const MAX_DATAGRAM: usize = 2048;

/// Batched UDP receives: one `recvmmsg(2)` takes up to `capacity` waiting datagrams, where
/// `recv_from` would take one per system call (at 2,500 duplex callers that is 125,000 calls a
/// second on the media thread).
pub struct BatchReceiver {
    bufs: Vec<u8>,
    addrs: Vec<libc::sockaddr_storage>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
    got: usize,
}

// The raw pointers inside point into the struct's own heap buffers, which never move or resize.
unsafe impl Send for BatchReceiver {}

impl BatchReceiver {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let mut r = BatchReceiver {
            bufs: vec![0; capacity * MAX_DATAGRAM],
            // SAFETY: all-zero is a valid value for these plain C structs.
            addrs: vec![unsafe { std::mem::zeroed() }; capacity],
            iovs: Vec::with_capacity(capacity),
            msgs: vec![unsafe { std::mem::zeroed() }; capacity],
            got: 0,
        };
        for i in 0..capacity {
            r.iovs.push(libc::iovec {
                iov_base: r.bufs[i * MAX_DATAGRAM..].as_mut_ptr() as *mut libc::c_void,
                iov_len: MAX_DATAGRAM,
            });
        }
        for i in 0..capacity {
            let h = &mut r.msgs[i].msg_hdr;
            h.msg_name = &mut r.addrs[i] as *mut _ as *mut libc::c_void;
            h.msg_iov = &mut r.iovs[i];
            h.msg_iovlen = 1;
        }
        r
    }

    /// Take what is waiting on the (non-blocking) socket, at most `capacity` datagrams; returns
    /// how many. 0: nothing waiting.
    pub fn recv(&mut self, sock: &UdpSocket) -> io::Result<usize> {
        for m in &mut self.msgs {
            m.msg_hdr.msg_namelen =
                std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            m.msg_hdr.msg_flags = 0;
            m.msg_len = 0;
        }
        loop {
            // SAFETY: every mmsghdr points at this struct's live buffers, sized as declared.
            let r = unsafe {
                libc::recvmmsg(
                    sock.as_raw_fd(),
                    self.msgs.as_mut_ptr(),
                    self.msgs.len() as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if r >= 0 {
                self.got = r as usize;
                return Ok(self.got);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => {
                    self.got = 0;
                    return Ok(0);
                }
                // An ICMP error queued on the socket (a phone that went away): nothing to read.
                io::ErrorKind::ConnectionRefused => continue,
                _ => return Err(e),
            }
        }
    }

    /// The i-th datagram of the last `recv` and where it came from; `None` when it was
    /// truncated or its address family is unknown.
    pub fn get(&self, i: usize) -> Option<(&[u8], SocketAddr)> {
        if i >= self.got {
            return None;
        }
        let m = &self.msgs[i];
        if m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
            return None;
        }
        let len = (m.msg_len as usize).min(MAX_DATAGRAM);
        let addr = from_sockaddr(&self.addrs[i])?;
        Some((&self.bufs[i * MAX_DATAGRAM..i * MAX_DATAGRAM + len], addr))
    }

    pub fn capacity(&self) -> usize {
        self.msgs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_receiver_takes_every_waiting_datagram_with_its_source() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut r = BatchReceiver::new(4);
        assert_eq!(r.recv(&rx).unwrap(), 0);
        for i in 0..6u8 {
            let s = if i % 2 == 0 { &a } else { &b };
            s.send_to(&vec![i; 10 + usize::from(i)], rx.local_addr().unwrap())
                .unwrap();
        }
        // A datagram larger than the buffer is reported as truncated, not cut silently.
        a.send_to(&[9u8; MAX_DATAGRAM + 10], rx.local_addr().unwrap())
            .unwrap();
        let mut seen = Vec::new();
        let mut truncated = 0;
        // Loopback delivers synchronously: everything is already queued.
        loop {
            let n = r.recv(&rx).unwrap();
            if n == 0 {
                break;
            }
            assert!(n <= r.capacity());
            for i in 0..n {
                match r.get(i) {
                    Some((data, from)) => seen.push((data.to_vec(), from)),
                    None => truncated += 1,
                }
            }
            assert!(r.get(n).is_none());
        }
        assert_eq!(truncated, 1);
        assert_eq!(seen.len(), 6);
        for (i, (data, from)) in seen.iter().enumerate() {
            assert_eq!(data, &vec![i as u8; 10 + i]);
            let want = if i % 2 == 0 { &a } else { &b };
            assert_eq!(*from, want.local_addr().unwrap());
        }
    }
}
