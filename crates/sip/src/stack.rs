//! The tokio driver around [`Endpoint`]: a UDP socket and a TCP listener on one address, one task
//! that owns the endpoint (no lock), timers from `next_timeout`, events out on a channel and
//! commands in on another. TCP messages are framed by Content-Length, at most 64 KiB. A message
//! for a TCP peer goes on the connection we have with that address (accepted or opened), else on
//! a new connection to it (a proxy's record-routed address, an outbound proxy).

use crate::endpoint::{Endpoint, EndpointConfig, Event, OutOfDialogTarget, Output, Peer};
use crate::rate_limit::RequestLimits;
use crate::tcp_limits::{Admission, TcpLimits, TcpSlots};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

/// Receive buffer asked for on the SIP UDP socket.
const SIP_SOCKET_BUFFER: usize = 4 << 20;

/// Largest SIP message accepted over TCP.
pub const MAX_TCP_MESSAGE: usize = 64 * 1024;

/// What the application asks of the stack.
#[derive(Debug)]
pub enum Command {
    Answer {
        call_id: String,
        sdp: Vec<u8>,
    },
    Reject {
        call_id: String,
        status: u16,
        reason: String,
        extra_headers: String,
    },
    Hangup {
        call_id: String,
    },
    /// 180 Ringing for a call not answered yet.
    Ring {
        call_id: String,
    },
    Respond {
        key: String,
        status: u16,
        reason: String,
        extra_headers: String,
    },
    /// NOTIFY check-sync, out of any dialog.
    NotifyCheckSync {
        target: OutOfDialogTarget,
    },
    /// `Some(retry_after)`: refuse new calls with 503; `None`: accept.
    SetRefusing(Option<u32>),
    /// New route-point DNs and call limit (configuration reload).
    SetRoutePoint {
        dns: Vec<String>,
        max_calls: usize,
    },
    /// Register a route-point DN with a registrar.
    Register {
        cfg: crate::registration::RegistrationConfig,
        registrar: SocketAddr,
        tcp: bool,
    },
    /// Un-register every DN (shutdown).
    UnregisterAll,
    /// Report (servers, clients, dialogs) table sizes.
    Tables(tokio::sync::oneshot::Sender<(usize, usize, usize)>),
    /// Report how many TCP connections the stack knows where to write to (for leak checks).
    TcpConnections(tokio::sync::oneshot::Sender<usize>),
}

/// Handle of a running stack.
pub struct SipStack {
    pub local: SocketAddr,
    pub commands: mpsc::UnboundedSender<Command>,
}

/// What the TCP side tells the endpoint's task, in order on one channel: a connection is accepted
/// (and where to write to it) before any message it carries, so an answer never finds no
/// connection to go on.
enum FromTcp {
    Accepted(SocketAddr, mpsc::UnboundedSender<Vec<u8>>),
    Message(Vec<u8>, Peer),
    /// A connection ended: forget where to write to it.
    Closed(SocketAddr),
}

fn tcp_frame(buf: &[u8]) -> Result<Option<usize>, &'static str> {
    // Skip keep-alive CRLFs.
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

/// One TCP connection: frames messages in, writes what the endpoint sends out, and closes after
/// `idle` without a byte from the peer (CRLF keep-alives count).
async fn tcp_conn(
    stream: TcpStream,
    peer: SocketAddr,
    inbound: mpsc::UnboundedSender<FromTcp>,
    mut outbound: mpsc::UnboundedReceiver<Vec<u8>>,
    idle: Duration,
) {
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        while let Some(d) = outbound.recv().await {
            if wr.write_all(&d).await.is_err() {
                break;
            }
        }
    });
    // Read straight into `buf` (no buffer of its own in the task: an idle connection costs the
    // least we can make it).
    let mut buf = Vec::with_capacity(4096);
    loop {
        // Drop leading CRLF keep-alives.
        while buf.starts_with(b"\r\n") {
            buf.drain(..2);
        }
        match tcp_frame(&buf) {
            Ok(Some(n)) => {
                let msg: Vec<u8> = buf.drain(..n).collect();
                let peer = Peer {
                    addr: peer,
                    reliable: true,
                };
                if inbound.send(FromTcp::Message(msg, peer)).is_err() {
                    break;
                }
                continue;
            }
            Ok(None) => {}
            Err(why) => {
                tracing::warn!(%peer, why, "closing SIP TCP connection");
                break;
            }
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(4096);
        }
        match tokio::time::timeout(idle, rd.read_buf(&mut buf)).await {
            Err(_) => {
                tracing::debug!(%peer, "closing idle SIP TCP connection");
                break;
            }
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(_)) => {}
        }
    }
    // Wait for the writer to be gone, so that its queue is closed when the endpoint's task hears
    // of the end: it then forgets the connection (otherwise each closed connection's queue stayed
    // in its table for good).
    writer.abort();
    let _ = writer.await;
    let _ = inbound.send(FromTcp::Closed(peer));
}

/// Connections to TCP peers by their address, and what a new one needs.
struct TcpPeers {
    out: HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>,
    inbound: mpsc::UnboundedSender<FromTcp>,
    idle: Duration,
}

impl TcpPeers {
    /// Send on the connection with `addr`; when there is none (or it closed), open one: the
    /// message waits in its queue until the connection is up.
    fn send(&mut self, addr: SocketAddr, data: Vec<u8>) {
        let data = match self.out.get(&addr) {
            Some(tx) => match tx.send(data) {
                Ok(()) => return,
                Err(mpsc::error::SendError(d)) => d,
            },
            None => data,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(data);
        self.out.insert(addr, tx);
        let (inbound, idle) = (self.inbound.clone(), self.idle);
        tokio::spawn(async move {
            match TcpStream::connect(addr).await {
                Ok(s) => tcp_conn(s, addr, inbound, rx, idle).await,
                Err(e) => tracing::warn!(%addr, error = %e, "SIP TCP connection failed"),
            }
        });
    }
}

/// UDP and TCP on the same address and port. With port 0 the system picks the UDP port, and TCP
/// may find that port taken by someone else: another port is tried then (a few times).
async fn bind_udp_and_tcp(listen: SocketAddr) -> std::io::Result<(UdpSocket, TcpListener)> {
    let mut attempts = 0;
    loop {
        let udp = UdpSocket::bind(listen).await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e)
                if listen.port() == 0
                    && e.kind() == std::io::ErrorKind::AddrInUse
                    && attempts < 16 =>
            {
                attempts += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

impl SipStack {
    /// Bind UDP and TCP on `listen` (port 0: any free port, the same for both) and start, with
    /// the default [`TcpLimits`] and no request rate limit.
    pub async fn start(
        listen: SocketAddr,
        cfg: EndpointConfig,
        events: mpsc::UnboundedSender<Event>,
    ) -> std::io::Result<SipStack> {
        Self::start_with(
            listen,
            cfg,
            events,
            TcpLimits::default(),
            RequestLimits::off(),
        )
        .await
    }

    /// [`SipStack::start`] with limits on SIP over TCP: connections beyond the per-source or the
    /// total cap are closed as soon as accepted, and any connection idle too long is closed; and
    /// with per-source request rate limits (over UDP and TCP alike).
    pub async fn start_with(
        listen: SocketAddr,
        mut cfg: EndpointConfig,
        events: mpsc::UnboundedSender<Event>,
        limits: TcpLimits,
        requests: RequestLimits,
    ) -> std::io::Result<SipStack> {
        let (udp, tcp) = bind_udp_and_tcp(listen).await?;
        // A burst of REGISTERs and INVITEs (phones after a power cut) must queue, not be dropped
        // and wait 500 ms for a retransmission. The kernel caps this at net.core.rmem_max.
        let _ = socket2::SockRef::from(&udp).set_recv_buffer_size(SIP_SOCKET_BUFFER);
        let local = udp.local_addr()?;
        if cfg.advertised.is_empty() {
            cfg.advertised = local.to_string();
        }
        cfg.listen = Some(local);
        let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel::<Command>();
        let (in_tx, mut in_rx) = mpsc::unbounded_channel::<FromTcp>();
        let idle = limits.idle_timeout;
        let mut tcp_peers = TcpPeers {
            out: HashMap::new(),
            inbound: in_tx.clone(),
            idle,
        };
        let slots = TcpSlots::new(limits);
        tokio::spawn(async move {
            loop {
                let (s, peer) = match tcp.accept().await {
                    Ok(x) => x,
                    // Out of file descriptors or a connection reset before accept: go on.
                    Err(e) => {
                        tracing::warn!(error = %e, "SIP TCP accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let slot = match slots.admit(peer.ip(), Instant::now()) {
                    Admission::Admitted(slot) => slot,
                    Admission::Refused { log } => {
                        if let Some(why) = log {
                            tracing::warn!(source = %peer.ip(), why, "sip tcp connection refused");
                        }
                        drop(s);
                        continue;
                    }
                };
                let (otx, orx) = mpsc::unbounded_channel();
                if in_tx.send(FromTcp::Accepted(peer, otx)).is_err() {
                    break;
                }
                let in_tx = in_tx.clone();
                tokio::spawn(async move {
                    tcp_conn(s, peer, in_tx, orx, idle).await;
                    drop(slot);
                });
            }
        });
        tokio::spawn(async move {
            let mut ep = Endpoint::new(cfg);
            ep.set_request_limits(requests);
            let mut buf = vec![0u8; 65536];
            // The earliest timer, found by scanning every transaction: done at most every
            // RESCAN (not once per datagram, which made set-up cost grow with the number of
            // transactions alive). A timer armed meanwhile fires at most RESCAN late; SIP timers
            // start at T1 = 500 ms.
            const RESCAN: Duration = Duration::from_millis(10);
            let mut deadline: Option<Instant> = None;
            let mut last_scan: Option<Instant> = None;
            // Something came in since the last scan (it may have armed a timer). When nothing
            // did, the loop sleeps until the next timer, or for good: an idle service uses no CPU.
            let mut dirty = true;
            loop {
                let now = Instant::now();
                if dirty && last_scan.is_none_or(|t| now.duration_since(t) >= RESCAN) {
                    deadline = ep.next_timeout();
                    last_scan = Some(now);
                    dirty = false;
                }
                let rescan_at = if dirty {
                    last_scan.map(|t| t + RESCAN)
                } else {
                    None
                };
                let wake = match (deadline, rescan_at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                let sleep_until = wake.map(tokio::time::Instant::from_std);
                tokio::select! {
                    r = udp.recv_from(&mut buf) => {
                        if let Ok((n, from)) = r {
                            ep.handle(&buf[..n], Peer { addr: from, reliable: false }, Instant::now());
                        }
                    }
                    Some(from_tcp) = in_rx.recv() => match from_tcp {
                        FromTcp::Message(msg, peer) => ep.handle(&msg, peer, Instant::now()),
                        FromTcp::Accepted(peer, tx) => { tcp_peers.out.insert(peer, tx); }
                        FromTcp::Closed(peer) => {
                            if tcp_peers.out.get(&peer).is_some_and(|t| t.is_closed()) {
                                tcp_peers.out.remove(&peer);
                            }
                        }
                    },
                    cmd = cmd_rx.recv() => {
                        let now = Instant::now();
                        match cmd {
                            None => break,
                            Some(Command::Answer { call_id, sdp }) => { ep.answer(&call_id, &sdp, now); }
                            Some(Command::Reject { call_id, status, reason, extra_headers }) => ep.reject(&call_id, status, &reason, &extra_headers, now),
                            Some(Command::Hangup { call_id }) => ep.hangup(&call_id, now),
                            Some(Command::Ring { call_id }) => ep.ring(&call_id, now),
                            Some(Command::Respond { key, status, reason, extra_headers }) => ep.respond(&key, status, &reason, &extra_headers, now),
                            Some(Command::NotifyCheckSync { target }) => ep.notify_check_sync(&target, now),
                            Some(Command::SetRefusing(r)) => ep.set_refusing(r),
                            Some(Command::Register { cfg, registrar, tcp }) => ep.register(cfg, Peer { addr: registrar, reliable: tcp }, now),
                            Some(Command::UnregisterAll) => ep.unregister_all(now),
                            Some(Command::SetRoutePoint { dns, max_calls }) => ep.set_route_point(dns, max_calls),
                            Some(Command::Tables(tx)) => { let _ = tx.send(ep.table_sizes()); }
                            Some(Command::TcpConnections(tx)) => { let _ = tx.send(tcp_peers.out.len()); }
                        }
                    }
                    _ = async { match sleep_until { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending::<()>().await } } => {
                        let now = Instant::now();
                        if deadline.is_some_and(|t| t <= now) {
                            ep.handle_timeout(now);
                            // Timers changed: look again now.
                            last_scan = None;
                        }
                    }
                }
                // Whatever woke the loop may have armed or disarmed a timer.
                dirty = true;
                while let Some(o) = ep.poll_output() {
                    match o {
                        Output::Send { to, data } if to.reliable => tcp_peers.send(to.addr, data),
                        Output::Send { to, data } => {
                            let _ = udp.send_to(&data, to.addr).await;
                        }
                        Output::Event(e) => {
                            let _ = events.send(e);
                        }
                    }
                }
            }
        });
        Ok(SipStack {
            local,
            commands: cmd_tx,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn tcp_connections(stack: &SipStack) -> usize {
        let (tx, rx) = tokio::sync::oneshot::channel();
        stack.commands.send(Command::TcpConnections(tx)).unwrap();
        rx.await.unwrap()
    }

    /// Poll (bounded) until the stack knows `n` TCP connections; the last count seen.
    async fn until_connections(stack: &SipStack, n: usize) -> usize {
        for _ in 0..200 {
            if tcp_connections(stack).await == n {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        tcp_connections(stack).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closed_tcp_connections_leave_nothing_in_the_stacks_table() {
        let cfg = EndpointConfig {
            advertised: String::new(),
            listen: None,
            user_agent: "t".into(),
            route_point_dns: vec!["2000".into()],
            max_calls: 1,
            timers: Default::default(),
        };
        let (tx, _rx) = mpsc::unbounded_channel();
        let stack = SipStack::start("127.0.0.1:0".parse().unwrap(), cfg, tx)
            .await
            .unwrap();
        for _round in 0..5 {
            let mut conns = Vec::new();
            // Under the default cap of 64 from one address.
            for _ in 0..60 {
                conns.push(TcpStream::connect(stack.local).await.unwrap());
            }
            assert_eq!(until_connections(&stack, 60).await, 60);
            drop(conns);
            assert_eq!(
                until_connections(&stack, 0).await,
                0,
                "closed connections kept"
            );
        }
    }

    #[test]
    fn tcp_framing_by_content_length() {
        assert_eq!(
            tcp_frame(b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 3\r\n\r\nabcNEXT"),
            Ok(Some(47))
        );
        assert_eq!(
            tcp_frame(b"OPTIONS sip:x SIP/2.0\r\nl: 3\r\n\r\nab"),
            Ok(None)
        );
        assert_eq!(
            tcp_frame(b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 99999\r\n\r\n"),
            Err("message larger than 64 KiB")
        );
        assert_eq!(
            tcp_frame(b"OPTIONS sip:x SIP/2.0\r\nContent-Length: x\r\n\r\n"),
            Err("bad Content-Length")
        );
    }
}
