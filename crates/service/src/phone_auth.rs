//! Phones proving who they are with their own digest credentials (`registrar.phone_auth =
//! "digest"`): the user name is the device's name, the secret the device's current one
//! (`DeviceSecrets`, derived from the key file and the credential generation in the database),
//! the realm `phone_config.realm` — the same credentials a phone finds in its configuration file
//! and answers the configuration server with. Nonces are stateless and signed (any node checks
//! them); a stale one gets a new challenge with `stale=true`. Every refusal is one log line
//! fail2ban can match, like the configuration server's.

use selfprov_operations::{ClaimEngine, DeviceSecrets};
use selfprov_provisioning::store::UnixMillis;
use selfprov_sip::digest::Algorithm;
use selfprov_sip::digest_server::{Answer, Authorization, NonceKey};
use std::net::IpAddr;

/// How long a nonce stays good.
pub(crate) const NONCE_MAX_AGE_S: u64 = 300;

pub(crate) fn unix_s() -> u64 {
    UnixMillis::now().0.max(0) as u64 / 1000
}

/// The generation among `generations` whose secret the answer proves, if any.
pub(crate) fn verified_generation(
    auth: &Authorization,
    method: &str,
    secrets: &DeviceSecrets,
    generations: impl IntoIterator<Item = u32>,
) -> Option<u32> {
    generations
        .into_iter()
        .find(|g| auth.verify(method, &secrets.secret(&auth.username, *g)))
}

/// A final answer that refuses a request (REGISTER or INVITE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: u16,
    pub reason: String,
    pub headers: String,
}

impl Refusal {
    pub fn forbidden(why: &str) -> Refusal {
        Refusal {
            status: 403,
            reason: format!("Forbidden - {why}"),
            headers: String::new(),
        }
    }

    pub fn unavailable(why: &str) -> Refusal {
        Refusal {
            status: 503,
            reason: format!("Service Unavailable - {why}"),
            headers: String::new(),
        }
    }

    /// A new phone among too many at once: `503` and when to come back.
    pub fn come_back(retry_after: u32) -> Refusal {
        Refusal {
            status: 503,
            reason: "Service Unavailable - too many new phones at once".into(),
            headers: format!("Retry-After: {retry_after}\r\n"),
        }
    }
}

/// The SIP side of phones' digest: the nonce key (its own purpose, derived from the device-secret
/// key) and the secrets.
#[derive(Clone)]
pub(crate) struct SipDigest {
    nonce: NonceKey,
    pub secrets: DeviceSecrets,
}

/// What a phone's request says about its credentials, before the database is asked.
#[derive(Debug)]
pub(crate) enum Digest {
    /// Answer 401 with these challenges.
    Challenge(Refusal),
    /// Not an answer to our challenge (logged, 403).
    Wrong(&'static str),
    /// Check this answer against the named device's current secret (off the event loop).
    Verify(Authorization),
}

impl SipDigest {
    pub fn new(secrets: DeviceSecrets) -> SipDigest {
        SipDigest {
            nonce: NonceKey::new(&secrets.derive_key(b"sip digest nonce")),
            secrets,
        }
    }

    /// 401 Unauthorized with a fresh MD5 challenge. Only MD5: SIP clients do not choose among
    /// challenges as RFC 8760 asks — SIPp 3.6 answers the first one and fails on SHA-256, and
    /// baresip's libre (Debian 12) gives up on any challenge whose algorithm it does not know
    /// even when an MD5 one follows. Against a 100-bit random secret the hash makes no
    /// difference: neither can be reversed to it. (An answer with SHA-256 is still checked.)
    pub fn challenge(&self, realm: &str, stale: bool) -> Refusal {
        let headers = self
            .nonce
            .challenges_in_order(realm, unix_s(), stale, &[Algorithm::Md5])
            .iter()
            .map(|c| format!("WWW-Authenticate: {c}\r\n"))
            .collect();
        Refusal {
            status: 401,
            reason: "Unauthorized".into(),
            headers,
        }
    }

    /// Read the `Authorization` header of a request (its digest URI is not compared with the
    /// Request-URI, as Kamailio and Asterisk do not: SIPp answers with the server's address).
    pub fn read(&self, realm: &str, header: Option<&str>) -> Digest {
        match self
            .nonce
            .read_answer(header, realm, None, unix_s(), NONCE_MAX_AGE_S)
        {
            Answer::Missing => Digest::Challenge(self.challenge(realm, false)),
            Answer::Stale => Digest::Challenge(self.challenge(realm, true)),
            Answer::Wrong(why) => Digest::Wrong(why),
            Answer::Fresh(a) => Digest::Verify(a),
        }
    }

    /// Off the event loop: the answer proves the named device's current secret. The generation
    /// it proved, or the refusal (an unknown device is refused like a wrong secret: a phone gets
    /// its credentials from its first configuration fetch, never from a REGISTER).
    pub fn verify(
        &self,
        claims: &ClaimEngine,
        auth: &Authorization,
        method: &str,
    ) -> Result<u32, (Refusal, &'static str)> {
        match claims.credential(&auth.username) {
            Err(e) => {
                tracing::error!(error = %e, "database unavailable for a phone's digest check");
                Err((Refusal::unavailable("database"), "database unavailable"))
            }
            Ok(None) => Err((Refusal::forbidden("wrong credentials"), "unknown device")),
            Ok(Some(c)) => verified_generation(auth, method, &self.secrets, [c.generation])
                .ok_or((Refusal::forbidden("wrong credentials"), "wrong credentials")),
        }
    }
}

/// One line per refused SIP request, in a form fail2ban can match: `sip request refused
/// source=<HOST>`.
pub(crate) fn log_refused(source: IpAddr, method: &str, device: Option<&str>, reason: &str) {
    tracing::warn!(%source, method, device = device.unwrap_or("-"), reason, "sip request refused");
}

#[cfg(test)]
mod tests {
    use super::*;
    use selfprov_sip::digest::{Challenge, DigestClient};

    fn answer(nonce: String) -> String {
        answer_with("secret", nonce)
    }

    fn answer_with(secret: &str, nonce: String) -> String {
        let ch = Challenge {
            realm: "selfprov".into(),
            nonce,
            opaque: None,
            algorithm: Algorithm::Md5,
            qop: vec!["auth".into()],
            stale: false,
        };
        DigestClient::new("SEP001122334455", secret)
            .authorize(&ch, "REGISTER", "sip:127.0.0.1:5060")
            .unwrap()
    }

    #[test]
    fn fresh_answers_are_verified_and_a_stale_nonce_is_challenged_again_with_stale_true() {
        let d = SipDigest::new(DeviceSecrets::from_key([3; 32]));
        let Digest::Challenge(c) = d.read("selfprov", None) else {
            panic!("no credentials: a challenge")
        };
        assert_eq!(c.status, 401);
        assert!(!c.headers.contains("stale"), "{}", c.headers);
        let fresh = answer(d.nonce.issue(unix_s()));
        assert!(
            matches!(d.read("selfprov", Some(&fresh)), Digest::Verify(a) if a.username == "SEP001122334455")
        );
        let old = answer(d.nonce.issue(unix_s() - 2 * NONCE_MAX_AGE_S));
        match d.read("selfprov", Some(&old)) {
            Digest::Challenge(c) => assert!(c.headers.contains("stale=true"), "{}", c.headers),
            other => panic!("{other:?}"),
        }
        // A nonce another key signed (another installation, a forgery): not an answer.
        let forged = answer(NonceKey::new(b"elsewhere").issue(unix_s()));
        assert!(matches!(
            d.read("selfprov", Some(&forged)),
            Digest::Wrong(_)
        ));
    }

    #[test]
    fn an_answer_proves_only_its_own_devices_secret_of_its_generation() {
        let d = SipDigest::new(DeviceSecrets::from_key([3; 32]));
        let verify = |secret: &str, generations: &[u32]| {
            let header = answer_with(secret, d.nonce.issue(unix_s()));
            let Digest::Verify(a) = d.read("selfprov", Some(&header)) else {
                panic!("a fresh answer")
            };
            verified_generation(&a, "REGISTER", &d.secrets, generations.iter().copied())
        };
        let second = d.secrets.secret("SEP001122334455", 2);
        assert_eq!(verify(&second, &[1, 2, 3]), Some(2));
        // After the secret changed (a claim, a release), the old one proves nothing.
        assert_eq!(verify(&second, &[3]), None);
        // Another device's secret of the same generation, or a guess: nothing.
        assert_eq!(verify(&d.secrets.secret("SEP00112233AAAA", 2), &[2]), None);
        assert_eq!(verify("secret", &[1, 2, 3]), None);
    }
}
