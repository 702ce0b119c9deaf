//! The HTTP API of selfprov, `/api/v1`: a front end of the operations layer
//! (`selfprov-operations`). Each handler translates a request into one call of [`Operations`]
//! and its result into JSON; validation, rules, outcome codes and the audit are the operations
//! layer's, the same as for the command line and the IVR.
//!
//! A request's way: [`auth::authenticate`] resolves the caller (API token or console session,
//! CSRF for a session's changes; the command line's in-process caller, see [`ApiState::in_process`]) → the handler's [`auth::Allowed`] argument checks the role →
//! the handler runs the operation on the blocking pool as `api:<account>` → the answer (JSON with
//! an `ETag`, or a [`problem::Problem`]).
//!
//! One module per resource: [`templates`] (`/udts`, `/ults`), [`profiles`], [`users`],
//! [`devices`], [`settings`], [`audit`], [`import`] (CSV import and export), [`live`] (calls and
//! registrations), [`accounts`] (administrators and tokens), [`activation`] (activation codes),
//! [`session`] (login), [`self_care`] (the end users' portal, with sessions of its own, outside
//! this authentication); the five operations of named objects are written once in [`crud`]. [`docs`] generates the OpenAPI 3.1
//! document and its page. [`console`] serves the web console (embedded HTML, CSS and JavaScript
//! modules) at `/`, a client of this API, and the self-care portal at `/self-care/`.

// Every handler's error is a `Problem`, built once per failed request and turned into the
// answer at once; boxing it would only add an allocation to each error path.
#![allow(clippy::result_large_err)]

pub mod accounts;
pub mod activation;
pub mod audit;
pub mod auth;
pub mod body;
pub mod console;
pub mod crud;
pub mod devices;
pub mod docs;
pub mod import;
pub mod list;
pub mod live;
pub mod problem;
pub mod profiles;
pub mod self_care;
pub mod session;
pub mod settings;
pub mod templates;
pub mod users;

pub use live::{ActiveCall, LiveSource, LiveView, Registration};

use axum::middleware::from_fn_with_state;
use selfprov_operations::sessions::SessionPolicy;
use selfprov_operations::settings::SettingsBase;
use selfprov_operations::Operations;
use selfprov_provisioning::settings::CredentialPolicy;
use std::sync::{Arc, OnceLock};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// The path every API route is under.
pub const PREFIX: &str = "/api/v1";

/// The settings of the configuration file as they are now (they change on SIGHUP).
pub type SettingsSource = Arc<dyn Fn() -> SettingsBase + Send + Sync>;

/// Tells phones that their files changed (NOTIFY check-sync), by device name: a release, move or
/// replace made through the API takes effect on the phone at once, as a claim does.
pub type Resync = Arc<dyn Fn(Vec<String>) + Send + Sync>;

/// How administrators authenticate.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Wrong passwords in a row before an account is locked, and for how long.
    pub logins: CredentialPolicy,
    pub sessions: SessionPolicy,
    /// Mark the session cookie `Secure` (sent over HTTPS only; browsers treat
    /// `http://localhost` as secure too).
    pub secure_cookie: bool,
    /// Login attempts per source address and minute (0: unlimited); the self-care portal's
    /// logins, releases and PIN changes have a budget of their own of the same size.
    pub logins_per_minute: u32,
    /// End users' PIN lockout (`[credential_policy]`, the IVR's), for the self-care portal.
    pub pins: CredentialPolicy,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            logins: CredentialPolicy::default(),
            sessions: SessionPolicy::default(),
            secure_cookie: true,
            logins_per_minute: 10,
            pins: CredentialPolicy::default(),
        }
    }
}

/// What every handler works with.
#[derive(Clone)]
pub struct ApiState {
    pub ops: Operations,
    pub settings: SettingsSource,
    pub live: LiveSource,
    pub resync: Resync,
    pub auth: Arc<AuthConfig>,
    throttle: Arc<session::LoginThrottle>,
    self_care_throttle: Arc<session::LoginThrottle>,
    docs: Arc<OnceLock<docs::Docs>>,
    /// Whether requests may carry an [`auth::LocalCaller`]: only for a router that the command
    /// line builds and calls in its own process, never for one behind a listener.
    local_callers: bool,
}

impl ApiState {
    pub fn new(
        ops: Operations,
        settings: SettingsSource,
        live: LiveSource,
        resync: Resync,
        auth: AuthConfig,
    ) -> Self {
        ApiState {
            ops,
            settings,
            live,
            resync,
            throttle: Arc::new(session::LoginThrottle::new(auth.logins_per_minute)),
            self_care_throttle: Arc::new(session::LoginThrottle::new(auth.logins_per_minute)),
            auth: Arc::new(auth),
            docs: Arc::new(OnceLock::new()),
            local_callers: false,
        }
    }

    /// The state of a router that the command line calls in its own process (`tower`'s
    /// `oneshot`), with no listener: its requests are authorised by the [`auth::LocalCaller`]
    /// they carry. Nothing is live, and no phone is told of a change (there is no service to
    /// send the NOTIFY).
    pub fn in_process(ops: Operations, settings: SettingsSource) -> Self {
        let mut s = ApiState::new(
            ops,
            settings,
            live::nothing_live(),
            Arc::new(|_| {}),
            AuthConfig::default(),
        );
        s.local_callers = true;
        s
    }
}

/// Every route, with the authentication layer when a state is given.
fn routes(state: Option<&ApiState>) -> OpenApiRouter<ApiState> {
    let mut protected = OpenApiRouter::new()
        .merge(templates::udt::crud())
        .merge(templates::ult::crud())
        .merge(profiles::crud())
        .merge(users::routes())
        .merge(activation::routes())
        .merge(devices::routes())
        .merge(settings::routes())
        .merge(audit::routes())
        .merge(import::routes())
        .merge(live::routes())
        .merge(accounts::routes())
        .merge(session::routes())
        .merge(docs::routes())
        // Unknown paths also pass authentication first: without credentials nothing says
        // which paths exist.
        .route("/{*rest}", axum::routing::any(no_such_path));
    if let Some(s) = state {
        protected = protected.route_layer(from_fn_with_state(s.clone(), auth::authenticate));
    }
    OpenApiRouter::with_openapi(docs::ApiDoc::openapi()).nest(
        PREFIX,
        protected
            .merge(session::login_route())
            .merge(self_care::routes()),
    )
}

async fn no_such_path() -> problem::Problem {
    problem::Problem::new(
        axum::http::StatusCode::NOT_FOUND,
        "no-such-path",
        "Not found",
        "no such API path; GET /api/v1/docs lists them",
    )
}

/// The API's router (paths under [`PREFIX`]) and the web console (`/`, `/console/…`), ready to
/// merge into the admin listener's.
pub fn router(state: ApiState) -> axum::Router {
    let (router, api) = routes(Some(&state)).split_for_parts();
    let _ = state.docs.set(docs::Docs::of(&api));
    router.with_state(state).merge(console::router())
}

/// The OpenAPI document (what `/api/v1/openapi.json` serves).
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes(None).into_openapi()
}
