//! `/audit`: the audit log, newest first, with filters — claims with their outcome codes,
//! administrative changes with who, what, before and after, configuration fetches.

use crate::auth::{Allowed, Read};
use crate::body::blocking;
use crate::list::QueryParams;
use crate::problem::Problem;
use crate::ApiState;
use axum::extract::State;
use axum::Json;
use selfprov_operations::audit::AuditQuery;
use selfprov_provisioning::model::AuditEntry;
use selfprov_provisioning::UnixMillis;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Entries per answer when `limit` is not given, and at most.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 10_000;

/// One audit entry. Never a PIN, password, code, token or hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Entry {
    pub id: i64,
    /// Unix milliseconds.
    pub time_ms: i64,
    /// `claim`, `change` or `fetch`.
    pub kind: String,
    /// Who acted: `api:alice`, `cli:root`, `ivr`, `registrar`, `system`.
    pub actor: String,
    /// The SIP Call-ID of an IVR claim; empty otherwise.
    pub call_id: String,
    pub device: Option<String>,
    pub user: Option<String>,
    /// A claim's outcome code.
    pub code: Option<String>,
    pub detail: String,
    /// A change: `user`, `device`, `udt`, `ult`, `profile`, `settings`, `account`, `token`.
    pub object_kind: Option<String>,
    pub object: Option<String>,
    /// A change: `create`, `update`, `delete`, `unlock`, `reset_pin`, `release`, …
    pub action: Option<String>,
    /// The object's fields before and after the change.
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

impl From<AuditEntry> for Entry {
    fn from(e: AuditEntry) -> Self {
        let AuditEntry {
            id,
            time_ms,
            kind,
            actor,
            call_id,
            device,
            user,
            code,
            detail,
            object_kind,
            object,
            action,
            before,
            after,
        } = e;
        Entry {
            id,
            time_ms,
            kind: kind.as_str().to_owned(),
            actor,
            call_id,
            device,
            user,
            code: code.map(|c| c.as_str().to_owned()),
            detail,
            object_kind,
            object,
            action,
            before,
            after,
        }
    }
}

/// Read the log with a query (the limit bounded).
pub async fn read(s: ApiState, mut q: AuditQuery) -> Result<Json<Vec<Entry>>, Problem> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit > MAX_LIMIT {
        return Err(selfprov_provisioning::model::FieldError::new(
            "limit",
            format!("must be at most {MAX_LIMIT}"),
        )
        .into());
    }
    q.limit = Some(limit);
    let filter = q.filter(UnixMillis::now())?;
    blocking(move || {
        let entries = s.ops.audit_log(&filter)?;
        Ok(Json(entries.into_iter().map(Entry::from).collect()))
    })
    .await
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/audit", tag = "audit",
    description = "Role: any. Every filter given must hold; `limit` defaults to 100 (at most 10,000).",
    params(AuditQuery),
    responses((status = 200, body = Vec<Entry>), (status = 422, body = Problem)))]
pub async fn audit(
    _: Allowed<Read>,
    State(s): State<ApiState>,
    QueryParams(q): QueryParams<AuditQuery>,
) -> Result<Json<Vec<Entry>>, Problem> {
    read(s, q).await
}

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(audit))
}
