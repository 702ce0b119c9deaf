//! Settings changed at run time reach the running service without a restart: the IVR switched
//! off by `selfprov settings set` refuses calls with 503 within seconds, and after `settings
//! reset` a phone is provisioned again.

mod common;

use common::*;
use std::time::{Duration, Instant};

/// Poll `/status` until `ready` is `want` (bounded).
fn wait_ready(s: &Service, want: bool) {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let r = http_get(s.admin_port, "/status");
        let body = r.split("\r\n\r\n").nth(1).unwrap_or("");
        let ready = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["ready"].as_bool());
        if ready == Some(want) {
            return;
        }
        assert!(
            Instant::now() < until,
            "status never became ready={want}: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn settings_changed_by_the_cli_apply_to_the_running_service() {
    let s = config("e2e-settings");
    let (_service, err) = start_service(&s);
    wait_ready(&s, true);
    cli_ok(&s, &["settings", "set", "--ivr-enabled", "false"]);
    err.wait_for("stored settings changed", Duration::from_secs(20))
        .expect("the service noticed the change");
    wait_ready(&s, false);
    let h = http_get(s.admin_port, "/health");
    assert!(
        h.starts_with("HTTP/1.0 503") && h.contains("Self-Provisioning IVR service is deactivated"),
        "{h}"
    );
    // A call now gets 503 Service Unavailable.
    let refused = s.dir.path().join("refused.xml");
    let scenario = std::fs::read_to_string(repo().join("crates/sip/tests/scenarios/refused.xml"))
        .unwrap()
        .replace("EXPECT", "503");
    std::fs::write(&refused, scenario).unwrap();
    assert!(
        sipp_call(&s, &["-sf", refused.to_str().unwrap()], "2000"),
        "a call while the IVR is off gets 503"
    );
    // Back to the file's value: the service takes calls again, and a phone is provisioned.
    cli_ok(&s, &["settings", "reset", "ivr_enabled"]);
    wait_ready(&s, true);
    let (code, report) = phone(&s, &["--digits", "1004#12345#1"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["outcome"], "provisioned", "{report:#}");
}
