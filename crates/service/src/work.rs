//! Work that must not run on the event loop (database transactions, Argon2 PIN checks, loading a
//! configuration and prompts) runs on tokio's blocking pool; its result comes back to the loop as
//! a [`Work`] message.

use crate::phone_auth::Refusal;
use crate::phone_target::OutboundProxy;
use crate::registrar::Proof;
use selfprov_config::Config;
use selfprov_ivr::Event as IvrEvent;
use selfprov_prompts::Catalog;
use selfprov_sip::endpoint::Peer;
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, Semaphore};

/// A configuration ready to take over: the file as loaded, the settings in force (the file with
/// the database's overrides) and the prompts for its languages and codecs.
pub(crate) struct Loaded {
    pub base: Config,
    pub effective: Config,
    pub catalog: Catalog,
    /// The phone-configuration templates, when the configuration server runs.
    pub templates: Option<selfprov_phoneconfig::Templates>,
    /// `sip.outbound_proxy`, resolved.
    pub outbound_proxy: Option<OutboundProxy>,
    /// The HTTPS listener's certificate, read again.
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// The admin listener's certificate, read again.
    pub admin_tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// The SIP-over-TLS listener's certificate, read again.
    pub sip_tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

/// Results of work done off the loop.
pub(crate) enum Work {
    /// The ring time of a new call is over: answer it (unless it was cancelled meanwhile).
    AnswerNow(String),
    /// SIGHUP or changed settings: the new configuration and prompts (or why not).
    Reloaded(Box<Result<Loaded, String>>),
    /// The stored settings' revision as last read.
    SettingsRevision(i64),
    /// An IVR event for a call (a PIN check's, preview's or claim's result).
    Event {
        call_id: String,
        ev: IvrEvent,
        assigned: bool,
    },
    /// A phone's REGISTER, verified, looked up or auto-registered.
    Registered(Registration),
    /// The API asks what is live: the calls in progress and the registered phones.
    Snapshot(tokio::sync::oneshot::Sender<selfprov_api::LiveView>),
    /// Devices changed outside a call (API: release, move, replace): tell them (check-sync).
    CheckSync(Vec<String>),
    /// The device a new call comes from, verified or looked up off the loop (or why the call is
    /// refused).
    CallerIdentified {
        call_id: String,
        result: Result<crate::caller_identity::Caller, Refusal>,
    },
}

/// A phone's REGISTER once its device is known: its DN, or why it is refused.
pub(crate) struct Registration {
    /// The server transaction to answer.
    pub key: String,
    pub device: String,
    pub contact: Option<String>,
    pub source: Peer,
    pub expires: u32,
    pub user_agent: Option<String>,
    pub result: Result<Registered, Refusal>,
}

/// A REGISTER accepted: the device's DN and how it proved who it is.
pub(crate) struct Registered {
    pub dn: String,
    pub proof: Proof,
}

/// Run provisioning work on tokio's blocking pool; its result comes back to the call as an event.
pub(crate) fn on_blocking_pool(
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
pub(crate) fn on_hash_slot(
    work: &mpsc::UnboundedSender<Work>,
    call_id: &str,
    f: impl FnOnce() -> IvrEvent + Send + 'static,
) {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    let slots = SLOTS
        .get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            Arc::new(Semaphore::new(cores))
        })
        .clone();
    let (work, call_id) = (work.clone(), call_id.to_owned());
    tokio::spawn(async move {
        // The semaphore is never closed.
        let Ok(permit) = slots.acquire_owned().await else {
            return;
        };
        on_blocking_pool(&work, &call_id, false, move || {
            let ev = f();
            drop(permit);
            ev
        });
    });
}
