//! Activation codes (docs/activation-codes.md): an administrator or the helpdesk issues a code
//! for a user and one phone (by device name) or one model, answered once; lists a user's codes
//! (never the code) and revokes one. Using a code is the phone's business (IVR), not the API's.

use crate::auth::{Allowed, Helpdesk, Read};
use crate::body::{blocking, JsonBody, NoStore};
use crate::problem::Problem;
use crate::ApiState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use selfprov_operations::activation::{CodeRequest, CodeView, NewCode};
use selfprov_provisioning::activation::CodeState;
use selfprov_provisioning::model::FieldError;
use selfprov_provisioning::store::UnixMillis;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// An activation code as listed: never the code itself.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ActivationCode {
    /// Its public identifier, for revoking.
    pub id: String,
    pub user_id: String,
    /// For this phone only…
    pub device: Option<String>,
    /// …or for the first phone of this model that uses it.
    pub model: Option<String>,
    /// `pending`, `used`, `expired` or `revoked`.
    #[schema(value_type = String)]
    pub state: CodeState,
    pub created_by: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub used_ms: Option<i64>,
    /// The phone that used it.
    pub used_by: Option<String>,
    pub revoked_ms: Option<i64>,
}

impl From<CodeView> for ActivationCode {
    fn from(v: CodeView) -> Self {
        ActivationCode {
            id: v.id,
            user_id: v.user_id,
            device: v.device,
            model: v.model,
            state: v.state,
            created_by: v.created_by,
            created_ms: v.created_ms,
            expires_ms: v.expires_ms,
            used_ms: v.used_ms,
            used_by: v.used_by,
            revoked_ms: v.revoked_ms,
        }
    }
}

/// A code just issued, with the code: shown this once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IssuedCode {
    #[serde(flatten)]
    pub activation_code: ActivationCode,
    /// The 16 digits the user types on the phone. Administrators see it this once; the user
    /// sees it in self-care while it is pending.
    pub code: String,
    /// The code as a QR code, an SVG image (for a printed sheet or the user's screen).
    pub qr_svg: String,
}

/// The code's digits as a QR code in SVG (numeric mode: a version-1 symbol).
pub fn qr_svg(code: &str) -> Result<String, Problem> {
    let qr = qrcode::QrCode::new(code.as_bytes())
        .map_err(|e| Problem::internal(format!("QR code: {e}")))?;
    Ok(qr
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build())
}

impl IssuedCode {
    pub(crate) fn of(c: NewCode) -> Result<Self, Problem> {
        Ok(IssuedCode {
            qr_svg: qr_svg(&c.code)?,
            activation_code: c.view.into(),
            code: c.code,
        })
    }
}

/// What code to issue: for one phone (`device`) or one model (`model`).
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeSpec {
    /// The phone's device name, e.g. `SEP001122334455`.
    pub device: Option<String>,
    /// A phone model, e.g. `Cisco 8845`: the first phone of this model that uses the code.
    pub model: Option<String>,
    /// Seconds until it expires (default: `self_provisioning.activation_code_lifetime`, 7 days).
    pub expires_in_seconds: Option<u64>,
}

/// Issue an activation code for a user.
#[utoipa::path(post, path = "/users/{user_id}/activation-codes", tag = "activation",
    description = "Role: helpdesk. The answer carries the code once (`Cache-Control: no-store`), as digits and as a QR code (SVG); only a keyed hash is stored. Audited as `issue` (never the code).",
    params(("user_id" = String, Path)),
    request_body = CodeSpec,
    responses((status = 201, body = IssuedCode), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn issue(
    who: Allowed<Helpdesk>,
    State(s): State<ApiState>,
    Path(user_id): Path<String>,
    JsonBody(spec): JsonBody<CodeSpec>,
) -> Result<NoStore<IssuedCode>, Problem> {
    const MAX_SECONDS: u64 = 366 * 86_400;
    let lifetime = match spec.expires_in_seconds {
        Some(n) if !(1..=MAX_SECONDS).contains(&n) => {
            return Err(FieldError::new(
                "expires_in_seconds",
                format!("must be 1 to {MAX_SECONDS}"),
            )
            .into())
        }
        n => n.map(Duration::from_secs),
    };
    let req = CodeRequest {
        user_id,
        device: spec.device,
        model: spec.model,
        lifetime,
    };
    blocking(move || {
        let made = s
            .ops
            .issue_activation_code(&who.actor(), &req, UnixMillis::now())?;
        Ok(NoStore(StatusCode::CREATED, IssuedCode::of(made)?))
    })
    .await
}

/// A user's activation codes, newest first.
#[utoipa::path(get, path = "/users/{user_id}/activation-codes", tag = "activation",
    description = "Role: any. Never the codes themselves.",
    params(("user_id" = String, Path)),
    responses((status = 200, body = Vec<ActivationCode>), (status = 404, body = Problem)))]
pub async fn list(
    _who: Allowed<Read>,
    State(s): State<ApiState>,
    Path(user_id): Path<String>,
) -> Result<Json<Vec<ActivationCode>>, Problem> {
    blocking(move || {
        let codes = s.ops.activation_codes(&user_id, UnixMillis::now())?;
        Ok(Json(codes.into_iter().map(ActivationCode::from).collect()))
    })
    .await
}

/// Revoke an unused activation code: it stops working at once.
#[utoipa::path(post, path = "/activation-codes/{id}/revoke", tag = "activation",
    description = "Role: helpdesk. A used code cannot be revoked (422); an expired or revoked one is answered as it is. Audited as `revoke`.",
    params(("id" = String, Path)),
    responses((status = 200, body = ActivationCode), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn revoke(
    who: Allowed<Helpdesk>,
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<ActivationCode>, Problem> {
    blocking(move || {
        let v = s
            .ops
            .revoke_activation_code(&who.actor(), &id, UnixMillis::now())?;
        Ok(Json(v.into()))
    })
    .await
}

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(issue, list))
        .routes(routes!(revoke))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_qr_code_is_an_svg_image_that_depends_on_the_code() {
        let a = super::qr_svg("1234567890123456").unwrap();
        let b = super::qr_svg("1234567890123457").unwrap();
        assert!(a.contains("<svg") && a.contains("</svg>"), "{a}");
        assert_ne!(a, b);
        assert_eq!(a, super::qr_svg("1234567890123456").unwrap());
    }
}
