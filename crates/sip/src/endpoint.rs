//! The route point's SIP user agent server, sans I/O. The driver feeds it datagrams (with their
//! source) and the time, and takes out what to send and the events for the application. It
//! answers on its own what needs no application decision — 100 Trying, OPTIONS, BYE, CANCEL (with
//! 487), unknown methods (405), requests for a DN that is not ours (404), calls over capacity
//! (486) or while not accepting (503 + Retry-After), malformed requests (400 with a reason) — and
//! hands up new calls, re-INVITEs, INFO and REGISTER.

use crate::headers::{cseq, has_param, param, uri_of, uri_user};
use crate::message::{raw_headers, split_commas};
use crate::registration::{RegState, RegisterRequest, Registration, RegistrationConfig};
use crate::transaction::{
    ClientTransaction, Reliable2xx, ServerTransaction, TimerValues, TxAction,
};
use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Instant;

pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, REGISTER";
const KNOWN: &[&str] = &[
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO", "NOTIFY", "REGISTER",
];

/// Where a message came from / goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub addr: SocketAddr,
    /// TCP (reliable): no retransmissions.
    pub reliable: bool,
}

#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// host:port written in Via and Contact.
    pub advertised: String,
    pub user_agent: String,
    pub route_point_dns: Vec<String>,
    pub max_calls: usize,
    pub timers: TimerValues,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The caller sent BYE.
    Bye,
    /// The caller cancelled before the answer.
    Cancel,
    /// Our 2xx was never acknowledged (64*T1); we sent BYE.
    AckTimeout,
    /// We hung up (BYE sent).
    Local,
}

/// Events for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new call to a route-point DN; answer it with [`Endpoint::answer`] or [`Endpoint::reject`].
    IncomingCall {
        call_id: String,
        to_user: String,
        from_user: Option<String>,
        /// P-Asserted-Identity user part, if present.
        pai_user: Option<String>,
        contact: Option<String>,
        user_agent: Option<String>,
        source: Peer,
        sdp: Vec<u8>,
    },
    /// The ACK for our 2xx arrived.
    CallConfirmed {
        call_id: String,
    },
    /// A re-INVITE (hold, resume, new media address); answer with [`Endpoint::answer`].
    Reinvite {
        call_id: String,
        sdp: Vec<u8>,
    },
    /// INFO in the dialog (already answered 200).
    Info {
        call_id: String,
        content_type: String,
        body: Vec<u8>,
    },
    CallEnded {
        call_id: String,
        reason: EndReason,
    },
    /// A route-point DN's registration changed state.
    Registration {
        dn: String,
        state: RegState,
    },
    /// A REGISTER (for a built-in registrar); answer with [`Endpoint::respond`].
    Register {
        key: String,
        source: Peer,
        headers: Vec<(String, String)>,
    },
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Send { to: Peer, data: Vec<u8> },
    Event(Event),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DialogState {
    /// INVITE received, not answered yet.
    Early,
    /// 2xx sent, waiting for ACK.
    Answered,
    Confirmed,
}

struct Dialog {
    peer: Peer,
    state: DialogState,
    local_tag: String,
    /// Their From (our To in requests we send), and our To with tag (our From).
    remote_from: String,
    local_to: String,
    remote_target: String,
    local_cseq: u32,
    /// The INVITE (or re-INVITE) server transaction waiting for the application's answer.
    pending_invite: Option<String>,
    reliable_2xx: Option<Reliable2xx>,
}

struct ServerEntry {
    tx: ServerTransaction,
    peer: Peer,
    /// Request headers needed to build responses.
    req: Vec<(String, String)>,
    call_id: String,
}

/// The sans-I/O UAS.
pub struct Endpoint {
    cfg: EndpointConfig,
    accepting: Option<u32>, // None: accepting; Some(retry_after)
    servers: HashMap<String, ServerEntry>,
    dialogs: HashMap<String, Dialog>,
    clients: HashMap<String, (ClientTransaction, Peer, String)>,
    /// Route-point registrations by their Call-ID, with the registrar's address.
    registrations: HashMap<String, (Registration, Peer)>,
    out: VecDeque<Output>,
    counter: u64,
}

fn hval<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

impl Endpoint {
    pub fn new(cfg: EndpointConfig) -> Self {
        Endpoint {
            cfg,
            accepting: None,
            servers: HashMap::new(),
            dialogs: HashMap::new(),
            clients: HashMap::new(),
            registrations: HashMap::new(),
            out: VecDeque::new(),
            counter: 0,
        }
    }

    /// Change the route-point DNs and the call limit; calls in progress are not touched.
    pub fn set_route_point(&mut self, dns: Vec<String>, max_calls: usize) {
        self.cfg.route_point_dns = dns;
        self.cfg.max_calls = max_calls;
    }

    /// Refuse new calls with 503 and this Retry-After (draining, not ready); `None` accepts.
    pub fn set_refusing(&mut self, retry_after: Option<u32>) {
        self.accepting = retry_after;
    }

    pub fn active_calls(&self) -> usize {
        self.dialogs.len()
    }

    /// Transactions and dialogs held (for leak checks).
    pub fn table_sizes(&self) -> (usize, usize, usize) {
        (self.servers.len(), self.clients.len(), self.dialogs.len())
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    fn token(&mut self) -> String {
        self.counter += 1;
        format!("{:x}{:08x}", self.counter, rand::random::<u32>())
    }

    fn send(&mut self, to: Peer, data: Vec<u8>) {
        self.out.push_back(Output::Send { to, data });
    }

    /// Build a response to the request whose headers are `req`.
    #[allow(clippy::too_many_arguments)] // one argument per response field
    fn build_response(
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

    /// Feed one datagram (or one framed TCP message) from `source`.
    pub fn handle(&mut self, data: &[u8], source: Peer, now: Instant) {
        let Some(head_end) = data
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .or_else(|| data.windows(2).position(|w| w == b"\n\n"))
        else {
            return; // keep-alive CRLFs or garbage: nothing to answer
        };
        let first_line = String::from_utf8_lossy(
            &data[..data.iter().position(|&b| b == b'\n').unwrap_or(head_end)],
        )
        .trim()
        .to_owned();
        let headers = raw_headers(&data[..head_end]);
        if first_line.starts_with("SIP/2.0") {
            return self.on_response(&first_line, &headers, now);
        }
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
        let top_via = hval(&headers, "via")
            .map(|v| split_commas(v).into_iter().next().unwrap_or_default())
            .unwrap_or_default();
        let branch = param(&top_via, "branch").unwrap_or("").to_owned();
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
        let key = format!(
            "{branch}|{}",
            if method == "ACK" {
                "INVITE"
            } else {
                method.as_str()
            }
        );
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
                self.on_request(
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
    fn on_request(
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
        let mut entry = ServerEntry {
            tx: ServerTransaction::new(method == "INVITE", source.reliable, self.cfg.timers),
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
                    pai_user: hval(&entry.req, "p-asserted-identity")
                        .and_then(|p| uri_user(uri_of(p)))
                        .map(str::to_owned),
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
                        local_cseq: 0,
                        pending_invite: Some(key.clone()),
                        reliable_2xx: None,
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
                let extra = format!("Allow: {ALLOW}\r\nAccept: application/sdp, application/dtmf-relay, application/dtmf\r\nSupported: \r\n");
                reply(self, &mut entry, 200, "OK", Some("opt"), &extra, b"");
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
    fn respond_invite(
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

    /// Send an in-dialog request (BYE) or an out-of-dialog one (NOTIFY) as a client transaction.
    #[allow(clippy::too_many_arguments)] // one argument per request field
    fn request(
        &mut self,
        to: Peer,
        method: &str,
        ruri: &str,
        from: &str,
        to_hdr: &str,
        call_id: &str,
        cseq: u32,
        extra: &str,
        body: &[u8],
        now: Instant,
    ) {
        let branch = format!("z9hG4bK{}", self.token());
        let transport = if to.reliable { "TCP" } else { "UDP" };
        let s = format!(
            "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/{transport} {};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to_hdr}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nUser-Agent: {}\r\n{extra}Content-Length: {}\r\n\r\n",
            self.cfg.advertised,
            self.cfg.user_agent,
            body.len()
        );
        let mut bytes = s.into_bytes();
        bytes.extend_from_slice(body);
        let (tx, act) = ClientTransaction::start(false, to.reliable, self.cfg.timers, bytes, now);
        if let TxAction::Send(d) = act {
            self.send(to, d);
        }
        self.clients.insert(branch, (tx, to, call_id.to_owned()));
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

    fn send_register(&mut self, to: Peer, call_id: &str, req: RegisterRequest, now: Instant) {
        let branch = format!("z9hG4bK{}", self.token());
        let transport = if to.reliable { "TCP" } else { "UDP" };
        let text = format!("REGISTER {} SIP/2.0\r\nVia: SIP/2.0/{transport} {};branch={branch};rport\r\n{}Content-Length: 0\r\n\r\n", req.uri, self.cfg.advertised, req.headers);
        let (tx, act) =
            ClientTransaction::start(false, to.reliable, self.cfg.timers, text.into_bytes(), now);
        if let TxAction::Send(d) = act {
            self.send(to, d);
        }
        self.clients.insert(branch, (tx, to, call_id.to_owned()));
    }

    fn report_registration(&mut self, call_id: &str, before: &RegState) {
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

    /// Tell a phone to re-read its configuration and restart (NOTIFY, Event: check-sync).
    pub fn notify_check_sync(&mut self, to: Peer, contact_uri: &str, now: Instant) {
        let call_id = format!("{}@selfprov", self.token());
        let tag = self.token();
        let from = format!("<sip:selfprov@{}>;tag={tag}", self.cfg.advertised);
        let to_hdr = format!("<{contact_uri}>");
        self.request(
            to,
            "NOTIFY",
            contact_uri,
            &from,
            &to_hdr,
            &call_id,
            1,
            "Event: check-sync\r\nSubscription-State: terminated\r\n",
            b"",
            now,
        );
    }

    fn on_response(&mut self, first_line: &str, headers: &[(String, String)], now: Instant) {
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

    /// The earliest time [`handle_timeout`](Self::handle_timeout) has work.
    pub fn next_timeout(&self) -> Option<Instant> {
        let s = self.servers.values().filter_map(|e| e.tx.next_timeout());
        let c = self
            .clients
            .values()
            .filter_map(|(t, _, _)| t.next_timeout());
        let d = self
            .dialogs
            .values()
            .filter_map(|d| d.reliable_2xx.as_ref().map(|r| r.next_timeout()));
        let r = self
            .registrations
            .values()
            .filter_map(|(r, _)| r.next_timeout());
        s.chain(c).chain(d).chain(r).min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let mut sends = Vec::new();
        let mut done = Vec::new();
        for (k, e) in self.servers.iter_mut() {
            if e.tx.next_timeout().is_some_and(|t| t <= now) {
                match e.tx.on_timeout(now) {
                    TxAction::Send(d) => sends.push((e.peer, d)),
                    TxAction::Terminated | TxAction::TimedOut => done.push(k.clone()),
                    TxAction::Nothing => {}
                }
            }
            if e.tx.is_terminated() && e.tx.next_timeout().is_none() && !done.contains(k) {
                // 2xx-terminated INVITE transactions: keep them only while the dialog retransmits.
                let dialog_waits = self
                    .dialogs
                    .get(&e.call_id)
                    .is_some_and(|d| d.pending_invite.as_deref() == Some(k.as_str()));
                if !dialog_waits {
                    done.push(k.clone());
                }
            }
        }
        for k in done {
            self.servers.remove(&k);
        }
        let mut ack_timeouts = Vec::new();
        for (cid, d) in self.dialogs.iter_mut() {
            if let Some(r) = &mut d.reliable_2xx {
                if r.next_timeout() <= now {
                    match r.on_timeout(now) {
                        TxAction::Send(b) => sends.push((d.peer, b)),
                        TxAction::TimedOut => ack_timeouts.push(cid.clone()),
                        _ => {}
                    }
                }
            }
        }
        let mut cdone = Vec::new();
        for (b, (tx, peer, _)) in self.clients.iter_mut() {
            if tx.next_timeout().is_some_and(|t| t <= now) || tx.is_done() {
                match tx.on_timeout(now) {
                    TxAction::Send(d) => sends.push((*peer, d)),
                    TxAction::Terminated => cdone.push((b.clone(), false)),
                    TxAction::TimedOut => cdone.push((b.clone(), true)),
                    TxAction::Nothing => {}
                }
            }
        }
        for (b, timed_out) in cdone {
            if let Some((_, _, cid)) = self.clients.remove(&b) {
                if let Some((r, _)) = self.registrations.get_mut(&cid).filter(|_| timed_out) {
                    let before = r.state().clone();
                    r.on_timeout_no_answer(now);
                    self.report_registration(&cid, &before);
                }
            }
        }
        // Registration refreshes and retries.
        let due: Vec<String> = self
            .registrations
            .iter()
            .filter(|(_, (r, _))| r.next_timeout().is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for cid in due {
            let (adv, ua) = (self.cfg.advertised.clone(), self.cfg.user_agent.clone());
            let Some((r, peer)) = self.registrations.get_mut(&cid) else {
                continue;
            };
            let peer = *peer;
            let before = r.state().clone();
            if let Some(req) = r.on_timer(now, &adv, &ua) {
                self.send_register(peer, &cid, req, now);
            }
            self.report_registration(&cid, &before);
        }
        for (p, d) in sends {
            self.send(p, d);
        }
        for cid in ack_timeouts {
            if let Some(d) = self.dialogs.get_mut(&cid) {
                d.reliable_2xx = None;
                d.state = DialogState::Confirmed;
            }
            self.hangup(&cid, now);
            // hangup() reports Local; the reason here is the missing ACK.
            if let Some(Output::Event(Event::CallEnded { reason, .. })) = self.out.back_mut() {
                *reason = EndReason::AckTimeout;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ep() -> Endpoint {
        Endpoint::new(EndpointConfig {
            advertised: "127.0.0.1:5060".into(),
            user_agent: "t".into(),
            route_point_dns: vec!["2000".into()],
            max_calls: 10,
            timers: TimerValues::default(),
        })
    }

    fn phone() -> Peer {
        Peer {
            addr: "127.0.0.1:5070".parse().unwrap(),
            reliable: false,
        }
    }

    fn invite(branch: &str) -> Vec<u8> {
        let sdp = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n";
        format!(
            "INVITE sip:2000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch={branch};rport\r\nFrom: <sip:SEP001122334455@127.0.0.1>;tag=p1\r\nTo: <sip:2000@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:SEP001122334455@127.0.0.1:5070>\r\nP-Asserted-Identity: <sip:1003@127.0.0.1>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )
        .into_bytes()
    }

    fn drain(e: &mut Endpoint) -> (Vec<String>, Vec<Event>) {
        let (mut sent, mut evs) = (vec![], vec![]);
        while let Some(o) = e.poll_output() {
            match o {
                Output::Send { data, .. } => sent.push(String::from_utf8_lossy(&data).into_owned()),
                Output::Event(ev) => evs.push(ev),
            }
        }
        (sent, evs)
    }

    #[test]
    fn incoming_call_fields_and_rport_filled() {
        let mut e = ep();
        let now = Instant::now();
        e.handle(&invite("z9hG4bKa"), phone(), now);
        let (sent, evs) = drain(&mut e);
        assert!(sent[0].starts_with("SIP/2.0 100 Trying"));
        assert!(
            sent[0].contains("received=127.0.0.1;rport=5070"),
            "{}",
            sent[0]
        );
        match &evs[0] {
            Event::IncomingCall {
                to_user,
                from_user,
                pai_user,
                contact,
                ..
            } => {
                assert_eq!(to_user, "2000");
                assert_eq!(from_user.as_deref(), Some("SEP001122334455"));
                assert_eq!(pai_user.as_deref(), Some("1003"));
                assert_eq!(
                    contact.as_deref(),
                    Some("sip:SEP001122334455@127.0.0.1:5070")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_ack_means_bye_after_64_t1_and_tables_empty() {
        let mut e = ep();
        let t0 = Instant::now();
        e.handle(&invite("z9hG4bKb"), phone(), t0);
        drain(&mut e);
        assert!(e.answer("c1", b"v=0\r\n", t0));
        let (sent, _) = drain(&mut e);
        assert!(
            sent[0].starts_with("SIP/2.0 200 OK")
                && sent[0].contains("Content-Type: application/sdp")
        );
        // 2xx retransmitted on T1 doubling, then BYE at 32 s.
        let mut now = t0;
        let mut retrans = 0;
        let mut bye = None;
        while let Some(t) = e.next_timeout() {
            if t > t0 + Duration::from_secs(120) {
                break;
            }
            now = t;
            e.handle_timeout(now);
            let (sent, evs) = drain(&mut e);
            retrans += sent.iter().filter(|s| s.starts_with("SIP/2.0 200")).count();
            if let Some(b) = sent
                .iter()
                .find(|s| s.starts_with("BYE "))
                .filter(|_| bye.is_none())
            {
                bye = Some((b.clone(), now - t0));
                assert!(evs.contains(&Event::CallEnded {
                    call_id: "c1".into(),
                    reason: EndReason::AckTimeout
                }));
            }
        }
        let (b, at) = bye.expect("BYE sent");
        assert_eq!(at.as_secs(), 32);
        assert!(
            b.starts_with("BYE sip:SEP001122334455@127.0.0.1:5070 SIP/2.0"),
            "{b}"
        );
        assert!(
            b.contains("To: <sip:SEP001122334455@127.0.0.1>;tag=p1") && b.contains("CSeq: 1 BYE"),
            "{b}"
        );
        assert!(retrans >= 6);
        let _ = now;
        assert_eq!(e.table_sizes(), (0, 0, 0));
    }

    #[test]
    fn our_bye_and_notify_check_sync() {
        let mut e = ep();
        let now = Instant::now();
        e.handle(&invite("z9hG4bKc"), phone(), now);
        e.answer("c1", b"v=0\r\n", now);
        drain(&mut e);
        let ack = "ACK sip:selfprov@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKack\r\nFrom: <sip:SEP001122334455@127.0.0.1>;tag=p1\r\nTo: <sip:2000@127.0.0.1>;tag=x\r\nCall-ID: c1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n";
        e.handle(ack.as_bytes(), phone(), now);
        let (_, evs) = drain(&mut e);
        assert_eq!(
            evs,
            [Event::CallConfirmed {
                call_id: "c1".into()
            }]
        );
        e.hangup("c1", now);
        let (sent, evs) = drain(&mut e);
        assert!(sent[0].starts_with("BYE "));
        assert_eq!(
            evs,
            [Event::CallEnded {
                call_id: "c1".into(),
                reason: EndReason::Local
            }]
        );
        e.notify_check_sync(phone(), "sip:SEP001122334455@127.0.0.1:5070", now);
        let (sent, _) = drain(&mut e);
        assert!(sent[0].starts_with("NOTIFY sip:SEP001122334455@127.0.0.1:5070 SIP/2.0"));
        assert!(
            sent[0].contains("Event: check-sync\r\n")
                && sent[0].contains("Subscription-State: terminated")
        );
    }

    #[test]
    fn invite_retransmission_absorbed() {
        let mut e = ep();
        let now = Instant::now();
        e.handle(&invite("z9hG4bKd"), phone(), now);
        let (_, evs) = drain(&mut e);
        assert_eq!(evs.len(), 1);
        e.handle(&invite("z9hG4bKd"), phone(), now);
        let (sent, evs) = drain(&mut e);
        assert!(evs.is_empty(), "no second IncomingCall");
        assert!(sent[0].starts_with("SIP/2.0 100"));
        e.answer("c1", b"v=0\r\n", now);
        drain(&mut e);
        e.handle(&invite("z9hG4bKd"), phone(), now);
        let (sent, _) = drain(&mut e);
        assert!(
            sent[0].starts_with("SIP/2.0 200"),
            "2xx resent for a late retransmission"
        );
    }
}
