//! Taking a new configuration into use without dropping calls: on SIGHUP the file is read again;
//! when the settings stored in the database change (an administrator's `settings set`, on this
//! node or another sharing the database) the running file's settings are overlaid again. Both
//! load off the loop — configuration, stored settings, prompts — and take over in one step;
//! calls in progress keep going.

use crate::codecs::{media_codec, sdp_codecs};
use crate::phone_target::OutboundProxy;
use crate::route_point::{register_route_point, registration_changed};
use crate::state::Service;
use crate::status::ConfigView;
use crate::work::{Loaded, Work};
use selfprov_config::Config;
use selfprov_media::Codec;
use selfprov_operations::settings::SettingsBase;
use selfprov_operations::Operations;
use selfprov_prompts::Catalog;
use selfprov_provisioning::settings::{status, Status};
use selfprov_sip::stack::Command as SipCommand;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// How often a running service looks at the stored settings' revision.
pub(crate) const SETTINGS_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// Encoded prompts are kept next to the database, so a restart does not encode them again.
pub(crate) fn prompt_cache_dir(cfg: &Config) -> std::path::PathBuf {
    cfg.database_path
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("prompt-cache")
}

/// The configuration in force: the file's, with the settings stored in the database.
pub(crate) fn effective(base: &Config, ops: &Operations) -> Result<Config, String> {
    let b = SettingsBase {
        self_provisioning: base.self_provisioning.clone(),
        auto_registration: base.auto_registration.clone(),
    };
    let eff = ops
        .effective_settings(&b)
        .map_err(|e| format!("stored settings: {e}"))?;
    let mut cfg = base.clone();
    cfg.self_provisioning = eff.self_provisioning;
    cfg.auto_registration = eff.auto_registration;
    Ok(cfg)
}

/// The prompts for a configuration's languages and codecs (from the cache when it is current).
pub(crate) fn load_catalog(cfg: &Config) -> Result<Catalog, selfprov_prompts::PromptError> {
    let langs: Vec<String> = cfg
        .self_provisioning
        .languages
        .as_slice()
        .iter()
        .map(|l| l.to_string())
        .collect();
    let refs: Vec<&str> = langs.iter().map(String::as_str).collect();
    let codecs: Vec<Codec> = sdp_codecs(cfg).into_iter().map(media_codec).collect();
    Catalog::load_cached(
        &cfg.prompts_dir,
        &refs,
        &codecs,
        cfg.raw.media.ptime_ms,
        Some(&prompt_cache_dir(cfg)),
    )
}

/// The phone-configuration templates of a configuration (shipped plus its overrides), when the
/// configuration server runs; every problem with its file and line.
pub(crate) fn load_templates(
    cfg: &Config,
) -> Result<Option<selfprov_phoneconfig::Templates>, String> {
    if !cfg.serves_phone_files() {
        return Ok(None);
    }
    selfprov_phoneconfig::Templates::load(&cfg.templates_dir)
        .map(Some)
        .map_err(|problems| {
            let lines: Vec<String> = problems
                .iter()
                .map(|p| format!("{}/{p}", cfg.templates_dir.display()))
                .collect();
            format!("phone-configuration templates: {}", lines.join("; "))
        })
}

/// Load `base` (or the file again) with the stored settings, its prompts and templates, off the
/// loop.
fn load(base: Result<Config, String>, ops: &Operations) -> Result<Loaded, String> {
    let base = base?;
    let effective = effective(&base, ops)?;
    let catalog = load_catalog(&effective).map_err(|e| e.to_string())?;
    let templates = load_templates(&effective)?;
    let outbound_proxy = OutboundProxy::resolve(effective.outbound_proxy.as_ref())?;
    let tls = effective.tls.as_ref().map(crate::tls::load).transpose()?;
    let admin_tls = effective
        .admin_tls
        .as_ref()
        .map(crate::tls::load)
        .transpose()?;
    let sip_tls = effective
        .sip_tls
        .as_ref()
        .map(crate::tls::load_sip)
        .transpose()
        .map_err(|e| format!("SIP over TLS: {e}"))?;
    Ok(Loaded {
        base,
        effective,
        catalog,
        templates,
        outbound_proxy,
        tls,
        admin_tls,
        sip_tls,
    })
}

impl Service {
    /// SIGHUP: read the file again (off the loop).
    pub(crate) fn reload_file(&self) {
        tracing::info!(file = %self.cfg.file.display(), "SIGHUP: reloading configuration and prompts");
        let (file, work, ops) = (self.cfg.file.clone(), self.work.clone(), self.ops.clone());
        tokio::task::spawn_blocking(move || {
            let r = load(Config::load(&file).map_err(|e| e.to_string()), &ops);
            let _ = work.send(Work::Reloaded(Box::new(r)));
        });
    }

    /// Every few seconds: has an administrator changed the stored settings? (off the loop)
    pub(crate) fn poll_settings(&self) {
        let (work, ops) = (self.work.clone(), self.ops.clone());
        tokio::task::spawn_blocking(move || match ops.settings_revision() {
            Ok(r) => {
                let _ = work.send(Work::SettingsRevision(r));
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the settings revision"),
        });
    }

    /// The stored settings' revision: when it moved, apply them to the running file's settings.
    pub(crate) fn settings_revision_seen(&mut self, revision: i64) {
        if revision == self.settings_revision {
            return;
        }
        self.settings_revision = revision;
        tracing::info!(revision, "stored settings changed: applying them");
        let (base, work, ops) = (self.base.clone(), self.work.clone(), self.ops.clone());
        tokio::task::spawn_blocking(move || {
            let r = load(Ok(base), &ops);
            let _ = work.send(Work::Reloaded(Box::new(r)));
        });
    }

    /// A loaded configuration takes over; calls in progress continue.
    pub(crate) fn reloaded(&mut self, r: Result<Loaded, String>) {
        let Loaded {
            base,
            effective: new,
            catalog,
            templates,
            outbound_proxy,
            tls,
            admin_tls,
            sip_tls,
        } = match r {
            Err(why) => {
                return tracing::error!(%why, "reload refused; the running configuration stays in force")
            }
            Ok(l) => l,
        };
        let cfg = &self.cfg;
        if new.raw.sip.listen != cfg.raw.sip.listen
            || new.raw.sip.tls_listen != cfg.raw.sip.tls_listen
            || new.raw.media.bind != cfg.raw.media.bind
            || new.raw.media.rtp_port_range.start != cfg.raw.media.rtp_port_range.start
            || new.raw.admin.listen != cfg.raw.admin.listen
            || new.raw.phone_config.http_listen != cfg.raw.phone_config.http_listen
            || new.raw.phone_config.https_listen != cfg.raw.phone_config.https_listen
            || new.raw.phone_config.tftp_listen != cfg.raw.phone_config.tftp_listen
        {
            tracing::warn!("listen addresses changed: they take effect at the next restart");
        }
        if registration_changed(cfg, &new) {
            self.sip.commands.send(SipCommand::UnregisterAll).ok();
            if let Ok(mut r) = self.live.registrations.lock() {
                r.clear();
            }
            if let Err(e) = register_route_point(&new, &self.sip, &self.live, &self.metrics) {
                tracing::error!(error = %e, "route-point registration");
            }
        }
        self.sip
            .commands
            .send(SipCommand::SetRoutePoint {
                dns: new.self_provisioning.route_point.dn_strings(),
                max_calls: new.raw.sip.max_calls as usize,
            })
            .ok();
        let ready = status(&new.self_provisioning, &new.auto_registration) == Status::Ready;
        if !self.live.draining.load(Ordering::Relaxed) {
            self.sip
                .commands
                .send(SipCommand::SetRefusing(if ready {
                    None
                } else {
                    Some(new.raw.shutdown.retry_after)
                }))
                .ok();
        }
        if let Ok(mut v) = self.live.view.lock() {
            *v = ConfigView::of(&new);
        }
        if let (Some(server), Some(t)) = (&self.config_server, templates) {
            server.set_view(crate::phone_config::view(&new, t, &self.config_url));
        }
        if let (Some(current), Some(t)) = (&self.tls_certificate, tls) {
            current.replace(t);
            tracing::info!("configuration server: TLS certificate read again");
        }
        match (&self.admin_certificate, admin_tls) {
            (Some(current), Some(t)) => {
                current.replace(t);
                tracing::info!("admin listener: TLS certificate read again");
            }
            (None, Some(_)) | (Some(_), None) => tracing::warn!(
                "admin.tls_certificate was added or removed: the admin listener changes between HTTP and HTTPS at the next restart"
            ),
            (None, None) => {}
        }
        if let (Some(current), Some(t)) = (&self.sip_certificate, sip_tls) {
            current.replace(t);
            tracing::info!("SIP over TLS: certificate read again");
        }
        if new.sip_tls_ca_file != cfg.sip_tls_ca_file {
            tracing::warn!("sip.tls_ca_file changed: it takes effect at the next restart");
        }
        self.metrics
            .prompt_cache_bytes
            .set(catalog.encoded_bytes() as i64);
        self.catalog = Arc::new(catalog);
        self.outbound_proxy = outbound_proxy;
        self.ops
            .claims()
            .set_code_lifetime(new.raw.self_provisioning.activation_code_lifetime);
        self.set_config(base, new);
        tracing::info!(
            active_calls = self.calls.len(),
            prompts = self.catalog.len(),
            "configuration reloaded; calls in progress continue"
        );
    }
}
