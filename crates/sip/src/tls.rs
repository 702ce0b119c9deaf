//! TLS for SIP (RFC 3261 §26.2, RFC 5630) and for the service's HTTPS listeners: the server
//! certificate in use (replaced at SIGHUP: new connections take the new one, open ones keep
//! theirs), the handshake of an accepted connection bounded in time, and the client side SIP uses
//! to reach a `sips:`/`;transport=tls` peer — its certificate checked against the system's
//! authorities and a configured CA file, for the peer's IP address (the sans-I/O endpoint
//! addresses peers by IP address only, so the certificate must carry that address as a SAN).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ServerConfig};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpStream;

/// How long a peer has to finish the TLS handshake (either side).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Debian's bundle of the authorities the system trusts (package ca-certificates).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A server configuration from a certificate chain and its private key (PEM files), TLS 1.2 and
/// 1.3, no ALPN; the error names the file and what is wrong.
pub fn server_config(certificate: &Path, private_key: &Path) -> Result<ServerConfig, String> {
    let cert_file = certificate.display();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certificate)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("TLS certificate {cert_file}: {e}"))?;
    if chain.is_empty() {
        return Err(format!(
            "TLS certificate {cert_file}: no CERTIFICATE block in the file"
        ));
    }
    let key = PrivateKeyDer::from_pem_file(private_key)
        .map_err(|e| format!("TLS private key {}: {e}", private_key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            format!(
                "TLS certificate {cert_file} with key {}: {e}",
                private_key.display()
            )
        })
}

/// The certificate in use; replaced at reload.
pub struct Certificate(RwLock<Arc<ServerConfig>>);

impl Certificate {
    pub fn new(config: Arc<ServerConfig>) -> Arc<Certificate> {
        Arc::new(Certificate(RwLock::new(config)))
    }

    pub fn current(&self) -> Arc<ServerConfig> {
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

/// The TLS handshake of an accepted connection with the certificate in use at this moment, at
/// most `timeout` long; the error says why it failed.
pub async fn accept(
    certificate: &Certificate,
    tcp: TcpStream,
    timeout: Duration,
) -> Result<tokio_rustls::server::TlsStream<TcpStream>, String> {
    let acceptor = tokio_rustls::TlsAcceptor::from(certificate.current());
    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("handshake timed out".into()),
    }
}

/// Open a TLS connection to `addr`, its certificate checked for that IP address.
pub async fn connect(
    client: &Arc<ClientConfig>,
    addr: SocketAddr,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let tcp = tokio::time::timeout(HANDSHAKE_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| "TCP connection timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    let name = ServerName::IpAddress(addr.ip().into());
    let connector = tokio_rustls::TlsConnector::from(client.clone());
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, connector.connect(name, tcp)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("handshake timed out".into()),
    }
}

/// Why a client configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientTrustError {
    #[error("{file}: {why}")]
    CaFile { file: PathBuf, why: String },
    #[error("no certificate authority to trust: neither {SYSTEM_BUNDLE} nor a CA file")]
    NoAuthority,
    #[error("TLS: {0}")]
    Tls(String),
}

/// The client configuration SIP uses to reach peers over TLS: the system's authorities (when
/// its bundle is there) and those of `ca_file` (which must be readable and hold one at least).
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, ClientTrustError> {
    let mut roots = rustls::RootCertStore::empty();
    if let Ok(it) = CertificateDer::pem_file_iter(SYSTEM_BUNDLE) {
        roots.add_parsable_certificates(it.flatten());
    }
    if let Some(file) = ca_file {
        let err = |why: String| ClientTrustError::CaFile {
            file: file.to_owned(),
            why,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(file)
            .and_then(|it| it.collect::<Result<_, _>>())
            .map_err(|e| err(e.to_string()))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(err("no usable CERTIFICATE block in the file".into()));
        }
    }
    if roots.is_empty() {
        return Err(ClientTrustError::NoAuthority);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ClientTrustError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
