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

#[test]
fn new_phones_beyond_the_rate_for_all_sources_are_told_to_come_back() {
    let s = config("e2e-autoreg-rate");
    s.edit("new_devices_per_second = 10", "new_devices_per_second = 1");
    s.edit("new_devices_burst = 100", "new_devices_burst = 3");
    let (_svc, err) = start_service(&s);
    // Six new phones at once: the burst gets its files; the others are told when to come back,
    // and nothing is created for them.
    let statuses: Vec<String> = (1..=6)
        .map(|i| http_get(s.config_port, &format!("/SEP00112233D00{i}.cnf.xml")))
        .collect();
    let served = statuses
        .iter()
        .filter(|r| r.lines().next().unwrap_or("").contains(" 200 "))
        .count();
    let deferred: Vec<_> = statuses
        .iter()
        .filter(|r| r.lines().next().unwrap_or("").contains(" 503 "))
        .collect();
    // At 1 a second, one more may have been admitted while the six were asked for.
    assert!((3..=4).contains(&served), "{statuses:#?}");
    assert_eq!(served + deferred.len(), 6, "{statuses:#?}");
    assert!(
        deferred
            .iter()
            .all(|r| r.to_ascii_lowercase().contains("\r\nretry-after: 1\r\n")),
        "{deferred:#?}"
    );
    let devices = cli(&s, &["device", "list", "--json"]);
    let created = devices.as_array().unwrap().iter();
    let created = created.filter(|d| d["name"].as_str().unwrap().starts_with("SEP00112233D00"));
    assert_eq!(created.count(), served, "{devices}");
    assert_eq!(
        metric(&s, "selfprov_autoregistration_deferred_total"),
        deferred.len() as f64
    );
    // Logged once, and not as a refusal fail2ban would ban the phones' address for.
    let line = err
        .wait_for("new phones are told to come back", Duration::from_secs(5))
        .expect("the deferral is logged");
    assert_eq!(fail2ban_host(&line), None, "{line}");
}
