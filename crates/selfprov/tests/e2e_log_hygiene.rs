//! What a stranger sends cannot forge or flood the log: a Call-ID with a terminal escape, a bell
//! and a NUL is logged escaped, and after a burst of mutated requests (debug level) no line of
//! the service's log carries a control character or an unbounded value.

mod common;

use common::*;
use std::net::UdpSocket;
use std::time::Duration;

/// An INVITE to the route point offering only a codec nobody has (refused with 488, logged with
/// its Call-ID). It comes as from a trusted proxy asserting the caller, so the call gets past the
/// caller's identification (no digest challenge) to codec negotiation.
fn invite(s: &Service, from_port: u16, call_id: &str) -> Vec<u8> {
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 99\r\na=rtpmap:99 X-NONE/8000\r\n";
    raw_invite(s, from_port, "SEP0011223344FE", call_id, sdp).into_bytes()
}

/// xorshift: the same mutations every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn hostile_values_are_logged_escaped_and_no_line_carries_a_control_character() {
    let s = config("e2e-log-hygiene");
    s.edit("level = \"info\"", "level = \"debug\"");
    // The test's socket plays a proxy selfprov trusts (see `invite`).
    trust_this_host(&s);
    let (_service, err) = start_service(&s);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let port = sock.local_addr().unwrap().port();
    let target = ("127.0.0.1", s.sip_port);

    // A Call-ID that would repaint an operator's terminal and ring its bell.
    sock.send_to(&invite(&s, port, "evil\u{1b}[2J\u{7}\u{0}x@h"), target)
        .unwrap();
    let line = err
        .wait_for("refusing call: 488", Duration::from_secs(20))
        .expect("the refusal is logged");
    assert!(line.contains(r"evil\u{1b}[2J\u{7}\u{0}x@h"), "{line:?}");

    // A burst of mutated requests: control characters and long runs spliced into the INVITE.
    let mut rng = Rng(0x5e1f_9a0c);
    for i in 0..300 {
        let mut m = invite(&s, port, &format!("fuzz-{i}@h"));
        for _ in 0..(rng.next() % 4 + 1) {
            let at = (rng.next() as usize) % m.len();
            match rng.next() % 3 {
                0 => m[at] = (rng.next() % 32) as u8,
                1 => m
                    .splice(at..at, std::iter::repeat_n(b'A', 5000))
                    .for_each(drop),
                _ => m
                    .splice(at..at, [0x1b, b'[', b'2', b'J', 0x07])
                    .for_each(drop),
            }
        }
        sock.send_to(&m, target).unwrap();
    }
    // A last well-formed request, answered: the burst has been read by then.
    sock.send_to(&invite(&s, port, "last@h"), target).unwrap();
    assert!(err
        .wait_for_match(
            |l| l.contains("refusing call: 488") && l.contains("last@h"),
            Duration::from_secs(30)
        )
        .is_some());

    let lines = err.lines();
    for l in &lines {
        assert!(
            !l.chars().any(char::is_control),
            "control character in {l:?}"
        );
        assert!(l.len() < 16 * 1024, "a {} byte line", l.len());
    }
    assert!(lines.len() > 5, "{lines:?}");
}
