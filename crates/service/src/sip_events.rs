//! SIP events in: a new call is identified (`caller_identity`), then answered with the negotiated
//! codec and gets its IVR; a hang-up, a re-INVITE (hold/resume) or an INFO digit goes to the
//! call's IVR; REGISTERs go to the built-in registrar; the route point's own registration state
//! goes to `/status`.

use crate::caller_identity::Caller;
use crate::caller_identity::NewCall;
use crate::calls::CallCtx;
use crate::codecs::{media_codec, silence_frame};
use crate::state::Service;
use crate::work::Work;
use selfprov_config::LatchingMode;
use selfprov_dtmf::{DigitStream, Method};
use selfprov_ivr::{Call, Event as IvrEvent, Key};
use selfprov_media::engine::{MediaCommand, StreamSpec};
use selfprov_media::latch::{nat_ip, Latching};
use selfprov_provisioning::Language;
use selfprov_sip::endpoint::Event as SipEvent;
use selfprov_sip::registration::RegState;
use selfprov_sip::sdp;
use selfprov_sip::stack::Command as SipCommand;
use std::time::Instant;

impl Service {
    /// One event from the SIP stack.
    pub(crate) fn on_sip_event(&mut self, ev: SipEvent) {
        match ev {
            SipEvent::Registration { dn, state } => {
                tracing::info!(%dn, state = %state.describe(), "route-point registration");
                self.metrics
                    .set_registered(&dn, matches!(state, RegState::Registered { .. }));
                self.live.set_registration(&dn, state.describe());
            }
            SipEvent::IncomingCall {
                call_id,
                to_user,
                from_uri,
                pai_user,
                authorization,
                contact,
                source,
                sdp: offer,
                ..
            } => self.identify_caller(NewCall {
                call_id,
                received: Instant::now(),
                pai_user,
                authorization,
                from_uri,
                contact,
                source,
                offer,
                activation: self
                    .cfg
                    .self_provisioning
                    .route_point
                    .is_activation(&to_user),
            }),
            SipEvent::CallEnded { ref call_id, .. }
                if self.ringing.contains_key(call_id) || self.identifying.contains_key(call_id) =>
            {
                self.ringing.remove(call_id);
                self.identifying.remove(call_id);
                self.cancelled_while_ringing(call_id);
            }
            ev => self.on_sip(ev),
        }
    }

    /// The device calling is known: ring first (`sip.answer_delay`; the answer comes back as
    /// `Work::AnswerNow`), or answer at once.
    pub(crate) fn caller_known(&mut self, call: NewCall, caller: Caller) {
        self.metrics.phone_auth("INVITE", 200);
        let delay = self.cfg.raw.sip.answer_delay;
        if delay.is_zero() {
            return self.incoming_call(call, caller);
        }
        self.sip
            .commands
            .send(SipCommand::Ring {
                call_id: call.call_id.clone(),
            })
            .ok();
        let (id, work) = (call.call_id.clone(), self.work.clone());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = work.send(Work::AnswerNow(id));
        });
        self.ringing.insert(call.call_id.clone(), (call, caller));
    }

    /// A call's ring time is over.
    pub(crate) fn answer_now(&mut self, call_id: &str) {
        if let Some((call, caller)) = self.ringing.remove(call_id) {
            self.incoming_call(call, caller);
        }
    }

    fn on_sip(&mut self, ev: SipEvent) {
        match ev {
            SipEvent::CallEnded { call_id, .. } => self.feed(&call_id, IvrEvent::HangUp),
            SipEvent::Reinvite {
                call_id,
                sdp: offer,
            } => self.reinvite(&call_id, &offer),
            SipEvent::Info {
                call_id,
                content_type,
                body,
            } => {
                if let Some((d, _)) = selfprov_dtmf::info::parse_info(&content_type, &body) {
                    let k = self
                        .calls
                        .get_mut(&call_id)
                        .and_then(|c| c.digits.offer(d, Method::SipInfo, Instant::now()))
                        .and_then(|d| Key::from_char(d.as_char()));
                    if let Some(k) = k {
                        self.metrics.digit("sip_info");
                        self.feed(&call_id, IvrEvent::Digit(k));
                    }
                }
            }
            SipEvent::Register {
                key,
                source,
                headers,
            } => self.on_register(key, source, &headers),
            SipEvent::CallConfirmed { call_id } => {
                if let Some(c) = self.calls.get(&call_id) {
                    self.media.send(MediaCommand::Confirm { call: c.media_key });
                }
            }
            SipEvent::Registration { .. } | SipEvent::IncomingCall { .. } => {}
        }
    }

    /// Answer a new call from `device` with the first configured codec the caller offers (488
    /// when none), start its media and its IVR.
    fn incoming_call(&mut self, n: NewCall, caller: Caller) {
        let Caller { device, eligible } = caller;
        let t0 = n.received;
        let negotiated = sdp::parse(&n.offer)
            .map_err(|e| e.to_string())
            .and_then(|o| {
                sdp::answer(
                    &o,
                    &self.codecs,
                    self.rtp_addr,
                    self.cfg.raw.media.ptime_ms,
                    t0.elapsed().as_nanos() as u64 ^ 0x5e1f,
                    1,
                )
                .map_err(|e| e.to_string())
            });
        let (neg, answer) = match negotiated {
            Ok(x) => x,
            Err(why) => {
                tracing::info!(call_id = %n.call_id, %why, "refusing call: 488");
                self.metrics.call_refused("488");
                self.sip
                    .commands
                    .send(SipCommand::Reject {
                        call_id: n.call_id,
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
        let key = self.next_media_key;
        self.next_media_key += 1;
        let codec = media_codec(neg.codec);
        self.media.send(MediaCommand::Add {
            call: key,
            spec: StreamSpec {
                codec,
                payload_type: neg.payload_type,
                ptime_ms: neg.ptime_ms,
                remote: neg.remote,
                telephone_event_pt: neg.telephone_event.map(|t| t.payload_type),
                idle: self
                    .cfg
                    .raw
                    .media
                    .continuous_rtp
                    .then(|| silence_frame(codec, neg.ptime_ms))
                    .flatten(),
                latching: self.latching(neg.remote, n.source.addr),
                // Nothing is sent before the ACK: a spoofed INVITE's 200 goes to its real
                // sender, who never acknowledges it, so it cannot aim a stream at anyone.
                await_confirm: true,
            },
        });
        self.sip
            .commands
            .send(SipCommand::Answer {
                call_id: n.call_id.clone(),
                sdp: answer.into_bytes(),
            })
            .ok();
        self.metrics
            .call_setup_seconds
            .observe(t0.elapsed().as_secs_f64());
        tracing::info!(call_id = %n.call_id, %device, codec = ?codec, "call answered");
        let (ivr, actions) = match eligible {
            Ok(()) if n.activation => Call::activation(self.ivr.clone()),
            Ok(()) => Call::new(self.ivr.clone()),
            Err(code) => {
                tracing::info!(call_id = %n.call_id, %device, outcome = %code, "this device cannot be claimed: told so before any credential");
                Call::refused(self.ivr.clone(), code)
            }
        };
        self.calls.insert(
            n.call_id.clone(),
            CallCtx {
                ivr,
                media_key: key,
                codec,
                language: self
                    .ivr
                    .languages
                    .first()
                    .cloned()
                    .unwrap_or_else(Language::en_us),
                device,
                from_uri: n.from_uri,
                contact: n.contact,
                source: n.source,
                timer: None,
                digits: DigitStream::default(),
                assign_audited: false,
                started: t0,
            },
        );
        self.apply(&n.call_id, actions);
    }

    /// How the media engine recognises this caller's packets (`media.latching`).
    fn latching(&self, sdp: std::net::SocketAddr, signalling: std::net::SocketAddr) -> Latching {
        match self.cfg.raw.media.latching {
            LatchingMode::Strict => Latching::Strict,
            LatchingMode::Nat => Latching::Nat {
                ip: nat_ip(sdp.ip(), signalling.ip()),
            },
        }
    }

    /// Hold or resume: answer the new offer and tell the media engine and the IVR.
    fn reinvite(&mut self, call_id: &str, offer: &[u8]) {
        let Some(c) = self.calls.get(call_id) else {
            return;
        };
        let key = c.media_key;
        let answered = sdp::parse(offer).map_err(|e| e.to_string()).and_then(|o| {
            sdp::answer(
                &o,
                &self.codecs,
                self.rtp_addr,
                self.cfg.raw.media.ptime_ms,
                1,
                2,
            )
            .map_err(|e| e.to_string())
        });
        match answered {
            Ok((neg, answer)) => {
                self.sip
                    .commands
                    .send(SipCommand::Answer {
                        call_id: call_id.to_owned(),
                        sdp: answer.into_bytes(),
                    })
                    .ok();
                if !neg.remote.ip().is_unspecified() && neg.remote.port() != 0 {
                    self.media.send(MediaCommand::Remote {
                        call: key,
                        remote: neg.remote,
                    });
                }
                let held = neg.direction.is_hold() || neg.remote.ip().is_unspecified();
                self.media.send(MediaCommand::Hold { call: key, held });
                self.feed(
                    call_id,
                    if held {
                        IvrEvent::Hold
                    } else {
                        IvrEvent::Resume
                    },
                );
            }
            Err(why) => {
                self.sip
                    .commands
                    .send(SipCommand::Reject {
                        call_id: call_id.to_owned(),
                        status: 488,
                        reason: "Not Acceptable Here".into(),
                        extra_headers: format!("Warning: 305 selfprov \"{why}\"\r\n"),
                    })
                    .ok();
            }
        }
    }

    /// The caller gave up (CANCEL) before the answer: audited like any other call.
    fn cancelled_while_ringing(&mut self, call_id: &str) {
        let code = selfprov_provisioning::OutcomeCode::Abandoned;
        self.metrics.call_finished(code.as_str());
        tracing::info!(%call_id, outcome = %code, "call cancelled while ringing");
        self.audit_outcome(call_id, None, code, "cancelled while ringing");
    }
}
