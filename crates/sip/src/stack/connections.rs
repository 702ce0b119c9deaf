//! SIP over connections, TCP and TLS alike: messages framed by Content-Length (at most 64 KiB),
//! the listeners' accept loops (caps per source and in all, shared by both listeners; the TLS
//! handshake bounded in time), and the table of connections the endpoint's task writes to. A
//! message for a peer goes on the connection we have with that address and transport (accepted
//! or opened), else on a new connection to it (a proxy's record-routed address, a phone's
//! `;transport=tls` contact).

use super::TlsSetup;
use crate::endpoint::{Peer, Transport};
use crate::tcp_limits::{Admission, TcpSlots};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Largest SIP message accepted over TCP or TLS.
pub const MAX_TCP_MESSAGE: usize = 64 * 1024;

/// What the connections tell the endpoint's task, in order on one channel: a connection is
/// accepted (and where to write to it) before any message it carries, so an answer never finds
/// no connection to go on.
pub(super) enum FromConn {
    Accepted(Peer, mpsc::UnboundedSender<Vec<u8>>),
    Message(Vec<u8>, Peer),
    /// A connection ended: forget where to write to it.
    Closed(Peer),
}

pub(super) fn frame(buf: &[u8]) -> Result<Option<usize>, &'static str> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_TCP_MESSAGE {
            Err("headers too long")
        } else {
            Ok(None)
        };
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut len = 0usize;
    for line in head.lines() {
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            if k == "content-length" || k == "l" {
                len = v.trim().parse().map_err(|_| "bad Content-Length")?;
            }
        }
    }
    let total = end + 4 + len;
    if total > MAX_TCP_MESSAGE {
        return Err("message larger than 64 KiB");
    }
    Ok((buf.len() >= total).then_some(total))
}

/// One connection (the two halves of a TCP or TLS stream): frames messages in, writes what the
/// endpoint sends out, and closes after `idle` without a byte from the peer (CRLF keep-alives
/// count).
async fn run<R, W>(
    mut rd: R,
    mut wr: W,
    peer: Peer,
    inbound: mpsc::UnboundedSender<FromConn>,
    mut outbound: mpsc::UnboundedReceiver<Vec<u8>>,
    idle: Duration,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let writer = tokio::spawn(async move {
        while let Some(d) = outbound.recv().await {
            // TLS keeps what it encrypts until flushed.
            if wr.write_all(&d).await.is_err() || wr.flush().await.is_err() {
                break;
            }
        }
    });
    let name = peer.transport.via_name();
    // Read straight into `buf` (no buffer of its own in the task: an idle connection costs the
    // least we can make it).
    let mut buf = Vec::with_capacity(4096);
    loop {
        // Drop leading CRLF keep-alives.
        while buf.starts_with(b"\r\n") {
            buf.drain(..2);
        }
        match frame(&buf) {
            Ok(Some(n)) => {
                let msg: Vec<u8> = buf.drain(..n).collect();
                if inbound.send(FromConn::Message(msg, peer)).is_err() {
                    break;
                }
                continue;
            }
            Ok(None) => {}
            Err(why) => {
                tracing::warn!(peer = %peer.addr, transport = name, why, "closing SIP connection");
                break;
            }
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(4096);
        }
        match tokio::time::timeout(idle, rd.read_buf(&mut buf)).await {
            Err(_) => {
                tracing::debug!(peer = %peer.addr, transport = name, "closing idle SIP connection");
                break;
            }
            Ok(Ok(0)) => break,
            Ok(Err(e)) => {
                tracing::debug!(peer = %peer.addr, transport = name, error = %e, "SIP connection read failed");
                break;
            }
            Ok(Ok(_)) => {}
        }
    }
    // Wait for the writer to be gone, so that its queue is closed when the endpoint's task hears
    // of the end: it then forgets the connection (otherwise each closed connection's queue stayed
    // in its table for good).
    writer.abort();
    let _ = writer.await;
    let _ = inbound.send(FromConn::Closed(peer));
}

/// Run a TCP connection.
async fn run_tcp(
    s: TcpStream,
    peer: Peer,
    inbound: mpsc::UnboundedSender<FromConn>,
    outbound: mpsc::UnboundedReceiver<Vec<u8>>,
    idle: Duration,
) {
    let (rd, wr) = s.into_split();
    run(rd, wr, peer, inbound, outbound, idle).await;
}

/// Run a TLS connection (either side).
async fn run_tls<S>(
    s: S,
    peer: Peer,
    inbound: mpsc::UnboundedSender<FromConn>,
    outbound: mpsc::UnboundedReceiver<Vec<u8>>,
    idle: Duration,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (rd, wr) = tokio::io::split(s);
    run(rd, wr, peer, inbound, outbound, idle).await;
}

/// Connections by peer (address and transport), and what a new one needs.
pub(super) struct Connections {
    pub(super) out: HashMap<Peer, mpsc::UnboundedSender<Vec<u8>>>,
    pub(super) inbound: mpsc::UnboundedSender<FromConn>,
    pub(super) idle: Duration,
    /// How we check a TLS peer's certificate; `None`: no TLS (a message for a TLS peer is
    /// dropped, logged).
    pub(super) tls_client: Option<Arc<rustls::ClientConfig>>,
}

impl Connections {
    /// Send on the connection with `to`; when there is none (or it closed), open one: the
    /// message waits in its queue until the connection is up.
    pub(super) fn send(&mut self, to: Peer, data: Vec<u8>) {
        let data = match self.out.get(&to) {
            Some(tx) => match tx.send(data) {
                Ok(()) => return,
                Err(mpsc::error::SendError(d)) => d,
            },
            None => data,
        };
        let client = match (to.transport, &self.tls_client) {
            (Transport::Tls, None) => {
                tracing::warn!(addr = %to.addr, "no SIP over TLS configured: message to a TLS peer dropped");
                return;
            }
            (_, c) => c.clone(),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(data);
        self.out.insert(to, tx);
        let (inbound, idle) = (self.inbound.clone(), self.idle);
        tokio::spawn(async move {
            let addr = to.addr;
            match (to.transport, client) {
                (Transport::Tls, Some(client)) => match crate::tls::connect(&client, addr).await {
                    Ok(s) => run_tls(s, to, inbound, rx, idle).await,
                    Err(error) => tracing::warn!(%addr, %error, "SIP TLS connection failed"),
                },
                _ => match TcpStream::connect(addr).await {
                    Ok(s) => run_tcp(s, to, inbound, rx, idle).await,
                    Err(e) => tracing::warn!(%addr, error = %e, "SIP TCP connection failed"),
                },
            }
        });
    }

    /// What a connection told the endpoint's task about itself; a message is handed back.
    pub(super) fn on_event(&mut self, e: FromConn) -> Option<(Vec<u8>, Peer)> {
        match e {
            FromConn::Message(msg, peer) => return Some((msg, peer)),
            FromConn::Accepted(peer, tx) => {
                self.out.insert(peer, tx);
            }
            FromConn::Closed(peer) => {
                if self.out.get(&peer).is_some_and(|t| t.is_closed()) {
                    self.out.remove(&peer);
                }
            }
        }
        None
    }
}

/// Accept connections on `listener` (TCP, or TLS when `tls` is given) until the endpoint's task
/// is gone; each admitted by `slots`, a TLS one after its handshake.
pub(super) async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsSetup>,
    slots: TcpSlots,
    inbound: mpsc::UnboundedSender<FromConn>,
) {
    let idle = slots.limits().idle_timeout;
    let name = if tls.is_some() { "TLS" } else { "TCP" };
    loop {
        let (s, addr) = match listener.accept().await {
            Ok(x) => x,
            // Out of file descriptors or a connection reset before accept: go on.
            Err(e) => {
                tracing::warn!(error = %e, transport = name, "SIP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let slot = match slots.admit(addr.ip(), Instant::now()) {
            Admission::Admitted(slot) => slot,
            Admission::Refused { log } => {
                if let Some(why) = log {
                    // One message for TCP and TLS (TLS runs over TCP): the fail2ban filter's.
                    tracing::warn!(source = %addr.ip(), why, transport = name, "sip tcp connection refused");
                }
                drop(s);
                continue;
            }
        };
        if inbound.is_closed() {
            break;
        }
        let inbound = inbound.clone();
        let tls = tls.as_ref().map(|t| t.certificate.clone());
        tokio::spawn(async move {
            let (otx, orx) = mpsc::unbounded_channel();
            match tls {
                None => {
                    let peer = Peer::tcp(addr);
                    if inbound.send(FromConn::Accepted(peer, otx)).is_ok() {
                        run_tcp(s, peer, inbound, orx, idle).await;
                    }
                }
                Some(certificate) => {
                    let timeout = idle.min(crate::tls::HANDSHAKE_TIMEOUT);
                    match crate::tls::accept(&certificate, s, timeout).await {
                        Ok(s) => {
                            let peer = Peer::tls(addr);
                            if inbound.send(FromConn::Accepted(peer, otx)).is_ok() {
                                run_tls(s, peer, inbound, orx, idle).await;
                            }
                        }
                        Err(error) => {
                            tracing::info!(%addr, %error, "SIP TLS handshake failed");
                        }
                    }
                }
            }
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_framing_by_content_length() {
        assert_eq!(
            frame(b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 3\r\n\r\nabcNEXT"),
            Ok(Some(47))
        );
        assert_eq!(frame(b"OPTIONS sip:x SIP/2.0\r\nl: 3\r\n\r\nab"), Ok(None));
        assert_eq!(
            frame(b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 99999\r\n\r\n"),
            Err("message larger than 64 KiB")
        );
        assert_eq!(
            frame(b"OPTIONS sip:x SIP/2.0\r\nContent-Length: x\r\n\r\n"),
            Err("bad Content-Length")
        );
    }
}
