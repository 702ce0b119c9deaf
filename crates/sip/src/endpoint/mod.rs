//! The route point's SIP user agent server, sans I/O. The driver feeds it datagrams (with their
//! source) and the time, and takes out what to send and the events for the application. It
//! answers on its own what needs no application decision — 100 Trying, OPTIONS, BYE, CANCEL (with
//! 487), unknown methods (405), requests for a DN that is not ours (404), calls over capacity
//! (486) or while not accepting (503 + Retry-After), malformed requests (400 with a reason) — and
//! hands up new calls, re-INVITEs, INFO and REGISTER.
//!
//! The endpoint is cut by responsibility: `uas` takes requests in and answers them, `dialog` holds
//! the calls' dialog state and what the application does to a call (ring, answer, reject, hang
//! up, requests inside the dialog), `route` addresses requests through proxies (route sets from
//! Record-Route, loose and strict routing, Route entries naming us), `uac` sends our own requests
//! (BYE, NOTIFY check-sync, REGISTER with digest) and takes their responses, and `timers` drives
//! the retransmissions and timeouts of all of them, and `limits` applies the per-source request
//! rate limits before any of that. This file holds
//! the public types, the [`Endpoint`] with its tables, and [`Endpoint::handle`], which tells
//! requests from responses.

mod dialog;
mod limits;
mod route;
mod timers;
mod uac;
mod uas;

pub use route::{peer_for, Addressed, OutOfDialogTarget, Route, RouteSet};

use crate::message::raw_headers;
use crate::rate_limit::{RequestLimiter, RequestLimits};
use crate::registration::{RegState, Registration};
use crate::transaction::{ClientTransaction, TimerValues};
use dialog::Dialog;
use route::OwnAddresses;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;
use uas::ServerEntry;

pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, REGISTER";

/// The transport a message came or goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    /// SIP over TLS over TCP (RFC 3261 §26.2; `sips:`, `;transport=tls`).
    Tls,
}

impl Transport {
    /// Reliable transports (TCP, TLS) need no retransmissions.
    pub fn is_reliable(self) -> bool {
        self != Transport::Udp
    }

    /// The name in a `Via` (`SIP/2.0/TLS`).
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// What a URI of ours carries so that a proxy or phone reaches us on this transport (UDP is
    /// the default and says nothing).
    pub fn uri_param(self) -> &'static str {
        match self {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
        }
    }

    /// The lower-case name (`udp`, `tcp`, `tls`), as a `transport` parameter writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }
}

/// Where a message came from / goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub addr: SocketAddr,
    pub transport: Transport,
}

impl Peer {
    pub fn udp(addr: SocketAddr) -> Peer {
        Peer {
            addr,
            transport: Transport::Udp,
        }
    }

    pub fn tcp(addr: SocketAddr) -> Peer {
        Peer {
            addr,
            transport: Transport::Tcp,
        }
    }

    pub fn tls(addr: SocketAddr) -> Peer {
        Peer {
            addr,
            transport: Transport::Tls,
        }
    }

    /// Over TCP or TLS: no retransmissions.
    pub fn reliable(&self) -> bool {
        self.transport.is_reliable()
    }
}

#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// host:port written in Via and Contact.
    pub advertised: String,
    /// The address the stack listens on (filled in by the stack). `Route` entries naming it or
    /// `advertised` are ours to consume.
    pub listen: Option<SocketAddr>,
    /// The SIP-over-TLS listener's address, when there is one (filled in by the stack): Via and
    /// Contact on TLS name `advertised`'s host with this port.
    pub tls_listen: Option<SocketAddr>,
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
        /// The From URI: the caller's address-of-record.
        from_uri: Option<String>,
        /// P-Asserted-Identity user part, if present (believe it only from a trusted proxy).
        pai_user: Option<String>,
        /// The `Authorization` header, if the caller answered a challenge.
        authorization: Option<String>,
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

/// The sans-I/O UAS.
pub struct Endpoint {
    cfg: EndpointConfig,
    /// host:port written in Via and Contact on TLS (`advertised` with the TLS port).
    advertised_tls: String,
    own: OwnAddresses,
    accepting: Option<u32>, // None: accepting; Some(retry_after)
    /// Server transactions by `branch|method` (see `uas`).
    servers: HashMap<String, ServerEntry>,
    /// Calls by Call-ID (see `dialog`).
    dialogs: HashMap<String, Dialog>,
    /// Our client transactions by branch, with the peer and the Call-ID (see `uac`).
    clients: HashMap<String, (ClientTransaction, Peer, String)>,
    /// Route-point registrations by their Call-ID, with the registrar's address.
    registrations: HashMap<String, (Registration, Peer)>,
    out: VecDeque<Output>,
    counter: u64,
    /// Per-source request rate limits (see `limits`).
    limiter: RequestLimiter,
}

fn hval<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

impl Endpoint {
    pub fn new(cfg: EndpointConfig) -> Self {
        let advertised_tls = route::advertised_tls(&cfg.advertised, cfg.tls_listen);
        Endpoint {
            own: OwnAddresses::new(&cfg.advertised, cfg.listen)
                .with_tls(&advertised_tls, cfg.tls_listen),
            advertised_tls,
            cfg,
            accepting: None,
            servers: HashMap::new(),
            dialogs: HashMap::new(),
            clients: HashMap::new(),
            registrations: HashMap::new(),
            out: VecDeque::new(),
            counter: 0,
            limiter: RequestLimiter::new(RequestLimits::off()),
        }
    }

    /// Limit requests per source address (docs/security.md); off until set.
    pub fn set_request_limits(&mut self, limits: RequestLimits) {
        self.limiter = RequestLimiter::new(limits);
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

    /// host:port we write in Via and Contact for a message on `transport`.
    fn advertised(&self, transport: Transport) -> &str {
        if transport == Transport::Tls {
            &self.advertised_tls
        } else {
            &self.cfg.advertised
        }
    }

    fn send(&mut self, to: Peer, data: Vec<u8>) {
        self.out.push_back(Output::Send { to, data });
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
        self.on_request(&first_line, headers, data, head_end, source, now);
    }
}

#[cfg(test)]
mod proxy_tests;
#[cfg(test)]
mod tests;
