//! The IVR's media can be neither aimed nor hijacked (issue 13, item 4; docs/security.md):
//! a spoofed INVITE, never acknowledged, makes the service send no RTP to the address its SDP
//! names; and a stranger on the caller's own IP address, sending RTP and RFC 4733 digits to a
//! silent caller's port, changes nothing: no digit counts, the media keeps going to the caller.

mod common;

use common::*;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// An INVITE to the route point from `sip` offering PCMU + telephone-event at `rtp`, as from a
/// proxy that asserts the caller: the tests trust this host (`trust_this_host`), so it is answered
/// without a digest challenge — what is tested here is the media, whoever the caller is.
fn invite(s: &Service, sip: &UdpSocket, rtp: SocketAddr, call_id: &str) -> String {
    let port = sip.local_addr().unwrap().port();
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {rport} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n",
        ip = rtp.ip(),
        rport = rtp.port()
    );
    raw_invite(s, port, "SEP00112233AA01", call_id, &sdp)
}

/// The next final response to our INVITE: its text.
fn final_response(sip: &UdpSocket) -> String {
    let mut buf = [0u8; 8192];
    loop {
        let (n, _) = sip.recv_from(&mut buf).expect("a response");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.starts_with("SIP/2.0 2") || text.starts_with("SIP/2.0 4") {
            return text;
        }
    }
}

fn header<'a>(msg: &'a str, name: &str) -> &'a str {
    msg.lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim())
        })
        .unwrap_or_else(|| panic!("no {name} in {msg}"))
}

/// The RTP address of the service's SDP answer.
fn answer_rtp(ok: &str) -> SocketAddr {
    let ip = ok
        .lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 "))
        .expect("c= line");
    let port = ok
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|r| r.split(' ').next())
        .expect("m= line");
    format!("{}:{}", ip.trim(), port).parse().unwrap()
}

fn ack(s: &Service, sip: &UdpSocket, ok: &str, call_id: &str) {
    let port = sip.local_addr().unwrap().port();
    let msg = format!(
        "ACK sip:2000@127.0.0.1:{sport} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-ack-{call_id}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:SEP00112233AA01@127.0.0.1>;tag=caller\r\n\
         To: {to}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 ACK\r\n\
         Content-Length: 0\r\n\r\n",
        sport = s.sip_port,
        to = header(ok, "To")
    );
    sip.send_to(msg.as_bytes(), ("127.0.0.1", s.sip_port))
        .unwrap();
}

fn udp(timeout: Duration) -> UdpSocket {
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    u.set_read_timeout(Some(timeout)).unwrap();
    u
}

/// An RFC 4733 event packet (digit `event`) from SSRC `ssrc`.
fn event_packet(seq: u16, ts: u32, event: u8, end: bool, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 101];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[event, if end { 0x8A } else { 0x0A }, 0x03, 0x20]);
    p
}

fn press(from: &UdpSocket, to: SocketAddr, digit: u8, ts: u32, ssrc: u32) {
    for (i, end) in [false, false, true, true, true].into_iter().enumerate() {
        from.send_to(
            &event_packet(ts as u16 + i as u16, ts, digit, end, ssrc),
            to,
        )
        .unwrap();
    }
}

#[test]
fn a_spoofed_invite_never_acknowledged_sends_no_rtp_and_an_acknowledged_one_does() {
    let s = config("e2e-media-spoof");
    trust_this_host(&s);
    let (_service, _err) = start_service(&s);
    let sip = udp(Duration::from_secs(10));
    // The "victim": the address a spoofed INVITE's SDP names.
    let victim = udp(Duration::from_millis(100));
    let ok = {
        let inv = invite(&s, &sip, victim.local_addr().unwrap(), "spoof-1@t");
        sip.send_to(inv.as_bytes(), ("127.0.0.1", s.sip_port))
            .unwrap();
        final_response(&sip)
    };
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    // The 200 is retransmitted (T1, 2·T1) while the ACK does not come: 1.5 s of a live call
    // during which the service plays (continuous RTP is on), but sends the victim nothing.
    let mut buf = [0u8; 2048];
    let mut retransmissions = 0;
    let t0 = Instant::now();
    while retransmissions < 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no 200 retransmission"
        );
        assert!(
            victim.recv_from(&mut buf).is_err(),
            "RTP sent to an address before the ACK"
        );
        if final_response_nowait(&sip).is_some_and(|r| r.starts_with("SIP/2.0 200")) {
            retransmissions += 1;
        }
    }
    assert!(victim.recv_from(&mut buf).is_err());
    assert_eq!(metric(&s, "selfprov_rtp_packets_sent_total"), 0.0);
    // The real caller acknowledges: media flows.
    ack(&s, &sip, &ok, "spoof-1@t");
    victim
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert!(victim.recv_from(&mut buf).is_ok(), "RTP after the ACK");
}

/// A final response if one is waiting (short wait).
fn final_response_nowait(sip: &UdpSocket) -> Option<String> {
    sip.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut buf = [0u8; 8192];
    let r = sip
        .recv_from(&mut buf)
        .ok()
        .map(|(n, _)| String::from_utf8_lossy(&buf[..n]).into_owned());
    sip.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    r
}

#[test]
fn a_stranger_on_the_callers_ip_cannot_take_a_silent_callers_media_or_digits() {
    let s = config("e2e-media-hijack");
    trust_this_host(&s);
    let (_service, _err) = start_service(&s);
    let sip = udp(Duration::from_secs(10));
    let caller = udp(Duration::from_secs(5));
    let stranger = udp(Duration::from_millis(300));
    let inv = invite(&s, &sip, caller.local_addr().unwrap(), "hijack-1@t");
    sip.send_to(inv.as_bytes(), ("127.0.0.1", s.sip_port))
        .unwrap();
    let ok = final_response(&sip);
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    ack(&s, &sip, &ok, "hijack-1@t");
    let rtp = answer_rtp(&ok);
    let mut buf = [0u8; 2048];
    assert!(caller.recv_from(&mut buf).is_ok(), "the IVR plays");
    // The caller stays silent. The stranger, same IP, another port, sends RTP and digits.
    for (i, d) in [1u8, 2, 3].into_iter().enumerate() {
        press(&stranger, rtp, d, 1000 * (i as u32 + 1), 0xBAD);
    }
    let t0 = Instant::now();
    while metric(&s, "selfprov_rtp_packets_dropped_total") < 15.0 {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the stranger's packets were not dropped"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        metric(&s, "selfprov_dtmf_digits_total{method=\"rfc4733\"}"),
        0.0,
        "a stranger's digit counted"
    );
    assert!(
        stranger.recv_from(&mut buf).is_err(),
        "media went to the stranger"
    );
    // Media still goes to the caller; the caller's own digit counts.
    caller.set_nonblocking(true).unwrap();
    while caller.recv_from(&mut buf).is_ok() {} // what came before
    caller.set_nonblocking(false).unwrap();
    assert!(
        caller.recv_from(&mut buf).is_ok(),
        "media still to the caller"
    );
    press(&caller, rtp, 7, 9000, 0x600D);
    let t0 = Instant::now();
    while metric(&s, "selfprov_dtmf_digits_total{method=\"rfc4733\"}") < 1.0 {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the caller's digit did not count"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
