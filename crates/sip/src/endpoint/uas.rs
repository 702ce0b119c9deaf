//! Requests coming in and our answers to them: checking a request is answerable (400, 405),
//! absorbing retransmissions, dispatching by method (INVITE, ACK, CANCEL, BYE, OPTIONS, INFO,
//! REGISTER, the rest), and building responses through the server transactions.

use super::dialog::{Dialog, DialogState};
use super::route::{is_sips, RouteSet};
use super::{hval, EndReason, Endpoint, Event, Output, Peer, Transport, ALLOW};
use crate::headers::{cseq, has_param, param, uri_of, uri_user};
use crate::message::split_commas;
use crate::transaction::{ServerTransaction, TxAction};
use std::fmt::Write as _;
use std::time::Instant;

const KNOWN: &[&str] = &[
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO", "NOTIFY", "REGISTER",
];

/// The top Via's branch, and the key of the server transaction a request belongs to
/// (`branch|method`; an ACK's is its INVITE's).
pub(super) fn transaction_key(headers: &[(String, String)], method: &str) -> (String, String) {
    let top_via = hval(headers, "via")
        .map(|v| split_commas(v).into_iter().next().unwrap_or_default())
        .unwrap_or_default();
    let branch = param(&top_via, "branch").unwrap_or("").to_owned();
    let key = format!(
        "{branch}|{}",
        if method == "ACK" { "INVITE" } else { method }
    );
    (branch, key)
}

/// A server transaction with what is needed to answer through it.
pub(super) struct ServerEntry {
    pub(super) tx: ServerTransaction,
    pub(super) peer: Peer,
    /// Request headers needed to build responses.
    pub(super) req: Vec<(String, String)>,
    pub(super) call_id: String,
}

impl Endpoint {
    /// Build a response to the request whose headers are `req`.
    #[allow(clippy::too_many_arguments)] // one argument per response field
    pub(super) fn build_response(
        &self,
        req: &[(String, String)],
        source: Peer,
        status: u16,
        reason: &str,
        to_tag: Option<&str>,
        extra: &str,
        body: &[u8],
    ) -> Vec<u8> {
        let mut s = format!("SIP/2.0 {status} {reason}\r\n");
        let mut first = true;
        for (k, v) in req {
            if k == "via" {
                for via in split_commas(v) {
                    if first && has_param(&via, "rport") && param(&via, "rport") == Some("") {
                        // RFC 3581: fill in rport and received.
                        let filled = via.replacen(
                            ";rport",
                            &format!(
                                ";received={};rport={}",
                                source.addr.ip(),
                                source.addr.port()
                            ),
                            1,
                        );
                        let _ = write!(s, "Via: {filled}\r\n");
                    } else {
                        let _ = write!(s, "Via: {via}\r\n");
                    }
                    first = false;
                }
            }
        }
        // A proxy that record-routed the INVITE stays on the dialog's path only if our 18x/2xx
        // carry its Record-Route back, every value in order (§12.1.1).
        let invite = hval(req, "cseq")
            .and_then(cseq)
            .is_some_and(|(_, m)| m.eq_ignore_ascii_case("INVITE"));
        if invite && (101..300).contains(&status) {
            for (_, v) in req.iter().filter(|(k, _)| k == "record-route") {
                let _ = write!(s, "Record-Route: {v}\r\n");
            }
        }
        if let Some(f) = hval(req, "from") {
            let _ = write!(s, "From: {f}\r\n");
        }
        if let Some(t) = hval(req, "to") {
            match to_tag {
                Some(tag) if param(t, "tag").is_none() => {
                    let _ = write!(s, "To: {t};tag={tag}\r\n");
                }
                _ => {
                    let _ = write!(s, "To: {t}\r\n");
                }
            }
        }
        if let Some(c) = hval(req, "call-id") {
            let _ = write!(s, "Call-ID: {c}\r\n");
        }
        if let Some(c) = hval(req, "cseq") {
            let _ = write!(s, "CSeq: {c}\r\n");
        }
        let _ = write!(
            s,
            "Server: {}\r\n{extra}Content-Length: {}\r\n\r\n",
            self.cfg.user_agent,
            body.len()
        );
        let mut b = s.into_bytes();
        b.extend_from_slice(body);
        b
    }

    /// A request (not a response): answered here when it is malformed, of an unknown method or a
    /// retransmission; otherwise handed on by method.
    pub(super) fn on_request(
        &mut self,
        first_line: &str,
        mut headers: Vec<(String, String)>,
        data: &[u8],
        head_end: usize,
        source: Peer,
        now: Instant,
    ) {
        let mut parts = first_line.split_whitespace();
        let (method, ruri) = (
            parts.next().unwrap_or("").to_owned(),
            parts.next().unwrap_or("").to_owned(),
        );
        // Enough to answer at all?
        let answerable = ["via", "from", "to", "call-id", "cseq"]
            .iter()
            .all(|h| hval(&headers, h).is_some());
        if !answerable {
            return; // cannot build a response; RFC 3261 §16.3/§18 allow a silent drop
        }
        if self.rate_limited(&method, &headers, source, now) {
            return;
        }
        if !KNOWN.contains(&method.as_str()) {
            if method
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c))
                && !method.is_empty()
            {
                let r = self.build_response(
                    &headers,
                    source,
                    405,
                    "Method Not Allowed",
                    None,
                    &format!("Allow: {ALLOW}\r\n"),
                    b"",
                );
                return self.send(source, r);
            }
            let r = self.build_response(
                &headers,
                source,
                400,
                "Bad Request - malformed request line",
                None,
                "",
                b"",
            );
            return self.send(source, r);
        }
        // The rsip-family parser validates the message; framing errors are ours (see message.rs).
        match crate::message::parse(data) {
            Ok(_) => {}
            Err(e) => {
                if method != "ACK" {
                    let reason = e.to_string();
                    let r = self.build_response(&headers, source, 400, &reason, None, "", b"");
                    self.send(source, r);
                }
                return;
            }
        };
        let consumed = self.own.consume_routes(&mut headers);
        if consumed > 0 && headers.iter().any(|(k, _)| k == "route") {
            // We are not a proxy: a request routed on beyond us is still taken as ours.
            tracing::debug!(%method, "Route entries beyond ours left unused");
        }
        let body = &data[head_end
            + if data[head_end..].starts_with(b"\r\n\r\n") {
                4
            } else {
                2
            }..];
        let body = &body[..hval(&headers, "content-length")
            .and_then(|l| l.trim().parse::<usize>().ok())
            .unwrap_or(body.len())
            .min(body.len())];
        let (branch, key) = transaction_key(&headers, &method);
        let call_id = hval(&headers, "call-id").unwrap_or("").to_owned();
        let Some((_, cseq_method)) = hval(&headers, "cseq").and_then(cseq) else {
            let r = self.build_response(
                &headers,
                source,
                400,
                "Bad Request - invalid CSeq",
                None,
                "",
                b"",
            );
            return self.send(source, r);
        };
        if !cseq_method.eq_ignore_ascii_case(&method) && method != "ACK" && method != "CANCEL" {
            let r = self.build_response(
                &headers,
                source,
                400,
                "Bad Request - CSeq method does not match the request",
                None,
                "",
                b"",
            );
            return self.send(source, r);
        }
        match method.as_str() {
            "ACK" => self.on_ack(&key, &call_id, now),
            "CANCEL" => self.on_cancel(&branch, &headers, source, now),
            _ => {
                if let Some(e) = self.servers.get(&key) {
                    // A retransmission: the transaction absorbs it.
                    if let TxAction::Send(d) = e.tx.on_retransmission() {
                        let p = e.peer;
                        self.send(p, d);
                    } else if method == "INVITE" {
                        if let Some(r) = self
                            .dialogs
                            .get(&call_id)
                            .and_then(|d| d.reliable_2xx.as_ref())
                        {
                            let d = r.bytes().to_vec();
                            self.send(source, d);
                        }
                    }
                    return;
                }
                self.on_new_request(
                    &method,
                    &ruri,
                    key,
                    call_id,
                    headers,
                    body.to_vec(),
                    source,
                    now,
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_new_request(
        &mut self,
        method: &str,
        ruri: &str,
        key: String,
        call_id: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        source: Peer,
        now: Instant,
    ) {
        let in_dialog = hval(&headers, "to").and_then(|t| param(t, "tag")).is_some();
        // RFC 3261 §26.2.2, RFC 5630 §3.1.3: a `sips:` Request-URI is reached over TLS only; a
        // request for one that arrived otherwise was not protected on its last hop.
        let refuse_sips = is_sips(ruri) && source.transport != Transport::Tls;
        let mut entry = ServerEntry {
            tx: ServerTransaction::new(method == "INVITE", source.reliable(), self.cfg.timers),
            peer: source,
            req: headers,
            call_id: call_id.clone(),
        };
        let reply = |ep: &mut Endpoint,
                     entry: &mut ServerEntry,
                     status: u16,
                     reason: &str,
                     tag: Option<&str>,
                     extra: &str,
                     body: &[u8]| {
            let r = ep.build_response(&entry.req, entry.peer, status, reason, tag, extra, body);
            if let TxAction::Send(d) = entry.tx.respond(status, r, now) {
                ep.send(entry.peer, d);
            }
        };
        if refuse_sips {
            reply(
                self,
                &mut entry,
                416,
                "Unsupported URI Scheme - sips: needs TLS",
                None,
                "",
                b"",
            );
            self.servers.insert(key, entry);
            return;
        }
        match method {
            "INVITE" if in_dialog => {
                let Some(d) = self.dialogs.get_mut(&call_id) else {
                    reply(
                        self,
                        &mut entry,
                        481,
                        "Call/Transaction Does Not Exist",
                        None,
                        "",
                        b"",
                    );
                    self.servers.insert(key, entry);
                    return;
                };
                d.pending_invite = Some(key.clone());
                // A target refresh: the Contact moves, the route set stays (§12.2.2).
                if let Some(c) = hval(&entry.req, "contact") {
                    d.remote_target = uri_of(c).to_owned();
                }
                reply(self, &mut entry, 100, "Trying", None, "", b"");
                self.servers.insert(key, entry);
                self.out
                    .push_back(Output::Event(Event::Reinvite { call_id, sdp: body }));
            }
            "INVITE" => {
                reply(self, &mut entry, 100, "Trying", None, "", b"");
                let to_user = uri_user(ruri)
                    .or_else(|| hval(&entry.req, "to").and_then(|t| uri_user(uri_of(t))))
                    .unwrap_or("")
                    .to_owned();
                let refuse: Option<(u16, &str, String)> =
                    if !self.cfg.route_point_dns.contains(&to_user) {
                        Some((404, "Not Found", String::new()))
                    } else if let Some(ra) = self.accepting {
                        Some((503, "Service Unavailable", format!("Retry-After: {ra}\r\n")))
                    } else if self.dialogs.len() >= self.cfg.max_calls {
                        Some((486, "Busy Here", String::new()))
                    } else if self.dialogs.contains_key(&call_id) {
                        Some((482, "Loop Detected", String::new()))
                    } else {
                        None
                    };
                let tag = self.token();
                if let Some((code, reason, extra)) = refuse {
                    reply(self, &mut entry, code, reason, Some(&tag), &extra, b"");
                    self.servers.insert(key, entry);
                    return;
                }
                let from = hval(&entry.req, "from").unwrap_or("").to_owned();
                let to = format!("{};tag={tag}", hval(&entry.req, "to").unwrap_or(""));
                let contact = hval(&entry.req, "contact").map(|c| uri_of(c).to_owned());
                let ev = Event::IncomingCall {
                    call_id: call_id.clone(),
                    to_user,
                    from_user: uri_user(uri_of(&from)).map(str::to_owned),
                    from_uri: Some(uri_of(&from).to_owned()).filter(|u| !u.is_empty()),
                    pai_user: hval(&entry.req, "p-asserted-identity")
                        .and_then(|p| uri_user(uri_of(p)))
                        .map(str::to_owned),
                    authorization: hval(&entry.req, "authorization").map(str::to_owned),
                    contact: contact.clone(),
                    user_agent: hval(&entry.req, "user-agent").map(str::to_owned),
                    source,
                    sdp: body,
                };
                self.dialogs.insert(
                    call_id,
                    Dialog {
                        peer: source,
                        state: DialogState::Early,
                        local_tag: tag,
                        remote_from: from,
                        local_to: to,
                        remote_target: contact.unwrap_or_else(|| ruri.to_owned()),
                        route_set: RouteSet::from_record_route(&entry.req),
                        local_cseq: 0,
                        pending_invite: Some(key.clone()),
                        reliable_2xx: None,
                        sips: is_sips(ruri),
                    },
                );
                self.servers.insert(key, entry);
                self.out.push_back(Output::Event(ev));
            }
            "BYE" => {
                if self.dialogs.remove(&call_id).is_some() {
                    reply(self, &mut entry, 200, "OK", None, "", b"");
                    self.out.push_back(Output::Event(Event::CallEnded {
                        call_id,
                        reason: EndReason::Bye,
                    }));
                } else {
                    reply(
                        self,
                        &mut entry,
                        481,
                        "Call/Transaction Does Not Exist",
                        None,
                        "",
                        b"",
                    );
                }
                self.servers.insert(key, entry);
            }
            "OPTIONS" => {
                // A proxy's dispatcher probes with OPTIONS: a node that takes no new calls (not
                // ready, draining) says so, and is taken out until it answers 200 again.
                let extra = format!("Allow: {ALLOW}\r\nAccept: application/sdp, application/dtmf-relay, application/dtmf\r\nSupported: \r\n");
                match self.accepting {
                    None => reply(self, &mut entry, 200, "OK", Some("opt"), &extra, b""),
                    Some(ra) => reply(
                        self,
                        &mut entry,
                        503,
                        "Service Unavailable",
                        Some("opt"),
                        &format!("{extra}Retry-After: {ra}\r\n"),
                        b"",
                    ),
                }
                self.servers.insert(key, entry);
            }
            "INFO" => {
                if self.dialogs.contains_key(&call_id) {
                    reply(self, &mut entry, 200, "OK", None, "", b"");
                    let content_type = hval(&entry.req, "content-type").unwrap_or("").to_owned();
                    self.out.push_back(Output::Event(Event::Info {
                        call_id,
                        content_type,
                        body,
                    }));
                } else {
                    reply(
                        self,
                        &mut entry,
                        481,
                        "Call/Transaction Does Not Exist",
                        None,
                        "",
                        b"",
                    );
                }
                self.servers.insert(key, entry);
            }
            "REGISTER" => {
                let headers = entry.req.clone();
                self.servers.insert(key.clone(), entry);
                self.out.push_back(Output::Event(Event::Register {
                    key,
                    source,
                    headers,
                }));
            }
            _ => {
                // NOTIFY and others we do not subscribe to.
                reply(
                    self,
                    &mut entry,
                    481,
                    "Subscription Does Not Exist",
                    None,
                    "",
                    b"",
                );
                self.servers.insert(key, entry);
            }
        }
    }

    fn on_ack(&mut self, key: &str, call_id: &str, now: Instant) {
        if let Some(e) = self.servers.get_mut(key) {
            if !e.tx.is_terminated() {
                e.tx.on_ack(now);
                return;
            }
        }
        if let Some(d) = self.dialogs.get_mut(call_id) {
            if d.reliable_2xx.take().is_some() && d.state == DialogState::Answered {
                d.state = DialogState::Confirmed;
                self.out.push_back(Output::Event(Event::CallConfirmed {
                    call_id: call_id.to_owned(),
                }));
            }
        }
    }

    fn on_cancel(
        &mut self,
        branch: &str,
        headers: &[(String, String)],
        source: Peer,
        now: Instant,
    ) {
        let key = format!("{branch}|INVITE");
        let Some(e) = self.servers.get_mut(&key) else {
            let r = self.build_response(
                headers,
                source,
                481,
                "Call/Transaction Does Not Exist",
                None,
                "",
                b"",
            );
            return self.send(source, r);
        };
        let call_id = e.call_id.clone();
        let r = self.build_response(headers, source, 200, "OK", None, "", b"");
        self.send(source, r);
        let early = self
            .dialogs
            .get(&call_id)
            .is_some_and(|d| d.state == DialogState::Early);
        if early {
            let tag = self.dialogs.get(&call_id).map(|d| d.local_tag.clone());
            self.respond_invite(
                &key,
                487,
                "Request Terminated",
                tag.as_deref(),
                "",
                b"",
                now,
            );
            self.dialogs.remove(&call_id);
            self.out.push_back(Output::Event(Event::CallEnded {
                call_id,
                reason: EndReason::Cancel,
            }));
        }
    }

    #[allow(clippy::too_many_arguments)] // one argument per response field
    pub(super) fn respond_invite(
        &mut self,
        key: &str,
        status: u16,
        reason: &str,
        tag: Option<&str>,
        extra: &str,
        body: &[u8],
        now: Instant,
    ) -> Option<Vec<u8>> {
        let e = self.servers.get(key)?;
        let r = self.build_response(&e.req, e.peer, status, reason, tag, extra, body);
        let e = self.servers.get_mut(key)?;
        let peer = e.peer;
        let act = e.tx.respond(status, r.clone(), now);
        if let TxAction::Send(d) = act {
            self.send(peer, d);
        }
        Some(r)
    }

    /// Answer a REGISTER (or other request handed up with a key).
    pub fn respond(
        &mut self,
        key: &str,
        status: u16,
        reason: &str,
        extra_headers: &str,
        now: Instant,
    ) {
        let Some(e) = self.servers.get(key) else {
            return;
        };
        let r = self.build_response(
            &e.req,
            e.peer,
            status,
            reason,
            Some("reg"),
            extra_headers,
            b"",
        );
        if let Some(e) = self.servers.get_mut(key) {
            let peer = e.peer;
            if let TxAction::Send(d) = e.tx.respond(status, r, now) {
                self.send(peer, d);
            }
        }
    }
}
