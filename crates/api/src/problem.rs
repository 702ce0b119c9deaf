//! Errors as `application/problem+json` (RFC 9457): a type, a title, the HTTP status, what went
//! wrong, and — where one input is to blame — the `field` to fix. An operation's error is mapped
//! by its class ([`OpError::class`]), so every operation answers the same way for the same kind
//! of failure.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use selfprov_operations::{ErrorClass, OpError};
use selfprov_provisioning::model::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A problem detail (RFC 9457).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// `urn:selfprov:problem:<slug>`, e.g. `urn:selfprov:problem:invalid`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The input field that is wrong (a JSON field, query parameter or header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The outcome code of a refused claim (e.g. `SELFPROV_DEVICE_LIMIT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// A refused CSV import: every bad row with its line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<crate::import::LineError>>,
    /// A refused lost update: the object's current ETag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_etag: Option<String>,
    #[serde(skip)]
    retry_after: Option<u64>,
    #[serde(skip)]
    challenge: bool,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Problem {
            kind: format!("urn:selfprov:problem:{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            code: None,
            errors: None,
            current_etag: None,
            retry_after: None,
            challenge: false,
        }
    }

    /// 422 for a wrong input value, naming the field.
    pub fn invalid(e: &FieldError) -> Self {
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "Invalid input",
            e.to_string(),
        );
        p.field = Some(e.field.clone());
        p
    }

    /// 400 for a request that cannot be read at all (malformed JSON, wrong content type).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    /// 401: no valid token or session. Tells the client how to authenticate.
    pub fn unauthenticated() -> Self {
        let mut p = Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
            "send `Authorization: Bearer <token>` or log in (POST /api/v1/session)",
        );
        p.challenge = true;
        p
    }

    /// 403: authenticated, but the role may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    /// 429 with `Retry-After`.
    pub fn too_many(detail: impl Into<String>, retry_after_s: u64) -> Self {
        let mut p = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            "Too many requests",
            detail,
        );
        p.retry_after = Some(retry_after_s.max(1));
        p
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "API request failed");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the service failed to do this; its log says why",
        )
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }
}

impl From<OpError> for Problem {
    fn from(e: OpError) -> Self {
        let status = match e.class() {
            ErrorClass::NotFound => StatusCode::NOT_FOUND,
            ErrorClass::Conflict => StatusCode::CONFLICT,
            ErrorClass::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorClass::Modified => StatusCode::PRECONDITION_FAILED,
            // A claim refused because of who or what was named is the request's fault; one
            // refused by the state of things (the device limit, a phone not auto-registered)
            // is a conflict.
            ErrorClass::Refused if e.code().is_some_and(input_code) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ErrorClass::Refused => StatusCode::CONFLICT,
            ErrorClass::Internal => return Problem::internal(e),
            ErrorClass::Unavailable => {
                // Where the database is stays in the log.
                tracing::warn!(error = %e, "request failed: database unavailable");
                return Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "the database cannot be reached right now; nothing was changed, try again shortly",
                )
                .with_retry_after(5);
            }
        };
        let (slug, title) = match e.class() {
            ErrorClass::NotFound => ("not-found", "Not found"),
            ErrorClass::Conflict => ("conflict", "Conflict"),
            ErrorClass::Invalid => ("invalid", "Invalid input"),
            ErrorClass::Modified => ("modified", "Changed by someone else"),
            _ => ("refused", "Refused by the provisioning rules"),
        };
        let mut p = Problem::new(status, slug, title, e.to_string());
        p.field = e.field().map(str::to_owned);
        p.code = e.code().map(|c| c.as_str().to_owned());
        if let OpError::Modified { current, .. } = &e {
            p.current_etag = Some(crate::body::etag(current));
        }
        p
    }
}

fn input_code(c: selfprov_provisioning::OutcomeCode) -> bool {
    use selfprov_provisioning::OutcomeCode as C;
    matches!(c, C::InvalidCredentials | C::InvalidDeviceModel)
}

impl From<FieldError> for Problem {
    fn from(e: FieldError) -> Self {
        Problem::invalid(&e)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut r = (status, body).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.challenge {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"selfprov\""),
            );
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use selfprov_provisioning::{AssignError, StoreError};

    #[test]
    fn classes_map_to_statuses_with_field_and_code() {
        let p = Problem::from(OpError::from(FieldError::new("primary_extension", "bad")));
        assert_eq!(
            (p.status, p.field.as_deref()),
            (422, Some("primary_extension"))
        );
        let p = Problem::from(OpError::Store(StoreError::NotFound {
            kind: "user",
            name: "x".into(),
        }));
        assert_eq!(p.status, 404);
        let p = Problem::from(OpError::Refused(AssignError::DeviceLimit {
            limit: 1,
            owned: 1,
        }));
        assert_eq!(
            (p.status, p.code.as_deref()),
            (409, Some("SELFPROV_DEVICE_LIMIT"))
        );
        let p = Problem::from(OpError::Refused(AssignError::InvalidCredentials));
        assert_eq!(p.status, 422);
        let p = Problem::from(OpError::Store(StoreError::Unavailable(
            "db.internal:5432/selfprov: connection refused".into(),
        )));
        assert_eq!((p.status, p.retry_after), (503, Some(5)));
        assert!(!p.detail.contains("db.internal"), "{}", p.detail);
        let p = Problem::from(OpError::Refused(AssignError::Unavailable("x".into())));
        assert_eq!(p.status, 503);
        let p = Problem::from(OpError::Store(StoreError::Database("disk on fire".into())));
        assert_eq!(p.status, 500);
        assert!(
            !p.detail.contains("disk"),
            "internal details stay in the log"
        );
    }
}
