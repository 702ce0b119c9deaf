//! CSV import of users — a preview (every row checked, each bad one with its line; nothing
//! written), then the commit (checked again, PINs hashed, everything in one transaction or
//! nothing) — and the export in the same format, which re-imports with `existing=update`.
//!
//! The preview keeps nothing on the server: the commit sends the file again, so no PIN stays in
//! memory between the two and a database changed in between is checked as it is then.

use crate::auth::{Administer, Allowed, Read};
use crate::body::{blocking, header_str};
use crate::list::QueryParams;
use crate::problem::Problem;
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use selfprov_operations::accounts::Via;
use selfprov_operations::import::ImportSummary;
use selfprov_provisioning::import::{self, Existing, RowError};
use selfprov_provisioning::model::NewUser;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The largest file accepted (a few hundred thousand users).
pub const MAX_FILE: usize = 64 << 20;

/// A bad row.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LineError {
    /// The line in the file (1 is the header).
    pub line: u64,
    pub reason: String,
}

/// What a file would do.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Preview {
    /// Data rows read.
    pub rows: usize,
    /// Rows that would create a user.
    pub create: usize,
    /// Rows for users who exist (with `existing=update`).
    pub update: usize,
    /// Every bad row; the file can be committed only when this is empty.
    pub errors: Vec<LineError>,
}

/// What a commit did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Imported {
    pub created: usize,
    pub updated: usize,
    /// Rows for existing users that changed nothing (and wrote nothing).
    pub unchanged: usize,
}

impl From<RowError> for LineError {
    fn from(e: RowError) -> Self {
        let RowError { line, reason } = e;
        LineError { line, reason }
    }
}

impl From<ImportSummary> for Imported {
    fn from(s: ImportSummary) -> Self {
        Imported {
            created: s.created,
            updated: s.updated,
            unchanged: s.unchanged,
        }
    }
}

/// How rows for existing users are taken.
#[derive(Debug, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// `refuse` (default: such a row is an error) or `update` (the row changes the user; an
    /// empty PIN keeps theirs).
    pub existing: Option<String>,
}

impl ImportParams {
    fn mode(&self) -> Result<Existing, Problem> {
        Ok(self
            .existing
            .as_deref()
            .map(str::parse)
            .transpose()?
            .unwrap_or_default())
    }
}

fn csv_body(h: &HeaderMap) -> Result<(), Problem> {
    let ct = header_str(h, "content-type").unwrap_or_default();
    if ct.split(';').next().map(str::trim) != Some("text/csv") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send the file as `Content-Type: text/csv`",
        ));
    }
    Ok(())
}

/// Parse and check a file against the database as it is now.
fn check(s: &ApiState, body: &[u8], mode: Existing) -> Result<(Vec<NewUser>, Preview), Problem> {
    let existing = s.ops.existing_keys()?;
    let (users, errors) = import::parse_users_csv(body, &existing, mode);
    let update = users
        .iter()
        .filter(|u| existing.user_ids.contains(u.user_id.as_str()))
        .count();
    let preview = Preview {
        rows: users.len() + errors.len(),
        create: users.len() - update,
        update,
        errors: errors.into_iter().map(LineError::from).collect(),
    };
    Ok((users, preview))
}

/// Check a CSV file; nothing is written.
#[utoipa::path(post, path = "/import/users/preview", tag = "import",
    description = "Role: administrator. Header `user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile`. Answers 200 whatever the rows hold: the bad ones are listed with their lines.",
    params(ImportParams),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = Preview), (status = 415, body = Problem)))]
pub async fn preview(
    _: Allowed<Administer>,
    State(s): State<ApiState>,
    QueryParams(p): QueryParams<ImportParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Preview>, Problem> {
    csv_body(&headers)?;
    let mode = p.mode()?;
    blocking(move || Ok(Json(check(&s, &body, mode)?.1))).await
}

/// Import a CSV file: all of it, or nothing.
#[utoipa::path(post, path = "/import/users", tag = "import",
    description = "Role: administrator. Every row is checked again; with any bad row nothing is written and the answer is a 422 problem listing them in `errors`. Each user is audited as created or updated (the file named in the entry).",
    params(ImportParams),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = Imported), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn commit(
    who: Allowed<Administer>,
    State(s): State<ApiState>,
    QueryParams(p): QueryParams<ImportParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Imported>, Problem> {
    csv_body(&headers)?;
    let mode = p.mode()?;
    blocking(move || {
        let (users, preview) = check(&s, &body, mode)?;
        if !preview.errors.is_empty() {
            let mut p = Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "Invalid input",
                format!(
                    "{} of {} row(s) are bad; nothing was imported",
                    preview.errors.len(),
                    preview.rows
                ),
            );
            p.errors = Some(preview.errors);
            return Err(p);
        }
        let prepared = import::prepare_users(users, &|_, _| {}).map_err(Problem::internal)?;
        let source = match &who.who.via {
            Via::Local(actor) => format!("the command line ({actor})"),
            _ => format!("the API by {}", who.who.name),
        };
        let sum = s.ops.import_users(&who.actor(), &prepared, mode, &source)?;
        Ok(Json(sum.into()))
    })
    .await
}

/// Every user as CSV, the PIN column empty.
#[utoipa::path(get, path = "/export/users", tag = "import",
    description = "Role: any. The import format; only PIN hashes are stored, so the PIN column is empty. Re-imports with `existing=update` (empty PINs keep the users' PINs); into another database only with PINs filled in.",
    responses((status = 200, content_type = "text/csv", body = String)))]
pub async fn export(_: Allowed<Read>, State(s): State<ApiState>) -> Result<Response, Problem> {
    blocking(move || {
        let users = s.ops.all_users()?;
        let mut out = Vec::with_capacity(users.len() * 64);
        import::write_users_csv(&users, &mut out).map_err(Problem::internal)?;
        let mut r = out.into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"users.csv\""),
        );
        Ok(r)
    })
    .await
}

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(preview))
        .routes(routes!(commit))
        .layer(DefaultBodyLimit::max(MAX_FILE))
        .routes(routes!(export))
}
