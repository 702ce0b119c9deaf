//! The operator's requests by signal (SIGHUP reload, SIGTERM/SIGINT drain, a second one exits),
//! the drain deadline, and the IVR timers falling due.

use crate::signals::OperatorRequest;
use crate::state::Service;
use selfprov_ivr::Event as IvrEvent;
use selfprov_sip::stack::Command as SipCommand;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Whether the event loop goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Stop,
}

impl Service {
    pub(crate) fn on_operator(&mut self, req: OperatorRequest) -> Flow {
        match req {
            OperatorRequest::Reload => self.reload_file(),
            OperatorRequest::Drain => {
                tracing::info!(active = self.calls.len(), "draining: refusing new calls");
                self.live.draining.store(true, Ordering::Relaxed);
                self.sip
                    .commands
                    .send(SipCommand::SetRefusing(Some(
                        self.cfg.raw.shutdown.retry_after,
                    )))
                    .ok();
                self.sip.commands.send(SipCommand::UnregisterAll).ok();
                self.drain_deadline =
                    Some(tokio::time::Instant::now() + self.cfg.raw.shutdown.drain_deadline);
                if self.calls.is_empty() && self.unanswered() == 0 {
                    return Flow::Stop;
                }
            }
            OperatorRequest::ExitNow => {
                tracing::warn!("second signal: exiting now");
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// When the loop should wake without an event: the next IVR timer or the drain deadline.
    pub(crate) fn next_wake(&mut self) -> Option<tokio::time::Instant> {
        let timer = self.calls.next_timer().map(tokio::time::Instant::from_std);
        match (timer, self.drain_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Woken: past the drain deadline, hang up what is left and stop; else fire the due timers.
    pub(crate) fn on_wake(&mut self) -> Flow {
        if self
            .drain_deadline
            .is_some_and(|d| d <= tokio::time::Instant::now())
        {
            let unanswered: Vec<String> = self
                .ringing
                .drain()
                .map(|(id, _)| id)
                .chain(self.identifying.drain().map(|(id, _)| id))
                .collect();
            for id in unanswered {
                self.sip
                    .commands
                    .send(SipCommand::Reject {
                        call_id: id,
                        status: 503,
                        reason: "Service Unavailable".into(),
                        extra_headers: format!(
                            "Retry-After: {}\r\n",
                            self.cfg.raw.shutdown.retry_after
                        ),
                    })
                    .ok();
            }
            let ids: Vec<String> = self.calls.keys().cloned().collect();
            for id in ids {
                self.sip
                    .commands
                    .send(SipCommand::Hangup {
                        call_id: id.clone(),
                    })
                    .ok();
                self.feed(&id, IvrEvent::HangUp);
            }
            return Flow::Stop;
        }
        for (id, t) in self.calls.due(Instant::now()) {
            self.feed(&id, IvrEvent::Timer(t));
        }
        Flow::Continue
    }

    /// Draining and nothing left: time to go.
    pub(crate) fn drained(&self) -> bool {
        self.drain_deadline.is_some() && self.calls.is_empty() && self.unanswered() == 0
    }
}
