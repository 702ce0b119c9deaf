//! The event loop: one task owns the calls and moves every input — SIP events, media events,
//! results of work done off the loop, operator signals, timers — to the handler for it, then
//! publishes the counters. The handlers are `impl Service` blocks in the other modules.

use crate::admin::Query;
use crate::operator::Flow;
use crate::reload::SETTINGS_POLL;
use crate::signals::OperatorRequest;
use crate::state::Service;
use crate::work::Work;
use selfprov_media::engine::MediaEvent;
use selfprov_sip::endpoint::Event as SipEvent;
use tokio::sync::mpsc;

/// The loop's inputs.
pub(crate) struct Inputs {
    pub sip: mpsc::UnboundedReceiver<SipEvent>,
    pub media: mpsc::UnboundedReceiver<MediaEvent>,
    pub work: mpsc::UnboundedReceiver<Work>,
    pub operator: mpsc::Receiver<OperatorRequest>,
    /// Questions from the admin listener.
    pub queries: mpsc::UnboundedReceiver<Query>,
}

impl Service {
    /// Run until the drain is done or a second signal.
    pub(crate) async fn run(mut self, mut inp: Inputs) {
        let mut settings_poll = tokio::time::interval(SETTINGS_POLL);
        settings_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let wake = self.next_wake();
            let flow = tokio::select! {
                Some(ev) = inp.sip.recv() => { self.on_sip_event(ev); Flow::Continue }
                Some(ev) = inp.media.recv() => { self.on_media_event(ev); Flow::Continue }
                Some(w) = inp.work.recv() => { self.on_work(w); Flow::Continue }
                Some(req) = inp.operator.recv() => self.on_operator(req),
                Some(q) = inp.queries.recv() => { self.on_query(q); Flow::Continue }
                _ = settings_poll.tick() => {
                    self.poll_settings();
                    self.bindings.purge(std::time::Instant::now());
                    Flow::Continue
                }
                _ = async { match wake { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending::<()>().await } } => self.on_wake(),
            };
            if flow == Flow::Stop {
                break;
            }
            self.publish_counters();
            if self.drained() {
                break;
            }
        }
        // Let the un-REGISTER and last BYEs leave.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        tracing::info!("selfprov stopped");
    }

    fn on_query(&mut self, q: Query) {
        match q {
            Query::Registrations(answer) => {
                let _ = answer.send(self.bindings.view(std::time::Instant::now()));
            }
        }
    }

    fn on_work(&mut self, w: Work) {
        match w {
            Work::Reloaded(r) => self.reloaded(*r),
            Work::SettingsRevision(r) => self.settings_revision_seen(r),
            Work::AnswerNow(call_id) => self.answer_now(&call_id),
            Work::Event {
                call_id,
                ev,
                assigned,
            } => {
                if assigned {
                    if let Some(c) = self.calls.get_mut(&call_id) {
                        c.assign_audited = true;
                    }
                }
                self.feed(&call_id, ev);
            }
            Work::Registered(r) => self.registered(r),
            Work::Snapshot(answer) => {
                let _ = answer.send(self.live_view());
            }
            Work::CallerIdentified { call_id, result } => self.caller_identified(&call_id, result),
            Work::CheckSync(devices) => self.check_sync_devices(devices),
        }
    }
}
