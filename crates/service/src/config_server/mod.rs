//! The configuration server: phones fetch their files over HTTP (their vendor's file names, a
//! `family/` prefix optional). The request logic is in [`fetch`]; the fetch history is written
//! in batches ([`history`]); scanning for unknown MACs is throttled per source ([`throttle`]).
//! The same files over HTTPS ([`tls`]) and TFTP ([`tftp`]). Templates, addresses and auto-registration settings
//! follow SIGHUP and changed settings. The on-screen claim's pages (`/screen/…`,
//! [`crate::screen_claim`]) are served on the same listeners.

pub mod fetch;
pub mod history;
pub mod tftp;
pub mod throttle;
mod https;

use crate::http_listener;
use crate::screen_claim::ScreenClaim;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use fetch::{Reply, Request};
use selfprov_operations::phone_files::ServerInfo;
use selfprov_operations::{DeviceSecrets, Operations};
use selfprov_phoneconfig::Templates;
use selfprov_provisioning::model::AuditEntry;
use selfprov_provisioning::settings::AutoRegistrationSettings;
use selfprov_sip::digest_server::NonceKey;
use selfprov_sip::tcp_limits::TcpLimits;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// What follows the configuration (replaced on reload).
pub struct View {
    pub templates: Templates,
    pub server: ServerInfo,
    pub autoreg: AutoRegistrationSettings,
    pub window: Duration,
    pub per_minute: u32,
    pub realm: String,
    /// The on-screen claim; `None` when it is off.
    pub screen: Option<crate::screen_claim::Settings>,
}

pub struct ConfigServer {
    ops: Operations,
    secrets: DeviceSecrets,
    nonce: NonceKey,
    view: RwLock<Arc<View>>,
    throttle: throttle::Throttle,
    history: mpsc::UnboundedSender<AuditEntry>,
    metrics: Arc<crate::metrics::Metrics>,
    screen: ScreenClaim,
}

impl ConfigServer {
    /// Must be called inside a tokio runtime (it starts the history writer).
    pub fn new(
        ops: Operations,
        secrets: DeviceSecrets,
        view: View,
        metrics: Arc<crate::metrics::Metrics>,
        resync: crate::screen_claim::Resync,
    ) -> Arc<ConfigServer> {
        let nonce = NonceKey::new(&secrets.derive_key(b"http digest nonce"));
        Arc::new(ConfigServer {
            screen: ScreenClaim::new(ops.claims().clone(), secrets.clone(), resync),
            history: history::start(ops.clone()),
            ops,
            secrets,
            nonce,
            view: RwLock::new(Arc::new(view)),
            throttle: throttle::Throttle::default(),
            metrics,
        })
    }

    pub fn view(&self) -> Arc<View> {
        self.view
            .read()
            .map(|v| v.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// The on-screen claim's state.
    pub(crate) fn screen(&self) -> &ScreenClaim {
        &self.screen
    }

    /// Take new templates and settings into use.
    pub fn set_view(&self, v: View) {
        match self.view.write() {
            Ok(mut cur) => *cur = Arc::new(v),
            Err(p) => *p.into_inner() = Arc::new(v),
        }
    }

    /// Bind the HTTP listener; the bound address and the serving future, which admits
    /// connections under `limits` (see `http_listener`).
    pub async fn bind(
        self: &Arc<Self>,
        addr: SocketAddr,
        limits: TcpLimits,
    ) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()>)> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let app = self.router();
        Ok((
            local,
            http_listener::serve(listener, "config", limits, app, http_listener::plain),
        ))
    }

    /// The request handling, the same over HTTP and HTTPS.
    fn router(self: &Arc<Self>) -> Router {
        use crate::screen_claim::http::{login, page};
        Router::new()
            .route("/screen/{device}/{token}", get(login))
            .route("/screen/{device}/{token}/{page}", get(page))
            .fallback(serve_file)
            .with_state(self.clone())
    }

    fn challenge_headers(&self, stale: bool) -> Vec<HeaderValue> {
        let now = selfprov_provisioning::store::UnixMillis::now().0.max(0) as u64 / 1000;
        self.nonce
            .challenges(&self.view().realm, now, stale)
            .into_iter()
            .filter_map(|c| HeaderValue::from_str(&c).ok())
            .collect()
    }
}

async fn serve_file(
    State(s): State<Arc<ConfigServer>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
        )
            .into_response();
    }
    let text = |n: header::HeaderName| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (path, ua, auth) = (
        uri.path().to_owned(),
        text(header::USER_AGENT),
        text(header::AUTHORIZATION),
    );
    let (srv, verb) = (s.clone(), method.as_str().to_owned());
    let reply = tokio::task::spawn_blocking(move || {
        srv.fetch(&Request {
            method: &verb,
            path: &path,
            user_agent: ua.as_deref(),
            authorization: auth.as_deref(),
            source: peer.ip(),
        })
    })
    .await
    .unwrap_or(Reply::Unavailable);
    match reply {
        Reply::File { content_type, body } => {
            let body = if method == Method::HEAD {
                Body::empty()
            } else {
                Body::from(body)
            };
            (
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                body,
            )
                .into_response()
        }
        Reply::NotFound => StatusCode::NOT_FOUND.into_response(),
        Reply::TooMany => {
            (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "60")]).into_response()
        }
        Reply::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "30")],
        )
            .into_response(),
        Reply::ComeBack { retry_after } => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, retry_after.to_string())],
        )
            .into_response(),
        Reply::Challenge { stale } => {
            let mut r = StatusCode::UNAUTHORIZED.into_response();
            for v in s.challenge_headers(stale) {
                r.headers_mut().append(header::WWW_AUTHENTICATE, v);
            }
            r
        }
    }
}
