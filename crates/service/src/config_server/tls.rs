//! HTTPS for the configuration server: rustls with the configured certificate chain and key,
//! read again at SIGHUP (a renewed certificate needs no restart; connections already open keep
//! the one they started with). HTTP/1.1, as phones speak it; TLS 1.2 and 1.3.

use super::ConfigServer;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use selfprov_config::TlsFiles;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Read a certificate chain and its private key; the error names the file and what is wrong.
pub fn load(files: &TlsFiles) -> Result<Arc<ServerConfig>, String> {
    let cert_file = files.certificate.display();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.certificate)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("TLS certificate {cert_file}: {e}"))?;
    if chain.is_empty() {
        return Err(format!(
            "TLS certificate {cert_file}: no CERTIFICATE block in the file"
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.private_key)
        .map_err(|e| format!("TLS private key {}: {e}", files.private_key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            format!(
                "TLS certificate {cert_file} with key {}: {e}",
                files.private_key.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The certificate in use; replaced at reload.
pub struct Certificate(RwLock<Arc<ServerConfig>>);

impl Certificate {
    pub fn new(config: Arc<ServerConfig>) -> Arc<Certificate> {
        Arc::new(Certificate(RwLock::new(config)))
    }

    fn current(&self) -> Arc<ServerConfig> {
        match self.0.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Take a newly read certificate into use for new connections.
    pub fn replace(&self, config: Arc<ServerConfig>) {
        match self.0.write() {
            Ok(mut c) => *c = config,
            Err(p) => *p.into_inner() = config,
        }
    }
}

impl ConfigServer {
    /// Bind the HTTPS listener; the bound address and the serving future.
    pub async fn bind_tls(
        self: &Arc<Self>,
        addr: SocketAddr,
        certificate: Arc<Certificate>,
    ) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()>)> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let app = self.router();
        Ok((local, async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of descriptors and the like: say so, give the system a moment.
                        tracing::warn!(error = %e, "configuration server (HTTPS): accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let acceptor = tokio_rustls::TlsAcceptor::from(certificate.current());
                let app = app.clone();
                tokio::spawn(async move {
                    let stream =
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        };
                    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                        req.extensions_mut().insert(ConnectInfo(peer));
                        app.clone().oneshot(req)
                    });
                    if let Err(e) = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        tracing::debug!(%peer, error = %e, "HTTPS connection ended");
                    }
                });
            }
        }))
    }
}
