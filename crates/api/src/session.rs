//! `/session`: the console's login (a session cookie: `HttpOnly`, `SameSite=Strict`, `Secure`
//! unless configured off, and an anti-CSRF token for changes), who is logged in, and logout.
//!
//! Logins are throttled per source address and locked per account like users' PINs: after
//! `credential_policy`-style many wrong passwords in a row the account is locked for a while.
//! Wrong names and wrong passwords answer the same. Passwords are never logged.

use crate::auth::{session_cookie, Allowed, Read, COOKIE};
use crate::body::{blocking, JsonBody, NoStore};
use crate::problem::Problem;
use crate::ApiState;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequestParts, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use selfprov_operations::accounts::{LoginError, Via};
use selfprov_provisioning::accounts::Role;
use selfprov_provisioning::UnixMillis;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Login attempts per source address and minute.
pub struct LoginThrottle {
    per_minute: u32,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl LoginThrottle {
    pub fn new(per_minute: u32) -> Self {
        LoginThrottle {
            per_minute,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Count an attempt from `ip`; `Err(seconds to wait)` above the rate.
    pub(crate) fn attempt(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let Ok(mut seen) = self.seen.lock() else {
            return Ok(());
        };
        if seen.len() > 10_000 {
            seen.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
        }
        let e = seen.entry(ip).or_insert((now, 0));
        if now.duration_since(e.0) >= Duration::from_secs(60) {
            *e = (now, 0);
        }
        e.1 += 1;
        if self.per_minute > 0 && e.1 > self.per_minute {
            return Err(60u64.saturating_sub(now.duration_since(e.0).as_secs()));
        }
        Ok(())
    }
}

/// The client's address, when the listener records it.
pub struct Peer(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// A login.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub name: String,
    pub password: String,
}

/// Who is logged in.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionInfo {
    pub name: String,
    #[schema(value_type = String, example = "helpdesk")]
    pub role: Role,
    /// `session` (console cookie) or `token`.
    pub via: String,
    /// For a session: send it in `X-CSRF-Token` with every change.
    pub csrf_token: Option<String>,
    /// For a new session: when it ends at the latest (Unix milliseconds).
    pub expires_ms: Option<i64>,
}

fn cookie(s: &ApiState, value: &str, max_age: u64) -> Option<HeaderValue> {
    let secure = if s.auth.secure_cookie { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// Log in: a session cookie and the anti-CSRF token.
#[utoipa::path(post, path = "/session", tag = "session", security(()),
    description = "No authentication. Sets the `selfprov_session` cookie (HttpOnly, SameSite=Strict, Secure unless `admin.secure_cookies = false`). Wrong name or password: 401; too many wrong passwords: the account is locked (401, `Retry-After`); too many attempts from one address: 429.",
    request_body = Login,
    responses((status = 200, body = SessionInfo, headers(("Set-Cookie" = String))),
              (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    State(s): State<ApiState>,
    Peer(peer): Peer,
    JsonBody(l): JsonBody<Login>,
) -> Result<Response, Problem> {
    if let Some(ip) = peer {
        s.throttle.attempt(ip, Instant::now()).map_err(|wait| {
            tracing::warn!(source = %ip, "login throttled: too many attempts from this address");
            Problem::too_many(
                "too many login attempts from this address; wait a minute",
                wait,
            )
        })?;
    }
    let source = peer.map(|p| p.to_string()).unwrap_or_default();
    let st = s.clone();
    let name = l.name.clone();
    let opened = blocking(move || {
        let now = UnixMillis::now();
        match st.ops.login(&l.name, &l.password, &st.auth.logins, now) {
            Ok(a) => Ok(Ok((
                a.clone(),
                st.ops.open_session(&a.name, &st.auth.sessions, now)?,
            ))),
            Err(LoginError::Internal(e)) => Err(e.into()),
            Err(e) => Ok(Err(e)),
        }
    })
    .await?;
    let (account, session) = match opened {
        Ok(x) => x,
        Err(LoginError::Locked { until }) => {
            tracing::warn!(name = ?name, %source, "login refused: account locked");
            let wait = (until.0 - UnixMillis::now().0).max(1000) / 1000;
            return Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "login-locked",
                "Account locked",
                "too many wrong passwords; the account is locked for a while",
            )
            .with_retry_after(wait as u64));
        }
        Err(_) => {
            tracing::warn!(name = ?name, %source, "login failed");
            return Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "login-failed",
                "Login failed",
                "wrong account name or password",
            ));
        }
    };
    tracing::info!(name = %account.name, %source, "administrator logged in");
    let info = SessionInfo {
        name: account.name,
        role: account.role,
        via: "session".into(),
        csrf_token: Some(session.csrf),
        expires_ms: Some(session.expires.0),
    };
    let mut r = NoStore(StatusCode::OK, info).into_response();
    if let Some(c) = cookie(&s, &session.secret, s.auth.sessions.lifetime.as_secs()) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    Ok(r)
}

/// Who is calling.
#[utoipa::path(get, path = "/session", tag = "session",
    description = "Role: any. For a console session, also its anti-CSRF token (after a page reload).",
    responses((status = 200, body = SessionInfo), (status = 401, body = Problem)))]
pub async fn whoami(who: Allowed<Read>) -> NoStore<SessionInfo> {
    let (via, csrf) = match &who.who.via {
        Via::Token(_) => ("token", None),
        Via::Session { csrf } => ("session", Some(csrf.clone())),
        Via::Local(_) => ("command line", None),
    };
    NoStore(
        StatusCode::OK,
        SessionInfo {
            name: who.who.name.to_string(),
            role: who.who.role,
            via: via.into(),
            csrf_token: csrf,
            expires_ms: None,
        },
    )
}

/// Log out: the session ends at once and the cookie is cleared.
#[utoipa::path(delete, path = "/session", tag = "session",
    description = "Role: any (with a session, its `X-CSRF-Token`).",
    responses((status = 204, description = "Logged out")))]
pub async fn logout(
    _: Allowed<Read>,
    State(s): State<ApiState>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    if let Some(c) = session_cookie(&headers) {
        let ops = s.ops.clone();
        blocking(move || Ok(ops.close_session(&c)?)).await?;
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Some(c) = cookie(&s, "", 0) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    Ok(r)
}

/// The routes behind authentication.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(whoami, logout))
}

/// The login, which is not.
pub fn login_route() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(login))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_counts_per_address_and_minute() {
        let t = LoginThrottle::new(3);
        let (a, b) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let now = Instant::now();
        for _ in 0..3 {
            assert!(t.attempt(a, now).is_ok());
        }
        assert!(t.attempt(a, now).is_err());
        assert!(t.attempt(b, now).is_ok());
        assert!(t.attempt(a, now + Duration::from_secs(61)).is_ok());
    }
}
