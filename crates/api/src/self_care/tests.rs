//! The portal's API over a real operations layer (SQLite in memory), through the whole router:
//! login outcomes, the separation from administrators' sessions, CSRF, and a user's reach.

use super::*;
use crate::{live, AuthConfig, LiveView, Registration};
use axum::body::Body;
use axum::extract::connect_info::ConnectInfo;
use axum::http::Request;
use selfprov_operations::devices::DevicePatch;
use selfprov_operations::profiles::ProfilePatch;
use selfprov_operations::settings::SettingsBase;
use selfprov_operations::users::UserPatch;
use selfprov_operations::{Actor, Operations};
use selfprov_provisioning::accounts::Role;
use selfprov_provisioning::settings::CredentialPolicy;
use selfprov_provisioning::store::SqliteStore;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

struct World {
    router: axum::Router,
    ops: Operations,
    resynced: Arc<Mutex<Vec<String>>>,
}

/// The sample configuration's settings (`config/selfprov.toml`).
fn settings() -> SettingsBase {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/selfprov.toml");
    let cfg = selfprov_config::Config::load(std::path::Path::new(file)).unwrap();
    SettingsBase {
        self_provisioning: cfg.self_provisioning,
        auto_registration: cfg.auto_registration,
    }
}

/// The demo users (jsmith 1004/12345, mdupont 1005/54321), a phone each, `gina` whose profile
/// does not allow self-care, an administrator; jsmith's phone registered now.
fn world() -> World {
    let ops = Operations::new(Arc::new(SqliteStore::in_memory().unwrap()));
    let a = Actor::cli("test");
    selfprov_operations::demo::load_demo_data(&ops, &a).unwrap();
    for (name, owner, dn) in [
        ("SEP001122334455", "jsmith", "1004"),
        ("SEP00AABBCCDDEE", "mdupont", "1005"),
    ] {
        let p = DevicePatch {
            model: Some("Cisco 8845".into()),
            dn: Some(dn.into()),
            owner: Some(owner.into()),
            ..Default::default()
        };
        ops.create_device(&a, name, &p).unwrap();
    }
    let no_care = ProfilePatch {
        allow_self_care: Some(false),
        ..Default::default()
    };
    ops.create_profile(&a, "No Care", &no_care).unwrap();
    let gina = UserPatch {
        primary_extension: Some("1010".into()),
        user_profile: Some("No Care".into()),
        pin: Some("24680".into()),
        ..Default::default()
    };
    ops.create_user(&a, "gina", &gina).unwrap();
    ops.create_account(&a, "admin", Role::Administrator, "correct horse battery")
        .unwrap();
    let resynced = Arc::new(Mutex::new(Vec::new()));
    let r = resynced.clone();
    let registered: live::LiveSource = Arc::new(|| {
        Box::pin(async {
            Some(LiveView {
                calls: vec![],
                registrations: vec![Registration {
                    device: "SEP001122334455".into(),
                    contact: "sip:SEP001122334455@192.0.2.50:5060".into(),
                    source: "192.0.2.50:5060".into(),
                    expires_in_s: 3000,
                }],
            })
        })
    });
    let auth = AuthConfig {
        secure_cookie: true,
        logins_per_minute: 100,
        pins: CredentialPolicy {
            failed_attempts_threshold: 3,
            lockout_duration: Duration::from_secs(600),
            reset_on_success: true,
        },
        ..AuthConfig::default()
    };
    let state = ApiState::new(
        ops.clone(),
        Arc::new(settings),
        registered,
        Arc::new(move |names: Vec<String>| r.lock().unwrap().extend(names)),
        auth,
    );
    World {
        router: crate::router(state),
        ops,
        resynced,
    }
}

struct Answer {
    status: u16,
    cookie: Option<String>,
    json: serde_json::Value,
}

impl World {
    async fn send(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        csrf: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Answer {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(c) = cookie {
            b = b.header("cookie", c);
        }
        if let Some(t) = csrf {
            b = b.header("x-csrf-token", t);
        }
        let body = match body {
            Some(j) => {
                b = b.header("content-type", "application/json");
                Body::from(j.to_string())
            }
            None => Body::empty(),
        };
        let mut req = b.body(body).unwrap();
        let peer: SocketAddr = "192.0.2.7:40000".parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(peer));
        let r = self.router.clone().oneshot(req).await.unwrap();
        let status = r.status().as_u16();
        let cookie = r
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Answer {
            status,
            cookie,
            json,
        }
    }

    async fn login(&self, id: &str, pin: &str) -> Answer {
        let body = serde_json::json!({"self_service_id": id, "pin": pin});
        self.send("POST", "/api/v1/self-care/session", None, None, Some(body))
            .await
    }

    /// A portal request (`path` under `/api/v1/self-care`) with the user's cookie.
    async fn portal(
        &self,
        method: &str,
        path: &str,
        cookie: &str,
        csrf: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Answer {
        let path = format!("/api/v1/self-care{path}");
        self.send(method, &path, Some(cookie), csrf, body).await
    }

    async fn release(&self, device: &str, cookie: &str, csrf: Option<&str>) -> Answer {
        let path = format!("/phones/{device}/release");
        self.portal("POST", &path, cookie, csrf, None).await
    }

    /// A logged-in user: the `Cookie` header value and the CSRF token.
    async fn user(&self, id: &str, pin: &str) -> (String, String) {
        let a = self.login(id, pin).await;
        assert_eq!(a.status, 200, "{}", a.json);
        let set = a.cookie.unwrap();
        let pair = set.split(';').next().unwrap().to_owned();
        (pair, a.json["csrf_token"].as_str().unwrap().to_owned())
    }
}

fn kind(a: &Answer) -> &str {
    a.json["type"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn login_ok_wrong_pin_lockout_and_profile_not_allowed() {
    let w = world();
    let ok = w.login("1004", "12345").await;
    assert_eq!(ok.status, 200, "{}", ok.json);
    assert_eq!(ok.json["user_id"], "jsmith");
    let set = ok.cookie.unwrap();
    for part in [
        "selfprov_self_care=",
        "HttpOnly",
        "SameSite=Strict",
        "Secure",
        "Path=/api/v1/self-care",
    ] {
        assert!(set.contains(part), "{set} lacks {part}");
    }
    let wrong = w.login("1004", "99999").await;
    assert_eq!(
        (wrong.status, kind(&wrong)),
        (401, "urn:selfprov:problem:self-care-login-failed")
    );
    assert!(wrong.cookie.is_none());
    // Three wrong PINs in a row from this address (the test's threshold) lock it.
    w.login("1004", "99999").await;
    let locked = w.login("1004", "99999").await;
    assert_eq!(
        (locked.status, kind(&locked)),
        (401, "urn:selfprov:problem:self-care-locked")
    );
    let still = w.login("1004", "12345").await;
    assert_eq!(kind(&still), "urn:selfprov:problem:self-care-locked");
    let gina = w.login("1010", "24680").await;
    assert_eq!(
        (gina.status, kind(&gina)),
        (403, "urn:selfprov:problem:self-care-not-allowed")
    );
    assert!(gina.json["detail"]
        .as_str()
        .unwrap()
        .contains("does not allow"));
}

#[tokio::test]
async fn user_and_administrator_sessions_never_stand_in_for_each_other() {
    let w = world();
    let (cookie, csrf) = w.user("1004", "12345").await;
    let mine = w.portal("GET", "/phones", &cookie, None, None).await;
    assert_eq!(mine.status, 200);
    // The user's cookie, and its secret under the administrators' cookie name, open no
    // administrator's route.
    let secret = cookie.split_once('=').unwrap().1;
    let as_admin = format!("selfprov_session={secret}");
    let release = "/api/v1/devices/SEP00AABBCCDDEE/release";
    for c in [cookie.as_str(), as_admin.as_str()] {
        let a = w.send("GET", "/api/v1/users", Some(c), None, None).await;
        assert_eq!(a.status, 401, "{c}");
        let a = w.send("POST", release, Some(c), Some(&csrf), None).await;
        assert_eq!(a.status, 401, "{c}");
    }
    // An administrator's session is no user session, under either cookie name.
    let now = selfprov_provisioning::UnixMillis::now();
    let opened = w
        .ops
        .open_session("admin", &Default::default(), now)
        .unwrap();
    for c in [
        format!("selfprov_session={}", opened.secret),
        format!("selfprov_self_care={}", opened.secret),
    ] {
        let a = w.portal("GET", "/phones", &c, None, None).await;
        assert_eq!(
            (a.status, kind(&a)),
            (401, "urn:selfprov:problem:self-care-login"),
            "{c}"
        );
    }
}

#[tokio::test]
async fn changes_need_the_csrf_token_and_reach_only_the_users_own_phones() {
    let w = world();
    let (cookie, csrf) = w.user("1004", "12345").await;
    let phones = w.portal("GET", "/phones", &cookie, None, None).await;
    let list = phones.json.as_array().unwrap();
    assert_eq!(list.len(), 1, "{}", phones.json);
    assert_eq!(list[0]["name"], "SEP001122334455");
    assert_eq!(list[0]["mac"], "00:11:22:33:44:55");
    assert_eq!(list[0]["extension"], "1004");
    assert_eq!(list[0]["registration"]["source"], "192.0.2.50:5060");
    let pin = |again: &str| {
        Some(serde_json::json!({"old_pin": "12345", "new_pin": "13579", "new_pin_again": again}))
    };
    for token in [None, Some("0000")] {
        let a = w.portal("POST", "/pin", &cookie, token, pin("13579")).await;
        assert_eq!(a.status, 403, "CSRF token {token:?}");
        let a = w.release("SEP001122334455", &cookie, token).await;
        assert_eq!(a.status, 403, "CSRF token {token:?}");
    }
    // Another user's phone is not found, and stays theirs.
    let other = w.release("SEP00AABBCCDDEE", &cookie, Some(&csrf)).await;
    assert_eq!(other.status, 404, "{}", other.json);
    let owner = w.ops.device("SEP00AABBCCDDEE").unwrap().owner;
    assert_eq!(owner.unwrap().as_str(), "mdupont");
    assert!(w.resynced.lock().unwrap().is_empty());
    // The user's own: released to a temporary DN, and the phone is told.
    let mine = w.release("SEP001122334455", &cookie, Some(&csrf)).await;
    assert_eq!(mine.status, 200, "{}", mine.json);
    let dn = mine.json["temporary_dn"].as_str().unwrap().parse().unwrap();
    assert!(settings().auto_registration.dn_range.contains(&dn) && dn.as_str() != "1004");
    assert_eq!(*w.resynced.lock().unwrap(), vec!["SEP001122334455"]);
    // The PIN: a field error names the field; then the change, and the new PIN logs in.
    let a = w
        .portal("POST", "/pin", &cookie, Some(&csrf), pin("1357"))
        .await;
    assert_eq!(
        (a.status, a.json["field"].as_str()),
        (422, Some("new_pin_again"))
    );
    let a = w
        .portal("POST", "/pin", &cookie, Some(&csrf), pin("13579"))
        .await;
    assert_eq!(a.status, 204, "{}", a.json);
    assert_eq!(w.login("1004", "13579").await.status, 200);
    // Logout ends the session.
    let out = w
        .portal("DELETE", "/session", &cookie, Some(&csrf), None)
        .await;
    assert_eq!(out.status, 204);
    assert!(out.cookie.unwrap().contains("Max-Age=0"));
    let after = w.portal("GET", "/session", &cookie, None, None).await;
    assert_eq!(after.status, 401);
}

/// Issue a code for `user` and a phone, as an administrator does.
fn issue(w: &World, user: &str, device: &str, lifetime: Option<Duration>) -> String {
    let req = selfprov_operations::activation::CodeRequest {
        user_id: user.into(),
        device: Some(device.into()),
        model: None,
        lifetime,
    };
    w.ops
        .issue_activation_code(&Actor::cli("admin"), &req, UnixMillis::now())
        .unwrap()
        .code
}

#[tokio::test]
async fn users_see_their_pending_activation_codes_and_no_one_elses() {
    let w = world();
    let mine = issue(&w, "jsmith", "SEP0011223344AA", None);
    let theirs = issue(&w, "mdupont", "SEP0011223344BB", None);
    // Spent, and expired: not shown.
    let used = issue(&w, "jsmith", "SEP0011223344CC", None);
    let dn = "SEP0011223344CC".parse().unwrap();
    let ar = settings().auto_registration;
    w.ops
        .claims()
        .auto_register(
            &dn,
            "Cisco 8845",
            &ar,
            &Actor::registrar(),
            UnixMillis::now(),
        )
        .unwrap();
    w.ops
        .claims()
        .claim_with_code(
            "SEP0011223344CC",
            &used,
            &selfprov_operations::ClaimContext::ivr("call"),
            &CredentialPolicy::default(),
            UnixMillis::now(),
        )
        .unwrap();
    issue(
        &w,
        "jsmith",
        "SEP0011223344DD",
        Some(Duration::from_millis(1)),
    );
    std::thread::sleep(Duration::from_millis(5));

    let (cookie, _) = w.user("1004", "12345").await;
    let a = w
        .portal("GET", "/activation-codes", &cookie, None, None)
        .await;
    assert_eq!(a.status, 200, "{}", a.json);
    let list = a.json.as_array().unwrap();
    assert_eq!(list.len(), 1, "{}", a.json);
    assert_eq!(list[0]["code"], mine.as_str());
    assert_eq!(list[0]["device"], "SEP0011223344AA");
    assert_eq!(list[0]["state"], "pending");
    assert!(list[0]["qr_svg"].as_str().unwrap().contains("<svg"));
    assert!(!a.json.to_string().contains(&theirs));
    // Without a session: nothing.
    let anon = w
        .send(
            "GET",
            "/api/v1/self-care/activation-codes",
            None,
            None,
            None,
        )
        .await;
    assert_eq!(anon.status, 401);
}

#[test]
fn the_portal_is_in_the_openapi_document() {
    let doc = serde_json::to_value(crate::openapi()).unwrap();
    for p in [
        "/api/v1/self-care/session",
        "/api/v1/self-care/phones",
        "/api/v1/self-care/phones/{name}/release",
        "/api/v1/self-care/pin",
        "/api/v1/self-care/activation-codes",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} is missing");
    }
}
