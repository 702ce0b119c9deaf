//! selfprov on PostgreSQL, end to end: two nodes share one database (and the device-secret
//! key) and nothing else — a phone auto-registered by one node boots against the other, which
//! knows it and its secret, claims 1004 there and comes back registered as 1004; the first node
//! sees the result. When the database crashes, a caller on the IVR hears "try again later" (outcome
//! DATABASE_UNAVAILABLE) and the running node reconnects by itself when it is back.

mod common;

use common::boot::*;
use common::*;
use selfprov_testkit::postgres::{PgDatabase, PgServer};
use std::time::Duration;

#[test]
fn two_nodes_share_one_database() {
    let db = PgDatabase::new("e2e-two-nodes");
    let a = config("e2e-pg-a");
    let b = config("e2e-pg-b");
    on_postgresql(&a, &db.url, None);
    let (_svc_a, err_a) = start_service(&a);
    assert!(
        ready_line(&err_a).contains("postgresql"),
        "{}",
        ready_line(&err_a)
    );
    cli_ok(&a, &["demo", "load"]);
    on_postgresql(
        &b,
        &db.url,
        Some(&a.dir.path().join("var/device-secret.key")),
    );
    let (_svc_b, _err_b) = start_service(&b);

    // A new phone boots against node A: auto-registered there, on a temporary DN.
    let mac = "0A1B2C0000B1";
    let first = boot(&a, "yealink", mac, &[]);
    let temp = first.registered_first();
    assert_eq!(first.report()["outcome"], "registered");
    let device = first.device.clone();
    drop(first);
    let password = secret(&b, "yealink", &device);
    assert_eq!(
        password,
        secret(&a, "yealink", &device),
        "one secret for both nodes"
    );

    // It boots again against node B, which knows it, serves its file with digest, registers it
    // on the same temporary DN and takes its claim.
    let phone = boot(
        &b,
        "yealink",
        mac,
        &["--password", &password, "--digits", "1004#12345#1"],
    );
    assert_eq!(phone.registered_first(), temp);
    let r = phone.report();
    assert_eq!(
        (&r["outcome"], &r["dn"]),
        (&"registered".into(), &"1004".into()),
        "{r}"
    );
    assert_eq!(steps(&r, "claim")[0]["outcome"], "provisioned", "{r}");

    // Node A sees the claim made on node B.
    let d = common::device(&a, &device).unwrap_or_else(|| panic!("no device {device}"));
    assert_eq!(
        (&d["dn"], &d["owner"]),
        (&"1004".into(), &"jsmith".into()),
        "{d}"
    );
    assert!(!dn_taken(&a, &temp));
}

#[test]
fn a_node_rides_out_a_database_crash_and_reconnects() {
    let mut server = PgServer::start("e2e-pg-crash");
    let s = config("e2e-pg-crash");
    on_postgresql(&s, &server.url("postgres"), None);
    let (_svc, err) = start_service(&s);
    cli_ok(&s, &["demo", "load"]);

    // A phone is on the IVR, typing its ID and PIN, when the database crashes: its PIN check
    // cannot run; it hears "try again later" and the call ends with its own outcome code — no
    // hang, no panic.
    let caller = boot(&s, "yealink", "0A1B2C0000C3", &["--digits", "1004#12345#1"]);
    err.wait_for("call answered", WAIT)
        .expect("the phone's call is answered");
    server.kill();
    let r = caller.report();
    let claim = steps(&r, "claim");
    assert_eq!(claim[0]["outcome"], "service_unavailable", "{r}");
    assert!(
        err.wait_for("outcome=DATABASE_UNAVAILABLE", Duration::from_secs(10))
            .is_some(),
        "the call's outcome is logged"
    );

    // While it is down: a new phone's fetch (an auto-registration) is answered at once
    // with a server error, not left hanging, and the CLI says what is wrong.
    server.kill();
    let answer = http_get(s.config_port, "/SEP0A1B2C0000C1.cnf.xml");
    let status = answer.split_whitespace().nth(1).unwrap_or_default();
    assert_eq!(status, "503", "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after:"),
        "{answer}"
    );
    let o = cli_output(&s, &["device", "list"]);
    assert!(!o.status.success());
    let msg = String::from_utf8_lossy(&o.stderr);
    assert!(
        msg.contains("PostgreSQL") || msg.contains("database"),
        "{msg}"
    );

    // It comes back: the running node reconnects by itself, and a phone boots and claims.
    server.restart();
    let phone = boot(&s, "yealink", "0A1B2C0000C2", &["--digits", "1004#12345#1"]);
    let r = phone.report();
    assert_eq!(
        (&r["outcome"], &r["dn"]),
        (&"registered".into(), &"1004".into()),
        "{r}"
    );
}
