//! A full auto-registration range does not go unnoticed (issue 13, item 1): the DNs used are a
//! metric, and when the range is exhausted `/status`, `/health` and `selfprov status` say so,
//! while new phones are refused.

mod common;

use common::*;
use std::time::{Duration, Instant};

/// A new phone's first configuration fetch (which auto-registers it): the HTTP status line.
fn first_fetch(s: &Service, mac: &str) -> String {
    http_get(s.config_port, &format!("/SEP{mac}.cnf.xml"))
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn an_exhausted_range_is_named_in_status_health_and_metrics() {
    let s = config("e2e-autoreg-range");
    s.edit(
        "dn_range = { start = \"1000\", end = \"1999\" }",
        "dn_range = { start = \"1000\", end = \"1002\" }",
    );
    let (_svc, _err) = start_service(&s);
    for mac in ["00112233C001", "00112233C002", "00112233C003"] {
        let status = first_fetch(&s, mac);
        assert!(status.contains(" 200 "), "{mac}: {status}");
    }
    // The range is full: the next new phone is refused...
    let status = first_fetch(&s, "00112233C004");
    assert!(!status.contains(" 200 "), "{status}");
    // ...and the service says why (counted every few seconds).
    let t0 = Instant::now();
    let body = loop {
        let st = http_get(s.admin_port, "/status");
        if st.contains("is exhausted") {
            break st;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "no warning: {st}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        body.contains("auto-registration range 1000..1002 is exhausted (3 of 3 DNs)"),
        "{body}"
    );
    let health = http_get(s.admin_port, "/health");
    assert!(
        health.starts_with("HTTP/1.0 200") && health.contains("warning: auto-registration range"),
        "{health}"
    );
    assert_eq!(metric(&s, "selfprov_autoregistration_dns_used"), 3.0);
    assert_eq!(metric(&s, "selfprov_autoregistration_dns"), 3.0);
    let out = cli_output(&s, &["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("warning: auto-registration range 1000..1002 is exhausted"),
        "{text}"
    );
}
