//! The accept loop of every HTTP listener (admin and API, configuration server over HTTP and
//! HTTPS; docs/security.md, "Connection floods"): each connection is admitted under a cap per
//! source address and a cap in all ([`TcpSlots`], shared with SIP over TCP), refused ones are
//! closed at once and logged once a minute per address (`http connection refused source=…`,
//! for fail2ban), and an admitted connection is served HTTP/1.1 with a header read timeout that
//! runs from the moment the server waits for a request: a client that sends its headers too
//! slowly (slowloris), or keeps an idle keep-alive connection, is closed after `idle_timeout`.

use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use selfprov_sip::tcp_limits::{Admission, TcpLimits, TcpSlots};
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// Serve `app` on `listener` (named `listener` in logs) under `limits`. `handshake` turns an
/// admitted TCP connection into the stream HTTP is spoken on (TLS, or the connection itself);
/// `None` ends the connection.
pub async fn serve<S, H, F>(
    listener: TcpListener,
    name: &'static str,
    limits: TcpLimits,
    app: Router,
    handshake: H,
) where
    H: Fn(TcpStream, SocketAddr) -> F + Send + Sync + 'static,
    F: Future<Output = Option<S>> + Send + 'static,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let idle = limits.idle_timeout;
    let slots = TcpSlots::new(limits);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors and the like: say so, give the system a moment.
                tracing::warn!(listener = name, error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let slot = match slots.admit(peer.ip(), Instant::now()) {
            Admission::Admitted(slot) => slot,
            Admission::Refused { log } => {
                if let Some(why) = log {
                    tracing::warn!(source = %peer.ip(), listener = %name, why, "http connection refused");
                }
                continue;
            }
        };
        let stream = handshake(tcp, peer);
        let app = app.clone();
        tokio::spawn(async move {
            let Some(stream) = stream.await else {
                return;
            };
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(req)
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(idle)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, listener = name, error = %e, "HTTP connection ended");
            }
            drop(slot);
        });
    }
}

/// The limits of an HTTP listener from its section's keys (`connection_idle_timeout`,
/// `max_connections_per_source`, `max_connections`); no address is exempt.
pub fn limits(idle: Duration, per_source: u32, total: u32) -> TcpLimits {
    TcpLimits {
        idle_timeout: idle,
        per_source: per_source as usize,
        total: total as usize,
        exempt: Vec::new(),
    }
}

/// Plain HTTP: the TCP connection as it is.
pub async fn plain(tcp: TcpStream, _peer: SocketAddr) -> Option<TcpStream> {
    Some(tcp)
}
