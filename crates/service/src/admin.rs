//! Admin HTTP listener: `/health` for load balancers, `/status` (JSON) for `selfprov status`,
//! `/metrics` for Prometheus — open, they carry no personal data and monitoring needs them
//! without credentials —, `/registrations` (JSON) for `selfprov registrations`, which names
//! phones and their addresses and so answers only to clients on this host (loopback), and the
//! HTTP API under `/api/v1` (crate `selfprov-api`), where every route needs a token or a session.

use crate::http_listener;
use crate::metrics::Metrics;
use crate::registrar::RegistrationView;
use crate::tls::Certificate;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use selfprov_sip::tcp_limits::TcpLimits;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// Registration state of one route-point DN as shown to operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationStatus {
    pub dn: String,
    /// e.g. `registered`, `registering`, `failed: Valid credentials not set for this application User.`,
    /// or `direct` when the built-in registrar serves the phones.
    pub state: String,
}

/// What the live service says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusSnapshot {
    /// `Ready` when every feature is on and the service accepts calls.
    pub ready: bool,
    /// Why the service is not ready, one line per feature that is off (seed wording).
    pub reasons: Vec<String>,
    pub draining: bool,
    pub active_calls: u64,
    pub max_calls: u64,
    pub registrations: Vec<RegistrationStatus>,
    /// How phones registering here prove who they are: `digest` or `binding`; `external` when
    /// phones register at an external registrar.
    #[serde(default)]
    pub phone_auth: String,
    /// Phones registered at the built-in registrar now (`/registrations` lists them).
    #[serde(default)]
    pub phones_registered: u64,
    /// Conditions an operator should act on that do not stop the service (e.g. the
    /// auto-registration range filling up or exhausted).
    #[serde(default)]
    pub warnings: Vec<String>,
    pub sip_listen: String,
    pub version: String,
}

/// The built-in registrar's bindings, as `/registrations` serves them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationsSnapshot {
    pub phone_auth: String,
    pub registrations: Vec<RegistrationView>,
}

/// Supplies the current status; the service implements it over its live state.
pub type StatusSource = Arc<dyn Fn() -> StatusSnapshot + Send + Sync>;

/// A question for the event loop, which owns what it asks about.
pub enum Query {
    /// The live registrations at the built-in registrar.
    Registrations(oneshot::Sender<Vec<RegistrationView>>),
}

#[derive(Clone)]
struct AdminState {
    status: StatusSource,
    metrics: Arc<Metrics>,
    queries: mpsc::UnboundedSender<Query>,
}

/// The open routes, with `api` (the HTTP API's router) beside them.
pub fn router(
    status: StatusSource,
    metrics: Arc<Metrics>,
    queries: mpsc::UnboundedSender<Query>,
    api: Router,
) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/status", get(status_json))
        .route("/registrations", get(registrations_json))
        .route("/metrics", get(metrics_text))
        .with_state(AdminState {
            status,
            metrics,
            queries,
        })
        .merge(api)
}

/// Bind the admin listener; returns the bound address (useful with port 0) and the serving future,
/// which admits connections under `limits` (see `http_listener`). Handlers see the client's
/// address (the API throttles logins per address).
pub async fn bind(
    addr: SocketAddr,
    status: StatusSource,
    metrics: Arc<Metrics>,
    queries: mpsc::UnboundedSender<Query>,
    api: Router,
    limits: TcpLimits,
    tls: Option<Arc<Certificate>>,
) -> std::io::Result<(SocketAddr, Pin<Box<dyn Future<Output = ()> + Send>>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = router(status, metrics, queries, api);
    let serving: Pin<Box<dyn Future<Output = ()> + Send>> = match tls {
        None => Box::pin(http_listener::serve(
            listener,
            "admin",
            limits,
            app,
            http_listener::plain,
        )),
        Some(certificate) => {
            let handshake = move |tcp: tokio::net::TcpStream, peer: SocketAddr| {
                let certificate = certificate.clone();
                async move { crate::tls::accept(&certificate, tcp, peer).await }
            };
            Box::pin(http_listener::serve(
                listener,
                "admin-tls",
                limits,
                app,
                handshake,
            ))
        }
    };
    Ok((local, serving))
}

async fn health(State(s): State<AdminState>) -> Response {
    let st = (s.status)();
    if st.ready && !st.draining {
        let mut body = String::from("ok\n");
        for w in &st.warnings {
            body.push_str(&format!("warning: {w}\n"));
        }
        (StatusCode::OK, body).into_response()
    } else if st.draining {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", st.reasons.join("; ")),
        )
            .into_response()
    }
}

async fn status_json(State(s): State<AdminState>) -> Json<StatusSnapshot> {
    Json((s.status)())
}

/// Ask the event loop for its bindings (it answers between two events). Only for clients on
/// this host: elsewhere the same list is `/api/v1/live/registrations`, behind a token.
async fn registrations_json(
    State(s): State<AdminState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
) -> Response {
    if !client.ip().is_loopback() {
        return (
            StatusCode::FORBIDDEN,
            "only from this host; elsewhere use /api/v1/live/registrations with a token\n",
        )
            .into_response();
    }
    let (tx, rx) = oneshot::channel();
    if s.queries.send(Query::Registrations(tx)).is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "stopping\n").into_response();
    }
    match tokio::time::timeout(std::time::Duration::from_secs(5), rx).await {
        Ok(Ok(registrations)) => Json(RegistrationsSnapshot {
            phone_auth: (s.status)().phone_auth,
            registrations,
        })
        .into_response(),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "no answer from the service\n",
        )
            .into_response(),
    }
}

async fn metrics_text(State(s): State<AdminState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get_path(addr: SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn health_status_and_metrics_are_served() {
        let ready = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let r2 = ready.clone();
        let status: StatusSource = Arc::new(move || StatusSnapshot {
            ready: r2.load(std::sync::atomic::Ordering::SeqCst),
            reasons: if r2.load(std::sync::atomic::Ordering::SeqCst) {
                vec![]
            } else {
                vec!["Auto-Registration is disabled".into()]
            },
            draining: false,
            active_calls: 3,
            max_calls: 10,
            registrations: vec![RegistrationStatus {
                dn: "2000".into(),
                state: "registered".into(),
            }],
            phone_auth: "digest".into(),
            phones_registered: 1,
            warnings: vec!["auto-registration range 1000-1009 is 80% used (8 of 10 DNs)".into()],
            sip_listen: "127.0.0.1:5060".into(),
            version: "test".into(),
        });
        let metrics = Arc::new(Metrics::new());
        metrics.call_finished("SUCCESS");
        // The event loop's side of `/registrations`.
        let (queries, mut asked) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(Query::Registrations(answer)) = asked.recv().await {
                let _ = answer.send(vec![RegistrationView {
                    device: "SEP001122334455".into(),
                    dn: "1000".into(),
                    contact: "sip:SEP001122334455@127.0.0.1:5062".into(),
                    source: "127.0.0.1:5062".into(),
                    transport: "udp".into(),
                    expires_in: 3599,
                    auth: "digest".into(),
                    user_agent: None,
                }]);
            }
        });
        let (addr, fut) = bind(
            "127.0.0.1:0".parse().unwrap(),
            status.clone(),
            metrics.clone(),
            queries.clone(),
            Router::new(),
            TcpLimits::default(),
            None,
        )
        .await
        .unwrap();
        let server = tokio::spawn(fut);
        let r = get_path(addr, "/registrations").await;
        assert!(
            r.contains("\"phone_auth\":\"digest\"") && r.contains("\"device\":\"SEP001122334455\""),
            "{r}"
        );

        let h = get_path(addr, "/health").await;
        assert!(h.starts_with("HTTP/1.1 200"), "{h}");
        assert!(
            h.ends_with(
                "ok\nwarning: auto-registration range 1000-1009 is 80% used (8 of 10 DNs)\n"
            ),
            "{h}"
        );
        let s = get_path(addr, "/status").await;
        assert!(
            s.contains("\"active_calls\":3") && s.contains("\"dn\":\"2000\""),
            "{s}"
        );
        let m = get_path(addr, "/metrics").await;
        assert!(
            m.contains("selfprov_calls_total{outcome=\"SUCCESS\"} 1"),
            "{m}"
        );

        ready.store(false, std::sync::atomic::Ordering::SeqCst);
        let h = get_path(addr, "/health").await;
        assert!(
            h.starts_with("HTTP/1.1 503") && h.contains("Auto-Registration is disabled"),
            "{h}"
        );
        server.abort();

        // `/registrations` names phones and addresses: only for clients on this host.
        use tower::ServiceExt;
        let app = router(status, metrics, queries, Router::new());
        for (client, expected) in [("192.0.2.7:40000", 403), ("127.0.0.1:40000", 200)] {
            let req = axum::http::Request::get("/registrations")
                .extension(ConnectInfo(client.parse::<SocketAddr>().unwrap()))
                .body(axum::body::Body::empty())
                .unwrap();
            let r = app.clone().oneshot(req).await.unwrap();
            assert_eq!(r.status().as_u16(), expected, "{client}");
        }
    }
}
