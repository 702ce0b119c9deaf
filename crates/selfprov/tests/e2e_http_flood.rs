//! A slowloris on the HTTP listeners keeps neither administrators nor phones out (issue 13,
//! item 3; docs/security.md): connections from one address beyond the per-source cap are closed
//! as soon as accepted (logged once, in a line the shipped fail2ban filter bans), another address
//! is served meanwhile, and connections that send their headers too slowly, or sit idle between
//! keep-alive requests, are closed after the idle timeout.

mod common;

use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A TCP connection from `from` (any port) to 127.0.0.1:`port`.
fn connect(from: &str, port: u16) -> TcpStream {
    connect_from(from, SocketAddr::from(([127, 0, 0, 1], port))).unwrap()
}

/// The bytes the service sent on `c` before closing it (end of stream or reset), if it closes it
/// within `bound` (an upper bound only: it returns as soon as the connection ends).
fn sent_before_close(c: &mut TcpStream, bound: Duration) -> Option<usize> {
    let t0 = Instant::now();
    c.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let (mut b, mut got) = ([0u8; 1024], 0);
    while t0.elapsed() < bound {
        match c.read(&mut b) {
            Ok(0) => return Some(got),
            Ok(n) => got += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Some(got),
        }
    }
    None
}

fn closed_by_service(c: &mut TcpStream, bound: Duration) -> bool {
    sent_before_close(c, bound).is_some()
}

#[test]
fn a_slowloris_from_one_address_keeps_neither_administrators_nor_phones_out() {
    let s = config("e2e-http-flood");
    for (from, to) in [
        (
            "connection_idle_timeout = \"30s\"",
            "connection_idle_timeout = \"2s\"",
        ),
        (
            "connection_idle_timeout = \"15s\"",
            "connection_idle_timeout = \"2s\"",
        ),
        (
            "max_connections_per_source = 32",
            "max_connections_per_source = 4",
        ),
        (
            "max_connections_per_source = 64",
            "max_connections_per_source = 4",
        ),
    ] {
        s.edit(from, to);
    }
    let (_svc, err) = start_service(&s);
    for (port, listener, path) in [
        (s.admin_port, "admin", "/health"),
        (s.config_port, "config", "/SEP00112233E001.cnf.xml"),
    ] {
        // Four connections from 127.0.0.2, each with half a request's headers, held.
        let mut slow: Vec<TcpStream> = (0..4)
            .map(|_| {
                let mut c = connect("127.0.0.2", port);
                c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
                c
            })
            .collect();
        // The fifth from that address is closed at once: its request gets no answer.
        let mut fifth = connect("127.0.0.2", port);
        let _ = fifth.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(
            sent_before_close(&mut fifth, Duration::from_secs(20)),
            Some(0),
            "{listener}: a fifth connection from 127.0.0.2 was served"
        );
        // Meanwhile another address is served.
        let reply = http_get(port, path);
        assert!(
            reply.lines().next().unwrap_or("").contains(" 200 "),
            "{listener}: {reply}"
        );
        // The slow senders are closed after the idle timeout (2 s).
        for c in &mut slow {
            assert!(
                closed_by_service(c, Duration::from_secs(20)),
                "{listener}: a slow sender was kept"
            );
        }
        // So is a keep-alive connection left idle after its answer.
        let mut idle = connect("127.0.0.1", port);
        idle.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
            .unwrap();
        assert!(
            closed_by_service(&mut idle, Duration::from_secs(20)),
            "{listener}: an idle keep-alive connection was kept"
        );
        // The refusal is logged, in a line the shipped fail2ban filter bans 127.0.0.2 for.
        let tag = format!("listener={listener} ");
        let line = err
            .wait_for_match(
                |l| l.contains("http connection refused") && l.contains(&tag),
                Duration::from_secs(5),
            )
            .unwrap_or_else(|| panic!("{listener}: no refusal logged"));
        assert!(line.contains("from this address"), "{line}");
        assert_eq!(fail2ban_host(&line).as_deref(), Some("127.0.0.2"), "{line}");
    }
}
