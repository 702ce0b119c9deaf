//! Auto-registered phones nobody claims (docs/security.md, "Auto-registration under attack"):
//! how fast the network may create new ones (one rate for all sources, so that a fake-MAC flood
//! cannot take the whole DN range in seconds), when each device was last heard from, and the
//! expiry of those that were never claimed and went away, which gives their DN back.

use crate::claim::ClaimEngine;
use crate::object::entry;
use crate::Actor;
use selfprov_provisioning::model::Device;
use selfprov_provisioning::store::{StoreError, StoreExt, UnixMillis};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A device's last sign of life is written at most this often (expiry counts in days; a phone
/// re-registering every minute must not cost a write each time).
pub const SEEN_EVERY: Duration = Duration::from_secs(3600);
/// Devices expired per write transaction.
const EXPIRE_BATCH: usize = 500;

/// New devices the network may create: a token bucket, `per_second` a second, `burst` at once.
#[derive(Debug, Default)]
pub(crate) struct NewDeviceRate(Mutex<Option<Bucket>>);

#[derive(Debug)]
struct Bucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    logged: Option<Instant>,
}

/// A new device refused for now: the phone is told to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deferred {
    /// Seconds until the next new device is admitted.
    pub retry_after: u32,
    /// The first deferral in a minute: worth a log line (one, whoever the phones are).
    pub log: bool,
}

/// When each device was last written as seen (in this process).
#[derive(Debug, Default)]
pub(crate) struct SeenWrites(Mutex<HashMap<String, UnixMillis>>);

impl ClaimEngine {
    /// Limit the devices auto-registration creates from the network (configuration fetches,
    /// REGISTERs) to `per_second`, `burst` at once; 0 a second: no limit.
    pub fn set_new_device_rate(&self, per_second: u32, burst: u32, now: Instant) {
        let mut b = self.new_devices.0.lock().unwrap_or_else(|p| p.into_inner());
        *b = (per_second > 0).then(|| Bucket {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last: now,
            logged: None,
        });
    }

    /// May the network create one more device now? When not, the phone is told to come back
    /// (`503` with `Retry-After`) and nothing is created.
    pub fn admit_new_device(&self, now: Instant) -> Result<(), Deferred> {
        let mut b = self.new_devices.0.lock().unwrap_or_else(|p| p.into_inner());
        let Some(b) = b.as_mut() else {
            return Ok(());
        };
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * b.per_second).min(b.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let log = b
                .logged
                .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(60));
            if log {
                b.logged = Some(now);
            }
            Err(Deferred {
                retry_after: (((1.0 - b.tokens) / b.per_second).ceil() as u32).max(1),
                log,
            })
        }
    }

    /// The device was heard from (an accepted REGISTER, a configuration file served): written
    /// at most every [`SEEN_EVERY`] per device.
    pub fn heard_from(&self, device: &str, now: UnixMillis) -> Result<(), StoreError> {
        {
            let seen = self.seen_writes.0.lock().unwrap_or_else(|p| p.into_inner());
            if seen
                .get(device)
                .is_some_and(|t| now >= *t && now < t.plus(SEEN_EVERY))
            {
                return Ok(());
            }
        }
        self.store.writing(|tx| tx.mark_seen(device, now))?;
        let mut seen = self.seen_writes.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.insert(device.to_owned(), now);
        Ok(())
    }

    /// A device was served the first file of credential `generation`: that fetch recorded (see
    /// [`crate::Operations::mark_fetched`]) and the device heard from, in one transaction — a new
    /// phone costs two commits (its auto-registration and this), not three; a boot storm of new
    /// phones is bound by commits.
    pub fn first_file_served(
        &self,
        device: &str,
        generation: u32,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        self.store.writing(|tx| {
            crate::phone_files::record_first_fetch(tx, device, generation, now)?;
            tx.mark_seen(device, now)
        })?;
        let mut seen = self.seen_writes.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.insert(device.to_owned(), now);
        Ok(())
    }

    /// Delete the auto-registered devices without an owner not heard from for `unseen_for` (see
    /// [`selfprov_provisioning::store::DeviceRows::unclaimed_unseen`]), each with an audit entry
    /// (`change`, action `expire`, by `actor`): their DNs are free again. Returns them.
    pub fn expire_unclaimed(
        &self,
        unseen_for: Duration,
        now: UnixMillis,
        actor: &Actor,
    ) -> Result<Vec<Device>, StoreError> {
        let before = UnixMillis(now.0.saturating_sub(unseen_for.as_millis() as i64));
        let mut expired = Vec::new();
        loop {
            let batch = self.store.writing(|tx| {
                let devices = tx.unclaimed_unseen(before, EXPIRE_BATCH)?;
                for d in &devices {
                    let name = d.name.as_str();
                    tx.delete_device(name)?;
                    tx.insert_audit(&entry(actor, "expire", name, Some(d), None, now))?;
                }
                Ok(devices)
            })?;
            let done = batch.len() < EXPIRE_BATCH;
            expired.extend(batch);
            if done {
                break;
            }
        }
        let mut seen = self.seen_writes.0.lock().unwrap_or_else(|p| p.into_inner());
        for d in &expired {
            seen.remove(d.name.as_str());
        }
        Ok(expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use selfprov_provisioning::store::SqliteStore;
    use std::sync::Arc;

    #[test]
    fn new_devices_pass_a_burst_then_at_the_rate() {
        let dir = selfprov_testkit::TempDir::new("new-device-rate");
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        let claims = ClaimEngine::new(Arc::new(store));
        let t0 = Instant::now();
        assert!(
            (0..1000).all(|_| claims.admit_new_device(t0).is_ok()),
            "no limit by default"
        );
        claims.set_new_device_rate(10, 100, t0);
        assert!((0..100).all(|_| claims.admit_new_device(t0).is_ok()));
        let d = claims.admit_new_device(t0).unwrap_err();
        assert_eq!((d.retry_after, d.log), (1, true));
        assert!(
            !claims.admit_new_device(t0).unwrap_err().log,
            "logged once a minute"
        );
        // 2,000 phones retrying every 10 s: all through within (2,000 − 100) / 10 = 190 s (+1 try).
        let mut waiting = 1900u32;
        let mut t = t0;
        while waiting > 0 {
            t += Duration::from_secs(10);
            assert!(
                t - t0 <= Duration::from_secs(200),
                "{waiting} phones still waiting"
            );
            while waiting > 0 && claims.admit_new_device(t).is_ok() {
                waiting -= 1;
            }
        }
    }
}
