//! The SIP stack behind real Kamailio proxies that record-route (tests/kamailio/proxy.cfg), as
//! phones reach selfprov in the field. SIPp calls through the proxy: BYE from the caller, BYE
//! from selfprov, hold/resume re-INVITEs, INFO DTMF, CANCEL while ringing — over UDP and TCP,
//! every call successful for SIPp and every transaction and dialog gone afterwards. Two proxies
//! in a row: selfprov's BYE carries both routes in order (the proxy next to selfprov logs the
//! Route values it received). Over TLS: Kamailio takes the calls over UDP and forwards them to
//! selfprov's TLS listener, record-routing both sides; selfprov's BYE goes to Kamailio's TLS
//! address on a connection it opens, Kamailio's certificate checked.

mod common;

use common::*;
use selfprov_sip::endpoint::{EndReason, Event, Transport};
use selfprov_testkit::kamailio::Kamailio;
use selfprov_testkit::{free_udp_tcp_port, TempDir};
use std::path::Path;
use std::time::Duration;

/// A record-routing Kamailio forwarding calls for users not registered with it to `forward`.
fn proxy(dir: &Path, forward: &str) -> Kamailio {
    Kamailio::start(
        &shared("kamailio/proxy.cfg"),
        dir,
        free_udp_tcp_port(),
        &[("DOMAIN", "pbx.test"), ("FORWARD", forward)],
    )
}

/// The line a proxy logged for the first BYE towards the caller (selfprov's: its Request-URI is
/// the caller's Contact) that came from `from` (host:port; any source when `None`).
fn our_bye(k: &Kamailio, from: Option<&str>) -> String {
    k.log
        .wait_for_match(
            |l| {
                l.contains("proxy got BYE sip:SEP001122334455@")
                    && from.is_none_or(|f| l.contains(&format!("from {f}/")))
            },
            Duration::from_secs(5),
        )
        .unwrap_or_else(|| panic!("proxy {} got no BYE from selfprov ({from:?})", k.port))
}

/// One SIPp call of scenario `file` over UDP to `to`, calling `service`; true when it succeeded.
fn one_call(to: std::net::SocketAddr, file: &Path, service: &str) -> bool {
    Sipp {
        to,
        scenario: &["-sf", file.to_str().unwrap()],
        tcp: false,
        calls: 1,
        service,
    }
    .run()
}

async fn every_call_feature_through_one_proxy(tcp: bool) {
    let (stack, seen) = start(100).await;
    let dir = TempDir::new("proxy");
    let kam = tokio::task::spawn_blocking({
        let (d, fwd) = (dir.path().to_owned(), stack.local.to_string());
        move || proxy(&d, &fwd)
    })
    .await
    .unwrap();
    let to = kam.addr().parse().unwrap();
    let (features, bye, cancel) = (
        scenario("call_features.xml"),
        scenario("bye_from_uas.xml"),
        shared("scenarios/cancel_ringing.xml"),
    );
    // cancel_ringing.xml's caller and password (no challenge comes from this stack).
    let caller = dir.path().join("caller.csv");
    std::fs::write(&caller, "SEQUENTIAL\nSEP00000000CA01;not-used\n").unwrap();
    let results = tokio::task::spawn_blocking(move || {
        let run = |file: &std::path::Path, calls, service| {
            Sipp {
                to,
                scenario: &[
                    "-sf",
                    file.to_str().unwrap(),
                    "-inf",
                    caller.to_str().unwrap(),
                ],
                tcp,
                calls,
                service,
            }
            .run()
        };
        (
            run(&features, 2, "2000"),
            run(&bye, 3, WE_HANG_UP),
            run(&cancel, 2, RINGING),
        )
    })
    .await
    .unwrap();
    assert!(
        results.0,
        "OPTIONS, INFO DTMF, hold/resume, BYE from the caller through the proxy"
    );
    assert!(results.1, "BYE from selfprov through the proxy");
    assert!(results.2, "CANCEL while ringing through the proxy");

    let seen = Seen::snapshot(&seen);
    assert_eq!(seen.count(|e| matches!(e, Event::Info { .. })), 4);
    assert_eq!(seen.count(|e| matches!(e, Event::Reinvite { .. })), 4);
    let ended =
        |r: EndReason| seen.count(|e| matches!(e, Event::CallEnded { reason, .. } if *reason == r));
    assert_eq!(
        (
            ended(EndReason::Bye),
            ended(EndReason::Local),
            ended(EndReason::Cancel)
        ),
        (2, 3, 2)
    );
    // Every 2xx was acknowledged through the proxy: 3 per call_features call (the INVITE and two
    // re-INVITEs), 1 per call we hung up (our BYE is sent once the ACK is in).
    assert_eq!(
        seen.count(|e| matches!(e, Event::CallConfirmed { .. })),
        2 * 3 + 3
    );
    // Our BYE reached the proxy with its route: over UDP from our port, over TCP on a
    // connection we opened to the record-routed address.
    let from = stack.local.to_string();
    let line = our_bye(&kam, (!tcp).then_some(from.as_str()));
    let transport = if tcp { "transport=tcp;" } else { "" };
    assert!(
        line.contains(&format!(
            "route=[<sip:127.0.0.1:{};{transport}lr;ftag=",
            kam.port
        )),
        "{line}"
    );
    assert!(
        line.contains(if tcp { "/tcp route=" } else { "/udp route=" }),
        "{line}"
    );
    assert_eq!(
        drained(&stack).await,
        (0, 0, 0),
        "transactions or dialogs left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_feature_through_a_record_routing_proxy_over_udp() {
    every_call_feature_through_one_proxy(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_feature_through_a_record_routing_proxy_over_tcp() {
    every_call_feature_through_one_proxy(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_proxies_in_a_row_keep_both_routes_in_order() {
    let (stack, seen) = start(100).await;
    let (d1, d2) = (TempDir::new("proxy-near"), TempDir::new("proxy-far"));
    let (p1, p2, fwd) = (
        d1.path().to_owned(),
        d2.path().to_owned(),
        stack.local.to_string(),
    );
    // near: next to selfprov; far: next to the caller.
    let (near, far) = tokio::task::spawn_blocking(move || {
        let near = proxy(&p1, &fwd);
        let far = proxy(&p2, &near.addr());
        (near, far)
    })
    .await
    .unwrap();
    let to = far.addr().parse().unwrap();
    let bye = scenario("bye_from_uas.xml");
    let features = scenario("call_features.xml");
    let ok = tokio::task::spawn_blocking(move || {
        (
            one_call(to, &bye, WE_HANG_UP),
            one_call(to, &features, "2000"),
        )
    })
    .await
    .unwrap();
    assert!(ok.0, "selfprov's BYE through both proxies");
    assert!(
        ok.1,
        "the caller's ACK, INFO, re-INVITEs and BYE through both proxies"
    );
    // What selfprov sent: both routes, the one next to it first, parameters as they wrote them.
    let line = our_bye(&near, Some(&stack.local.to_string()));
    let routes = line
        .split("route=[")
        .nth(1)
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or_else(|| panic!("{line}"));
    let uris: Vec<&str> = routes.split(',').map(str::trim).collect();
    assert_eq!(uris.len(), 2, "{line}");
    assert!(
        uris[0].starts_with(&format!("<sip:127.0.0.1:{};lr", near.port)),
        "{line}"
    );
    assert!(
        uris[1].starts_with(&format!("<sip:127.0.0.1:{};lr", far.port)),
        "{line}"
    );
    assert!(uris.iter().all(|u| u.contains("ftag=")), "{line}");
    // The far proxy got it from the near one with its own route left.
    let line = our_bye(&far, Some(&near.addr()));
    assert!(
        line.contains(&format!("route=[<sip:127.0.0.1:{};lr", far.port)),
        "{line}"
    );
    let seen = Seen::snapshot(&seen);
    assert_eq!(seen.count(|e| matches!(e, Event::CallEnded { .. })), 2);
    assert_eq!(drained(&stack).await, (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_through_a_record_routing_proxy_over_tls() {
    let dir = TempDir::new("proxy-tls");
    let (tls, authority) = tls_setup(dir.path());
    let (stack, seen) = start_with(100, Default::default(), Some(tls)).await;
    let kam = tokio::task::spawn_blocking({
        let (d, fwd) = (dir.path().to_owned(), stack.tls_local.unwrap().to_string());
        move || {
            let cert = authority.issue("kamailio", "127.0.0.1");
            let tls_port = free_udp_tcp_port().to_string();
            let k = Kamailio::start_defined(
                &shared("kamailio/proxy.cfg"),
                &d,
                free_udp_tcp_port(),
                &[
                    ("DOMAIN", "pbx.test"),
                    ("FORWARD", &fwd),
                    ("TLSPORT", &tls_port),
                    ("CERT", cert.certificate.to_str().unwrap()),
                    ("KEY", cert.key.to_str().unwrap()),
                ],
                &["WITH_TLS"],
            );
            (k, tls_port)
        }
    })
    .await
    .unwrap();
    let (kam, tls_port) = kam;
    let to = kam.addr().parse().unwrap();
    let (features, bye) = (scenario("call_features.xml"), scenario("bye_from_uas.xml"));
    let results = tokio::task::spawn_blocking(move || {
        (
            one_call(to, &features, "2000"),
            one_call(to, &bye, WE_HANG_UP),
        )
    })
    .await
    .unwrap();
    assert!(
        results.0,
        "INFO DTMF, hold/resume, BYE from the caller through the proxy over TLS"
    );
    assert!(results.1, "BYE from selfprov through the proxy over TLS");
    let seen = Seen::snapshot(&seen);
    assert_eq!(
        seen.count(|e| matches!(e, Event::IncomingCall { source, .. } if source.transport == Transport::Tls)),
        2,
        "both calls came over TLS"
    );
    let ended =
        |r: EndReason| seen.count(|e| matches!(e, Event::CallEnded { reason, .. } if *reason == r));
    assert_eq!((ended(EndReason::Bye), ended(EndReason::Local)), (1, 1));
    // Our BYE went to the TLS Record-Route (the first of the two), over TLS.
    let line = our_bye(&kam, None);
    assert!(
        line.contains(&format!(
            "route=[<sip:127.0.0.1:{tls_port};transport=tls;r2=on;lr;ftag="
        )),
        "{line}"
    );
    assert!(line.contains("/tls route="), "{line}");
    assert_eq!(drained(&stack).await, (0, 0, 0));
}
