//! Logging in to the API of a running service: the session cookie's attributes, CSRF protection
//! of a session's changes, logout, login lockout and per-address throttling, the first
//! administrator's password file, and secrets (tokens, passwords, cookies) never in the log.
//! Also the device actions and the live tables, with a real phone.

mod common;

use common::api::*;
use common::*;
use serde_json::json;
use std::time::Duration;

#[test]
fn a_session_needs_its_csrf_token_for_changes_and_ends_at_logout() {
    let s = config("e2e-api-session");
    let (_service, _err) = start_service(&s);
    // The first administrator's password is in a file readable by its owner only.
    let file = s.dir.path().join("var/initial-admin-password");
    let first = std::fs::read_to_string(&file).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (a, session) = login(s.admin_port, "admin", first.trim());
    assert_eq!(a.status, 200, "{}", a.body);
    let cookie = a.header("set-cookie").unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert_eq!(a.header("cache-control"), Some("no-store"));
    let (value, csrf) = session.unwrap();
    let c = Client::anonymous(s.admin_port).with("Cookie", &format!("selfprov_session={value}"));
    let me = c.get("/session").json();
    assert_eq!(
        (me["name"].as_str(), me["via"].as_str()),
        (Some("admin"), Some("session"))
    );
    assert_eq!(me["csrf_token"], csrf.as_str());
    // Reading needs no CSRF token; a change does, the right one.
    assert_eq!(c.get("/users").status, 200);
    let change = json!({"first_name": "Johnny"});
    let no = c.json("PATCH", "/users/jsmith", &change);
    assert_eq!(no.status, 403, "{}", no.body);
    assert!(no.body.contains("X-CSRF-Token"));
    let wrong = c
        .with("X-CSRF-Token", "0123456789abcdef0123456789abcdef")
        .json("PATCH", "/users/jsmith", &change);
    assert_eq!(wrong.status, 403);
    let with = c.with("X-CSRF-Token", &csrf);
    assert_eq!(with.json("PATCH", "/users/jsmith", &change).status, 200);
    assert_eq!(
        c.get("/audit?object=jsmith&limit=1").json()[0]["actor"],
        "api:admin"
    );
    // Logout is a change too; afterwards the cookie is worth nothing.
    assert_eq!(c.delete("/session").status, 403);
    let out = with.delete("/session");
    assert_eq!(out.status, 204);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(c.get("/users").status, 401);
    // A change of password clears nothing else: the old one stops working.
    let t = account(&s, "ops", "administrator");
    let ops = Client::token(s.admin_port, &t);
    assert_eq!(
        ops.json(
            "POST",
            "/accounts/admin/password",
            &json!({"password": "a brand new password"})
        )
        .status,
        204
    );
    assert_eq!(login(s.admin_port, "admin", first.trim()).0.status, 401);
    assert_eq!(
        login(s.admin_port, "admin", "a brand new password")
            .0
            .status,
        200
    );
}

#[test]
fn logins_lock_after_wrong_passwords_and_are_throttled_per_address() {
    let s = config("e2e-api-lockout");
    s.edit(
        "[admin]\n",
        "[admin]\nlogin_failed_attempts = 3\nlogin_lockout = \"10m\"\nlogins_per_minute = 8\n",
    );
    let (_service, _err) = start_service(&s);
    cli_stdin(
        &s,
        &["admin", "create", "lee", "--role", "helpdesk"],
        PASSWORD,
    );
    for i in 1..=3 {
        let (a, _) = login(s.admin_port, "lee", "wrong password!");
        let slug = a.json()["type"].as_str().unwrap().to_owned();
        assert_eq!(a.status, 401, "attempt {i}: {}", a.body);
        let want = if i < 3 {
            "login-failed"
        } else {
            "login-locked"
        };
        assert!(slug.ends_with(want), "attempt {i}: {}", a.body);
    }
    // Locked: the right password too, with Retry-After; unknown names answer like wrong passwords.
    let (a, session) = login(s.admin_port, "lee", PASSWORD);
    assert_eq!(a.status, 401);
    assert!(a.json()["type"].as_str().unwrap().ends_with("login-locked"));
    assert!(a.header("retry-after").unwrap().parse::<u64>().unwrap() > 500);
    assert!(session.is_none());
    let (a, _) = login(s.admin_port, "nobody", PASSWORD);
    assert!(a.json()["type"].as_str().unwrap().ends_with("login-failed"));
    let list = cli(&s, &["admin", "list", "--json"]);
    let lee = list
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "lee")
        .unwrap()
        .clone();
    assert!(lee["locked_until_ms"].is_i64(), "{lee}");
    // An administrator unlocks it.
    cli_ok(&s, &["admin", "unlock", "lee"]);
    assert_eq!(login(s.admin_port, "lee", PASSWORD).0.status, 200);
    // Eight attempts a minute from one address (six so far); the ninth waits.
    for _ in 7..=8 {
        assert_eq!(login(s.admin_port, "lee", PASSWORD).0.status, 200);
    }
    let (a, _) = login(s.admin_port, "lee", PASSWORD);
    assert_eq!(a.status, 429, "{}", a.body);
    assert!(a.header("retry-after").is_some());
}

#[test]
fn tokens_passwords_and_cookies_never_reach_the_log() {
    let s = config("e2e-api-logs");
    s.edit("level = \"info\"", "level = \"debug\"");
    let (_service, err) = start_service(&s);
    let token = account(&s, "auditor", "administrator");
    let c = Client::token(s.admin_port, &token);
    assert_eq!(c.get("/users").status, 200);
    let made = c
        .json("POST", "/tokens", &json!({"description": "ci"}))
        .json();
    let second = made["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        Client::token(s.admin_port, &second).get("/devices").status,
        200
    );
    let last = if token.ends_with('0') { '1' } else { '0' };
    let almost = format!("{}{last}", &token[..token.len() - 1]);
    assert_eq!(
        Client::token(s.admin_port, &almost).get("/users").status,
        401
    );
    let (a, session) = login(s.admin_port, "auditor", PASSWORD);
    assert_eq!(a.status, 200);
    let (cookie, csrf) = session.unwrap();
    let (failed, _) = login(s.admin_port, "auditor", "not the password at all");
    assert_eq!(failed.status, 401);
    let pin = c.json("POST", "/users/jsmith/reset-pin", &json!({})).json();
    let generated = pin["pin"].as_str().unwrap().to_owned();
    // A last failed login under a name nobody has: once its log line is read, so are the lines
    // of every request before it (one stderr, written in order).
    assert_eq!(
        login(s.admin_port, "end-of-test", "not the password at all")
            .0
            .status,
        401
    );
    assert!(err
        .wait_for_match(
            |l| l.contains("login failed") && l.contains("end-of-test"),
            Duration::from_secs(10)
        )
        .is_some());
    let log = err.lines().join("\n");
    assert!(
        log.contains("login failed") && log.contains("administrator logged in"),
        "{log}"
    );
    let secret_part = |t: &str| t.rsplit('_').next().unwrap().to_owned();
    for (what, secret) in [
        ("token", secret_part(&token)),
        ("token made through the API", secret_part(&second)),
        ("password", PASSWORD.to_owned()),
        ("wrong password", "not the password at all".to_owned()),
        ("session cookie", cookie),
        ("CSRF token", csrf),
    ] {
        assert!(!log.contains(&secret), "the {what} is in the log");
    }
    // Nor in the audit log.
    let audit = c.get("/audit?limit=1000").body;
    for secret in [
        secret_part(&token),
        secret_part(&second),
        PASSWORD.to_owned(),
    ] {
        assert!(!audit.contains(&secret));
    }
    assert!(
        !audit.contains(&format!("\"{generated}\"")),
        "a generated PIN stays out of the audit"
    );
}

#[test]
fn devices_are_moved_and_released_by_the_helpdesk_and_live_tables_show_phones() {
    let s = config("e2e-api-devices");
    let (_service, _err) = start_service(&s);
    let r = roles(&s);
    let (code, report) = phone(&s, &["--digits", "1004#12345#1"]);
    assert_eq!(code, 0, "{report:#}");
    let device = report["device"].as_str().unwrap().to_owned();
    // Found by a MAC prefix, owned by jsmith; its history has the claim.
    let mac = &device[3..9];
    let mac_search = format!("{}:{}:{}*", &mac[0..2], &mac[2..4], &mac[4..6]);
    let found = r
        .read_only
        .get(&format!("/devices?search={mac_search}"))
        .json();
    assert_eq!(found["total"], 1, "{found:#}");
    assert_eq!(found["items"][0]["owner"], "jsmith");
    let history = r
        .read_only
        .get(&format!("/devices/{device}/history"))
        .json();
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "claim" && e["code"] == "SUCCESS"),
        "{history:#}"
    );
    let regs = r.read_only.get("/live/registrations").json();
    assert!(
        regs.as_array()
            .unwrap()
            .iter()
            .any(|x| x["device"] == device.as_str()),
        "{regs:#}"
    );
    // The helpdesk moves it to mdupont and releases it; the audit names them.
    let moved = r.helpdesk.json(
        "POST",
        &format!("/devices/{device}/move"),
        &json!({"user_id": "mdupont"}),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    let m = moved.json();
    assert_eq!(
        (m["outcome"].as_str(), m["extension"].as_str()),
        (Some("assigned"), Some("1005"))
    );
    let released = r
        .helpdesk
        .json("POST", &format!("/devices/{device}/release"), &json!({}));
    assert_eq!(released.status, 200, "{}", released.body);
    let d = released.json();
    assert!(
        d["owner"].is_null() && d["auto_registered"] == true,
        "{d:#}"
    );
    let again = r
        .helpdesk
        .json("POST", &format!("/devices/{device}/release"), &json!({}));
    assert_eq!(
        (again.status, again.field().as_deref()),
        (422, Some("device"))
    );
    let history = r
        .read_only
        .get(&format!("/devices/{device}/history?limit=10"))
        .json();
    let actors: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(&actors[..2], ["api:harry", "api:harry"], "{history:#}");
    // Assigning is an administrator's claim, with the claim's outcome codes.
    let to_bob = json!({"user_id": "no-such-user"});
    let refused = r
        .admin
        .json("POST", &format!("/devices/{device}/assign"), &to_bob);
    assert_eq!(
        (refused.status, refused.json()["code"].as_str()),
        (422, Some("INVALID_CREDENTIALS")),
        "{}",
        refused.body
    );
    let ok = r.admin.json(
        "POST",
        &format!("/devices/{device}/assign"),
        &json!({"user_id": "jsmith"}),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    let limit = r.admin.json(
        "PATCH",
        "/profiles/Standard%20Employee",
        &json!({"device_limit": 1}),
    );
    assert_eq!(limit.status, 200);
    let other = r.admin.json(
        "POST",
        "/devices",
        &json!({"name": "SEP00000000BEEF", "auto_registered": true, "dn": "1999"}),
    );
    assert_eq!(other.status, 201, "{}", other.body);
    let over = r.admin.json(
        "POST",
        "/devices/SEP00000000BEEF/assign",
        &json!({"user_id": "jsmith"}),
    );
    assert_eq!(
        (over.status, over.json()["code"].as_str()),
        (409, Some("SELFPROV_DEVICE_LIMIT")),
        "{}",
        over.body
    );
    // A call in progress shows in /live/calls.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_selfprov"));
    cmd.arg("--config").arg(&s.cfg).args([
        "phone",
        "--digits",
        "1005#",
        "--typing-delay",
        "8s",
        "--json",
    ]);
    let (_phone, _o, _e) = selfprov_testkit::spawn_watched("phone", &mut cmd).unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let calls = r.read_only.get("/live/calls").json();
        if let Some(c) = calls.as_array().unwrap().first() {
            assert!(
                c["call_id"].as_str().is_some_and(|x| !x.is_empty()),
                "{calls:#}"
            );
            break;
        }
        assert!(std::time::Instant::now() < until, "no call ever showed");
        std::thread::sleep(Duration::from_millis(100));
    }
}
