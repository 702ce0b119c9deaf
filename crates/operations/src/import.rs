//! Bulk import of users: the file is checked row by row
//! ([`selfprov_provisioning::import::parse_users_csv`]), PINs are hashed on every core, then every
//! user is created — or, with [`Existing::Update`], changed — in one transaction, all or nothing,
//! each audited as a `create` or an `update`. A row that would change nothing writes nothing.

use crate::object::{entry, Object};
use crate::{Actor, OpError, Operations};
use selfprov_provisioning::import::Existing;
use selfprov_provisioning::model::EndUser;
use selfprov_provisioning::store::{
    ExistingKeys, ListQuery, PreparedUser, StoreError, StoreExt, UnixMillis,
};
use serde::Serialize;

/// What an import did (or, for a preview, would do).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// The user a prepared row describes, on top of the user as stored (if any): an existing user
/// keeps their PIN when the row has none, and their `enabled` flag.
fn user_of(p: &PreparedUser, current: Option<&EndUser>) -> EndUser {
    EndUser {
        user_id: p.user.user_id.clone(),
        first_name: p.user.first_name.clone(),
        last_name: p.user.last_name.clone(),
        self_service_id: p.user.self_service_id.clone(),
        primary_extension: p.user.primary_extension.clone(),
        user_profile: p.user.user_profile.clone(),
        enabled: current.map_or(p.user.enabled, |c| c.enabled),
        pin_hash: p
            .pin_hash
            .clone()
            .or_else(|| current.and_then(|c| c.pin_hash.clone())),
        password_hash: p
            .password_hash
            .clone()
            .or_else(|| current.and_then(|c| c.password_hash.clone())),
    }
    .with_default_self_service_id()
}

impl Operations {
    /// Keys already in use, for checking an import file before anything is written.
    pub fn existing_keys(&self) -> Result<ExistingKeys, OpError> {
        Ok(self.store.reading(|tx| tx.existing_keys())?)
    }

    /// Create (and with [`Existing::Update`], change) every prepared user in one transaction;
    /// `source` (e.g. the file name) goes into each audit entry.
    pub fn import_users(
        &self,
        actor: &Actor,
        users: &[PreparedUser],
        mode: Existing,
        source: &str,
    ) -> Result<ImportSummary, OpError> {
        let now = UnixMillis::now();
        Ok(self.store.writing(|tx| {
            let mut sum = ImportSummary::default();
            for p in users {
                let key = p.user.user_id.as_str();
                let current = tx.user(key)?;
                let (action, before) = match current {
                    None => ("create", None),
                    Some(_) if mode == Existing::Refuse => {
                        return Err(StoreError::AlreadyExists {
                            kind: EndUser::LABEL,
                            name: key.to_owned(),
                        })
                    }
                    Some(c) => ("update", Some(c)),
                };
                let u = user_of(p, before.as_ref());
                if before.as_ref() == Some(&u) {
                    sum.unchanged += 1;
                    continue;
                }
                u.check(tx)?;
                match &before {
                    None => {
                        u.insert(tx)?;
                        sum.created += 1;
                    }
                    Some(_) => {
                        u.update(tx)?;
                        sum.updated += 1;
                    }
                }
                let mut e = entry(actor, action, key, before.as_ref(), Some(&u), now);
                e.detail = format!("{} (import from {source})", e.detail);
                tx.insert_audit(&e)?;
            }
            Ok(sum)
        })?)
    }

    /// Every user, for an export.
    pub fn all_users(&self) -> Result<Vec<EndUser>, OpError> {
        Ok(self
            .store
            .reading(|tx| tx.users(&ListQuery::default()))?
            .items)
    }
}
