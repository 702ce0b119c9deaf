//! The API's description: the OpenAPI 3.1 document generated from the handlers' annotations
//! (`/api/v1/openapi.json`) and a browsable page rendered from it on the server
//! (`/api/v1/docs`: every operation with its role, parameters, body and answers — plain HTML,
//! nothing fetched from anywhere).

use crate::auth::{Allowed, Read};
use crate::problem::Problem;
use crate::ApiState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::fmt::Write;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "selfprov API",
        description = "Administration of selfprov, the self-provisioning IVR for SIP phones: templates, profiles, users, devices, settings, the audit log, CSV import/export, live calls and registrations, administrator accounts and API tokens. Every change goes through the same operations layer as the command line and is audited with the caller's account (`api:<name>`). Errors are `application/problem+json` (RFC 9457) naming the `field` that is wrong. Authenticate with `Authorization: Bearer <token>` or a console session (POST /api/v1/session); a session's changes need its `X-CSRF-Token`."
    ),
    modifiers(&Security),
    security(("token" = []), ("session" = [])),
    tags(
        (name = "session", description = "Login, logout, who am I"),
        (name = "users", description = "End users, unlock, PIN reset"),
        (name = "devices", description = "Phones: assign, move, release, replace, history"),
        (name = "activation", description = "Activation codes: issue (shown once), list, revoke"),
        (name = "profiles", description = "User profiles"),
        (name = "templates", description = "Universal device and line templates"),
        (name = "settings", description = "Self-provisioning and auto-registration settings"),
        (name = "audit", description = "The audit log"),
        (name = "import", description = "CSV import (preview, commit) and export of users"),
        (name = "live", description = "Calls in progress and registered phones"),
        (name = "accounts", description = "Administrator accounts"),
        (name = "tokens", description = "API tokens"),
        (name = "self-care", description = "End users' self-care portal: login with self-service ID and PIN, my phones, release, PIN change (a session of its own, the `selfprov_self_care` cookie)"),
        (name = "docs", description = "This description")
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::auth::COOKIE))),
        );
    }
}

/// The document as served, and the page rendered from it.
pub struct Docs {
    pub json: String,
    pub html: String,
}

impl Docs {
    pub fn of(api: &utoipa::openapi::OpenApi) -> Docs {
        let json = api.to_pretty_json().unwrap_or_else(|_| "{}".into());
        let value: Value = serde_json::from_str(&json).unwrap_or_default();
        Docs {
            html: render(&value),
            json,
        }
    }
}

fn docs(s: &ApiState) -> Result<&Docs, Problem> {
    s.docs
        .get()
        .ok_or_else(|| Problem::internal("the API description is not built"))
}

/// The OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "docs", description = "Role: any.",
    responses((status = 200, content_type = "application/json", description = "The OpenAPI 3.1 document")))]
pub async fn openapi_json(
    _: Allowed<Read>,
    State(s): State<ApiState>,
) -> Result<Response, Problem> {
    let mut r = docs(&s)?.json.clone().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// The API's operations as a page.
#[utoipa::path(get, path = "/docs", tag = "docs", description = "Role: any.",
    responses((status = 200, content_type = "text/html", description = "Every operation, its role, parameters, body and answers")))]
pub async fn page(_: Allowed<Read>, State(s): State<ApiState>) -> Result<Response, Problem> {
    let mut r = docs(&s)?.html.clone().into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    Ok(r)
}

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(page))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A schema as a short name: `User`, `Page_User`, `array of Entry`, `string`.
fn schema_name(s: &Value) -> String {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    match s.get("type") {
        Some(Value::String(t)) if t == "array" => {
            format!(
                "array of {}",
                s.get("items").map(schema_name).unwrap_or_default()
            )
        }
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "object".into(),
    }
}

const METHODS: [&str; 5] = ["get", "post", "patch", "put", "delete"];

/// The page: one section per operation, in path order.
fn render(api: &Value) -> String {
    let mut h = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>selfprov API</title>\
         <style>body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}\
         code{background:#f3f3f3;padding:0 .2em}section{border-top:1px solid #ccc;padding:.4rem 0}\
         .m{display:inline-block;min-width:4.5em;font-weight:bold}td,th{text-align:left;padding:0 .6em 0 0}</style>\
         </head><body>",
    );
    let info = &api["info"];
    let _ = write!(
        h,
        "<h1>{}</h1><p>{}</p><p>OpenAPI {}: <a href=\"openapi.json\">openapi.json</a></p>",
        esc(info["title"].as_str().unwrap_or_default()),
        esc(info["description"].as_str().unwrap_or_default()),
        esc(api["openapi"].as_str().unwrap_or_default())
    );
    let Some(paths) = api["paths"].as_object() else {
        return h;
    };
    for (path, item) in paths {
        for m in METHODS {
            let Some(op) = item.get(m) else { continue };
            let _ = write!(
                h,
                "<section><h2><span class=\"m\">{}</span> <code>{}</code></h2><p>{}</p><p>{}</p>",
                m.to_uppercase(),
                esc(path),
                esc(op["summary"].as_str().unwrap_or_default()),
                esc(op["description"].as_str().unwrap_or_default())
            );
            if let Some(ps) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
                h.push_str("<table><tr><th>parameter</th><th>in</th><th>type</th><th></th></tr>");
                for p in ps {
                    let _ = write!(
                        h,
                        "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(p["name"].as_str().unwrap_or_default()),
                        if p["required"].as_bool() == Some(true) {
                            " (required)"
                        } else {
                            ""
                        },
                        esc(p["in"].as_str().unwrap_or_default()),
                        esc(&schema_name(&p["schema"])),
                        esc(p["description"].as_str().unwrap_or_default())
                    );
                }
                h.push_str("</table>");
            }
            if let Some(content) = op["requestBody"]["content"].as_object() {
                for (ct, c) in content {
                    let _ = write!(
                        h,
                        "<p>Body: <code>{}</code> {}</p>",
                        esc(ct),
                        esc(&schema_name(&c["schema"]))
                    );
                }
            }
            if let Some(rs) = op["responses"].as_object() {
                h.push_str("<p>Answers:");
                for (code, r) in rs {
                    let body = r["content"]
                        .as_object()
                        .and_then(|c| c.values().next())
                        .map(|c| schema_name(&c["schema"]))
                        .unwrap_or_default();
                    let _ = write!(
                        h,
                        " <code>{}</code> {}{}",
                        esc(code),
                        esc(&body),
                        if r["description"].as_str().is_some_and(|d| !d.is_empty()) {
                            format!(" ({})", esc(r["description"].as_str().unwrap_or_default()))
                        } else {
                            String::new()
                        }
                    );
                }
                h.push_str("</p>");
            }
            h.push_str("</section>");
        }
    }
    if let Some(schemas) = api["components"]["schemas"].as_object() {
        h.push_str("<h2>Schemas</h2>");
        for (name, s) in schemas {
            let _ = write!(h, "<section><h3 id=\"{0}\">{0}</h3>", esc(name));
            if let Some(props) = s["properties"].as_object() {
                h.push_str("<table>");
                for (p, v) in props {
                    let _ = write!(
                        h,
                        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                        esc(p),
                        esc(&schema_name(v)),
                        esc(v["description"].as_str().unwrap_or_default())
                    );
                }
                h.push_str("</table>");
            }
            h.push_str("</section>");
        }
    }
    h.push_str("</body></html>");
    h
}
