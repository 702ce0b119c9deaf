//! How full the auto-registration DN range is: counted off the loop every
//! [`RANGE_CHECK_EVERY`], exported as metrics, logged once when it crosses [`WARN_AT_PERCENT`]
//! and when it is exhausted, and named in `/status` and `/health` (a full range refuses every
//! genuine new phone, and nothing else would say so).

use crate::metrics::Metrics;
use crate::status::Live;
use selfprov_operations::ClaimEngine;
use std::sync::Arc;
use std::time::Duration;

/// How often the range is counted (one indexed query over the range).
pub const RANGE_CHECK_EVERY: Duration = Duration::from_secs(5);
/// Usage from which `/status` warns.
pub const WARN_AT_PERCENT: u128 = 80;

/// What the last count found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RangeUsage {
    pub range: String,
    pub used: u128,
    pub size: u128,
}

impl RangeUsage {
    fn level(&self) -> Level {
        if self.size > 0 && self.used >= self.size {
            Level::Exhausted
        } else if self.used * 100 >= self.size * WARN_AT_PERCENT {
            Level::Filling
        } else {
            Level::Fine
        }
    }

    /// The warning `/status` and `/health` show, if any.
    pub fn warning(&self) -> Option<String> {
        let (r, u, n) = (&self.range, self.used, self.size);
        match self.level() {
            Level::Fine => None,
            Level::Filling => Some(format!(
                "auto-registration range {r} is {}% used ({u} of {n} DNs)",
                u * 100 / n.max(1)
            )),
            Level::Exhausted => Some(format!(
                "auto-registration range {r} is exhausted ({u} of {n} DNs): new phones are refused \
                 until DNs are freed or the range is widened"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Fine,
    Filling,
    Exhausted,
}

/// Count the range now and then, for as long as the service runs.
pub(crate) fn spawn(claims: Arc<ClaimEngine>, live: Arc<Live>, metrics: Arc<Metrics>) {
    tokio::spawn(async move {
        let mut last = Level::Fine;
        let mut tick = tokio::time::interval(RANGE_CHECK_EVERY);
        loop {
            tick.tick().await;
            let Some(range) = live.view.lock().ok().and_then(|v| v.autoreg_range.clone()) else {
                continue;
            };
            let claims = claims.clone();
            let counted =
                tokio::task::spawn_blocking(move || claims.range_usage(&range).map(|u| (range, u)))
                    .await;
            let (range, (used, size)) = match counted {
                Ok(Ok(x)) => x,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "auto-registration range not counted");
                    continue;
                }
                Err(_) => continue,
            };
            let usage = RangeUsage {
                range: range.to_string(),
                used,
                size,
            };
            metrics
                .autoreg_dns_used
                .set(i64::try_from(used).unwrap_or(i64::MAX));
            metrics
                .autoreg_dns_total
                .set(i64::try_from(size).unwrap_or(i64::MAX));
            let level = usage.level();
            if level > last {
                if let Some(w) = usage.warning() {
                    tracing::warn!(range = %usage.range, used, size, "{w}");
                }
            }
            last = level;
            if let Ok(mut r) = live.range_usage.lock() {
                *r = Some(usage);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(used: u128) -> RangeUsage {
        RangeUsage {
            range: "1000-1009".into(),
            used,
            size: 10,
        }
    }

    #[test]
    fn warns_from_eighty_percent_and_names_exhaustion() {
        assert_eq!(at(7).warning(), None);
        assert_eq!(
            at(8).warning().unwrap(),
            "auto-registration range 1000-1009 is 80% used (8 of 10 DNs)"
        );
        let full = at(10).warning().unwrap();
        assert!(
            full.contains("is exhausted (10 of 10 DNs): new phones are refused"),
            "{full}"
        );
    }
}
