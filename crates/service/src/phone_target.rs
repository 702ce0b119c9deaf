//! Where a request outside any call goes to reach a phone (NOTIFY check-sync after its call):
//! 1. the phone is registered at the built-in registrar: straight to the contact it registered
//!    (we are its registrar, so the binding is the authority on where it is);
//! 2. `sip.outbound_proxy` is set: to the caller's address-of-record — the From URI of its
//!    INVITE, `sip:<device or DN>@<registrar domain>` — with the proxy as a preloaded loose route
//!    (`Route: <sip:proxy;lr>`), sent to the proxy. The registrar behind it looks the AOR up and
//!    forwards to every contact the phone registered, NAT and Path included; a Contact URI as
//!    Request-URI would be relayed blindly (or refused: Kamailio's default configuration answers
//!    `403 Not relaying` to a request for a foreign domain from a foreign domain);
//! 3. otherwise: to the INVITE's Contact, at its own address when it is an IP address, else where
//!    the INVITE came from (NAT).

use crate::registrar::Binding;
use selfprov_config::HostPort;
use selfprov_sip::endpoint::{OutOfDialogTarget, Peer, RouteSet, Transport};
use std::net::{SocketAddr, ToSocketAddrs};

/// `sip.outbound_proxy` with the address it resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutboundProxy {
    pub host_port: HostPort,
    pub addr: SocketAddr,
}

impl OutboundProxy {
    /// Resolve the configured proxy (DNS: call it off the event loop).
    pub fn resolve(hp: Option<&HostPort>) -> Result<Option<OutboundProxy>, String> {
        let Some(hp) = hp else {
            return Ok(None);
        };
        let host = hp.host.trim_start_matches('[').trim_end_matches(']');
        let addr = (host, hp.port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| format!("sip.outbound_proxy `{hp}` does not resolve"))?;
        Ok(Some(OutboundProxy {
            host_port: hp.clone(),
            addr,
        }))
    }
}

/// What a call's INVITE said about where its caller is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller<'a> {
    /// The From URI: the caller's address-of-record.
    pub aor: Option<&'a str>,
    pub contact: Option<&'a str>,
    /// Where the INVITE came from (the phone, or the last proxy).
    pub source: Peer,
}

/// Where NOTIFY check-sync for `caller` goes (see the module's order), if anywhere.
pub(crate) fn check_sync_target(
    caller: Caller<'_>,
    binding: Option<&Binding>,
    proxy: Option<&OutboundProxy>,
) -> Option<OutOfDialogTarget> {
    if let Some(b) = binding {
        return Some(direct(&b.contact, b.source));
    }
    if let Some(p) = proxy {
        return caller.aor.or(caller.contact).map(|uri| through(p, uri));
    }
    caller.contact.map(|c| direct(c, caller.source))
}

/// Where NOTIFY check-sync goes for a device changed outside any call (a release, move or
/// replace through the API): its binding here, else through the outbound proxy to its
/// address-of-record `aor`; with neither there is no INVITE to fall back on.
pub(crate) fn device_target(
    aor: Option<&str>,
    binding: Option<&Binding>,
    proxy: Option<&OutboundProxy>,
) -> Option<OutOfDialogTarget> {
    match (binding, proxy) {
        (Some(b), _) => Some(direct(&b.contact, b.source)),
        (None, Some(p)) => aor.map(|uri| through(p, uri)),
        (None, None) => None,
    }
}

/// To `uri` through the outbound proxy, as a preloaded loose route.
fn through(p: &OutboundProxy, uri: &str) -> OutOfDialogTarget {
    OutOfDialogTarget {
        uri: uri.to_owned(),
        route: RouteSet::outbound_proxy(&p.host_port.to_string()),
        next_hop: Peer::udp(p.addr),
    }
}

/// Straight to a contact: its own address when it is an IP address, else where the phone's
/// requests come from; over TCP only on the connection the phone opened. A phone that registered
/// over TLS is reached on its own TLS connection (never by plain UDP, and a phone's TLS port would
/// need a certificate of its own, which phones seldom have).
fn direct(contact: &str, source: Peer) -> OutOfDialogTarget {
    if source.transport == Transport::Tls {
        return OutOfDialogTarget {
            uri: contact.to_owned(),
            route: RouteSet::default(),
            next_hop: source,
        };
    }
    let addr = contact
        .split_once('@')
        .map(|(_, h)| h.split(';').next().unwrap_or(h))
        .and_then(|hp| hp.parse::<SocketAddr>().ok())
        .unwrap_or(source.addr);
    OutOfDialogTarget {
        uri: contact.to_owned(),
        route: RouteSet::default(),
        next_hop: Peer {
            addr,
            transport: if addr == source.addr {
                source.transport
            } else {
                Transport::Udp
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn call<'a>(aor: Option<&'a str>, contact: Option<&'a str>) -> Caller<'a> {
        Caller {
            aor,
            contact,
            source: peer("127.0.0.1:5070"),
        }
    }

    fn peer(a: &str) -> Peer {
        Peer::udp(a.parse().unwrap())
    }

    /// A live binding of `contact` from 10.2.2.2:5060.
    fn binding(contact: &str) -> Binding {
        Binding {
            contact: contact.into(),
            source: peer("10.2.2.2:5060"),
            until: Instant::now() + Duration::from_secs(60),
            dn: "1000".into(),
            proof: crate::registrar::Proof::Digest { generation: 1 },
            user_agent: None,
        }
    }

    fn proxy() -> OutboundProxy {
        OutboundProxy::resolve(Some(&"127.0.0.1:5070".parse().unwrap()))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn through_the_outbound_proxy_to_the_address_of_record() {
        let c = call(
            Some("sip:SEP001122334455@pbx.example"),
            Some("sip:SEP001122334455@10.1.1.1:5062"),
        );
        let t = check_sync_target(c, None, Some(&proxy())).unwrap();
        assert_eq!(t.uri, "sip:SEP001122334455@pbx.example");
        assert_eq!(t.route, RouteSet::outbound_proxy("127.0.0.1:5070"));
        assert_eq!(t.next_hop, peer("127.0.0.1:5070"));
        // No From URI: the Contact, still through the proxy.
        let t = check_sync_target(
            call(None, Some("sip:SEP1@10.1.1.1:5062")),
            None,
            Some(&proxy()),
        )
        .unwrap();
        assert_eq!(
            (t.uri.as_str(), t.next_hop),
            ("sip:SEP1@10.1.1.1:5062", peer("127.0.0.1:5070"))
        );
    }

    #[test]
    fn a_phone_registered_here_gets_it_at_its_binding() {
        let b = binding("sip:SEP001122334455@10.2.2.2:5060");
        let c = call(Some("sip:SEP001122334455@pbx.example"), None);
        let t = check_sync_target(c, Some(&b), Some(&proxy())).unwrap();
        assert_eq!(t.uri, "sip:SEP001122334455@10.2.2.2:5060");
        assert!(t.route.is_empty());
        assert_eq!(t.next_hop, peer("10.2.2.2:5060"));
    }

    #[test]
    fn a_phone_registered_over_tls_gets_it_on_its_own_connection() {
        let mut b = binding("sip:SEP001122334455@10.2.2.2:5061;transport=tls");
        b.source = Peer::tls("10.2.2.2:40312".parse().unwrap());
        let c = call(Some("sip:SEP001122334455@pbx.example"), None);
        let t = check_sync_target(c, Some(&b), None).unwrap();
        assert_eq!(t.uri, "sip:SEP001122334455@10.2.2.2:5061;transport=tls");
        assert_eq!(t.next_hop, b.source);
    }

    #[test]
    fn without_a_proxy_the_invite_contact_directly() {
        let c = call(
            Some("sip:SEP001122334455@pbx.example"),
            Some("sip:SEP001122334455@10.1.1.1:5062"),
        );
        let t = check_sync_target(c, None, None).unwrap();
        assert_eq!(t.uri, "sip:SEP001122334455@10.1.1.1:5062");
        assert!(t.route.is_empty());
        assert_eq!(t.next_hop, peer("10.1.1.1:5062"));
        // A contact by name: where the INVITE came from.
        let t = check_sync_target(call(None, Some("sip:p@phone.example")), None, None).unwrap();
        assert_eq!(t.next_hop, peer("127.0.0.1:5070"));
        assert!(check_sync_target(call(None, None), None, None).is_none());
    }

    #[test]
    fn a_device_changed_outside_a_call_at_its_binding_else_through_the_proxy() {
        let b = binding("sip:SEP1@10.2.2.2:5060");
        let aor = Some("sip:SEP1@pbx.example");
        let t = device_target(aor, Some(&b), Some(&proxy())).unwrap();
        assert_eq!(
            (t.uri.as_str(), t.next_hop),
            ("sip:SEP1@10.2.2.2:5060", peer("10.2.2.2:5060"))
        );
        let t = device_target(aor, None, Some(&proxy())).unwrap();
        assert_eq!(
            (t.uri.as_str(), t.next_hop),
            ("sip:SEP1@pbx.example", peer("127.0.0.1:5070"))
        );
        assert!(device_target(aor, None, None).is_none());
        assert!(device_target(None, None, Some(&proxy())).is_none());
    }

    #[test]
    fn an_unresolvable_proxy_is_an_error_naming_the_key() {
        let e = OutboundProxy::resolve(Some(&"no-such-host.invalid:5060".parse().unwrap()))
            .unwrap_err();
        assert!(e.contains("sip.outbound_proxy"), "{e}");
        assert_eq!(OutboundProxy::resolve(None), Ok(None));
    }
}
