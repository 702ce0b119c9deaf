//! The tokio driver around [`Endpoint`]: a UDP socket and a TCP listener on one address (and a
//! TLS listener on another, when configured), one task that owns the endpoint (no lock), timers
//! from `next_timeout`, events out on a channel and commands in on another. Connections (TCP and
//! TLS alike) are in [`connections`].

mod connections;

pub use connections::MAX_TCP_MESSAGE;

use crate::endpoint::{Endpoint, EndpointConfig, Event, OutOfDialogTarget, Output, Peer};
use crate::rate_limit::RequestLimits;
use crate::tcp_limits::{TcpLimits, TcpSlots};
use crate::tls::Certificate;
use connections::{accept_loop, Connections};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

/// Receive buffer asked for on the SIP UDP socket.
const SIP_SOCKET_BUFFER: usize = 4 << 20;

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
    /// Report how many TCP and TLS connections the stack knows where to write to (for leak
    /// checks).
    TcpConnections(tokio::sync::oneshot::Sender<usize>),
}

/// Handle of a running stack.
pub struct SipStack {
    pub local: SocketAddr,
    /// The SIP-over-TLS listener's address, when there is one.
    pub tls_local: Option<SocketAddr>,
    pub commands: mpsc::UnboundedSender<Command>,
}

/// SIP over TLS: where to listen, the certificate to show (replaceable at reload), and how to
/// check the certificates of peers we connect to.
#[derive(Clone)]
pub struct TlsSetup {
    pub listen: SocketAddr,
    pub certificate: Arc<Certificate>,
    pub client: Arc<rustls::ClientConfig>,
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
            None,
        )
        .await
    }

    /// [`SipStack::start`] with limits on SIP over TCP and TLS: connections beyond the
    /// per-source or the total cap (one count for both listeners) are closed as soon as
    /// accepted, and any connection idle too long is closed; with per-source request rate limits
    /// (over every transport alike); and with a SIP-over-TLS listener when `tls` is given.
    pub async fn start_with(
        listen: SocketAddr,
        mut cfg: EndpointConfig,
        events: mpsc::UnboundedSender<Event>,
        limits: TcpLimits,
        requests: RequestLimits,
        tls: Option<TlsSetup>,
    ) -> std::io::Result<SipStack> {
        let (udp, tcp) = bind_udp_and_tcp(listen).await?;
        let tls_listener = match &tls {
            Some(t) => Some(TcpListener::bind(t.listen).await?),
            None => None,
        };
        let tls_local = tls_listener
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()?;
        // A burst of REGISTERs and INVITEs (phones after a power cut) must queue, not be dropped
        // and wait 500 ms for a retransmission. The kernel caps this at net.core.rmem_max.
        let _ = socket2::SockRef::from(&udp).set_recv_buffer_size(SIP_SOCKET_BUFFER);
        let local = udp.local_addr()?;
        if cfg.advertised.is_empty() {
            cfg.advertised = local.to_string();
        }
        cfg.listen = Some(local);
        cfg.tls_listen = tls_local;
        let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel::<Command>();
        let (in_tx, mut in_rx) = mpsc::unbounded_channel();
        let mut conns = Connections {
            out: HashMap::new(),
            inbound: in_tx.clone(),
            idle: limits.idle_timeout,
            tls_client: tls.as_ref().map(|t| t.client.clone()),
        };
        let slots = TcpSlots::new(limits);
        if let (Some(listener), Some(t)) = (tls_listener, tls) {
            tokio::spawn(accept_loop(listener, Some(t), slots.clone(), in_tx.clone()));
        }
        tokio::spawn(accept_loop(tcp, None, slots, in_tx));
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
                            ep.handle(&buf[..n], Peer::udp(from), Instant::now());
                        }
                    }
                    Some(from_conn) = in_rx.recv() => {
                        if let Some((msg, peer)) = conns.on_event(from_conn) {
                            ep.handle(&msg, peer, Instant::now());
                        }
                    }
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
                            Some(Command::Register { cfg, registrar, tcp }) => ep.register(cfg, if tcp { Peer::tcp(registrar) } else { Peer::udp(registrar) }, now),
                            Some(Command::UnregisterAll) => ep.unregister_all(now),
                            Some(Command::SetRoutePoint { dns, max_calls }) => ep.set_route_point(dns, max_calls),
                            Some(Command::Tables(tx)) => { let _ = tx.send(ep.table_sizes()); }
                            Some(Command::TcpConnections(tx)) => { let _ = tx.send(conns.out.len()); }
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
                        Output::Send { to, data } if to.reliable() => conns.send(to, data),
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
            tls_local,
            commands: cmd_tx,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpStream;

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
            tls_listen: None,
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
}
