//! `/live/calls` and `/live/registrations`: what the running service holds in memory — the IVR
//! calls in progress and the phones registered at the built-in registrar. The service answers
//! through a [`LiveSource`] (its event loop owns both tables).

use crate::auth::{Allowed, Read};
use crate::problem::Problem;
use crate::ApiState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// An IVR call in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActiveCall {
    pub call_id: String,
    /// The calling device (its name, or the caller's number).
    pub device: String,
    /// The caller's address.
    pub source: String,
    pub codec: String,
    pub language: String,
    /// Seconds since the call was answered.
    pub duration_s: f64,
}

/// A phone registered at the built-in registrar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Registration {
    pub device: String,
    /// Where the phone is reached (its Contact).
    pub contact: String,
    /// The address its REGISTER came from.
    pub source: String,
    /// Seconds until the binding expires.
    pub expires_in_s: u64,
}

/// A snapshot of the running service's tables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveView {
    pub calls: Vec<ActiveCall>,
    pub registrations: Vec<Registration>,
}

/// Asks the running service for a snapshot (`None`: it did not answer).
pub type LiveSource =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Option<LiveView>> + Send>> + Send + Sync>;

/// A source for an API without a running service (tests, tools): nothing is live.
pub fn nothing_live() -> LiveSource {
    Arc::new(|| Box::pin(async { Some(LiveView::default()) }))
}

pub(crate) async fn snapshot(s: &ApiState) -> Result<LiveView, Problem> {
    let ask = (s.live)();
    match tokio::time::timeout(std::time::Duration::from_secs(5), ask).await {
        Ok(Some(v)) => Ok(v),
        _ => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service busy",
            "the service did not answer within 5 s",
        )
        .with_retry_after(1)),
    }
}

/// The IVR calls in progress.
#[utoipa::path(get, path = "/live/calls", tag = "live",
    description = "Role: any.",
    responses((status = 200, body = Vec<ActiveCall>), (status = 503, body = Problem)))]
pub async fn calls(
    _: Allowed<Read>,
    State(s): State<ApiState>,
) -> Result<Json<Vec<ActiveCall>>, Problem> {
    Ok(Json(snapshot(&s).await?.calls))
}

/// The phones registered at the built-in registrar.
#[utoipa::path(get, path = "/live/registrations", tag = "live",
    description = "Role: any.",
    responses((status = 200, body = Vec<Registration>), (status = 503, body = Problem)))]
pub async fn registrations(
    _: Allowed<Read>,
    State(s): State<ApiState>,
) -> Result<Json<Vec<Registration>>, Problem> {
    Ok(Json(snapshot(&s).await?.registrations))
}

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(calls))
        .routes(routes!(registrations))
}
