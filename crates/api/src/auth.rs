//! Who is calling, and may they: every route but the login runs behind [`authenticate`], which
//! accepts an API token (`Authorization: Bearer spt_…`) or a console session cookie and puts the
//! [`Principal`] into the request; a change made with a session must carry the session's
//! anti-CSRF token in `X-CSRF-Token`. Each handler then asks for the role its action needs with
//! an [`Allowed`] argument (`Allowed<Read>`, `Allowed<Helpdesk>`, `Allowed<Administer>`), so a
//! handler cannot forget the check: without the argument it has no actor to act as.
//!
//! The command line calls the same routes in its own process (no socket) with a [`LocalCaller`]
//! in the request's extensions; only a router built with [`ApiState::in_process`] accepts it, and
//! a request from the network cannot carry a Rust value, so this opens nothing to the network.
//!
//! Secrets never reach the log: neither the token, the cookie nor the CSRF token is logged.

use crate::body::{blocking, header_str};
use crate::problem::Problem;
use crate::ApiState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, request::Parts, Method};
use axum::middleware::Next;
use axum::response::Response;
use selfprov_operations::accounts::Via;
use selfprov_operations::{Action, Actor, Principal};
use selfprov_provisioning::UnixMillis;
use std::marker::PhantomData;

/// The session cookie's name.
pub const COOKIE: &str = "selfprov_session";
/// The header a session's change carries its anti-CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The command line, calling in process as an administrator (see the module's documentation).
#[derive(Debug, Clone)]
pub struct LocalCaller(Principal);

impl LocalCaller {
    /// The command line acting as `actor` (`cli:<user>`).
    pub fn new(actor: selfprov_operations::Actor) -> Self {
        LocalCaller(Principal::local(actor))
    }
}

/// Resolve the caller; 401 without valid credentials, 403 for a session change without its
/// anti-CSRF token.
pub async fn authenticate(
    State(s): State<ApiState>,
    mut req: Request,
    next: Next,
) -> Result<Response, Problem> {
    if let Some(LocalCaller(local)) = req.extensions_mut().remove::<LocalCaller>() {
        if !s.local_callers {
            return Err(Problem::unauthenticated());
        }
        req.extensions_mut().insert(local);
        return Ok(next.run(req).await);
    }
    let bearer = header_str(req.headers(), "authorization")
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned());
    let cookie = session_cookie(req.headers());
    let (ops, policy) = (s.ops.clone(), s.auth.sessions);
    let now = UnixMillis::now();
    let principal = blocking(move || {
        Ok(match (bearer, cookie) {
            (Some(t), _) => ops.authenticate_token(&t, now)?,
            (None, Some(c)) => ops.authenticate_session(&c, &policy, now)?,
            (None, None) => None,
        })
    })
    .await?
    .ok_or_else(Problem::unauthenticated)?;
    if let Via::Session { csrf } = &principal.via {
        let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let sent = header_str(req.headers(), CSRF_HEADER).unwrap_or_default();
        if !safe && !same(sent.as_bytes(), csrf.as_bytes()) {
            return Err(Problem::forbidden(
                "a change made with a console session needs the session's anti-CSRF token in the X-CSRF-Token header (GET /api/v1/session gives it)",
            ));
        }
    }
    req.extensions_mut().insert(principal);
    Ok(next.run(req).await)
}

/// The session cookie's value, if the request has one.
pub fn session_cookie(h: &axum::http::HeaderMap) -> Option<String> {
    cookie_named(h, COOKIE)
}

/// The value of the cookie `name`, if the request has one.
pub(crate) fn cookie_named(h: &axum::http::HeaderMap, name: &str) -> Option<String> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Compare without an early exit (the CSRF token is a secret of the session).
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An action's role requirement, as a type.
pub trait Need {
    const ACTION: Action;
}
/// Reading (every role).
pub struct Read;
/// The helpdesk's actions.
pub struct Helpdesk;
/// Everything else.
pub struct Administer;
impl Need for Read {
    const ACTION: Action = Action::Read;
}
impl Need for Helpdesk {
    const ACTION: Action = Action::Helpdesk;
}
impl Need for Administer {
    const ACTION: Action = Action::Administer;
}

/// The caller, allowed to do `A`: the handler's proof that the role was checked.
pub struct Allowed<A: Need> {
    pub who: Principal,
    _need: PhantomData<A>,
}

impl<A: Need> Allowed<A> {
    /// Who the audit log names for changes made in this request.
    pub fn actor(&self) -> Actor {
        self.who.actor()
    }
}

impl<S: Send + Sync, A: Need> FromRequestParts<S> for Allowed<A> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let who = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(Problem::unauthenticated)?;
        if !who.may(A::ACTION) {
            return Err(Problem::forbidden(format!(
                "this needs the {} role; `{}` has {}",
                A::ACTION.needs(),
                who.name,
                who.role
            )));
        }
        Ok(Allowed {
            who,
            _need: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use selfprov_operations::{Actor, Operations};
    use selfprov_provisioning::store::SqliteStore;
    use std::sync::Arc;
    use tower::ServiceExt;

    /// `GET /api/v1/users` carrying the command line's caller, to a router of `state`: its status.
    async fn as_local_cli(state: ApiState) -> u16 {
        let mut req = axum::http::Request::get("/api/v1/users")
            .body(axum::body::Body::empty())
            .unwrap();
        req.extensions_mut()
            .insert(LocalCaller::new(Actor::cli("ops")));
        let resp = crate::router(state).oneshot(req).await.unwrap();
        resp.status().as_u16()
    }

    #[tokio::test]
    async fn the_local_caller_counts_only_in_the_command_lines_own_router() {
        let ops = Operations::new(Arc::new(SqliteStore::in_memory().unwrap()));
        // Listing users reads no settings.
        let settings: crate::SettingsSource = Arc::new(|| unreachable!("not read"));
        let listener = ApiState::new(
            ops.clone(),
            settings.clone(),
            crate::live::nothing_live(),
            Arc::new(|_| {}),
            crate::AuthConfig::default(),
        );
        assert_eq!(as_local_cli(listener).await, 401);
        assert_eq!(as_local_cli(ApiState::in_process(ops, settings)).await, 200);
        assert_eq!(
            Principal::local(Actor::cli("ops")).actor().as_str(),
            "cli:ops",
            "audited as the OS user"
        );
    }

    #[test]
    fn cookie_parsing_and_comparison() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; selfprov_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(session_cookie(&h).as_deref(), Some("abc"));
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"abc", b"ab"));
    }
}
