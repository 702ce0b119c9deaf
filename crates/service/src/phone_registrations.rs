//! Phones registering at the built-in registrar: the device is looked up, or auto-registered with
//! the next free temporary DN (off the loop), the REGISTER is answered, and the binding is kept so
//! the IVR knows the caller and where to send check-sync.

use crate::registrar::{binding_lifetime, parse_register, Binding};
use crate::state::Service;
use crate::work::{Registration, Work};
use selfprov_operations::Actor;
use selfprov_provisioning::store::UnixMillis;
use selfprov_sip::endpoint::Peer;
use selfprov_sip::stack::Command as SipCommand;
use std::time::Instant;

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

    /// A REGISTER from a phone.
    pub(crate) fn on_register(&mut self, key: String, source: Peer, headers: &[(String, String)]) {
        let info = match parse_register(headers) {
            Ok(i) => i,
            Err(why) => {
                return self.respond(key, 400, format!("Bad Request - {why}"), String::new())
            }
        };
        if info.expires == 0 {
            self.bindings.remove(info.device.as_str());
            return self.respond(key, 200, "OK".into(), "Expires: 0\r\n".into());
        }
        let (claims, work, autoreg) = (
            self.claims.clone(),
            self.work.clone(),
            self.cfg.auto_registration.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let device = info.device.to_string();
            let dn = |d: selfprov_provisioning::model::Device| {
                d.dn.map(|d| d.to_string()).unwrap_or_default()
            };
            let result = match claims.device(&device) {
                Ok(Some(d)) => Ok(dn(d)),
                Err(e) => Err(e.to_string()),
                Ok(None) if autoreg.enabled => claims
                    .auto_register(
                        &info.device,
                        &info.model,
                        &autoreg,
                        &Actor::registrar(),
                        UnixMillis::now(),
                    )
                    .map(dn)
                    .map_err(|e| e.to_string()),
                Ok(None) => Err("unknown device and auto-registration is disabled".into()),
            };
            let _ = work.send(Work::Registered(Registration {
                key,
                device,
                contact: info.contact,
                source,
                expires: info.expires.min(86_400),
                result,
            }));
        });
    }

    /// The device behind a REGISTER is known (or refused): answer, and keep its binding.
    pub(crate) fn registered(&mut self, r: Registration) {
        let Registration {
            key,
            device,
            contact,
            source,
            expires,
            result,
        } = r;
        match result {
            Ok(dn) => {
                if let Some(c) = &contact {
                    self.bindings.set(
                        &device,
                        Binding {
                            contact: c.clone(),
                            source,
                            until: Instant::now() + binding_lifetime(expires),
                        },
                    );
                }
                tracing::info!(%device, %dn, "phone registered");
                let extra = format!(
                    "Contact: <{}>;expires={expires}\r\nExpires: {expires}\r\n",
                    contact.unwrap_or_default()
                );
                self.respond(key, 200, "OK".into(), extra);
            }
            Err(why) => {
                tracing::warn!(%device, %why, "registration refused");
                self.respond(key, 403, format!("Forbidden - {why}"), String::new());
            }
        }
    }
}
