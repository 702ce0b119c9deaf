//! Routing through proxies (RFC 3261 §12, §16.12, §20.30, §20.34). A proxy that wants to stay on
//! a dialog's path puts its `Record-Route` in the INVITE; as the UAS we copy those values into
//! our 18x/2xx (`uas::build_response`) and keep them, in the order received, as the dialog's
//! route set. Every request we send in the dialog carries them as `Route`:
//! - loose routing (the first route has `;lr`): Request-URI = the remote target, Route = the
//!   route set, sent to the first route;
//! - strict routing (a first route without `;lr`, an RFC 2543 proxy): Request-URI = the first
//!   route, Route = the remaining routes followed by the remote target, sent to the first route.
//!
//! An out-of-dialog request (NOTIFY check-sync) is addressed the same way with a preloaded route
//! set: the outbound proxy. Requests coming in whose top `Route` entries name us have them
//! consumed (§16.4: we are the hop they were meant for).

use super::{Peer, Transport};
use crate::headers::{uri_host_port, uri_of, uri_param};
use crate::message::split_commas;
use std::net::{IpAddr, SocketAddr};

/// One route: the name-addr as the proxy wrote it, every parameter kept (`lr`, `ftag`, `r2`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route(String);

impl Route {
    /// A `Record-Route`/`Route` value (`<sip:p;lr>;x=y`); a bare URI is put in angle brackets.
    /// `None` when empty.
    pub fn new(value: &str) -> Option<Route> {
        let v = value.trim();
        if v.is_empty() {
            None
        } else if v.contains('<') {
            Some(Route(v.to_owned()))
        } else {
            Some(Route(format!("<{v}>")))
        }
    }

    /// The route's URI (`sip:p;lr`).
    pub fn uri(&self) -> &str {
        uri_of(&self.0)
    }

    /// A loose router (`;lr` in the URI) keeps the Request-URI as it is.
    pub fn is_loose(&self) -> bool {
        uri_param(self.uri(), "lr").is_some()
    }

    /// The value as written in a `Route` header.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The routes a request goes through, first hop first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteSet(Vec<Route>);

/// How a request is written and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressed {
    pub request_uri: String,
    /// `Route` header values, in order.
    pub route: Vec<String>,
    /// The URI whose address gets the request: the first route, or the target itself.
    pub next_hop: String,
}

impl RouteSet {
    /// A UAS's route set: every `Record-Route` value of the request, in the order received
    /// (§12.1.1), comma-joined headers split.
    pub fn from_record_route(headers: &[(String, String)]) -> RouteSet {
        RouteSet(
            headers
                .iter()
                .filter(|(k, _)| k == "record-route")
                .flat_map(|(_, v)| split_commas(v))
                .filter_map(|v| Route::new(&v))
                .collect(),
        )
    }

    /// A preloaded route set of one loose route: the outbound proxy at `host:port` (§8.1.2).
    pub fn outbound_proxy(host_port: &str) -> RouteSet {
        RouteSet(vec![Route(format!("<sip:{host_port};lr>"))])
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn routes(&self) -> &[Route] {
        &self.0
    }

    /// Address a request for `target` (the dialog's remote target, or an out-of-dialog
    /// Request-URI) through this route set (§12.2.1.1).
    pub fn address(&self, target: &str) -> Addressed {
        let all = || self.0.iter().map(|r| r.as_str().to_owned());
        match self.0.first() {
            None => Addressed {
                request_uri: target.to_owned(),
                route: Vec::new(),
                next_hop: target.to_owned(),
            },
            Some(first) if first.is_loose() => Addressed {
                request_uri: target.to_owned(),
                route: all().collect(),
                next_hop: first.uri().to_owned(),
            },
            Some(first) => Addressed {
                request_uri: request_uri_of(first.uri()),
                route: all()
                    .skip(1)
                    .chain(std::iter::once(format!("<{target}>")))
                    .collect(),
                next_hop: first.uri().to_owned(),
            },
        }
    }
}

/// Where an out-of-dialog request of ours goes: its Request-URI (also its `To`), the routes it is
/// preloaded with (an outbound proxy, or none), and the address it is sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfDialogTarget {
    pub uri: String,
    pub route: RouteSet,
    pub next_hop: Peer,
}

/// A URI as a Request-URI: without the `method` parameter and headers, which §19.1.1 does not
/// allow there.
fn request_uri_of(uri: &str) -> String {
    let uri = uri.split('?').next().unwrap_or(uri);
    let mut parts = uri.split(';');
    let mut out = parts.next().unwrap_or("").to_owned();
    for p in parts.filter(|p| {
        !p.split('=')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("method")
    }) {
        out.push(';');
        out.push_str(p);
    }
    out
}

/// Where to send a request whose next hop is `uri`: its address when the host is an IP address,
/// over the transport its `transport` parameter says (`sips:` is always TLS), else over the
/// transport the dialog came in on (`fallback`'s); port 5060, or 5061 over TLS, when none is
/// given. A host name gives `fallback` (the peer the dialog came from): the sans-I/O endpoint
/// resolves no names, and the proxy that record-routed nearest to us is the one that sent us the
/// INVITE.
pub fn peer_for(uri: &str, fallback: Peer) -> Peer {
    let Some((host, port)) = uri_host_port(uri) else {
        return fallback;
    };
    let Ok(ip) = host.parse::<IpAddr>() else {
        return fallback;
    };
    let transport = if is_sips(uri) {
        Transport::Tls
    } else {
        match uri_param(uri, "transport") {
            Some(t) if t.eq_ignore_ascii_case("udp") => Transport::Udp,
            Some(t) if t.eq_ignore_ascii_case("tcp") => Transport::Tcp,
            Some(t) if t.eq_ignore_ascii_case("tls") => Transport::Tls,
            _ => fallback.transport,
        }
    };
    let default_port = if transport == Transport::Tls {
        5061
    } else {
        5060
    };
    Peer {
        addr: SocketAddr::new(ip, port.unwrap_or(default_port)),
        transport,
    }
}

/// Whether `uri` is a `sips:` URI (RFC 3261 §19.1: reached over TLS only).
pub fn is_sips(uri: &str) -> bool {
    uri.get(..5)
        .is_some_and(|s| s.eq_ignore_ascii_case("sips:"))
}

/// host:port we write on TLS: `advertised`'s host with the TLS listener's port (`advertised`
/// itself when there is no TLS listener).
pub(super) fn advertised_tls(advertised: &str, tls_listen: Option<SocketAddr>) -> String {
    let Some(tls) = tls_listen else {
        return advertised.to_owned();
    };
    match uri_host_port(&format!("sip:{advertised}")) {
        Some((host, _)) if host.contains(':') => format!("[{host}]:{}", tls.port()),
        Some((host, _)) if !host.is_empty() => format!("{host}:{}", tls.port()),
        _ => tls.to_string(),
    }
}

/// Our own addresses as `Route` entries may name them: the advertised `host[:port]` and the
/// address we listen on.
#[derive(Debug, Clone, Default)]
pub(super) struct OwnAddresses(Vec<(String, u16)>);

impl OwnAddresses {
    pub(super) fn new(advertised: &str, listen: Option<SocketAddr>) -> Self {
        let mut own = Vec::new();
        if let Some((h, p)) = uri_host_port(&format!("sip:{advertised}")) {
            own.push((h.to_ascii_lowercase(), p.unwrap_or(5060)));
        }
        if let Some(a) = listen {
            own.push((a.ip().to_string(), a.port()));
        }
        OwnAddresses(own)
    }

    /// Add the TLS listener's addresses (advertised and bound).
    pub(super) fn with_tls(mut self, advertised_tls: &str, tls_listen: Option<SocketAddr>) -> Self {
        if let Some(a) = tls_listen {
            let adv = OwnAddresses::new(advertised_tls, Some(a));
            self.0.extend(adv.0);
        }
        self
    }

    /// Whether `uri` is one of our addresses (IP addresses compared as addresses, names without
    /// regard to case; no port means 5060, or 5061 for `sips:`).
    pub(super) fn names(&self, uri: &str) -> bool {
        let Some((host, port)) = uri_host_port(uri) else {
            return false;
        };
        let tls = is_sips(uri)
            || uri_param(uri, "transport").is_some_and(|t| t.eq_ignore_ascii_case("tls"));
        let port = port.unwrap_or(if tls { 5061 } else { 5060 });
        let ip = host.parse::<IpAddr>().ok();
        self.0.iter().any(|(h, p)| {
            *p == port
                && match (ip, h.parse::<IpAddr>().ok()) {
                    (Some(a), Some(b)) => a == b,
                    _ => h.eq_ignore_ascii_case(host),
                }
        })
    }

    /// Remove the leading `Route` values of a request that name us (a loose router before us
    /// left them, or a preloaded route set lists us); the others stay, in order. Returns how many
    /// were consumed.
    pub(super) fn consume_routes(&self, headers: &mut Vec<(String, String)>) -> usize {
        let Some(at) = headers.iter().position(|(k, _)| k == "route") else {
            return 0;
        };
        let routes: Vec<String> = headers
            .iter()
            .filter(|(k, _)| k == "route")
            .flat_map(|(_, v)| split_commas(v))
            .collect();
        let ours = routes.iter().take_while(|r| self.names(uri_of(r))).count();
        if ours == 0 {
            return 0;
        }
        headers.retain(|(k, _)| k != "route");
        let rest = routes
            .into_iter()
            .skip(ours)
            .map(|r| ("route".to_owned(), r));
        let tail = headers.split_off(at.min(headers.len()));
        headers.extend(rest);
        headers.extend(tail);
        ours
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rr(values: &[&str]) -> Vec<(String, String)> {
        values
            .iter()
            .map(|v| ("record-route".to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn route_set_keeps_record_route_order_and_parameters() {
        let set = RouteSet::from_record_route(&rr(&[
            "<sip:10.0.0.2:5060;lr;ftag=a>, <sip:10.0.0.1;transport=tcp;lr>",
            "<sip:p3.example.com;lr>",
        ]));
        let uris: Vec<&str> = set.routes().iter().map(Route::uri).collect();
        assert_eq!(
            uris,
            [
                "sip:10.0.0.2:5060;lr;ftag=a",
                "sip:10.0.0.1;transport=tcp;lr",
                "sip:p3.example.com;lr"
            ]
        );
        assert!(RouteSet::from_record_route(&[]).is_empty());
    }

    #[test]
    fn loose_routing_keeps_the_target_as_request_uri() {
        let set = RouteSet::from_record_route(&rr(&["<sip:p2;lr>", "<sip:p1;lr;ftag=x>"]));
        let a = set.address("sip:phone@10.0.0.9:5062");
        assert_eq!(a.request_uri, "sip:phone@10.0.0.9:5062");
        assert_eq!(a.route, ["<sip:p2;lr>", "<sip:p1;lr;ftag=x>"]);
        assert_eq!(a.next_hop, "sip:p2;lr");
    }

    #[test]
    fn strict_router_gets_the_request_uri_and_the_target_goes_last() {
        let set = RouteSet::from_record_route(&rr(&[
            "<sip:p2.example.com;maddr=10.0.0.2;method=INVITE?X=y>",
            "<sip:p1;lr>",
        ]));
        let a = set.address("sip:phone@10.0.0.9");
        assert_eq!(a.request_uri, "sip:p2.example.com;maddr=10.0.0.2");
        assert_eq!(a.route, ["<sip:p1;lr>", "<sip:phone@10.0.0.9>"]);
        assert_eq!(
            a.next_hop,
            "sip:p2.example.com;maddr=10.0.0.2;method=INVITE?X=y"
        );
    }

    #[test]
    fn no_route_set_goes_to_the_target() {
        let a = RouteSet::default().address("sip:phone@10.0.0.9");
        assert_eq!(
            (a.request_uri.as_str(), a.route.len(), a.next_hop.as_str()),
            ("sip:phone@10.0.0.9", 0, "sip:phone@10.0.0.9")
        );
    }

    #[test]
    fn outbound_proxy_is_one_loose_route() {
        let a = RouteSet::outbound_proxy("127.0.0.1:5070").address("sip:SEP1@pbx.example");
        assert_eq!(a.request_uri, "sip:SEP1@pbx.example");
        assert_eq!(a.route, ["<sip:127.0.0.1:5070;lr>"]);
    }

    #[test]
    fn next_hop_address_and_transport() {
        let udp = Peer::udp("127.0.0.1:40000".parse().unwrap());
        let tcp = Peer::tcp(udp.addr);
        let p = |u: &str, f: Peer| {
            let x = peer_for(u, f);
            (x.addr.to_string(), x.reliable())
        };
        assert_eq!(
            p("sip:10.0.0.1:5070;lr", udp),
            ("10.0.0.1:5070".into(), false)
        );
        assert_eq!(p("sip:10.0.0.1;lr", udp), ("10.0.0.1:5060".into(), false));
        assert_eq!(
            p("sip:10.0.0.1:5070;transport=TCP;lr", udp),
            ("10.0.0.1:5070".into(), true)
        );
        assert_eq!(
            p("sip:10.0.0.1:5070;transport=udp;lr", tcp),
            ("10.0.0.1:5070".into(), false)
        );
        // The same address the dialog came from: the same transport.
        assert_eq!(
            p("sip:127.0.0.1:40000;lr", tcp),
            ("127.0.0.1:40000".into(), true)
        );
        assert_eq!(p("sip:[::1]:5070;lr", udp), ("[::1]:5070".into(), false));
        // A name: where the dialog came from.
        assert_eq!(
            p("sip:proxy.example.com;lr", udp),
            ("127.0.0.1:40000".into(), false)
        );
    }

    #[test]
    fn next_hop_over_tls_sips_and_its_default_port() {
        let udp = Peer::udp("127.0.0.1:40000".parse().unwrap());
        let tls = Peer::tls(udp.addr);
        // (next hop, the dialog's peer, where it goes)
        let cases = [
            ("sip:10.0.0.1;transport=TLS;lr", udp, "tls 10.0.0.1:5061"),
            ("sips:ph@10.0.0.1:5071", udp, "tls 10.0.0.1:5071"),
            ("sips:10.0.0.1;lr", udp, "tls 10.0.0.1:5061"),
            // No transport parameter: the dialog's transport, with its default port.
            ("sip:ph@10.0.0.1", tls, "tls 10.0.0.1:5061"),
            ("sip:ph@10.0.0.1;transport=tcp", tls, "tcp 10.0.0.1:5060"),
        ];
        for (uri, fallback, want) in cases {
            let p = peer_for(uri, fallback);
            assert_eq!(
                format!("{} {}", p.transport.as_str(), p.addr),
                want,
                "{uri}"
            );
        }
    }

    #[test]
    fn the_tls_address_we_advertise_and_recognise() {
        let tls = Some("0.0.0.0:5061".parse().unwrap());
        assert_eq!(advertised_tls("pbx.example:5060", tls), "pbx.example:5061");
        assert_eq!(
            advertised_tls("[2001:db8::1]:5060", tls),
            "[2001:db8::1]:5061"
        );
        assert_eq!(advertised_tls("192.0.2.1:5060", None), "192.0.2.1:5060");
        let own = OwnAddresses::new("192.0.2.1:5060", None).with_tls("192.0.2.1:5061", tls);
        assert!(own.names("sip:192.0.2.1:5061;transport=tls;lr"));
        assert!(own.names("sips:192.0.2.1;lr"), "5061 is TLS's default port");
        assert!(own.names("sip:192.0.2.1;transport=tls;lr"));
        assert!(!own.names("sip:192.0.2.1:5062;lr"));
    }

    #[test]
    fn routes_naming_us_are_consumed_others_kept_in_order() {
        let own = OwnAddresses::new("198.51.100.7:5060", Some("10.0.0.5:5080".parse().unwrap()));
        assert!(own.names("sip:198.51.100.7;lr"));
        assert!(own.names("sip:10.0.0.5:5080;lr;transport=tcp"));
        assert!(!own.names("sip:10.0.0.5;lr"), "port 5060 is not our 5080");
        assert!(!own.names("sip:10.0.0.6:5080;lr"));
        let mut h = vec![
            ("via".to_owned(), "SIP/2.0/UDP p".to_owned()),
            (
                "route".to_owned(),
                "<sip:198.51.100.7;lr>, <sip:10.0.0.5:5080;lr>".to_owned(),
            ),
            ("route".to_owned(), "<sip:next.example;lr>".to_owned()),
            ("call-id".to_owned(), "c".to_owned()),
        ];
        assert_eq!(own.consume_routes(&mut h), 2);
        assert_eq!(
            h,
            [
                ("via".to_owned(), "SIP/2.0/UDP p".to_owned()),
                ("route".to_owned(), "<sip:next.example;lr>".to_owned()),
                ("call-id".to_owned(), "c".to_owned()),
            ]
        );
        // A foreign top route: nothing is ours to consume.
        assert_eq!(own.consume_routes(&mut h), 0);
        let named = OwnAddresses::new("SelfProv.Example.com", None);
        assert!(named.names("sip:selfprov.example.com;lr"));
        assert!(
            !named.names("sips:selfprov.example.com;lr"),
            "sips: is 5061"
        );
    }
}
