//! Unit tests of the endpoint: a whole call driven through `handle`, `answer`, `hangup` and the
//! timers, with no sockets and no sleeps.

use super::*;
use std::time::Duration;

pub(super) fn ep() -> Endpoint {
    Endpoint::new(EndpointConfig {
        advertised: "127.0.0.1:5060".into(),
        listen: None,
        tls_listen: None,
        user_agent: "t".into(),
        route_point_dns: vec!["2000".into()],
        max_calls: 10,
        timers: TimerValues::default(),
    })
}

pub(super) fn phone() -> Peer {
    Peer::udp("127.0.0.1:5070".parse().unwrap())
}

fn invite(branch: &str) -> Vec<u8> {
    let sdp = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n";
    format!(
        "INVITE sip:2000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch={branch};rport\r\nFrom: <sip:SEP001122334455@127.0.0.1>;tag=p1\r\nTo: <sip:2000@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:SEP001122334455@127.0.0.1:5070>\r\nP-Asserted-Identity: <sip:1003@127.0.0.1>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
    .into_bytes()
}

pub(super) fn drain(e: &mut Endpoint) -> (Vec<String>, Vec<Event>) {
    let (mut sent, mut evs) = (vec![], vec![]);
    while let Some(o) = e.poll_output() {
        match o {
            Output::Send { data, .. } => sent.push(String::from_utf8_lossy(&data).into_owned()),
            Output::Event(ev) => evs.push(ev),
        }
    }
    (sent, evs)
}

#[test]
fn incoming_call_fields_and_rport_filled() {
    let mut e = ep();
    let now = Instant::now();
    e.handle(&invite("z9hG4bKa"), phone(), now);
    let (sent, evs) = drain(&mut e);
    assert!(sent[0].starts_with("SIP/2.0 100 Trying"));
    assert!(
        sent[0].contains("received=127.0.0.1;rport=5070"),
        "{}",
        sent[0]
    );
    match &evs[0] {
        Event::IncomingCall {
            to_user,
            from_user,
            pai_user,
            contact,
            ..
        } => {
            assert_eq!(to_user, "2000");
            assert_eq!(from_user.as_deref(), Some("SEP001122334455"));
            assert_eq!(pai_user.as_deref(), Some("1003"));
            assert_eq!(
                contact.as_deref(),
                Some("sip:SEP001122334455@127.0.0.1:5070")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_ack_means_bye_after_64_t1_and_tables_empty() {
    let mut e = ep();
    let t0 = Instant::now();
    e.handle(&invite("z9hG4bKb"), phone(), t0);
    drain(&mut e);
    assert!(e.answer("c1", b"v=0\r\n", t0));
    let (sent, _) = drain(&mut e);
    assert!(
        sent[0].starts_with("SIP/2.0 200 OK") && sent[0].contains("Content-Type: application/sdp")
    );
    // 2xx retransmitted on T1 doubling, then BYE at 32 s.
    let mut now = t0;
    let mut retrans = 0;
    let mut bye = None;
    while let Some(t) = e.next_timeout() {
        if t > t0 + Duration::from_secs(120) {
            break;
        }
        now = t;
        e.handle_timeout(now);
        let (sent, evs) = drain(&mut e);
        retrans += sent.iter().filter(|s| s.starts_with("SIP/2.0 200")).count();
        if let Some(b) = sent
            .iter()
            .find(|s| s.starts_with("BYE "))
            .filter(|_| bye.is_none())
        {
            bye = Some((b.clone(), now - t0));
            assert!(evs.contains(&Event::CallEnded {
                call_id: "c1".into(),
                reason: EndReason::AckTimeout
            }));
        }
    }
    let (b, at) = bye.expect("BYE sent");
    assert_eq!(at.as_secs(), 32);
    assert!(
        b.starts_with("BYE sip:SEP001122334455@127.0.0.1:5070 SIP/2.0"),
        "{b}"
    );
    assert!(
        b.contains("To: <sip:SEP001122334455@127.0.0.1>;tag=p1") && b.contains("CSeq: 1 BYE"),
        "{b}"
    );
    assert!(retrans >= 6);
    let _ = now;
    assert_eq!(e.table_sizes(), (0, 0, 0));
}

#[test]
fn our_bye_and_notify_check_sync() {
    let mut e = ep();
    let now = Instant::now();
    e.handle(&invite("z9hG4bKc"), phone(), now);
    e.answer("c1", b"v=0\r\n", now);
    drain(&mut e);
    let ack = "ACK sip:selfprov@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKack\r\nFrom: <sip:SEP001122334455@127.0.0.1>;tag=p1\r\nTo: <sip:2000@127.0.0.1>;tag=x\r\nCall-ID: c1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n";
    e.handle(ack.as_bytes(), phone(), now);
    let (_, evs) = drain(&mut e);
    assert_eq!(
        evs,
        [Event::CallConfirmed {
            call_id: "c1".into()
        }]
    );
    e.hangup("c1", now);
    let (sent, evs) = drain(&mut e);
    assert!(sent[0].starts_with("BYE "));
    assert_eq!(
        evs,
        [Event::CallEnded {
            call_id: "c1".into(),
            reason: EndReason::Local
        }]
    );
    let target = OutOfDialogTarget {
        uri: "sip:SEP001122334455@127.0.0.1:5070".into(),
        route: RouteSet::default(),
        next_hop: phone(),
    };
    e.notify_check_sync(&target, now);
    let (sent, _) = drain(&mut e);
    assert!(sent[0].starts_with("NOTIFY sip:SEP001122334455@127.0.0.1:5070 SIP/2.0"));
    assert!(
        sent[0].contains("Event: check-sync\r\n")
            && sent[0].contains("Subscription-State: terminated")
    );
}

#[test]
fn invite_retransmission_absorbed() {
    let mut e = ep();
    let now = Instant::now();
    e.handle(&invite("z9hG4bKd"), phone(), now);
    let (_, evs) = drain(&mut e);
    assert_eq!(evs.len(), 1);
    e.handle(&invite("z9hG4bKd"), phone(), now);
    let (sent, evs) = drain(&mut e);
    assert!(evs.is_empty(), "no second IncomingCall");
    assert!(sent[0].starts_with("SIP/2.0 100"));
    e.answer("c1", b"v=0\r\n", now);
    drain(&mut e);
    e.handle(&invite("z9hG4bKd"), phone(), now);
    let (sent, _) = drain(&mut e);
    assert!(
        sent[0].starts_with("SIP/2.0 200"),
        "2xx resent for a late retransmission"
    );
}

#[test]
fn over_its_rate_a_source_gets_503_but_its_call_in_progress_is_never_limited() {
    let mut e = ep();
    e.set_request_limits(crate::rate_limit::RequestLimits {
        per_second: [1; 4],
        burst: Duration::from_secs(1),
        ..Default::default()
    });
    let now = Instant::now();
    e.handle(&invite("z9hG4bKr1"), phone(), now);
    let (_, evs) = drain(&mut e);
    assert!(matches!(evs[..], [Event::IncomingCall { .. }]), "{evs:?}");
    e.answer("c1", b"v=0\r\n", now);
    drain(&mut e);
    let in_dialog = |method: &str, cseq: u32| {
        format!("{method} sip:selfprov@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{method}{cseq}\r\nFrom: <sip:SEP001122334455@127.0.0.1>;tag=p1\r\nTo: <sip:2000@127.0.0.1>;tag=x\r\nCall-ID: c1\r\nCSeq: {cseq} {method}\r\nContent-Type: application/dtmf-relay\r\nContent-Length: 0\r\n\r\n")
    };
    // Its INVITE retransmitted (the 200 was lost) is not counted: the 200 again.
    e.handle(&invite("z9hG4bKr1"), phone(), now);
    let (sent, _) = drain(&mut e);
    assert!(sent[0].starts_with("SIP/2.0 200"), "{sent:?}");
    e.handle(in_dialog("ACK", 1).as_bytes(), phone(), now);
    // A second call from the same address in the same second: over the rate.
    let second = String::from_utf8(invite("z9hG4bKr2"))
        .unwrap()
        .replace("Call-ID: c1", "Call-ID: c2");
    e.handle(second.as_bytes(), phone(), now);
    let (sent, evs) = drain(&mut e);
    assert_eq!(
        evs,
        [Event::CallConfirmed {
            call_id: "c1".into()
        }]
    );
    assert!(
        sent[0].starts_with("SIP/2.0 503 Service Unavailable")
            && sent[0].contains("Retry-After: 1\r\n")
            && sent[0].contains("Call-ID: c2"),
        "{sent:?}"
    );
    // The first call's digits and its BYE all go through.
    for cseq in 2..8 {
        e.handle(in_dialog("INFO", cseq).as_bytes(), phone(), now);
    }
    e.handle(in_dialog("BYE", 8).as_bytes(), phone(), now);
    let (sent, evs) = drain(&mut e);
    assert_eq!(sent.len(), 7, "{sent:?}");
    assert!(
        sent.iter().all(|s| s.starts_with("SIP/2.0 200")),
        "{sent:?}"
    );
    assert_eq!(evs.len(), 7, "six digits and the end: {evs:?}");
    // Another address is not affected; the same one is again a second later.
    let other = Peer::udp("127.0.0.2:5070".parse().unwrap());
    let third = second
        .replace("z9hG4bKr2", "z9hG4bKr3")
        .replace("Call-ID: c2", "Call-ID: c3");
    e.handle(third.as_bytes(), other, now);
    let (_, evs) = drain(&mut e);
    assert!(matches!(evs[..], [Event::IncomingCall { .. }]), "{evs:?}");
    let fourth = second
        .replace("z9hG4bKr2", "z9hG4bKr4")
        .replace("Call-ID: c2", "Call-ID: c4");
    e.handle(fourth.as_bytes(), phone(), now + Duration::from_secs(1));
    let (_, evs) = drain(&mut e);
    assert!(matches!(evs[..], [Event::IncomingCall { .. }]), "{evs:?}");
}

#[test]
fn a_sips_request_uri_is_refused_unless_it_came_over_tls() {
    let sips = String::from_utf8(invite("z9hG4bKs"))
        .unwrap()
        .replace("INVITE sip:2000@", "INVITE sips:2000@");
    let mut e = ep();
    let now = Instant::now();
    e.handle(sips.as_bytes(), phone(), now);
    let (sent, evs) = drain(&mut e);
    assert!(evs.is_empty(), "{evs:?}");
    assert!(
        sent[0].starts_with("SIP/2.0 416 Unsupported URI Scheme"),
        "{sent:?}"
    );
    let over_tls = Peer::tls(phone().addr);
    let again = sips.replace("z9hG4bKs", "z9hG4bKt");
    e.handle(again.as_bytes(), over_tls, now);
    let (_, evs) = drain(&mut e);
    assert!(
        matches!(&evs[..], [Event::IncomingCall { source, .. }] if *source == over_tls),
        "{evs:?}"
    );
}
