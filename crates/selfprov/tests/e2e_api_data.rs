//! The HTTP API against a running service: a wrong value of each field is a problem naming the
//! field; a change based on an outdated read is refused (412), also when two clients race; the
//! CSV import (preview with line errors, commit all or nothing) and the export that re-imports.

mod common;

use common::api::*;
use common::*;
use serde_json::{json, Value};

#[test]
fn a_wrong_value_names_its_field() {
    let s = config("e2e-api-fields");
    let (_service, _err) = start_service(&s);
    let a = roles(&s).admin;
    let long = "x".repeat(300);
    let cases: Vec<(&str, String, Value, &str)> = vec![
        (
            "POST",
            "/users".into(),
            json!({"user_id": "bad id", "pin": "1234"}),
            "user_id",
        ),
        (
            "POST",
            "/users".into(),
            json!({"user_id": "nopin", "primary_extension": "1200"}),
            "pin",
        ),
        (
            "POST",
            "/users".into(),
            json!({"first_name": "No Id"}),
            "user_id",
        ),
        (
            "PATCH",
            "/users/jsmith".into(),
            json!({"primary_extension": "10x4"}),
            "primary_extension",
        ),
        (
            "PATCH",
            "/users/jsmith".into(),
            json!({"self_service_id": "abc"}),
            "self_service_id",
        ),
        (
            "PATCH",
            "/users/jsmith".into(),
            json!({"first_name": "x".repeat(65)}),
            "first_name",
        ),
        (
            "PATCH",
            "/users/jsmith".into(),
            json!({"last_name": "a\u{7}b"}),
            "last_name",
        ),
        (
            "PATCH",
            "/users/jsmith".into(),
            json!({"user_profile": "Nope"}),
            "user_profile",
        ),
        (
            "PATCH",
            "/users/jsmith".into(),
            json!({"enabled": "yes"}),
            "enabled",
        ),
        (
            "PATCH",
            "/users/jsmith".into(),
            json!({"pin": "12a4"}),
            "pin",
        ),
        (
            "PATCH",
            "/users/jsmith".into(),
            json!({"colour": "red"}),
            "colour",
        ),
        (
            "PATCH",
            "/users/mdupont".into(),
            json!({"self_service_id": "1004"}),
            "self_service_id",
        ),
        (
            "POST",
            "/profiles".into(),
            json!({"name": "P2", "device_limit": 0}),
            "device_limit",
        ),
        (
            "PATCH",
            "/profiles/Standard%20Employee".into(),
            json!({"device_limit": 21}),
            "device_limit",
        ),
        (
            "PATCH",
            "/profiles/Standard%20Employee".into(),
            json!({"udt_desk_phone": "Nope"}),
            "udt_desk_phone",
        ),
        (
            "PATCH",
            "/profiles/Standard%20Employee".into(),
            json!({"ult": "Nope"}),
            "ult",
        ),
        (
            "PATCH",
            "/profiles/Standard%20Employee".into(),
            json!({"description": long}),
            "description",
        ),
        (
            "POST",
            "/udts".into(),
            json!({"name": "", "secure": false}),
            "name",
        ),
        (
            "POST",
            "/udts".into(),
            json!({"name": "U2", "secure": "no"}),
            "secure",
        ),
        (
            "POST",
            "/udts".into(),
            json!({"name": "U3", "device_pool": long}),
            "device_pool",
        ),
        (
            "POST",
            "/ults".into(),
            json!({"name": "L2", "partition": "a\u{1}"}),
            "partition",
        ),
        (
            "POST",
            "/devices".into(),
            json!({"name": "SEP001122334455", "class": "tablet"}),
            "class",
        ),
        (
            "POST",
            "/devices".into(),
            json!({"name": "SEP001122334456", "dn": "x1"}),
            "dn",
        ),
        (
            "POST",
            "/devices".into(),
            json!({"name": "SEP001122334457", "owner": "nobody"}),
            "owner",
        ),
        (
            "POST",
            "/devices".into(),
            json!({"name": "has space"}),
            "name",
        ),
        (
            "PATCH",
            "/settings".into(),
            json!({"authentication_mode": "sometimes"}),
            "authentication_mode",
        ),
        (
            "PATCH",
            "/settings".into(),
            json!({"dn_range_start": "abc"}),
            "dn_range_start",
        ),
        (
            "PATCH",
            "/settings".into(),
            json!({"languages": ["xx"]}),
            "languages",
        ),
        (
            "PATCH",
            "/settings".into(),
            json!({"languages": ["en_US", 3]}),
            "languages[1]",
        ),
        (
            "PATCH",
            "/settings".into(),
            json!({"auto_registration_udt": "Nope"}),
            "auto_registration_udt",
        ),
        (
            "PATCH",
            "/settings".into(),
            json!({"authentication_code": "12ab"}),
            "authentication_code",
        ),
        (
            "POST",
            "/settings/reset".into(),
            json!({"names": ["colour"]}),
            "settings",
        ),
        (
            "POST",
            "/devices/SEP000000000001/assign".into(),
            json!({"user_id": "bad id"}),
            "user_id",
        ),
        (
            "POST",
            "/devices/SEP000000000001/replace".into(),
            json!({"new": "has space"}),
            "new",
        ),
        (
            "POST",
            "/accounts".into(),
            json!({"name": "a b", "role": "helpdesk", "password": "long enough pw"}),
            "name",
        ),
        (
            "POST",
            "/accounts".into(),
            json!({"name": "ab", "role": "root", "password": "long enough pw"}),
            "role",
        ),
        (
            "POST",
            "/accounts".into(),
            json!({"name": "ab", "role": "helpdesk", "password": "short"}),
            "password",
        ),
        ("POST", "/tokens".into(), json!({"role": "god"}), "role"),
        (
            "POST",
            "/tokens".into(),
            json!({"expires_in_days": 99999}),
            "expires_in_days",
        ),
        (
            "POST",
            "/users/jsmith/reset-pin".into(),
            json!({"pin": "x"}),
            "pin",
        ),
    ];
    for (method, path, body, field) in &cases {
        let r = a.json(method, path, body);
        assert_eq!(r.status, 422, "{method} {path} {body}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert_eq!(
            r.field().as_deref(),
            Some(*field),
            "{method} {path} {body}: {}",
            r.body
        );
        assert!(r.json()["detail"]
            .as_str()
            .unwrap()
            .contains(field.split('[').next().unwrap()));
    }
    // Query parameters.
    for (q, field) in [
        ("/users?sort=colour", "sort"),
        ("/users?limit=5000", "limit"),
        ("/users?desc=maybe", "desc"),
        ("/users?offset=-1", "offset"),
        ("/users?search=", "search"),
        ("/users?colour=red", "colour"),
        ("/devices?sort=colour", "sort"),
        ("/udts?sort=device_pool", "sort"),
        ("/audit?since=yesterday-ish", "since"),
        ("/audit?kind=everything", "kind"),
        ("/audit?code=NOPE", "code"),
        ("/audit?limit=20000", "limit"),
        ("/import/users/preview?existing=sometimes", "existing"),
    ] {
        let r = if q.starts_with("/import") {
            a.csv(q, "user_id\n")
        } else {
            a.get(q)
        };
        assert_eq!(
            (r.status, r.field().as_deref()),
            (422, Some(field)),
            "{q}: {}",
            r.body
        );
    }
    // Not JSON at all, or not said to be: 400 and 415. A PIN is never echoed.
    let r = a.raw(
        "PATCH",
        "/users/jsmith",
        Some(("application/json", b"{not json")),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let r = a.raw("PATCH", "/users/jsmith", Some(("text/plain", b"{}")));
    assert_eq!(r.status, 415, "{}", r.body);
    let r = a.json("PATCH", "/users/jsmith", &json!({"pin": "98a76"}));
    assert!(!r.body.contains("98a76"), "{}", r.body);
    // The other classes of errors.
    assert_eq!(a.get("/users/nobody").status, 404);
    let dup = a.json(
        "POST",
        "/users",
        &json!({"user_id": "jsmith", "pin": "1234"}),
    );
    assert_eq!(dup.status, 409, "{}", dup.body);
    let in_use = a.delete("/profiles/Standard%20Employee");
    assert_eq!(in_use.status, 409, "{}", in_use.body);
}

#[test]
fn a_change_based_on_an_outdated_read_is_refused() {
    let s = config("e2e-api-etag");
    let (_service, _err) = start_service(&s);
    let r = roles(&s);
    let a = r.admin;
    let read = a.get("/users/jsmith");
    let v1 = read.header("etag").unwrap().to_owned();
    let first =
        a.with("If-Match", &v1)
            .json("PATCH", "/users/jsmith", &json!({"first_name": "Jo"}));
    assert_eq!(first.status, 200, "{}", first.body);
    let v2 = first.header("etag").unwrap().to_owned();
    assert_ne!(v1, v2);
    assert_eq!(
        a.get("/users/jsmith").header("etag"),
        Some(v2.as_str()),
        "the ETag answered is the ETag read"
    );
    // Someone else, still holding v1, is refused and told the current version.
    let stale =
        a.with("If-Match", &v1)
            .json("PATCH", "/users/jsmith", &json!({"last_name": "Lost"}));
    assert_eq!(stale.status, 412, "{}", stale.body);
    assert_eq!(stale.json()["current_etag"], v2.as_str());
    assert_eq!(a.get("/users/jsmith").json()["last_name"], "Smith");
    assert_eq!(a.with("If-Match", &v1).delete("/users/jsmith").status, 412);
    // W/ and * forms.
    let weak = format!("W/{v2}");
    assert_eq!(
        a.with("If-Match", &weak)
            .json("PATCH", "/users/jsmith", &json!({"first_name": "John"}))
            .status,
        200
    );
    assert_eq!(
        a.with("If-Match", "*")
            .json("PATCH", "/users/jsmith", &json!({"first_name": "J"}))
            .status,
        200
    );
    // Two clients racing with the same version: exactly one wins.
    let v = a
        .get("/udts/Desk%20Phones")
        .header("etag")
        .unwrap()
        .to_owned();
    let racers: Vec<_> = (0..2)
        .map(|i| {
            let c = a.with("If-Match", &v);
            std::thread::spawn(move || {
                c.json(
                    "PATCH",
                    "/udts/Desk%20Phones",
                    &json!({"description": format!("racer {i}")}),
                )
                .status
            })
        })
        .collect();
    let mut statuses: Vec<u16> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 412]);
    // Settings and every other kind carry ETags too.
    let sv = a.get("/settings").header("etag").unwrap().to_owned();
    let saved = a
        .with("If-Match", &sv)
        .json("PATCH", "/settings", &json!({"ivr_enabled": false}));
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert!(saved.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("Save successful."));
    let again = a
        .with("If-Match", &sv)
        .json("POST", "/settings/reset", &json!({"names": ["all"]}));
    assert_eq!(again.status, 412, "{}", again.body);
    for path in [
        "/profiles/Standard%20Employee",
        "/ults/Employee%20Line",
        "/udts/Softphones",
    ] {
        let tag = a.get(path).header("etag").unwrap().to_owned();
        assert_eq!(
            a.with("If-Match", &tag)
                .json("PATCH", path, &json!({"description": "new"}))
                .status,
            200
        );
        assert_eq!(
            a.with("If-Match", &tag)
                .json("PATCH", path, &json!({"description": "old"}))
                .status,
            412,
            "{path}"
        );
    }
    // Every change above is in the audit log under the account that made it.
    let log = a.get("/audit?actor=api:alice&limit=50").json();
    assert!(log.as_array().unwrap().len() >= 8, "{log:#}");
}

const HEADER: &str =
    "user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile";

#[test]
fn csv_import_preview_commit_and_an_export_that_reimports() {
    let s = config("e2e-api-import");
    let (_service, _err) = start_service(&s);
    let a = roles(&s).admin;
    let bad = format!(
        "{HEADER}\nann,Ann,Archer,,1234,3001,Standard Employee\nbob,Bob,Baker,,12x4,3002,\n\
         cid,Cid,\"Cole, Jr.\",,5678,3003,Nope\ndee,Dee,Dunn,,4321,3004,\n"
    );
    let p = a.csv("/import/users/preview", &bad);
    assert_eq!(p.status, 200, "{}", p.body);
    let pv = p.json();
    assert_eq!(
        (pv["rows"].as_u64(), pv["create"].as_u64()),
        (Some(4), Some(2)),
        "{pv:#}"
    );
    let lines: Vec<u64> = pv["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4], "{pv:#}");
    assert!(!p.body.contains("12x4"), "a PIN is never echoed");
    assert_eq!(a.get("/users/ann").status, 404, "a preview writes nothing");
    let c = a.csv("/import/users", &bad);
    assert_eq!(c.status, 422, "{}", c.body);
    assert_eq!(c.json()["errors"].as_array().unwrap().len(), 2);
    assert_eq!(a.get("/users/ann").status, 404, "all or nothing");
    assert_eq!(
        a.raw("POST", "/import/users", Some(("application/json", b"{}")))
            .status,
        415
    );

    let good = bad.replace("12x4", "1212").replace(",Nope", ",");
    let c = a.csv("/import/users", &good);
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(c.json()["created"], 4);
    assert_eq!(a.get("/users/cid").json()["last_name"], "Cole, Jr.");
    let audit = a.get("/audit?object=ann").json();
    assert!(
        audit[0]["detail"].as_str().unwrap().contains("import"),
        "{audit:#}"
    );
    assert_eq!(audit[0]["actor"], "api:alice");

    // The export: the import's format, PINs empty.
    let e = a.get("/export/users");
    assert_eq!(e.status, 200);
    assert!(e.header("content-type").unwrap().starts_with("text/csv"));
    let mut lines = e.body.lines();
    assert_eq!(lines.next(), Some(HEADER));
    assert_eq!(e.body.lines().count(), 1 + 6, "{}", e.body);
    assert!(
        e.body
            .contains("ann,Ann,Archer,3001,,3001,Standard Employee"),
        "{}",
        e.body
    );
    assert!(e.body.contains("\"Cole, Jr.\""));
    // Re-imported as it is: refused as new users; with existing=update it changes nothing.
    let p = a.csv("/import/users/preview", &e.body).json();
    assert_eq!(p["errors"].as_array().unwrap().len(), 6, "{p:#}");
    let p = a
        .csv("/import/users/preview?existing=update", &e.body)
        .json();
    assert_eq!(
        (p["update"].as_u64(), p["errors"].as_array().unwrap().len()),
        (Some(6), 0),
        "{p:#}"
    );
    let c = a.csv("/import/users?existing=update", &e.body).json();
    assert_eq!(
        (c["updated"].as_u64(), c["unchanged"].as_u64()),
        (Some(0), Some(6)),
        "{c:#}"
    );
    // Edited in a spreadsheet and re-imported: the change lands, the PINs stay.
    let edited = e.body.replace("ann,Ann,Archer", "ann,Ann,Arrow");
    let c = a.csv("/import/users?existing=update", &edited).json();
    assert_eq!(
        (c["updated"].as_u64(), c["unchanged"].as_u64()),
        (Some(1), Some(5)),
        "{c:#}"
    );
    let ann = a.get("/users/ann").json();
    assert_eq!(
        (ann["last_name"].as_str(), ann["pin_set"].as_bool()),
        (Some("Arrow"), Some(true))
    );
    let (code, report) = phone(&s, &["--digits", "3001#1234#1"]);
    assert_eq!(code, 0, "ann's PIN survived the re-import: {report:#}");
}
