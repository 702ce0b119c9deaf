//! Which device a new call comes from — decided before the call is answered, and never from the
//! From header:
//! - a proxy in `registrar.trusted_proxies` asserts it (`P-Asserted-Identity`: a device name or
//!   a temporary DN); from any other address that header is ignored;
//! - otherwise, with `registrar.mode = "external"`, nobody can tell: the call is refused (403);
//! - `registrar.phone_auth = "digest"`: the INVITE is challenged and the device is the digest user
//!   name whose current secret the answer proves — the same rule as its REGISTER, so the two
//!   can never disagree;
//! - `"binding"`: the device whose registration the INVITE matches by source address and Contact;
//!   no match, no call (403).
//!
//! What needs the database (a digest answer's secret, an asserted name, and for every caller
//! whether its device can be claimed at all) is done off the loop and comes back as
//! `Work::CallerIdentified`; the call waits in `Service::identifying`.

use crate::phone_auth::{log_refused, Digest, Refusal, SipDigest};
use crate::registrar::Bindings;
use crate::state::Service;
use crate::work::Work;
use selfprov_config::{PhoneAuth, RegistrarMode};
use selfprov_provisioning::OutcomeCode;
use selfprov_sip::digest_server::Authorization;
use selfprov_sip::endpoint::Peer;
use selfprov_sip::stack::Command as SipCommand;
use std::net::IpAddr;
use std::time::Instant;

/// A new call, as its INVITE describes it.
#[derive(Debug)]
pub(crate) struct NewCall {
    pub call_id: String,
    /// When the INVITE reached the service (call set-up time counts from here).
    pub received: Instant,
    pub pai_user: Option<String>,
    pub authorization: Option<String>,
    pub from_uri: Option<String>,
    pub contact: Option<String>,
    pub source: Peer,
    pub offer: Vec<u8>,
    /// The call is to the activation DN: the IVR asks for an activation code.
    pub activation: bool,
}

/// What decides who is calling.
pub(crate) struct Rules<'a> {
    pub mode: RegistrarMode,
    pub phone_auth: PhoneAuth,
    pub trusted_proxies: &'a [IpAddr],
    pub realm: &'a str,
}

/// Who is calling, as far as the event loop can tell without the database.
#[derive(Debug)]
pub(crate) enum CallerIs {
    /// The device whose binding the INVITE matches.
    Bound(String),
    /// Named by a trusted proxy (a device name or a temporary DN): look it up.
    Asserted(String),
    /// A digest answer: check it against its user's current secret.
    Verify(Authorization),
    /// 401: answer the challenge first.
    Challenge(Refusal),
    /// Refused, and why (for the log).
    Refused(Refusal, &'static str),
}

/// Decide who is calling (see the module's rules).
pub(crate) fn caller_is(
    rules: &Rules<'_>,
    call: &NewCall,
    bindings: &Bindings,
    digest: &SipDigest,
    now: Instant,
) -> CallerIs {
    let from_trusted = rules
        .trusted_proxies
        .contains(&call.source.addr.ip().to_canonical());
    if let (true, Some(who)) = (from_trusted, &call.pai_user) {
        return CallerIs::Asserted(who.clone());
    }
    if rules.mode == RegistrarMode::External {
        let why = if from_trusted {
            "no P-Asserted-Identity from the trusted proxy"
        } else {
            "not from a trusted proxy"
        };
        return CallerIs::Refused(Refusal::forbidden("caller not identified"), why);
    }
    match rules.phone_auth {
        PhoneAuth::Binding => {
            match bindings.matching(call.source.addr, call.contact.as_deref(), now) {
                Some(d) => CallerIs::Bound(d.to_owned()),
                None => CallerIs::Refused(
                    Refusal::forbidden("not registered from this address"),
                    "no registration from this address and Contact",
                ),
            }
        }
        PhoneAuth::Digest => match digest.read(rules.realm, call.authorization.as_deref()) {
            Digest::Challenge(c) => CallerIs::Challenge(c),
            Digest::Wrong(why) => CallerIs::Refused(Refusal::forbidden(why), why),
            Digest::Verify(a) => CallerIs::Verify(a),
        },
    }
}

/// The device a call comes from, and whether it can be claimed (the device's own rules, checked
/// before any credential is asked: a phone that cannot claim is told so first and so cannot be
/// used to test PINs).
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub device: String,
    pub eligible: Result<(), OutcomeCode>,
}

impl Service {
    /// A new call: find out who is calling, then answer it (`caller_known`) or refuse it.
    pub(crate) fn identify_caller(&mut self, call: NewCall) {
        let registrar = &self.cfg.raw.registrar;
        let rules = Rules {
            mode: registrar.mode,
            phone_auth: registrar.phone_auth,
            trusted_proxies: &self.cfg.trusted_proxies,
            realm: &self.cfg.raw.phone_config.realm,
        };
        let source = call.source.addr.ip();
        match caller_is(
            &rules,
            &call,
            &self.bindings,
            &self.phone_digest,
            Instant::now(),
        ) {
            CallerIs::Bound(device) => self.identify_off_loop(call, move || Ok(device)),
            CallerIs::Challenge(c) => self.refuse_call(&call.call_id, c),
            CallerIs::Refused(r, why) => {
                log_refused(source, "INVITE", None, why);
                self.refuse_call(&call.call_id, r);
            }
            CallerIs::Verify(auth) => {
                let (claims, digest) = (self.claims.clone(), self.phone_digest.clone());
                self.identify_off_loop(call, move || {
                    digest
                        .verify(&claims, &auth, "INVITE")
                        .map(|_| auth.username.clone())
                        .map_err(|(refusal, why)| {
                            log_refused(source, "INVITE", Some(&auth.username), why);
                            refusal
                        })
                });
            }
            CallerIs::Asserted(who) => {
                let claims = self.claims.clone();
                self.identify_off_loop(call, move || match claims.identify(&who) {
                    Ok(Some(d)) => Ok(d.name.to_string()),
                    // Not a device here: the claim will say so (the proxy vouches for the name).
                    Ok(None) => Ok(who),
                    Err(e) => {
                        tracing::error!(error = %e, "database unavailable to identify a caller");
                        Err(Refusal::unavailable("database"))
                    }
                });
            }
        }
    }

    /// Off the loop: `f` names the calling device (or refuses the call), then the claim engine
    /// says whether that device can be claimed at all, before the IVR asks for anything.
    fn identify_off_loop(
        &mut self,
        call: NewCall,
        f: impl FnOnce() -> Result<String, Refusal> + Send + 'static,
    ) {
        let (work, call_id) = (self.work.clone(), call.call_id.clone());
        let claims = self.claims.clone();
        self.identifying.insert(call.call_id.clone(), call);
        tokio::task::spawn_blocking(move || {
            let result = f().map(|device| Caller {
                eligible: claims.check_device(&device).map_err(|e| e.code()),
                device,
            });
            let _ = work.send(Work::CallerIdentified { call_id, result });
        });
    }

    /// The database said who is calling (or why not); a call cancelled meanwhile is gone.
    pub(crate) fn caller_identified(&mut self, call_id: &str, result: Result<Caller, Refusal>) {
        let Some(call) = self.identifying.remove(call_id) else {
            return;
        };
        match result {
            Ok(caller) => self.caller_known(call, caller),
            Err(r) => self.refuse_call(call_id, r),
        }
    }

    /// Refuse a new call before its answer.
    fn refuse_call(&mut self, call_id: &str, r: Refusal) {
        self.metrics.phone_auth("INVITE", r.status);
        if r.status != 401 {
            self.metrics.call_refused(&r.status.to_string());
            tracing::info!(%call_id, status = r.status, reason = %r.reason, "refusing call");
        }
        self.sip
            .commands
            .send(SipCommand::Reject {
                call_id: call_id.to_owned(),
                status: r.status,
                reason: r.reason,
                extra_headers: r.headers,
            })
            .ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registrar::{Binding, Proof};
    use selfprov_operations::DeviceSecrets;
    use selfprov_sip::digest::{Challenge, DigestClient};
    use std::time::Duration;

    fn call(source: &str, pai: Option<&str>, contact: &str, auth: Option<String>) -> NewCall {
        NewCall {
            call_id: "c1".into(),
            received: Instant::now(),
            pai_user: pai.map(str::to_owned),
            authorization: auth,
            from_uri: Some("sip:SEP0000000000BB@127.0.0.1".into()),
            contact: Some(contact.into()),
            source: Peer::udp(source.parse().unwrap()),
            offer: Vec::new(),
            activation: false,
        }
    }

    fn rules<'a>(mode: RegistrarMode, phone_auth: PhoneAuth, trusted: &'a [IpAddr]) -> Rules<'a> {
        Rules {
            mode,
            phone_auth,
            trusted_proxies: trusted,
            realm: "selfprov",
        }
    }

    #[test]
    fn a_from_header_or_an_untrusted_assertion_never_names_the_caller() {
        let digest = SipDigest::new(DeviceSecrets::from_key([1; 32]));
        let trusted: Vec<IpAddr> = vec!["192.0.2.5".parse().unwrap()];
        let b = Bindings::default();
        let now = Instant::now();
        let r = rules(RegistrarMode::Builtin, PhoneAuth::Digest, &trusted);
        // PAI from the trusted proxy names the device.
        let c = call(
            "192.0.2.5:5060",
            Some("SEP0000000000BB"),
            "sip:x@192.0.2.5",
            None,
        );
        assert!(
            matches!(caller_is(&r, &c, &b, &digest, now), CallerIs::Asserted(d) if d == "SEP0000000000BB")
        );
        // The same INVITE from elsewhere: challenged, the PAI (and the From) ignored.
        let c = call(
            "198.51.100.7:5060",
            Some("SEP0000000000BB"),
            "sip:x@198.51.100.7",
            None,
        );
        assert!(
            matches!(caller_is(&r, &c, &b, &digest, now), CallerIs::Challenge(ch) if ch.status == 401 && ch.headers.matches("WWW-Authenticate: Digest").count() == 1 && ch.headers.contains("algorithm=MD5"))
        );
        // External mode: only a trusted proxy's assertion identifies a caller.
        let ext = rules(RegistrarMode::External, PhoneAuth::Digest, &trusted);
        assert!(
            matches!(caller_is(&ext, &c, &b, &digest, now), CallerIs::Refused(f, _) if f.status == 403)
        );
        let c = call("192.0.2.5:5060", None, "sip:x@192.0.2.5", None);
        assert!(
            matches!(caller_is(&ext, &c, &b, &digest, now), CallerIs::Refused(f, _) if f.status == 403)
        );
        // An IPv4-mapped source is the same proxy.
        let c = call(
            "[::ffff:192.0.2.5]:5060",
            Some("1000"),
            "sip:x@192.0.2.5",
            None,
        );
        assert!(
            matches!(caller_is(&ext, &c, &b, &digest, now), CallerIs::Asserted(d) if d == "1000")
        );
    }

    #[test]
    fn digest_answers_go_to_verification_and_bindings_match_by_address_and_contact() {
        let digest = SipDigest::new(DeviceSecrets::from_key([1; 32]));
        let now = Instant::now();
        let r = rules(RegistrarMode::Builtin, PhoneAuth::Digest, &[]);
        let Digest::Challenge(ch) = digest.read("selfprov", None) else {
            panic!("a challenge")
        };
        let www = ch
            .headers
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("WWW-Authenticate: ");
        let mut client = DigestClient::new("SEP0000000000AA", "secret");
        let answer = client
            .authorize(
                &Challenge::parse(www).unwrap(),
                "INVITE",
                "sip:2000@127.0.0.1:5060",
            )
            .unwrap();
        let c = call(
            "127.0.0.1:40000",
            None,
            "sip:a@127.0.0.1:40000",
            Some(answer.clone()),
        );
        assert!(
            matches!(caller_is(&r, &c, &Bindings::default(), &digest, now), CallerIs::Verify(a) if a.username == "SEP0000000000AA")
        );
        // An answer in another realm is no answer to our challenge.
        let other = rules(RegistrarMode::Builtin, PhoneAuth::Digest, &[]);
        let other = Rules {
            realm: "elsewhere",
            ..other
        };
        assert!(
            matches!(caller_is(&other, &c, &Bindings::default(), &digest, now), CallerIs::Refused(f, _) if f.status == 403)
        );

        let r = rules(RegistrarMode::Builtin, PhoneAuth::Binding, &[]);
        let mut b = Bindings::default();
        b.set(
            "SEP0000000000AA",
            Binding {
                contact: "sip:a@127.0.0.1:40000".into(),
                source: Peer::udp("127.0.0.1:40000".parse().unwrap()),
                until: now + Duration::from_secs(60),
                dn: "1000".into(),
                proof: Proof::Binding,
                user_agent: None,
            },
        );
        let c = call("127.0.0.1:40000", None, "<sip:a@127.0.0.1:40000>", None);
        assert!(
            matches!(caller_is(&r, &c, &b, &digest, now), CallerIs::Bound(d) if d == "SEP0000000000AA")
        );
        let c = call("127.0.0.1:40001", None, "<sip:a@127.0.0.1:40000>", None);
        assert!(
            matches!(caller_is(&r, &c, &b, &digest, now), CallerIs::Refused(f, _) if f.status == 403)
        );
    }
}
