//! `/devices`: phones, and what is done to them — assign (a claim through the same claim engine
//! as the IVR, with its rules and outcome codes), move to another user, release back to
//! auto-registered, replace by new hardware — and each device's history (its audit entries).
//! Each change to a phone's line tells the phone (`ApiState::resync`: NOTIFY check-sync).

use crate::audit::Entry;
use crate::auth::{Administer, Allowed, Helpdesk, Read};
use crate::body::{blocking, JsonBody, Tagged};
use crate::list::QueryParams;
use crate::problem::Problem;
use crate::ApiState;
use axum::extract::{Path, State};
use axum::Json;
use selfprov_operations::audit::AuditQuery;
use selfprov_operations::devices::DevicePatch;
use selfprov_operations::{Actor, AssignOutcome, ClaimContext, OpError, Versioned};
use selfprov_provisioning::model::Device;
use selfprov_provisioning::store::{DeviceSort, UnixMillis};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceOut {
    /// e.g. `SEP001122334455`.
    pub name: String,
    pub model: String,
    pub protocol: String,
    /// `desk_phone`, `mobile_desktop` or `profile`.
    pub class: String,
    pub secure: bool,
    pub dn: Option<String>,
    /// The owner's user ID; `null` while auto-registered.
    pub owner: Option<String>,
    pub auto_registered: bool,
    pub udt: Option<String>,
    pub ult: Option<String>,
    pub description: String,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&Device> for DeviceOut {
    fn from(d: &Device) -> Self {
        let Device {
            name,
            model,
            protocol,
            class,
            secure,
            dn,
            owner,
            auto_registered,
            udt,
            ult,
            description,
            created_at,
            updated_at,
        } = d.clone();
        DeviceOut {
            name: name.into(),
            model,
            protocol,
            class: class.as_str().to_owned(),
            secure,
            dn: dn.map(String::from),
            owner: owner.map(String::from),
            auto_registered,
            udt,
            ult,
            description,
            created_at,
            updated_at,
        }
    }
}

/// A new device: its name and any of the fields.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NewDevice {
    pub name: String,
    #[serde(flatten)]
    pub fields: DevicePatch,
}

crate::resource!(DeviceResource: Device as DeviceOut, DevicePatch, sort DeviceSort, "/devices" by "name",
    list devices, get device, create create_device, update update_device, delete delete_device,
    key |d| d.name);

crate::crud_routes!(
    DeviceResource,
    tag = "devices",
    collection = "/devices",
    item = "/devices/{name}",
    key = "name",
    create = NewDevice,
    wire = DeviceOut,
    detail = DeviceOut,
    patch = DevicePatch,
    summaries = [
        "List and search devices (by name, MAC, DN, owner, model)",
        "Create a device",
        "Read a device",
        "Change a device",
        "Delete a device"
    ]
);

/// Whom to give a phone to.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToUser {
    pub user_id: String,
}

/// What a claim or a move did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Assignment {
    /// `assigned`, or `already_assigned` (the device already belonged to the user: nothing
    /// changed).
    pub outcome: String,
    pub user_id: String,
    pub extension: String,
    pub udt: String,
    pub ult: Option<String>,
    pub device: DeviceOut,
}

async fn claim(
    s: ApiState,
    who: Actor,
    name: String,
    to: ToUser,
    moving: bool,
) -> Result<Tagged<Assignment>, Problem> {
    blocking(move || {
        let user = to
            .user_id
            .parse()
            .map_err(|e: selfprov_provisioning::model::FieldError| Problem::invalid(&e))?;
        let (claims, how) = (s.ops.claims(), ClaimContext::by(&who));
        let r = if moving {
            claims.move_device(&name, &user, &how, UnixMillis::now())
        } else {
            claims.claim(&name, &user, &how, UnixMillis::now())
        };
        let (outcome, p) = match r.map_err(OpError::Refused)? {
            AssignOutcome::Assigned(p) => ("assigned", p),
            AssignOutcome::AlreadyAssigned(p) => ("already_assigned", p),
        };
        let d = s.ops.device(&name)?;
        if outcome == "assigned" {
            (s.resync)(vec![name]);
        }
        Ok(Tagged(
            d.version(),
            Assignment {
                outcome: outcome.into(),
                user_id: p.user_id,
                extension: p.extension.into(),
                udt: p.udt.into(),
                ult: p.ult.map(String::from),
                device: DeviceOut::from(&d),
            },
        ))
    })
    .await
}

/// Claim a phone for a user, as the IVR would.
#[utoipa::path(post, path = "/devices/{name}/assign", tag = "devices",
    description = "Role: administrator. The claim engine's rules and outcome codes (a refusal is a problem with `code`, e.g. `SELFPROV_DEVICE_LIMIT`); audited as a claim.",
    params(("name" = String, Path)), request_body = ToUser,
    responses((status = 200, body = Assignment), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn assign(
    who: Allowed<Administer>,
    State(s): State<ApiState>,
    Path(name): Path<String>,
    JsonBody(to): JsonBody<ToUser>,
) -> Result<Tagged<Assignment>, Problem> {
    claim(s, who.actor(), name, to, false).await
}

/// Move a phone (claimed or not) to another user.
#[utoipa::path(post, path = "/devices/{name}/move", tag = "devices",
    description = "Role: helpdesk. The claim's rules and outcome codes; the line gets a new secret; audited as a claim naming the previous owner.",
    params(("name" = String, Path)), request_body = ToUser,
    responses((status = 200, body = Assignment), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn move_device(
    who: Allowed<Helpdesk>,
    State(s): State<ApiState>,
    Path(name): Path<String>,
    JsonBody(to): JsonBody<ToUser>,
) -> Result<Tagged<Assignment>, Problem> {
    claim(s, who.actor(), name, to, true).await
}

/// Give a phone back: no owner, auto-registered again with a temporary DN.
#[utoipa::path(post, path = "/devices/{name}/release", tag = "devices",
    description = "Role: helpdesk. Audited as `release` with the owner before.",
    params(("name" = String, Path)),
    responses((status = 200, body = DeviceOut), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn release(
    who: Allowed<Helpdesk>,
    State(s): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Tagged<DeviceOut>, Problem> {
    blocking(move || {
        let autoreg = s.ops.effective_settings(&(s.settings)())?.auto_registration;
        let d = s
            .ops
            .claims()
            .release(&name, &autoreg, &who.actor(), UnixMillis::now())?;
        (s.resync)(vec![name]);
        Ok(Tagged(d.version(), DeviceOut::from(&d)))
    })
    .await
}

/// The new hardware.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replacement {
    /// The new phone's name, or its MAC address (`00:11:22:aa:bb:cc`).
    pub new: String,
}

/// New hardware takes an old phone's owner, DN and templates.
#[utoipa::path(post, path = "/devices/{name}/replace", tag = "devices",
    description = "Role: administrator. The old device is removed (its files are no longer served); audited in both devices' histories.",
    params(("name" = String, Path)), request_body = Replacement,
    responses((status = 200, body = DeviceOut), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn replace(
    who: Allowed<Administer>,
    State(s): State<ApiState>,
    Path(name): Path<String>,
    JsonBody(r): JsonBody<Replacement>,
) -> Result<Tagged<DeviceOut>, Problem> {
    blocking(move || {
        let new = selfprov_provisioning::model::DeviceName::from_mac(&r.new)
            .map_or_else(|| r.new.parse(), Ok)
            .map_err(|e: selfprov_provisioning::model::FieldError| {
                Problem::invalid(&selfprov_provisioning::model::FieldError::new(
                    "new", e.rule,
                ))
            })?;
        let d = s
            .ops
            .claims()
            .replace(&name, &new, &who.actor(), UnixMillis::now())?;
        // The old phone finds its file gone; the new one (if it is up) its lines.
        (s.resync)(vec![name, new.to_string()]);
        Ok(Tagged(d.version(), DeviceOut::from(&d)))
    })
    .await
}

/// How much history.
#[derive(Debug, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// At most this many entries, newest first (default 100).
    pub limit: Option<usize>,
}

/// A device's history: its claims, changes and configuration fetches, newest first.
#[utoipa::path(get, path = "/devices/{name}/history", tag = "devices",
    description = "Role: any. The audit entries about this device.",
    params(("name" = String, Path), HistoryParams),
    responses((status = 200, body = Vec<Entry>)))]
pub async fn history(
    _: Allowed<Read>,
    State(s): State<ApiState>,
    Path(name): Path<String>,
    QueryParams(p): QueryParams<HistoryParams>,
) -> Result<Json<Vec<Entry>>, Problem> {
    let q = AuditQuery {
        device: Some(name),
        limit: Some(p.limit.unwrap_or(100)),
        ..Default::default()
    };
    crate::audit::read(s, q).await
}

pub fn routes() -> OpenApiRouter<ApiState> {
    crud()
        .routes(routes!(assign))
        .routes(routes!(move_device))
        .routes(routes!(release))
        .routes(routes!(replace))
        .routes(routes!(history))
}
