//! Batched UDP sends: one `sendmmsg(2)` for a whole [`Batch`] of RTP packets on one socket.
//! Written against libc because no maintained crate exposes sendmmsg with per-message
//! destinations without pulling in a runtime (quinn-udp batches only to one destination).

use crate::pacer::Batch;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

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
