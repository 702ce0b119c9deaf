//! The server side of digest authentication (RFC 7616, RFC 8760; RFC 2617 without `qop`), for
//! SIP (the built-in registrar) and HTTP (the configuration server) alike: the challenge to send,
//! the `Authorization` header parsed, and the response checked against the user's secret.
//!
//! Nonces are stateless: the issuer's key signs the time of issue, so any node holding the key
//! can check freshness without a shared table, and a replayed old nonce is refused as stale.

use crate::digest::{params, Algorithm, DigestError};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt::Write as _;

/// A parsed `Authorization` / `Proxy-Authorization` digest answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Algorithm,
    /// `auth`, or none for the RFC 2069 form.
    pub qop: Option<String>,
    pub nc: Option<String>,
    pub cnonce: Option<String>,
}

impl Authorization {
    pub fn parse(header_value: &str) -> Result<Authorization, DigestError> {
        let v = header_value.trim();
        let rest = v
            .get(..6)
            .filter(|p| p.eq_ignore_ascii_case("digest"))
            .map(|_| &v[6..])
            .ok_or(DigestError::NotDigest)?;
        let mut a = Authorization {
            username: String::new(),
            realm: String::new(),
            nonce: String::new(),
            uri: String::new(),
            response: String::new(),
            algorithm: Algorithm::Md5,
            qop: None,
            nc: None,
            cnonce: None,
        };
        let mut seen = 0u8;
        for (k, val) in params(rest) {
            match k.as_str() {
                "username" => (a.username, seen) = (val, seen | 1),
                "realm" => (a.realm, seen) = (val, seen | 2),
                "nonce" => (a.nonce, seen) = (val, seen | 4),
                "uri" => (a.uri, seen) = (val, seen | 8),
                "response" => (a.response, seen) = (val.to_ascii_lowercase(), seen | 16),
                "algorithm" => a.algorithm = val.parse()?,
                "qop" => a.qop = Some(val.to_ascii_lowercase()),
                "nc" => a.nc = Some(val),
                "cnonce" => a.cnonce = Some(val),
                _ => {}
            }
        }
        for (bit, name) in [
            (1, "username"),
            (2, "realm"),
            (4, "nonce"),
            (8, "uri"),
            (16, "response"),
        ] {
            if seen & bit == 0 {
                return Err(DigestError::Missing(name));
            }
        }
        match a.qop.as_deref() {
            None => {}
            Some("auth") if a.nc.is_some() && a.cnonce.is_some() => {}
            Some("auth") => return Err(DigestError::Missing("nc and cnonce")),
            Some(q) => return Err(DigestError::Qop(q.to_owned())),
        }
        Ok(a)
    }

    /// Whether the response proves knowledge of `password` for `method` (SIP method or HTTP verb).
    pub fn verify(&self, method: &str, password: &str) -> bool {
        let alg = self.algorithm;
        let mut ha1 = alg.hash(&format!("{}:{}:{password}", self.username, self.realm));
        if alg.is_sess() {
            ha1 = alg.hash(&format!(
                "{ha1}:{}:{}",
                self.nonce,
                self.cnonce.as_deref().unwrap_or("")
            ));
        }
        let ha2 = alg.hash(&format!("{method}:{}", self.uri));
        let expected = match (&self.qop, &self.nc, &self.cnonce) {
            (Some(q), Some(nc), Some(cn)) => {
                alg.hash(&format!("{ha1}:{}:{nc}:{cn}:{q}:{ha2}", self.nonce))
            }
            _ => alg.hash(&format!("{ha1}:{}:{ha2}", self.nonce)),
        };
        constant_time_eq(expected.as_bytes(), self.response.as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a request's digest answer says before the user's secret is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// No `Authorization` header: the normal start of digest (challenge).
    Missing,
    /// Our nonce, but too old: challenge again with `stale=true`.
    Stale,
    /// Not an answer to our challenge: malformed, another realm or URI, or a nonce we did not
    /// sign. The reason is for the log.
    Wrong(&'static str),
    /// Well-formed and fresh: check it against the user's secret ([`Authorization::verify`]).
    Fresh(Authorization),
}

/// Issues and checks nonces signed with a key: `<issue time, hex>.<signature>`.
#[derive(Clone)]
pub struct NonceKey(Vec<u8>);

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey(<redacted>)")
    }
}

/// How a nonce checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    Fresh,
    /// Signed by us but too old: challenge again with `stale=true` (the client retries silently).
    Stale,
    Forged,
}

impl NonceKey {
    pub fn new(key: &[u8]) -> NonceKey {
        NonceKey(key.to_vec())
    }

    fn sign(&self, issued: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(issued.as_bytes());
        let mut out = String::with_capacity(32);
        for b in &mac.finalize().into_bytes()[..16] {
            let _ = write!(out, "{b:02x}");
        }
        out
    }

    /// A nonce issued at `now_s` (Unix seconds).
    pub fn issue(&self, now_s: u64) -> String {
        let issued = format!("{now_s:x}");
        format!("{issued}.{}", self.sign(&issued))
    }

    /// Whether `nonce` was issued by this key no more than `max_age_s` seconds before `now_s`.
    pub fn check(&self, nonce: &str, now_s: u64, max_age_s: u64) -> NonceCheck {
        let Some((issued, sig)) = nonce.split_once('.') else {
            return NonceCheck::Forged;
        };
        if !constant_time_eq(self.sign(issued).as_bytes(), sig.as_bytes()) {
            return NonceCheck::Forged;
        }
        match u64::from_str_radix(issued, 16) {
            Ok(t) if t <= now_s + 5 && now_s.saturating_sub(t) <= max_age_s => NonceCheck::Fresh,
            Ok(_) => NonceCheck::Stale,
            Err(_) => NonceCheck::Forged,
        }
    }

    /// Read the `Authorization` header of a request in `realm`: whether it answers one of our
    /// fresh challenges, for `uri` when one is given (the HTTP path; SIP servers commonly do not
    /// compare the digest URI with the Request-URI, and SIPp answers with the server's address).
    /// Who the user is and the secret are the caller's to check.
    pub fn read_answer(
        &self,
        header: Option<&str>,
        realm: &str,
        uri: Option<&str>,
        now_s: u64,
        max_age_s: u64,
    ) -> Answer {
        let Some(header) = header else {
            return Answer::Missing;
        };
        let Ok(auth) = Authorization::parse(header) else {
            return Answer::Wrong("malformed credentials");
        };
        if auth.realm != realm {
            return Answer::Wrong("another realm");
        }
        if uri.is_some_and(|u| auth.uri != u) {
            return Answer::Wrong("credentials for another URI");
        }
        match self.check(&auth.nonce, now_s, max_age_s) {
            NonceCheck::Fresh => Answer::Fresh(auth),
            NonceCheck::Stale => Answer::Stale,
            NonceCheck::Forged => Answer::Wrong("a nonce not ours"),
        }
    }

    /// A `WWW-Authenticate` value: SHA-256 first where a client can choose, MD5 for the phones
    /// that know only it (RFC 8760 §2.4: one header per algorithm, preferred first).
    pub fn challenges(&self, realm: &str, now_s: u64, stale: bool) -> Vec<String> {
        self.challenges_in_order(realm, now_s, stale, &[Algorithm::Sha256, Algorithm::Md5])
    }

    /// One `WWW-Authenticate` value per algorithm of `order`, in that order, sharing one nonce.
    pub fn challenges_in_order(
        &self,
        realm: &str,
        now_s: u64,
        stale: bool,
        order: &[Algorithm],
    ) -> Vec<String> {
        let nonce = self.issue(now_s);
        let stale = if stale { ", stale=true" } else { "" };
        order
            .iter()
            .map(|a| format!("Digest realm=\"{realm}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{stale}", a.name()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::{Challenge, DigestClient};

    #[test]
    fn client_answers_verify_for_each_algorithm_and_fail_with_the_wrong_secret() {
        let key = NonceKey::new(b"k");
        for ch_text in key.challenges("selfprov", 1000, false) {
            let ch = Challenge::parse(&ch_text).unwrap();
            let mut c = DigestClient::new("SEP001122AABBCC", "s3cret");
            let auth =
                Authorization::parse(&c.authorize(&ch, "GET", "/SEP001122AABBCC.cnf.xml").unwrap())
                    .unwrap();
            assert_eq!(key.check(&auth.nonce, 1010, 300), NonceCheck::Fresh);
            assert!(auth.verify("GET", "s3cret"), "{ch_text}");
            assert!(!auth.verify("GET", "s3cret!"));
            assert!(
                !auth.verify("REGISTER", "s3cret"),
                "the method is part of the proof"
            );
        }
    }

    #[test]
    fn rfc2617_vector_without_and_with_qop() {
        // RFC 2617 §3.5: Mufasa / Circle Of Life.
        let a = Authorization::parse(
            r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        assert!(a.verify("GET", "Circle Of Life"));
        assert!(!a.verify("GET", "Circle of Life"));
    }

    #[test]
    fn nonces_are_signed_and_age() {
        let key = NonceKey::new(b"k");
        let n = key.issue(1000);
        assert_eq!(key.check(&n, 1200, 300), NonceCheck::Fresh);
        assert_eq!(key.check(&n, 1400, 300), NonceCheck::Stale);
        assert_eq!(
            NonceKey::new(b"other").check(&n, 1000, 300),
            NonceCheck::Forged
        );
        assert_eq!(key.check("3e8.0000", 1000, 300), NonceCheck::Forged);
        assert_eq!(key.check("nonsense", 1000, 300), NonceCheck::Forged);
    }

    #[test]
    fn answers_are_read_before_the_secret_is_checked() {
        let key = NonceKey::new(b"k");
        let ch = Challenge::parse(&key.challenges("selfprov", 1000, false)[0]).unwrap();
        let mut c = DigestClient::new("SEP001122AABBCC", "s3cret");
        let header = c.authorize(&ch, "REGISTER", "sip:127.0.0.1:5060").unwrap();
        let read =
            |h: Option<&str>, realm, uri: &str, now| key.read_answer(h, realm, Some(uri), now, 300);
        assert_eq!(
            read(None, "selfprov", "sip:127.0.0.1:5060", 1000),
            Answer::Missing
        );
        match read(Some(&header), "selfprov", "sip:127.0.0.1:5060", 1010) {
            Answer::Fresh(a) => {
                assert_eq!(a.username, "SEP001122AABBCC");
                assert!(a.verify("REGISTER", "s3cret"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            read(Some(&header), "selfprov", "sip:127.0.0.1:5060", 1400),
            Answer::Stale
        );
        assert!(matches!(
            read(Some(&header), "other", "sip:127.0.0.1:5060", 1010),
            Answer::Wrong(_)
        ));
        assert!(matches!(
            read(Some(&header), "selfprov", "sip:2000@127.0.0.1:5060", 1010),
            Answer::Wrong(_)
        ));
        // Without a URI to compare, any URI does.
        assert!(matches!(
            key.read_answer(Some(&header), "selfprov", None, 1010, 300),
            Answer::Fresh(_)
        ));
        assert!(matches!(
            NonceKey::new(b"other").read_answer(Some(&header), "selfprov", None, 1010, 300),
            Answer::Wrong(_)
        ));
        assert!(matches!(
            read(
                Some("Digest nonsense"),
                "selfprov",
                "sip:127.0.0.1:5060",
                1010
            ),
            Answer::Wrong(_)
        ));
    }

    #[test]
    fn malformed_answers_are_refused() {
        assert_eq!(
            Authorization::parse("Basic dXNlcjpwYXNz"),
            Err(DigestError::NotDigest)
        );
        assert_eq!(
            Authorization::parse(r#"Digest username="a", realm="r", nonce="n", uri="/""#),
            Err(DigestError::Missing("response"))
        );
        assert!(Authorization::parse(
            r#"Digest username="a", realm="r", nonce="n", uri="/", response="x", qop=auth"#
        )
        .is_err());
        assert!(Authorization::parse(
            r#"Digest username="a", realm="r", nonce="n", uri="/", response="x", algorithm=SHA-512"#
        )
        .is_err());
    }
}
