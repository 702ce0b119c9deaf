//! The on-screen claim (docs/screen-claim.md): an auto-registered phone's idle URL,
//! `<config_url>/screen/<device>/<token>`, opens a login form in the phone's XML browser (Cisco,
//! Yealink, Snom, Polycom); the user ID and PIN, then the extension to confirm, then the claim and a NOTIFY
//! check-sync — through the same claim engine, rules, outcome codes, lockout and audit as the IVR.
//! The device is the one whose token the URL carries (an HMAC of its name and credential
//! generation under the device-secret key): never the source address, nothing the phone chooses.
//!
//! Served on the configuration server's listeners (`config_server::router`); [`flow`] answers one
//! request, [`screen`] says what each screen shows, [`xml`] writes it in the vendor's XML,
//! [`texts`] holds every text in each language, [`language`] picks the phone's, [`ticket`]
//! carries a login to the Continue key.

pub mod flow;
pub mod http;
mod language;
mod screen;
mod texts;
mod ticket;
mod xhtml;
mod xml;

#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod golden_tests;

use crate::config_server::throttle::Throttle;
use selfprov_operations::{ClaimEngine, DeviceSecrets};
use selfprov_provisioning::settings::{CredentialPolicy, SelfProvisioningSettings};
use std::sync::Arc;

/// What the on-screen claim follows from the configuration (replaced on reload with the
/// configuration server's view); absent when `phone_config.screen_claim` is off.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `<config_url>/screen`: the idle URLs' base.
    pub base: String,
    pub self_provisioning: SelfProvisioningSettings,
    pub policy: CredentialPolicy,
    /// `phone_config.screen_attempts_per_minute` (0: no limit).
    pub attempts_per_minute: u32,
}

impl Settings {
    /// From the configuration, with the configuration server's URL; `None` when the on-screen
    /// claim is off or there is no URL for phones to reach.
    pub fn of(cfg: &selfprov_config::Config, config_url: &str) -> Option<Settings> {
        let pc = &cfg.raw.phone_config;
        (pc.screen_claim && !config_url.is_empty()).then(|| Settings {
            base: format!("{}/screen", config_url.trim_end_matches('/')),
            self_provisioning: cfg.self_provisioning.clone(),
            policy: cfg.credential_policy,
            attempts_per_minute: pc.screen_attempts_per_minute,
        })
    }
}

/// The phones' way to tell the event loop to send NOTIFY check-sync (`resync::resync_source`).
pub type Resync = selfprov_api::Resync;

/// The on-screen claim's state: the claim engine, the key its tokens and tickets are signed
/// with, the per-device login throttle, and the way to the event loop for check-sync.
pub struct ScreenClaim {
    claims: Arc<ClaimEngine>,
    secrets: DeviceSecrets,
    logins: Throttle<String>,
    resync: Resync,
}

impl ScreenClaim {
    pub fn new(claims: Arc<ClaimEngine>, secrets: DeviceSecrets, resync: Resync) -> ScreenClaim {
        ScreenClaim {
            claims,
            secrets,
            logins: Throttle::default(),
            resync,
        }
    }
}
