//! Starting the configuration server from the configuration: the device-secret key, the
//! templates, and what phones' files must say (where to register, where to fetch, the route point).

use crate::tls::Certificate;
use crate::config_server::{ConfigServer, View};

/// Where phones fetch their files when no configuration server runs here (for `config render`).
pub fn config_url(cfg: &Config) -> String {
    let pc = &cfg.raw.phone_config;
    default_url(pc.public_url.as_deref(), pc.http_listen, pc.https_listen)
        .unwrap_or_else(|| "http://(no configuration server)".into())
}

/// `phone_config.public_url`, else the HTTP listener's URL, else the HTTPS listener's.
fn default_url(
    public: Option<&str>,
    http: Option<SocketAddr>,
    https: Option<SocketAddr>,
) -> Option<String> {
    public
        .map(str::to_owned)
        .or_else(|| http.map(|a| format!("http://{a}")))
        .or_else(|| https.map(|a| format!("https://{a}")))
}

use anyhow::{anyhow, Context, Result};
use selfprov_config::Config;
use selfprov_operations::phone_files::ServerInfo;
use selfprov_operations::{DeviceSecrets, Operations};
use selfprov_phoneconfig::context::SipInfo;
use selfprov_phoneconfig::Templates;
use std::net::SocketAddr;
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
    let screen = crate::screen_claim::Settings::of(cfg, config_url);
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
            idle_url_base: screen.as_ref().map(|s| s.base.clone()),
        },
        autoreg: cfg.auto_registration.clone(),
        window: cfg.raw.phone_config.first_fetch_window,
        per_minute: cfg.raw.phone_config.unknown_per_minute,
        realm: cfg.raw.phone_config.realm.clone(),
        screen,
    }
}

/// The configuration server: its URL, its HTTPS and TFTP addresses, its handle.
pub(crate) struct Started {
    pub url: String,
    pub https: Option<SocketAddr>,
    pub tftp: Option<SocketAddr>,
    pub server: Arc<ConfigServer>,
    pub certificate: Option<Arc<Certificate>>,
}

/// Start the configuration server when `phone_config.http_listen` or `https_listen` is set (with
/// `tls`, the certificate read from `tls_certificate`), and its TFTP side when `tftp_listen` is.
/// `secrets` are the devices' secrets, shared with the registrar's digest; `resync` tells the
/// event loop to send NOTIFY check-sync after an on-screen claim.
pub(crate) async fn start(
    cfg: &Config,
    ops: &Operations,
    secrets: &DeviceSecrets,
    tls: Option<Arc<rustls::ServerConfig>>,
    metrics: &Arc<crate::metrics::Metrics>,
    resync: crate::screen_claim::Resync,
) -> Result<Option<Started>> {
    if !cfg.serves_phone_files() {
        return Ok(None);
    }
    let pc = &cfg.raw.phone_config;
    let limits = crate::http_listener::limits(
        pc.connection_idle_timeout,
        pc.max_connections_per_source,
        pc.max_connections,
    );
    let secrets = secrets.clone();
    let templates = crate::reload::load_templates(cfg)
        .map_err(|e| anyhow!(e))?
        .unwrap_or_else(Templates::shipped);
    let server = ConfigServer::new(
        ops.clone(),
        secrets,
        view(cfg, Templates::shipped(), ""),
        metrics.clone(),
        resync,
    );
    let http = match pc.http_listen {
        Some(listen) => {
            let (addr, fut) = server
                .bind(listen, limits.clone())
                .await
                .with_context(|| format!("configuration server {listen}"))?;
            tokio::spawn(fut);
            Some(addr)
        }
        None => None,
    };
    let (https, certificate) = match (pc.https_listen, tls) {
        (Some(listen), Some(tls)) => {
            let certificate = Certificate::new(tls);
            let (addr, fut) = server
                .bind_tls(listen, certificate.clone(), limits.clone())
                .await
                .with_context(|| format!("configuration server (HTTPS) {listen}"))?;
            tokio::spawn(fut);
            (Some(addr), Some(certificate))
        }
        _ => (None, None),
    };
    let url = default_url(pc.public_url.as_deref(), http, https).unwrap_or_default();
    server.set_view(view(cfg, templates, &url));
    let tftp = match pc.tftp_listen {
        Some(a) => {
            let (bound, fut) = crate::config_server::tftp::bind(server.clone(), a)
                .await
                .with_context(|| format!("TFTP listener {a}"))?;
            tokio::spawn(fut);
            Some(bound)
        }
        None => None,
    };
    Ok(Some(Started {
        url,
        https,
        tftp,
        server,
        certificate,
    }))
}
