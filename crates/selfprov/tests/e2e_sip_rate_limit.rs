//! Per-source SIP request rate limits against the running service (issue 13, item 2;
//! docs/security.md): a REGISTER flood from one address gets `503` + `Retry-After` up to ten times
//! its rate, then no answer; its other requests, a phone on another address and the trusted proxy
//! are served meanwhile; the refusal is logged once, in a line the shipped fail2ban filter bans;
//! `selfprov_sip_rate_limited_total` counts it.

mod common;

use common::*;
use std::net::UdpSocket;
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn request(s: &Service, sock: &UdpSocket, method: &str, n: u32) -> Vec<u8> {
    let local = sock.local_addr().unwrap();
    format!(
        "{method} sip:127.0.0.1:{port} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-{port_here}-{n}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:SEP00000000F100@127.0.0.1>;tag=f{n}\r\n\
         To: <sip:SEP00000000F100@127.0.0.1>\r\n\
         Call-ID: flood-{n}@{local}\r\n\
         CSeq: 1 {method}\r\n\
         Contact: <sip:SEP00000000F100@{local}>\r\n\
         Expires: 3600\r\n\
         Content-Length: 0\r\n\r\n",
        port = s.sip_port,
        port_here = local.port()
    )
    .into_bytes()
}

/// Every response `sock` receives, as (status line, CSeq method, has Retry-After), on a thread,
/// until the socket has been quiet for `quiet` (an upper bound only: the callers wait for the
/// responses they expect).
fn collect(sock: &UdpSocket) -> mpsc::Receiver<(String, String, bool)> {
    let sock = sock.try_clone().unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = sock.recv(&mut buf) {
            let m = String::from_utf8_lossy(&buf[..n]).into_owned();
            let status = m.lines().next().unwrap_or("").to_owned();
            let method = m
                .lines()
                .find_map(|l| l.strip_prefix("CSeq: 1 "))
                .unwrap_or("")
                .to_owned();
            if tx
                .send((status, method, m.contains("\r\nRetry-After: ")))
                .is_err()
            {
                break;
            }
        }
    });
    rx
}

#[test]
fn a_register_flood_gets_503_then_silence_while_others_are_served() {
    let s = config("e2e-sip-rate");
    s.edit("rate_limit_register = 10", "rate_limit_register = 2");
    s.edit("rate_limit_burst = \"10s\"", "rate_limit_burst = \"5s\"");
    s.edit(
        "# trusted_proxies = [\"192.0.2.10\"]",
        "trusted_proxies = [\"127.0.0.5\"]",
    );
    let (_service, err) = start_service(&s);
    let target = format!("127.0.0.1:{}", s.sip_port);

    // 2,000 REGISTERs from 127.0.0.2 as fast as it can send, then an OPTIONS from the same socket.
    let flood = UdpSocket::bind("127.0.0.2:0").unwrap();
    let responses = collect(&flood);
    let t0 = Instant::now();
    for n in 0..2000 {
        flood
            .send_to(&request(&s, &flood, "REGISTER", n), &target)
            .unwrap();
    }
    flood
        .send_to(&request(&s, &flood, "OPTIONS", 9999), &target)
        .unwrap();
    // The OPTIONS is answered after every 503 (both come from the SIP task, in order).
    let mut got = Vec::new();
    while !got
        .iter()
        .any(|(_, m, _): &(String, String, bool)| m == "OPTIONS")
    {
        got.push(
            responses
                .recv_timeout(Duration::from_secs(10))
                .expect("the OPTIONS is answered"),
        );
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let options = got.iter().find(|(_, m, _)| m == "OPTIONS").unwrap();
    assert!(options.0.starts_with("SIP/2.0 200"), "{options:?}");
    let refused: Vec<_> = got
        .iter()
        .filter(|(st, _, _)| st.starts_with("SIP/2.0 503"))
        .collect();
    assert!(!refused.is_empty(), "no 503 in {} responses", got.len());
    assert!(
        refused.iter().all(|(_, m, ra)| m == "REGISTER" && *ra),
        "503 without Retry-After"
    );
    // At most the burst (2/s × 5 s) and the rate went on to the registrar, at most 9 × the rate
    // a second were answered 503, the rest dropped.
    let seconds = elapsed.ceil() + 1.0;
    let challenged = got
        .iter()
        .filter(|(st, _, _)| st.starts_with("SIP/2.0 401"))
        .count();
    assert!(
        challenged as f64 <= 10.0 + 2.0 * seconds,
        "{challenged} REGISTERs passed"
    );
    assert!(
        refused.len() as f64 <= 18.0 * seconds,
        "{} answered 503",
        refused.len()
    );

    // Logged once, in a line the shipped fail2ban filter bans 127.0.0.2 for.
    let line = err
        .wait_for("rate limit exceeded", Duration::from_secs(5))
        .expect("the refusal is logged");
    assert!(line.contains("method=REGISTER"), "{line}");
    assert_eq!(fail2ban_host(&line).as_deref(), Some("127.0.0.2"), "{line}");
    let logged = err
        .lines()
        .iter()
        .filter(|l| l.contains("rate limit exceeded"))
        .count();
    assert_eq!(logged, 1, "one line per source, method and minute");

    // A phone on another address, and the trusted proxy with 50 at once, are challenged as usual.
    for (from, count) in [("127.0.0.1", 1), ("127.0.0.5", 50)] {
        let sock = UdpSocket::bind(format!("{from}:0")).unwrap();
        let rx = collect(&sock);
        for n in 0..count {
            sock.send_to(&request(&s, &sock, "REGISTER", n), &target)
                .unwrap();
        }
        for _ in 0..count {
            let (st, _, _) = rx.recv_timeout(Duration::from_secs(10)).expect("an answer");
            assert!(st.starts_with("SIP/2.0 401"), "{from}: {st}");
        }
    }

    let answered = metric(
        &s,
        "selfprov_sip_rate_limited_total{method=\"REGISTER\",action=\"503\"}",
    );
    let dropped = metric(
        &s,
        "selfprov_sip_rate_limited_total{method=\"REGISTER\",action=\"dropped\"}",
    );
    assert!(answered >= refused.len() as f64, "{answered}");
    assert!(dropped >= 1.0 && answered + dropped <= 2000.0, "{dropped}");
}
