//! What the Continue key carries from the login to the claim: the user who logged in on this
//! device, until when, signed with a key derived from the device-secret key. Stateless, so any
//! node sharing the key takes it; bound to the device, so it claims nothing elsewhere.

use selfprov_operations::DeviceSecrets;
use std::collections::HashMap;

/// How long after the login the Continue key works.
pub(crate) const LIFETIME_S: u64 = 300;

const PURPOSE: &[u8] = b"screen claim confirmation";

/// The query string of the Continue key for `user` logged in on `device` at `now_s`.
pub(crate) fn issue(secrets: &DeviceSecrets, device: &str, user: &str, now_s: u64) -> String {
    let until = now_s + LIFETIME_S;
    let sig = secrets.sign(
        PURPOSE,
        &[device.as_bytes(), user.as_bytes(), &until.to_be_bytes()],
    );
    format!(
        "user={}&until={until}&sig={sig}",
        super::screen::encode(user)
    )
}

/// The user a Continue request proves logged in on `device`, if its ticket is this server's,
/// for this device, and not expired.
pub(crate) fn check(
    secrets: &DeviceSecrets,
    device: &str,
    params: &HashMap<String, String>,
    now_s: u64,
) -> Option<String> {
    let user = params.get("user")?;
    let until: u64 = params.get("until")?.parse().ok()?;
    let sig = params.get("sig")?;
    let genuine = secrets.verify(
        PURPOSE,
        &[device.as_bytes(), user.as_bytes(), &until.to_be_bytes()],
        sig,
    );
    (genuine && now_s <= until && until <= now_s + LIFETIME_S).then(|| user.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> HashMap<String, String> {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.replace("%40", "@")))
            .collect()
    }

    #[test]
    fn a_ticket_names_its_user_on_its_device_until_it_expires() {
        let s = DeviceSecrets::from_key([5; 32]);
        let q = issue(&s, "SEP1", "jsmith@x", 1000);
        let p = params(&q);
        assert_eq!(check(&s, "SEP1", &p, 1000).as_deref(), Some("jsmith@x"));
        assert_eq!(
            check(&s, "SEP1", &p, 1000 + LIFETIME_S).as_deref(),
            Some("jsmith@x")
        );
        assert_eq!(check(&s, "SEP1", &p, 1001 + LIFETIME_S), None, "expired");
        assert_eq!(check(&s, "SEP2", &p, 1000), None, "another device");
        let mut other = p.clone();
        other.insert("user".into(), "mdupont".into());
        assert_eq!(check(&s, "SEP1", &other, 1000), None, "another user");
        let mut later = p.clone();
        later.insert("until".into(), (2000 + LIFETIME_S).to_string());
        assert_eq!(check(&s, "SEP1", &later, 2000), None, "a longer life");
        assert_eq!(
            check(&DeviceSecrets::from_key([6; 32]), "SEP1", &p, 1000),
            None
        );
        assert_eq!(check(&s, "SEP1", &HashMap::new(), 1000), None);
        let mut bad = p.clone();
        bad.insert("until".into(), "-1".into());
        assert_eq!(check(&s, "SEP1", &bad, 1000), None);
    }
}
