//! The test phone boots as each vendor's phone does (`selfprov phone --boot`), against the
//! running service: it fetches that vendor's files, registers on its temporary DN, claims 1004
//! through the IVR, receives NOTIFY check-sync, fetches again and comes back registered as 1004
//! with its new secret, the temporary DN free again and the old secret refused. Release, move
//! and replace through the HTTP API each reach the phone the same way: check-sync, new file, new
//! DN.

mod common;

use common::api::{account, Client};
use common::boot::*;
use common::*;
use serde_json::Value;


/// A new phone of `vendor` boots on a temporary DN; booted again with the secret it got, it
/// claims 1004 and comes back registered as 1004. The two boots' reports.
fn boots_claims_and_comes_back_as_1004(vendor: &str, mac: &str, files: &[&str]) -> (Value, Value) {
    let (s, _svc, _err) = demo_service(&format!("e2e-boot-{vendor}"));
    let first = boot(&s, vendor, mac, &[]);
    let temp = first.registered_first();
    let first_boot = first.report();
    let r = &first_boot;
    assert_eq!(r["outcome"], "registered", "{r}");
    let fetched: Vec<&str> = steps(r, "fetch")
        .iter()
        .filter(|f| f["served"] == true)
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(fetched, files, "{vendor} files, in its order: {r}");
    let device = first.device.clone();
    drop(first);
    let old = secret(&s, vendor, &device);

    // Rebooted with the secret of its file: the device file is fetched with digest.
    let phone = boot(
        &s,
        vendor,
        mac,
        &["--password", &old, "--digits", "1004#12345#1"],
    );
    assert_eq!(phone.registered_first(), temp);
    let r = phone.report();
    assert_eq!(r["outcome"], "registered", "{r}");
    assert_eq!(r["dn"], "1004");
    assert_eq!(r["check_syncs"], 1);
    let device_file = files.last().unwrap();
    assert!(
        steps(&r, "fetch")
            .iter()
            .any(|f| f["file"] == *device_file && f["digest"] == true && f["served"] == true),
        "{r}"
    );
    let claim = steps(&r, "claim");
    assert_eq!(claim[0]["outcome"], "provisioned", "{r}");
    assert_eq!(claim[0]["new_dn"], "1004");
    let regs = steps(&r, "register");
    let last = regs.last().unwrap();
    assert_eq!(
        (
            &last["dn"],
            &last["dn_before"],
            &last["status"],
            &last["digest"]
        ),
        (
            &Value::from("1004"),
            &Value::from(temp.as_str()),
            &Value::from(200),
            &Value::from(true)
        ),
        "{r}"
    );
    // The temporary DN is back in the pool; the secret it had no longer registers.
    assert!(!dn_taken(&s, &temp), "{temp} still taken");
    let mut ua = ua::Ua::new(&s, &device);
    let (_, refused) = ua.register(3600, Some((&device, &old)));
    assert_ne!(refused.status, Some(200), "the old secret still registers");
    // The same request with the new secret registers: the refusal is the secret's.
    let new = secret(&s, vendor, &device);
    assert_ne!(new, old);
    assert_eq!(ua.register(3600, Some((&device, &new))).1.status, Some(200));
    (first_boot, r)
}

#[test]
fn a_cisco_phone_boots_claims_and_comes_back_as_1004() {
    let device_file = "SEP0A1B2C000001.cnf.xml";
    let (first, second) = boots_claims_and_comes_back_as_1004(
        "cisco",
        "0A1B2C000001",
        &["XmlDefault.cnf.xml", device_file],
    );
    // A new Cisco phone takes both files over TFTP; with a secret, TFTP (no credentials) no
    // longer serves its file and it asks over HTTP with digest.
    assert!(
        steps(&first, "fetch").iter().all(|f| f["over"] == "tftp"),
        "{first}"
    );
    let tries: Vec<(&Value, &Value)> = steps(&second, "fetch")
        .into_iter()
        .filter(|f| f["file"] == device_file)
        .map(|f| (&f["over"], &f["served"]))
        .collect();
    assert_eq!(
        &tries[..2],
        [
            (&"tftp".into(), &false.into()),
            (&"http".into(), &true.into())
        ],
        "{second}"
    );
}

#[test]
fn a_yealink_phone_boots_claims_and_comes_back_as_1004() {
    boots_claims_and_comes_back_as_1004(
        "yealink",
        "0A1B2C000002",
        &["y000000000108.cfg", "0a1b2c000002.cfg"],
    );
}

#[test]
fn a_polycom_phone_boots_claims_and_comes_back_as_1004() {
    boots_claims_and_comes_back_as_1004(
        "polycom",
        "0A1B2C000003",
        &[
            "000000000000.cfg",
            "0a1b2c000003.cfg",
            "0a1b2c000003-selfprov.cfg",
        ],
    );
}

/// A phone that claimed 1004 and follows one more check-sync; the API's client.
fn claimed_phone(s: &Service, vendor: &str, mac: &str, role: &str) -> (BootPhone, Client) {
    let phone = boot(
        s,
        vendor,
        mac,
        &["--digits", "1004#12345#1", "--syncs", "2"],
    );
    phone.registered("1004");
    let api = Client::token(s.admin_port, &account(s, "op", role));
    (phone, api)
}

/// POST `/devices/{device}/{op}`: 200, and its answer.
fn device_op(api: &Client, device: &str, op: &str, body: Value) -> Value {
    let a = api.json("POST", &format!("/devices/{device}/{op}"), &body);
    assert_eq!(a.status, 200, "{op}: {}", a.body);
    a.json()
}

/// The phone's report: it followed every check-sync and ended registered, coming from DN
/// `before` to `dn` (when given) at its last REGISTER.
fn came_back(phone: &BootPhone, dn: Option<&str>, before: &str) -> Value {
    let r = phone.report();
    assert_eq!(r["outcome"], "registered", "{r}");
    let last = *steps(&r, "register").last().unwrap();
    assert_eq!(last["dn_before"], before, "{r}");
    if let Some(dn) = dn {
        assert_eq!(
            (last["dn"].as_str(), r["dn"].as_str()),
            (Some(dn), Some(dn)),
            "{r}"
        );
    }
    r
}

#[test]
fn a_release_through_the_api_brings_the_phone_back_on_a_temporary_dn() {
    let (s, _svc, _err) = demo_service("e2e-boot-release");
    let (phone, api) = claimed_phone(&s, "yealink", "0A1B2C000011", "helpdesk");
    let released = device_op(&api, &phone.device, "release", Value::Null);
    let dn = released["dn"].as_str().unwrap();
    assert_ne!(dn, "1004");
    let r = came_back(&phone, Some(dn), "1004");
    assert_eq!(r["check_syncs"], 2, "{r}");
}

#[test]
fn a_move_through_the_api_brings_the_phone_back_on_the_other_users_extension() {
    let (s, _svc, _err) = demo_service("e2e-boot-move");
    let (phone, api) = claimed_phone(&s, "polycom", "0A1B2C000012", "helpdesk");
    device_op(
        &api,
        &phone.device,
        "move",
        serde_json::json!({"user_id": "mdupont"}),
    );
    came_back(&phone, Some("1005"), "1004");
}

#[test]
fn a_replace_through_the_api_moves_the_lines_to_the_new_phone_and_drops_the_old_file() {
    let (s, _svc, _err) = demo_service("e2e-boot-replace");
    let (old, api) = claimed_phone(&s, "cisco", "0A1B2C000013", "administrator");
    let new = boot(&s, "cisco", "0A1B2C000014", &["--syncs", "1"]);
    let temp = new.registered_first();
    device_op(
        &api,
        &old.device,
        "replace",
        serde_json::json!({"new": new.device}),
    );
    // The new phone: check-sync, its file now carries 1004.
    came_back(&new, Some("1004"), &temp);
    // The old phone: check-sync, and its file with the lines is no longer served: its MAC is an
    // unknown phone again, auto-registered by the fetch on a new temporary DN.
    let r = came_back(&old, None, "1004");
    let refetch = *steps(&r, "fetch").last().unwrap();
    assert_eq!(refetch["file"], "SEP0A1B2C000013.cnf.xml");
    assert_eq!(refetch["digest"], false, "{r}");
    assert_ne!(r["dn"], "1004", "{r}");
    let d = device(&s, &new.device).unwrap();
    assert_eq!(
        (d["dn"].as_str(), d["owner"].as_str()),
        (Some("1004"), Some("jsmith"))
    );
    let d = device(&s, &old.device).unwrap();
    assert_eq!(
        (d["auto_registered"].as_bool(), d["owner"].as_str()),
        (Some(true), None)
    );
}
