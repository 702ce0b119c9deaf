//! Media events in: a prompt finished playing, or a digit arrived (RFC 4733 or in-band), for the
//! call the media key belongs to; digits are de-duplicated across methods before the IVR sees
//! them.

use crate::state::Service;
use selfprov_ivr::{Event as IvrEvent, Key};
use selfprov_media::engine::MediaEvent;
use std::time::Instant;

impl Service {
    /// A media event (a prompt finished, a digit arrived) for the call it belongs to.
    pub(crate) fn on_media_event(&mut self, ev: MediaEvent) {
        let (call_id, iev) = match ev {
            MediaEvent::PlaybackFinished { call, tag } => (
                self.calls.by_media(call),
                Some(IvrEvent::PromptFinished(tag)),
            ),
            MediaEvent::Digit {
                call,
                digit,
                method,
            } => {
                let id = self.calls.by_media(call);
                let ev = id
                    .as_ref()
                    .and_then(|id| self.calls.get_mut(id))
                    .and_then(|c| c.digits.offer(digit, method, Instant::now()))
                    .and_then(|d| Key::from_char(d.as_char()));
                if ev.is_some() {
                    self.metrics.digit(method.as_str());
                    tracing::debug!(method = method.as_str(), "digit received");
                }
                (id, ev.map(IvrEvent::Digit))
            }
        };
        if let (Some(id), Some(e)) = (call_id, iev) {
            self.feed(&id, e);
        }
    }
}
