//! `/users`: end users, and the helpdesk's actions on them (unlock after too many wrong PINs,
//! PIN reset). A PIN is never shown; a generated one is answered once, uncached.

use crate::auth::{Allowed, Helpdesk};
use crate::body::{blocking, parse_json, NoStore};
use crate::crud::Resource;
use crate::problem::Problem;
use crate::ApiState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use selfprov_operations::users::{LockState, UserPatch};
use selfprov_operations::{Actor, OpError, Operations};
use selfprov_provisioning::model::EndUser;
use selfprov_provisioning::store::{ListQuery, Page, UserSort};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// An end user as listed. The PIN only as whether one is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub user_id: String,
    pub first_name: String,
    pub last_name: String,
    /// What the user types on the keypad; defaults to the primary extension.
    pub self_service_id: Option<String>,
    pub primary_extension: Option<String>,
    /// `null`: the system default profile.
    pub user_profile: Option<String>,
    pub enabled: bool,
    pub pin_set: bool,
}

impl From<&EndUser> for User {
    fn from(u: &EndUser) -> Self {
        let EndUser {
            user_id,
            first_name,
            last_name,
            self_service_id,
            primary_extension,
            user_profile,
            enabled,
            pin_hash,
            password_hash: _,
        } = u.clone();
        User {
            user_id: user_id.into(),
            first_name,
            last_name,
            self_service_id: self_service_id.map(String::from),
            primary_extension: primary_extension.map(String::from),
            user_profile: user_profile.map(String::from),
            enabled,
            pin_set: pin_hash.is_some(),
        }
    }
}

/// A user read on their own: also the lockout state.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserDetail {
    #[serde(flatten)]
    pub user: User,
    #[serde(flatten)]
    pub lock: Lock,
}

/// Wrong PINs in a row, and until when the user is locked out.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Lock {
    pub failed_attempts: u32,
    /// Unix milliseconds; `null` when not locked.
    pub locked_until_ms: Option<i64>,
}

impl From<LockState> for Lock {
    fn from(l: LockState) -> Self {
        Lock {
            failed_attempts: l.failed_attempts,
            locked_until_ms: l.locked_until_ms,
        }
    }
}

/// A new user: the ID, a PIN, and any of the other fields.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NewUser {
    pub user_id: String,
    #[serde(flatten)]
    pub fields: UserPatch,
}

pub struct UserResource;

impl Resource for UserResource {
    type Domain = EndUser;
    type Wire = User;
    type Detail = UserDetail;
    type Patch = UserPatch;
    type Sort = UserSort;
    const COLLECTION: &'static str = "/users";
    const KEY: &'static str = "user_id";
    fn list(ops: &Operations, q: &ListQuery<UserSort>) -> Result<Page<EndUser>, OpError> {
        ops.users(q)
    }
    fn get(ops: &Operations, key: &str) -> Result<EndUser, OpError> {
        ops.user(key)
    }
    fn create(ops: &Operations, who: &Actor, key: &str, p: &UserPatch) -> Result<EndUser, OpError> {
        ops.create_user(who, key, p)
    }
    fn update(ops: &Operations, who: &Actor, key: &str, p: &UserPatch) -> Result<EndUser, OpError> {
        ops.update_user(who, key, p)
    }
    fn delete(ops: &Operations, who: &Actor, key: &str) -> Result<(), OpError> {
        ops.delete_user(who, key)
    }
    fn wire(d: &EndUser) -> User {
        User::from(d)
    }
    fn detail(ops: &Operations, d: &EndUser) -> Result<UserDetail, OpError> {
        Ok(UserDetail {
            user: User::from(d),
            lock: ops.lock_state(d.user_id.as_str())?.into(),
        })
    }
    fn key_of(d: &EndUser) -> String {
        d.user_id.to_string()
    }
}

crate::crud_routes!(
    UserResource,
    tag = "users",
    collection = "/users",
    item = "/users/{user_id}",
    key = "user_id",
    create = NewUser,
    wire = User,
    detail = UserDetail,
    patch = UserPatch,
    summaries = [
        "List and search users",
        "Create a user (a PIN is required)",
        "Read a user with their lockout state",
        "Change a user",
        "Delete a user (refused while they own devices)"
    ]
);

/// Clear a user's lockout after too many wrong PINs.
#[utoipa::path(post, path = "/users/{user_id}/unlock", tag = "users",
    description = "Role: helpdesk. Audited as `unlock`.",
    params(("user_id" = String, Path)),
    responses((status = 200, body = Lock), (status = 404, body = Problem)))]
pub async fn unlock(
    who: Allowed<Helpdesk>,
    State(s): State<ApiState>,
    Path(user_id): Path<String>,
) -> Result<Json<Lock>, Problem> {
    blocking(move || Ok(Json(s.ops.unlock_user(&who.actor(), &user_id)?.into()))).await
}

/// A PIN reset: the PIN given, or a random 6-digit one.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPin {
    /// The new PIN (1 to 20 digits); leave out for a random one.
    pub pin: Option<String>,
}

/// The answer to a PIN reset.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PinReset {
    /// The generated PIN, shown this once (`null` when the PIN was given).
    pub pin: Option<String>,
}

/// Give a user a new PIN (which also clears a lockout).
#[utoipa::path(post, path = "/users/{user_id}/reset-pin", tag = "users",
    description = "Role: helpdesk. The body is optional: without a `pin`, a random 6-digit PIN is made and answered once (`Cache-Control: no-store`). Audited as `reset_pin`, never with the PIN.",
    params(("user_id" = String, Path)),
    request_body(content = Option<ResetPin>, content_type = "application/json"),
    responses((status = 200, body = PinReset), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn reset_pin(
    who: Allowed<Helpdesk>,
    State(s): State<ApiState>,
    Path(user_id): Path<String>,
    body: Bytes,
) -> Result<NoStore<PinReset>, Problem> {
    let req: ResetPin = if body.iter().all(u8::is_ascii_whitespace) {
        ResetPin::default()
    } else {
        parse_json(&body)?
    };
    blocking(move || {
        let pin = s
            .ops
            .reset_pin(&who.actor(), &user_id, req.pin.as_deref())?;
        Ok(NoStore(StatusCode::OK, PinReset { pin }))
    })
    .await
}

pub fn routes() -> OpenApiRouter<ApiState> {
    crud().routes(routes!(unlock)).routes(routes!(reset_pin))
}
