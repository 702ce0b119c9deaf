//! What is live, for the API (`/api/v1/live/…`): the event loop owns the call table and the
//! registrar's bindings, so the API asks it for a snapshot through the work channel
//! ([`live_source`]) and the loop answers between two events ([`Service::live_view`]).

use crate::state::Service;
use crate::work::Work;
use selfprov_api::{ActiveCall, LiveSource, LiveView, Registration};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

impl Service {
    /// The calls in progress and the phones registered now.
    pub(crate) fn live_view(&self) -> LiveView {
        let now = Instant::now();
        let mut calls: Vec<ActiveCall> = self
            .calls
            .iter()
            .map(|(id, c)| ActiveCall {
                call_id: id.clone(),
                device: c.device.clone(),
                source: c.source.addr.to_string(),
                codec: format!("{:?}", c.codec),
                language: c.language.to_string(),
                duration_s: now.duration_since(c.started).as_secs_f64(),
            })
            .collect();
        calls.sort_by(|a, b| b.duration_s.total_cmp(&a.duration_s));
        let mut registrations: Vec<Registration> = self
            .bindings
            .current(now)
            .map(|(device, b)| Registration {
                device: device.clone(),
                contact: b.contact.clone(),
                source: b.source.addr.to_string(),
                expires_in_s: b.until.duration_since(now).as_secs(),
            })
            .collect();
        registrations.sort_by(|a, b| a.device.cmp(&b.device));
        LiveView {
            calls,
            registrations,
        }
    }
}

/// The API's way to ask the event loop.
pub(crate) fn live_source(work: mpsc::UnboundedSender<Work>) -> LiveSource {
    Arc::new(move || {
        let work = work.clone();
        Box::pin(async move {
            let (tx, rx) = oneshot::channel();
            work.send(Work::Snapshot(tx)).ok()?;
            rx.await.ok()
        })
    })
}
