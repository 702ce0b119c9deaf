//! HTTPS for the configuration server and the admin listener: rustls with the configured
//! certificate chain and key, read again at SIGHUP (a renewed certificate needs no restart;
//! connections already open keep the one they started with). HTTP/1.1, as phones speak it;
//! TLS 1.2 and 1.3.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use selfprov_config::TlsFiles;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpStream;

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

/// The TLS handshake of a connection admitted by a listener, with the certificate in use at
/// this moment; `None` (logged at debug) when it fails or takes longer than 10 s.
pub async fn accept(
    certificate: &Certificate,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let acceptor = tokio_rustls::TlsAcceptor::from(certificate.current());
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}
