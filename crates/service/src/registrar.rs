//! The built-in registrar's pure parts: what a REGISTER says about the phone, and the bindings
//! (where each registered phone is, how it proved who it is). An INVITE is tied to a binding by
//! its source address and Contact in `registrar.phone_auth = "binding"`; in `"digest"` mode the
//! binding only says where the phone is (the device comes from the digest user name, see
//! `phone_auth`).

use selfprov_provisioning::model::DeviceName;
use selfprov_sip::endpoint::Peer;
use selfprov_sip::headers::{param, uri_of, uri_user};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How a registered phone proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// Digest with this generation of the device's secret.
    Digest { generation: u32 },
    /// Nothing but its name (`registrar.phone_auth = "binding"`).
    Binding,
}

/// Where a registered phone can be reached.
#[derive(Debug, Clone)]
pub struct Binding {
    pub contact: String,
    pub source: Peer,
    pub until: Instant,
    /// The DN the device had when it registered.
    pub dn: String,
    pub proof: Proof,
    pub user_agent: Option<String>,
}

/// A registration as operators see it (`/registrations`, `selfprov registrations`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RegistrationView {
    pub device: String,
    pub dn: String,
    pub contact: String,
    /// `ip:port` the REGISTER came from.
    pub source: String,
    pub transport: String,
    /// Seconds left.
    pub expires_in: u64,
    /// `digest` or `binding`.
    pub auth: String,
    pub user_agent: Option<String>,
}

/// The bindings, by device and by the address their REGISTER came from.
#[derive(Debug, Default)]
pub struct Bindings {
    by_device: HashMap<String, Binding>,
    by_source: HashMap<SocketAddr, Vec<String>>,
}

/// A URI without its parameters and headers, for comparing Contacts: `sip:user@host:port`.
fn uri_address(uri: &str) -> &str {
    let u = uri_of(uri);
    u.split([';', '?']).next().unwrap_or(u)
}

impl Bindings {
    pub fn set(&mut self, device: &str, b: Binding) {
        let source = b.source.addr;
        if let Some(old) = self.by_device.insert(device.to_owned(), b) {
            self.unindex(device, old.source.addr);
        }
        self.by_source
            .entry(source)
            .or_default()
            .push(device.to_owned());
    }
    pub fn remove(&mut self, device: &str) {
        if let Some(old) = self.by_device.remove(device) {
            self.unindex(device, old.source.addr);
        }
    }
    fn unindex(&mut self, device: &str, source: SocketAddr) {
        if let Some(v) = self.by_source.get_mut(&source) {
            v.retain(|d| d != device);
            if v.is_empty() {
                self.by_source.remove(&source);
            }
        }
    }
    pub fn get(&self, device: &str, now: Instant) -> Option<&Binding> {
        self.by_device.get(device).filter(|b| b.until > now)
    }
    /// The device whose live binding an INVITE from `source` with this `contact` belongs to: the
    /// same source address (IP and port) and the same Contact address (parameters aside).
    pub fn matching(
        &self,
        source: SocketAddr,
        contact: Option<&str>,
        now: Instant,
    ) -> Option<&str> {
        let contact = uri_address(contact?);
        self.by_source.get(&source)?.iter().find_map(|d| {
            self.get(d, now)
                .filter(|b| uri_address(&b.contact).eq_ignore_ascii_case(contact))
                .map(|_| d.as_str())
        })
    }
    /// Drop the bindings that expired.
    pub fn purge(&mut self, now: Instant) {
        let gone: Vec<String> = self
            .by_device
            .iter()
            .filter(|(_, b)| b.until <= now)
            .map(|(d, _)| d.clone())
            .collect();
        for d in gone {
            self.remove(&d);
        }
    }
    /// The live bindings, by device name.
    pub fn view(&self, now: Instant) -> Vec<RegistrationView> {
        let mut v: Vec<RegistrationView> = self
            .by_device
            .iter()
            .filter(|(_, b)| b.until > now)
            .map(|(device, b)| RegistrationView {
                device: device.clone(),
                dn: b.dn.clone(),
                contact: b.contact.clone(),
                source: b.source.addr.to_string(),
                transport: b.source.transport.as_str().into(),
                expires_in: b.until.saturating_duration_since(now).as_secs(),
                auth: match b.proof {
                    Proof::Digest { .. } => "digest",
                    Proof::Binding => "binding",
                }
                .into(),
                user_agent: b.user_agent.clone(),
            })
            .collect();
        v.sort_by(|a, b| a.device.cmp(&b.device));
        v
    }
    pub fn len(&self) -> usize {
        self.by_device.len()
    }
    /// Every binding still in force at `now`.
    pub fn current(&self, now: Instant) -> impl Iterator<Item = (&String, &Binding)> {
        self.by_device.iter().filter(move |(_, b)| b.until > now)
    }
    pub fn is_empty(&self) -> bool {
        self.by_device.is_empty()
    }
}

/// What a REGISTER says about the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterInfo {
    /// The device the REGISTER names (`+sip.instance`, else the From user part); in digest mode
    /// only the digest user name counts.
    pub device: Result<DeviceName, String>,
    pub user_agent: Option<String>,
    pub model: String,
    pub contact: Option<String>,
    pub expires: u32,
}

fn h<'a>(hs: &'a [(String, String)], n: &str) -> Option<&'a str> {
    hs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str())
}

/// Recognise a phone model from its User-Agent (`Cisco-CP8845/14.2.1` → `Cisco 8845`), as the
/// configuration server does.
pub fn model_from_user_agent(ua: Option<&str>) -> String {
    selfprov_phoneconfig::read_user_agent(ua).model
}

/// Read a REGISTER: device name from `+sip.instance` (`urn:uuid:…-<12 hex>` → `SEP<MAC>`) or
/// the From user part; expiry from the Contact or `Expires` (default 3600). Only the expiry must
/// be readable; whether the name is needed depends on `registrar.phone_auth`.
pub fn parse_register(hs: &[(String, String)]) -> RegisterInfo {
    let contact_hdr = h(hs, "contact");
    let instance_mac = contact_hdr
        .and_then(|c| param(c, "+sip.instance"))
        .and_then(|i| {
            i.trim_matches(|c| c == '<' || c == '>')
                .rsplit(['-', ':'])
                .next()
                .map(str::to_owned)
        })
        .and_then(|mac| DeviceName::from_mac(&mac));
    let from_user = h(hs, "from")
        .and_then(|f| uri_user(uri_of(f)))
        .map(str::to_owned);
    let device = match (instance_mac, from_user) {
        (Some(d), _) => Ok(d),
        (None, Some(u)) => u.parse().map_err(|e| format!("From user `{u}`: {e}")),
        (None, None) => Err("no device name (From user part or +sip.instance)".into()),
    };
    let expires = contact_hdr
        .and_then(|c| param(c, "expires"))
        .and_then(|e| e.parse().ok())
        .or_else(|| h(hs, "expires").and_then(|e| e.trim().parse().ok()))
        .unwrap_or(3600);
    let contact = contact_hdr
        .filter(|c| c.trim() != "*")
        .map(|c| uri_of(c).to_owned());
    RegisterInfo {
        device,
        user_agent: h(hs, "user-agent").map(str::to_owned),
        model: model_from_user_agent(h(hs, "user-agent")),
        contact,
        expires,
    }
}

/// How long a binding lasts (bounded so a phone cannot ask for forever).
pub fn binding_lifetime(expires: u32) -> Duration {
    Duration::from_secs(u64::from(expires.clamp(60, 86_400)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn device_model_and_expiry() {
        let r = parse_register(&hs(&[
            ("from", "<sip:SEP001122334455@pbx>;tag=1"),
            ("contact", "<sip:SEP001122334455@10.0.0.9:5060>;+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-0011223344AA>\";expires=600"),
            ("user-agent", "Cisco-CP8845/14.2.1"),
        ]));
        assert_eq!(r.device.unwrap().as_str(), "SEP0011223344AA");
        assert_eq!(r.model, "Cisco 8845");
        assert_eq!(r.expires, 600);
        assert_eq!(
            r.contact.as_deref(),
            Some("sip:SEP001122334455@10.0.0.9:5060")
        );
        let r = parse_register(&hs(&[
            ("from", "<sip:alice-laptop@pbx>"),
            ("contact", "*"),
            ("expires", "0"),
            ("user-agent", "baresip v3"),
        ]));
        assert_eq!(
            (
                r.device.unwrap().as_str(),
                r.expires,
                r.contact,
                r.model.as_str()
            ),
            ("alice-laptop", 0, None, "Generic Softphone")
        );
        assert!(parse_register(&hs(&[("to", "x")])).device.is_err());
    }

    fn binding(contact: &str, source: &str, secs: u64) -> Binding {
        Binding {
            contact: contact.into(),
            source: Peer::udp(source.parse().unwrap()),
            until: Instant::now() + Duration::from_secs(secs),
            dn: "1000".into(),
            proof: Proof::Binding,
            user_agent: None,
        }
    }

    #[test]
    fn an_invite_matches_a_binding_by_source_address_and_contact() {
        let mut b = Bindings::default();
        let now = Instant::now();
        b.set("SEPA", binding("sip:a@10.0.0.1:5060", "10.0.0.1:5060", 600));
        // A second account of a softphone on the same socket: told apart by its Contact.
        b.set(
            "SEPB",
            binding("sip:b@10.0.0.1:5060;transport=udp", "10.0.0.1:5060", 600),
        );
        let src = "10.0.0.1:5060".parse().unwrap();
        assert_eq!(
            b.matching(src, Some("<sip:a@10.0.0.1:5060>"), now),
            Some("SEPA")
        );
        assert_eq!(
            b.matching(src, Some("<sip:b@10.0.0.1:5060>;expires=60"), now),
            Some("SEPB")
        );
        assert_eq!(b.matching(src, Some("<sip:c@10.0.0.1:5060>"), now), None);
        assert_eq!(b.matching(src, None, now), None);
        // Another port, or the same Contact from elsewhere: not the registered phone.
        assert_eq!(
            b.matching(
                "10.0.0.1:5062".parse().unwrap(),
                Some("<sip:a@10.0.0.1:5060>"),
                now
            ),
            None
        );
        assert_eq!(
            b.matching(
                "10.0.0.9:5060".parse().unwrap(),
                Some("<sip:a@10.0.0.1:5060>"),
                now
            ),
            None
        );
        // The phone moved: the old address no longer matches.
        b.set("SEPA", binding("sip:a@10.0.0.7:5060", "10.0.0.7:5060", 600));
        assert_eq!(b.matching(src, Some("<sip:a@10.0.0.1:5060>"), now), None);
        assert_eq!(
            b.matching(
                "10.0.0.7:5060".parse().unwrap(),
                Some("sip:a@10.0.0.7:5060"),
                now
            ),
            Some("SEPA")
        );
        b.remove("SEPB");
        assert_eq!(b.matching(src, Some("<sip:b@10.0.0.1:5060>"), now), None);
        assert_eq!(b.view(now).len(), 1);
        // Expired bindings match nothing and are purged.
        b.set("SEPC", binding("sip:c@10.0.0.3:5060", "10.0.0.3:5060", 0));
        assert_eq!(
            b.matching(
                "10.0.0.3:5060".parse().unwrap(),
                Some("sip:c@10.0.0.3:5060"),
                now + Duration::from_millis(1)
            ),
            None
        );
        b.purge(now + Duration::from_millis(1));
        assert_eq!(b.len(), 1);
        assert!(!b.by_source.contains_key(&"10.0.0.3:5060".parse().unwrap()));
    }
}
