//! The device registry's side of the claim engine: which device is calling, auto-registration of
//! unknown phones with the next free temporary DN, and release of a claimed device back to
//! auto-registered.

use crate::claim::ClaimEngine;
use crate::object::{entry, not_found};
use crate::{Actor, OpError};
use selfprov_provisioning::model::{
    model_class, Device, DeviceClass, DeviceName, Dn, DnRange, FieldError, UserId,
};
use selfprov_provisioning::settings::AutoRegistrationSettings;
use selfprov_provisioning::store::{Credential, StoreError, StoreExt, Tx, UnixMillis};
use std::sync::Mutex;

/// The value after the last temporary DN handed out: the next search starts there, so DNs are
/// handed out in turn (a restart starts from the bottom again).
#[derive(Debug, Default)]
pub struct DnHint(Mutex<Option<u128>>);

/// Probes before reading the whole range's used DNs at once.
const PROBES: u128 = 64;

/// Issue the device a new credential generation (the first, or the next): its previous secret
/// stops working at once. Called inside the transaction that changes the device.
pub(crate) fn new_credential(
    tx: &dyn Tx,
    device: &str,
    now: UnixMillis,
) -> Result<Credential, StoreError> {
    let generation = tx
        .credential(device)?
        .map_or(1, |c| c.generation.wrapping_add(1).max(1));
    let c = Credential {
        generation,
        issued: now,
        fetched: None,
    };
    tx.put_credential(device, &c)?;
    Ok(c)
}

/// `d` as an auto-registered device: no owner, the temporary DN, the auto-registration templates.
fn temporary(d: Device, dn: Dn, settings: &AutoRegistrationSettings, now: UnixMillis) -> Device {
    Device {
        description: format!("Auto {dn}"),
        dn: Some(dn),
        owner: None,
        auto_registered: true,
        udt: settings.udt.as_ref().map(|u| u.to_string()),
        ult: settings.ult.as_ref().map(|u| u.to_string()),
        updated_at: now.0 / 1000,
        ..d
    }
}

impl ClaimEngine {
    /// A free DN of the range, inside the caller's write transaction. It probes from just after
    /// the last DN handed out, wrapping at the end; when 64 probes in a row are taken it reads the
    /// range's used DNs once. Taken means held by any device or as any user's primary extension.
    fn free_dn(&self, tx: &dyn Tx, range: &DnRange) -> Result<Dn, StoreError> {
        let (lo, hi, len) = (range.start().value(), range.end().value(), range.len());
        let mut hint = self.dn_hint.0.lock().unwrap_or_else(|p| p.into_inner());
        let from = hint.filter(|v| (lo..=hi).contains(v)).unwrap_or(lo);
        let nth = |i: u128| lo + (from - lo + i) % len;
        for i in 0..len.min(PROBES) {
            let dn = range.dn(nth(i));
            if !tx.dn_taken(&dn)? {
                *hint = Some(nth(i) + 1);
                return Ok(dn);
            }
        }
        if len > PROBES {
            let used = tx.used_dns(range)?;
            if let Some(v) = (PROBES..len).map(nth).find(|v| !used.contains(v)) {
                *hint = Some(v + 1);
                return Ok(range.dn(v));
            }
        }
        Err(StoreError::RangeExhausted {
            range: range.to_string(),
        })
    }

    /// How many DNs of the auto-registration range are taken (by devices or as users'
    /// extensions), and how many it has.
    pub fn range_usage(&self, range: &DnRange) -> Result<(u128, u128), StoreError> {
        let used = self.store.reading(|tx| tx.used_dns(range))?.len() as u128;
        Ok((used.min(range.len()), range.len()))
    }

    /// The device's credential (which generation of its secret is in force).
    pub fn credential(&self, device: &str) -> Result<Option<Credential>, StoreError> {
        self.store.reading(|tx| tx.credential(device))
    }

    /// The device of this name, if known.
    pub fn device(&self, name: &str) -> Result<Option<Device>, StoreError> {
        self.store.reading(|tx| tx.device(name))
    }

    /// The device making a call, by name or by the temporary DN it holds while auto-registered.
    pub fn identify(&self, name_or_dn: &str) -> Result<Option<Device>, StoreError> {
        self.store.reading(|tx| match tx.device(name_or_dn)? {
            Some(d) => Ok(Some(d)),
            None => tx.device_by_temporary_dn(name_or_dn),
        })
    }

    /// A phone makes itself known (REGISTER, first configuration fetch): the known device, or a
    /// new auto-registered one with the next free DN of the range, audited as `autoregister`.
    pub fn auto_register(
        &self,
        name: &DeviceName,
        model: &str,
        settings: &AutoRegistrationSettings,
        actor: &Actor,
        now: UnixMillis,
    ) -> Result<Device, StoreError> {
        self.store.writing(|tx| {
            if let Some(d) = tx.device(name.as_str())? {
                return Ok(d);
            }
            let new = Device {
                name: name.clone(),
                model: model.to_owned(),
                protocol: "SIP".into(),
                class: model_class(model).unwrap_or(DeviceClass::DeskPhone),
                secure: false,
                description: String::new(),
                dn: None,
                owner: None,
                auto_registered: true,
                udt: None,
                ult: None,
                created_at: now.0 / 1000,
                updated_at: now.0 / 1000,
            };
            let d = temporary(new, self.free_dn(tx, &settings.dn_range)?, settings, now);
            tx.insert_device(&d)?;
            new_credential(tx, name.as_str(), now)?;
            tx.insert_audit(&entry(
                actor,
                "autoregister",
                name.as_str(),
                None,
                Some(&d),
                now,
            ))?;
            Ok(d)
        })
    }

    /// Give a claimed device back: it returns to auto-registered with a new temporary DN and the
    /// auto-registration templates, without an owner.
    pub fn release(
        &self,
        name: &str,
        settings: &AutoRegistrationSettings,
        actor: &Actor,
        now: UnixMillis,
    ) -> Result<Device, OpError> {
        self.release_of(name, None, settings, actor, now)
    }

    /// [`ClaimEngine::release`], of a device only while `owner` (when given) owns it, checked in
    /// the release's transaction; anyone else's device is "not found", so a user learns nothing
    /// about other users' phones.
    pub fn release_of(
        &self,
        name: &str,
        owner: Option<&UserId>,
        settings: &AutoRegistrationSettings,
        actor: &Actor,
        now: UnixMillis,
    ) -> Result<Device, OpError> {
        Ok(self.store.writing(|tx| {
            let before = tx
                .device(name)?
                .filter(|d| owner.is_none_or(|o| d.owner.as_ref() == Some(o)))
                .ok_or_else(|| not_found::<Device>(name))?;
            if before.auto_registered && before.owner.is_none() {
                return Err(FieldError::new(
                    "device",
                    format!("`{name}` is auto-registered and has no owner: nothing to release"),
                )
                .into());
            }
            let dn = self.free_dn(tx, &settings.dn_range)?;
            let after = temporary(before.clone(), dn, settings, now);
            tx.update_device(&after)?;
            new_credential(tx, name, now)?;
            tx.insert_audit(&entry(
                actor,
                "release",
                name,
                Some(&before),
                Some(&after),
                now,
            ))?;
            Ok(after)
        })?)
    }

    /// New hardware takes an old phone's lines: the new device (`new`, auto-registered by its
    /// first fetch or REGISTER, or not known yet) gets the old one's owner, DN and templates and
    /// its own credential; the old device is removed, so its MAC's files stop being served.
    pub fn replace(
        &self,
        old: &str,
        new: &DeviceName,
        actor: &Actor,
        now: UnixMillis,
    ) -> Result<Device, OpError> {
        Ok(self.store.writing(|tx| {
            let before = tx.device(old)?.ok_or_else(|| not_found::<Device>(old))?;
            if old == new.as_str() {
                return Err(FieldError::new("new", "is the same device as the old one").into());
            }
            let model = match tx.device(new.as_str())? {
                Some(d) if d.auto_registered && d.owner.is_none() => {
                    // The new phone's temporary record (and its temporary DN) goes away.
                    tx.delete_device(new.as_str())?;
                    d.model
                }
                Some(_) => {
                    return Err(FieldError::new(
                        "new",
                        format!("`{new}` is already in use by a user; release it first"),
                    )
                    .into())
                }
                None => before.model.clone(),
            };
            tx.delete_device(old)?;
            let after = Device {
                name: new.clone(),
                class: model_class(&model).unwrap_or(before.class),
                model,
                created_at: now.0 / 1000,
                updated_at: now.0 / 1000,
                ..before.clone()
            };
            tx.insert_device(&after)?;
            new_credential(tx, new.as_str(), now)?;
            // One entry in each device's history.
            let mut gone = entry(actor, "replace", old, Some(&before), Some(&after), now);
            gone.device = Some(old.to_owned());
            tx.insert_audit(&gone)?;
            tx.insert_audit(&entry(
                actor,
                "replace",
                new.as_str(),
                Some(&before),
                Some(&after),
                now,
            ))?;
            Ok(after)
        })?)
    }
}
