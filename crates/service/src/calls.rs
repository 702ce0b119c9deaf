//! The calls in progress: each call's IVR state machine with what the event loop knows about it,
//! indexed by Call-ID and by media key, and the IVR timers in one heap (no scan of every call).

use selfprov_dtmf::DigitStream;
use selfprov_ivr::{Call, TimerId};
use selfprov_media::Codec;
use selfprov_provisioning::Language;
use selfprov_sip::endpoint::Peer;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

/// One call in progress.
pub(crate) struct CallCtx {
    pub ivr: Call,
    pub media_key: u64,
    pub codec: Codec,
    pub language: Language,
    pub device: String,
    /// The INVITE's From URI (the caller's address-of-record) and Contact.
    pub from_uri: Option<String>,
    pub contact: Option<String>,
    pub source: Peer,
    pub timer: Option<(TimerId, Instant)>,
    pub digits: DigitStream,
    /// The claim wrote its own audit entry.
    pub assign_audited: bool,
    pub started: Instant,
}

/// Calls in progress, with the lookups the event loop needs without scanning every call: by
/// media key, and the next timer due.
#[derive(Default)]
pub(crate) struct Calls {
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
    pub fn insert(&mut self, id: String, c: CallCtx) {
        self.by_media.insert(c.media_key, id.clone());
        self.map.insert(id, c);
    }
    pub fn remove(&mut self, id: &str) -> Option<CallCtx> {
        let c = self.map.remove(id)?;
        self.by_media.remove(&c.media_key);
        Some(c)
    }
    pub fn get_mut(&mut self, id: &str) -> Option<&mut CallCtx> {
        self.map.get_mut(id)
    }
    pub fn by_media(&self, key: u64) -> Option<String> {
        self.by_media.get(&key).cloned()
    }
    pub fn arm(&mut self, id: &str, at: Instant) {
        self.timers.push(Reverse((at, id.to_owned())));
    }
    /// The earliest armed timer.
    pub fn next_timer(&mut self) -> Option<Instant> {
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
    pub fn due(&mut self, now: Instant) -> Vec<(String, TimerId)> {
        let mut out = Vec::new();
        while self
            .timers
            .peek()
            .is_some_and(|Reverse((at, _))| *at <= now)
        {
            let Some(Reverse((at, id))) = self.timers.pop() else {
                break;
            };
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
