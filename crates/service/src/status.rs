//! What the service says about itself at `/status` and `/health`: the live state shared between
//! the event loop (which updates it) and the admin listener (which reads it).

use crate::admin::{RegistrationStatus, StatusSnapshot, StatusSource};
use selfprov_config::Config;
use selfprov_operations::settings::SettingsBase;
use selfprov_provisioning::settings::{status, Status};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Shared with the admin listener.
pub(crate) struct Live {
    pub active: AtomicU64,
    /// Phones registered at the built-in registrar.
    pub phones_registered: AtomicU64,
    pub draining: AtomicBool,
    pub registrations: Mutex<Vec<RegistrationStatus>>,
    pub view: Mutex<ConfigView>,
    /// The configuration file's settings (the API's base for settings changes; SIGHUP replaces
    /// them).
    pub file_settings: Mutex<SettingsBase>,
    /// How full the auto-registration range was at the last count (`range_watch`).
    pub range_usage: Mutex<Option<crate::range_watch::RangeUsage>>,
}

impl Live {
    /// `base` is the configuration file as loaded; `cfg` the configuration in force.
    pub fn new(base: &Config, cfg: &Config) -> Self {
        Live {
            active: AtomicU64::new(0),
            phones_registered: AtomicU64::new(0),
            draining: AtomicBool::new(false),
            registrations: Mutex::new(Vec::new()),
            view: Mutex::new(ConfigView::of(cfg)),
            file_settings: Mutex::new(file_settings(base)),
            range_usage: Mutex::new(None),
        }
    }

    /// Record a route-point DN's registration state.
    pub fn set_registration(&self, dn: &str, state: String) {
        if let Ok(mut r) = self.registrations.lock() {
            match r.iter_mut().find(|x| x.dn == dn) {
                Some(x) => x.state = state,
                None => r.push(RegistrationStatus {
                    dn: dn.to_owned(),
                    state,
                }),
            }
        }
    }
}

/// The settings a configuration file gives.
pub(crate) fn file_settings(base: &Config) -> SettingsBase {
    SettingsBase {
        self_provisioning: base.self_provisioning.clone(),
        auto_registration: base.auto_registration.clone(),
    }
}

/// The API's view of the file's settings.
pub(crate) fn settings_source(live: Arc<Live>) -> selfprov_api::SettingsSource {
    Arc::new(move || match live.file_settings.lock() {
        Ok(s) => s.clone(),
        Err(p) => p.into_inner().clone(),
    })
}

/// The parts of the configuration the status shows (replaced on reload).
pub(crate) struct ConfigView {
    pub status: Status,
    pub max_calls: u64,
    pub dns: Vec<String>,
    pub phone_auth: String,
    /// The auto-registration range, while auto-registration is on.
    pub autoreg_range: Option<selfprov_provisioning::model::DnRange>,
}

impl ConfigView {
    pub fn of(cfg: &Config) -> Self {
        ConfigView {
            status: status(&cfg.self_provisioning, &cfg.auto_registration),
            max_calls: u64::from(cfg.raw.sip.max_calls),
            dns: cfg.self_provisioning.route_point.dn_strings(),
            autoreg_range: cfg
                .auto_registration
                .enabled
                .then(|| cfg.auto_registration.dn_range.clone()),
            phone_auth: match (cfg.raw.registrar.mode, cfg.raw.registrar.phone_auth) {
                (selfprov_config::RegistrarMode::External, _) => "external",
                (_, selfprov_config::PhoneAuth::Digest) => "digest",
                (_, selfprov_config::PhoneAuth::Binding) => "binding",
            }
            .into(),
        }
    }
}

/// The admin listener's view of `live`.
pub(crate) fn status_source(live: Arc<Live>, sip_listen: String) -> StatusSource {
    Arc::new(move || {
        let (st, max, dns, phone_auth) = match live.view.lock() {
            Ok(v) => (
                v.status.clone(),
                v.max_calls,
                v.dns.clone(),
                v.phone_auth.clone(),
            ),
            Err(_) => (
                Status::NotReady(vec!["internal error".into()]),
                0,
                vec![],
                String::new(),
            ),
        };
        let mut regs = live
            .registrations
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default();
        if regs.is_empty() {
            regs = dns
                .iter()
                .map(|d| RegistrationStatus {
                    dn: d.clone(),
                    state: "direct (built-in registrar)".into(),
                })
                .collect();
        }
        StatusSnapshot {
            ready: st == Status::Ready,
            reasons: match &st {
                Status::Ready => vec![],
                Status::NotReady(r) => r.clone(),
            },
            draining: live.draining.load(Ordering::Relaxed),
            active_calls: live.active.load(Ordering::Relaxed),
            max_calls: max,
            registrations: regs,
            phone_auth,
            phones_registered: live.phones_registered.load(Ordering::Relaxed),
            warnings: live
                .range_usage
                .lock()
                .ok()
                .and_then(|u| u.as_ref().and_then(|u| u.warning()))
                .into_iter()
                .collect(),
            sip_listen: sip_listen.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    })
}
