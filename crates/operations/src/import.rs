//! Bulk import of users: the file is checked row by row
//! ([`selfprov_provisioning::import::parse_users_csv`]), PINs are hashed on every core, then every
//! user is created in one transaction — all or nothing — each audited as a `create`.

use crate::object::{entry, Object};
use crate::{Actor, OpError, Operations};
use selfprov_provisioning::model::EndUser;
use selfprov_provisioning::store::{ExistingKeys, PreparedUser, StoreExt, UnixMillis};

impl Operations {
    /// Keys already in use, for checking an import file before anything is written.
    pub fn existing_keys(&self) -> Result<ExistingKeys, OpError> {
        Ok(self.store.reading(|tx| tx.existing_keys())?)
    }

    /// Create every prepared user in one transaction; `source` (e.g. the file name) goes into
    /// each audit entry. Returns how many were imported.
    pub fn import_users(
        &self,
        actor: &Actor,
        users: &[PreparedUser],
        source: &str,
    ) -> Result<usize, OpError> {
        let now = UnixMillis::now();
        self.store.writing(|tx| {
            for p in users {
                let u = EndUser {
                    user_id: p.user.user_id.clone(),
                    first_name: p.user.first_name.clone(),
                    last_name: p.user.last_name.clone(),
                    self_service_id: p.user.self_service_id.clone(),
                    primary_extension: p.user.primary_extension.clone(),
                    user_profile: p.user.user_profile.clone(),
                    enabled: p.user.enabled,
                    pin_hash: p.pin_hash.clone(),
                    password_hash: p.password_hash.clone(),
                };
                u.check(tx)?;
                u.insert(tx)?;
                let mut e = entry(actor, "create", u.user_id.as_str(), None, Some(&u), now);
                e.detail = format!("create user (import from {source})");
                tx.insert_audit(&e)?;
            }
            Ok(())
        })?;
        Ok(users.len())
    }
}
