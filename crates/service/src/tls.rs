//! The TLS listeners' certificates: HTTPS for the configuration server and the admin listener,
//! and SIP over TLS (`sip.tls_listen`). rustls with the configured certificate chain and key,
//! read again at SIGHUP (a renewed certificate needs no restart; connections already open keep
//! the one they started with; the holder and the handshake are `selfprov_sip::tls`'s). HTTPS
//! speaks HTTP/1.1, as phones do; TLS 1.2 and 1.3.

use rustls::ServerConfig;
use selfprov_config::TlsFiles;
pub use selfprov_sip::tls::Certificate;
use selfprov_sip::tls::HANDSHAKE_TIMEOUT;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;

/// Read an HTTPS listener's certificate chain and private key; the error names the file and
/// what is wrong.
pub fn load(files: &TlsFiles) -> Result<Arc<ServerConfig>, String> {
    let mut config = server_config(files)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Read the SIP-over-TLS listener's certificate chain and private key (no ALPN: SIP phones
/// offer none); the error names the file and what is wrong.
pub fn load_sip(files: &TlsFiles) -> Result<Arc<ServerConfig>, String> {
    server_config(files).map(Arc::new)
}

fn server_config(files: &TlsFiles) -> Result<ServerConfig, String> {
    selfprov_sip::tls::server_config(&files.certificate, &files.private_key)
}

/// The TLS handshake of a connection admitted by a listener, with the certificate in use at
/// this moment; `None` (logged at debug) when it fails or takes longer than 10 s.
pub async fn accept(
    certificate: &Certificate,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    match selfprov_sip::tls::accept(certificate, tcp, HANDSHAKE_TIMEOUT).await {
        Ok(s) => Some(s),
        Err(error) => {
            tracing::debug!(%peer, %error, "TLS handshake failed");
            None
        }
    }
}
