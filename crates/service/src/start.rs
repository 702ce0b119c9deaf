//! Start-up: open the database, load the prompts, start the media engine, the SIP stack and the
//! admin listener, register the route point, and hand everything to the event loop.

use crate::admin;
use crate::calls::Calls;
use crate::codecs::sdp_codecs;
use crate::event_loop::Inputs;
use crate::live_view::live_source;
use crate::metrics::Metrics;
use crate::phone_auth::SipDigest;
use crate::phone_target::OutboundProxy;
use crate::registrar::Bindings;
use crate::reload::{effective, load_catalog};
use crate::resync::resync_source;
use crate::route_point::register_route_point;
use crate::state::{ivr_settings, RtpSeen, Service};
use crate::status::{settings_source, status_source, Live};
use anyhow::{anyhow, Context, Result};
use selfprov_config::Config;
use selfprov_config::DatabaseTarget;
use selfprov_media::engine::{MediaEngine, MediaEvent};
use selfprov_operations::activation::CodeSettings;
use selfprov_operations::{Actor, DeviceSecrets, Operations};
use selfprov_provisioning::settings::{status, Status};
use selfprov_provisioning::store::{ListQuery, PgStore, RegistrarAccounts, SqliteStore, Store};
use selfprov_sip::endpoint::EndpointConfig;
use selfprov_sip::rate_limit::{MethodClass, RequestLimits, Verdict};
use selfprov_sip::stack::{Command as SipCommand, SipStack, TlsSetup};
use selfprov_sip::tcp_limits::TcpLimits;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// The store the configuration names.
pub fn open_store(cfg: &Config) -> Result<Arc<dyn Store>> {
    let what = || format!("database {}", cfg.database.describe());
    Ok(match &cfg.database {
        DatabaseTarget::Sqlite(path) => Arc::new(SqliteStore::open(path).with_context(what)?),
        DatabaseTarget::Postgresql(o) => {
            let mut o = o.clone();
            if let Some(realm) = &cfg.raw.registrar.subscriber_realm {
                let secrets =
                    DeviceSecrets::load_or_create(&cfg.secret_key_file).map_err(|e| anyhow!(e))?;
                o.subscriber = Some(RegistrarAccounts {
                    realm: realm.clone(),
                    secret: Arc::new(move |device: &str, generation: u32| {
                        secrets.secret(device, generation)
                    }),
                });
            }
            Arc::new(PgStore::open(&o).with_context(what)?)
        }
    })
}

/// The operations layer over the configured store, with the install's activation-code key
/// (derived from the secret key file) and lifetime: the service and the command line in process
/// find the same codes.
pub fn open_operations(cfg: &Config) -> Result<Operations> {
    let ops = Operations::new(open_store(cfg)?);
    let secrets = DeviceSecrets::load_or_create(&cfg.secret_key_file).map_err(|e| anyhow!(e))?;
    ops.claims().set_code_settings(CodeSettings::of(
        &secrets,
        cfg.raw.self_provisioning.activation_code_lifetime,
    ));
    Ok(ops)
}

/// How administrators authenticate at the API, from `[admin]`; end users at the self-care
/// portal with the IVR's `[credential_policy]`.
fn api_auth(cfg: &Config) -> selfprov_api::AuthConfig {
    let a = &cfg.raw.admin;
    selfprov_api::AuthConfig {
        logins: selfprov_provisioning::settings::CredentialPolicy {
            failed_attempts_threshold: a.login_failed_attempts,
            lockout_duration: a.login_lockout,
            reset_on_success: true,
        },
        sessions: selfprov_operations::sessions::SessionPolicy {
            lifetime: a.session_lifetime,
            idle: a.session_idle_timeout,
        },
        secure_cookie: a.secure_cookies,
        logins_per_minute: a.logins_per_minute,
        pins: cfg.credential_policy,
    }
}

/// The media engine on its socket; its events forwarded into the async world.
fn start_media(
    cfg: &Config,
) -> Result<(MediaEngine, mpsc::UnboundedReceiver<MediaEvent>, SocketAddr)> {
    let (media_tx, media_rx) = std::sync::mpsc::channel::<MediaEvent>();
    let bind = SocketAddr::new(cfg.raw.media.bind, cfg.raw.media.rtp_port_range.start);
    let media = MediaEngine::start(bind, media_tx).with_context(|| format!("RTP socket {bind}"))?;
    if media.receive_buffer < selfprov_media::net::SOCKET_BUFFER {
        tracing::info!(
            granted_bytes = media.receive_buffer,
            wanted_bytes = selfprov_media::net::SOCKET_BUFFER,
            "the kernel capped the RTP socket's receive buffer; for thousands of calls raise net.core.rmem_max (docs/operations.md)"
        );
    }
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name("media-events".into())
        .spawn(move || {
            while let Ok(e) = media_rx.recv() {
                if tx.send(e).is_err() {
                    break;
                }
            }
        })?;
    let rtp_addr = match &cfg.raw.media.public_address {
        Some(ip) => SocketAddr::new(
            ip.parse().context("media.public_address")?,
            media.local_addr().port(),
        ),
        None => media.local_addr(),
    };
    Ok((media, rx, rtp_addr))
}

async fn start_sip(
    cfg: &Config,
    metrics: &Arc<Metrics>,
    certificate: Option<&Arc<crate::tls::Certificate>>,
) -> Result<(
    SipStack,
    mpsc::UnboundedReceiver<selfprov_sip::endpoint::Event>,
)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let tls = match (cfg.raw.sip.tls_listen, certificate) {
        (Some(listen), Some(certificate)) => Some(TlsSetup {
            listen,
            certificate: certificate.clone(),
            client: selfprov_sip::tls::client_config(cfg.sip_tls_ca_file.as_deref())
                .map_err(|e| anyhow!("sip.tls_ca_file: {e}"))?,
        }),
        _ => None,
    };
    let ep = EndpointConfig {
        advertised: cfg.raw.sip.public_address.clone().unwrap_or_default(),
        listen: None,
        tls_listen: None,
        user_agent: cfg.raw.sip.user_agent.clone(),
        route_point_dns: cfg.self_provisioning.route_point.dn_strings(),
        max_calls: cfg.raw.sip.max_calls as usize,
        timers: Default::default(),
    };
    let requests = request_limits(cfg, metrics);
    let listeners = match cfg.raw.sip.tls_listen {
        Some(t) => format!("{} and TLS {t}", cfg.raw.sip.listen),
        None => cfg.raw.sip.listen.to_string(),
    };
    let sip = SipStack::start_with(cfg.raw.sip.listen, ep, tx, tcp_limits(cfg), requests, tls)
        .await
        .with_context(|| format!("SIP listener {listeners}"))?;
    Ok((sip, rx))
}

/// The limits on SIP over TCP (`sip.tcp_*`; docs/security.md).
fn tcp_limits(cfg: &Config) -> TcpLimits {
    let sip = &cfg.raw.sip;
    let total = match sip.tcp_max_connections {
        0 => (file_limit().saturating_sub(1024)).max(256) as usize,
        n => n as usize,
    };
    TcpLimits {
        idle_timeout: sip.tcp_idle_timeout,
        per_source: sip.tcp_max_connections_per_source as usize,
        total,
        exempt: cfg.trusted_proxies.clone(),
    }
}

/// The per-source request rate limits (`sip.rate_limit_*`; docs/security.md), counted in
/// `selfprov_sip_rate_limited_total`.
fn request_limits(cfg: &Config, metrics: &Arc<Metrics>) -> RequestLimits {
    let sip = &cfg.raw.sip;
    let metrics = metrics.clone();
    RequestLimits {
        per_second: [
            sip.rate_limit_register,
            sip.rate_limit_invite,
            sip.rate_limit_options,
            sip.rate_limit_other,
        ],
        burst: sip.rate_limit_burst,
        exempt: cfg.trusted_proxies.clone(),
        on_limited: Some(Arc::new(move |class: MethodClass, v: Verdict| {
            metrics.rate_limited(class.as_str(), v == Verdict::Drop);
        })),
        ..RequestLimits::off()
    }
}

/// The process's soft limit on open files.
fn file_limit() -> u64 {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own; it has no other effect.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) } == 0 {
        l.rlim_cur
    } else {
        1024
    }
}

/// Run the service until SIGTERM/SIGINT (drain) completes.
pub async fn serve(base: Config) -> Result<()> {
    let started = Instant::now();
    for w in &base.warnings {
        tracing::warn!("{w}");
    }
    // A certificate that cannot be read stops the start before anything else is done.
    let tls = base
        .tls
        .as_ref()
        .map(crate::tls::load)
        .transpose()
        .map_err(|e| anyhow!(e))?;
    let admin_certificate = base
        .admin_tls
        .as_ref()
        .map(crate::tls::load)
        .transpose()
        .map_err(|e| anyhow!("admin listener: {e}"))?
        .map(crate::tls::Certificate::new);
    let sip_certificate = base
        .sip_tls
        .as_ref()
        .map(crate::tls::load_sip)
        .transpose()
        .map_err(|e| anyhow!("SIP over TLS: {e}"))?
        .map(crate::tls::Certificate::new);
    let ops = open_operations(&base)?;
    let first_start = ops
        .users(&ListQuery {
            limit: Some(1),
            ..Default::default()
        })?
        .total
        == 0;
    if base.raw.demo.load_on_first_start && first_start {
        let n = selfprov_operations::demo::load_demo_data(&ops, &Actor::system())?;
        tracing::info!(objects = n, "demo data loaded into the empty database");
    }
    let password_file = &base.initial_admin_password_file;
    if let Some(name) = ops
        .create_first_administrator(password_file)
        .map_err(|e| anyhow!("first administrator: {e}"))?
    {
        tracing::warn!(
            account = %name, file = %password_file.display(),
            "no administrator account existed: created one; its password is in the file (log in, change it with `selfprov admin password`, delete the file)"
        );
    }
    let settings_revision = ops.settings_revision()?;
    let cfg = effective(&base, &ops).map_err(|e| anyhow!(e))?;
    let catalog = Arc::new(
        load_catalog(&cfg).with_context(|| format!("prompts in {}", cfg.prompts_dir.display()))?,
    );
    let metrics = Arc::new(Metrics::new());
    metrics
        .prompt_cache_bytes
        .set(catalog.encoded_bytes() as i64);
    let outbound_proxy =
        OutboundProxy::resolve(cfg.outbound_proxy.as_ref()).map_err(|e| anyhow!(e))?;
    let (media, media_ev, rtp_addr) = start_media(&cfg)?;
    let (sip, sip_ev) = start_sip(&cfg, &metrics, sip_certificate.as_ref()).await?;

    let live = Arc::new(Live::new(&base, &cfg));
    if status(&cfg.self_provisioning, &cfg.auto_registration) != Status::Ready {
        sip.commands
            .send(SipCommand::SetRefusing(Some(cfg.raw.shutdown.retry_after)))
            .ok();
    }
    let (work_tx, work_rx) = mpsc::unbounded_channel();
    let api = selfprov_api::router(selfprov_api::ApiState::new(
        ops.clone(),
        settings_source(live.clone()),
        live_source(work_tx.clone()),
        resync_source(work_tx.clone()),
        api_auth(&cfg),
    ));
    let (query_tx, query_rx) = mpsc::unbounded_channel();
    let a = &cfg.raw.admin;
    // On the background runtime (lower priority): API clients must not delay calls.
    let (admin_addr, admin_fut) = crate::background::run(admin::bind(
        a.listen,
        status_source(live.clone(), sip.local.to_string()),
        metrics.clone(),
        query_tx,
        api,
        crate::http_listener::limits(
            a.connection_idle_timeout,
            a.max_connections_per_source,
            a.max_connections,
        ),
        admin_certificate.clone(),
    ))
    .await
    .with_context(|| format!("admin listener {}", cfg.raw.admin.listen))?;
    crate::background::spawn(admin_fut);
    crate::range_watch::spawn(ops.claims().clone(), live.clone(), metrics.clone());
    let ar = &cfg.raw.auto_registration;
    ops.claims().set_new_device_rate(
        ar.new_devices_per_second,
        ar.new_devices_burst,
        Instant::now(),
    );
    crate::unclaimed_sweep::spawn(ops.claims().clone(), ar.expire_unclaimed, metrics.clone());
    register_route_point(&cfg, &sip, &live, &metrics)?;
    let secrets = DeviceSecrets::load_or_create(&cfg.secret_key_file).map_err(|e| anyhow!(e))?;
    let config_server = crate::phone_config::start(
        &cfg,
        &ops,
        &secrets,
        tls,
        &metrics,
        resync_source(work_tx.clone()),
    )
    .await?;
    let config_url = config_server
        .as_ref()
        .map(|s| s.url.clone())
        .unwrap_or_default();
    let tftp = config_server
        .as_ref()
        .and_then(|s| s.tftp)
        .map_or_else(|| "off".to_owned(), |a| a.to_string());
    let https = config_server
        .as_ref()
        .and_then(|s| s.https)
        .map_or_else(|| "off".to_owned(), |a| format!("https://{a}"));
    let operator = crate::signals::install()?;
    tracing::info!(
        sip = %sip.local, sip_tls = %sip.tls_local.map_or_else(|| "off".to_owned(), |a| a.to_string()), rtp = %rtp_addr,
        admin = %format!("{}://{admin_addr}", if admin_certificate.is_some() { "https" } else { "http" }),
        config = %if config_url.is_empty() { "off" } else { config_url.as_str() }, config_tls = %https, tftp = %tftp,
        route_point = %cfg.self_provisioning.route_point.dns.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(","),
        prompts = catalog.len(), database = ops.backend(), startup_ms = started.elapsed().as_millis() as u64,
        "selfprov ready"
    );

    let service = Service {
        codecs: sdp_codecs(&cfg),
        ivr: ivr_settings(&cfg),
        cfg: Arc::new(cfg),
        base,
        catalog,
        rtp_addr,
        media,
        sip,
        claims: ops.claims().clone(),
        ops,
        metrics,
        live,
        work: work_tx,
        calls: Calls::default(),
        identifying: HashMap::new(),
        ringing: HashMap::new(),
        bindings: Bindings::default(),
        phone_digest: SipDigest::new(secrets),
        outbound_proxy,
        next_media_key: 1,
        drain_deadline: None,
        rtp_seen: RtpSeen::default(),
        settings_revision,
        tls_certificate: config_server.as_ref().and_then(|s| s.certificate.clone()),
        admin_certificate,
        sip_certificate,
        config_server: config_server.map(|s| s.server),
        config_url,
    };
    service
        .run(Inputs {
            sip: sip_ev,
            media: media_ev,
            work: work_rx,
            operator,
            queries: query_rx,
        })
        .await;
    Ok(())
}
