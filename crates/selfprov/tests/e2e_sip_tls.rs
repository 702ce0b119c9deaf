//! A real softphone over SIP TLS: baresip (Debian package, headless) with its account pointed at
//! `sip.tls_listen` (`;transport=tls`), trusting the authority that issued selfprov's
//! certificate. It registers with its digest credentials over TLS, dials the route point, types
//! the ID, PIN and confirmation as RFC 4733 events, is provisioned, and hears the prompts; the
//! IVR's BYE reaches it on its TLS connection. The certificate is renewed at SIGHUP; a phone that
//! does not trust it gets nothing and the service's log says why; a broken one refuses the reload
//! and stops a start, naming the file.

mod common;

use common::baresip_tls;
use common::*;
use rustls::pki_types::ServerName;
use selfprov_testkit::pki::Authority;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

#[test]
fn baresip_over_tls_provisions_itself_and_hears_the_prompts() {
    let s = config("e2e-sip-tls");
    let tls = baresip_tls::enable(&s);
    let tls_port = tls.port;
    let (_svc, err) = start_service(&s);
    assert!(
        ready_line(&err).contains(&format!("sip_tls=127.0.0.1:{tls_port}")),
        "{}",
        ready_line(&err)
    );
    let account = baresip_tls::account(&s, "00000000BA31", tls_port);
    let phone = baresip_tls::start(
        &s.dir.path().join("baresip"),
        &account,
        &format!("sip:2000@127.0.0.1:{tls_port};transport=tls"),
        &tls.authority.certificate,
    );
    phone.provision_as_jsmith();

    // It registered over TLS with its own credentials.
    let regs = cli(&s, &["registrations", "--json"]);
    let reg = regs["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["device"] == "SEP00000000BA31")
        .cloned()
        .unwrap_or_else(|| panic!("not registered: {regs:#}"));
    assert_eq!(
        (reg["transport"].as_str(), reg["auth"].as_str()),
        (Some("tls"), Some("digest")),
        "{reg:#}"
    );
    let d = common::device(&s, "SEP00000000BA31").expect("auto-registered");
    assert_eq!(
        (d["owner"].as_str(), d["dn"].as_str()),
        (Some("jsmith"), Some("1004")),
        "{d}"
    );
    assert_eq!(
        cli(&s, &["audit", "--json", "--kind", "claim"])[0]["code"],
        "SUCCESS"
    );
    // What it heard over the call set up over TLS: the success prompt, and not one never played.
    assert!(phone.pieces_heard_at_the_end("success") >= 4);
    assert!(phone.pieces_heard_at_the_end("account_locked") <= 1);
}

/// SIP over TLS to the service as a phone that checks certificates: an OPTIONS on a TLS
/// connection to `port`, trusting the authority in `ca`; the response's status line, or why the
/// connection failed. (baresip 1.0.0 cannot be that phone: its libre 1.1.0 takes any server
/// certificate, `sip_cafile` or not.)
fn options_over_tls(port: u16, ca: &Path) -> Result<String, String> {
    let config = selfprov_sip::tls::client_config(Some(ca)).map_err(|e| e.to_string())?;
    let name = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    let mut conn = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    let mut sock = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    let options = format!(
        "OPTIONS sip:2000@127.0.0.1:{port};transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5071;branch=z9hG4bKo{port}\r\nMax-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:2000@127.0.0.1>\r\nCall-ID: o{port}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    tls.write_all(options.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    let mut chunk = [0u8; 2048];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tls.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed".into());
        }
        got.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

#[test]
fn the_certificate_is_renewed_at_sighup_a_phone_that_does_not_trust_it_is_refused_and_why_is_logged(
) {
    let s = config("e2e-sip-tls-renew");
    let tls = baresip_tls::enable(&s);
    let (site, files, tls_port) = (&tls.authority, &tls.files, tls.port);
    let (service, err) = start_service(&s);
    assert_eq!(
        options_over_tls(tls_port, &site.certificate).as_deref(),
        Ok("SIP/2.0 200 OK")
    );

    // A renewed certificate from another authority, in the same files; SIGHUP.
    let renewed = Authority::new(s.dir.path(), "renewed");
    let new = renewed.issue("selfprov", "127.0.0.1");
    std::fs::copy(&new.certificate, &files.certificate).unwrap();
    std::fs::copy(&new.key, &files.key).unwrap();
    service.signal(1);
    assert!(err
        .wait_for(
            "SIP over TLS: certificate read again",
            Duration::from_secs(30)
        )
        .is_some());
    assert_eq!(
        options_over_tls(tls_port, &renewed.certificate).as_deref(),
        Ok("SIP/2.0 200 OK")
    );
    // A phone that trusts only the old authority does not get in, and the log says why.
    let refused = options_over_tls(tls_port, &site.certificate).expect_err("not trusted");
    assert!(refused.contains("UnknownIssuer"), "{refused}");
    let why = err
        .wait_for("SIP TLS handshake failed", Duration::from_secs(10))
        .expect("the service logs the failed handshake");
    assert!(why.contains("UnknownCA"), "{why}");

    // A broken certificate refuses the reload, naming the file; the one in use stays.
    std::fs::write(&files.certificate, "not a certificate\n").unwrap();
    service.signal(1);
    let refused = err
        .wait_for("reload refused", Duration::from_secs(30))
        .expect("the reload is refused");
    assert!(
        refused.contains(&files.certificate.display().to_string()),
        "{refused}"
    );
    assert_eq!(
        options_over_tls(tls_port, &renewed.certificate).as_deref(),
        Ok("SIP/2.0 200 OK")
    );

    // And it stops a start, naming the file.
    drop(service);
    let err = failed_start(&s);
    let named = err.wait_for_match(
        |l| l.contains("SIP over TLS") && l.contains(&files.certificate.display().to_string()),
        Duration::from_secs(5),
    );
    assert!(named.is_some(), "{:?}", err.lines());
}
