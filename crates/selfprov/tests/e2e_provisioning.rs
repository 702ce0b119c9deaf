//! End to end: the real `selfprov serve` on loopback, a phone played by SIPp. The phone
//! registers (auto-registration gives it a DN from the range), calls the route point, types the
//! self-service ID and PIN as RFC 4733 events and confirms; then the device belongs to the user on
//! the user's extension, the audit log says SUCCESS, and the phone got NOTIFY check-sync.

mod common;

use common::*;
use selfprov_testkit::{free_udp_port, require_tool, spawn_watched};
use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

#[test]
fn a_new_phone_provisions_itself_and_is_told_to_restart() {
    let sipp = require_tool("sipp");
    let s = config("e2e-provision");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_selfprov"));
    cmd.arg("--config").arg(&s.cfg).arg("serve");
    let (mut service, _out, err) = spawn_watched("selfprov", &mut cmd).unwrap();
    assert!(
        err.wait_for("selfprov ready", Duration::from_secs(90))
            .is_some(),
        "service did not become ready"
    );

    // Where the phone's Contact points: the NOTIFY check-sync arrives here.
    let phone_contact = UdpSocket::bind("127.0.0.1:0").unwrap();
    phone_contact
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let contact_port = phone_contact.local_addr().unwrap().port();
    // The phone fetches its configuration file first (auto-registered there, its credentials in
    // it), then registers and calls with digest.
    let csv = s.dir.path().join("phones.csv");
    let line = sipp_phone_line(&s, "SEP0011223344A1", "1004", "12345", contact_port);
    std::fs::write(&csv, format!("SEQUENTIAL\n{line}\n")).unwrap();

    let mut sc = Command::new(sipp);
    sc.current_dir(s.dir.path())
        .arg(format!("127.0.0.1:{}", s.sip_port))
        .arg("-sf")
        .arg(repo().join("tests/scenarios/provision_rfc4733.xml"))
        .arg("-inf")
        .arg(&csv)
        .args([
            "-s",
            "2000",
            "-i",
            "127.0.0.1",
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            "60s",
            "-timeout_error",
            "-trace_err",
        ])
        .args([
            "-p",
            &free_udp_port().to_string(),
            "-mp",
            &free_udp_port().to_string(),
        ]);
    let (mut phone, _o, _e) = spawn_watched("sipp", &mut sc).unwrap();
    let st = phone
        .wait_timeout(Duration::from_secs(90))
        .expect("sipp did not finish");
    if !st.success() {
        for f in std::fs::read_dir(s.dir.path()).unwrap().flatten() {
            if f.path().to_string_lossy().contains("errors") {
                eprintln!("{}", std::fs::read_to_string(f.path()).unwrap_or_default());
            }
        }
    }
    assert!(st.success(), "the phone's call failed");

    let mut buf = [0u8; 4096];
    let n = phone_contact.recv(&mut buf).expect("no NOTIFY check-sync");
    let notify = String::from_utf8_lossy(&buf[..n]);
    assert!(
        notify.starts_with("NOTIFY sip:SEP0011223344A1@127.0.0.1:"),
        "{notify}"
    );
    assert!(notify.contains("Event: check-sync"), "{notify}");

    let devices = cli(&s, &["device", "list", "--json"]);
    let d = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "SEP0011223344A1")
        .expect("device");
    assert_eq!(d["owner"], "jsmith");
    assert_eq!(d["dn"], "1004");
    assert_eq!(d["model"], "Cisco 8845");
    let audit = cli(&s, &["audit", "--json", "--kind", "claim"]);
    assert_eq!(audit[0]["code"], "SUCCESS");
    assert_eq!(audit[0]["device"], "SEP0011223344A1");

    // `selfprov status` asks the running service.
    let o = Command::new(env!("CARGO_BIN_EXE_selfprov"))
        .arg("--config")
        .arg(&s.cfg)
        .arg("status")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success()
            && text.starts_with("Ready")
            && text.contains("active calls: 0")
            && text.contains("route point 2000"),
        "{text}"
    );

    // The call's media shows in the metrics.
    let m = http_get(s.admin_port, "/metrics");
    let sent: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("selfprov_rtp_packets_sent_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(sent > 50, "RTP packets sent: {sent}\n{m}");
    assert!(
        m.contains("selfprov_calls_total{outcome=\"SUCCESS\"} 1"),
        "{m}"
    );

    // SIGTERM with no call in progress: drains at once and exits 0.
    service.signal(15);
    let st = service
        .wait_timeout(Duration::from_secs(20))
        .expect("service did not stop");
    assert!(st.success(), "exit status {st:?}");
}

#[test]
fn sighup_refuses_a_bad_config_and_applies_a_good_one() {
    let s = config("e2e-sighup");
    let (service, err) = start_service(&s);
    let good = std::fs::read_to_string(&s.cfg).unwrap();

    // A broken file: refused, the running configuration stays in force.
    std::fs::write(&s.cfg, good.replace("max_attempts = 3", "max_attempts = 0")).unwrap();
    service.signal(1);
    assert!(err
        .wait_for("reload refused", Duration::from_secs(30))
        .is_some());
    let call = repo().join("tests/scenarios/call_digest.xml");
    assert!(
        sipp_call_as(&s, &call, "2000", "SEP0011223344B1"),
        "route point 2000 still answers"
    );

    // A new route-point DN: applied without a restart.
    std::fs::write(&s.cfg, good.replace("dns = [\"2000\"]", "dns = [\"3000\"]")).unwrap();
    service.signal(1);
    assert!(err
        .wait_for("configuration reloaded", Duration::from_secs(60))
        .is_some());
    assert!(
        sipp_call_as(&s, &call, "3000", "SEP0011223344B1"),
        "the new route point answers"
    );
    let refused = s.dir.path().join("refused.xml");
    let scenario = std::fs::read_to_string(repo().join("crates/sip/tests/scenarios/refused.xml"))
        .unwrap()
        .replace("EXPECT", "404");
    std::fs::write(&refused, scenario).unwrap();
    assert!(
        sipp_call(&s, &["-sf", refused.to_str().unwrap()], "2000"),
        "the old route point is gone (404)"
    );
}

/// Prepare the database with `setup`, then run the same phone as the success test; the call
/// must end with `code` in the audit log and leave the phone unassigned.
fn failing_provisioning(tag: &str, setup: &[&[&str]], code: &str) {
    let s = config(tag);
    cli_ok(&s, &["demo", "load"]);
    for args in setup {
        cli_ok(&s, args);
    }
    let before: Vec<serde_json::Value> = cli(&s, &["device", "list", "--json"])
        .as_array()
        .unwrap()
        .clone();
    let (_service, _err) = start_service(&s);
    let csv = s.dir.path().join("phones.csv");
    let line = sipp_phone_line(&s, "SEP0011223344A1", "1004", "12345", free_udp_port());
    std::fs::write(&csv, format!("SEQUENTIAL\n{line}\n")).unwrap();
    let scenario = repo().join("tests/scenarios/provision_rfc4733.xml");
    let ok = sipp_call(
        &s,
        &[
            "-sf",
            scenario.to_str().unwrap(),
            "-inf",
            csv.to_str().unwrap(),
        ],
        "2000",
    );
    assert!(ok, "the IVR must play its prompt and hang up");
    let audit = cli(&s, &["audit", "--json", "--kind", "claim"]);
    assert_eq!(audit[0]["code"], code, "{audit}");
    let after = cli(&s, &["device", "list", "--json"]);
    let phone = after
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "SEP0011223344A1")
        .expect("the phone is known");
    assert!(
        phone["owner"].is_null()
            || before
                .iter()
                .any(|b| b["name"] == "SEP0011223344A1" && b["owner"] == phone["owner"]),
        "{phone}"
    );
    assert_ne!(phone["owner"], "jsmith", "nothing may be assigned: {phone}");
    // Every device that existed before is unchanged.
    for b in &before {
        assert!(after.as_array().unwrap().contains(b), "{b} changed");
    }
}

#[test]
fn not_allowed_by_profile() {
    failing_provisioning(
        "e2e-notallowed",
        &[&[
            "profile",
            "update",
            "Standard Employee",
            "--allow-self-provisioning",
            "false",
        ]],
        "SELFPROV_NOT_ALLOWED",
    );
}

#[test]
fn no_device_template_for_the_class() {
    failing_provisioning(
        "e2e-noudt",
        &[&[
            "profile",
            "update",
            "Standard Employee",
            "--udt-desk-phone",
            "",
        ]],
        "MODEL_PHONETEMPLATE_NOT_FOUND",
    );
}

#[test]
fn phone_not_auto_registered() {
    failing_provisioning(
        "e2e-notauto",
        &[&[
            "device",
            "create",
            "SEP0011223344A1",
            "--model",
            "Cisco 8845",
            "--dn",
            "1500",
        ]],
        "NOT_AUTOREGISTERED",
    );
}

#[test]
fn device_limit_reached() {
    failing_provisioning(
        "e2e-limit",
        &[
            &[
                "profile",
                "update",
                "Standard Employee",
                "--device-limit",
                "1",
            ],
            &[
                "device",
                "create",
                "SEPAAAAAAAAAAAA",
                "--model",
                "Cisco 8845",
                "--dn",
                "1004",
                "--owner",
                "jsmith",
            ],
        ],
        "SELFPROV_DEVICE_LIMIT",
    );
}

/// Provision the phone with `secret` typed as the PIN under the given `[self_provisioning]`
/// settings; returns the phone's owner afterwards.
fn provision_with(tag: &str, settings: &str, secret: &str) -> serde_json::Value {
    let s = config(tag);
    let text = std::fs::read_to_string(&s.cfg)
        .unwrap()
        .replace("authentication_mode = \"users\"", settings);
    std::fs::write(&s.cfg, text).unwrap();
    let (_service, _err) = start_service(&s);
    let csv = s.dir.path().join("phones.csv");
    let line = sipp_phone_line(&s, "SEP0011223344A1", "1004", secret, free_udp_port());
    std::fs::write(&csv, format!("SEQUENTIAL\n{line}\n")).unwrap();
    let scenario = repo().join("tests/scenarios/provision_rfc4733.xml");
    assert!(sipp_call(
        &s,
        &[
            "-sf",
            scenario.to_str().unwrap(),
            "-inf",
            csv.to_str().unwrap()
        ],
        "2000"
    ));
    let devices = cli(&s, &["device", "list", "--json"]);
    devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "SEP0011223344A1")
        .expect("phone")["owner"]
        .clone()
}

#[test]
fn users_and_admins_mode_accepts_the_authentication_code() {
    let c = Command::new(env!("CARGO_BIN_EXE_selfprov"))
        .arg("--config")
        .arg(repo().join("config/selfprov.toml"))
        .arg("hash-secret")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let mut c = c;
    c.stdin.take().unwrap().write_all(b"999000\n").unwrap();
    let hash = String::from_utf8(c.wait_with_output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_owned();
    assert!(hash.starts_with("$argon2id$"));
    let settings = format!(
        "authentication_mode = \"users_and_admins\"\nauthentication_code_hash = \"{hash}\""
    );
    assert_eq!(
        provision_with("e2e-admins", &settings, "999000"),
        "jsmith",
        "the administrator code stands in for the PIN"
    );
}

#[test]
fn none_mode_needs_no_pin() {
    // No PIN is asked: the phone's extra `#` is an invalid key at the confirmation, its `1` confirms.
    assert_eq!(
        provision_with("e2e-none", "authentication_mode = \"none\"", ""),
        "jsmith"
    );
}

#[test]
fn a_hundred_phones_at_once_each_get_their_own_user() {
    let s = config("e2e-hundred");
    many_phones_from_one_address(&s);
    let notify = UdpSocket::bind("127.0.0.1:0").unwrap();
    notify.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let phones = load_users(&s, 100, notify.local_addr().unwrap().port());
    let (_service, _err) = start_service(&s);
    let mut sipp = sipp_provisioning(&s, &phones, 100);
    let st = sipp.wait_timeout(Duration::from_secs(150)).expect("sipp did not finish");
    assert!(st.success(), "some of the 100 calls failed: {st:?}");

    // Every phone was told to restart.
    let mut told = std::collections::HashSet::new();
    let mut buf = [0u8; 4096];
    while told.len() < 100 {
        let (n, from) = notify.recv_from(&mut buf).expect("missing NOTIFY check-sync");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let dev = text.split_whitespace().nth(1).unwrap_or("").trim_start_matches("sip:").split('@').next().unwrap_or("").to_owned();
        told.insert(dev);
        // 200 OK so the service stops retransmitting.
        let mut resp = String::from("SIP/2.0 200 OK\r\n");
        for l in text.split("\r\n").filter(|l| ["Via:", "From:", "To:", "Call-ID:", "CSeq:"].iter().any(|h| l.starts_with(h))) {
            resp += l;
            resp += "\r\n";
        }
        resp += "Content-Length: 0\r\n\r\n";
        notify.send_to(resp.as_bytes(), from).unwrap();
    }

    // Each phone belongs to its own user, on that user's extension: no DN or owner collision.
    let devices = cli(&s, &["device", "list", "--json"]);
    let mut owners = std::collections::HashSet::new();
    let mut dns = std::collections::HashSet::new();
    for i in 0..100 {
        let name = format!("SEP0000000100{i:02X}");
        let d = devices.as_array().unwrap().iter().find(|d| d["name"] == name.as_str()).expect("device");
        assert_eq!(d["owner"], format!("load{i:03}").as_str(), "{d}");
        assert_eq!(d["dn"], (4000 + i).to_string().as_str(), "{d}");
        assert!(owners.insert(d["owner"].to_string()) && dns.insert(d["dn"].to_string()));
    }
    let audit = cli(&s, &["audit", "--json", "--limit", "1000"]);
    let ok = audit.as_array().unwrap().iter().filter(|a| a["code"] == "SUCCESS").count();
    assert_eq!(ok, 100, "{audit:#}");
}

/// The benchmark's provisioning driver (`selfprov-loadgen --provision`) against the real service:
/// 50 new phones fetch their files, register and call with digest, type when the prompts ask,
/// and each is provisioned — so the figure in docs/benchmarks.md comes from flows that really
/// end in SUCCESS.
#[test]
fn the_load_generator_provisions_fifty_phones_through_the_ivr() {
    let s = config("e2e-loadgen");
    many_phones_from_one_address(&s);
    let phones = load_users(&s, 50, free_udp_port());
    let (_service, _err) = start_service(&s);
    let loadgen = std::path::Path::new(env!("CARGO_BIN_EXE_selfprov")).with_file_name("selfprov-loadgen");
    assert!(
        loadgen.exists(),
        "{} is missing: build the workspace first (`cargo build --workspace`, as scripts/test.sh does)",
        loadgen.display()
    );
    let out = s.dir.path().join("loadgen.json");
    let mut cmd = Command::new(&loadgen);
    cmd.arg("--server")
        .arg(format!("127.0.0.1:{}", s.sip_port))
        .arg("--config-url")
        .arg(format!("http://127.0.0.1:{}", s.config_port))
        .arg("--provision")
        .arg(&phones)
        .arg("--rate")
        .arg("25")
        .arg("--prompts")
        .arg(repo().join("prompts"))
        .arg("--json")
        .arg(&out);
    let (mut lg, _o, lg_err) = spawn_watched("loadgen", &mut cmd).unwrap();
    let st = lg.wait_timeout(Duration::from_secs(120)).expect("loadgen did not finish");
    assert!(st.success(), "loadgen failed: {st:?}\n{}", lg_err.lines().join("\n"));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(summary["provisioning"]["provisioned"], 50, "{summary:#}");
    assert_eq!(summary["failed"], 0, "{summary:#}");
    let devices = cli(&s, &["device", "list", "--json"]);
    for i in 0..50 {
        let name = format!("SEP0000000100{i:02X}");
        let d = devices.as_array().unwrap().iter().find(|d| d["name"] == name.as_str()).expect("device");
        assert_eq!(d["owner"], format!("load{i:03}").as_str(), "{d}");
        assert_eq!(d["dn"], (4000 + i).to_string().as_str(), "{d}");
    }
    let audit = cli(&s, &["audit", "--json", "--limit", "1000"]);
    let ok = audit.as_array().unwrap().iter().filter(|a| a["code"] == "SUCCESS").count();
    assert_eq!(ok, 50, "{audit:#}");
}
