//! End users: create/update/delete/list with their validation, and the helpdesk actions (unlock
//! after too many wrong PINs, PIN reset). PINs are hashed before the write transaction (the slow
//! part) and never reach the audit log: only whether one is set.

use crate::field::{optional, set_optional, set_text, NAME_MAX};
use crate::object::{not_found, Object};
use crate::{Actor, OpError, Operations};
use rand::Rng;
use selfprov_provisioning::model::{check_pin, EndUser, FieldError};
use selfprov_provisioning::secret::SecretHash;
use selfprov_provisioning::store::{
    ListQuery, Page, StoreError, StoreExt, Tx, UnixMillis, UserSort,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// User fields to set; `None` keeps the current value. `""` clears an optional field (the
/// self-service ID then defaults to the primary extension; the profile to the system default).
#[derive(Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub self_service_id: Option<String>,
    pub primary_extension: Option<String>,
    pub user_profile: Option<String>,
    pub enabled: Option<bool>,
    /// The new PIN in clear (1 to 20 digits); hashed before it is stored.
    pub pin: Option<String>,
}

impl std::fmt::Debug for UserPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserPatch")
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("self_service_id", &self.self_service_id)
            .field("primary_extension", &self.primary_extension)
            .field("user_profile", &self.user_profile)
            .field("enabled", &self.enabled)
            .field("pin", &self.pin.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl UserPatch {
    /// Apply to `u` (everything but the PIN, which the caller hashes).
    fn apply(&self, mut u: EndUser) -> Result<EndUser, FieldError> {
        set_text(&mut u.first_name, "first_name", &self.first_name, NAME_MAX)?;
        set_text(&mut u.last_name, "last_name", &self.last_name, NAME_MAX)?;
        // A self-service ID that was only the default follows a changed extension.
        let ssid_was_default = u.self_service_id.as_ref().map(|s| s.as_str())
            == u.primary_extension.as_ref().map(|d| d.as_str());
        set_optional(
            &mut u.primary_extension,
            "primary_extension",
            &self.primary_extension,
        )?;
        match &self.self_service_id {
            Some(s) => u.self_service_id = optional("self_service_id", s)?,
            None if ssid_was_default && self.primary_extension.is_some() => {
                u.self_service_id = None
            }
            None => {}
        }
        set_optional(&mut u.user_profile, "user_profile", &self.user_profile)?;
        if let Some(v) = self.enabled {
            u.enabled = v;
        }
        // As stored, so the user returned is the user read back (and so is its version).
        Ok(u.with_default_self_service_id())
    }

    /// The PIN checked and hashed, if one is given.
    fn pin_hash(&self) -> Result<Option<String>, OpError> {
        self.pin.as_deref().map(hash_pin).transpose()
    }
}

fn hash_pin(pin: &str) -> Result<String, OpError> {
    check_pin(pin)?;
    SecretHash::hash(pin)
        .map(|h| h.as_phc().to_owned())
        .map_err(|e| OpError::Store(StoreError::Database(e.to_string())))
}

impl Object for EndUser {
    const KIND: &'static str = "user";
    const LABEL: &'static str = "user";
    fn key(&self) -> String {
        self.user_id.to_string()
    }
    fn load(tx: &dyn Tx, key: &str) -> Result<Option<Self>, StoreError> {
        tx.user(key)
    }
    fn insert(&self, tx: &dyn Tx) -> Result<(), StoreError> {
        tx.insert_user(self)
    }
    fn update(&self, tx: &dyn Tx) -> Result<(), StoreError> {
        tx.update_user(self)
    }
    fn remove(tx: &dyn Tx, key: &str) -> Result<(), StoreError> {
        tx.delete_user(key)
    }
    fn check(&self, tx: &dyn Tx) -> Result<(), StoreError> {
        match &self.user_profile {
            Some(p) if tx.profile(p.as_str())?.is_none() => Err(FieldError::new(
                "user_profile",
                format!("user profile `{p}` does not exist"),
            )
            .into()),
            _ => Ok(()),
        }
    }
    /// The user as shown (hashes are never serialised), and whether a PIN is set.
    fn view(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("pin_set".into(), json!(self.pin_hash.is_some()));
        }
        v
    }
    fn subjects(&self) -> (Option<String>, Option<String>) {
        (None, Some(self.user_id.to_string()))
    }
}

/// A user's lockout state (for `user show`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LockState {
    pub failed_attempts: u32,
    pub locked_until_ms: Option<i64>,
}

impl Operations {
    /// Create a user. A PIN is required: the IVR cannot authenticate a user without one.
    pub fn create_user(
        &self,
        actor: &Actor,
        user_id: &str,
        p: &UserPatch,
    ) -> Result<EndUser, OpError> {
        let Some(pin_hash) = p.pin_hash()? else {
            return Err(FieldError::new(
                "pin",
                "is required: a user without a PIN cannot provision a phone",
            )
            .into());
        };
        let mut u = p.apply(EndUser {
            user_id: crate::field::parse("user_id", user_id)?,
            first_name: String::new(),
            last_name: String::new(),
            self_service_id: None,
            primary_extension: None,
            user_profile: None,
            enabled: true,
            pin_hash: None,
            password_hash: None,
        })?;
        u.pin_hash = Some(pin_hash);
        self.create_object(actor, u)
    }

    pub fn update_user(
        &self,
        actor: &Actor,
        user_id: &str,
        p: &UserPatch,
    ) -> Result<EndUser, OpError> {
        let pin_hash = p.pin_hash()?;
        self.change_object(actor, user_id, "update", |_, cur: EndUser| {
            let mut u = p.apply(cur)?;
            if let Some(h) = &pin_hash {
                u.pin_hash = Some(h.clone());
            }
            Ok(u)
        })
    }

    pub fn delete_user(&self, actor: &Actor, user_id: &str) -> Result<(), OpError> {
        self.delete_object::<EndUser>(actor, user_id)
    }

    pub fn user(&self, user_id: &str) -> Result<EndUser, OpError> {
        self.get_object(user_id)
    }

    pub fn users(&self, q: &ListQuery<UserSort>) -> Result<Page<EndUser>, OpError> {
        Ok(self.store.reading(|tx| tx.users(q))?)
    }

    pub fn lock_state(&self, user_id: &str) -> Result<LockState, OpError> {
        let (failed, until) = self.store.reading(|tx| {
            tx.lock_state(user_id)?
                .ok_or_else(|| not_found::<EndUser>(user_id))
        })?;
        Ok(LockState {
            failed_attempts: failed,
            locked_until_ms: until.map(|t| t.0),
        })
    }

    /// Clear a lockout (and the failed-attempt counts, the user's and those per calling device).
    pub fn unlock_user(&self, actor: &Actor, user_id: &str) -> Result<LockState, OpError> {
        self.store.writing(|tx| {
            let (failed, until) = tx
                .lock_state(user_id)?
                .ok_or_else(|| not_found::<EndUser>(user_id))?;
            tx.set_lock_state(user_id, 0, None)?;
            tx.clear_device_locks(user_id)?;
            let before = json!({"failed_attempts": failed, "locked_until_ms": until.map(|t| t.0)});
            let after = json!({"failed_attempts": 0, "locked_until_ms": null});
            tx.insert_audit(&crate::audit::change_entry(
                actor,
                crate::audit::ChangeOf {
                    object_kind: "user",
                    object: user_id,
                    action: "unlock",
                    device: None,
                    user: Some(user_id.to_owned()),
                },
                Some(before),
                Some(after),
                UnixMillis::now(),
            ))
        })?;
        self.lock_state(user_id)
    }

    /// Give a user a new PIN: `pin`, or a random 6-digit one that is returned to be shown once.
    /// A reset also clears a lockout.
    pub fn reset_pin(
        &self,
        actor: &Actor,
        user_id: &str,
        pin: Option<&str>,
    ) -> Result<Option<String>, OpError> {
        let generated = pin.is_none().then(|| {
            let mut rng = rand::rngs::OsRng;
            (0..6)
                .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
                .collect::<String>()
        });
        self.set_pin(
            actor,
            user_id,
            pin.or(generated.as_deref()).unwrap_or_default(),
            "reset_pin",
        )?;
        Ok(generated)
    }

    /// Store a new PIN under the PIN policy ([`check_pin`]; errors name the field `pin`), clear
    /// any lockout, and audit it as `action`: an administrator's reset or a user's own change
    /// (the self-care portal).
    pub(crate) fn set_pin(
        &self,
        actor: &Actor,
        user_id: &str,
        pin: &str,
        action: &str,
    ) -> Result<EndUser, OpError> {
        let hash = hash_pin(pin)?;
        self.change_object(actor, user_id, action, |tx, mut u: EndUser| {
            tx.set_lock_state(user_id, 0, None)?;
            tx.clear_device_locks(user_id)?;
            u.pin_hash = Some(hash.clone());
            Ok(u)
        })
    }
}
