//! `/self-care/…`: the self-care portal's API for end users (docs/self-care.md), a front end of
//! the operations layer's [`selfprov_operations::self_care`]. Users log in with their
//! self-service ID and PIN (the IVR's check and lockout) and get a session of their own: the
//! `selfprov_self_care` cookie (`HttpOnly`, `SameSite=Strict`, `Secure` unless configured off,
//! sent only to these paths) and an anti-CSRF token for every change. These routes are outside
//! the administrators' authentication, and the administrators' routes never read this cookie:
//! a user session cannot reach them, and an administrator's session is no user session.
//!
//! Logins, releases and PIN changes are throttled per source address (one budget of
//! `admin.logins_per_minute` for the three).

use crate::activation::IssuedCode;
use crate::auth::CSRF_HEADER;
use crate::body::{blocking, header_str, JsonBody, NoStore};
use crate::problem::Problem;
use crate::session::Peer;
use crate::ApiState;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::{header, request::Parts, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use selfprov_operations::self_care::{
    PinChange, SelfCareContext, SelfCareError, SelfCarePolicy, SelfCareUser,
};
use selfprov_provisioning::model::{Device, DeviceName};
use selfprov_provisioning::UnixMillis;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[cfg(test)]
mod tests;

/// The portal session cookie's name (the administrators' is `selfprov_session`).
pub const COOKIE: &str = "selfprov_self_care";
/// The only paths the browser sends the cookie to.
const COOKIE_PATH: &str = "/api/v1/self-care";

/// A login with a self-service ID and PIN.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserLogin {
    pub self_service_id: String,
    pub pin: String,
}

/// The logged-in user.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub user_id: String,
    pub first_name: String,
    pub last_name: String,
    pub self_service_id: Option<String>,
    pub primary_extension: Option<String>,
    /// Send it in `X-CSRF-Token` with every change.
    pub csrf_token: String,
    /// For a new session: when it ends at the latest (Unix milliseconds).
    pub expires_ms: Option<i64>,
}

impl Me {
    fn of(u: SelfCareUser, csrf: String, expires_ms: Option<i64>) -> Me {
        Me {
            user_id: u.user_id.to_string(),
            first_name: u.first_name,
            last_name: u.last_name,
            self_service_id: u.self_service_id,
            primary_extension: u.primary_extension,
            csrf_token: csrf,
            expires_ms,
        }
    }
}

/// Where one of the user's phones is registered now (the built-in registrar's table).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PhoneRegistration {
    /// The address its REGISTER came from.
    pub source: String,
    /// Seconds until the binding expires.
    pub expires_in_s: u64,
}

/// One of the user's phones.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MyPhone {
    /// The device name, e.g. `SEP001122334455`.
    pub name: String,
    /// The MAC address, for a `SEP…` name.
    pub mac: Option<String>,
    pub model: String,
    pub extension: Option<String>,
    pub description: String,
    /// `null`: not registered at the built-in registrar now (or the service did not say).
    pub registration: Option<PhoneRegistration>,
}

/// `SEP001122334455` → `00:11:22:33:44:55`.
fn mac_of(name: &DeviceName) -> Option<String> {
    if !name.is_sep_mac() {
        return None;
    }
    let hex = &name.as_str()[3..];
    let pairs: Vec<&str> = (0..6).filter_map(|i| hex.get(2 * i..2 * i + 2)).collect();
    Some(pairs.join(":").to_ascii_lowercase())
}

/// A PIN change, each field as typed.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPin {
    pub old_pin: String,
    pub new_pin: String,
    pub new_pin_again: String,
}

/// A released phone: back on a temporary DN, waiting for its next owner.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Released {
    pub name: String,
    pub temporary_dn: Option<String>,
}

/// The logged-in user of a request, from the portal cookie; for a change, the request must carry
/// the session's anti-CSRF token.
pub struct User {
    pub user: SelfCareUser,
    csrf: String,
    secret: String,
    source: String,
}

impl FromRequestParts<ApiState> for User {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, s: &ApiState) -> Result<Self, Problem> {
        let Peer(peer) = Peer::from_request_parts(parts, s).await?;
        let secret = cookie_value(&parts.headers).ok_or_else(not_logged_in)?;
        let (ops, policy, c) = (s.ops.clone(), s.auth.sessions, secret.clone());
        let (user, csrf) =
            blocking(move || Ok(ops.self_care_session(&c, &policy, UnixMillis::now())?))
                .await?
                .ok_or_else(not_logged_in)?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD);
        let sent = header_str(&parts.headers, CSRF_HEADER).unwrap_or_default();
        if !safe && !crate::auth::same(sent.as_bytes(), csrf.as_bytes()) {
            return Err(Problem::forbidden(
                "a change needs the session's anti-CSRF token in the X-CSRF-Token header (GET /api/v1/self-care/session gives it)",
            ));
        }
        Ok(User {
            user,
            csrf,
            secret,
            source: peer.map(|p| p.to_string()).unwrap_or_default(),
        })
    }
}

fn not_logged_in() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "self-care-login",
        "Please log in",
        "log in with your self-service ID and PIN (POST /api/v1/self-care/session)",
    )
}

fn cookie_value(h: &axum::http::HeaderMap) -> Option<String> {
    crate::auth::cookie_named(h, COOKIE)
}

fn cookie(s: &ApiState, value: &str, max_age: u64) -> Option<HeaderValue> {
    let secure = if s.auth.secure_cookie { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path={COOKIE_PATH}; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// Count a login or change from `peer` against the portal's per-address budget.
fn throttle(s: &ApiState, peer: &str) -> Result<(), Problem> {
    let Ok(ip) = peer.parse() else {
        return Ok(());
    };
    s.self_care_throttle
        .attempt(ip, Instant::now())
        .map_err(|wait| {
            tracing::warn!(source = %ip, "self-care throttled: too many attempts from this address");
            Problem::too_many("too many attempts from this address; wait a minute", wait)
        })
}

impl From<SelfCareError> for Problem {
    fn from(e: SelfCareError) -> Self {
        match e {
            SelfCareError::InvalidCredentials => Problem::new(
                StatusCode::UNAUTHORIZED,
                "self-care-login-failed",
                "Login failed",
                e.to_string(),
            ),
            SelfCareError::Locked => Problem::new(
                StatusCode::UNAUTHORIZED,
                "self-care-locked",
                "Account locked",
                e.to_string(),
            ),
            SelfCareError::NotAllowed => Problem::new(
                StatusCode::FORBIDDEN,
                "self-care-not-allowed",
                "Self-care not allowed",
                e.to_string(),
            ),
            SelfCareError::Op(e) => e.into(),
        }
    }
}

/// Run `f` on the blocking pool with the context of a portal request from `source`: the
/// self-provisioning settings in force and the PIN and session policies.
async fn with_context<T: Send + 'static>(
    s: &ApiState,
    source: String,
    f: impl FnOnce(&ApiState, &SelfCareContext<'_>) -> Result<T, SelfCareError> + Send + 'static,
) -> Result<T, Problem> {
    let st = s.clone();
    blocking(move || {
        let settings = st
            .ops
            .effective_settings(&(st.settings)())?
            .self_provisioning;
        let policy = SelfCarePolicy {
            pins: st.auth.pins,
            sessions: st.auth.sessions,
        };
        let cx = SelfCareContext {
            source: &source,
            settings: &settings,
            policy: &policy,
            now: UnixMillis::now(),
        };
        Ok(f(&st, &cx))
    })
    .await?
    .map_err(Problem::from)
}

/// Log in with a self-service ID and PIN.
#[utoipa::path(post, path = "/self-care/session", tag = "self-care", security(()),
    description = "No authentication. An end user's login to the self-care portal with the self-service ID and PIN (the IVR's check and lockout; the user's profile must allow self-care). Sets the `selfprov_self_care` cookie (HttpOnly, SameSite=Strict, Path=/api/v1/self-care, Secure unless `admin.secure_cookies = false`). Wrong ID or PIN: 401 `self-care-login-failed`; locked: 401 `self-care-locked`; profile does not allow it: 403 `self-care-not-allowed`; too many attempts from one address: 429. Audited.",
    request_body = UserLogin,
    responses((status = 200, body = Me, headers(("Set-Cookie" = String))),
              (status = 401, body = Problem), (status = 403, body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    State(s): State<ApiState>,
    Peer(peer): Peer,
    JsonBody(l): JsonBody<UserLogin>,
) -> Result<Response, Problem> {
    let source = peer.map(|p| p.to_string()).unwrap_or_default();
    throttle(&s, &source)?;
    let (user, session) = with_context(&s, source, move |st, cx| {
        st.ops.self_care_login(&l.self_service_id, &l.pin, cx)
    })
    .await?;
    let me = Me::of(user, session.csrf, Some(session.expires.0));
    let mut r = NoStore(StatusCode::OK, me).into_response();
    if let Some(c) = cookie(&s, &session.secret, s.auth.sessions.lifetime.as_secs()) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    Ok(r)
}

/// Who is logged in (and the session's anti-CSRF token, after a page reload).
#[utoipa::path(get, path = "/self-care/session", tag = "self-care", security(()),
    description = "A self-care session (the `selfprov_self_care` cookie).",
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
pub async fn whoami(u: User) -> NoStore<Me> {
    NoStore(StatusCode::OK, Me::of(u.user, u.csrf, None))
}

/// Log out: the session ends at once and the cookie is cleared.
#[utoipa::path(delete, path = "/self-care/session", tag = "self-care", security(()),
    description = "A self-care session and its `X-CSRF-Token`. Audited.",
    responses((status = 204, description = "Logged out"), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn logout(u: User, State(s): State<ApiState>) -> Result<Response, Problem> {
    let ops = s.ops.clone();
    blocking(move || {
        Ok(ops.self_care_logout(&u.secret, &u.user.user_id, &u.source, UnixMillis::now())?)
    })
    .await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Some(c) = cookie(&s, "", 0) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    Ok(r)
}

/// The user's phones.
#[utoipa::path(get, path = "/self-care/phones", tag = "self-care", security(()),
    description = "A self-care session. The logged-in user's phones, with where each is registered now (built-in registrar).",
    responses((status = 200, body = Vec<MyPhone>), (status = 401, body = Problem)))]
pub async fn phones(u: User, State(s): State<ApiState>) -> Result<Json<Vec<MyPhone>>, Problem> {
    let ops = s.ops.clone();
    let id = u.user.user_id.clone();
    let devices = blocking(move || Ok(ops.self_care_phones(&id)?)).await?;
    // Registrations are a courtesy: a busy service shows the phones without them.
    let registered = crate::live::snapshot(&s)
        .await
        .map(|v| v.registrations)
        .unwrap_or_default();
    Ok(Json(
        devices
            .iter()
            .map(|d: &Device| MyPhone {
                name: d.name.to_string(),
                mac: mac_of(&d.name),
                model: d.model.clone(),
                extension: d.dn.as_ref().map(|x| x.to_string()),
                description: d.description.clone(),
                registration: registered
                    .iter()
                    .find(|r| r.device == d.name.as_str())
                    .map(|r| PhoneRegistration {
                        source: r.source.clone(),
                        expires_in_s: r.expires_in_s,
                    }),
            })
            .collect(),
    ))
}

/// The user's activation codes still usable: phones an administrator prepared for them.
#[utoipa::path(get, path = "/self-care/activation-codes", tag = "self-care", security(()),
    description = "A self-care session. The logged-in user's pending activation codes (phones prepared for them), newest first, each with the code to type on the phone and its QR code; `Cache-Control: no-store`.",
    responses((status = 200, body = Vec<IssuedCode>), (status = 401, body = Problem)))]
pub async fn activation_codes(
    u: User,
    State(s): State<ApiState>,
) -> Result<NoStore<Vec<IssuedCode>>, Problem> {
    let ops = s.ops.clone();
    let id = u.user.user_id.clone();
    let codes = blocking(move || Ok(ops.self_care_codes(&id, UnixMillis::now())?)).await?;
    let codes = codes
        .into_iter()
        .map(IssuedCode::of)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NoStore(StatusCode::OK, codes))
}

/// Release one of the user's phones: it goes back to a temporary DN and is told to resync.
#[utoipa::path(post, path = "/self-care/phones/{name}/release", tag = "self-care", security(()),
    description = "A self-care session and its `X-CSRF-Token`. The administrators' release (temporary DN, NOTIFY check-sync), of the user's own phone only: another user's phone is 404. Throttled; audited as `release` by `self-care:<user>@<address>`.",
    params(("name" = String, Path)),
    responses((status = 200, body = Released), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 429, body = Problem)))]
pub async fn release(
    u: User,
    State(s): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<Released>, Problem> {
    throttle(&s, &u.source)?;
    blocking(move || {
        let autoreg = s.ops.effective_settings(&(s.settings)())?.auto_registration;
        let d = s.ops.self_care_release(
            &u.user.user_id,
            &name,
            &u.source,
            &autoreg,
            UnixMillis::now(),
        )?;
        (s.resync)(vec![name]);
        Ok(Json(Released {
            name: d.name.to_string(),
            temporary_dn: d.dn.map(|x| x.to_string()),
        }))
    })
    .await
}

/// Change the user's PIN.
#[utoipa::path(post, path = "/self-care/pin", tag = "self-care", security(()),
    description = "A self-care session and its `X-CSRF-Token`. The current PIN (a wrong one counts towards the lockout) and the new one twice, under the PIN policy; a wrong field is 422 naming it (`old_pin`, `new_pin`, `new_pin_again`). Throttled; audited as `change_pin`.",
    request_body = NewPin,
    responses((status = 204, description = "Changed"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn change_pin(
    u: User,
    State(s): State<ApiState>,
    JsonBody(p): JsonBody<NewPin>,
) -> Result<StatusCode, Problem> {
    throttle(&s, &u.source)?;
    with_context(&s, u.source.clone(), move |st, cx| {
        let change = PinChange {
            old_pin: &p.old_pin,
            new_pin: &p.new_pin,
            new_pin_again: &p.new_pin_again,
        };
        st.ops.self_care_change_pin(&u.user.user_id, &change, cx)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The portal's routes: outside the administrators' authentication (each handler's [`User`]
/// argument is its own).
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(login, whoami, logout))
        .routes(routes!(phones))
        .routes(routes!(activation_codes))
        .routes(routes!(release))
        .routes(routes!(change_pin))
}
