//! The dialog table's entries and what the application does to a call in its dialog: ring,
//! answer (2xx kept retransmitting until the ACK), reject, and hang up with an in-dialog BYE.

use super::{EndReason, Endpoint, Event, Output, Peer, ALLOW};
use crate::transaction::Reliable2xx;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DialogState {
    /// INVITE received, not answered yet.
    Early,
    /// 2xx sent, waiting for ACK.
    Answered,
    Confirmed,
}

pub(super) struct Dialog {
    pub(super) peer: Peer,
    pub(super) state: DialogState,
    pub(super) local_tag: String,
    /// Their From (our To in requests we send), and our To with tag (our From).
    pub(super) remote_from: String,
    pub(super) local_to: String,
    pub(super) remote_target: String,
    pub(super) local_cseq: u32,
    /// The INVITE (or re-INVITE) server transaction waiting for the application's answer.
    pub(super) pending_invite: Option<String>,
    pub(super) reliable_2xx: Option<Reliable2xx>,
}

impl Endpoint {
    /// 180 Ringing for a new call that is not answered yet.
    pub fn ring(&mut self, call_id: &str, now: Instant) {
        let Some(d) = self.dialogs.get(call_id) else {
            return;
        };
        let (Some(key), tag) = (d.pending_invite.clone(), d.local_tag.clone()) else {
            return;
        };
        self.respond_invite(&key, 180, "Ringing", Some(&tag), "", b"", now);
    }

    /// Answer a pending INVITE or re-INVITE with 200 OK and this SDP.
    pub fn answer(&mut self, call_id: &str, sdp: &[u8], now: Instant) -> bool {
        let Some(d) = self.dialogs.get_mut(call_id) else {
            return false;
        };
        let Some(key) = d.pending_invite.take() else {
            return false;
        };
        let tag = d.local_tag.clone();
        let reliable = d.peer.reliable;
        let extra = format!(
            "Contact: <sip:{}@{}>\r\nAllow: {ALLOW}\r\nContent-Type: application/sdp\r\n",
            "selfprov", self.cfg.advertised
        );
        let Some(bytes) = self.respond_invite(&key, 200, "OK", Some(&tag), &extra, sdp, now) else {
            return false;
        };
        if let Some(d) = self.dialogs.get_mut(call_id) {
            d.reliable_2xx = Some(Reliable2xx::new(bytes, reliable, self.cfg.timers, now));
            d.state = DialogState::Answered;
        }
        true
    }

    /// Refuse a pending INVITE (e.g. 488 with a Warning when no codec matches).
    pub fn reject(
        &mut self,
        call_id: &str,
        status: u16,
        reason: &str,
        extra_headers: &str,
        now: Instant,
    ) {
        let Some(d) = self.dialogs.get_mut(call_id) else {
            return;
        };
        let Some(key) = d.pending_invite.take() else {
            return;
        };
        let tag = d.local_tag.clone();
        let initial = d.state == DialogState::Early;
        self.respond_invite(&key, status, reason, Some(&tag), extra_headers, b"", now);
        if initial {
            self.dialogs.remove(call_id);
        }
    }

    /// Hang up a confirmed (or answered) call with BYE.
    pub fn hangup(&mut self, call_id: &str, now: Instant) {
        let Some(mut d) = self.dialogs.remove(call_id) else {
            return;
        };
        d.local_cseq += 1;
        let (peer, target, from, to, cseq) = (
            d.peer,
            d.remote_target.clone(),
            d.local_to.clone(),
            d.remote_from.clone(),
            d.local_cseq,
        );
        if d.state == DialogState::Early {
            if let Some(key) = d.pending_invite {
                let tag = d.local_tag.clone();
                self.respond_invite(
                    &key,
                    480,
                    "Temporarily Unavailable",
                    Some(&tag),
                    "",
                    b"",
                    now,
                );
            }
            return;
        }
        self.request(
            peer, "BYE", &target, &from, &to, call_id, cseq, "", b"", now,
        );
        self.out.push_back(Output::Event(Event::CallEnded {
            call_id: call_id.to_owned(),
            reason: EndReason::Local,
        }));
    }
}
