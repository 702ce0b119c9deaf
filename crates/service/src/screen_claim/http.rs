//! The on-screen claim's HTTP side, on the configuration server's listeners: `GET
//! /screen/<device>/<token>` (the idle URL: the login form) and `/screen/<device>/<token>/<page>`
//! with the form's query string; [`super::flow`] answers off the async runtime.

use super::flow::{Reply, Request};
use crate::config_server::ConfigServer;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// The idle URL: the login form.
pub(crate) async fn login(
    state: State<Arc<ConfigServer>>,
    peer: ConnectInfo<SocketAddr>,
    Path((device, token)): Path<(String, String)>,
    query: Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    answer(state, peer, (device, token, String::new()), query, headers).await
}

/// A page the login form or a soft key leads to.
pub(crate) async fn page(
    state: State<Arc<ConfigServer>>,
    peer: ConnectInfo<SocketAddr>,
    Path(path): Path<(String, String, String)>,
    query: Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    answer(state, peer, path, query, headers).await
}

async fn answer(
    State(s): State<Arc<ConfigServer>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    (device, token, page): (String, String, String),
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let text = |n: header::HeaderName| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (ua, lang) = (text(header::USER_AGENT), text(header::ACCEPT_LANGUAGE));
    let reply = tokio::task::spawn_blocking(move || {
        let view = s.view();
        s.screen().handle(
            view.screen.as_ref(),
            &Request {
                device: &device,
                token: &token,
                page: &page,
                params: &params,
                user_agent: ua.as_deref(),
                accept_language: lang.as_deref(),
                source: peer.ip(),
            },
        )
    })
    .await;
    match reply {
        Ok(Reply::Screen(body, content_type)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Ok(Reply::NotFound) => StatusCode::NOT_FOUND.into_response(),
        Ok(Reply::Forbidden) => StatusCode::FORBIDDEN.into_response(),
        Ok(Reply::Unavailable) | Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "30")],
        )
            .into_response(),
    }
}
