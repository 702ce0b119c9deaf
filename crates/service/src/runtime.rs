//! `selfprov serve`: one event loop owns the calls. It moves SIP events, media events, IVR
//! timers and provisioning results into each call's IVR state machine and carries out the
//! actions it returns. Blocking database work runs on tokio's blocking pool; its results come
//! back as events, so the loop never waits on the disk.

use crate::admin::{self, RegistrationStatus, StatusSnapshot};
use crate::metrics::Metrics;
use crate::registrar::{binding_lifetime, parse_register, Binding, Bindings};
use anyhow::{Context, Result};
use selfprov_config::{CodecName, Config};
use selfprov_dtmf::{DigitStream, Method};
use selfprov_ivr::{Action, AuthOk, Call, Event as IvrEvent, IvrSettings, Key, TimerId};
use selfprov_media::engine::{MediaCommand, MediaEngine, MediaEvent, StreamSpec};
use selfprov_media::Codec;
use selfprov_prompts::Catalog;
use selfprov_provisioning::model::AuditEntry;
use selfprov_provisioning::model::UserId;
use selfprov_provisioning::settings::{status, Status};
use selfprov_provisioning::store::{SqliteStore, Store, UnixMillis};
use selfprov_provisioning::{Language, OutcomeCode};
use selfprov_sip::endpoint::{EndpointConfig, Event as SipEvent, Peer};
use selfprov_sip::sdp::{self, SdpCodec};
use selfprov_sip::stack::{Command as SipCommand, SipStack};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;

/// Results of blocking provisioning work, back into the loop.
enum Work {
    /// The ring time of a new call is over: answer it (unless it was cancelled meanwhile).
    AnswerNow(String),
    /// SIGHUP: the new configuration and prompts, loaded off the loop (or why not).
    Reloaded(Box<Result<(Config, Catalog), String>>),
    Event {
        call_id: String,
        ev: IvrEvent,
        assigned: bool,
    },
    Registered {
        key: String,
        device: String,
        contact: Option<String>,
        source: Peer,
        expires: u32,
        result: Result<String, String>,
    },
}

/// Calls in progress, with the lookups the event loop needs without scanning every call: by
/// media key, and the next timer due.
#[derive(Default)]
struct Calls {
    map: HashMap<String, CallCtx>,
    by_media: HashMap<u64, String>,
    /// Armed timers, earliest first. Entries go stale when a timer is re-armed or cancelled or
    /// its call ends; they are dropped when they reach the top.
    timers: BinaryHeap<Reverse<(Instant, String)>>,
}

impl std::ops::Deref for Calls {
    type Target = HashMap<String, CallCtx>;
    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl Calls {
    fn insert(&mut self, id: String, c: CallCtx) {
        self.by_media.insert(c.media_key, id.clone());
        self.map.insert(id, c);
    }
    fn remove(&mut self, id: &str) -> Option<CallCtx> {
        let c = self.map.remove(id)?;
        self.by_media.remove(&c.media_key);
        Some(c)
    }
    fn get_mut(&mut self, id: &str) -> Option<&mut CallCtx> {
        self.map.get_mut(id)
    }
    fn by_media(&self, key: u64) -> Option<String> {
        self.by_media.get(&key).cloned()
    }
    fn arm(&mut self, id: &str, at: Instant) {
        self.timers.push(Reverse((at, id.to_owned())));
    }
    /// The earliest armed timer.
    fn next_timer(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, id))) = self.timers.peek() {
            match self.map.get(id).and_then(|c| c.timer) {
                Some((_, t)) if t == *at => return Some(*at),
                _ => {
                    self.timers.pop();
                }
            }
        }
        None
    }
    /// The timers due at `now`, disarmed: (call, timer).
    fn due(&mut self, now: Instant) -> Vec<(String, TimerId)> {
        let mut out = Vec::new();
        while self.timers.peek().is_some_and(|Reverse((at, _))| *at <= now) {
            let Some(Reverse((at, id))) = self.timers.pop() else { break };
            if let Some(c) = self.map.get_mut(&id) {
                if let Some((tid, t)) = c.timer {
                    if t == at {
                        c.timer = None;
                        out.push((id, tid));
                    }
                }
            }
        }
        out
    }
}

struct CallCtx {
    ivr: Call,
    media_key: u64,
    codec: Codec,
    language: Language,
    device: String,
    contact: Option<String>,
    source: Peer,
    timer: Option<(TimerId, Instant)>,
    digits: DigitStream,
    /// The assignment wrote its own audit entry.
    assign_audited: bool,
    started: Instant,
}

fn media_codec(c: SdpCodec) -> Codec {
    match c {
        SdpCodec::Pcmu => Codec::Pcmu,
        SdpCodec::Pcma => Codec::Pcma,
        SdpCodec::G729 => Codec::G729,
        SdpCodec::L16 => Codec::L16,
        SdpCodec::Opus => Codec::Opus,
    }
}

fn sdp_codecs(cfg: &Config) -> Vec<SdpCodec> {
    cfg.raw
        .media
        .codecs
        .iter()
        .map(|c| match c {
            CodecName::PCMU => SdpCodec::Pcmu,
            CodecName::PCMA => SdpCodec::Pcma,
            CodecName::G729 => SdpCodec::G729,
            CodecName::L16 => SdpCodec::L16,
            CodecName::OPUS => SdpCodec::Opus,
        })
        .filter(|c| media_codec(*c).is_enabled())
        .collect()
}

fn ivr_settings(cfg: &Config) -> IvrSettings {
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

/// Shared with the admin listener.
struct Live {
    active: AtomicU64,
    draining: AtomicBool,
    registrations: Mutex<Vec<RegistrationStatus>>,
    view: Mutex<ConfigView>,
}

/// The parts of the configuration the status shows (replaced on reload).
struct ConfigView {
    status: Status,
    max_calls: u64,
    dns: Vec<String>,
}

impl ConfigView {
    fn of(cfg: &Config) -> Self {
        ConfigView {
            status: status(&cfg.self_provisioning, &cfg.auto_registration),
            max_calls: u64::from(cfg.raw.sip.max_calls),
            dns: cfg
                .self_provisioning
                .route_point
                .dns
                .iter()
                .map(|d| d.to_string())
                .collect(),
        }
    }
}

/// With an external registrar, register every route-point DN with the application user.
fn register_route_point(
    cfg: &Config,
    sip: &SipStack,
    live: &Live,
    metrics: &Metrics,
) -> Result<()> {
    if cfg.self_provisioning.registrar_mode
        == selfprov_provisioning::settings::RegistrarMode::External
    {
        let addr = cfg.raw.registrar.address.clone().unwrap_or_default();
        let registrar = std::net::ToSocketAddrs::to_socket_addrs(&addr)
            .ok()
            .and_then(|mut a| a.next())
            .with_context(|| format!("registrar.address `{addr}` does not resolve"))?;
        let app = cfg.self_provisioning.application_user.clone();
        let mut regs = Vec::new();
        for dn in &cfg.self_provisioning.route_point.dns {
            let rc = selfprov_sip::registration::RegistrationConfig {
                dn: dn.to_string(),
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
            let tcp = cfg.raw.registrar.transport == selfprov_config::Transport::Tcp;
            sip.commands
                .send(SipCommand::Register {
                    cfg: rc,
                    registrar,
                    tcp,
                })
                .ok();
            regs.push(RegistrationStatus {
                dn: dn.to_string(),
                state: "registering".into(),
            });
            metrics.set_registered(dn.as_str(), false);
        }
        if let Ok(mut r) = live.registrations.lock() {
            *r = regs;
        }
    }
    Ok(())
}

/// The media engine's counters as last exported to Prometheus (counters only grow by deltas).
#[derive(Default)]
struct RtpSeen {
    sent: u64,
    received: u64,
    dropped: u64,
}

impl RtpSeen {
    fn export(&mut self, media: &MediaEngine, m: &Metrics) {
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

/// Whether a reload must re-register the route point.
fn registration_changed(old: &Config, new: &Config) -> bool {
    let (a, b) = (&old.self_provisioning, &new.self_provisioning);
    a.route_point != b.route_point
        || a.application_user != b.application_user
        || a.registrar_mode != b.registrar_mode
        || old.raw.registrar.address != new.raw.registrar.address
        || old.raw.registrar.transport != new.raw.registrar.transport
        || old.raw.registrar.expires != new.raw.registrar.expires
}

/// Run the service until SIGTERM/SIGINT (drain) completes.
pub async fn serve(cfg: Config) -> Result<()> {
    let started = Instant::now();
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    let store = Arc::new(
        SqliteStore::open(&cfg.database_path)
            .with_context(|| format!("database {}", cfg.database_path.display()))?,
    );
    if cfg.raw.demo.load_on_first_start && store.list_users()?.is_empty() {
        let n = selfprov_provisioning::demo::load_demo_data(store.as_ref())?;
        tracing::info!(objects = n, "demo data loaded into the empty database");
    }
    let langs: Vec<String> = cfg
        .self_provisioning
        .languages
        .as_slice()
        .iter()
        .map(|l| l.to_string())
        .collect();
    let lang_refs: Vec<&str> = langs.iter().map(String::as_str).collect();
    let mut codecs = sdp_codecs(&cfg);
    let media_codecs: Vec<Codec> = codecs.iter().map(|c| media_codec(*c)).collect();
    let mut catalog = Arc::new(
        Catalog::load_cached(
            &cfg.prompts_dir,
            &lang_refs,
            &media_codecs,
            cfg.raw.media.ptime_ms,
            Some(&prompt_cache_dir(&cfg)),
        )
        .with_context(|| format!("prompts in {}", cfg.prompts_dir.display()))?,
    );
    let metrics = Arc::new(Metrics::new());
    metrics
        .prompt_cache_bytes
        .set(catalog.encoded_bytes() as i64);

    let (media_tx, media_rx) = std::sync::mpsc::channel::<MediaEvent>();
    let media_bind = SocketAddr::new(cfg.raw.media.bind, cfg.raw.media.rtp_port_range.start);
    let media = MediaEngine::start(media_bind, media_tx)
        .with_context(|| format!("RTP socket {media_bind}"))?;
    if media.receive_buffer < selfprov_media::net::SOCKET_BUFFER {
        tracing::info!(
            granted_bytes = media.receive_buffer,
            wanted_bytes = selfprov_media::net::SOCKET_BUFFER,
            "the kernel capped the RTP socket's receive buffer; for thousands of calls raise net.core.rmem_max (docs/operations.md)"
        );
    }
    let (media_ev_tx, mut media_ev) = mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name("media-events".into())
        .spawn(move || {
            while let Ok(e) = media_rx.recv() {
                if media_ev_tx.send(e).is_err() {
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

    let (sip_tx, mut sip_rx) = mpsc::unbounded_channel();
    let ep_cfg = EndpointConfig {
        advertised: cfg.raw.sip.public_address.clone().unwrap_or_default(),
        user_agent: cfg.raw.sip.user_agent.clone(),
        route_point_dns: cfg
            .self_provisioning
            .route_point
            .dns
            .iter()
            .map(|d| d.to_string())
            .collect(),
        max_calls: cfg.raw.sip.max_calls as usize,
        timers: Default::default(),
    };
    let sip = SipStack::start(cfg.raw.sip.listen, ep_cfg, sip_tx)
        .await
        .with_context(|| format!("SIP listener {}", cfg.raw.sip.listen))?;

    let live = Arc::new(Live {
        active: AtomicU64::new(0),
        draining: AtomicBool::new(false),
        registrations: Mutex::new(Vec::new()),
        view: Mutex::new(ConfigView::of(&cfg)),
    });
    let st = status(&cfg.self_provisioning, &cfg.auto_registration);
    if st != Status::Ready {
        sip.commands
            .send(SipCommand::SetRefusing(Some(cfg.raw.shutdown.retry_after)))
            .ok();
    }
    let source: admin::StatusSource = {
        let live = live.clone();
        let listen = sip.local.to_string();
        Arc::new(move || {
            let (st, max, dns) = match live.view.lock() {
                Ok(v) => (v.status.clone(), v.max_calls, v.dns.clone()),
                Err(_) => (Status::NotReady(vec!["internal error".into()]), 0, vec![]),
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
                sip_listen: listen.clone(),
                version: env!("CARGO_PKG_VERSION").into(),
            }
        })
    };
    let (admin_addr, admin_fut) = admin::bind(cfg.raw.admin.listen, source, metrics.clone())
        .await
        .with_context(|| format!("admin listener {}", cfg.raw.admin.listen))?;
    tokio::spawn(admin_fut);
    register_route_point(&cfg, &sip, &live, &metrics)?;
    let mut signals = crate::signals::install()?;
    tracing::info!(
        sip = %sip.local, rtp = %rtp_addr, admin = %format!("http://{admin_addr}"),
        route_point = %cfg.self_provisioning.route_point.dns.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(","),
        prompts = catalog.len(), startup_ms = started.elapsed().as_millis() as u64,
        "selfprov ready"
    );

    let (work_tx, mut work_rx) = mpsc::unbounded_channel::<Work>();
    let mut calls = Calls::default();
    let mut bindings = Bindings::default();
    let mut next_media_key: u64 = 1;
    let mut ivr_cfg = ivr_settings(&cfg);
    let mut cfg = Arc::new(cfg);
    let mut drain_deadline: Option<tokio::time::Instant> = None;
    let mut rtp_seen = RtpSeen::default();
    // New calls ringing before their answer (sip.answer_delay), by Call-ID.
    let mut ringing: HashMap<String, SipEvent> = HashMap::new();

    loop {
        let next_timer = calls.next_timer();
        let wake = match (
            next_timer.map(tokio::time::Instant::from_std),
            drain_deadline,
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        tokio::select! {
            Some(ev) = sip_rx.recv() => {
                if let SipEvent::Registration { dn, state } = &ev {
                    tracing::info!(%dn, state = %state.describe(), "route-point registration");
                    metrics.set_registered(dn, matches!(state, selfprov_sip::registration::RegState::Registered { .. }));
                    if let Ok(mut r) = live.registrations.lock() {
                        match r.iter_mut().find(|x| &x.dn == dn) {
                            Some(x) => x.state = state.describe(),
                            None => r.push(RegistrationStatus { dn: dn.clone(), state: state.describe() }),
                        }
                    }
                }
                let ev = match ev {
                    SipEvent::IncomingCall { ref call_id, .. } if !cfg.raw.sip.answer_delay.is_zero() => {
                        sip.commands.send(SipCommand::Ring { call_id: call_id.clone() }).ok();
                        let (id, work, delay) = (call_id.clone(), work_tx.clone(), cfg.raw.sip.answer_delay);
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            let _ = work.send(Work::AnswerNow(id));
                        });
                        ringing.insert(call_id.clone(), ev);
                        continue;
                    }
                    SipEvent::CallEnded { ref call_id, .. } if ringing.contains_key(call_id) => {
                        ringing.remove(call_id);
                        cancelled_while_ringing(call_id, &store, &metrics);
                        continue;
                    }
                    ev => ev,
                };
                on_sip(ev, &cfg, &codecs, rtp_addr, &mut calls, &mut next_media_key, &ivr_cfg, &media, &sip, &catalog, &store, &work_tx, &metrics, &mut bindings);
            }
            Some(ev) = media_ev.recv() => {
                let (call_id, iev) = match ev {
                    MediaEvent::PlaybackFinished { call, tag } => (calls.by_media(call), Some(IvrEvent::PromptFinished(tag))),
                    MediaEvent::Digit { call, digit, method } => {
                        let id = calls.by_media(call);
                        let ev = id.as_ref().and_then(|id| calls.get_mut(id)).and_then(|c| c.digits.offer(digit, method, Instant::now())).and_then(|d| Key::from_char(d.as_char()));
                        if ev.is_some() { metrics.digit(method.as_str()); tracing::debug!(method = method.as_str(), "digit received"); }
                        (id, ev.map(IvrEvent::Digit))
                    }
                };
                if let (Some(id), Some(e)) = (call_id, iev) {
                    feed(&id, e, &cfg, &mut calls, &media, &sip, &catalog, &store, &work_tx, &metrics, &bindings);
                }
            }
            Some(w) = work_rx.recv() => match w {
                Work::Reloaded(r) => match *r {
                    Err(why) => tracing::error!(%why, "reload refused; the running configuration stays in force"),
                    Ok((new, new_catalog)) => {
                        if new.raw.sip.listen != cfg.raw.sip.listen || new.raw.media.bind != cfg.raw.media.bind || new.raw.media.rtp_port_range.start != cfg.raw.media.rtp_port_range.start || new.raw.admin.listen != cfg.raw.admin.listen {
                            tracing::warn!("listen addresses changed: they take effect at the next restart");
                        }
                        if registration_changed(&cfg, &new) {
                            sip.commands.send(SipCommand::UnregisterAll).ok();
                            if let Ok(mut r) = live.registrations.lock() { r.clear(); }
                            if let Err(e) = register_route_point(&new, &sip, &live, &metrics) { tracing::error!(error = %e, "route-point registration"); }
                        }
                        sip.commands.send(SipCommand::SetRoutePoint { dns: new.self_provisioning.route_point.dns.iter().map(|d| d.to_string()).collect(), max_calls: new.raw.sip.max_calls as usize }).ok();
                        let ready = status(&new.self_provisioning, &new.auto_registration) == Status::Ready;
                        if !live.draining.load(Ordering::Relaxed) {
                            sip.commands.send(SipCommand::SetRefusing(if ready { None } else { Some(new.raw.shutdown.retry_after) })).ok();
                        }
                        if let Ok(mut v) = live.view.lock() { *v = ConfigView::of(&new); }
                        metrics.prompt_cache_bytes.set(new_catalog.encoded_bytes() as i64);
                        codecs = sdp_codecs(&new);
                        ivr_cfg = ivr_settings(&new);
                        catalog = Arc::new(new_catalog);
                        cfg = Arc::new(new);
                        tracing::info!(active_calls = calls.len(), prompts = catalog.len(), "configuration reloaded; calls in progress continue");
                    }
                },
                Work::AnswerNow(call_id) => {
                    if let Some(ev) = ringing.remove(&call_id) {
                        on_sip(ev, &cfg, &codecs, rtp_addr, &mut calls, &mut next_media_key, &ivr_cfg, &media, &sip, &catalog, &store, &work_tx, &metrics, &mut bindings);
                    }
                }
                Work::Event { call_id, ev, assigned } => {
                    if assigned { if let Some(c) = calls.get_mut(&call_id) { c.assign_audited = true; } }
                    feed(&call_id, ev, &cfg, &mut calls, &media, &sip, &catalog, &store, &work_tx, &metrics, &bindings);
                }
                Work::Registered { key, device, contact, source, expires, result } => match result {
                    Ok(dn) => {
                        if let Some(c) = &contact { bindings.set(&device, Binding { contact: c.clone(), source, until: Instant::now() + binding_lifetime(expires) }); }
                        tracing::info!(%device, %dn, "phone registered");
                        let extra = format!("Contact: <{}>;expires={expires}\r\nExpires: {expires}\r\n", contact.unwrap_or_default());
                        sip.commands.send(SipCommand::Respond { key, status: 200, reason: "OK".into(), extra_headers: extra }).ok();
                    }
                    Err(why) => {
                        tracing::warn!(%device, %why, "registration refused");
                        sip.commands.send(SipCommand::Respond { key, status: 403, reason: format!("Forbidden - {why}"), extra_headers: String::new() }).ok();
                    }
                },
            },
            Some(req) = signals.recv() => match req {
                crate::signals::OperatorRequest::Reload => {
                    tracing::info!(file = %cfg.file.display(), "SIGHUP: reloading configuration and prompts");
                    let (file, work) = (cfg.file.clone(), work_tx.clone());
                    tokio::task::spawn_blocking(move || {
                        let r = Config::load(&file).map_err(|e| e.to_string()).and_then(|c| {
                            let langs: Vec<String> = c.self_provisioning.languages.as_slice().iter().map(|l| l.to_string()).collect();
                            let refs: Vec<&str> = langs.iter().map(String::as_str).collect();
                            let codecs: Vec<Codec> = sdp_codecs(&c).into_iter().map(media_codec).collect();
                            let cat = Catalog::load_cached(&c.prompts_dir, &refs, &codecs, c.raw.media.ptime_ms, Some(&prompt_cache_dir(&c))).map_err(|e| e.to_string())?;
                            Ok((c, cat))
                        });
                        let _ = work.send(Work::Reloaded(Box::new(r)));
                    });
                }
                crate::signals::OperatorRequest::Drain => {
                    tracing::info!(active = calls.len(), "draining: refusing new calls");
                    live.draining.store(true, Ordering::Relaxed);
                    sip.commands.send(SipCommand::SetRefusing(Some(cfg.raw.shutdown.retry_after))).ok();
                    sip.commands.send(SipCommand::UnregisterAll).ok();
                    drain_deadline = Some(tokio::time::Instant::now() + cfg.raw.shutdown.drain_deadline);
                    if calls.is_empty() && ringing.is_empty() { break; }
                }
                crate::signals::OperatorRequest::ExitNow => { tracing::warn!("second signal: exiting now"); break; }
            },
            _ = async { match wake { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending::<()>().await } } => {
                let now = Instant::now();
                if drain_deadline.is_some_and(|d| d <= tokio::time::Instant::now()) {
                    for (id, _) in ringing.drain() {
                        sip.commands.send(SipCommand::Reject { call_id: id, status: 503, reason: "Service Unavailable".into(), extra_headers: format!("Retry-After: {}\r\n", cfg.raw.shutdown.retry_after) }).ok();
                    }
                    let ids: Vec<String> = calls.keys().cloned().collect();
                    for id in ids { sip.commands.send(SipCommand::Hangup { call_id: id.clone() }).ok(); feed(&id, IvrEvent::HangUp, &cfg, &mut calls, &media, &sip, &catalog, &store, &work_tx, &metrics, &bindings); }
                    break;
                }
                let due = calls.due(now);
                for (id, t) in due {
                    feed(&id, IvrEvent::Timer(t), &cfg, &mut calls, &media, &sip, &catalog, &store, &work_tx, &metrics, &bindings);
                }
            }
        }
        live.active.store(calls.len() as u64, Ordering::Relaxed);
        metrics.active_calls.set(calls.len() as i64);
        rtp_seen.export(&media, &metrics);
        if drain_deadline.is_some() && calls.is_empty() && ringing.is_empty() {
            break;
        }
    }
    // Let the un-REGISTER and last BYEs leave.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    tracing::info!("selfprov stopped");
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn on_sip(
    ev: SipEvent,
    cfg: &Arc<Config>,
    codecs: &[SdpCodec],
    rtp_addr: SocketAddr,
    calls: &mut Calls,
    next_media_key: &mut u64,
    ivr_cfg: &IvrSettings,
    media: &MediaEngine,
    sip: &SipStack,
    catalog: &Arc<Catalog>,
    store: &Arc<SqliteStore>,
    work: &mpsc::UnboundedSender<Work>,
    metrics: &Arc<Metrics>,
    bindings: &mut Bindings,
) {
    match ev {
        SipEvent::IncomingCall {
            call_id,
            from_user,
            pai_user,
            contact,
            source,
            sdp: offer,
            ..
        } => {
            let t0 = Instant::now();
            let negotiated = sdp::parse(&offer).map_err(|e| e.to_string()).and_then(|o| {
                sdp::answer(
                    &o,
                    codecs,
                    rtp_addr,
                    cfg.raw.media.ptime_ms,
                    t0.elapsed().as_nanos() as u64 ^ 0x5e1f,
                    1,
                )
                .map_err(|e| e.to_string())
            });
            let (neg, answer) = match negotiated {
                Ok(x) => x,
                Err(why) => {
                    tracing::info!(%call_id, %why, "refusing call: 488");
                    metrics.call_refused("488");
                    sip.commands
                        .send(SipCommand::Reject {
                            call_id,
                            status: 488,
                            reason: "Not Acceptable Here".into(),
                            extra_headers: format!(
                                "Warning: 305 selfprov \"{}\"\r\n",
                                why.replace('"', "'")
                            ),
                        })
                        .ok();
                    return;
                }
            };
            let key = *next_media_key;
            *next_media_key += 1;
            let codec = media_codec(neg.codec);
            media.send(MediaCommand::Add {
                call: key,
                spec: StreamSpec {
                    codec,
                    payload_type: neg.payload_type,
                    ptime_ms: neg.ptime_ms,
                    remote: neg.remote,
                    telephone_event_pt: neg.telephone_event_pt,
                    idle: cfg.raw.media.continuous_rtp.then(|| silence_frame(codec, neg.ptime_ms)).flatten(),
                },
            });
            sip.commands
                .send(SipCommand::Answer {
                    call_id: call_id.clone(),
                    sdp: answer.into_bytes(),
                })
                .ok();
            metrics
                .call_setup_seconds
                .observe(t0.elapsed().as_secs_f64());
            // The calling device: P-Asserted-Identity, else From (device name or auto-registered DN).
            let who = pai_user.or(from_user).unwrap_or_default();
            // A phone registered here is known by name without asking the database (this runs on
            // the event loop); anything else (a DN, a phone registered elsewhere) is looked up.
            let device = if bindings.get(&who, Instant::now()).is_some() {
                who
            } else {
                store
                    .find_device(&who)
                    .ok()
                    .flatten()
                    .map(|d| d.name.to_string())
                    .unwrap_or(who)
            };
            tracing::info!(%call_id, %device, codec = ?codec, "call answered");
            let (ivr, actions) = Call::new(ivr_cfg.clone());
            calls.insert(
                call_id.clone(),
                CallCtx {
                    ivr,
                    media_key: key,
                    codec,
                    language: ivr_cfg
                        .languages
                        .first()
                        .cloned()
                        .unwrap_or_else(Language::en_us),
                    device,
                    contact,
                    source,
                    timer: None,
                    digits: DigitStream::default(),
                    assign_audited: false,
                    started: t0,
                },
            );
            apply(
                &call_id, actions, cfg, calls, media, sip, catalog, store, work, metrics, bindings,
            );
        }
        SipEvent::CallEnded { call_id, .. } => {
            feed(
                &call_id,
                IvrEvent::HangUp,
                cfg,
                calls,
                media,
                sip,
                catalog,
                store,
                work,
                metrics,
                bindings,
            );
        }
        SipEvent::Reinvite {
            call_id,
            sdp: offer,
        } => {
            let Some(c) = calls.get(&call_id) else { return };
            let key = c.media_key;
            match sdp::parse(&offer).map_err(|e| e.to_string()).and_then(|o| {
                sdp::answer(&o, codecs, rtp_addr, cfg.raw.media.ptime_ms, 1, 2)
                    .map_err(|e| e.to_string())
            }) {
                Ok((neg, answer)) => {
                    sip.commands
                        .send(SipCommand::Answer {
                            call_id: call_id.clone(),
                            sdp: answer.into_bytes(),
                        })
                        .ok();
                    if !neg.remote.ip().is_unspecified() && neg.remote.port() != 0 {
                        media.send(MediaCommand::Remote {
                            call: key,
                            remote: neg.remote,
                        });
                    }
                    let held = neg.direction.is_hold() || neg.remote.ip().is_unspecified();
                    media.send(MediaCommand::Hold { call: key, held });
                    feed(
                        &call_id,
                        if held {
                            IvrEvent::Hold
                        } else {
                            IvrEvent::Resume
                        },
                        cfg,
                        calls,
                        media,
                        sip,
                        catalog,
                        store,
                        work,
                        metrics,
                        bindings,
                    );
                }
                Err(why) => {
                    sip.commands
                        .send(SipCommand::Reject {
                            call_id,
                            status: 488,
                            reason: "Not Acceptable Here".into(),
                            extra_headers: format!("Warning: 305 selfprov \"{why}\"\r\n"),
                        })
                        .ok();
                }
            }
        }
        SipEvent::Info {
            call_id,
            content_type,
            body,
        } => {
            if let Some((d, _)) = selfprov_dtmf::info::parse_info(&content_type, &body) {
                let k = calls
                    .get_mut(&call_id)
                    .and_then(|c| c.digits.offer(d, Method::SipInfo, Instant::now()))
                    .and_then(|d| Key::from_char(d.as_char()));
                if let Some(k) = k {
                    metrics.digit("sip_info");
                    feed(
                        &call_id,
                        IvrEvent::Digit(k),
                        cfg,
                        calls,
                        media,
                        sip,
                        catalog,
                        store,
                        work,
                        metrics,
                        bindings,
                    );
                }
            }
        }
        SipEvent::Register {
            key,
            source,
            headers,
        } => {
            let info = match parse_register(&headers) {
                Ok(i) => i,
                Err(why) => {
                    sip.commands
                        .send(SipCommand::Respond {
                            key,
                            status: 400,
                            reason: format!("Bad Request - {why}"),
                            extra_headers: String::new(),
                        })
                        .ok();
                    return;
                }
            };
            if info.expires == 0 {
                bindings.remove(info.device.as_str());
                sip.commands
                    .send(SipCommand::Respond {
                        key,
                        status: 200,
                        reason: "OK".into(),
                        extra_headers: "Expires: 0\r\n".into(),
                    })
                    .ok();
                return;
            }
            let store = store.clone();
            let work = work.clone();
            let cfg = cfg.clone();
            tokio::task::spawn_blocking(move || {
                let device = info.device.to_string();
                let result = match store.get_device(&device) {
                    Ok(d) => Ok(d.dn.map(|d| d.to_string()).unwrap_or_default()),
                    Err(_) if cfg.auto_registration.enabled => store
                        .auto_register(
                            &info.device,
                            &info.model,
                            &cfg.auto_registration,
                            UnixMillis::now(),
                        )
                        .map(|d| d.dn.map(|d| d.to_string()).unwrap_or_default())
                        .map_err(|e| e.to_string()),
                    Err(_) => Err("unknown device and auto-registration is disabled".into()),
                };
                let _ = work.send(Work::Registered {
                    key,
                    device,
                    contact: info.contact,
                    source,
                    expires: info.expires.min(86_400),
                    result,
                });
            });
        }
        SipEvent::CallConfirmed { .. } | SipEvent::Registration { .. } => {}
    }
}

/// Run provisioning work on tokio's blocking pool; its result comes back to the call as an event.
fn on_blocking_pool(
    work: &mpsc::UnboundedSender<Work>,
    call_id: &str,
    assigned: bool,
    f: impl FnOnce() -> IvrEvent + Send + 'static,
) {
    let (work, call_id) = (work.clone(), call_id.to_owned());
    tokio::task::spawn_blocking(move || {
        let ev = f();
        let _ = work.send(Work::Event {
            call_id,
            ev,
            assigned,
        });
    });
}

/// PIN checks (Argon2: a few milliseconds of one core each) run at most one per core at a time.
/// The others wait for a slot without holding a blocking thread, so a burst of PIN checks never
/// delays registrations and assignments queued behind it on the blocking pool (measured: REGISTER
/// answers of over a second at 200 provisionings/s before this).
fn on_hash_slot(
    work: &mpsc::UnboundedSender<Work>,
    call_id: &str,
    f: impl FnOnce() -> IvrEvent + Send + 'static,
) {
    static SLOTS: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    let slots = SLOTS
        .get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            Arc::new(tokio::sync::Semaphore::new(cores))
        })
        .clone();
    let (work, call_id) = (work.clone(), call_id.to_owned());
    tokio::spawn(async move {
        // The semaphore is never closed.
        let Ok(permit) = slots.acquire_owned().await else { return };
        on_blocking_pool(&work, &call_id, false, move || {
            let ev = f();
            drop(permit);
            ev
        });
    });
}

/// Give one event to a call's IVR and carry out what it says.
#[allow(clippy::too_many_arguments)]
fn feed(
    call_id: &str,
    ev: IvrEvent,
    cfg: &Arc<Config>,
    calls: &mut Calls,
    media: &MediaEngine,
    sip: &SipStack,
    catalog: &Arc<Catalog>,
    store: &Arc<SqliteStore>,
    work: &mpsc::UnboundedSender<Work>,
    metrics: &Arc<Metrics>,
    bindings: &Bindings,
) {
    let Some(c) = calls.get_mut(call_id) else {
        return;
    };
    // Digits and secrets never reach the log: a PIN must not end up in a log file.
    tracing::debug!(%call_id, ev = %redacted_event(&ev), "ivr event");
    let actions = c.ivr.handle(ev, Instant::now());
    tracing::debug!(%call_id, actions = %redacted_actions(&actions), "ivr actions");
    apply(
        call_id, actions, cfg, calls, media, sip, catalog, store, work, metrics, bindings,
    );
}

#[allow(clippy::too_many_arguments)]
fn apply(
    call_id: &str,
    actions: Vec<Action>,
    cfg: &Arc<Config>,
    calls: &mut Calls,
    media: &MediaEngine,
    sip: &SipStack,
    catalog: &Arc<Catalog>,
    store: &Arc<SqliteStore>,
    work: &mpsc::UnboundedSender<Work>,
    metrics: &Arc<Metrics>,
    bindings: &Bindings,
) {
    for a in actions {
        let Some(c) = calls.get_mut(call_id) else {
            return;
        };
        match a {
            Action::Play { seq, prompts, .. } => {
                let prefs: Vec<String> = std::iter::once(c.language.to_string())
                    .chain(
                        cfg.self_provisioning
                            .languages
                            .as_slice()
                            .iter()
                            .map(|l| l.to_string()),
                    )
                    .collect();
                let mut queued = Vec::new();
                for p in &prompts {
                    let lang = p.language.as_ref().map(|l| l.to_string());
                    let pref: Vec<&str> = lang
                        .iter()
                        .map(String::as_str)
                        .chain(prefs.iter().map(String::as_str))
                        .collect();
                    match catalog
                        .lookup(p.prompt.name(), &pref)
                        .and_then(|x| x.encoded(c.codec).cloned())
                    {
                        Some(e) => queued.push(e),
                        None => tracing::warn!(prompt = p.prompt.name(), "prompt missing; skipped"),
                    }
                }
                let n = queued.len();
                if n == 0 {
                    let id = call_id.to_owned();
                    let _ = work.send(Work::Event {
                        call_id: id,
                        ev: IvrEvent::PromptFinished(seq),
                        assigned: false,
                    });
                }
                for (i, e) in queued.into_iter().enumerate() {
                    // Only the last prompt reports back: the sequence is one playback.
                    let tag = if i + 1 == n { seq } else { 0 };
                    media.send(MediaCommand::Play {
                        call: c.media_key,
                        audio: e,
                        tag,
                    });
                }
            }
            Action::StopPlayback => {
                media.send(MediaCommand::Stop { call: c.media_key });
            }
            Action::SetLanguage(l) => c.language = l,
            Action::ArmTimer { id, at } => {
                c.timer = Some((id, at));
                calls.arm(call_id, at);
            }
            Action::CancelTimer => c.timer = None,
            Action::Authenticate {
                self_service_id,
                secret,
            } => {
                let (store, cfg) = (store.clone(), cfg.clone());
                on_hash_slot(work, call_id, move || {
                    IvrEvent::AuthResult(match self_service_id.parse() {
                        Ok(ssid) => store
                            .authenticate(
                                &ssid,
                                secret.as_deref(),
                                &cfg.self_provisioning,
                                &cfg.credential_policy,
                                UnixMillis::now(),
                            )
                            .map(|u| AuthOk {
                                user_id: u.user_id.to_string(),
                            })
                            .map_err(|e| e.code()),
                        Err(_) => Err(OutcomeCode::InvalidCredentials),
                    })
                });
            }
            Action::PreviewAssignment { user_id } => {
                let (store, device) = (store.clone(), c.device.clone());
                on_blocking_pool(work, call_id, false, move || {
                    IvrEvent::PreviewResult(match user_id.parse::<UserId>() {
                        Ok(u) => store
                            .check_assignment(&device, &u)
                            .map(|p| p.extension.to_string())
                            .map_err(|e| e.code()),
                        Err(_) => Err(OutcomeCode::InternalError),
                    })
                });
            }
            Action::Assign { user_id } => {
                let (store, device, id) = (store.clone(), c.device.clone(), call_id.to_owned());
                // The assignment writes its own audit entry (in its transaction).
                on_blocking_pool(work, call_id, true, move || {
                    IvrEvent::AssignResult(match user_id.parse::<UserId>() {
                        Ok(u) => store
                            .assign(&device, &u, &id, UnixMillis::now())
                            .map(|_| ())
                            .map_err(|e| e.code()),
                        Err(_) => Err(OutcomeCode::InternalError),
                    })
                });
            }
            Action::HangUp => {
                sip.commands
                    .send(SipCommand::Hangup {
                        call_id: call_id.to_owned(),
                    })
                    .ok();
            }
            Action::SendCheckSync => {
                let now = Instant::now();
                let target = bindings
                    .get(&c.device, now)
                    .map(|b| (b.source, b.contact.clone()))
                    .or_else(|| c.contact.clone().map(|ct| (c.source, ct)));
                if let Some((source, contact_uri)) = target {
                    // To the contact's address when it is an IP literal, else where the phone's
                    // requests come from (NAT).
                    let addr = contact_uri
                        .split_once('@')
                        .map(|(_, h)| h.split(';').next().unwrap_or(h))
                        .and_then(|hp| hp.parse::<SocketAddr>().ok())
                        .unwrap_or(source.addr);
                    let to = Peer {
                        addr,
                        reliable: source.reliable && addr == source.addr,
                    };
                    sip.commands
                        .send(SipCommand::NotifyCheckSync { to, contact_uri })
                        .ok();
                }
            }
            Action::Finished(code) => {
                let c = calls.remove(call_id);
                let Some(c) = c else { return };
                media.send(MediaCommand::Remove { call: c.media_key });
                metrics.call_finished(code.as_str());
                tracing::info!(%call_id, device = %c.device, outcome = %code, seconds = c.started.elapsed().as_secs(), "call finished");
                if !c.assign_audited {
                    audit_call(store, call_id, Some(c.device.clone()), code, "IVR call");
                }
                return;
            }
        }
    }
}

/// Encoded prompts are kept next to the database, so a restart does not encode them again.
fn prompt_cache_dir(cfg: &Config) -> std::path::PathBuf {
    cfg.database_path
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("prompt-cache")
}

/// One packet of encoded silence for `codec` (what the pacer sends between prompts), made once
/// per codec and packet time and shared by every call.
fn silence_frame(codec: Codec, ptime_ms: u32) -> Option<Arc<[u8]>> {
    use std::sync::{Mutex, OnceLock};
    type Frames = HashMap<(Codec, u32), Arc<[u8]>>;
    static FRAMES: OnceLock<Mutex<Frames>> = OnceLock::new();
    let frames = FRAMES.get_or_init(Default::default);
    let mut f = frames.lock().ok()?;
    if let Some(x) = f.get(&(codec, ptime_ms)) {
        return Some(x.clone());
    }
    let mut out = Vec::new();
    selfprov_media::Encoder::new(codec)
        .ok()?
        .encode(&vec![0i16; codec.samples_per_frame(ptime_ms)], &mut out)
        .ok()?;
    let frame: Arc<[u8]> = out.into();
    f.insert((codec, ptime_ms), frame.clone());
    Some(frame)
}

/// The caller gave up (CANCEL) before the answer: audited like any other call.
fn cancelled_while_ringing(call_id: &str, store: &Arc<SqliteStore>, metrics: &Arc<Metrics>) {
    let code = OutcomeCode::Abandoned;
    metrics.call_finished(code.as_str());
    tracing::info!(%call_id, outcome = %code, "call cancelled while ringing");
    audit_call(store, call_id, None, code, "cancelled while ringing");
}

/// The audit entry of a call that ended without an assignment (written off the event loop).
fn audit_call(store: &Arc<SqliteStore>, call_id: &str, device: Option<String>, code: OutcomeCode, detail: &str) {
    let entry = AuditEntry {
        id: 0,
        time_ms: UnixMillis::now().0,
        call_id: call_id.to_owned(),
        device,
        user: None,
        code,
        detail: detail.into(),
    };
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = store.record_audit(&entry) {
            tracing::error!(error = %e, "audit entry not written");
        }
    });
}

/// An IVR event for the debug log, with the digit's value hidden.
fn redacted_event(ev: &IvrEvent) -> String {
    match ev {
        IvrEvent::Digit(_) => "Digit(*)".to_owned(),
        e => format!("{e:?}"),
    }
}

/// IVR actions for the debug log, with the self-service ID and secret hidden.
fn redacted_actions(actions: &[Action]) -> String {
    let shown: Vec<String> = actions
        .iter()
        .map(|a| match a {
            Action::Authenticate { secret, .. } => format!(
                "Authenticate {{ self_service_id: *, secret: {} }}",
                if secret.is_some() { "*" } else { "none" }
            ),
            a => format!("{a:?}"),
        })
        .collect();
    format!("[{}]", shown.join(", "))
}

#[cfg(test)]
mod redaction_tests {
    use super::*;

    #[test]
    fn debug_log_lines_hide_digits_and_secrets() {
        let ev = redacted_event(&IvrEvent::Digit(Key::from_char('7').unwrap()));
        assert!(!ev.contains('7'), "{ev}");
        let a = redacted_actions(&[Action::Authenticate {
            self_service_id: "1004".into(),
            secret: Some("12345".into()),
        }]);
        assert!(!a.contains("1004") && !a.contains("12345"), "{a}");
        assert!(a.contains("Authenticate"), "{a}");
    }
}
