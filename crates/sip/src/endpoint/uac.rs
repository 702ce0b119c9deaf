//! Requests we send as a client: in-dialog BYE/INFO/NOTIFY and out-of-dialog NOTIFY check-sync,
//! the route-point DNs' REGISTER (digest, refresh, un-register), and the responses to them.

use super::route::OutOfDialogTarget;
use super::{hval, Endpoint, Event, Output, Peer};
use crate::headers::param;
use crate::message::split_commas;
use crate::registration::{RegState, RegisterRequest, Registration, RegistrationConfig};
use crate::transaction::{ClientTransaction, TxAction};
use std::time::Instant;

/// A request of ours, addressed: where it goes, its request line, Route values and the dialog
/// (or out-of-dialog) identifiers.
pub(super) struct OutRequest {
    pub(super) to: Peer,
    pub(super) method: String,
    pub(super) request_uri: String,
    /// `Route` values, in order (one header line each).
    pub(super) route: Vec<String>,
    pub(super) from: String,
    pub(super) to_hdr: String,
    pub(super) call_id: String,
    pub(super) cseq: u32,
}

impl Endpoint {
    /// Send an in-dialog request (BYE, INFO, NOTIFY) or an out-of-dialog one (NOTIFY) as a
    /// client transaction.
    pub(super) fn request(&mut self, r: OutRequest, extra: &str, body: &[u8], now: Instant) {
        let branch = format!("z9hG4bK{}", self.token());
        let transport = r.to.transport.via_name();
        let routes: String = r.route.iter().map(|v| format!("Route: {v}\r\n")).collect();
        let s = format!(
            "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/{transport} {};branch={branch};rport\r\nMax-Forwards: 70\r\n{routes}From: {from}\r\nTo: {to_hdr}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nUser-Agent: {}\r\n{extra}Content-Length: {}\r\n\r\n",
            self.advertised(r.to.transport),
            self.cfg.user_agent,
            body.len(),
            method = r.method,
            ruri = r.request_uri,
            from = r.from,
            to_hdr = r.to_hdr,
            call_id = r.call_id,
            cseq = r.cseq,
        );
        let mut bytes = s.into_bytes();
        bytes.extend_from_slice(body);
        let (tx, act) =
            ClientTransaction::start(false, r.to.reliable(), self.cfg.timers, bytes, now);
        if let TxAction::Send(d) = act {
            self.send(r.to, d);
        }
        self.clients.insert(branch, (tx, r.to, r.call_id));
    }

    pub(super) fn send_register(
        &mut self,
        to: Peer,
        call_id: &str,
        req: RegisterRequest,
        now: Instant,
    ) {
        let branch = format!("z9hG4bK{}", self.token());
        let transport = to.transport.via_name();
        let text = format!("REGISTER {} SIP/2.0\r\nVia: SIP/2.0/{transport} {};branch={branch};rport\r\n{}Content-Length: 0\r\n\r\n", req.uri, self.advertised(to.transport), req.headers);
        let (tx, act) = ClientTransaction::start(
            false,
            to.reliable(),
            self.cfg.timers,
            text.into_bytes(),
            now,
        );
        if let TxAction::Send(d) = act {
            self.send(to, d);
        }
        self.clients.insert(branch, (tx, to, call_id.to_owned()));
    }

    pub(super) fn report_registration(&mut self, call_id: &str, before: &RegState) {
        if let Some((r, _)) = self.registrations.get(call_id) {
            if r.state() != before {
                let ev = Event::Registration {
                    dn: r.dn().to_owned(),
                    state: r.state().clone(),
                };
                self.out.push_back(Output::Event(ev));
            }
        }
    }

    /// Register a route-point DN with a registrar (digest credentials in `cfg`).
    pub fn register(&mut self, cfg: RegistrationConfig, registrar: Peer, now: Instant) {
        let call_id = format!("{}@selfprov", self.token());
        let tag = self.token();
        let mut r = Registration::new(cfg, call_id.clone(), tag);
        let before = r.state().clone();
        let req = r.start(&self.cfg.advertised, &self.cfg.user_agent);
        self.registrations.insert(call_id.clone(), (r, registrar));
        self.send_register(registrar, &call_id, req, now);
        self.report_registration(&call_id, &before);
    }

    /// Un-register every DN (`Expires: 0`), e.g. when draining.
    pub fn unregister_all(&mut self, now: Instant) {
        let ids: Vec<String> = self.registrations.keys().cloned().collect();
        for cid in ids {
            let Some((r, peer)) = self.registrations.get_mut(&cid) else {
                continue;
            };
            let peer = *peer;
            let req = r.stop(&self.cfg.advertised, &self.cfg.user_agent);
            self.send_register(peer, &cid, req, now);
        }
    }

    /// Registration state of every DN.
    pub fn registration_states(&self) -> Vec<(String, RegState)> {
        self.registrations
            .values()
            .map(|(r, _)| (r.dn().to_owned(), r.state().clone()))
            .collect()
    }

    /// Tell a phone to re-read its configuration and restart (NOTIFY, Event: check-sync), out of
    /// any dialog: to `target.uri` (also the To), through its preloaded routes.
    pub fn notify_check_sync(&mut self, target: &OutOfDialogTarget, now: Instant) {
        let call_id = format!("{}@selfprov", self.token());
        let tag = self.token();
        let addressed = target.route.address(&target.uri);
        let r = OutRequest {
            to: target.next_hop,
            method: "NOTIFY".into(),
            request_uri: addressed.request_uri,
            route: addressed.route,
            from: format!(
                "<sip:selfprov@{}>;tag={tag}",
                self.advertised(target.next_hop.transport)
            ),
            to_hdr: format!("<{}>", target.uri),
            call_id,
            cseq: 1,
        };
        self.request(
            r,
            "Event: check-sync\r\nSubscription-State: terminated\r\n",
            b"",
            now,
        );
    }

    pub(super) fn on_response(
        &mut self,
        first_line: &str,
        headers: &[(String, String)],
        now: Instant,
    ) {
        let status: u16 = first_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let via = hval(headers, "via")
            .map(|v| split_commas(v).into_iter().next().unwrap_or_default())
            .unwrap_or_default();
        let Some(branch) = param(&via, "branch") else {
            return;
        };
        let Some((tx, _, call_id)) = self.clients.get_mut(branch) else {
            return;
        };
        if !tx.on_response(status, now) || status < 200 {
            return;
        }
        let call_id = call_id.clone();
        let (adv, ua) = (self.cfg.advertised.clone(), self.cfg.user_agent.clone());
        let Some((r, peer)) = self.registrations.get_mut(&call_id) else {
            return;
        };
        let peer = *peer;
        let before = r.state().clone();
        if let Some(req) = r.on_response(status, headers, &adv, &ua, now) {
            self.send_register(peer, &call_id, req, now);
        }
        self.report_registration(&call_id, &before);
    }
}
