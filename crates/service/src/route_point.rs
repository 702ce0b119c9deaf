//! The route point's own registrations: with an external registrar, every route-point DN
//! registers with the application user's credentials; their state goes to `/status` and the
//! metrics; a reload that changes them registers again.

use crate::admin::RegistrationStatus;
use crate::metrics::Metrics;
use crate::status::Live;
use anyhow::{Context, Result};
use selfprov_config::Config;
use selfprov_provisioning::settings::RegistrarMode;
use selfprov_sip::registration::RegistrationConfig;
use selfprov_sip::stack::{Command as SipCommand, SipStack};

/// With an external registrar, register every route-point DN with the application user.
pub(crate) fn register_route_point(
    cfg: &Config,
    sip: &SipStack,
    live: &Live,
    metrics: &Metrics,
) -> Result<()> {
    if cfg.self_provisioning.registrar_mode != RegistrarMode::External {
        return Ok(());
    }
    let addr = cfg.raw.registrar.address.clone().unwrap_or_default();
    let registrar = std::net::ToSocketAddrs::to_socket_addrs(&addr)
        .ok()
        .and_then(|mut a| a.next())
        .with_context(|| format!("registrar.address `{addr}` does not resolve"))?;
    let app = cfg.self_provisioning.application_user.clone();
    let tcp = cfg.raw.registrar.transport == selfprov_config::Transport::Tcp;
    let mut regs = Vec::new();
    for dn in cfg.self_provisioning.route_point.dn_strings() {
        let rc = RegistrationConfig {
            dn: dn.clone(),
            registrar_host: addr.clone(),
            username: app
                .as_ref()
                .map(|a| a.sip_username.clone())
                .unwrap_or_default(),
            password: app
                .as_ref()
                .map(|a| a.sip_password.clone())
                .unwrap_or_default(),
            expires: cfg.raw.registrar.expires,
            min_backoff: std::time::Duration::from_secs(1),
            max_backoff: std::time::Duration::from_secs(300),
        };
        sip.commands
            .send(SipCommand::Register {
                cfg: rc,
                registrar,
                tcp,
            })
            .ok();
        regs.push(RegistrationStatus {
            dn: dn.clone(),
            state: "registering".into(),
        });
        metrics.set_registered(dn.as_str(), false);
    }
    if let Ok(mut r) = live.registrations.lock() {
        *r = regs;
    }
    Ok(())
}

/// Whether a reload must re-register the route point.
pub(crate) fn registration_changed(old: &Config, new: &Config) -> bool {
    let (a, b) = (&old.self_provisioning, &new.self_provisioning);
    a.route_point != b.route_point
        || a.application_user != b.application_user
        || a.registrar_mode != b.registrar_mode
        || old.raw.registrar.address != new.raw.registrar.address
        || old.raw.registrar.transport != new.raw.registrar.transport
        || old.raw.registrar.expires != new.raw.registrar.expires
}
