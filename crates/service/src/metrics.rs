//! Prometheus metrics of the service, in one registry owned by the service (no globals).

use prometheus_client::encoding::{text::encode, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabel {
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AuthLabel {
    pub method: String,
    /// `challenged` (401), `accepted`, `refused` (403, 503).
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RateLimitLabel {
    /// `REGISTER`, `INVITE`, `OPTIONS`, `other`.
    pub method: String,
    /// `503` (answered) or `dropped`.
    pub action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DnLabel {
    pub dn: String,
}

/// Every metric the service exports. Cloning the handles is cheap (they are `Arc`s inside).
pub struct Metrics {
    registry: Registry,
    pub active_calls: Gauge,
    pub calls: Family<OutcomeLabel, Counter>,
    pub calls_refused: Family<OutcomeLabel, Counter>,
    pub digits: Family<MethodLabel, Counter>,
    /// Phones' REGISTERs and INVITEs by how their identity checked out.
    pub phone_auth: Family<AuthLabel, Counter>,
    /// SIP requests over a per-source rate limit.
    pub sip_rate_limited: Family<RateLimitLabel, Counter>,
    pub rtp_sent: Counter<u64, AtomicU64>,
    pub rtp_received: Counter<u64, AtomicU64>,
    pub rtp_dropped: Counter<u64, AtomicU64>,
    /// 1 when the route-point DN is registered, 0 otherwise.
    pub registration_state: Family<DnLabel, Gauge>,
    pub prompt_cache_bytes: Gauge,
    /// DNs of the auto-registration range taken, and its size.
    pub autoreg_dns_used: Gauge,
    pub autoreg_dns_total: Gauge,
    /// New phones told to come back (`auto_registration.new_devices_per_second`).
    pub autoreg_deferred: Counter,
    /// Auto-registered devices never claimed that expired (`auto_registration.expire_unclaimed`).
    pub autoreg_expired: Counter,
    /// INVITE received → 200 OK sent, in seconds.
    pub call_setup_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("selfprov");
        let active_calls = Gauge::default();
        registry.register(
            "active_calls",
            "Calls in progress on the route point",
            active_calls.clone(),
        );
        let calls = Family::<OutcomeLabel, Counter>::default();
        registry.register("calls", "Finished IVR calls by outcome code", calls.clone());
        let calls_refused = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "calls_refused",
            "Calls refused before answer, by reason",
            calls_refused.clone(),
        );
        let digits = Family::<MethodLabel, Counter>::default();
        registry.register(
            "dtmf_digits",
            "DTMF digits received, by method",
            digits.clone(),
        );
        let phone_auth = Family::<AuthLabel, Counter>::default();
        registry.register(
            "phone_auth",
            "Phones' REGISTERs and INVITEs by identity check: challenged, accepted, refused",
            phone_auth.clone(),
        );
        let sip_rate_limited = Family::<RateLimitLabel, Counter>::default();
        registry.register(
            "sip_rate_limited",
            "SIP requests over a per-source rate limit, by method class and action (503, dropped)",
            sip_rate_limited.clone(),
        );
        let rtp_sent = Counter::default();
        registry.register("rtp_packets_sent", "RTP packets sent", rtp_sent.clone());
        let rtp_received = Counter::default();
        registry.register(
            "rtp_packets_received",
            "RTP packets received from latched sources",
            rtp_received.clone(),
        );
        let rtp_dropped = Counter::default();
        registry.register(
            "rtp_packets_dropped",
            "RTP packets dropped (stray source, malformed)",
            rtp_dropped.clone(),
        );
        let registration_state = Family::<DnLabel, Gauge>::default();
        registry.register(
            "registration_state",
            "Route-point DN registration: 1 registered, 0 not",
            registration_state.clone(),
        );
        let prompt_cache_bytes = Gauge::default();
        registry.register(
            "prompt_cache_bytes",
            "Bytes of pre-encoded prompt audio in memory",
            prompt_cache_bytes.clone(),
        );
        let autoreg_dns_used = Gauge::default();
        registry.register(
            "autoregistration_dns_used",
            "DNs of the auto-registration range taken (by devices or as users' extensions)",
            autoreg_dns_used.clone(),
        );
        let autoreg_dns_total = Gauge::default();
        registry.register(
            "autoregistration_dns",
            "DNs in the auto-registration range",
            autoreg_dns_total.clone(),
        );
        let autoreg_deferred = Counter::default();
        registry.register(
            "autoregistration_deferred",
            "New phones told to come back: new devices came faster than auto_registration.new_devices_per_second",
            autoreg_deferred.clone(),
        );
        let autoreg_expired = Counter::default();
        registry.register(
            "autoregistration_expired",
            "Auto-registered devices never claimed and not heard from for auto_registration.expire_unclaimed, deleted",
            autoreg_expired.clone(),
        );
        // 0.25 ms .. ~1 s
        let call_setup_seconds = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(0.000_25, 2.0, 13),
        );
        registry.register(
            "call_setup_seconds",
            "INVITE received to 200 OK sent",
            call_setup_seconds.clone(),
        );
        Metrics {
            registry,
            active_calls,
            calls,
            calls_refused,
            digits,
            phone_auth,
            sip_rate_limited,
            rtp_sent,
            rtp_received,
            rtp_dropped,
            registration_state,
            prompt_cache_bytes,
            autoreg_dns_used,
            autoreg_dns_total,
            autoreg_deferred,
            autoreg_expired,
            call_setup_seconds,
        }
    }

    pub fn call_finished(&self, outcome: &str) {
        self.calls
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub fn call_refused(&self, reason: &str) {
        self.calls_refused
            .get_or_create(&OutcomeLabel {
                outcome: reason.to_owned(),
            })
            .inc();
    }

    pub fn digit(&self, method: &str) {
        self.digits
            .get_or_create(&MethodLabel {
                method: method.to_owned(),
            })
            .inc();
    }

    /// A phone's REGISTER or INVITE answered `status` after its identity check.
    pub fn phone_auth(&self, method: &str, status: u16) {
        let result = match status {
            401 => "challenged",
            200..=299 => "accepted",
            _ => "refused",
        };
        self.phone_auth
            .get_or_create(&AuthLabel {
                method: method.to_owned(),
                result: result.to_owned(),
            })
            .inc();
    }

    /// A SIP request over its source's rate limit, answered `503` or dropped.
    pub fn rate_limited(&self, method: &str, dropped: bool) {
        self.sip_rate_limited
            .get_or_create(&RateLimitLabel {
                method: method.to_owned(),
                action: if dropped { "dropped" } else { "503" }.to_owned(),
            })
            .inc();
    }

    pub fn set_registered(&self, dn: &str, registered: bool) {
        self.registration_state
            .get_or_create(&DnLabel { dn: dn.to_owned() })
            .set(i64::from(registered));
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_labels() {
        let m = Metrics::new();
        m.call_finished("SUCCESS");
        m.call_finished("SUCCESS");
        m.digit("rfc4733");
        m.set_registered("2000", true);
        m.phone_auth("INVITE", 401);
        m.call_setup_seconds.observe(0.002);
        let text = m.render();
        assert!(
            text.contains("selfprov_calls_total{outcome=\"SUCCESS\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("selfprov_dtmf_digits_total{method=\"rfc4733\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("selfprov_registration_state{dn=\"2000\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("selfprov_phone_auth_total{method=\"INVITE\",result=\"challenged\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("selfprov_call_setup_seconds_count 1"),
            "{text}"
        );
    }
}
