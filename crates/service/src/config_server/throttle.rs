//! Requests for unknown MACs, counted per source address and minute: a scanner guessing MACs is
//! refused after the limit while genuine phones from other addresses are still served.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MINUTE: Duration = Duration::from_secs(60);
/// Sources remembered at most (older windows are dropped first when full).
const MAX_SOURCES: usize = 100_000;

#[derive(Debug, Default)]
pub struct Throttle {
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Throttle {
    /// Count one request for an unknown MAC from `source`; false once it is over `per_minute`.
    pub fn allow(&self, source: IpAddr, per_minute: u32, now: Instant) -> bool {
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
