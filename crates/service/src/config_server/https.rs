//! The configuration server's HTTPS listener (certificate handling: `crate::tls`).

use super::ConfigServer;
use crate::tls::Certificate;
use selfprov_sip::tcp_limits::TcpLimits;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

impl ConfigServer {
    /// Bind the HTTPS listener; the bound address and the serving future, which admits
    /// connections under `limits` (see `http_listener`) before their TLS handshake.
    pub async fn bind_tls(
        self: &Arc<Self>,
        addr: SocketAddr,
        certificate: Arc<Certificate>,
        limits: TcpLimits,
    ) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()>)> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let handshake = move |tcp: TcpStream, peer: SocketAddr| {
            let certificate = certificate.clone();
            async move { crate::tls::accept(&certificate, tcp, peer).await }
        };
        let app = self.router();
        Ok((
            local,
            crate::http_listener::serve(listener, "config-tls", limits, app, handshake),
        ))
    }
}
