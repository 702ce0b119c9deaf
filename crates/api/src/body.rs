//! Request and response plumbing shared by every resource: JSON bodies whose errors name the
//! field, `ETag`/`If-Match` for lost-update detection, and running an operation off the async
//! threads (the store and Argon2 block).

use crate::problem::Problem;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use selfprov_operations::Version;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Run blocking work (the store, password hashing) on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Problem::internal(format!("worker thread: {e}")))?
}

/// A JSON request body. A body that is not JSON is a 400; a value of the wrong type or an
/// unknown field is a 422 naming the field (`enabled`, `languages[1]`).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.split(';')
                    .next()
                    .is_some_and(|m| m.trim() == "application/json")
            });
        if !json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "send the body as `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| Problem::bad_request(format!("cannot read the body: {e}")))?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parse JSON into `T`, naming the field of a wrong value.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let inner = e.inner();
        if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            return Problem::bad_request(format!("the body is not valid JSON: {inner}"));
        }
        let path = e.path().to_string();
        let field = unknown_field(&inner.to_string())
            .map(|f| match path.rsplit_once('.') {
                Some((parent, _)) => format!("{parent}.{f}"),
                None => f,
            })
            .unwrap_or(path);
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "Invalid input",
            format!("{field}: {}", strip_position(&inner.to_string())),
        );
        p.field = Some(field).filter(|f| f != ".");
        p
    })
}

/// The name in serde's "unknown field `x`, expected …".
fn unknown_field(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(f, _)| f.to_owned())
}

/// serde_json's " at line 1 column 12" says nothing to a caller who sent one line.
fn strip_position(msg: &str) -> &str {
    msg.rsplit_once(" at line ").map_or(msg, |(m, _)| m)
}

/// An ETag of a version: a strong entity tag.
pub fn etag(v: &Version) -> String {
    format!("\"{v}\"")
}

/// The version a change is based on, from `If-Match` (`"v"`, `W/"v"`, or `*` for "whatever it
/// is now"). Without the header a change is not checked (last write wins, as on the command line).
pub struct IfMatch(pub Option<Version>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let Some(v) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let v = v.to_str().map_err(|_| {
            let mut p = Problem::bad_request("If-Match must be an entity tag");
            p.field = Some("If-Match".into());
            p
        })?;
        let v = v.trim();
        if v == "*" {
            return Ok(IfMatch(None));
        }
        let tag = v.strip_prefix("W/").unwrap_or(v);
        Ok(IfMatch(Some(Version::parse(tag.trim_matches('"')))))
    }
}

/// A JSON answer with its version as `ETag`.
pub struct Tagged<T>(pub Version, pub T);

impl<T: Serialize> IntoResponse for Tagged<T> {
    fn into_response(self) -> Response {
        let mut r = axum::Json(self.1).into_response();
        if let Ok(v) = HeaderValue::from_str(&etag(&self.0)) {
            r.headers_mut().insert(header::ETAG, v);
        }
        r
    }
}

/// A new object: `201 Created` with its location and version.
pub struct Created<T>(pub String, pub Version, pub T);

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        let mut r = (StatusCode::CREATED, Tagged(self.1, self.2)).into_response();
        if let Ok(v) = HeaderValue::from_str(&self.0) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        r
    }
}

/// An answer that carries a secret shown once (a new token, a generated PIN): never cached.
pub struct NoStore<T>(pub StatusCode, pub T);

impl<T: Serialize> IntoResponse for NoStore<T> {
    fn into_response(self) -> Response {
        let mut r = (self.0, axum::Json(self.1)).into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

/// A header's value as text, if present and readable.
pub fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// A path segment as it is used in a `Location` header.
pub fn location(collection: &str, key: &str) -> String {
    let mut out = format!("/api/v1{collection}/");
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        enabled: Option<bool>,
        languages: Option<Vec<String>>,
    }

    #[test]
    fn json_errors_name_the_field() {
        let p = parse_json::<T>(br#"{"enabled": "yes"}"#).unwrap_err();
        assert_eq!((p.status, p.field.as_deref()), (422, Some("enabled")));
        let p = parse_json::<T>(br#"{"languages": ["en_US", 3]}"#).unwrap_err();
        assert_eq!(p.field.as_deref(), Some("languages[1]"));
        let p = parse_json::<T>(br#"{"colour": 1}"#).unwrap_err();
        assert_eq!(p.field.as_deref(), Some("colour"), "{p:?}");
        let p = parse_json::<T>(b"{not json").unwrap_err();
        assert_eq!(p.status, 400);
        assert_eq!(location("/users", "a b/c"), "/api/v1/users/a%20b%2Fc");
    }
}
