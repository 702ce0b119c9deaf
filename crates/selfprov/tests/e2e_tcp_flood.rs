//! A flood of SIP/TCP connections takes nothing from phones (issue 13, item 3): 5,000 connections
//! held from one address get no more than the per-source cap of the service's descriptors, a call
//! over TCP (through the trusted proxy's address) completes meanwhile, the refusal is logged once
//! for fail2ban, and the idle timeout closes what was admitted, giving every descriptor back.

mod common;

use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Read one SIP message from a TCP stream (headers, then Content-Length bytes).
fn read_message(c: &mut TcpStream, buf: &mut Vec<u8>) -> String {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length:").or(l.strip_prefix("l:")))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + len {
                let msg: Vec<u8> = buf.drain(..end + 4 + len).collect();
                return String::from_utf8_lossy(&msg).into_owned();
            }
        }
        let n = c.read(&mut chunk).expect("the service answers");
        assert!(n > 0, "connection closed by the service");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The next final response on the connection, skipping provisional ones and requests.
fn final_response(c: &mut TcpStream, buf: &mut Vec<u8>) -> String {
    loop {
        let m = read_message(c, buf);
        if m.starts_with("SIP/2.0 ") && !m.starts_with("SIP/2.0 1") {
            return m;
        }
    }
}

fn to_header(m: &str) -> &str {
    m.lines()
        .find(|l| l.starts_with("To:"))
        .expect("a To header")
}

#[test]
fn five_thousand_idle_connections_from_one_host_take_nothing_from_phones() {
    let s = config("e2e-tcp-flood");
    trust_this_host(&s);
    s.edit("tcp_idle_timeout = \"5m\"", "tcp_idle_timeout = \"3s\"");
    let (service, err) = start_service(&s);
    let target: SocketAddr = format!("127.0.0.1:{}", s.sip_port).parse().unwrap();
    let pid = service.pid();
    let baseline = open_fds(pid);

    // The flood: 5,000 connections from 127.0.0.2, held open.
    let mut flood = Vec::with_capacity(5000);
    for _ in 0..5000 {
        flood.push(connect_from("127.0.0.2", target).expect("the kernel takes the connection"));
    }
    let line = err
        .wait_for("sip tcp connection refused", Duration::from_secs(10))
        .expect("the refusal is logged");
    assert!(
        line.contains("source=127.0.0.2") && line.contains("from this address"),
        "{line}"
    );
    assert_eq!(fail2ban_host(&line).as_deref(), Some("127.0.0.2"), "{line}");
    let held = open_fds(pid);
    assert!(
        held <= baseline + 64 + 8,
        "the flood holds {} descriptors (baseline {baseline})",
        held - baseline
    );

    // Meanwhile a call over TCP (through the proxy's address) completes.
    let device = "SEP00112233D001";
    phone_password(&s, device); // a new phone: auto-registered at its first fetch
    let mut c = connect_from("127.0.0.1", target).expect("a connection for the phone");
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let port = c.local_addr().unwrap().port();
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let invite = raw_invite(&s, port, device, "tcp-call@t", sdp)
        .replace("SIP/2.0/UDP", "SIP/2.0/TCP")
        .replace(&format!(":{port}>"), &format!(":{port};transport=tcp>"));
    c.write_all(invite.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let ok = final_response(&mut c, &mut buf);
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    let to = to_header(&ok).to_owned();
    let in_dialog = |method: &str, cseq: u32| {
        format!(
            "{method} sip:2000@127.0.0.1:{sp};transport=tcp SIP/2.0\r\n\
             Via: SIP/2.0/TCP 127.0.0.1:{port};branch=z9hG4bK-{method}-tcp\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{device}@127.0.0.1>;tag=caller\r\n\
             {to}\r\n\
             Call-ID: tcp-call@t\r\n\
             CSeq: {cseq} {method}\r\n\
             Content-Length: 0\r\n\r\n",
            sp = s.sip_port
        )
    };
    c.write_all(in_dialog("ACK", 1).as_bytes()).unwrap();
    c.write_all(in_dialog("BYE", 2).as_bytes()).unwrap();
    let bye_ok = final_response(&mut c, &mut buf);
    assert!(
        bye_ok.starts_with("SIP/2.0 200") && bye_ok.contains("BYE"),
        "{bye_ok}"
    );
    drop(c);

    // The idle timeout closes what was admitted; everything else was closed at once.
    let t0 = Instant::now();
    for f in &mut flood {
        f.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    }
    let mut open: Vec<TcpStream> = flood;
    let mut b = [0u8; 16];
    while !open.is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{} flood connections still open after the idle timeout",
            open.len()
        );
        open.retain_mut(|f| match f.read(&mut b) {
            Ok(0) => false,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => true,
            _ => false,
        });
    }
    let t0 = Instant::now();
    while open_fds(pid) > baseline + 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "descriptors not given back: {} (baseline {baseline})",
            open_fds(pid)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
