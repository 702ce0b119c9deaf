//! SIP over TLS against a real TLS peer (rustls) on loopback, with certificates issued by a test
//! authority: REGISTER and a whole call on one connection (responses come back on it, our
//! Contact says `;transport=tls`), our BYE on the caller's connection, or on a TLS connection we
//! open to a `;transport=tls` record-routed proxy (and not to one whose certificate we do not
//! trust), plain text and silence on the TLS port closed, and the per-source cap applied to TLS
//! as to TCP.

mod common;

use common::{start_with, tls_setup, Seen, WE_HANG_UP};
use rustls::pki_types::ServerName;
use selfprov_sip::endpoint::{Event, Transport};
use selfprov_sip::stack::{Command, SipStack};
use selfprov_sip::tcp_limits::TcpLimits;
use selfprov_sip::tls::{client_config, server_config};
use selfprov_testkit::pki::Authority;
use selfprov_testkit::TempDir;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::client::TlsStream;

const WAIT: Duration = Duration::from_secs(10);

struct Setup {
    _dir: TempDir,
    authority: Authority,
    stack: SipStack,
    seen: Arc<Mutex<Seen>>,
}

impl Setup {
    async fn new(limits: TcpLimits) -> Setup {
        let dir = TempDir::new("sip-tls");
        let (tls, authority) = tls_setup(dir.path());
        let (stack, seen) = start_with(10, limits, Some(tls)).await;
        Setup {
            _dir: dir,
            authority,
            stack,
            seen,
        }
    }

    fn tls_addr(&self) -> SocketAddr {
        self.stack.tls_local.expect("a TLS listener")
    }

    /// A phone's TLS connection to us, trusting our authority.
    async fn connect(&self) -> TlsStream<TcpStream> {
        let client = client_config(Some(&self.authority.certificate)).unwrap();
        let tcp = TcpStream::connect(self.tls_addr()).await.unwrap();
        let name = ServerName::IpAddress(self.tls_addr().ip().into());
        tokio_rustls::TlsConnector::from(client)
            .connect(name, tcp)
            .await
            .unwrap()
    }

    /// Wait (bounded) for an event the application saw.
    async fn event(&self, f: impl Fn(&Event) -> bool) -> Event {
        let until = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(e) = Seen::snapshot(&self.seen).events.into_iter().find(&f) {
                return e;
            }
            assert!(tokio::time::Instant::now() < until, "event not seen");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Read one SIP message (framed by Content-Length) from `s`.
async fn read_message<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> String {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if buf.len() >= end + 4 + len {
                    let msg: Vec<u8> = buf.drain(..end + 4 + len).collect();
                    return String::from_utf8(msg).unwrap();
                }
            }
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed");
            buf.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("a SIP message in time")
}

/// Read messages until a response with this status line start (`SIP/2.0 200`).
async fn response<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>, start: &str) -> String {
    loop {
        let m = read_message(s, buf).await;
        if m.starts_with(start) {
            return m;
        }
        assert!(m.starts_with("SIP/2.0 1"), "expected {start}: {m}");
    }
}

async fn send<S: AsyncWrite + Unpin>(s: &mut S, text: &str) {
    s.write_all(text.as_bytes()).await.unwrap();
    s.flush().await.unwrap();
}

/// A request from the phone (`to_tag` and `extra` header lines as given).
fn request(
    method: &str,
    ruri: &str,
    call_id: &str,
    cseq: u32,
    to_tag: &str,
    contact: &str,
) -> String {
    request_with(method, ruri, call_id, cseq, to_tag, contact, "")
}

fn request_with(
    method: &str,
    ruri: &str,
    call_id: &str,
    cseq: u32,
    to_tag: &str,
    contact: &str,
    extra: &str,
) -> String {
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let body = if method == "INVITE" { sdp } else { "" };
    let ctype = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5071;branch=z9hG4bK{call_id}{cseq}{method};rport\r\nMax-Forwards: 70\r\nFrom: <sip:SEP001122334455@127.0.0.1>;tag=ph\r\nTo: <{ruri}>{to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContact: <{contact}>\r\n{extra}{ctype}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn header<'a>(m: &'a str, name: &str) -> &'a str {
    m.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {m}"))
}

fn to_tag(m: &str) -> String {
    let to = header(m, "To");
    format!(";tag={}", to.split(";tag=").nth(1).expect("a To tag"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_and_a_call_over_one_tls_connection() {
    let s = Setup::new(TcpLimits::default()).await;
    let (mut c, mut buf) = (s.connect().await, Vec::new());
    let contact = "sip:SEP001122334455@127.0.0.1:5071;transport=tls";
    // REGISTER: handed up with its transport; the answer comes back on the connection.
    send(
        &mut c,
        &request("REGISTER", "sip:127.0.0.1", "r1", 1, "", contact),
    )
    .await;
    let Event::Register { key, source, .. } =
        s.event(|e| matches!(e, Event::Register { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(source.transport, Transport::Tls);
    s.stack
        .commands
        .send(Command::Respond {
            key,
            status: 200,
            reason: "OK".into(),
            extra_headers: format!("Contact: <{contact}>;expires=60\r\n"),
        })
        .unwrap();
    let ok = response(&mut c, &mut buf, "SIP/2.0 200").await;
    assert!(ok.contains("CSeq: 1 REGISTER"), "{ok}");

    // A call: 100 and 200 on this connection; our Contact names the TLS listener.
    let ruri = "sip:2000@127.0.0.1";
    send(&mut c, &request("INVITE", ruri, "c1", 1, "", contact)).await;
    let ok = response(&mut c, &mut buf, "SIP/2.0 200").await;
    let port = s.tls_addr().port();
    assert_eq!(
        header(&ok, "Contact"),
        format!("<sip:selfprov@127.0.0.1:{port};transport=tls>")
    );
    let Event::IncomingCall { source, .. } =
        s.event(|e| matches!(e, Event::IncomingCall { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(source.transport, Transport::Tls);
    let tag = to_tag(&ok);
    send(&mut c, &request("ACK", ruri, "c1", 1, &tag, contact)).await;
    s.event(|e| matches!(e, Event::CallConfirmed { .. })).await;
    send(&mut c, &request("BYE", ruri, "c1", 2, &tag, contact)).await;
    let ok = response(&mut c, &mut buf, "SIP/2.0 200").await;
    assert!(ok.contains("CSeq: 2 BYE"), "{ok}");
    s.event(|e| matches!(e, Event::CallEnded { .. })).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sips_call_gets_a_sips_contact() {
    let s = Setup::new(TcpLimits::default()).await;
    let (mut c, mut buf) = (s.connect().await, Vec::new());
    let ruri = "sips:2000@127.0.0.1";
    send(
        &mut c,
        &request("INVITE", ruri, "c1", 1, "", "sips:ph@127.0.0.1:5071"),
    )
    .await;
    let ok = response(&mut c, &mut buf, "SIP/2.0 200").await;
    let port = s.tls_addr().port();
    assert_eq!(
        header(&ok, "Contact"),
        format!("<sips:selfprov@127.0.0.1:{port}>")
    );
}

/// A proxy's TLS listener with a certificate of `authority` for 127.0.0.1; the first request
/// that arrived on its first connection (answered 200), or the handshake's error.
async fn proxy_listener(
    authority: &Authority,
) -> (SocketAddr, tokio::task::JoinHandle<Result<String, String>>) {
    let proxy = authority.issue("proxy", "127.0.0.1");
    let config = Arc::new(server_config(&proxy.certificate, &proxy.key).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = tokio_rustls::TlsAcceptor::from(config)
            .accept(tcp)
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        let req = read_message(&mut tls, &mut buf).await;
        let ok = format!(
            "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
            header(&req, "Via"),
            header(&req, "From"),
            header(&req, "To"),
            header(&req, "Call-ID"),
            header(&req, "CSeq")
        );
        send(&mut tls, &ok).await;
        Ok(req)
    });
    (addr, task)
}

/// A call to the DN we hang up on (`extra`: its Record-Route, if any), ACKed; the caller's
/// connection and what is left unread on it.
async fn call_we_hang_up(s: &Setup, extra: &str) -> (TlsStream<TcpStream>, Vec<u8>) {
    let (mut c, mut buf) = (s.connect().await, Vec::new());
    let ruri = format!("sip:{WE_HANG_UP}@127.0.0.1");
    let contact = "sip:ph@127.0.0.1:5071;transport=tls";
    send(
        &mut c,
        &request_with("INVITE", &ruri, "h1", 1, "", contact, extra),
    )
    .await;
    let ok = response(&mut c, &mut buf, "SIP/2.0 200").await;
    send(
        &mut c,
        &request("ACK", &ruri, "h1", 1, &to_tag(&ok), contact),
    )
    .await;
    (c, buf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_route_set_our_bye_comes_back_on_the_callers_connection() {
    let s = Setup::new(TcpLimits::default()).await;
    let (mut c, mut buf) = call_we_hang_up(&s, "").await;
    let bye = read_message(&mut c, &mut buf).await;
    assert!(
        bye.starts_with("BYE sip:ph@127.0.0.1:5071;transport=tls SIP/2.0"),
        "{bye}"
    );
    let port = s.tls_addr().port();
    assert!(
        bye.contains(&format!("Via: SIP/2.0/TLS 127.0.0.1:{port};")),
        "{bye}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_bye_opens_a_tls_connection_to_a_transport_tls_route() {
    let s = Setup::new(TcpLimits::default()).await;
    let (proxy, task) = proxy_listener(&s.authority).await;
    let rr = format!("Record-Route: <sip:{proxy};transport=tls;lr>\r\n");
    let _c = call_we_hang_up(&s, &rr).await;
    let bye = tokio::time::timeout(WAIT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        bye.starts_with("BYE sip:ph@127.0.0.1:5071;transport=tls SIP/2.0"),
        "{bye}"
    );
    assert!(
        bye.contains(&format!("Route: <sip:{proxy};transport=tls;lr>")),
        "{bye}"
    );
    let port = s.tls_addr().port();
    assert!(
        bye.contains(&format!("Via: SIP/2.0/TLS 127.0.0.1:{port};")),
        "{bye}"
    );
    // Its 200 ends our client transaction.
    assert_eq!(common::drained(&s.stack).await, (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_bye_is_not_sent_to_a_peer_whose_certificate_we_do_not_trust() {
    let s = Setup::new(TcpLimits::default()).await;
    let stranger = Authority::new(s._dir.path(), "stranger");
    let (proxy, task) = proxy_listener(&stranger).await;
    let rr = format!("Record-Route: <sip:{proxy};transport=tls;lr>\r\n");
    let _c = call_we_hang_up(&s, &rr).await;
    let got = tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    let why = got.expect_err("the handshake must fail");
    assert!(why.contains("UnknownCA"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_text_on_the_tls_port_gets_no_answer_and_the_port_still_works() {
    let s = Setup::new(TcpLimits::default()).await;
    let mut plain = TcpStream::connect(s.tls_addr()).await.unwrap();
    let options = request(
        "OPTIONS",
        "sip:2000@127.0.0.1",
        "o1",
        1,
        "",
        "sip:x@127.0.0.1",
    );
    plain.write_all(options.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(WAIT, plain.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the connection is closed");
    assert!(
        !String::from_utf8_lossy(&got).contains("SIP/2.0"),
        "no SIP answer in plain text"
    );
    let (mut c, mut buf) = (s.connect().await, Vec::new());
    send(&mut c, &options).await;
    response(&mut c, &mut buf, "SIP/2.0 200").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_tls_connections_are_closed_after_the_idle_timeout() {
    let s = Setup::new(TcpLimits {
        idle_timeout: Duration::from_secs(1),
        ..TcpLimits::default()
    })
    .await;
    // One that never starts the handshake, one that says nothing after it.
    let mut raw = TcpStream::connect(s.tls_addr()).await.unwrap();
    let mut tls = s.connect().await;
    let started = std::time::Instant::now();
    let mut sink = Vec::new();
    tokio::time::timeout(WAIT, raw.read_to_end(&mut sink))
        .await
        .expect("closed before the handshake")
        .ok();
    let n = tokio::time::timeout(WAIT, tls.read(&mut [0u8; 16]))
        .await
        .expect("closed after the handshake");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_source_cap_counts_tls_connections() {
    let s = Setup::new(TcpLimits {
        per_source: 2,
        ..TcpLimits::default()
    })
    .await;
    let _a = s.connect().await;
    let _b = s.connect().await;
    let tcp = TcpStream::connect(s.tls_addr()).await.unwrap();
    let name = ServerName::IpAddress(s.tls_addr().ip().into());
    let client = client_config(Some(&s.authority.certificate)).unwrap();
    let third = tokio::time::timeout(
        WAIT,
        tokio_rustls::TlsConnector::from(client).connect(name, tcp),
    )
    .await
    .expect("refused at once");
    assert!(
        third.is_err(),
        "a third connection from one address is closed"
    );
}
