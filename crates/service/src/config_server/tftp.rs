//! The configuration server over TFTP, for phones that speak nothing else (Cisco phones by
//! default). The same files and the same rules as over HTTP — but TFTP has no authentication, so
//! a file with a secret goes out only as a new phone's first fetch within the window; any other
//! request for one is refused with "access violation" (fetch it over HTTP with credentials).
//! Each transfer runs on its own socket (its TID, RFC 1350 §4), driven by
//! [`selfprov_tftp::Transfer`].

use super::fetch::{Reply, Request};
use super::ConfigServer;
use selfprov_tftp::{ErrorCode, Packet, Step, Transfer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;

/// Transfers at once; more requests wait for a slot (a boot storm queues, memory stays bounded).
const MAX_TRANSFERS: usize = 512;

/// Bind the TFTP listener; the bound address and the serving future.
pub async fn bind(
    server: Arc<ConfigServer>,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()>)> {
    let sock = UdpSocket::bind(addr).await?;
    let local = sock.local_addr()?;
    let slots = Arc::new(Semaphore::new(MAX_TRANSFERS));
    Ok((local, async move {
        let mut buf = vec![0u8; 2048];
        loop {
            let (n, peer) = match sock.recv_from(&mut buf).await {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "TFTP receive failed");
                    continue;
                }
            };
            match Packet::parse(&buf[..n]) {
                Ok(Packet::Read(req)) => {
                    let (server, slots) = (server.clone(), slots.clone());
                    tokio::spawn(async move {
                        let Ok(_slot) = slots.acquire_owned().await else {
                            return;
                        };
                        if let Err(e) = transfer(server, local, peer, req).await {
                            tracing::debug!(%peer, error = %e, "TFTP transfer socket failed");
                        }
                    });
                }
                Ok(Packet::Write) => {
                    let _ = sock
                        .send_to(
                            &Packet::error(ErrorCode::IllegalOperation, "read-only server")
                                .to_bytes(),
                            peer,
                        )
                        .await;
                }
                // Stray acknowledgements and garbage on the listening port are not ours to answer.
                _ => {}
            }
        }
    }))
}

/// Serve one read request from its own socket.
async fn transfer(
    server: Arc<ConfigServer>,
    local: SocketAddr,
    peer: SocketAddr,
    req: selfprov_tftp::ReadRequest,
) -> std::io::Result<()> {
    let sock = UdpSocket::bind(SocketAddr::new(local.ip(), 0)).await?;
    sock.connect(peer).await?;
    let path = format!("/{}", req.filename.trim_start_matches('/'));
    let (srv, p) = (server.clone(), path.clone());
    let reply = tokio::task::spawn_blocking(move || {
        srv.fetch(&Request {
            method: "GET",
            path: &p,
            user_agent: None,
            authorization: None,
            source: peer.ip(),
        })
    })
    .await
    .unwrap_or(Reply::Unavailable);
    let body = match reply {
        Reply::File { body, .. } => body,
        other => {
            let (code, msg) = match other {
                Reply::NotFound => (ErrorCode::FileNotFound, "file not found"),
                Reply::Challenge { .. } => (
                    ErrorCode::AccessViolation,
                    "this file needs the device's credentials: fetch it over HTTP",
                ),
                Reply::TooMany => (
                    ErrorCode::AccessViolation,
                    "too many requests from this address",
                ),
                _ => (ErrorCode::NotDefined, "temporarily unavailable"),
            };
            sock.send(&Packet::error(code, msg).to_bytes()).await?;
            return Ok(());
        }
    };
    let (mut t, first) = Transfer::start(&req, body.into_bytes(), Instant::now());
    sock.send(&first).await?;
    let mut buf = vec![0u8; 2048];
    loop {
        let Some(deadline) = t.deadline() else {
            return Ok(());
        };
        let step = tokio::select! {
            r = sock.recv(&mut buf) => match r {
                Ok(n) => t.on_packet(&buf[..n], Instant::now()),
                // ICMP port unreachable from the client: it is gone.
                Err(_) => return Ok(()),
            },
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => t.on_timeout(Instant::now()),
        };
        match step {
            Step::Send(b) => {
                sock.send(&b).await?;
            }
            Step::Wait => {}
            Step::Done => {
                tracing::debug!(%peer, file = %path, "TFTP transfer done");
                return Ok(());
            }
            Step::Failed(why) => {
                tracing::info!(%peer, file = %path, %why, "TFTP transfer failed");
                return Ok(());
            }
        }
    }
}
