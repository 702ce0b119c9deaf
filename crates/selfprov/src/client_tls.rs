//! `--url https://…`: which certificates the command line trusts. A remote service's certificate
//! is checked against certificate authorities (`--ca-file`, else the system's bundle) and its
//! name; the local service (`status`, `registrations` without --url) is trusted when it shows
//! exactly the certificate its configuration names, whatever the address it is reached at.

use anyhow::{anyhow, bail, Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Debian's bundle of the authorities the system trusts (package ca-certificates).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Which server certificates to accept.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Signed by an authority in this PEM file (the system's bundle when `None`), for the
    /// URL's host name.
    Authorities(Option<PathBuf>),
    /// Exactly the first certificate of this PEM file.
    Pinned(PathBuf),
}

fn certificates(file: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(file)
        .and_then(|it| it.collect::<Result<_, _>>())
        .with_context(|| format!("reading certificates from {}", file.display()))?;
    if certs.is_empty() {
        bail!("{}: no CERTIFICATE block in the file", file.display());
    }
    Ok(certs)
}

/// The client configuration for `trust`.
pub fn client_config(trust: &Trust) -> Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| anyhow!("TLS: {e}"))?;
    let config = match trust {
        Trust::Authorities(file) => {
            let file = file.clone().unwrap_or_else(|| PathBuf::from(SYSTEM_BUNDLE));
            let mut roots = rustls::RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(certificates(&file)?);
            if added == 0 {
                bail!("{}: no usable certificate authority", file.display());
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::Pinned(file) => {
            let certificate = certificates(file)?.swap_remove(0);
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pinned {
                    certificate,
                    algorithms,
                }))
                .with_no_client_auth()
        }
    };
    Ok(Arc::new(config))
}

/// The name the server's certificate is checked for (a DNS name or an IP address).
pub fn server_name(host: &str) -> Result<ServerName<'static>> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|_| anyhow!("`{host}` is not a host name"))
}

/// Accepts exactly one certificate (signatures are still checked: the server holds its key).
#[derive(Debug)]
struct Pinned {
    certificate: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.certificate.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the service shows another certificate than admin.tls_certificate".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
