//! What a flood of TCP connections cannot take (docs/security.md): a cap per source address
//! (proxies exempt), a total cap kept below the process's file limit, and an idle timeout, so
//! that phones and the other listeners always get a file descriptor and idle floods go away.
//! Used by SIP over TCP here, and by the service's HTTP listeners (admin, configuration).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Limits on a TCP listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpLimits {
    /// Close a connection after this long without a byte from the peer.
    pub idle_timeout: Duration,
    /// Connections at once from one address (those in `exempt` excepted).
    pub per_source: usize,
    /// Connections at once in all (accepted ones).
    pub total: usize,
    /// Addresses without a per-source cap (the proxies in front of us).
    pub exempt: Vec<IpAddr>,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            idle_timeout: Duration::from_secs(300),
            per_source: 64,
            total: 4096,
            exempt: Vec::new(),
        }
    }
}

/// How often a refusal is logged per source address (one line fail2ban can match).
const LOG_EVERY: Duration = Duration::from_secs(60);

/// Connections held at a high point from which, once they fall to a quarter, the memory the
/// allocator kept from them is given back to the system.
const TRIM_FROM: usize = 1024;

#[derive(Default)]
struct Counts {
    total: usize,
    /// The most held since memory was last given back.
    peak: usize,
    by_source: HashMap<IpAddr, usize>,
    logged: HashMap<IpAddr, Instant>,
}

/// The connections held now, shared by the accept loop and the connections' tasks.
#[derive(Clone)]
pub struct TcpSlots {
    limits: Arc<TcpLimits>,
    counts: Arc<Mutex<Counts>>,
}

/// A held connection: dropping it frees its place.
pub struct Slot {
    counts: Arc<Mutex<Counts>>,
    source: IpAddr,
}

pub enum Admission {
    Admitted(Slot),
    /// Over a cap; `log` is the reason when this source's refusal is due a log line.
    Refused {
        log: Option<&'static str>,
    },
}

impl TcpSlots {
    pub fn new(limits: TcpLimits) -> TcpSlots {
        TcpSlots {
            limits: Arc::new(limits),
            counts: Arc::default(),
        }
    }

    /// A new connection from `source`: admitted, or refused over a cap.
    pub fn admit(&self, source: IpAddr, now: Instant) -> Admission {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let here = c.by_source.get(&source).copied().unwrap_or(0);
        let why = if c.total >= self.limits.total {
            Some("too many connections in all")
        } else if here >= self.limits.per_source && !self.limits.exempt.contains(&source) {
            Some("too many connections from this address")
        } else {
            None
        };
        if let Some(why) = why {
            let due = c
                .logged
                .get(&source)
                .is_none_or(|t| now.duration_since(*t) >= LOG_EVERY);
            if due {
                if c.logged.len() > 10_000 {
                    c.logged.retain(|_, t| now.duration_since(*t) < LOG_EVERY);
                }
                c.logged.insert(source, now);
            }
            return Admission::Refused {
                log: due.then_some(why),
            };
        }
        c.total += 1;
        c.peak = c.peak.max(c.total);
        *c.by_source.entry(source).or_default() += 1;
        Admission::Admitted(Slot {
            counts: self.counts.clone(),
            source,
        })
    }

    /// The limits in force.
    pub fn limits(&self) -> &TcpLimits {
        &self.limits
    }

    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        let c = self.counts.lock().unwrap();
        (c.total, c.by_source.len())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_source.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                c.by_source.remove(&self.source);
            }
        }
        let flood_over = c.peak >= TRIM_FROM && c.total <= c.peak / 4;
        if flood_over {
            c.peak = c.total;
            if c.by_source.capacity() > 4 * c.by_source.len().max(64) {
                c.by_source.shrink_to_fit();
            }
        }
        drop(c);
        if flood_over {
            give_back_memory();
        }
    }
}

/// Hand the memory the allocator kept from freed connections back to the system (glibc keeps
/// freed memory in its arenas: after a flood of thousands of connections the process would
/// otherwise stay at its peak; measured in docs/security.md).
fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's arenas; it has no other
    // effect and may be called from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn caps_per_source_and_in_all_proxies_exempt_and_slots_come_back() {
        let slots = TcpSlots::new(TcpLimits {
            per_source: 2,
            total: 5,
            exempt: vec![ip("10.0.0.1")],
            ..TcpLimits::default()
        });
        let now = Instant::now();
        let admit = |s: &str| slots.admit(ip(s), now);
        let a1 = admit("192.0.2.1");
        let a2 = admit("192.0.2.1");
        assert!(matches!(a1, Admission::Admitted(_)) && matches!(a2, Admission::Admitted(_)));
        // The third from the same address is refused, logged once per minute.
        assert!(
            matches!(admit("192.0.2.1"), Admission::Refused { log: Some(w) } if w.contains("this address"))
        );
        assert!(matches!(
            admit("192.0.2.1"),
            Admission::Refused { log: None }
        ));
        // The proxy is not capped per source, but counts in all.
        let p: Vec<_> = (0..3).map(|_| admit("10.0.0.1")).collect();
        assert!(p.iter().all(|a| matches!(a, Admission::Admitted(_))));
        assert!(
            matches!(admit("192.0.2.9"), Admission::Refused { log: Some(w) } if w.contains("in all"))
        );
        // Connections that end give their place back.
        drop(a1);
        assert!(matches!(admit("192.0.2.9"), Admission::Admitted(_)));
        drop(p);
        drop(a2);
        assert_eq!(slots.held(), (0, 0));
    }
}
