//! Per-source request rate limits (the idea of Kamailio's `pike`; docs/security.md), sans I/O:
//! the endpoint asks [`RequestLimiter::check`] about each new request from outside a dialog,
//! before any parsing beyond the headers or any transaction work, and answers over-limit ones
//! with a stateless `503` + `Retry-After`, or nothing at all when the source sends far more than
//! its rate (a `503` per request would let a flood make us send as much as it sends).
//!
//! One token bucket per source address and method class: `rate` tokens a second, `rate × burst`
//! deep. A source idle for the burst time has a full bucket again, which is the same as having
//! no entry, so its entry is swept away: the table holds only the addresses heard from lately,
//! and never more than `max_sources` of them. While it is full (a flood from spoofed UDP sources),
//! addresses without an entry share one bucket (`OVERFLOW_FACTOR` times a source's rate): the
//! flood cannot grow memory, and the sources already known keep their own buckets.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The requests counted together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MethodClass {
    Register,
    Invite,
    Options,
    /// SUBSCRIBE, NOTIFY, MESSAGE, unknown methods, and BYE/INFO/CANCEL naming no call we have.
    Other,
}

impl MethodClass {
    pub const ALL: [MethodClass; 4] = [
        MethodClass::Register,
        MethodClass::Invite,
        MethodClass::Options,
        MethodClass::Other,
    ];

    pub fn of(method: &str) -> MethodClass {
        match method {
            "REGISTER" => MethodClass::Register,
            "INVITE" => MethodClass::Invite,
            "OPTIONS" => MethodClass::Options,
            _ => MethodClass::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MethodClass::Register => "REGISTER",
            MethodClass::Invite => "INVITE",
            MethodClass::Options => "OPTIONS",
            MethodClass::Other => "other",
        }
    }
}

impl fmt::Display for MethodClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Over the rate: a stateless `503` with this `Retry-After` (seconds).
    Refuse {
        retry_after: u32,
    },
    /// More than [`DROP_FACTOR`] times the rate within a second: no answer.
    Drop,
}

/// Told of every request over a limit (the service counts them in a metric).
pub type OnLimited = Arc<dyn Fn(MethodClass, Verdict) + Send + Sync>;

/// The limits (`sip.rate_limit_*`).
#[derive(Clone)]
pub struct RequestLimits {
    /// Requests a second from one address, by class in [`MethodClass::ALL`] order; 0: no limit.
    pub per_second: [u32; 4],
    /// A source may send this long's worth of its rate at once (the bucket's depth).
    pub burst: Duration,
    /// Addresses never limited (the proxies in front of us).
    pub exempt: Vec<IpAddr>,
    /// Addresses tracked at most (memory stays bounded under a spoofed-source flood).
    pub max_sources: usize,
    pub on_limited: Option<OnLimited>,
}

impl RequestLimits {
    /// No limit at all (the stack's default; the service sets its configured limits).
    pub fn off() -> Self {
        RequestLimits {
            per_second: [0; 4],
            burst: Duration::from_secs(10),
            exempt: Vec::new(),
            max_sources: 16_384,
            on_limited: None,
        }
    }
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self::off()
    }
}

impl fmt::Debug for RequestLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestLimits")
            .field("per_second", &self.per_second)
            .field("burst", &self.burst)
            .field("exempt", &self.exempt)
            .field("max_sources", &self.max_sources)
            .finish_non_exhaustive()
    }
}

/// Over-limit requests within one second, as a multiple of the rate, above which they are dropped.
pub const DROP_FACTOR: u32 = 10;
/// A source's over-limit requests are logged at most once per class in this window.
pub const LOG_WINDOW: Duration = Duration::from_secs(60);
/// Addresses without an entry while the table is full share a bucket this many times a source's.
const OVERFLOW_FACTOR: u32 = 10;
/// How often idle entries are swept.
const SWEEP_EVERY_MS: u64 = 10_000;
const NEVER: u64 = u64::MAX;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f32,
    last_ms: u64,
    /// The second (since the limiter's epoch) `over` counts for.
    second: u64,
    over: u32,
    logged_ms: u64,
}

#[derive(Debug, Clone, Copy)]
struct Source([Bucket; 4]);

impl Source {
    fn new(now_ms: u64, limits: &RequestLimits) -> Source {
        let burst = limits.burst.as_secs_f32();
        Source(std::array::from_fn(|i| Bucket {
            tokens: limits.per_second[i] as f32 * burst,
            last_ms: now_ms,
            second: 0,
            over: 0,
            logged_ms: NEVER,
        }))
    }

    /// Still worth keeping: a bucket not yet full again, or a refusal logged within the window.
    fn live(&self, now_ms: u64, burst_ms: u64) -> bool {
        self.0.iter().any(|b| {
            let keep = if b.logged_ms == NEVER {
                burst_ms
            } else {
                (LOG_WINDOW.as_millis() as u64).max(burst_ms)
            };
            now_ms.saturating_sub(b.last_ms) < keep
        })
    }
}

/// The decision for one request, and whether it is due a log line (the first over-limit request
/// of this source and class in [`LOG_WINDOW`]; never for the shared overflow bucket, whose
/// addresses fail2ban must not ban).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    pub log: bool,
    /// False when the source had no entry of its own (the table was full).
    pub tracked: bool,
}

const PASS: Decision = Decision {
    verdict: Verdict::Pass,
    log: false,
    tracked: true,
};

/// The buckets of the sources heard from lately.
pub struct RequestLimiter {
    limits: RequestLimits,
    epoch: Option<Instant>,
    sources: HashMap<IpAddr, Source>,
    overflow: Source,
    last_sweep_ms: u64,
}

impl RequestLimiter {
    pub fn new(limits: RequestLimits) -> Self {
        let mut overflow_limits = limits.clone();
        for r in &mut overflow_limits.per_second {
            *r = r.saturating_mul(OVERFLOW_FACTOR);
        }
        RequestLimiter {
            overflow: Source::new(0, &overflow_limits),
            limits,
            epoch: None,
            sources: HashMap::new(),
            last_sweep_ms: 0,
        }
    }

    pub fn limits(&self) -> &RequestLimits {
        &self.limits
    }

    /// Sources with an entry now.
    pub fn tracked(&self) -> usize {
        self.sources.len()
    }

    fn millis(&mut self, now: Instant) -> u64 {
        let epoch = *self.epoch.get_or_insert(now);
        now.saturating_duration_since(epoch).as_millis() as u64
    }

    /// Count one request of `class` from `source` at `now`.
    pub fn check(&mut self, source: IpAddr, class: MethodClass, now: Instant) -> Decision {
        let i = class as usize;
        let rate = self.limits.per_second[i];
        if rate == 0 || self.limits.exempt.contains(&source) {
            return PASS;
        }
        let ms = self.millis(now);
        let burst_ms = self.limits.burst.as_millis() as u64;
        if ms.saturating_sub(self.last_sweep_ms) >= SWEEP_EVERY_MS {
            self.sources.retain(|_, s| s.live(ms, burst_ms));
            self.last_sweep_ms = ms;
        }
        if !self.sources.contains_key(&source) && self.sources.len() < self.limits.max_sources {
            self.sources.insert(source, Source::new(ms, &self.limits));
        }
        let (bucket, rate, tracked) = match self.sources.get_mut(&source) {
            Some(s) => (&mut s.0[i], rate, true),
            None => (
                &mut self.overflow.0[i],
                rate.saturating_mul(OVERFLOW_FACTOR),
                false,
            ),
        };
        let depth = rate as f32 * self.limits.burst.as_secs_f32();
        let elapsed = ms.saturating_sub(bucket.last_ms) as f32 / 1000.0;
        bucket.tokens = (bucket.tokens + elapsed * rate as f32).min(depth.max(1.0));
        bucket.last_ms = ms;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Decision { tracked, ..PASS };
        }
        let second = ms / 1000;
        if bucket.second != second {
            bucket.second = second;
            bucket.over = 0;
        }
        bucket.over = bucket.over.saturating_add(1);
        let verdict = if bucket.over > rate.saturating_mul(DROP_FACTOR - 1) {
            Verdict::Drop
        } else {
            let wait = (1.0 - bucket.tokens) / rate as f32;
            Verdict::Refuse {
                retry_after: (wait.ceil() as u32).max(1),
            }
        };
        let log = tracked
            && (bucket.logged_ms == NEVER
                || ms.saturating_sub(bucket.logged_ms) >= LOG_WINDOW.as_millis() as u64);
        if log {
            bucket.logged_ms = ms;
        }
        if let Some(f) = &self.limits.on_limited {
            f(class, verdict);
        }
        Decision {
            verdict,
            log,
            tracked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn limiter(per_second: [u32; 4]) -> RequestLimiter {
        RequestLimiter::new(RequestLimits {
            per_second,
            burst: Duration::from_secs(2),
            exempt: vec![ip("10.0.0.1")],
            max_sources: 100,
            on_limited: None,
        })
    }

    fn verdicts(
        l: &mut RequestLimiter,
        src: &str,
        class: MethodClass,
        n: usize,
        now: Instant,
    ) -> Vec<Verdict> {
        (0..n)
            .map(|_| l.check(ip(src), class, now).verdict)
            .collect()
    }

    #[test]
    fn a_burst_passes_then_503_then_silence_and_the_rate_comes_back() {
        let mut l = limiter([5, 5, 5, 5]);
        let t0 = Instant::now();
        // 5/s, 2 s deep: 10 at once pass.
        let v = verdicts(&mut l, "192.0.2.7", MethodClass::Register, 10, t0);
        assert!(v.iter().all(|v| *v == Verdict::Pass), "{v:?}");
        // Over: 503 with Retry-After, logged once.
        let d = l.check(ip("192.0.2.7"), MethodClass::Register, t0);
        assert_eq!(
            d,
            Decision {
                verdict: Verdict::Refuse { retry_after: 1 },
                log: true,
                tracked: true
            }
        );
        let d = l.check(ip("192.0.2.7"), MethodClass::Register, t0);
        assert!(!d.log && matches!(d.verdict, Verdict::Refuse { .. }));
        // 9 × 5 = 45 over-limit requests in a second are answered, the next are dropped.
        let v = verdicts(&mut l, "192.0.2.7", MethodClass::Register, 43, t0);
        assert!(v.iter().all(|v| matches!(v, Verdict::Refuse { .. })));
        let v = verdicts(&mut l, "192.0.2.7", MethodClass::Register, 100, t0);
        assert!(v.iter().all(|v| *v == Verdict::Drop));
        // Other classes and other sources are untouched.
        assert_eq!(
            verdicts(&mut l, "192.0.2.7", MethodClass::Invite, 1, t0),
            [Verdict::Pass]
        );
        assert_eq!(
            verdicts(&mut l, "192.0.2.8", MethodClass::Register, 1, t0),
            [Verdict::Pass]
        );
        // The rate: 200 ms later one token is back.
        let t1 = t0 + Duration::from_millis(200);
        let v = verdicts(&mut l, "192.0.2.7", MethodClass::Register, 2, t1);
        assert_eq!(v[0], Verdict::Pass);
        assert_ne!(v[1], Verdict::Pass);
        // Not logged again within the window, logged again after it.
        for (at, logged) in [(59, false), (120, true)] {
            let t = t0 + Duration::from_secs(at);
            let v = verdicts(&mut l, "192.0.2.7", MethodClass::Register, 10, t);
            assert!(v.iter().all(|v| *v == Verdict::Pass), "{v:?}");
            let d = l.check(ip("192.0.2.7"), MethodClass::Register, t);
            assert!(
                matches!(d.verdict, Verdict::Refuse { .. }) && d.log == logged,
                "{at}: {d:?}"
            );
        }
    }

    #[test]
    fn a_phone_booting_then_registering_every_minute_passes_even_at_one_a_second() {
        // REGISTER (401), REGISTER, SUBSCRIBE × 6, OPTIONS at boot, then every 60 s.
        let mut l = limiter([1, 1, 1, 1]);
        let t0 = Instant::now();
        let src = "192.0.2.50";
        assert!(verdicts(&mut l, src, MethodClass::Register, 2, t0)
            .iter()
            .all(|v| *v == Verdict::Pass));
        assert!(verdicts(&mut l, src, MethodClass::Options, 1, t0)
            .iter()
            .all(|v| *v == Verdict::Pass));
        for m in 1..60 {
            let t = t0 + Duration::from_secs(60 * m);
            assert!(verdicts(&mut l, src, MethodClass::Register, 2, t)
                .iter()
                .all(|v| *v == Verdict::Pass));
        }
    }

    #[test]
    fn trusted_addresses_and_unlimited_classes_always_pass() {
        let mut l = limiter([1, 0, 1, 1]);
        let t0 = Instant::now();
        assert!(
            verdicts(&mut l, "10.0.0.1", MethodClass::Register, 1000, t0)
                .iter()
                .all(|v| *v == Verdict::Pass)
        );
        assert!(verdicts(&mut l, "192.0.2.1", MethodClass::Invite, 1000, t0)
            .iter()
            .all(|v| *v == Verdict::Pass));
        assert_eq!(l.tracked(), 0, "nothing kept for what is never limited");
    }

    #[test]
    fn a_spoofed_source_flood_keeps_the_table_bounded_and_known_sources_their_own_buckets() {
        let calls = Arc::new(AtomicU32::new(0));
        let seen = calls.clone();
        let mut l = RequestLimiter::new(RequestLimits {
            per_second: [1; 4],
            burst: Duration::from_secs(2),
            exempt: vec![],
            max_sources: 100,
            on_limited: Some(Arc::new(move |_, _| {
                seen.fetch_add(1, Ordering::Relaxed);
            })),
        });
        let t0 = Instant::now();
        let phone = ip("192.0.2.1");
        assert_eq!(
            l.check(phone, MethodClass::Register, t0).verdict,
            Verdict::Pass
        );
        for i in 0..10_000u32 {
            let spoofed = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let d = l.check(spoofed, MethodClass::Register, t0);
            // Beyond the table, the shared bucket (10 × 1/s, 2 s deep) and never a log line.
            assert!(!d.log);
        }
        assert_eq!(l.tracked(), 100);
        assert!(
            calls.load(Ordering::Relaxed) > 9_000,
            "the flood was counted"
        );
        // The phone still has its own bucket.
        assert_eq!(
            l.check(phone, MethodClass::Register, t0).verdict,
            Verdict::Pass
        );
        // Once idle for the burst time the entries go: the table empties.
        let later = t0 + Duration::from_secs(11);
        assert_eq!(
            l.check(phone, MethodClass::Register, later).verdict,
            Verdict::Pass
        );
        assert_eq!(l.tracked(), 1);
    }

    #[test]
    fn a_full_table_stays_within_a_few_megabytes() {
        // docs/security.md: 16,384 entries in a table of 32,768 slots (hashbrown keeps it at most
        // 7/8 full), each an address and four buckets, plus a control byte per slot.
        let entry = std::mem::size_of::<(IpAddr, Source)>();
        assert!(entry <= 152, "{entry} bytes an entry");
        let slots = (RequestLimits::off().max_sources * 8 / 7).next_power_of_two();
        assert!(
            slots * (entry + 1) <= 5 << 20,
            "{} bytes",
            slots * (entry + 1)
        );
    }
}
