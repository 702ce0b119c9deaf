//! Phones' configuration files, on the domain's side: what a device's files are rendered from
//! (its line, its owner, its templates, its secret), the rule deciding whether a request gets a
//! file that carries a secret, and the fetch history in the audit log. The configuration server
//! (service) does the HTTP and digest parts and asks here.
//!
//! The rule: a file with a secret goes only to a request that proves the device's secret by
//! digest — the current one, or the previous one during the window after a new one was issued
//! (the phone fetches its new line's file with the credentials it has); without credentials, only
//! the first fetch of a freshly auto-registered phone, within the window. Anyone else is
//! challenged and the refusal is logged.

use crate::secrets::DeviceSecrets;
use crate::{OpError, Operations};
use selfprov_phoneconfig::context::{
    display, DeviceInfo, LineInfo, RoutePointInfo, SipInfo, UdtInfo, UltInfo, UserInfo,
};
use selfprov_phoneconfig::{Context, Mac};
use selfprov_provisioning::model::{AuditEntry, AuditKind};
use selfprov_provisioning::store::{Credential, StoreError, StoreExt, UnixMillis};
use std::time::Duration;

/// Where phones register and fetch, as the files must say it.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub sip: SipInfo,
    /// `http://host:port`, no trailing `/`.
    pub config_url: String,
    pub route_point_dn: String,
    pub language: String,
    /// Base of the on-screen claim's idle URL (`<config_url>/screen`); `None`: the on-screen
    /// claim is off. A device's idle URL is `<base>/<device>/<token>` ([`DeviceSecrets::screen_token`]).
    pub idle_url_base: Option<String>,
}

/// What a request showed to prove it is the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// No credentials.
    None,
    /// A digest that checks out against the secret of this credential generation.
    Secret { generation: u32 },
    /// Credentials that do not check out.
    Wrong,
}

/// Whether a file goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Serve,
    /// Answer 401 with a challenge; the reason goes to the log and the device's history.
    Challenge(&'static str),
}

/// Decide for a file that carries the device's secret (files without one are always served).
pub fn judge(cred: &Credential, proof: Proof, now: UnixMillis, window: Duration) -> Verdict {
    let in_window = now.0.saturating_sub(cred.issued.0) <= window.as_millis() as i64;
    match proof {
        Proof::Secret { generation } if generation == cred.generation => Verdict::Serve,
        Proof::Secret { generation } if generation + 1 == cred.generation && in_window => {
            Verdict::Serve
        }
        Proof::Secret { .. } => Verdict::Challenge("credentials of a replaced secret"),
        Proof::Wrong => Verdict::Challenge("wrong credentials"),
        Proof::None if cred.generation == 1 && cred.fetched.is_none() && in_window => {
            Verdict::Serve
        }
        Proof::None if cred.generation == 1 && cred.fetched.is_none() => {
            Verdict::Challenge("first fetch after the window")
        }
        Proof::None => Verdict::Challenge("credentials required"),
    }
}

/// A fetch for the device's history (and the operator's log).
pub fn fetch_entry(
    device: Option<&str>,
    file: &str,
    source: &str,
    served: bool,
    detail: &str,
    now: UnixMillis,
) -> AuditEntry {
    AuditEntry {
        time_ms: now.0,
        kind: AuditKind::Fetch,
        actor: format!("config:{source}"),
        device: device.map(str::to_owned),
        detail: detail.to_owned(),
        object_kind: Some("file".into()),
        object: Some(file.to_owned()),
        action: Some(if served { "served" } else { "refused" }.into()),
        ..AuditEntry::default()
    }
}

impl Operations {
    /// The context a device's files are rendered with, and its credential (issued now if the
    /// device has none yet, e.g. one created before credentials existed).
    pub fn phone_context(
        &self,
        device: &str,
        secrets: &DeviceSecrets,
        server: &ServerInfo,
    ) -> Result<(Context, Credential), OpError> {
        let now = UnixMillis::now();
        // A write only for a device without a credential yet: fetches are read-only otherwise.
        let cred = match self.store.reading(|tx| tx.credential(device))? {
            Some(c) => c,
            None => self.store.writing(|tx| match tx.credential(device)? {
                Some(c) => Ok(c),
                None => crate::registry::new_credential(tx, device, now),
            })?,
        };
        let ctx = self.store.reading(|tx| {
            let d = tx.device(device)?.ok_or_else(|| StoreError::NotFound {
                kind: "device",
                name: device.to_owned(),
            })?;
            let user = match &d.owner {
                Some(o) => tx.user(o.as_str())?,
                None => None,
            };
            let udt = match &d.udt {
                Some(n) => tx.udt(n)?,
                None => None,
            };
            let ult = match &d.ult {
                Some(n) => tx.ult(n)?,
                None => None,
            };
            let number = d.dn.as_ref().map(|x| x.to_string()).unwrap_or_default();
            let shown = match &user {
                Some(u) => display(format!("{} {}", u.first_name, u.last_name).trim()),
                None => number.clone(),
            };
            let mac = Mac::of_device_name(d.name.as_str());
            let ctx = Context {
                device: Some(DeviceInfo {
                    name: d.name.to_string(),
                    mac: mac.map(|m| m.upper()).unwrap_or_default(),
                    mac_lower: mac.map(|m| m.lower()).unwrap_or_default(),
                    model: d.model.clone(),
                    description: d.description.clone(),
                    auto_registered: d.auto_registered,
                }),
                line: Some(LineInfo {
                    number,
                    display_name: shown.clone(),
                    label: shown,
                    auth_user: d.name.to_string(),
                    password: secrets.secret(d.name.as_str(), cred.generation),
                }),
                user: user.map(|u| UserInfo {
                    user_id: u.user_id.to_string(),
                    first_name: u.first_name,
                    last_name: u.last_name,
                }),
                sip: server.sip.clone(),
                route_point: RoutePointInfo {
                    dn: server.route_point_dn.clone(),
                    label: format!("Dial {} to assign an extension", server.route_point_dn),
                },
                config_url: server.config_url.clone(),
                idle_url: server.idle_url_base.as_ref().map(|b| {
                    let token = secrets.screen_token(d.name.as_str(), cred.generation);
                    format!("{b}/{}/{token}", d.name)
                }),
                language: server.language.clone(),
                udt: udt.map(|t| UdtInfo {
                    name: t.name.to_string(),
                    device_pool: t.device_pool,
                    sip_profile: t.sip_profile,
                    phone_button_template: t.phone_button_template,
                }),
                ult: ult.map(|t| UltInfo {
                    name: t.name.to_string(),
                    partition: t.partition,
                    calling_search_space: t.calling_search_space,
                    voicemail_profile: t.voicemail_profile,
                }),
            };
            Ok(ctx)
        })?;
        Ok((ctx, cred))
    }

    /// The phone fetched the file carrying this credential generation for the first time.
    pub fn mark_fetched(
        &self,
        device: &str,
        generation: u32,
        now: UnixMillis,
    ) -> Result<(), OpError> {
        self.store
            .writing(|tx| record_first_fetch(tx, device, generation, now))?;
        Ok(())
    }

    /// Write fetch entries (batched by the caller: a boot storm is thousands of fetches).
    pub fn record_fetches(&self, entries: &[AuditEntry]) -> Result<(), OpError> {
        self.store
            .writing(|tx| entries.iter().try_for_each(|e| tx.insert_audit(e)))?;
        Ok(())
    }
}

/// In `tx`: the first fetch of the file carrying credential `generation` (nothing when the device
/// has another generation now, or that one was fetched already).
pub(crate) fn record_first_fetch(
    tx: &dyn selfprov_provisioning::store::Tx,
    device: &str,
    generation: u32,
    now: UnixMillis,
) -> Result<(), StoreError> {
    match tx.credential(device)? {
        Some(c) if c.generation == generation && c.fetched.is_none() => tx.put_credential(
            device,
            &Credential {
                fetched: Some(now),
                ..c
            },
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(generation: u32, issued: i64, fetched: Option<i64>) -> Credential {
        Credential {
            generation,
            issued: UnixMillis(issued),
            fetched: fetched.map(UnixMillis),
        }
    }

    #[test]
    fn who_gets_a_file_with_a_secret() {
        let w = Duration::from_secs(600);
        let (t0, inside, after) = (0, 599_000, 601_000);
        // A new phone's first fetch, inside the window only, once.
        assert_eq!(
            judge(&cred(1, t0, None), Proof::None, UnixMillis(inside), w),
            Verdict::Serve
        );
        assert!(matches!(
            judge(&cred(1, t0, None), Proof::None, UnixMillis(after), w),
            Verdict::Challenge(_)
        ));
        assert!(matches!(
            judge(&cred(1, t0, Some(5)), Proof::None, UnixMillis(inside), w),
            Verdict::Challenge(_)
        ));
        // After a claim (generation 2) nobody gets it without credentials.
        assert!(matches!(
            judge(&cred(2, t0, None), Proof::None, UnixMillis(inside), w),
            Verdict::Challenge(_)
        ));
        // The current secret always; the previous one only inside the window.
        assert_eq!(
            judge(
                &cred(2, t0, None),
                Proof::Secret { generation: 2 },
                UnixMillis(after),
                w
            ),
            Verdict::Serve
        );
        assert_eq!(
            judge(
                &cred(2, t0, None),
                Proof::Secret { generation: 1 },
                UnixMillis(inside),
                w
            ),
            Verdict::Serve
        );
        assert!(matches!(
            judge(
                &cred(2, t0, None),
                Proof::Secret { generation: 1 },
                UnixMillis(after),
                w
            ),
            Verdict::Challenge(_)
        ));
        assert!(matches!(
            judge(
                &cred(3, t0, None),
                Proof::Secret { generation: 1 },
                UnixMillis(inside),
                w
            ),
            Verdict::Challenge(_)
        ));
        assert!(matches!(
            judge(&cred(1, t0, None), Proof::Wrong, UnixMillis(inside), w),
            Verdict::Challenge("wrong credentials")
        ));
    }
}
