//! The built-in registrar: phones REGISTER to selfprov; an unknown phone is auto-registered (next
//! free DN of the range) and its contact is remembered, so the IVR knows who is calling and where
//! to send check-sync. What is enforced now: any phone may register (no digest with the user's
//! credentials yet); the device name comes from `+sip.instance` (a MAC) or the From user part.

use selfprov_provisioning::model::DeviceName;
use selfprov_sip::endpoint::Peer;
use selfprov_sip::headers::{param, uri_of, uri_user};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Where a registered phone can be reached.
#[derive(Debug, Clone)]
pub struct Binding {
    pub contact: String,
    pub source: Peer,
    pub until: Instant,
}

#[derive(Debug, Default)]
pub struct Bindings {
    by_device: HashMap<String, Binding>,
}

impl Bindings {
    pub fn set(&mut self, device: &str, b: Binding) {
        self.by_device.insert(device.to_owned(), b);
    }
    pub fn remove(&mut self, device: &str) {
        self.by_device.remove(device);
    }
    pub fn get(&self, device: &str, now: Instant) -> Option<&Binding> {
        self.by_device.get(device).filter(|b| b.until > now)
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
    pub device: DeviceName,
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
/// the From user part; expiry from the Contact or `Expires` (default 3600).
pub fn parse_register(hs: &[(String, String)]) -> Result<RegisterInfo, String> {
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
        (Some(d), _) => d,
        (None, Some(u)) => u.parse().map_err(|e| format!("From user `{u}`: {e}"))?,
        (None, None) => return Err("no device name (From user part or +sip.instance)".into()),
    };
    let expires = contact_hdr
        .and_then(|c| param(c, "expires"))
        .and_then(|e| e.parse().ok())
        .or_else(|| h(hs, "expires").and_then(|e| e.trim().parse().ok()))
        .unwrap_or(3600);
    let contact = contact_hdr
        .filter(|c| c.trim() != "*")
        .map(|c| uri_of(c).to_owned());
    Ok(RegisterInfo {
        device,
        model: model_from_user_agent(h(hs, "user-agent")),
        contact,
        expires,
    })
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
        ]))
        .unwrap();
        assert_eq!(r.device.as_str(), "SEP0011223344AA");
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
        ]))
        .unwrap();
        assert_eq!(
            (r.device.as_str(), r.expires, r.contact, r.model.as_str()),
            ("alice-laptop", 0, None, "Generic Softphone")
        );
        assert!(parse_register(&hs(&[("to", "x")])).is_err());
    }
}
