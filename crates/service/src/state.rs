//! Everything the event loop owns, in one struct. Each responsibility is an `impl Service` block
//! in its own file: SIP events in (`sip_events`), IVR actions out (`ivr_actions`), phones'
//! registrations (`phone_registrations`), reload and settings (`reload`), operator signals
//! (`operator`); the loop itself is in `event_loop`.

use crate::caller_identity::NewCall;
use crate::calls::Calls;
use crate::codecs::sdp_codecs;
use crate::metrics::Metrics;
use crate::phone_auth::SipDigest;
use crate::phone_target::OutboundProxy;
use crate::registrar::Bindings;
use crate::status::Live;
use crate::work::Work;
use selfprov_config::Config;
use selfprov_ivr::IvrSettings;
use selfprov_media::engine::MediaEngine;
use selfprov_operations::{ClaimEngine, Operations};
use selfprov_prompts::Catalog;
use selfprov_sip::sdp::SdpCodec;
use selfprov_sip::stack::SipStack;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The IVR's settings from a configuration.
pub(crate) fn ivr_settings(cfg: &Config) -> IvrSettings {
    IvrSettings {
        auth_mode: cfg.self_provisioning.auth_mode,
        languages: cfg.self_provisioning.languages.as_slice().to_vec(),
        language_menu: cfg.raw.ivr.language_menu,
        first_digit_timeout: cfg.raw.ivr.first_digit_timeout,
        inter_digit_timeout: cfg.raw.ivr.inter_digit_timeout,
        max_attempts: cfg.raw.ivr.max_attempts,
        max_digits: cfg.raw.ivr.max_digits as usize,
    }
}

/// The media engine's counters as last exported to Prometheus (counters only grow by deltas).
#[derive(Default)]
pub(crate) struct RtpSeen {
    sent: u64,
    received: u64,
    dropped: u64,
}

impl RtpSeen {
    pub fn export(&mut self, media: &MediaEngine, m: &Metrics) {
        let c = &media.counters;
        for (seen, now, counter) in [
            (&mut self.sent, c.sent.load(Ordering::Relaxed), &m.rtp_sent),
            (
                &mut self.received,
                c.received.load(Ordering::Relaxed),
                &m.rtp_received,
            ),
            (
                &mut self.dropped,
                c.dropped.load(Ordering::Relaxed),
                &m.rtp_dropped,
            ),
        ] {
            counter.inc_by(now.saturating_sub(*seen));
            *seen = now;
        }
    }
}

pub(crate) struct Service {
    /// The configuration file as last loaded (start or SIGHUP).
    pub base: Config,
    /// The configuration in force: `base` with the settings changed at run time.
    pub cfg: Arc<Config>,
    /// Derived from `cfg`.
    pub codecs: Vec<SdpCodec>,
    pub ivr: IvrSettings,
    pub catalog: Arc<Catalog>,
    /// Where callers send RTP (the SDP answer's address).
    pub rtp_addr: SocketAddr,
    pub media: MediaEngine,
    pub sip: SipStack,
    pub ops: Operations,
    pub claims: Arc<ClaimEngine>,
    pub metrics: Arc<Metrics>,
    pub live: Arc<Live>,
    pub work: mpsc::UnboundedSender<Work>,
    pub calls: Calls,
    /// New calls whose caller is being identified off the loop, by Call-ID.
    pub identifying: HashMap<String, NewCall>,
    /// New calls ringing before their answer (sip.answer_delay), by Call-ID, with their device.
    pub ringing: HashMap<String, (NewCall, crate::caller_identity::Caller)>,
    /// Phones registered at the built-in registrar.
    pub bindings: Bindings,
    /// Phones' digest credentials (`registrar.phone_auth = "digest"`).
    pub phone_digest: SipDigest,
    /// `sip.outbound_proxy`, resolved (at start and on reload, off the loop).
    pub outbound_proxy: Option<OutboundProxy>,
    pub next_media_key: u64,
    pub drain_deadline: Option<tokio::time::Instant>,
    pub rtp_seen: RtpSeen,
    /// The stored settings' revision the running configuration reflects.
    pub settings_revision: i64,
    /// The configuration server, when `phone_config.http_listen` is set.
    pub config_server: Option<Arc<crate::config_server::ConfigServer>>,
    /// The configuration server's HTTPS certificate (replaced at reload), when it serves HTTPS.
    pub tls_certificate: Option<Arc<crate::tls::Certificate>>,
    /// The admin listener's HTTPS certificate (replaced at reload), when it serves HTTPS.
    pub admin_certificate: Option<Arc<crate::tls::Certificate>>,
    /// The SIP-over-TLS listener's certificate (replaced at reload), when there is one.
    pub sip_certificate: Option<Arc<crate::tls::Certificate>>,
    /// Where phones fetch their files (`http://host:port`).
    pub config_url: String,
}

impl Service {
    /// Take a new configuration (and the values derived from it) into use.
    pub fn set_config(&mut self, base: Config, effective: Config) {
        if let Ok(mut s) = self.live.file_settings.lock() {
            *s = crate::status::file_settings(&base);
        }
        self.codecs = sdp_codecs(&effective);
        self.ivr = ivr_settings(&effective);
        self.base = base;
        self.cfg = Arc::new(effective);
    }

    /// New calls not answered yet: being identified, or ringing.
    pub fn unanswered(&self) -> usize {
        self.identifying.len() + self.ringing.len()
    }

    /// After each event: the counters operators watch.
    pub fn publish_counters(&mut self) {
        self.live
            .active
            .store(self.calls.len() as u64, Ordering::Relaxed);
        self.live
            .phones_registered
            .store(self.bindings.len() as u64, Ordering::Relaxed);
        self.metrics.active_calls.set(self.calls.len() as i64);
        self.rtp_seen.export(&self.media, &self.metrics);
    }
}
