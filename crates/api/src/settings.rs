//! `/settings`: the self-provisioning and auto-registration settings in force, where each comes
//! from (the configuration file or a run-time change in the database), and changing them. A
//! running service applies a change within seconds without a restart; the answer says so in the
//! Self-Provisioning page's words ("Save successful. …").

use crate::auth::{Administer, Allowed, Read};
use crate::body::{blocking, IfMatch, JsonBody, Tagged};
use crate::problem::Problem;
use crate::ApiState;
use axum::extract::State;
use selfprov_operations::settings::{SettingsPatch, SettingsSaved, SettingsView};
use selfprov_provisioning::settings::Status;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The settings in force.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Settings {
    /// `Ready` when the IVR accepts calls.
    pub ready: bool,
    /// What is off, when not ready.
    pub reasons: Vec<String>,
    pub settings: Vec<Setting>,
}

/// One setting.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Setting {
    pub name: String,
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    /// `file` or `database` (changed at run time).
    pub source: String,
}

impl From<SettingsView> for Settings {
    fn from(v: SettingsView) -> Self {
        let (ready, reasons) = match v.status {
            Status::Ready => (true, Vec::new()),
            Status::NotReady(r) => (false, r),
        };
        Settings {
            ready,
            reasons,
            settings: v
                .settings
                .into_iter()
                .map(|s| Setting {
                    name: s.name.to_owned(),
                    value: s.value,
                    source: s.source.to_owned(),
                })
                .collect(),
        }
    }
}

/// The answer to a change.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Saved {
    /// "Save successful. The running service applies the change within seconds, without a
    /// restart; calls in progress continue."
    pub message: String,
    #[serde(flatten)]
    pub settings: Settings,
}

impl From<SettingsSaved> for Saved {
    fn from(s: SettingsSaved) -> Self {
        Saved {
            message: s.message.to_owned(),
            settings: s.view.into(),
        }
    }
}

/// The settings in force and where each comes from.
#[utoipa::path(get, path = "/settings", tag = "settings",
    description = "Role: any. The `ETag` is the version of the run-time changes, for `If-Match`.",
    responses((status = 200, body = Settings, headers(("ETag" = String)))))]
pub async fn show(
    _: Allowed<Read>,
    State(s): State<ApiState>,
) -> Result<Tagged<Settings>, Problem> {
    blocking(move || {
        let view = s.ops.settings(&(s.settings)())?;
        Ok(Tagged(s.ops.settings_version()?, view.into()))
    })
    .await
}

/// Change settings; only the ones given change.
#[utoipa::path(patch, path = "/settings", tag = "settings",
    description = "Role: administrator. Checked as a whole (templates exist, the authentication code is set when the mode needs it, the route point is outside the DN range), stored, audited. `authentication_code` is given in clear and stored hashed.",
    params(("If-Match" = Option<String>, Header)),
    request_body = SettingsPatch,
    responses((status = 200, body = Saved), (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    who: Allowed<Administer>,
    State(s): State<ApiState>,
    IfMatch(expect): IfMatch,
    JsonBody(p): JsonBody<SettingsPatch>,
) -> Result<Tagged<Saved>, Problem> {
    blocking(move || {
        let saved = s
            .ops
            .expecting(expect)
            .update_settings(&who.actor(), &(s.settings)(), &p)?;
        Ok(Tagged(s.ops.settings_version()?, saved.into()))
    })
    .await
}

/// Which run-time changes to drop.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reset {
    /// Setting names, or `all`.
    pub names: Vec<String>,
}

/// Drop run-time changes: the file's values apply again.
#[utoipa::path(post, path = "/settings/reset", tag = "settings",
    description = "Role: administrator.",
    params(("If-Match" = Option<String>, Header)),
    request_body = Reset,
    responses((status = 200, body = Saved), (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn reset(
    who: Allowed<Administer>,
    State(s): State<ApiState>,
    IfMatch(expect): IfMatch,
    JsonBody(r): JsonBody<Reset>,
) -> Result<Tagged<Saved>, Problem> {
    blocking(move || {
        let saved =
            s.ops
                .expecting(expect)
                .reset_settings(&who.actor(), &(s.settings)(), &r.names)?;
        Ok(Tagged(s.ops.settings_version()?, saved.into()))
    })
    .await
}

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(show, update))
        .routes(routes!(reset))
}
