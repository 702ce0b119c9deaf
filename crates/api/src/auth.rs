//! Who is calling, and may they: every route but the login runs behind [`authenticate`], which
//! accepts an API token (`Authorization: Bearer spt_…`) or a console session cookie and puts the
//! [`Principal`] into the request; a change made with a session must carry the session's
//! anti-CSRF token in `X-CSRF-Token`. Each handler then asks for the role its action needs with
//! an [`Allowed`] argument (`Allowed<Read>`, `Allowed<Helpdesk>`, `Allowed<Administer>`), so a
//! handler cannot forget the check: without the argument it has no actor to act as.
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

/// Resolve the caller; 401 without valid credentials, 403 for a session change without its
/// anti-CSRF token.
pub async fn authenticate(
    State(s): State<ApiState>,
    mut req: Request,
    next: Next,
) -> Result<Response, Problem> {
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
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// Compare without an early exit (the CSRF token is a secret of the session).
fn same(a: &[u8], b: &[u8]) -> bool {
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
