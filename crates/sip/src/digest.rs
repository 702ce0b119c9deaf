//! Digest authentication for the route point's REGISTER (RFC 2617, RFC 7616, RFC 8760).
//!
//! Written here rather than taken from rsip because rsip fails to type a challenge with
//! `qop="auth,auth-int"` and writes `nc` in decimal as a u8; both are wrong on the wire.

use md5::Md5;
use sha2::{Digest as _, Sha256};
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }
    pub(crate) fn hash(self, s: &str) -> String {
        let mut out = String::with_capacity(64);
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => {
                for b in Md5::digest(s.as_bytes()) {
                    let _ = write!(out, "{b:02x}");
                }
            }
            Algorithm::Sha256 | Algorithm::Sha256Sess => {
                for b in Sha256::digest(s.as_bytes()) {
                    let _ = write!(out, "{b:02x}");
                }
            }
        }
        out
    }
    pub(crate) fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }
}

impl std::str::FromStr for Algorithm {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Algorithm, DigestError> {
        match s.to_ascii_uppercase().as_str() {
            "MD5" => Ok(Algorithm::Md5),
            "MD5-SESS" => Ok(Algorithm::Md5Sess),
            "SHA-256" => Ok(Algorithm::Sha256),
            "SHA-256-SESS" => Ok(Algorithm::Sha256Sess),
            _ => Err(DigestError::Algorithm(s.to_owned())),
        }
    }
}

/// A parsed `WWW-Authenticate` / `Proxy-Authenticate` digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// The qop options offered (`auth`, `auth-int`).
    pub qop: Vec<String>,
    pub stale: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("not a Digest challenge")]
    NotDigest,
    #[error("challenge without {0}")]
    Missing(&'static str),
    #[error("unsupported digest algorithm `{0}`")]
    Algorithm(String),
    #[error("the challenge offers only qop `{0}`; selfprov supports `auth`")]
    Qop(String),
}

/// Split `k=v, k="v, with comma", ...` respecting quotes.
pub(crate) fn params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.trim().is_empty() {
            break;
        }
        let mut val = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                val.push(n);
                            }
                        }
                        '"' => break,
                        c => val.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    val.push(c);
                    chars.next();
                }
            }
        }
        out.push((key.trim().to_ascii_lowercase(), val.trim().to_owned()));
    }
    out
}

impl Challenge {
    pub fn parse(header_value: &str) -> Result<Challenge, DigestError> {
        let v = header_value.trim();
        let rest = v
            .strip_prefix("Digest")
            .or_else(|| v.strip_prefix("digest"))
            .ok_or(DigestError::NotDigest)?;
        let (mut realm, mut nonce, mut opaque, mut algorithm, mut qop, mut stale) =
            (None, None, None, Algorithm::Md5, Vec::new(), false);
        for (k, val) in params(rest) {
            match k.as_str() {
                "realm" => realm = Some(val),
                "nonce" => nonce = Some(val),
                "opaque" => opaque = Some(val),
                "stale" => stale = val.eq_ignore_ascii_case("true"),
                "qop" => {
                    qop = val
                        .split(',')
                        .map(|q| q.trim().to_ascii_lowercase())
                        .filter(|q| !q.is_empty())
                        .collect()
                }
                "algorithm" => algorithm = val.parse()?,
                _ => {}
            }
        }
        Ok(Challenge {
            realm: realm.ok_or(DigestError::Missing("realm"))?,
            nonce: nonce.ok_or(DigestError::Missing("nonce"))?,
            opaque,
            algorithm,
            qop,
            stale,
        })
    }
}

/// Credentials plus the nonce count of the current nonce.
#[derive(Clone)]
pub struct DigestClient {
    username: String,
    password: String,
    nonce: String,
    nc: u32,
}

impl std::fmt::Debug for DigestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestClient")
            .field("username", &self.username)
            .field("nc", &self.nc)
            .finish_non_exhaustive()
    }
}

impl DigestClient {
    pub fn new(username: &str, password: &str) -> Self {
        DigestClient {
            username: username.to_owned(),
            password: password.to_owned(),
            nonce: String::new(),
            nc: 0,
        }
    }

    /// The `Authorization`/`Proxy-Authorization` value answering `ch` for `method uri`.
    /// The nonce count increases with each use of the same nonce and restarts with a new one.
    pub fn authorize(
        &mut self,
        ch: &Challenge,
        method: &str,
        uri: &str,
    ) -> Result<String, DigestError> {
        let cnonce = format!("{:016x}", rand::random::<u64>());
        self.authorize_with_cnonce(ch, method, uri, &cnonce)
    }

    pub fn authorize_with_cnonce(
        &mut self,
        ch: &Challenge,
        method: &str,
        uri: &str,
        cnonce: &str,
    ) -> Result<String, DigestError> {
        if ch.nonce != self.nonce {
            self.nonce = ch.nonce.clone();
            self.nc = 0;
        }
        let qop = if ch.qop.is_empty() {
            None
        } else if ch.qop.iter().any(|q| q == "auth") {
            Some("auth")
        } else {
            return Err(DigestError::Qop(ch.qop.join(",")));
        };
        self.nc = self.nc.wrapping_add(1);
        let nc = format!("{:08x}", self.nc);
        let alg = ch.algorithm;
        let mut ha1 = alg.hash(&format!("{}:{}:{}", self.username, ch.realm, self.password));
        if alg.is_sess() {
            ha1 = alg.hash(&format!("{ha1}:{}:{cnonce}", ch.nonce));
        }
        let ha2 = alg.hash(&format!("{method}:{uri}"));
        let response = match qop {
            Some(q) => alg.hash(&format!("{ha1}:{}:{nc}:{cnonce}:{q}:{ha2}", ch.nonce)),
            None => alg.hash(&format!("{ha1}:{}:{ha2}", ch.nonce)),
        };
        let mut v = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", response=\"{response}\", algorithm={}",
            self.username,
            ch.realm,
            ch.nonce,
            alg.name()
        );
        if let Some(q) = qop {
            let _ = write!(v, ", qop={q}, nc={nc}, cnonce=\"{cnonce}\"");
        }
        if let Some(o) = &ch.opaque {
            let _ = write!(v, ", opaque=\"{o}\"");
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response_of(v: &str) -> String {
        params(v.strip_prefix("Digest").unwrap())
            .into_iter()
            .find(|(k, _)| k == "response")
            .unwrap()
            .1
    }

    #[test]
    fn rfc2617_md5_qop_auth_vector() {
        let ch = Challenge::parse(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        assert_eq!(ch.qop, ["auth", "auth-int"]);
        let mut c = DigestClient::new("Mufasa", "Circle Of Life");
        let v = c
            .authorize_with_cnonce(&ch, "GET", "/dir/index.html", "0a4f113b")
            .unwrap();
        assert_eq!(response_of(&v), "6629fae49393a05397450978507c4ef1");
        assert!(
            v.contains("nc=00000001")
                && v.contains("qop=auth,")
                && v.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""),
            "{v}"
        );
    }

    #[test]
    fn rfc7616_sha256_vector() {
        let ch = Challenge::parse(
            "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
        )
        .unwrap();
        let mut c = DigestClient::new("Mufasa", "Circle of Life");
        let v = c
            .authorize_with_cnonce(
                &ch,
                "GET",
                "/dir/index.html",
                "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            )
            .unwrap();
        assert_eq!(
            response_of(&v),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        assert!(v.contains("algorithm=SHA-256"));
    }

    #[test]
    fn nc_is_eight_hex_digits_and_counts_per_nonce() {
        let mut ch = Challenge::parse("Digest realm=\"r\", nonce=\"n1\", qop=\"auth\"").unwrap();
        let mut c = DigestClient::new("u", "p");
        for i in 1..=300u32 {
            let v = c.authorize(&ch, "REGISTER", "sip:r").unwrap();
            assert!(v.contains(&format!("nc={i:08x}")), "{v}");
        }
        // nc=0000012c after 300 uses: hexadecimal and beyond a u8.
        ch.nonce = "n2".into();
        assert!(c
            .authorize(&ch, "REGISTER", "sip:r")
            .unwrap()
            .contains("nc=00000001"));
    }

    #[test]
    fn no_qop_legacy_and_stale_and_errors() {
        let ch = Challenge::parse("Digest realm=\"asterisk\", nonce=\"abc\", stale=TRUE").unwrap();
        assert!(ch.stale);
        let v = DigestClient::new("u", "p")
            .authorize(&ch, "REGISTER", "sip:x")
            .unwrap();
        assert!(!v.contains("nc=") && !v.contains("qop"));
        assert_eq!(
            Challenge::parse("Basic realm=\"x\""),
            Err(DigestError::NotDigest)
        );
        assert_eq!(
            Challenge::parse("Digest realm=\"x\""),
            Err(DigestError::Missing("nonce"))
        );
        assert!(matches!(
            Challenge::parse("Digest realm=\"x\", nonce=\"y\", algorithm=SHA-512"),
            Err(DigestError::Algorithm(_))
        ));
        let only_int =
            Challenge::parse("Digest realm=\"x\", nonce=\"y\", qop=\"auth-int\"").unwrap();
        assert!(matches!(
            DigestClient::new("u", "p").authorize(&only_int, "REGISTER", "sip:x"),
            Err(DigestError::Qop(_))
        ));
    }

    #[test]
    fn quoted_commas_and_escapes() {
        let ch = Challenge::parse("Digest realm=\"a, b \\\"c\\\"\", nonce=\"n\"").unwrap();
        assert_eq!(ch.realm, "a, b \"c\"");
    }
}
