//! The expiry of auto-registered devices never claimed (`auto_registration.expire_unclaimed`;
//! docs/security.md): one task for the whole service, not a timer per device, that deletes those
//! not heard from for that long every [`SWEEP_EVERY`], each with its audit entry, and counts
//! them in `selfprov_autoregistration_expired_total`.

use crate::metrics::Metrics;
use selfprov_operations::{Actor, ClaimEngine};
use selfprov_provisioning::store::UnixMillis;
use std::sync::Arc;
use std::time::Duration;

/// How often the sweep runs (the expiry counts in days; a phone is marked seen hourly).
pub const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// One sweep at `now`: delete what expired, log and count it. Returns how many.
pub(crate) fn sweep(
    claims: &ClaimEngine,
    unseen_for: Duration,
    metrics: &Metrics,
    now: UnixMillis,
) -> usize {
    match claims.expire_unclaimed(unseen_for, now, &Actor::system()) {
        Ok(gone) => {
            for d in &gone {
                tracing::info!(
                    device = %d.name, dn = ?d.dn.as_ref().map(|x| x.to_string()), unseen_days = unseen_for.as_secs() / 86_400,
                    "auto-registered device never claimed and not heard from: expired, its DN is free"
                );
            }
            metrics.autoreg_expired.inc_by(gone.len() as u64);
            gone.len()
        }
        Err(e) => {
            tracing::warn!(error = %e, "expiry of unclaimed auto-registered devices failed");
            0
        }
    }
}

/// Run the sweep every [`SWEEP_EVERY`] for as long as the service runs (nothing when off).
pub(crate) fn spawn(claims: Arc<ClaimEngine>, unseen_for: Option<Duration>, metrics: Arc<Metrics>) {
    let Some(unseen_for) = unseen_for else {
        return;
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        loop {
            tick.tick().await;
            let (claims, metrics) = (claims.clone(), metrics.clone());
            let _ = tokio::task::spawn_blocking(move || {
                sweep(&claims, unseen_for, &metrics, UnixMillis::now())
            })
            .await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use selfprov_operations::Operations;
    use selfprov_provisioning::model::DnRange;
    use selfprov_provisioning::settings::AutoRegistrationSettings;
    use selfprov_provisioning::store::SqliteStore;

    #[test]
    fn a_sweep_deletes_what_went_quiet_and_counts_it() {
        let dir = selfprov_testkit::TempDir::new("unclaimed-sweep");
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        let ops = Operations::new(Arc::new(store));
        let set = AutoRegistrationSettings {
            enabled: true,
            udt: None,
            ult: None,
            dn_range: DnRange::new("1000".parse().unwrap(), "1009".parse().unwrap()).unwrap(),
        };
        let t0 = UnixMillis(1_700_000_000_000);
        let name = "SEP0000000AB001".parse().unwrap();
        let registrar = Actor::registrar();
        ops.claims()
            .auto_register(&name, "Cisco 8845", &set, &registrar, t0)
            .unwrap();
        let (m, day) = (Metrics::new(), Duration::from_secs(86_400));
        assert_eq!(sweep(ops.claims(), 7 * day, &m, t0.plus(6 * day)), 0);
        assert_eq!(sweep(ops.claims(), 7 * day, &m, t0.plus(8 * day)), 1);
        assert!(ops.claims().device("SEP0000000AB001").unwrap().is_none());
        let text = m.render();
        assert!(
            text.contains("selfprov_autoregistration_expired_total 1"),
            "{text}"
        );
    }
}
