//! The fetch history: every device-specific fetch, served or refused, goes to the device's
//! history in the audit log. A boot storm is thousands of fetches a second, so entries are
//! written in batches (one transaction every 200 ms at most) off the request path.

use selfprov_operations::Operations;
use selfprov_provisioning::model::AuditEntry;
use std::time::Duration;
use tokio::sync::mpsc;

const BATCH_EVERY: Duration = Duration::from_millis(200);
const BATCH_MAX: usize = 2_000;

/// Start the writer; send entries to the returned channel.
pub fn start(ops: Operations) -> mpsc::UnboundedSender<AuditEntry> {
    let (tx, mut rx) = mpsc::unbounded_channel::<AuditEntry>();
    tokio::spawn(async move {
        let mut batch = Vec::new();
        while let Some(first) = rx.recv().await {
            batch.push(first);
            let deadline = tokio::time::Instant::now() + BATCH_EVERY;
            while batch.len() < BATCH_MAX {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(e)) => batch.push(e),
                    Ok(None) | Err(_) => break,
                }
            }
            let (ops, entries) = (ops.clone(), std::mem::take(&mut batch));
            let n = entries.len();
            let written = tokio::task::spawn_blocking(move || ops.record_fetches(&entries)).await;
            match written {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, entries = n, "fetch history not written"),
                Err(e) => tracing::error!(error = %e, entries = n, "fetch history writer failed"),
            }
        }
    });
    tx
}
