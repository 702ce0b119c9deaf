//! Requests counted per key and minute: for unknown MACs per source address (a scanner guessing
//! MACs is refused after the limit while genuine phones from other addresses are still served),
//! and logins on a phone's screen per device.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MINUTE: Duration = Duration::from_secs(60);
/// Keys remembered at most (older windows are dropped first when full).
const MAX_SOURCES: usize = 100_000;

#[derive(Debug)]
pub struct Throttle<K = IpAddr> {
    seen: Mutex<HashMap<K, (Instant, u32)>>,
}

impl<K> Default for Throttle<K> {
    fn default() -> Self {
        Throttle {
            seen: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq> Throttle<K> {
    /// Count one request from `source`; false once it is over `per_minute`.
    pub fn allow(&self, source: K, per_minute: u32, now: Instant) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_SOURCES {
            seen.retain(|_, (start, _)| now.duration_since(*start) < MINUTE);
        }
        let e = seen.entry(source).or_insert((now, 0));
        if now.duration_since(e.0) >= MINUTE {
            *e = (now, 0);
        }
        e.1 = e.1.saturating_add(1);
        e.1 <= per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_source_per_minute() {
        let t = Throttle::default();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        assert!((0..3).all(|_| t.allow(a, 3, t0)));
        assert!(!t.allow(a, 3, t0));
        assert!(t.allow(b, 3, t0), "another source is not affected");
        assert!(t.allow(a, 3, t0 + MINUTE), "a new minute");
    }
}
