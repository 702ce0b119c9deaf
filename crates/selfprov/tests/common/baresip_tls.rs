//! baresip over SIP TLS: the service's configuration with `sip.tls_listen` and a certificate a
//! test authority issued for 127.0.0.1, baresip's account pointed at the TLS listener
//! (`;transport=tls`), and baresip trusting a given authority (`sip_cafile`).

use super::baresip::{self, Baresip};
use super::Service;
use selfprov_testkit::free_tcp_port;
use selfprov_testkit::pki::{Authority, Issued};
use std::path::Path;

/// SIP over TLS in a service's configuration.
pub struct SipTls {
    /// The authority that issued the certificate.
    pub authority: Authority,
    /// The certificate and key files the configuration names.
    pub files: Issued,
    pub port: u16,
}

/// Turn SIP over TLS on in `s`'s configuration, with a certificate for 127.0.0.1 issued by a new
/// authority.
pub fn enable(s: &Service) -> SipTls {
    let authority = Authority::new(s.dir.path(), "site");
    let ours = authority.issue("selfprov", "127.0.0.1");
    let port = free_tcp_port();
    let listen = format!("listen = \"127.0.0.1:{}\"", s.sip_port);
    s.edit(
        &listen,
        &format!(
            "{listen}\ntls_listen = \"127.0.0.1:{port}\"\ntls_certificate = \"{}\"\ntls_private_key = \"{}\"",
            ours.certificate.display(),
            ours.key.display()
        ),
    );
    SipTls {
        authority,
        files: ours,
        port,
    }
}

/// The account line baresip fetches from the configuration server, pointed at the TLS
/// listener on `port` (`;transport=tls` instead of UDP).
pub fn account(s: &Service, mac: &str, port: u16) -> String {
    let line = baresip::fetched_account(s, mac, ";audio_codecs=PCMU");
    let udp = format!("@127.0.0.1:{};transport=udp>", s.sip_port);
    assert!(line.contains(&udp), "{line}");
    line.replace(&udp, &format!("@127.0.0.1:{port};transport=tls>"))
}

/// Start baresip (PCMU) with `account`, trusting the authority in `ca`, dialling `dial` (a full
/// URI: baresip completes a bare number without the account's transport).
pub fn start(dir: &Path, account: &str, dial: &str, ca: &Path) -> Baresip {
    // `start_with_codec` writes its module as one line of baresip's configuration: the TLS
    // setting goes on the line after it.
    let module = format!("g711.so\nsip_cafile {}", ca.display());
    baresip::start_with_codec(dir, account, dial, 8000, &module)
}
