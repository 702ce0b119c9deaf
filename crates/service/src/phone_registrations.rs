//! Phones registering at the built-in registrar. With `registrar.phone_auth = "digest"` every
//! REGISTER (un-REGISTER included) is challenged and accepted only with the device's current
//! secret — the device is the digest user name; an unknown phone gets its credentials from its
//! first configuration fetch, never from a REGISTER. With `"binding"` the device is the one the
//! REGISTER names, auto-registered at its first REGISTER, and only its own address may remove its
//! binding. Database work runs off the loop; the answer and the binding come back as
//! `Work::Registered`.

use crate::config_server::fetch::defer_new_device;
use crate::phone_auth::{log_refused, Digest, Refusal};
use crate::registrar::{binding_lifetime, parse_register, Binding, Proof, RegisterInfo};
use crate::state::Service;
use crate::work::{Registered, Registration, Work};
use selfprov_config::PhoneAuth;
use selfprov_operations::{Actor, ClaimEngine};
use selfprov_provisioning::model::Device;
use selfprov_provisioning::store::UnixMillis;
use selfprov_sip::endpoint::Peer;
use selfprov_sip::stack::Command as SipCommand;
use std::time::Instant;

fn dn_of(d: &Device) -> String {
    d.dn.as_ref().map(|d| d.to_string()).unwrap_or_default()
}

impl Service {
    fn respond(&self, key: String, status: u16, reason: String, extra_headers: String) {
        self.sip
            .commands
            .send(SipCommand::Respond {
                key,
                status,
                reason,
                extra_headers,
            })
            .ok();
    }

    fn refuse_register(&self, key: String, r: Refusal) {
        self.metrics.phone_auth("REGISTER", r.status);
        self.respond(key, r.status, r.reason, r.headers);
    }

    /// A REGISTER from a phone.
    pub(crate) fn on_register(&mut self, key: String, source: Peer, headers: &[(String, String)]) {
        let info = parse_register(headers);
        match self.cfg.raw.registrar.phone_auth {
            PhoneAuth::Digest => {
                let authorization = headers
                    .iter()
                    .find(|(k, _)| k == "authorization")
                    .map(|(_, v)| v.as_str());
                self.register_digest(key, source, authorization, info)
            }
            PhoneAuth::Binding => self.register_binding(key, source, info),
        }
    }

    /// Digest: the device is the user name of a fresh answer that proves its current secret.
    fn register_digest(
        &mut self,
        key: String,
        source: Peer,
        authorization: Option<&str>,
        info: RegisterInfo,
    ) {
        let realm = &self.cfg.raw.phone_config.realm;
        let auth = match self.phone_digest.read(realm, authorization) {
            Digest::Challenge(c) => return self.refuse_register(key, c),
            Digest::Wrong(why) => {
                log_refused(source.addr.ip(), "REGISTER", None, why);
                return self.refuse_register(key, Refusal::forbidden(why));
            }
            Digest::Verify(a) => a,
        };
        let (claims, digest, work) = (
            self.claims.clone(),
            self.phone_digest.clone(),
            self.work.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let device = auth.username.clone();
            let result = match digest.verify(&claims, &auth, "REGISTER") {
                Ok(generation) => match claims.device(&device) {
                    Ok(Some(d)) => {
                        seen(&claims, &device);
                        Ok(Registered {
                            dn: dn_of(&d),
                            proof: Proof::Digest { generation },
                        })
                    }
                    Ok(None) => Err(Refusal::forbidden("wrong credentials")),
                    Err(e) => {
                        tracing::error!(error = %e, "database unavailable for a REGISTER");
                        Err(Refusal::unavailable("database"))
                    }
                },
                Err((refusal, why)) => {
                    log_refused(source.addr.ip(), "REGISTER", Some(&device), why);
                    Err(refusal)
                }
            };
            let _ = work.send(Work::Registered(Registration {
                key,
                device,
                contact: info.contact,
                source,
                expires: info.expires.min(86_400),
                user_agent: info.user_agent,
                result,
            }));
        });
    }

    /// Binding: the device the REGISTER names, auto-registered if unknown.
    fn register_binding(&mut self, key: String, source: Peer, info: RegisterInfo) {
        let name = match info.device {
            Ok(d) => d,
            Err(why) => {
                return self.respond(key, 400, format!("Bad Request - {why}"), String::new())
            }
        };
        if info.expires == 0 {
            // Only the phone's own address takes its binding away.
            let elsewhere = self
                .bindings
                .get(name.as_str(), Instant::now())
                .is_some_and(|b| b.source.addr != source.addr);
            if elsewhere {
                log_refused(
                    source.addr.ip(),
                    "REGISTER",
                    Some(name.as_str()),
                    "un-REGISTER from another address",
                );
                return self
                    .refuse_register(key, Refusal::forbidden("registered from another address"));
            }
            self.bindings.remove(name.as_str());
            return self.respond(key, 200, "OK".into(), "Expires: 0\r\n".into());
        }
        let (claims, work, autoreg, metrics) = (
            self.claims.clone(),
            self.work.clone(),
            self.cfg.auto_registration.clone(),
            self.metrics.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let refused = |why: String| {
                tracing::warn!(device = %name, %why, "registration refused");
                Refusal::forbidden(&why)
            };
            let found = match claims.device(name.as_str()) {
                Ok(Some(d)) => Ok(d),
                Err(e) => Err(refused(e.to_string())),
                Ok(None) if autoreg.enabled => match claims.admit_new_device(Instant::now()) {
                    Err(d) => {
                        defer_new_device(&metrics, d, name.as_str(), source.addr.ip());
                        Err(Refusal::come_back(d.retry_after))
                    }
                    Ok(()) => claims
                        .auto_register(
                            &name,
                            &info.model,
                            &autoreg,
                            &Actor::registrar(),
                            UnixMillis::now(),
                        )
                        .map_err(|e| refused(e.to_string())),
                },
                Ok(None) => Err(refused(
                    "unknown device and auto-registration is disabled".into(),
                )),
            };
            let result = found.map(|d| {
                seen(&claims, name.as_str());
                Registered {
                    dn: dn_of(&d),
                    proof: Proof::Binding,
                }
            });
            let _ = work.send(Work::Registered(Registration {
                key,
                device: name.to_string(),
                contact: info.contact,
                source,
                expires: info.expires.min(86_400),
                user_agent: info.user_agent,
                result,
            }));
        });
    }

    /// The device behind a REGISTER is known (or refused): answer, and keep (or drop) its
    /// binding.
    pub(crate) fn registered(&mut self, r: Registration) {
        let Registration {
            key,
            device,
            contact,
            source,
            expires,
            user_agent,
            result,
        } = r;
        let ok = match result {
            Ok(ok) => ok,
            Err(refusal) => return self.refuse_register(key, refusal),
        };
        self.metrics.phone_auth("REGISTER", 200);
        if expires == 0 {
            self.bindings.remove(&device);
            tracing::info!(%device, "phone unregistered");
            return self.respond(key, 200, "OK".into(), "Expires: 0\r\n".into());
        }
        if let Some(c) = &contact {
            self.bindings.set(
                &device,
                Binding {
                    contact: c.clone(),
                    source,
                    until: Instant::now() + binding_lifetime(expires),
                    dn: ok.dn.clone(),
                    proof: ok.proof,
                    user_agent,
                },
            );
        }
        tracing::info!(%device, dn = %ok.dn, "phone registered");
        let extra = format!(
            "Contact: <{}>;expires={expires}\r\nExpires: {expires}\r\n",
            contact.unwrap_or_default()
        );
        self.respond(key, 200, "OK".into(), extra);
    }
}

/// An accepted REGISTER is a sign of life (the expiry of unclaimed devices counts from the last).
fn seen(claims: &ClaimEngine, device: &str) {
    if let Err(e) = claims.heard_from(device, UnixMillis::now()) {
        tracing::warn!(%device, error = %e, "REGISTER not recorded as a sign of life");
    }
}
