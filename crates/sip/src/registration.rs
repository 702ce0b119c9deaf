//! Route-point registration (RFC 3261 §10) as a sans-I/O state machine, one per DN: REGISTER with
//! digest authentication, refresh before expiry (honouring the expiry the registrar grants and
//! 423 Min-Expires), exponential back-off with jitter after failures, un-register with
//! `Expires: 0`. Wrong credentials are reported with the CUCM wording and retried only after the
//! long back-off, never in a tight loop.

use crate::digest::{Challenge, DigestClient};
use crate::headers::{param, uri_of};
use std::time::{Duration, Instant};

/// CUCM's wording (seed 000, Application User).
pub const BAD_CREDENTIALS: &str = "Valid credentials not set for this application User. Self-Provisioning IVR service will not work.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegState {
    Unregistered,
    Registering,
    Registered { expires: u32 },
    Failed(String),
}

impl RegState {
    pub fn describe(&self) -> String {
        match self {
            RegState::Unregistered => "unregistered".into(),
            RegState::Registering => "registering".into(),
            RegState::Registered { expires } => format!("registered ({expires} s)"),
            RegState::Failed(why) => format!("failed: {why}"),
        }
    }
}

#[derive(Clone)]
pub struct RegistrationConfig {
    pub dn: String,
    /// Host (and port) for the Request-URI and the To/From domain.
    pub registrar_host: String,
    pub username: String,
    pub password: String,
    pub expires: u32,
    /// First retry delay after a failure (doubles, with jitter, up to `max_backoff`).
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl std::fmt::Debug for RegistrationConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationConfig")
            .field("dn", &self.dn)
            .field("registrar", &self.registrar_host)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// One DN's registration.
#[derive(Debug)]
pub struct Registration {
    cfg: RegistrationConfig,
    pub call_id: String,
    tag: String,
    cseq: u32,
    digest: DigestClient,
    state: RegState,
    expires: u32,
    next_at: Option<Instant>,
    backoff: Duration,
    /// Nonce we last answered; a new 401 with the same nonce (not stale) means wrong credentials.
    answered_nonce: Option<String>,
    unregistering: bool,
}

/// A REGISTER to send: the request line and headers after Via (the endpoint adds Via).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRequest {
    pub uri: String,
    pub headers: String,
}

impl Registration {
    pub fn new(cfg: RegistrationConfig, call_id: String, tag: String) -> Self {
        Registration {
            digest: DigestClient::new(&cfg.username, &cfg.password),
            expires: cfg.expires,
            backoff: cfg.min_backoff,
            cfg,
            call_id,
            tag,
            cseq: 0,
            state: RegState::Unregistered,
            next_at: None,
            answered_nonce: None,
            unregistering: false,
        }
    }

    pub fn dn(&self) -> &str {
        &self.cfg.dn
    }

    pub fn state(&self) -> &RegState {
        &self.state
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.next_at
    }

    fn build(
        &mut self,
        advertised: &str,
        user_agent: &str,
        auth: Option<(bool, String)>,
    ) -> RegisterRequest {
        self.cseq += 1;
        let host = &self.cfg.registrar_host;
        let expires = if self.unregistering { 0 } else { self.expires };
        let mut h = format!(
            "Max-Forwards: 70\r\nFrom: <sip:{dn}@{host}>;tag={tag}\r\nTo: <sip:{dn}@{host}>\r\nCall-ID: {cid}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{dn}@{advertised}>\r\nExpires: {expires}\r\nUser-Agent: {user_agent}\r\n",
            dn = self.cfg.dn,
            tag = self.tag,
            cid = self.call_id,
            cseq = self.cseq
        );
        if let Some((proxy, v)) = auth {
            h.push_str(if proxy {
                "Proxy-Authorization: "
            } else {
                "Authorization: "
            });
            h.push_str(&v);
            h.push_str("\r\n");
        }
        RegisterRequest {
            uri: format!("sip:{host}"),
            headers: h,
        }
    }

    /// Register now (or re-register).
    pub fn start(&mut self, advertised: &str, user_agent: &str) -> RegisterRequest {
        self.unregistering = false;
        self.state = RegState::Registering;
        self.next_at = None;
        self.answered_nonce = None;
        self.build(advertised, user_agent, None)
    }

    /// Un-register (Expires: 0), e.g. on shutdown.
    pub fn stop(&mut self, advertised: &str, user_agent: &str) -> RegisterRequest {
        self.unregistering = true;
        self.next_at = None;
        self.answered_nonce = None;
        self.build(advertised, user_agent, None)
    }

    fn fail(&mut self, why: String, long: bool, now: Instant) {
        self.state = RegState::Failed(why);
        let base = if long {
            self.cfg.max_backoff
        } else {
            self.backoff
        };
        // ±20 % jitter so many route points do not retry in step.
        let jitter = 0.8 + 0.4 * rand::random::<f64>();
        self.next_at = Some(now + base.mul_f64(jitter));
        self.backoff = (self.backoff * 2).min(self.cfg.max_backoff);
    }

    /// A final response to our REGISTER. Returns a REGISTER to send now, if any.
    pub fn on_response(
        &mut self,
        status: u16,
        headers: &[(String, String)],
        advertised: &str,
        user_agent: &str,
        now: Instant,
    ) -> Option<RegisterRequest> {
        let h = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        match status {
            200..=299 => {
                if self.unregistering {
                    self.state = RegState::Unregistered;
                    self.next_at = None;
                    return None;
                }
                // The registrar's grant: our Contact's expires param, else Expires, else ours.
                let ours = format!("sip:{}@{}", self.cfg.dn, advertised);
                let granted = headers
                    .iter()
                    .filter(|(k, _)| k == "contact")
                    .flat_map(|(_, v)| crate::message::split_commas(v))
                    .find(|c| uri_of(c) == ours)
                    .and_then(|c| param(&c, "expires").and_then(|e| e.parse().ok()))
                    .or_else(|| h("expires").and_then(|e| e.trim().parse().ok()))
                    .unwrap_or(self.expires);
                self.state = RegState::Registered { expires: granted };
                self.backoff = self.cfg.min_backoff;
                self.answered_nonce = None;
                // Refresh well before expiry: at half the grant for short ones, 30 s early otherwise.
                let lead = if granted > 120 {
                    granted - 30
                } else {
                    granted / 2
                };
                self.next_at = Some(now + Duration::from_secs(u64::from(lead.max(1))));
                None
            }
            401 | 407 => {
                let proxy = status == 407;
                let ch = h(if proxy {
                    "proxy-authenticate"
                } else {
                    "www-authenticate"
                })
                .and_then(|v| Challenge::parse(v).ok());
                let Some(ch) = ch else {
                    self.fail(
                        format!("{status} without a usable digest challenge"),
                        false,
                        now,
                    );
                    return None;
                };
                if self.answered_nonce.as_deref() == Some(ch.nonce.as_str()) && !ch.stale {
                    self.fail(BAD_CREDENTIALS.into(), true, now);
                    return None;
                }
                let uri = format!("sip:{}", self.cfg.registrar_host);
                match self.digest.authorize(&ch, "REGISTER", &uri) {
                    Ok(v) => {
                        self.answered_nonce = Some(ch.nonce.clone());
                        Some(self.build(advertised, user_agent, Some((proxy, v))))
                    }
                    Err(e) => {
                        self.fail(e.to_string(), true, now);
                        None
                    }
                }
            }
            423 => {
                let min = h("min-expires")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(self.expires.saturating_mul(2).max(60));
                self.expires = min;
                self.answered_nonce = None;
                Some(self.build(advertised, user_agent, None))
            }
            403 => {
                self.fail(BAD_CREDENTIALS.into(), true, now);
                None
            }
            _ => {
                self.fail(format!("registrar answered {status}"), false, now);
                None
            }
        }
    }

    /// The REGISTER got no answer (Timer F).
    pub fn on_timeout_no_answer(&mut self, now: Instant) {
        if self.unregistering {
            self.state = RegState::Unregistered;
            self.next_at = None;
        } else {
            self.fail("no answer from the registrar".into(), false, now);
        }
    }

    /// Time for a refresh or a retry: returns the REGISTER to send.
    pub fn on_timer(
        &mut self,
        now: Instant,
        advertised: &str,
        user_agent: &str,
    ) -> Option<RegisterRequest> {
        match self.next_at {
            Some(t) if now >= t => {
                self.next_at = None;
                self.answered_nonce = None;
                if !matches!(self.state, RegState::Registered { .. }) {
                    self.state = RegState::Registering;
                }
                Some(self.build(advertised, user_agent, None))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> RegistrationConfig {
        RegistrationConfig {
            dn: "2000".into(),
            registrar_host: "reg.example".into(),
            username: "2000".into(),
            password: "pw".into(),
            expires: 3600,
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
        }
    }

    fn hdrs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    const ADV: &str = "127.0.0.1:5060";

    #[test]
    fn challenge_then_registered_with_granted_expiry_and_refresh() {
        let now = Instant::now();
        let mut r = Registration::new(cfg(), "cid".into(), "t".into());
        let first = r.start(ADV, "ua");
        assert!(
            first.headers.contains("CSeq: 1 REGISTER") && !first.headers.contains("Authorization")
        );
        let again = r
            .on_response(
                401,
                &hdrs(&[(
                    "www-authenticate",
                    "Digest realm=\"reg\", nonce=\"n1\", qop=\"auth,auth-int\"",
                )]),
                ADV,
                "ua",
                now,
            )
            .unwrap();
        assert!(
            again.headers.contains("CSeq: 2 REGISTER")
                && again.headers.contains("Authorization: Digest")
                && again.headers.contains("nc=00000001")
        );
        assert!(r
            .on_response(
                200,
                &hdrs(&[("contact", "<sip:2000@127.0.0.1:5060>;expires=120")]),
                ADV,
                "ua",
                now
            )
            .is_none());
        assert_eq!(r.state(), &RegState::Registered { expires: 120 });
        assert_eq!(r.next_timeout(), Some(now + Duration::from_secs(60)));
        let refresh = r
            .on_timer(now + Duration::from_secs(60), ADV, "ua")
            .unwrap();
        assert!(refresh.headers.contains("CSeq: 3 REGISTER"));
    }

    #[test]
    fn wrong_password_is_reported_and_not_retried_in_a_loop() {
        let now = Instant::now();
        let mut r = Registration::new(cfg(), "cid".into(), "t".into());
        r.start(ADV, "ua");
        let ch = hdrs(&[("www-authenticate", "Digest realm=\"reg\", nonce=\"n1\"")]);
        assert!(r.on_response(401, &ch, ADV, "ua", now).is_some());
        assert!(
            r.on_response(401, &ch, ADV, "ua", now).is_none(),
            "same nonce again: wrong credentials"
        );
        assert_eq!(r.state(), &RegState::Failed(BAD_CREDENTIALS.into()));
        let wait = r.next_timeout().unwrap() - now;
        assert!(
            wait >= Duration::from_secs(240),
            "long back-off, got {wait:?}"
        );
        // A stale nonce is not a credentials failure.
        let mut r = Registration::new(cfg(), "cid".into(), "t".into());
        r.start(ADV, "ua");
        r.on_response(401, &ch, ADV, "ua", now);
        assert!(r
            .on_response(
                401,
                &hdrs(&[(
                    "www-authenticate",
                    "Digest realm=\"reg\", nonce=\"n1\", stale=true"
                )]),
                ADV,
                "ua",
                now
            )
            .is_some());
    }

    #[test]
    fn min_expires_and_backoff_with_jitter() {
        let now = Instant::now();
        let mut r = Registration::new(
            RegistrationConfig {
                expires: 30,
                ..cfg()
            },
            "c".into(),
            "t".into(),
        );
        r.start(ADV, "ua");
        let again = r
            .on_response(423, &hdrs(&[("min-expires", "600")]), ADV, "ua", now)
            .unwrap();
        assert!(again.headers.contains("Expires: 600"));
        let mut waits = vec![];
        for _ in 0..4 {
            r.on_response(503, &[], ADV, "ua", now);
            waits.push((r.next_timeout().unwrap() - now).as_millis());
        }
        assert!(waits[0] >= 800 && waits[0] <= 1200, "{waits:?}");
        assert!(waits[3] >= 6400 && waits[3] <= 9600, "doubling: {waits:?}");
    }

    #[test]
    fn unregister_sends_expires_zero() {
        let now = Instant::now();
        let mut r = Registration::new(cfg(), "c".into(), "t".into());
        r.start(ADV, "ua");
        r.on_response(200, &[], ADV, "ua", now);
        let bye = r.stop(ADV, "ua");
        assert!(bye.headers.contains("Expires: 0"));
        r.on_response(200, &[], ADV, "ua", now);
        assert_eq!(r.state(), &RegState::Unregistered);
        assert_eq!(r.next_timeout(), None);
    }
}
