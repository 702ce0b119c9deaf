//! IVR actions out: an event goes into a call's IVR state machine and each action it returns is
//! carried out here — prompts to the media engine, timers to the call table, credential checks,
//! previews and claims to the claim engine (off the loop), hang-up and check-sync to SIP, and the
//! call's end to the metrics and the audit.

use crate::phone_target::{check_sync_target, Caller};
use crate::redact::{redacted_actions, redacted_event};
use crate::state::Service;
use crate::work::{on_blocking_pool, on_hash_slot, Work};
use selfprov_ivr::{Action, AuthOk, Event as IvrEvent, PromptRef};
use selfprov_media::engine::MediaCommand;
use selfprov_operations::ClaimContext;
use selfprov_provisioning::model::UserId;
use selfprov_provisioning::store::UnixMillis;
use selfprov_provisioning::OutcomeCode;
use selfprov_sip::stack::Command as SipCommand;
use std::time::Instant;

impl Service {
    /// Give one event to a call's IVR and carry out what it says.
    pub(crate) fn feed(&mut self, call_id: &str, ev: IvrEvent) {
        let Some(c) = self.calls.get_mut(call_id) else {
            return;
        };
        // Digits and secrets never reach the log: a PIN must not end up in a log file.
        tracing::debug!(%call_id, ev = %redacted_event(&ev), "ivr event");
        let actions = c.ivr.handle(ev, Instant::now());
        tracing::debug!(%call_id, actions = %redacted_actions(&actions), "ivr actions");
        self.apply(call_id, actions);
    }

    pub(crate) fn apply(&mut self, call_id: &str, actions: Vec<Action>) {
        for a in actions {
            let Some(c) = self.calls.get_mut(call_id) else {
                return;
            };
            match a {
                Action::Play { seq, prompts, .. } => self.play(call_id, seq, &prompts),
                Action::StopPlayback => {
                    self.media.send(MediaCommand::Stop { call: c.media_key });
                }
                Action::SetLanguage(l) => c.language = l,
                Action::ArmTimer { id, at } => {
                    c.timer = Some((id, at));
                    self.calls.arm(call_id, at);
                }
                Action::CancelTimer => c.timer = None,
                Action::Authenticate {
                    self_service_id,
                    secret,
                } => {
                    let (claims, cfg) = (self.claims.clone(), self.cfg.clone());
                    let device = c.device.clone();
                    on_hash_slot(&self.work, call_id, move || {
                        IvrEvent::AuthResult(
                            claims
                                .authenticate(
                                    &self_service_id,
                                    secret.as_deref(),
                                    Some(&device),
                                    &cfg.self_provisioning,
                                    &cfg.credential_policy,
                                    UnixMillis::now(),
                                )
                                .map(|u| AuthOk {
                                    user_id: u.user_id.to_string(),
                                })
                                .map_err(|e| e.code()),
                        )
                    });
                }
                Action::PreviewAssignment { user_id } => {
                    let (claims, device) = (self.claims.clone(), c.device.clone());
                    on_blocking_pool(&self.work, call_id, false, move || {
                        IvrEvent::PreviewResult(match user_id.parse::<UserId>() {
                            Ok(u) => claims
                                .preview(&device, &u)
                                .map(|p| p.extension.to_string())
                                .map_err(|e| e.code()),
                            Err(_) => Err(OutcomeCode::InternalError),
                        })
                    });
                }
                Action::Assign { user_id } => {
                    let (claims, device, how) = (
                        self.claims.clone(),
                        c.device.clone(),
                        ClaimContext::ivr(call_id),
                    );
                    // The claim writes its own audit entry (in its transaction).
                    on_blocking_pool(&self.work, call_id, true, move || {
                        IvrEvent::AssignResult(match user_id.parse::<UserId>() {
                            Ok(u) => claims
                                .claim(&device, &u, &how, UnixMillis::now())
                                .map(|_| ())
                                .map_err(|e| e.code()),
                            Err(_) => Err(OutcomeCode::InternalError),
                        })
                    });
                }
                Action::ClaimWithCode { code } => {
                    let (claims, device, how, policy) = (
                        self.claims.clone(),
                        c.device.clone(),
                        ClaimContext::ivr(call_id),
                        self.cfg.credential_policy,
                    );
                    // Checks the code and claims in one transaction, audited whatever the outcome.
                    on_blocking_pool(&self.work, call_id, true, move || {
                        IvrEvent::AssignResult(
                            claims
                                .claim_with_code(&device, &code, &how, &policy, UnixMillis::now())
                                .map(|_| ())
                                .map_err(|e| e.code()),
                        )
                    });
                }
                Action::HangUp => {
                    self.sip
                        .commands
                        .send(SipCommand::Hangup {
                            call_id: call_id.to_owned(),
                        })
                        .ok();
                }
                Action::SendCheckSync => self.send_check_sync(call_id),
                Action::Finished(code) => {
                    self.finish(call_id, code);
                    return;
                }
            }
        }
    }

    /// Queue a sequence of prompts in the call's language (falling back through the configured
    /// languages); only the last one reports back when it has played.
    fn play(&mut self, call_id: &str, seq: u64, prompts: &[PromptRef]) {
        let Some(c) = self.calls.get(call_id) else {
            return;
        };
        let prefs: Vec<String> = std::iter::once(c.language.to_string())
            .chain(
                self.cfg
                    .self_provisioning
                    .languages
                    .as_slice()
                    .iter()
                    .map(|l| l.to_string()),
            )
            .collect();
        let mut queued = Vec::new();
        for p in prompts {
            let lang = p.language.as_ref().map(|l| l.to_string());
            let pref: Vec<&str> = lang
                .iter()
                .map(String::as_str)
                .chain(prefs.iter().map(String::as_str))
                .collect();
            match self
                .catalog
                .lookup(p.prompt.name(), &pref)
                .and_then(|x| x.encoded(c.codec).cloned())
            {
                Some(e) => queued.push(e),
                None => tracing::warn!(prompt = p.prompt.name(), "prompt missing; skipped"),
            }
        }
        let n = queued.len();
        if n == 0 {
            let _ = self.work.send(Work::Event {
                call_id: call_id.to_owned(),
                ev: IvrEvent::PromptFinished(seq),
                assigned: false,
            });
        }
        for (i, e) in queued.into_iter().enumerate() {
            // Only the last prompt reports back: the sequence is one playback.
            let tag = if i + 1 == n { seq } else { 0 };
            self.media.send(MediaCommand::Play {
                call: c.media_key,
                audio: e,
                tag,
            });
        }
    }

    /// Tell the phone to fetch its configuration again (NOTIFY check-sync): at the contact it
    /// registered here, through the outbound proxy to its address-of-record, or at the contact
    /// of its INVITE (`phone_target`).
    fn send_check_sync(&mut self, call_id: &str) {
        let Some(c) = self.calls.get(call_id) else {
            return;
        };
        let caller = Caller {
            aor: c.from_uri.as_deref(),
            contact: c.contact.as_deref(),
            source: c.source,
        };
        let binding = self.bindings.get(&c.device, Instant::now());
        match check_sync_target(caller, binding, self.outbound_proxy.as_ref()) {
            Some(target) => {
                tracing::info!(%call_id, uri = %target.uri, via = %target.next_hop.addr, "NOTIFY check-sync");
                self.notify_check_sync(target);
            }
            None => tracing::warn!(%call_id, "no address for NOTIFY check-sync"),
        }
    }

    /// The call's flow ended: free its media, count and log the outcome, and audit it unless the
    /// claim already did.
    fn finish(&mut self, call_id: &str, code: OutcomeCode) {
        let Some(c) = self.calls.remove(call_id) else {
            return;
        };
        self.media.send(MediaCommand::Remove { call: c.media_key });
        self.metrics.call_finished(code.as_str());
        tracing::info!(%call_id, device = %c.device, outcome = %code, seconds = c.started.elapsed().as_secs(), "call finished");
        if !c.assign_audited {
            self.audit_outcome(call_id, Some(c.device), code, "IVR call");
        }
    }

    /// The audit entry of a call that ended without a claim (written off the event loop).
    pub(crate) fn audit_outcome(
        &self,
        call_id: &str,
        device: Option<String>,
        code: OutcomeCode,
        detail: &str,
    ) {
        let (claims, how, detail) = (
            self.claims.clone(),
            ClaimContext::ivr(call_id),
            detail.to_owned(),
        );
        tokio::task::spawn_blocking(move || {
            if let Err(e) =
                claims.record_outcome(&how, device.as_deref(), code, &detail, UnixMillis::now())
            {
                tracing::error!(error = %e, "audit entry not written");
            }
        });
    }
}
