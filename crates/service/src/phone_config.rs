//! Starting the configuration server from the configuration: the device-secret key, the
//! templates, and what phones' files must say (where to register, where to fetch, the route point).

use crate::config_server::{ConfigServer, View};

/// Where phones fetch their files when no configuration server runs here (for `config render`).
pub fn config_url(cfg: &Config) -> String {
    cfg.raw.phone_config.public_url.clone().unwrap_or_else(|| {
        match cfg.raw.phone_config.http_listen {
            Some(a) => format!("http://{a}"),
            None => "http://(no configuration server)".into(),
        }
    })
}

use anyhow::{anyhow, Context, Result};
use selfprov_config::Config;
use selfprov_operations::phone_files::ServerInfo;
use selfprov_operations::{DeviceSecrets, Operations};
use selfprov_phoneconfig::context::SipInfo;
use selfprov_phoneconfig::Templates;
use std::sync::Arc;

/// The registrar address phones are given: `phone_config.sip_address`, else `sip.public_address`,
/// else `sip.listen`.
fn sip_info(cfg: &Config) -> SipInfo {
    let pc = &cfg.raw.phone_config;
    let addr = pc
        .sip_address
        .clone()
        .or_else(|| cfg.raw.sip.public_address.clone())
        .unwrap_or_else(|| cfg.raw.sip.listen.to_string());
    let (host, port) = match addr.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() && !h.is_empty() => (
            h.trim_matches(['[', ']']).to_owned(),
            p.parse().unwrap_or(5060),
        ),
        _ => (addr.clone(), 5060),
    };
    SipInfo {
        host,
        port,
        transport: "udp".into(),
        realm: pc.realm.clone(),
    }
}

/// The configuration server's view of a configuration (also what `selfprov config render` uses).
pub fn view(cfg: &Config, templates: Templates, config_url: &str) -> View {
    View {
        templates,
        server: ServerInfo {
            sip: sip_info(cfg),
            config_url: config_url.to_owned(),
            route_point_dn: cfg
                .self_provisioning
                .route_point
                .dns
                .first()
                .map(|d| d.to_string())
                .unwrap_or_default(),
            language: cfg
                .self_provisioning
                .languages
                .as_slice()
                .first()
                .map(|l| l.to_string())
                .unwrap_or_else(|| "en_US".into()),
            idle_url_base: None,
        },
        autoreg: cfg.auto_registration.clone(),
        window: cfg.raw.phone_config.first_fetch_window,
        per_minute: cfg.raw.phone_config.unknown_per_minute,
        realm: cfg.raw.phone_config.realm.clone(),
    }
}

/// The configuration server: its URL, its TFTP address, its handle.
pub(crate) struct Started {
    pub url: String,
    pub tftp: Option<std::net::SocketAddr>,
    pub server: Arc<ConfigServer>,
}

/// Start the configuration server when `phone_config.http_listen` is set (and its TFTP side when
/// `tftp_listen` is).
pub(crate) async fn start(
    cfg: &Config,
    ops: &Operations,
    secrets: &DeviceSecrets,
) -> Result<Option<Started>> {
    let Some(listen) = cfg.raw.phone_config.http_listen else {
        return Ok(None);
    };
    let secrets = secrets.clone();
    let templates = crate::reload::load_templates(cfg)
        .map_err(|e| anyhow!(e))?
        .unwrap_or_else(Templates::shipped);
    let server = ConfigServer::new(ops.clone(), secrets, view(cfg, Templates::shipped(), ""));
    let (addr, fut) = server
        .bind(listen)
        .await
        .with_context(|| format!("configuration server {listen}"))?;
    let url = cfg
        .raw
        .phone_config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    server.set_view(view(cfg, templates, &url));
    tokio::spawn(fut);
    let tftp = match cfg.raw.phone_config.tftp_listen {
        Some(a) => {
            let (bound, fut) = crate::config_server::tftp::bind(server.clone(), a)
                .await
                .with_context(|| format!("TFTP listener {a}"))?;
            tokio::spawn(fut);
            Some(bound)
        }
        None => None,
    };
    Ok(Some(Started { url, tftp, server }))
}
