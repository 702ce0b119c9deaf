//! The HTTP API against a running service: every route by role (what each role may do, and
//! that nothing but health, metrics and status answers without credentials), and the OpenAPI
//! document (valid JSON, OpenAPI 3.1, every route, every reference resolved; the docs page).

mod common;

use common::api::*;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    /// No credentials (the login).
    Public,
    Read,
    Helpdesk,
    Admin,
    /// An end user's self-care session: no administrator's credentials open it.
    EndUser,
}

/// Every route of the API and the role it needs: the specification this test holds the
/// service to (a new route fails the test until it is placed here). Routes acting on "your own"
/// things (your tokens, your password) are listed as they are for someone else's.
const ROUTES: &[(&str, &str, Need)] = &[
    ("POST", "/session", Need::Public),
    ("GET", "/session", Need::Read),
    ("DELETE", "/session", Need::Read),
    ("GET", "/openapi.json", Need::Read),
    ("GET", "/docs", Need::Read),
    ("GET", "/udts", Need::Read),
    ("POST", "/udts", Need::Admin),
    ("GET", "/udts/{name}", Need::Read),
    ("PATCH", "/udts/{name}", Need::Admin),
    ("DELETE", "/udts/{name}", Need::Admin),
    ("GET", "/ults", Need::Read),
    ("POST", "/ults", Need::Admin),
    ("GET", "/ults/{name}", Need::Read),
    ("PATCH", "/ults/{name}", Need::Admin),
    ("DELETE", "/ults/{name}", Need::Admin),
    ("GET", "/profiles", Need::Read),
    ("POST", "/profiles", Need::Admin),
    ("GET", "/profiles/{name}", Need::Read),
    ("PATCH", "/profiles/{name}", Need::Admin),
    ("DELETE", "/profiles/{name}", Need::Admin),
    ("GET", "/users", Need::Read),
    ("POST", "/users", Need::Admin),
    ("GET", "/users/{user_id}", Need::Read),
    ("PATCH", "/users/{user_id}", Need::Admin),
    ("DELETE", "/users/{user_id}", Need::Admin),
    ("POST", "/users/{user_id}/unlock", Need::Helpdesk),
    ("POST", "/users/{user_id}/reset-pin", Need::Helpdesk),
    ("POST", "/users/{user_id}/activation-codes", Need::Helpdesk),
    ("GET", "/users/{user_id}/activation-codes", Need::Read),
    ("POST", "/activation-codes/{id}/revoke", Need::Helpdesk),
    ("GET", "/devices", Need::Read),
    ("POST", "/devices", Need::Admin),
    ("GET", "/devices/{name}", Need::Read),
    ("PATCH", "/devices/{name}", Need::Admin),
    ("DELETE", "/devices/{name}", Need::Admin),
    ("POST", "/devices/{name}/assign", Need::Admin),
    ("POST", "/devices/{name}/move", Need::Helpdesk),
    ("POST", "/devices/{name}/release", Need::Helpdesk),
    ("POST", "/devices/{name}/replace", Need::Admin),
    ("GET", "/devices/{name}/history", Need::Read),
    ("GET", "/settings", Need::Read),
    ("PATCH", "/settings", Need::Admin),
    ("POST", "/settings/reset", Need::Admin),
    ("GET", "/audit", Need::Read),
    ("POST", "/import/users/preview", Need::Admin),
    ("POST", "/import/users", Need::Admin),
    ("GET", "/export/users", Need::Read),
    ("GET", "/live/calls", Need::Read),
    ("GET", "/live/registrations", Need::Read),
    ("GET", "/accounts", Need::Admin),
    ("POST", "/accounts", Need::Admin),
    ("PATCH", "/accounts/{name}", Need::Admin),
    ("DELETE", "/accounts/{name}", Need::Admin),
    ("POST", "/accounts/{name}/password", Need::Admin),
    ("POST", "/accounts/{name}/unlock", Need::Admin),
    ("GET", "/tokens", Need::Read),
    ("POST", "/tokens", Need::Read),
    ("DELETE", "/tokens/{id}", Need::Admin),
    ("POST", "/self-care/session", Need::Public),
    ("GET", "/self-care/session", Need::EndUser),
    ("DELETE", "/self-care/session", Need::EndUser),
    ("GET", "/self-care/phones", Need::EndUser),
    ("GET", "/self-care/activation-codes", Need::EndUser),
    ("POST", "/self-care/phones/{name}/release", Need::EndUser),
    ("POST", "/self-care/pin", Need::EndUser),
];

/// A request for a route with placeholders that name nothing (so no real object is changed).
fn call(c: &Client, method: &str, path: &str) -> Answer {
    let p = path
        .replace("{name}", "no-such-thing")
        .replace("{user_id}", "no-such-user")
        .replace("{id}", "no-such-token");
    match method {
        "GET" | "DELETE" => c.raw(method, &p, None),
        _ if p.starts_with("/import") => c.csv(&p, "user_id\n"),
        _ => c.json(method, &p, &json!({})),
    }
}

#[test]
fn every_route_by_role_and_nothing_without_credentials() {
    let s = config("e2e-api-roles");
    let (_service, _err) = start_service(&s);
    let r = roles(&s);
    let clients = [
        (Need::Admin, &r.admin),
        (Need::Helpdesk, &r.helpdesk),
        (Need::Read, &r.read_only),
    ];
    // The document lists exactly the routes above.
    let doc = r.admin.get("/openapi.json").json();
    let listed: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), p.trim_start_matches("/api/v1").to_owned()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        listed, expected,
        "the API's routes changed: place them in ROUTES"
    );

    let mut checked = 0;
    for (method, path, need) in ROUTES {
        let anon = call(&Client::anonymous(s.admin_port), method, path);
        if *need == Need::Public {
            assert_ne!(anon.status, 401, "{method} {path}: {}", anon.body);
        } else {
            assert_eq!(
                anon.status, 401,
                "{method} {path} without credentials: {}",
                anon.body
            );
            assert_eq!(
                anon.header("content-type"),
                Some("application/problem+json")
            );
            let bad = call(&Client::token(s.admin_port, "spt_0000_guess"), method, path);
            assert_eq!(bad.status, 401, "{method} {path} with a made-up token");
        }
        for (role, c) in &clients {
            let a = call(c, method, path);
            if *need == Need::EndUser {
                assert_eq!(
                    a.status, 401,
                    "{method} {path} as {role:?}: an administrator is no self-care user: {}",
                    a.body
                );
            } else if role < need {
                assert_eq!(a.status, 403, "{method} {path} as {role:?}: {}", a.body);
                assert!(
                    a.json()["detail"].as_str().unwrap().contains("role"),
                    "{}",
                    a.body
                );
            } else {
                assert!(
                    ![401, 403].contains(&a.status),
                    "{method} {path} as {role:?} must be allowed: {} {}",
                    a.status,
                    a.body
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, ROUTES.len() * 3);

    // Outside the API: health and metrics are open (and /status, for `selfprov status`).
    for open in ["/health", "/metrics", "/status"] {
        let a = request(s.admin_port, "GET", open, &[], None);
        assert_eq!(a.status, 200, "{open}: {}", a.body);
    }
    // An unknown API path is no way around authentication either.
    assert_eq!(Client::anonymous(s.admin_port).get("/nothing").status, 401);
}

#[test]
fn own_tokens_and_password_but_nobody_elses() {
    let s = config("e2e-api-own");
    let (_service, _err) = start_service(&s);
    let r = roles(&s);
    // A read-only account makes a token for itself (read-only at most), not for others.
    let t = r
        .read_only
        .json("POST", "/tokens", &json!({"description": "script"}));
    assert_eq!(t.status, 201, "{}", t.body);
    assert_eq!(t.header("cache-control"), Some("no-store"));
    let made = t.json();
    assert_eq!(made["role"], "read-only");
    let mine = Client::token(s.admin_port, made["secret"].as_str().unwrap());
    assert_eq!(mine.get("/session").json()["name"], "rita");
    let up = r
        .read_only
        .json("POST", "/tokens", &json!({"role": "administrator"}));
    assert_eq!(
        (up.status, up.field().as_deref()),
        (422, Some("role")),
        "{}",
        up.body
    );
    let other = r
        .read_only
        .json("POST", "/tokens", &json!({"owner": "alice"}));
    assert_eq!(other.status, 403);
    // It sees and revokes only its own tokens.
    let listed = r.read_only.get("/tokens").json();
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["owner"] == "rita"));
    let alices = r.admin.get("/tokens").json();
    let alice_token = alices
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["owner"] == "alice")
        .unwrap();
    let id = alice_token["id"].as_str().unwrap();
    assert_eq!(r.read_only.delete(&format!("/tokens/{id}")).status, 403);
    let own_id = made["id"].as_str().unwrap();
    assert_eq!(r.read_only.delete(&format!("/tokens/{own_id}")).status, 204);
    assert_eq!(
        mine.get("/session").status,
        401,
        "a revoked token stops at once"
    );
    // Its own password, not someone else's.
    let pw = json!({"password": "another long password"});
    assert_eq!(
        r.read_only
            .json("POST", "/accounts/rita/password", &pw)
            .status,
        204
    );
    assert_eq!(
        r.read_only
            .json("POST", "/accounts/alice/password", &pw)
            .status,
        403
    );
    let (a, _) = login(s.admin_port, "rita", "another long password");
    assert_eq!(a.status, 200, "{}", a.body);
    // An expired token is refused.
    let short = cli_stdin(
        &s,
        &["token", "create", "--owner", "harry", "--expires", "1s"],
        "",
    );
    // It works until its second is up, then stops (the expiry itself is tested with a given
    // clock in the operations layer; here: that the CLI's span and the API honour it).
    let short = Client::token(s.admin_port, short.trim());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut statuses = vec![];
    loop {
        let status = short.get("/users").status;
        if statuses.last() != Some(&status) {
            statuses.push(status);
        }
        if status != 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the token never expired"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(statuses.last(), Some(&401), "{statuses:?}");
    // Lowering an account's role lowers its tokens at once.
    let demoted = r
        .admin
        .json("PATCH", "/accounts/harry", &json!({"role": "read-only"}));
    assert_eq!(demoted.status, 200, "{}", demoted.body);
    assert_eq!(
        r.helpdesk
            .json("POST", "/users/jsmith/unlock", &json!({}))
            .status,
        403
    );
    // The last administrator stays.
    assert_eq!(r.admin.delete("/accounts/admin").status, 204);
    let last = r.admin.delete("/accounts/alice");
    assert_eq!(last.status, 422, "{}", last.body);
    assert!(last.body.contains("last administrator"), "{}", last.body);
}

/// Every `$ref` in the document names a schema it defines.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn the_openapi_document_describes_every_route_and_the_docs_page_shows_them() {
    let s = config("e2e-api-doc");
    let (_service, _err) = start_service(&s);
    let r = roles(&s);
    let a = r.read_only.get("/openapi.json");
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("application/json"));
    let doc: Value = serde_json::from_str(&a.body).expect("valid JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["token"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["in"], "cookie");
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 50, "{}", all.len());
    for r in &all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r}"));
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "unresolved {r}"
        );
    }
    for (method, path, _) in ROUTES {
        let op = &doc["paths"][format!("/api/v1{path}")][method.to_lowercase()];
        assert!(op.is_object(), "{method} {path} missing");
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path}"
        );
    }
    // The login is the one operation without security.
    assert_eq!(
        doc["paths"]["/api/v1/session"]["post"]["security"],
        json!([{}])
    );
    let page = r.read_only.get("/docs");
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    for (method, path, _) in ROUTES {
        assert!(
            page.body.contains(&format!("<code>/api/v1{path}</code>")),
            "{method} {path}"
        );
    }
    assert!(
        !page.body.contains("http://") && !page.body.contains("https://"),
        "nothing fetched from elsewhere"
    );
}
