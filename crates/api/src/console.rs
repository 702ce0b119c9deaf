//! The web console: plain HTML, CSS and JavaScript modules embedded in the binary and served at
//! `/` (the page) and `/console/<file>` (its modules and style sheet). The console is a client
//! of the JSON API under `/api/v1` like any other: it logs in with `POST /api/v1/session` and
//! sends the session's anti-CSRF token with every change. Nothing is loaded from elsewhere, and
//! the Content-Security-Policy says so to the browser.
//!
//! The self-care portal for end users (docs/self-care.md) is served the same way from
//! `crates/api/self-care/` at `/self-care/` (its page) and `/self-care/<file>`, a client of the
//! portal's own API (`/api/v1/self-care/…`).
//!
//! The files are open (they hold no data); every answer with data is the API's, behind
//! authentication.

use axum::extract::Path;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// Only this origin's scripts, styles, images and API; no frames, no inline code, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A file of the console: its name under `/console/`, its type and its bytes.
struct File {
    name: &'static str,
    mime: &'static str,
    body: &'static str,
}

macro_rules! files {
    ($dir:literal: $($name:literal => $mime:expr),* $(,)?) => {
        &[$(File { name: $name, mime: $mime, body: include_str!(concat!("../", $dir, "/", $name)) }),*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the console (the page itself is `index.html`).
const FILES: &[File] = files! { "console":
    "index.html" => "text/html; charset=utf-8",
    "style.css" => "text/css; charset=utf-8",
    "app.js" => JS,
    "api.js" => JS,
    "ui.js" => JS,
    "dashboard.js" => JS,
    "users.js" => JS,
    "devices.js" => JS,
    "objects.js" => JS,
    "settings.js" => JS,
    "import.js" => JS,
    "audit.js" => JS,
    "accounts.js" => JS,
};

/// Every file of the self-care portal (its page is `index.html`).
const PORTAL_FILES: &[File] = files! { "self-care":
    "index.html" => "text/html; charset=utf-8",
    "portal.css" => "text/css; charset=utf-8",
    "portal.js" => JS,
    "texts.js" => JS,
};

/// The console's routes, `/` and `/console/{file}`, and the portal's, `/self-care/` and
/// `/self-care/{file}`.
pub fn router() -> Router {
    Router::new()
        .route("/", get(|| async { serve(FILES, "index.html") }))
        .route(
            "/console/{file}",
            get(|Path(file): Path<String>| async move { serve(FILES, &file) }),
        )
        .route(
            "/self-care",
            get(|| async { axum::response::Redirect::permanent("/self-care/") }),
        )
        .route(
            "/self-care/",
            get(|| async { serve(PORTAL_FILES, "index.html") }),
        )
        .route(
            "/self-care/{file}",
            get(|Path(file): Path<String>| async move { serve(PORTAL_FILES, &file) }),
        )
}

fn serve(files: &[File], name: &str) -> Response {
    let Some(f) = files.iter().find(|f| f.name == name) else {
        return with_security_headers((StatusCode::NOT_FOUND, "no such file\n").into_response());
    };
    let r = (
        [
            (header::CONTENT_TYPE, f.mime),
            // Not kept: an upgraded binary's files are used at once (they are small).
            (header::CACHE_CONTROL, "no-store"),
        ],
        f.body,
    )
        .into_response();
    with_security_headers(r)
}

fn with_security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    for (k, v) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get_path(path: &str) -> Response {
        router()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_page_and_its_modules_are_served_with_a_strict_policy() {
        let r = get_path("/").await;
        assert_eq!(r.status(), StatusCode::OK);
        let h = r.headers();
        assert!(h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.starts_with("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let js = get_path("/console/app.js").await;
        assert_eq!(js.status(), StatusCode::OK);
        assert!(js.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript"));
        let missing = get_path("/console/secrets.txt").await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(missing.headers()[header::X_FRAME_OPTIONS], "DENY");
        let outside = get_path("/console/../Cargo.toml").await;
        assert_eq!(outside.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn the_portal_is_served_at_self_care() {
        for path in ["/self-care/", "/self-care/portal.js", "/self-care/texts.js"] {
            let r = get_path(path).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert!(r.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"));
        }
        assert_eq!(
            get_path("/self-care").await.status(),
            StatusCode::PERMANENT_REDIRECT
        );
        assert_eq!(
            get_path("/self-care/app.js").await.status(),
            StatusCode::NOT_FOUND,
            "the console's files are not the portal's"
        );
    }

    /// Everything a page loads is one of our files, and nothing comes from another origin.
    #[test]
    fn the_console_and_portal_load_only_their_own_files() {
        let names: Vec<&str> = FILES.iter().chain(PORTAL_FILES).map(|f| f.name).collect();
        for f in FILES.iter().chain(PORTAL_FILES) {
            let body = f.body.replace("'http://www.w3.org/2000/svg'", "");
            assert!(
                !body.contains("http://") && !body.contains("https://"),
                "{} refers to another origin",
                f.name
            );
            // Module imports (`from './x.js'`) and the page's links name files we serve.
            for part in f.body.split(['\'', '"']).filter(|p| {
                p.starts_with("./") || p.starts_with("/console/") || p.starts_with("/self-care/")
            }) {
                let file = part
                    .trim_start_matches("./")
                    .trim_start_matches("/console/")
                    .trim_start_matches("/self-care/");
                if file.ends_with(".js") || file.ends_with(".css") {
                    assert!(
                        names.contains(&file),
                        "{} loads {part}, which is not served",
                        f.name
                    );
                }
            }
            assert!(
                !f.body.contains(" style=\"") && !f.body.contains("onclick="),
                "{}: inline styles and handlers break the policy",
                f.name
            );
        }
    }
}
