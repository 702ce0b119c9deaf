//! SIP in memory, no sockets: how fast the rsip-family parser reads an INVITE, and how many whole
//! calls (INVITE → 100/200, ACK, BYE → 200) the sans-I/O endpoint completes per second.
//!
//! `cargo run --release -p selfprov-bench-sip -- [--calls N]`

use selfprov_sip::endpoint::{Endpoint, EndpointConfig, Output, Peer};
use std::time::Instant;

fn invite(i: usize) -> Vec<u8> {
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
    format!("INVITE sip:2000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{i}i;rport\r\nMax-Forwards: 70\r\nFrom: <sip:SEP001122334455@127.0.0.1>;tag=f{i}\r\nTo: <sip:2000@127.0.0.1>\r\nCall-ID: {i}@bench\r\nCSeq: 1 INVITE\r\nContact: <sip:SEP001122334455@127.0.0.1:5070>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}", sdp.len()).into_bytes()
}

fn in_dialog(i: usize, method: &str, to_tag: &str, cseq: u32) -> Vec<u8> {
    format!("{method} sip:selfprov@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{i}{method}\r\nMax-Forwards: 70\r\nFrom: <sip:SEP001122334455@127.0.0.1>;tag=f{i}\r\nTo: <sip:2000@127.0.0.1>;tag={to_tag}\r\nCall-ID: {i}@bench\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n").into_bytes()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let calls: usize = args
        .windows(2)
        .find(|w| w[0] == "--calls")
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(100_000);

    let msg = invite(1);
    let n = 200_000;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(selfprov_sip::message::parse(std::hint::black_box(&msg)).is_ok());
    }
    let parse_rate = n as f64 / t.elapsed().as_secs_f64();

    let mut ep = Endpoint::new(EndpointConfig {
        advertised: "127.0.0.1:5060".into(),
        listen: None,
        tls_listen: None,
        user_agent: "bench".into(),
        route_point_dns: vec!["2000".into()],
        max_calls: calls + 1,
        timers: Default::default(),
    });
    let peer = Peer::udp("127.0.0.1:5070".parse().unwrap());
    let invites: Vec<Vec<u8>> = (0..calls).map(invite).collect();
    let answer = b"v=0\r\no=selfprov 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\n".to_vec();
    let mut msgs = 0usize;
    let t = Instant::now();
    for (i, inv) in invites.iter().enumerate() {
        let now = Instant::now();
        ep.handle(inv, peer, now);
        ep.answer(&format!("{i}@bench"), &answer, now);
        let mut tag = String::new();
        while let Some(o) = ep.poll_output() {
            if let Output::Send { data, .. } = o {
                if data.starts_with(b"SIP/2.0 200") {
                    let s = String::from_utf8_lossy(&data);
                    tag = s
                        .lines()
                        .find(|l| l.starts_with("To:"))
                        .and_then(|l| l.split("tag=").nth(1))
                        .unwrap_or("")
                        .trim()
                        .to_owned();
                }
            }
        }
        ep.handle(&in_dialog(i, "ACK", &tag, 1), peer, now);
        ep.handle(&in_dialog(i, "BYE", &tag, 2), peer, now);
        while ep.poll_output().is_some() {}
        msgs += 3;
    }
    let el = t.elapsed().as_secs_f64();
    println!("| measure | result |");
    println!("|---|---|");
    println!(
        "| rsip-family parse + framing checks of a 400-byte INVITE | {:.0} msgs/s |",
        parse_rate
    );
    println!("| whole calls through the endpoint (INVITE, answer, ACK, BYE; 3 in, 3 out) | {:.0} calls/s ({:.0} msgs in/s) |", calls as f64 / el, msgs as f64 / el);
    println!("| dialogs left | {} |", ep.active_calls());
}
