//! The on-screen claim end to end (docs/screen-claim.md): the test phone boots as a new Cisco
//! phone, registers on its temporary DN, opens the idle URL its file gives, logs in on screen,
//! confirms, receives NOTIFY check-sync, fetches its file again and registers on the user's
//! extension — `selfprov phone --boot cisco --screen` exits 0 only then. Wrong PIN, lockout and
//! the device limit end on screen with their outcome code (non-zero exit, the code in the
//! report) and in the audit; another phone's token claims nothing.
//!
//! One service for the whole file (its scenarios use distinct phones and users, in parallel).

mod common;

use common::boot::secret;
use common::*;
use serde_json::Value;
use std::process::Command;

/// `selfprov phone --boot cisco --screen` as phone `SEP<mac>`: its exit code and its report.
fn screen_phone(s: &Service, mac: &str, user: &str, pin: &str, extra: &[&str]) -> (i32, Value) {
    screen_phone_typing(s, mac, &["--user", user, "--pin", pin], extra)
}

/// The same, typing `login` (`--user … --pin …` or `--code …`).
fn screen_phone_typing(s: &Service, mac: &str, login: &[&str], extra: &[&str]) -> (i32, Value) {
    let o = Command::new(env!("CARGO_BIN_EXE_selfprov"))
        .arg("--config")
        .arg(&s.cfg)
        .args(["phone", "--json", "--boot", "cisco", "--timeout", "30s"])
        .args(["--device", &format!("SEP{mac}"), "--screen"])
        .args(login)
        .args(extra)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let report = out
        .lines()
        .rev()
        .find_map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .filter(|v| v.get("steps").is_some())
        })
        .unwrap_or_else(|| {
            panic!(
                "no report from SEP{mac}\nstdout: {out}\nstderr: {}",
                String::from_utf8_lossy(&o.stderr)
            )
        });
    (o.status.code().unwrap_or(-1), report)
}

fn steps<'a>(r: &'a Value, kind: &str) -> Vec<&'a Value> {
    common::boot::steps(r, kind)
}

/// The audit entries of the claims of `device`: (actor, code).
fn claims_of(s: &Service, device: &str) -> Vec<(String, String)> {
    cli(s, &["audit", "--json", "--limit", "10000"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["device"] == device && a["kind"] == "claim")
        .map(|a| {
            (
                a["actor"].as_str().unwrap_or("").to_owned(),
                a["code"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// The path of `device`'s idle URL, as its file gives it (`XmlDefault.cnf.xml`'s is empty).
fn idle_path(s: &Service, device: &str) -> String {
    let files = rendered_with_secrets(s, device);
    let at = files
        .find("<idleURL>http")
        .expect("an idle URL in the device's file");
    let url = element(&files[at..], "idleURL");
    let prefix = format!("http://127.0.0.1:{}", s.config_port);
    url.strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{url} is not on {prefix}"))
        .to_owned()
}

/// A new phone claims 1004 on screen and comes back registered as 1004.
fn success(s: &Service) {
    let (code, r) = screen_phone(s, "0A1B2C0005A1", "1004", "12345", &[]);
    assert_eq!(
        (code, r["outcome"].as_str()),
        (0, Some("registered")),
        "{r}"
    );
    let claim = steps(&r, "screen_claim");
    assert_eq!(claim[0]["outcome"], "provisioned", "{r}");
    assert_eq!(claim[0]["new_dn"], "1004");
    assert_eq!(
        claim[0]["screens"],
        serde_json::json!(["CiscoIPPhoneInput", "CiscoIPPhoneText", "CiscoIPPhoneText"])
    );
    assert_eq!(r["check_syncs"], 1, "{r}");
    let regs = steps(&r, "register");
    let (first, last) = (regs[0], *regs.last().unwrap());
    assert_eq!(
        (last["dn"].as_str(), last["status"].as_u64()),
        (Some("1004"), Some(200)),
        "{r}"
    );
    assert_eq!(last["dn_before"], first["dn"]);
    assert_ne!(first["dn"], "1004");
    let d = device(s, "SEP0A1B2C0005A1").unwrap();
    assert_eq!(
        (d["owner"].as_str(), d["dn"].as_str()),
        (Some("jsmith"), Some("1004"))
    );
    assert_eq!(
        claims_of(s, "SEP0A1B2C0005A1"),
        [("screen".to_owned(), "SUCCESS".to_owned())]
    );
}

/// A wrong PIN: the screen says so, the phone stays on its temporary DN.
fn wrong_pin(s: &Service) {
    let (code, r) = screen_phone(s, "0A1B2C0005B1", "1005", "11111", &[]);
    assert_ne!(code, 0, "{r}");
    assert_eq!(r["outcome"], "claim_invalid_credentials", "{r}");
    assert_eq!(r["check_syncs"], 0);
    let d = device(s, "SEP0A1B2C0005B1").unwrap();
    assert_eq!(d["auto_registered"], true);
    assert_eq!(
        claims_of(s, "SEP0A1B2C0005B1"),
        [("screen".to_owned(), "INVALID_CREDENTIALS".to_owned())]
    );
}

/// Wrong PINs up to the threshold lock the user out of this phone: the right PIN then gets the
/// same screen (the audit says ACCOUNT_LOCKED). Another phone's token opens nothing here.
fn lockout_and_another_phones_token(s: &Service) {
    let device = "SEP0A1B2C0005C1";
    let (_, r) = screen_phone(s, "0A1B2C0005C1", "1005", "00000", &[]);
    assert_eq!(r["outcome"], "claim_invalid_credentials", "{r}");
    let path = idle_path(s, device);
    // The credential policy's threshold is 5 (config/selfprov.toml): four more.
    for _ in 0..4 {
        let a = http_get(s.config_port, &format!("{path}/submit?user=1005&pin=00000"));
        assert!(
            a.starts_with("HTTP/1.0 200") || a.starts_with("HTTP/1.1 200"),
            "{a}"
        );
        assert!(a.contains("<Prompt>INVALID_CREDENTIALS</Prompt>"), "{a}");
    }
    let password = secret(s, "cisco", device);
    let (code, r) = screen_phone(
        s,
        "0A1B2C0005C1",
        "1005",
        "54321",
        &["--password", &password],
    );
    assert_ne!(code, 0);
    assert_eq!(r["outcome"], "claim_invalid_credentials", "{r}");
    let codes: Vec<String> = claims_of(s, device).into_iter().map(|(_, c)| c).collect();
    assert_eq!(codes.len(), 6, "{codes:?}");
    assert_eq!(
        codes.iter().filter(|c| *c == "ACCOUNT_LOCKED").count(),
        2,
        "{codes:?}"
    );
    assert_eq!(device_of(s, device)["auto_registered"], true);

    // This phone's token on another phone's pages: 403, nothing changed, nothing audited.
    let (_, other) = screen_phone(s, "0A1B2C0005C2", "1005", "1", &[]);
    assert_eq!(other["outcome"], "claim_invalid_credentials");
    let token = path.rsplit('/').next().unwrap();
    let a = http_get(
        s.config_port,
        &format!("/screen/SEP0A1B2C0005C2/{token}/submit?user=1005&pin=54321"),
    );
    assert!(a.contains(" 403 "), "{a}");
    assert_eq!(claims_of(s, "SEP0A1B2C0005C2").len(), 1);
    assert_eq!(device_of(s, "SEP0A1B2C0005C2")["auto_registered"], true);
}

fn device_of(s: &Service, name: &str) -> Value {
    device(s, name).unwrap_or_else(|| panic!("no device {name}"))
}

/// A user allowed one phone claims one on screen; a second phone is refused with the code.
fn device_limit(s: &Service) {
    cli_ok(
        s,
        &[
            "profile",
            "create",
            "One Phone",
            "--udt-desk-phone",
            "Desk Phones",
            "--device-limit",
            "1",
        ],
    );
    cli_stdin(
        s,
        &[
            "user",
            "create",
            "solo",
            "--first-name",
            "Solo",
            "--primary-extension",
            "1010",
            "--profile",
            "One Phone",
            "--pin-stdin",
        ],
        "48213\n",
    );
    let (code, r) = screen_phone(s, "0A1B2C0005D1", "1010", "48213", &[]);
    assert_eq!((code, r["dn"].as_str()), (0, Some("1010")), "{r}");
    let (code, r) = screen_phone(s, "0A1B2C0005D2", "1010", "48213", &[]);
    assert_ne!(code, 0);
    assert_eq!(r["outcome"], "claim_selfprov_device_limit", "{r}");
    assert_eq!(
        claims_of(s, "SEP0A1B2C0005D2"),
        [("screen".to_owned(), "SELFPROV_DEVICE_LIMIT".to_owned())]
    );
}

/// An activation code issued for a phone before it is plugged in: typed on its screen, the phone
/// is claimed at once (no confirmation) and comes back registered on the user's extension; the
/// code is spent.
fn activation_code(s: &Service) {
    cli_stdin(
        s,
        &[
            "user",
            "create",
            "coder",
            "--first-name",
            "Code",
            "--primary-extension",
            "1011",
            "--profile",
            "Standard Employee",
            "--pin-stdin",
        ],
        "73519\n",
    );
    let device = "SEP0A1B2C0005E1";
    let issued = cli(
        s,
        &["activation", "issue", "coder", "--device", device, "--json"],
    );
    let code = issued["code"].as_str().expect("the code").to_owned();
    let (exit, r) = screen_phone_typing(s, "0A1B2C0005E1", &["--code", &code], &[]);
    assert_eq!(
        (exit, r["outcome"].as_str(), r["dn"].as_str()),
        (0, Some("registered"), Some("1011")),
        "{r}"
    );
    let claim = steps(&r, "screen_claim");
    assert_eq!(claim[0]["outcome"], "provisioned", "{r}");
    assert_eq!(
        claim[0]["screens"],
        serde_json::json!(["CiscoIPPhoneInput", "CiscoIPPhoneText"]),
        "no confirmation with a code"
    );
    assert_eq!(
        claims_of(s, device),
        [("screen".to_owned(), "SUCCESS".to_owned())]
    );
    let codes = cli(s, &["activation", "list", "coder", "--json"]);
    assert_eq!(codes[0]["state"], "used", "{codes:#}");
}

#[test]
fn phones_claim_themselves_on_screen_with_the_same_rules_codes_and_audit_as_the_ivr() {
    let s = config("e2e-screen-claim");
    // Several new phones from 127.0.0.1 at once; six logins on one phone within the minute.
    many_phones_from_one_address(&s);
    s.edit(
        "screen_attempts_per_minute = 5",
        "screen_attempts_per_minute = 10",
    );
    let (_svc, err) = start_service(&s);
    cli_ok(&s, &["demo", "load"]);
    let shared = &s;
    std::thread::scope(|t| {
        let runs: Vec<_> = [
            success,
            wrong_pin,
            lockout_and_another_phones_token,
            device_limit,
            activation_code,
        ]
        .into_iter()
        .map(|f| t.spawn(move || f(shared)))
        .collect();
        for r in runs {
            if let Err(e) = r.join() {
                std::panic::resume_unwind(e);
            }
        }
    });
    // The 403 of another phone's token is a line fail2ban bans the address for.
    let line = err
        .wait_for("screen request refused", std::time::Duration::from_secs(5))
        .expect("the refusal is logged");
    assert_eq!(fail2ban_host(&line).as_deref(), Some("127.0.0.1"), "{line}");
}
