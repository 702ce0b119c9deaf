//! Unit tests of dialogs through proxies: Record-Route copied into 18x/2xx, the route set kept,
//! our BYE/INFO/NOTIFY loose- and strict-routed, Route entries naming us consumed, ACK and BYE
//! arriving through the proxy matching their dialog, NOTIFY through an outbound proxy.

use super::tests::{drain, ep};
use super::*;
use std::time::Duration;

const PROXY: &str = "127.0.0.1:5070";

fn proxy(reliable: bool) -> Peer {
    let addr = PROXY.parse().unwrap();
    if reliable {
        Peer::tcp(addr)
    } else {
        Peer::udp(addr)
    }
}

/// An INVITE as a record-routing proxy forwards it: its Via on top, `record_route` as given.
fn invite_via_proxy(call_id: &str, record_route: &str) -> Vec<u8> {
    let sdp = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n";
    format!(
        "INVITE sip:2000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PROXY};branch=z9hG4bKp{call_id}\r\nVia: SIP/2.0/UDP 10.1.1.1:5062;branch=z9hG4bKu{call_id};rport\r\n{record_route}From: <sip:SEP001122334455@pbx.example>;tag=p1\r\nTo: <sip:2000@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:SEP001122334455@10.1.1.1:5062>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
    .into_bytes()
}

/// An in-dialog request from the caller as the proxy forwards it.
fn in_dialog(method: &str, call_id: &str, cseq: u32, route: &str, extra: &str) -> Vec<u8> {
    format!(
        "{method} sip:selfprov@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PROXY};branch=z9hG4bKp{method}{cseq}\r\nVia: SIP/2.0/UDP 10.1.1.1:5062;branch=z9hG4bKu{method}{cseq}\r\n{route}From: <sip:SEP001122334455@pbx.example>;tag=p1\r\nTo: <sip:2000@127.0.0.1>;tag=x\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n{extra}Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

const TWO_PROXIES: &str =
    "Record-Route: <sip:127.0.0.1:5070;lr;ftag=p1>\r\nRecord-Route: <sip:10.9.9.9:5080;lr;ftag=p1;did=7>\r\n";

/// Headers named `name` of a message, in order.
fn all(msg: &str, name: &str) -> Vec<String> {
    msg.lines()
        .filter_map(|l| l.strip_prefix(&format!("{name}: ")))
        .map(str::to_owned)
        .collect()
}

/// Sent messages with where they went.
fn sent(e: &mut Endpoint) -> Vec<(Peer, String)> {
    let mut out = vec![];
    while let Some(o) = e.poll_output() {
        if let Output::Send { to, data } = o {
            out.push((to, String::from_utf8_lossy(&data).into_owned()));
        }
    }
    out
}

/// A call through the proxies of `rr`, answered and acknowledged through them.
fn confirmed_call(rr: &str, reliable: bool) -> (Endpoint, Instant) {
    let mut e = ep();
    let now = Instant::now();
    e.handle(&invite_via_proxy("c1", rr), proxy(reliable), now);
    assert!(e.answer("c1", b"v=0\r\n", now));
    drain(&mut e);
    e.handle(&in_dialog("ACK", "c1", 1, "", ""), proxy(reliable), now);
    let (_, evs) = drain(&mut e);
    assert_eq!(
        evs,
        [Event::CallConfirmed {
            call_id: "c1".into()
        }]
    );
    (e, now)
}

#[test]
fn record_route_is_copied_into_18x_and_2xx_in_order_and_into_retransmissions() {
    let mut e = ep();
    let t0 = Instant::now();
    let rr = "Record-Route: <sip:127.0.0.1:5070;lr;ftag=p1>, <sip:10.9.9.9:5080;lr>\r\nRecord-Route: <sip:10.8.8.8;lr>\r\n";
    e.handle(&invite_via_proxy("c1", rr), proxy(false), t0);
    e.ring("c1", t0);
    assert!(e.answer("c1", b"v=0\r\n", t0));
    let out = sent(&mut e);
    let (trying, ringing, ok) = (&out[0].1, &out[1].1, &out[2].1);
    assert!(trying.starts_with("SIP/2.0 100") && all(trying, "Record-Route").is_empty());
    let want = [
        "<sip:127.0.0.1:5070;lr;ftag=p1>, <sip:10.9.9.9:5080;lr>",
        "<sip:10.8.8.8;lr>",
    ];
    assert!(ringing.starts_with("SIP/2.0 180"), "{ringing}");
    assert_eq!(all(ringing, "Record-Route"), want);
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert_eq!(all(ok, "Record-Route"), want);
    // Responses go back the way the INVITE came: to the proxy.
    assert!(out.iter().all(|(to, _)| *to == proxy(false)));
    // The 2xx retransmitted (no ACK yet) still carries them.
    e.handle_timeout(t0 + Duration::from_millis(500));
    let again = sent(&mut e);
    assert!(again[0].1.starts_with("SIP/2.0 200"));
    assert_eq!(all(&again[0].1, "Record-Route"), want);

    // A refusal establishes no dialog: no Record-Route.
    let mut busy = ep();
    busy.set_refusing(Some(5));
    busy.handle(&invite_via_proxy("c2", rr), proxy(false), t0);
    let out = sent(&mut busy);
    assert!(out[1].1.starts_with("SIP/2.0 503") && all(&out[1].1, "Record-Route").is_empty());
}

#[test]
fn ack_and_bye_through_the_proxy_match_their_dialog() {
    let (mut e, now) = confirmed_call(TWO_PROXIES, false);
    // Kamailio's loose_route() leaves no Route for us; one that names us is consumed as well.
    let bye = in_dialog("BYE", "c1", 2, "Route: <sip:127.0.0.1:5060;lr>\r\n", "");
    e.handle(&bye, proxy(false), now);
    let (out, evs) = drain(&mut e);
    assert!(out[0].starts_with("SIP/2.0 200 OK"), "{}", out[0]);
    assert_eq!(
        evs,
        [Event::CallEnded {
            call_id: "c1".into(),
            reason: EndReason::Bye
        }]
    );
    assert_eq!(e.table_sizes().2, 0);
}

#[test]
fn our_bye_is_loose_routed_through_both_proxies_in_order() {
    let (mut e, now) = confirmed_call(TWO_PROXIES, false);
    e.hangup("c1", now);
    let out = sent(&mut e);
    let (to, bye) = &out[0];
    assert!(
        bye.starts_with("BYE sip:SEP001122334455@10.1.1.1:5062 SIP/2.0"),
        "the remote target stays the Request-URI: {bye}"
    );
    assert_eq!(
        all(bye, "Route"),
        [
            "<sip:127.0.0.1:5070;lr;ftag=p1>",
            "<sip:10.9.9.9:5080;lr;ftag=p1;did=7>"
        ]
    );
    assert_eq!(*to, proxy(false), "sent to the first route");
    assert!(
        bye.contains("CSeq: 1 BYE") && bye.contains("To: <sip:SEP001122334455@pbx.example>;tag=p1")
    );
}

#[test]
fn strict_router_gets_the_request_uri_and_the_contact_goes_last() {
    let rr = "Record-Route: <sip:10.9.9.9:5080;ftag=p1>, <sip:127.0.0.1:5070;lr>\r\n";
    let (mut e, now) = confirmed_call(rr, false);
    e.hangup("c1", now);
    let out = sent(&mut e);
    let (to, bye) = &out[0];
    assert!(
        bye.starts_with("BYE sip:10.9.9.9:5080;ftag=p1 SIP/2.0"),
        "{bye}"
    );
    assert_eq!(
        all(bye, "Route"),
        [
            "<sip:127.0.0.1:5070;lr>",
            "<sip:SEP001122334455@10.1.1.1:5062>"
        ]
    );
    assert_eq!(to.addr, "10.9.9.9:5080".parse().unwrap());
}

#[test]
fn info_and_notify_in_the_dialog_carry_the_route_set() {
    let (mut e, now) = confirmed_call(TWO_PROXIES, false);
    assert!(e.request_in_dialog(
        "c1",
        "INFO",
        "Content-Type: application/dtmf\r\n",
        b"5",
        now
    ));
    assert!(e.request_in_dialog("c1", "NOTIFY", "Event: check-sync\r\n", b"", now));
    assert!(!e.request_in_dialog("nope", "INFO", "", b"", now));
    let out = sent(&mut e);
    for ((to, m), (method, cseq)) in out.iter().zip([("INFO", 1), ("NOTIFY", 2)]) {
        assert!(
            m.starts_with(&format!(
                "{method} sip:SEP001122334455@10.1.1.1:5062 SIP/2.0"
            )),
            "{m}"
        );
        assert!(m.contains(&format!("CSeq: {cseq} {method}")), "{m}");
        assert_eq!(all(m, "Route").len(), 2, "{m}");
        assert_eq!(*to, proxy(false));
    }
    assert!(out[0].1.ends_with("\r\n\r\n5"));
}

#[test]
fn reinvite_moves_the_remote_target_not_the_route_set() {
    let (mut e, now) = confirmed_call(TWO_PROXIES, false);
    let sdp = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n";
    let reinvite = format!(
        "INVITE sip:selfprov@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PROXY};branch=z9hG4bKre\r\nRecord-Route: <sip:127.0.0.1:5070;lr;ftag=p1>\r\nFrom: <sip:SEP001122334455@pbx.example>;tag=p1\r\nTo: <sip:2000@127.0.0.1>;tag=x\r\nCall-ID: c1\r\nCSeq: 2 INVITE\r\nContact: <sip:SEP001122334455@10.1.1.1:6000>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    e.handle(reinvite.as_bytes(), proxy(false), now);
    assert!(e.answer("c1", b"v=0\r\n", now));
    let out = sent(&mut e);
    let ok = &out.last().unwrap().1;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    // The re-INVITE's own Record-Route comes back in its 2xx (and its retransmissions).
    assert_eq!(all(ok, "Record-Route"), ["<sip:127.0.0.1:5070;lr;ftag=p1>"]);
    e.handle_timeout(now + Duration::from_millis(500));
    assert_eq!(
        all(&sent(&mut e)[0].1, "Record-Route"),
        ["<sip:127.0.0.1:5070;lr;ftag=p1>"]
    );
    e.handle(&in_dialog("ACK", "c1", 2, "", ""), proxy(false), now);
    e.hangup("c1", now);
    let out = sent(&mut e);
    let bye = &out.last().unwrap().1;
    assert!(
        bye.starts_with("BYE sip:SEP001122334455@10.1.1.1:6000 SIP/2.0"),
        "{bye}"
    );
    assert_eq!(
        all(bye, "Route").len(),
        2,
        "the route set is the INVITE's: {bye}"
    );
}

#[test]
fn over_tcp_the_contact_says_so_and_our_bye_goes_to_the_record_routed_address() {
    // A proxy forwards over TCP from a port of its own choosing; its Record-Route names the
    // address it listens on.
    let from = Peer::tcp("127.0.0.1:40001".parse().unwrap());
    let mut e = ep();
    let now = Instant::now();
    let rr = "Record-Route: <sip:127.0.0.1:5070;transport=tcp;lr>\r\n";
    e.handle(&invite_via_proxy("c1", rr), from, now);
    e.answer("c1", b"v=0\r\n", now);
    let out = sent(&mut e);
    let (to, ok) = &out[1];
    assert_eq!(*to, from, "responses on the connection the INVITE came on");
    assert!(
        ok.contains("Contact: <sip:selfprov@127.0.0.1:5060;transport=tcp>"),
        "{ok}"
    );
    e.hangup("c1", now);
    let out = sent(&mut e);
    assert_eq!(
        out[0].0,
        proxy(true),
        "to the record-routed address, over TCP"
    );
    assert!(out[0].1.contains("Via: SIP/2.0/TCP 127.0.0.1:5060;"));
}

#[test]
fn without_a_route_set_our_bye_goes_where_the_invite_came_from() {
    let (mut e, now) = confirmed_call("", false);
    e.hangup("c1", now);
    let out = sent(&mut e);
    assert!(all(&out[0].1, "Route").is_empty());
    assert_eq!(out[0].0, proxy(false));
}

#[test]
fn notify_through_an_outbound_proxy_to_the_address_of_record() {
    let mut e = ep();
    let now = Instant::now();
    let target = OutOfDialogTarget {
        uri: "sip:SEP001122334455@pbx.example".into(),
        route: RouteSet::outbound_proxy(PROXY),
        next_hop: proxy(false),
    };
    e.notify_check_sync(&target, now);
    let out = sent(&mut e);
    let (to, n) = &out[0];
    assert!(
        n.starts_with("NOTIFY sip:SEP001122334455@pbx.example SIP/2.0"),
        "{n}"
    );
    assert_eq!(all(n, "Route"), ["<sip:127.0.0.1:5070;lr>"]);
    assert_eq!(all(n, "To"), ["<sip:SEP001122334455@pbx.example>"]);
    assert_eq!(*to, proxy(false));
}

/// A dispatcher probing the node with OPTIONS: 200 while it takes calls; 503 with Retry-After
/// while it refuses them (not ready, draining), so the proxy sends calls elsewhere.
#[test]
fn options_probe_says_whether_the_node_takes_calls() {
    let t0 = Instant::now();
    let probe = "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKprobe1\r\nFrom: <sip:kamailio@pbx.test>;tag=k1\r\nTo: <sip:127.0.0.1:5060>\r\nCall-ID: probe1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    let mut e = ep();
    e.handle(probe.as_bytes(), proxy(false), t0);
    let out = sent(&mut e);
    assert!(out[0].1.starts_with("SIP/2.0 200"), "{}", out[0].1);
    let mut draining = ep();
    draining.set_refusing(Some(7));
    draining.handle(probe.as_bytes(), proxy(false), t0);
    let out = sent(&mut draining);
    assert!(out[0].1.starts_with("SIP/2.0 503"), "{}", out[0].1);
    assert!(out[0].1.contains("Retry-After: 7\r\n"), "{}", out[0].1);
}

#[test]
fn over_tls_the_contact_and_via_name_the_tls_listener_and_routes_to_it_are_ours() {
    let from = Peer::tls("127.0.0.1:40001".parse().unwrap());
    let mut e = Endpoint::new(EndpointConfig {
        advertised: "127.0.0.1:5060".into(),
        listen: Some("127.0.0.1:5060".parse().unwrap()),
        tls_listen: Some("127.0.0.1:5061".parse().unwrap()),
        user_agent: "t".into(),
        route_point_dns: vec!["2000".into()],
        max_calls: 10,
        timers: TimerValues::default(),
    });
    let now = Instant::now();
    let rr = "Record-Route: <sip:127.0.0.1:5070;transport=tls;lr>\r\n";
    e.handle(&invite_via_proxy("c1", rr), from, now);
    e.answer("c1", b"v=0\r\n", now);
    let out = sent(&mut e);
    assert_eq!(
        out[1].0, from,
        "responses on the connection the INVITE came on"
    );
    assert!(
        out[1]
            .1
            .contains("Contact: <sip:selfprov@127.0.0.1:5061;transport=tls>"),
        "{}",
        out[1].1
    );
    // The proxy's ACK, with a Route naming our TLS listener, confirms the call.
    let route = "Route: <sip:127.0.0.1:5061;transport=tls;lr>\r\n";
    e.handle(&in_dialog("ACK", "c1", 1, route, ""), from, now);
    let (_, evs) = drain(&mut e);
    assert!(matches!(&evs[..], [Event::CallConfirmed { .. }]), "{evs:?}");
    e.hangup("c1", now);
    let out = sent(&mut e);
    assert_eq!(out[0].0, Peer::tls(PROXY.parse().unwrap()), "over TLS");
    assert!(
        out[0].1.contains("Via: SIP/2.0/TLS 127.0.0.1:5061;"),
        "{}",
        out[0].1
    );
}
