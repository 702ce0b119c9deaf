//! The dialog table's entries and what the application does to a call in its dialog: ring,
//! answer (2xx kept retransmitting until the ACK), reject, hang up with an in-dialog BYE, and
//! other requests inside the dialog (INFO, NOTIFY), all addressed through the dialog's route set.

use super::route::{peer_for, RouteSet};
use super::uac::OutRequest;
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
    /// Where the INVITE came from; responses go back there.
    pub(super) peer: Peer,
    pub(super) state: DialogState,
    pub(super) local_tag: String,
    /// Their From (our To in requests we send), and our To with tag (our From).
    pub(super) remote_from: String,
    pub(super) local_to: String,
    /// The caller's Contact (updated by a re-INVITE that carries one).
    pub(super) remote_target: String,
    /// The INVITE's Record-Route values, in order (§12.1.1); fixed for the dialog's life.
    pub(super) route_set: RouteSet,
    pub(super) local_cseq: u32,
    /// The INVITE (or re-INVITE) server transaction waiting for the application's answer.
    pub(super) pending_invite: Option<String>,
    pub(super) reliable_2xx: Option<Reliable2xx>,
    /// The INVITE's Request-URI was `sips:` (it came over TLS): our Contact is `sips:` too.
    pub(super) sips: bool,
}

impl Dialog {
    /// Our next request in this dialog: the next CSeq, addressed through the route set. With no
    /// route set it goes where the INVITE came from (the Contact's own address may be behind
    /// NAT); with one, to the first route.
    fn next_request(&mut self, method: &str, call_id: &str) -> OutRequest {
        self.local_cseq += 1;
        let addressed = self.route_set.address(&self.remote_target);
        let to = if self.route_set.is_empty() {
            self.peer
        } else {
            peer_for(&addressed.next_hop, self.peer)
        };
        OutRequest {
            to,
            method: method.to_owned(),
            request_uri: addressed.request_uri,
            route: addressed.route,
            from: self.local_to.clone(),
            to_hdr: self.remote_from.clone(),
            call_id: call_id.to_owned(),
            cseq: self.local_cseq,
        }
    }
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
        let (transport, sips) = (d.peer.transport, d.sips);
        let reliable = transport.is_reliable();
        // Over TCP or TLS the Contact says so: a proxy forwards our in-dialog requests by it. A
        // `sips:` request is answered with a `sips:` Contact (RFC 5630 §3.1.3).
        let contact = if sips {
            format!("sips:selfprov@{}", self.advertised(transport))
        } else {
            format!(
                "sip:selfprov@{}{}",
                self.advertised(transport),
                transport.uri_param()
            )
        };
        let extra =
            format!("Contact: <{contact}>\r\nAllow: {ALLOW}\r\nContent-Type: application/sdp\r\n");
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

    /// Send a request inside a call's dialog (INFO, NOTIFY, ...) with these extra header lines
    /// (each ending in CRLF) and body. False when there is no such call.
    pub fn request_in_dialog(
        &mut self,
        call_id: &str,
        method: &str,
        extra_headers: &str,
        body: &[u8],
        now: Instant,
    ) -> bool {
        let Some(d) = self.dialogs.get_mut(call_id) else {
            return false;
        };
        let r = d.next_request(method, call_id);
        self.request(r, extra_headers, body, now);
        true
    }

    /// Hang up a confirmed (or answered) call with BYE.
    pub fn hangup(&mut self, call_id: &str, now: Instant) {
        let Some(mut d) = self.dialogs.remove(call_id) else {
            return;
        };
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
        let bye = d.next_request("BYE", call_id);
        self.request(bye, "", b"", now);
        self.out.push_back(Output::Event(Event::CallEnded {
            call_id: call_id.to_owned(),
            reason: EndReason::Local,
        }));
    }
}
