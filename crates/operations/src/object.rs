//! Create, update and delete of any stored object, once: each runs in one write transaction that
//! reads the object as it is, applies the change, checks it against the rest of the database and
//! writes the audit entry with the fields before and after. The kinds plug in through [`Object`].

use crate::audit::{change_entry, ChangeOf};
use crate::version::Versioned;
use crate::{Actor, OpError, Operations};
use selfprov_provisioning::store::{StoreError, StoreExt, Tx, UnixMillis};
use serde_json::Value;

/// A kind of object the operations layer administers.
pub(crate) trait Object: Clone {
    /// Its name in the audit log (`udt`, `user`, …).
    const KIND: &'static str;
    /// Its name in messages (`universal device template`).
    const LABEL: &'static str;
    fn key(&self) -> String;
    fn load(tx: &dyn Tx, key: &str) -> Result<Option<Self>, StoreError>;
    fn insert(&self, tx: &dyn Tx) -> Result<(), StoreError>;
    fn update(&self, tx: &dyn Tx) -> Result<(), StoreError>;
    fn remove(tx: &dyn Tx, key: &str) -> Result<(), StoreError>;
    /// Rules that involve other objects (references exist), checked inside the transaction.
    fn check(&self, _tx: &dyn Tx) -> Result<(), StoreError> {
        Ok(())
    }
    /// The fields the audit log shows. Never a secret or its hash.
    fn view(&self) -> Value;
    /// The device and user an entry about this object concerns (for their histories).
    fn subjects(&self) -> (Option<String>, Option<String>) {
        (None, None)
    }
}

pub(crate) fn not_found<O: Object>(key: &str) -> StoreError {
    StoreError::NotFound {
        kind: O::LABEL,
        name: key.to_owned(),
    }
}

/// The audit entry of a change of `O`: its subjects (device, user) from the object after the
/// change, else before (a release names the owner it took the device from).
pub(crate) fn entry<O: Object>(
    actor: &Actor,
    action: &str,
    key: &str,
    before: Option<&O>,
    after: Option<&O>,
    now: UnixMillis,
) -> selfprov_provisioning::model::AuditEntry {
    let (d_after, u_after) = after.map(O::subjects).unwrap_or_default();
    let (d_before, u_before) = before.map(O::subjects).unwrap_or_default();
    change_entry(
        actor,
        ChangeOf {
            object_kind: O::KIND,
            object: key,
            action,
            device: d_after.or(d_before),
            user: u_after.or(u_before),
        },
        before.map(O::view),
        after.map(O::view),
        now,
    )
}

impl Operations {
    pub(crate) fn create_object<O: Object>(&self, actor: &Actor, obj: O) -> Result<O, OpError> {
        self.store.writing(|tx| {
            obj.check(tx)?;
            obj.insert(tx)?;
            tx.insert_audit(&entry(
                actor,
                "create",
                &obj.key(),
                None,
                Some(&obj),
                UnixMillis::now(),
            ))?;
            Ok(())
        })?;
        Ok(obj)
    }

    /// Change an object with `f` (a pure function of its current state: it may run again if the
    /// backend retries the transaction). `action` names the change in the audit (`update`,
    /// `unlock`, `reset_pin`, …).
    pub(crate) fn change_object<O: Object>(
        &self,
        actor: &Actor,
        key: &str,
        action: &str,
        f: impl Fn(&dyn Tx, O) -> Result<O, StoreError>,
    ) -> Result<O, OpError> {
        self.store.writing(|tx| {
            let before = O::load(tx, key)?.ok_or_else(|| not_found::<O>(key))?;
            if let Err(e) = self.precondition(key, &before) {
                return Ok(Err(e));
            }
            let after = f(tx, before.clone())?;
            after.check(tx)?;
            after.update(tx)?;
            tx.insert_audit(&entry(
                actor,
                action,
                key,
                Some(&before),
                Some(&after),
                UnixMillis::now(),
            ))?;
            Ok(Ok(after))
        })?
    }

    pub(crate) fn delete_object<O: Object>(&self, actor: &Actor, key: &str) -> Result<(), OpError> {
        self.store.writing(|tx| {
            let before = O::load(tx, key)?.ok_or_else(|| not_found::<O>(key))?;
            if let Err(e) = self.precondition(key, &before) {
                return Ok(Err(e));
            }
            O::remove(tx, key)?;
            tx.insert_audit(&entry(
                actor,
                "delete",
                key,
                Some(&before),
                None,
                UnixMillis::now(),
            ))?;
            Ok(Ok(()))
        })?
    }

    /// The version this handle expects (see [`Operations::expecting`]) against the object as it
    /// is, inside the transaction that would change it.
    fn precondition<O: Object>(&self, key: &str, current: &O) -> Result<(), OpError> {
        match &self.expect {
            Some(v) if *v != current.version() => Err(OpError::Modified {
                kind: O::LABEL,
                name: key.to_owned(),
                current: current.version(),
            }),
            _ => Ok(()),
        }
    }

    pub(crate) fn get_object<O: Object>(&self, key: &str) -> Result<O, OpError> {
        Ok(self
            .store
            .reading(|tx| O::load(tx, key)?.ok_or_else(|| not_found::<O>(key)))?)
    }
}
