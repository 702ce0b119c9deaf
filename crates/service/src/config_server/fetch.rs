//! One configuration request, from its path, User-Agent, credentials and source to the answer:
//! recognise the file, find (or auto-register) the device, decide whether it may have a file that
//! carries a secret, render it, and leave the fetch in the device's history.

use super::{ConfigServer, View};
use crate::phone_auth::{unix_s, verified_generation, NONCE_MAX_AGE_S};
use selfprov_operations::phone_files::{fetch_entry, judge, Proof, Verdict};
use selfprov_operations::Actor;
use selfprov_phoneconfig::context::Context;
use selfprov_phoneconfig::{read_user_agent, recognise, Family, FileRequest, Mac};
use selfprov_provisioning::model::DeviceName;
use selfprov_provisioning::store::{Credential, UnixMillis};
use selfprov_sip::digest_server::Answer;
use std::net::IpAddr;
use std::time::Instant;

/// What came in.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub user_agent: Option<&'a str>,
    pub authorization: Option<&'a str>,
    pub source: IpAddr,
}

/// What goes out.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    File {
        content_type: &'static str,
        body: String,
    },
    NotFound,
    /// 401 with fresh digest challenges (`stale`: the nonce only aged).
    Challenge {
        stale: bool,
    },
    /// 429: too many requests for unknown MACs from this source.
    TooMany,
    /// 503: the file could not be made (the reason is logged).
    Unavailable,
    /// 503: a new phone among too many at once; it comes back after `retry_after` seconds.
    ComeBack {
        retry_after: u32,
    },
}

fn content_type(family: Family) -> &'static str {
    match family {
        Family::Yealink | Family::Baresip => "text/plain; charset=utf-8",
        _ => "application/xml; charset=utf-8",
    }
}

impl ConfigServer {
    /// Answer one request (blocking: it reads and writes the database).
    pub fn fetch(&self, r: &Request<'_>) -> Reply {
        let view = self.view();
        let agent = read_user_agent(r.user_agent);
        let known = |mac: Mac| {
            self.ops
                .claims()
                .device(&mac.device_name())
                .ok()
                .flatten()
                .and_then(|d| Family::of_model(&d.model))
        };
        let Some(req) = recognise(r.path, &agent, known) else {
            tracing::debug!(path = r.path, source = %r.source, "config request for no known file");
            return Reply::NotFound;
        };
        let file = r.path.trim_start_matches('/');
        match (req.secret, req.mac) {
            (true, Some(mac)) => {
                // No User-Agent (TFTP) or one that names no family: the file name's family.
                let model = match (agent.family, req.family.default_model()) {
                    (None, Some(m)) => m,
                    _ => agent.model.as_str(),
                };
                self.device_file(&view, r, &req, mac, model, file)
            }
            _ => self.common_file(&view, &req, file),
        }
    }

    /// A file without a secret: the same for every phone of the family.
    fn common_file(&self, view: &View, req: &FileRequest, file: &str) -> Reply {
        let ctx = Context {
            device: None,
            line: None,
            user: None,
            sip: view.server.sip.clone(),
            route_point: selfprov_phoneconfig::context::RoutePointInfo {
                dn: view.server.route_point_dn.clone(),
                label: format!("Dial {} to assign an extension", view.server.route_point_dn),
            },
            config_url: view.server.config_url.clone(),
            idle_url: None,
            language: view.server.language.clone(),
            udt: None,
            ult: None,
        };
        match view
            .templates
            .render(req.family, req.template, "", None, &ctx)
        {
            Ok(r) => Reply::File {
                content_type: content_type(req.family),
                body: r.text,
            },
            Err(p) => {
                tracing::error!(file, problem = %p, "configuration file not rendered");
                Reply::Unavailable
            }
        }
    }

    fn refuse(&self, r: &Request<'_>, device: Option<&str>, file: &str, reason: &str) {
        // One line per refusal, in a form fail2ban can match: `config fetch refused .* source=<HOST>`.
        tracing::warn!(source = %r.source, file, device = device.unwrap_or("-"), reason, "config fetch refused");
        let _ = self.history.send(fetch_entry(
            device,
            file,
            &r.source.to_string(),
            false,
            reason,
            UnixMillis::now(),
        ));
    }

    /// What the request proves about the device's secret.
    fn proof(
        &self,
        view: &View,
        r: &Request<'_>,
        name: &str,
        cred: &Credential,
    ) -> Result<Proof, Reply> {
        let auth = match self.nonce.read_answer(
            r.authorization,
            &view.realm,
            Some(r.path),
            unix_s(),
            NONCE_MAX_AGE_S,
        ) {
            Answer::Missing => return Ok(Proof::None),
            Answer::Stale => return Err(Reply::Challenge { stale: true }),
            Answer::Wrong(_) => return Ok(Proof::Wrong),
            Answer::Fresh(a) if a.username == name => a,
            Answer::Fresh(_) => return Ok(Proof::Wrong),
        };
        let gens = [
            Some(cred.generation),
            cred.generation.checked_sub(1).filter(|g| *g > 0),
        ];
        Ok(
            verified_generation(&auth, r.method, &self.secrets, gens.into_iter().flatten())
                .map_or(Proof::Wrong, |generation| Proof::Secret { generation }),
        )
    }

    /// A device's own file: auto-register an unknown phone, check its right to the secret, render.
    fn device_file(
        &self,
        view: &View,
        r: &Request<'_>,
        req: &FileRequest,
        mac: Mac,
        model: &str,
        file: &str,
    ) -> Reply {
        let name = mac.device_name();
        let claims = self.ops.claims();
        let device = match claims.device(&name) {
            Ok(Some(d)) => d,
            Ok(None) => {
                if !self
                    .throttle
                    .allow(r.source, view.per_minute, Instant::now())
                {
                    self.refuse(r, None, file, "too many unknown MACs from this address");
                    return Reply::TooMany;
                }
                if !view.autoreg.enabled {
                    self.refuse(
                        r,
                        None,
                        file,
                        "unknown device and auto-registration is disabled",
                    );
                    return Reply::NotFound;
                }
                let Ok(dn) = name.parse::<DeviceName>() else {
                    return Reply::NotFound;
                };
                if let Err(d) = claims.admit_new_device(Instant::now()) {
                    defer_new_device(&self.metrics, d, &name, r.source);
                    return Reply::ComeBack {
                        retry_after: d.retry_after,
                    };
                }
                let actor = Actor::named("config", &r.source.to_string());
                match claims.auto_register(&dn, model, &view.autoreg, &actor, UnixMillis::now()) {
                    Ok(d) => {
                        tracing::info!(device = %name, model, dn = ?d.dn.as_ref().map(|x| x.to_string()), source = %r.source, "phone auto-registered at its first configuration fetch");
                        d
                    }
                    Err(e) => {
                        tracing::warn!(device = %name, error = %e, "auto-registration at configuration fetch failed");
                        self.refuse(r, Some(&name), file, "auto-registration failed");
                        return Reply::Unavailable;
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "database unavailable for a configuration fetch");
                return Reply::Unavailable;
            }
        };
        let (ctx, cred) = match self.ops.phone_context(&name, &self.secrets, &view.server) {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(device = %name, error = %e, "configuration context not built");
                return Reply::Unavailable;
            }
        };
        let proof = match self.proof(view, r, &name, &cred) {
            Ok(p) => p,
            Err(reply) => return reply,
        };
        let now = UnixMillis::now();
        match judge(&cred, proof, now, view.window) {
            Verdict::Challenge(reason) => {
                // A first try without credentials is the normal start of digest; wrong or replaced
                // credentials, and a new phone too late for its first fetch, are refusals.
                if proof == Proof::None && reason != "first fetch after the window" {
                    tracing::debug!(device = %name, file, "challenged for credentials");
                } else {
                    self.refuse(r, Some(&name), file, reason);
                }
                Reply::Challenge { stale: false }
            }
            Verdict::Serve => match view.templates.render(
                req.family,
                req.template,
                &device.model,
                Some(&name),
                &ctx,
            ) {
                Ok(rendered) => {
                    let first = cred.fetched.is_none()
                        && matches!(proof, Proof::None | Proof::Secret { .. });
                    let recorded = if first {
                        claims
                            .first_file_served(&name, cred.generation, now)
                            .map_err(|e| tracing::warn!(device = %name, error = %e, "first fetch not recorded"))
                            .is_ok()
                    } else {
                        false
                    };
                    if !recorded {
                        if let Err(e) = claims.heard_from(&name, now) {
                            tracing::warn!(device = %name, error = %e, "fetch not recorded as a sign of life");
                        }
                    }
                    let how = match proof {
                        Proof::None => "first fetch without credentials",
                        _ => "digest",
                    };
                    tracing::info!(device = %name, file, source = %r.source, how, "configuration file served");
                    let _ = self.history.send(fetch_entry(
                        Some(&name),
                        file,
                        &r.source.to_string(),
                        true,
                        how,
                        now,
                    ));
                    Reply::File {
                        content_type: content_type(req.family),
                        body: rendered.text,
                    }
                }
                Err(p) => {
                    tracing::error!(device = %name, file, problem = %p, "configuration file not rendered");
                    Reply::Unavailable
                }
            },
        }
    }
}

/// A new phone told to come back because new devices come faster than
/// `auto_registration.new_devices_per_second`: counted, logged once a minute whoever it is (not
/// a line fail2ban reads: these are genuine phones after a power cut as often as a flood).
pub(crate) fn defer_new_device(
    metrics: &crate::metrics::Metrics,
    d: selfprov_operations::unclaimed::Deferred,
    device: &str,
    source: std::net::IpAddr,
) {
    metrics.autoreg_deferred.inc();
    if d.log {
        tracing::warn!(
            %device, %source, retry_after = d.retry_after,
            "new devices are coming faster than auto_registration.new_devices_per_second: new phones are told to come back"
        );
    }
}
