//! Storage of the provisioning model behind one interface. A backend implements [`Store`]: it
//! runs a closure inside a read or a write transaction and hands it a [`Tx`], the backend's row
//! operations (read, insert, update, delete of each kind of object, the audit log, settings).
//! Everything above the rows — validation, the assign rules, the claim engine, the audit of
//! administrative changes — is written once against `Tx` (crate `selfprov-operations`), so a
//! second backend only has to store and find rows, and every behaviour test runs against each
//! backend unchanged.
//!
//! A write transaction is all or nothing and serialised against the other writers of the same
//! database ([`SqliteStore`]: `BEGIN IMMEDIATE`). A backend that detects conflicts instead of
//! preventing them may run the closure again, which is why it is `FnMut`.

pub(crate) mod columns;
mod pool;
#[cfg(feature = "postgresql")]
mod postgres;
mod query;
mod schema;
mod sqlite;

#[cfg(feature = "postgresql")]
pub use postgres::{ha1s, PgOptions, PgStore, RegistrarAccounts, SecretOf, PG_MIGRATIONS};
pub use query::{After, DeviceSort, KeyValue, ListQuery, Page, Pattern, UserSort};
/// The schema migrations, in order (for migration tests).
#[doc(hidden)]
pub use schema::MIGRATIONS;
pub use sqlite::SqliteStore;
/// Commit durability of the SQLite backend.
pub mod sqlite_durability {
    pub use super::sqlite::Durability;
}

use crate::accounts::{AdminAccount, ApiToken, SessionRow, TokenOwner};
use crate::activation::ActivationCode;
use crate::model::{
    AuditEntry, AuditKind, Device, Dn, DnRange, EndUser, FieldError, NewUser,
    UniversalDeviceTemplate, UniversalLineTemplate, UserId, UserProfile,
};
use crate::OutcomeCode;
use std::collections::{HashMap, HashSet};

/// Milliseconds since the Unix epoch. Operations take `now` from the caller so that tests (and
/// the lockout rules) do not depend on the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnixMillis(pub i64);

impl UnixMillis {
    pub fn now() -> Self {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        UnixMillis(d.as_millis() as i64)
    }
    pub fn plus(self, d: std::time::Duration) -> Self {
        UnixMillis(self.0.saturating_add(d.as_millis() as i64))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} `{name}` not found")]
    NotFound { kind: &'static str, name: String },
    #[error("{kind} `{name}` already exists")]
    AlreadyExists { kind: &'static str, name: String },
    #[error("{kind} `{name}` is used by {by}")]
    InUse {
        kind: &'static str,
        name: String,
        by: String,
    },
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("the auto-registration DN range {range} is exhausted: every DN is in use (widen auto_registration.dn_range)")]
    RangeExhausted { range: String },
    #[error("database error: {0}")]
    Database(String),
    /// The database cannot be reached (down, restarting, unreachable): nothing was changed, and
    /// the same request may succeed later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// A storage backend: runs closures in transactions.
pub trait Store: Send + Sync {
    /// `sqlite`, `postgresql`, … (for logs and `status`).
    fn backend(&self) -> &'static str;
    /// Run `f` on a consistent read-only view.
    fn read(&self, f: &mut dyn FnMut(&dyn Tx) -> Result<(), StoreError>) -> Result<(), StoreError>;
    /// Run `f` in one write transaction: committed when `f` returns `Ok`, rolled back otherwise.
    fn write(&self, f: &mut dyn FnMut(&dyn Tx) -> Result<(), StoreError>)
        -> Result<(), StoreError>;
}

/// Typed helpers over [`Store`] (the trait itself stays object safe).
pub trait StoreExt: Store {
    /// Read something in one transaction.
    fn reading<T>(
        &self,
        f: impl FnOnce(&dyn Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut f = Some(f);
        let mut out = None;
        self.read(&mut |tx| {
            if let Some(f) = f.take() {
                out = Some(f(tx)?);
            }
            Ok(())
        })?;
        out.ok_or_else(|| StoreError::Database("read transaction ran no work".into()))
    }
    /// Change something in one write transaction; `f` may run more than once (see module doc).
    fn writing<T>(
        &self,
        mut f: impl FnMut(&dyn Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut out = None;
        self.write(&mut |tx| {
            out = Some(f(tx)?);
            Ok(())
        })?;
        out.ok_or_else(|| StoreError::Database("write transaction ran no work".into()))
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

/// Everything a transaction can do, grouped by object kind.
pub trait Tx:
    TemplateRows + UserRows + DeviceRows + AuditRows + SettingRows + AccountRows + ActivationRows
{
}
impl<
        T: TemplateRows
            + UserRows
            + DeviceRows
            + AuditRows
            + SettingRows
            + AccountRows
            + ActivationRows,
    > Tx for T
{
}

/// Universal device and line templates, user profiles.
pub trait TemplateRows {
    fn udt(&self, name: &str) -> Result<Option<UniversalDeviceTemplate>, StoreError>;
    fn udts(&self) -> Result<Vec<UniversalDeviceTemplate>, StoreError>;
    /// `AlreadyExists` when the name is taken.
    fn insert_udt(&self, t: &UniversalDeviceTemplate) -> Result<(), StoreError>;
    /// `NotFound` when there is no such template.
    fn update_udt(&self, t: &UniversalDeviceTemplate) -> Result<(), StoreError>;
    /// `NotFound`, or `InUse` naming what refers to it.
    fn delete_udt(&self, name: &str) -> Result<(), StoreError>;
    fn ult(&self, name: &str) -> Result<Option<UniversalLineTemplate>, StoreError>;
    fn ults(&self) -> Result<Vec<UniversalLineTemplate>, StoreError>;
    fn insert_ult(&self, t: &UniversalLineTemplate) -> Result<(), StoreError>;
    fn update_ult(&self, t: &UniversalLineTemplate) -> Result<(), StoreError>;
    fn delete_ult(&self, name: &str) -> Result<(), StoreError>;
    fn profile(&self, name: &str) -> Result<Option<UserProfile>, StoreError>;
    fn profiles(&self) -> Result<Vec<UserProfile>, StoreError>;
    /// The profile flagged system default, if any.
    fn default_profile(&self) -> Result<Option<UserProfile>, StoreError>;
    /// Storing a profile flagged system default clears the flag on every other one.
    fn insert_profile(&self, p: &UserProfile) -> Result<(), StoreError>;
    fn update_profile(&self, p: &UserProfile) -> Result<(), StoreError>;
    fn delete_profile(&self, name: &str) -> Result<(), StoreError>;
}

/// What the PIN check needs about the user behind a self-service ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user_id: UserId,
    pub pin_hash: Option<String>,
    pub failed_attempts: u32,
    pub locked_until: Option<UnixMillis>,
}

/// End users (with their secrets' hashes) and their lockout counters.
pub trait UserRows {
    fn user(&self, user_id: &str) -> Result<Option<EndUser>, StoreError>;
    fn users(&self, q: &ListQuery<UserSort>) -> Result<Page<EndUser>, StoreError>;
    /// The self-service ID is the user's own or, when unset, the primary extension.
    /// `AlreadyExists` for a taken user ID; a field error for a taken self-service ID.
    fn insert_user(&self, u: &EndUser) -> Result<(), StoreError>;
    /// Every field, hashes included, is written as given.
    fn update_user(&self, u: &EndUser) -> Result<(), StoreError>;
    fn delete_user(&self, user_id: &str) -> Result<(), StoreError>;
    fn credentials(&self, self_service_id: &str) -> Result<Option<Credentials>, StoreError>;
    /// Count one more failed attempt; returns the new count.
    fn add_failed_attempt(&self, user_id: &str) -> Result<u32, StoreError>;
    fn set_lock_state(
        &self,
        user_id: &str,
        failed: u32,
        locked_until: Option<UnixMillis>,
    ) -> Result<(), StoreError>;
    /// Failed attempts and lock state of a user; `None` for an unknown user.
    fn lock_state(&self, user_id: &str) -> Result<Option<(u32, Option<UnixMillis>)>, StoreError>;
    /// Failed claim attempts and lock state of a user from one calling device (0 and none when
    /// there were none).
    fn device_lock_state(
        &self,
        user_id: &str,
        device: &str,
    ) -> Result<(u32, Option<UnixMillis>), StoreError>;
    /// Count one more failed attempt of a user from a device; returns the new count.
    fn add_device_failure(&self, user_id: &str, device: &str) -> Result<u32, StoreError>;
    fn set_device_lock_state(
        &self,
        user_id: &str,
        device: &str,
        failed: u32,
        locked_until: Option<UnixMillis>,
    ) -> Result<(), StoreError>;
    /// Forget a user's failed attempts from every device (unlock, PIN reset).
    fn clear_device_locks(&self, user_id: &str) -> Result<(), StoreError>;
    /// User IDs, self-service IDs and profile names in use (import checks).
    fn existing_keys(&self) -> Result<ExistingKeys, StoreError>;
}

/// A device's SIP credential: the secret itself is derived from a server key and the generation
/// (`selfprov-operations`), so the database never holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credential {
    /// Grows with each new secret: the old one stops working at once.
    pub generation: u32,
    pub issued: UnixMillis,
    /// The first fetch of the configuration file carrying this generation.
    pub fetched: Option<UnixMillis>,
}

/// Devices and the directory numbers they hold.
pub trait DeviceRows {
    fn device(&self, name: &str) -> Result<Option<Device>, StoreError>;
    /// The auto-registered device that holds this temporary DN.
    fn device_by_temporary_dn(&self, dn: &str) -> Result<Option<Device>, StoreError>;
    fn devices(&self, q: &ListQuery<DeviceSort>) -> Result<Page<Device>, StoreError>;
    /// `AlreadyExists`, or a field error when an auto-registered DN is taken or the owner is unknown.
    fn insert_device(&self, d: &Device) -> Result<(), StoreError>;
    fn update_device(&self, d: &Device) -> Result<(), StoreError>;
    fn delete_device(&self, name: &str) -> Result<(), StoreError>;
    /// How many devices the user owns.
    fn owned_count(&self, user_id: &str) -> Result<u32, StoreError>;
    /// The devices the user owns, by name.
    fn owned_devices(&self, user_id: &str) -> Result<Vec<Device>, StoreError>;
    /// Whether a device holds the DN or a user has it as primary extension.
    fn dn_taken(&self, dn: &Dn) -> Result<bool, StoreError>;
    /// Every DN of the range (as a number) held by a device or as a primary extension.
    fn used_dns(&self, range: &DnRange) -> Result<HashSet<u128>, StoreError>;
    fn credential(&self, device: &str) -> Result<Option<Credential>, StoreError>;
    /// Store the device's credential (insert or replace).
    fn put_credential(&self, device: &str, c: &Credential) -> Result<(), StoreError>;
    /// The device was heard from at `at` (an accepted REGISTER, a configuration file served);
    /// an earlier time than the one stored changes nothing. An unknown device is not an error.
    fn mark_seen(&self, device: &str, at: UnixMillis) -> Result<(), StoreError>;
    /// Auto-registered devices without an owner whose last sign of life — the last time they
    /// were seen, their credential's first fetch, their last change (`updated_at`), whichever is
    /// latest — is before `before`: oldest first, at most `limit`.
    fn unclaimed_unseen(&self, before: UnixMillis, limit: usize)
        -> Result<Vec<Device>, StoreError>;
}

/// Filter for reading the audit log (newest first). Every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub limit: Option<usize>,
    pub kind: Option<AuditKind>,
    pub device: Option<String>,
    pub user: Option<String>,
    /// The changed object's name, or the device or user an entry is about.
    pub object: Option<String>,
    /// Exact actor (`cli:root`) or its channel (`cli`).
    pub actor: Option<String>,
    pub code: Option<OutcomeCode>,
    pub since: Option<UnixMillis>,
    pub until: Option<UnixMillis>,
}

pub trait AuditRows {
    fn insert_audit(&self, e: &AuditEntry) -> Result<(), StoreError>;
    fn audit_log(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;
}

/// Named settings documents (JSON) that override the configuration file.
pub trait SettingRows {
    fn setting(&self, name: &str) -> Result<Option<String>, StoreError>;
    fn put_setting(
        &self,
        name: &str,
        json: &str,
        actor: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError>;
    /// Grows with every `put_setting`: a node polls it to notice changes made elsewhere.
    fn settings_revision(&self) -> Result<i64, StoreError>;
}

/// Administrator accounts, their API tokens and console sessions.
pub trait AccountRows {
    fn account(&self, name: &str) -> Result<Option<AdminAccount>, StoreError>;
    fn accounts(&self) -> Result<Vec<AdminAccount>, StoreError>;
    /// `AlreadyExists` when the name is taken.
    fn insert_account(&self, a: &AdminAccount) -> Result<(), StoreError>;
    /// Role, password hash and lockout counters. `NotFound` when there is no such account.
    fn update_account(&self, a: &AdminAccount) -> Result<(), StoreError>;
    /// Also deletes the account's tokens and sessions. `NotFound` when there is no such account.
    fn delete_account(&self, name: &str) -> Result<(), StoreError>;
    fn insert_token(&self, t: &ApiToken) -> Result<(), StoreError>;
    /// Every token, or one owner's.
    fn tokens(&self, owner: Option<&str>) -> Result<Vec<ApiToken>, StoreError>;
    /// The token whose secret hashes to `sha256`, with its owner's current role.
    fn token_by_secret(&self, sha256: &str) -> Result<Option<TokenOwner>, StoreError>;
    /// `NotFound` when there is no such token.
    fn delete_token(&self, id: &str) -> Result<(), StoreError>;
    fn touch_token(&self, id: &str, now: UnixMillis) -> Result<(), StoreError>;
    fn insert_session(&self, s: &SessionRow) -> Result<(), StoreError>;
    fn session(&self, sha256: &str) -> Result<Option<SessionRow>, StoreError>;
    fn touch_session(&self, sha256: &str, now: UnixMillis) -> Result<(), StoreError>;
    fn delete_session(&self, sha256: &str) -> Result<(), StoreError>;
    /// Forget sessions that expired before `now`.
    fn purge_sessions(&self, now: UnixMillis) -> Result<(), StoreError>;
}

/// Activation codes and the failed attempts to use one, per calling device.
pub trait ActivationRows {
    fn insert_activation_code(&self, c: &ActivationCode) -> Result<(), StoreError>;
    /// The code whose keyed hash is `hash`.
    fn activation_code_by_hash(&self, hash: &str) -> Result<Option<ActivationCode>, StoreError>;
    fn activation_code(&self, id: &str) -> Result<Option<ActivationCode>, StoreError>;
    /// A user's codes, newest first.
    fn activation_codes(&self, user_id: &str) -> Result<Vec<ActivationCode>, StoreError>;
    /// Its use, revocation and (a by-model code's) bound device. `NotFound` when there is no such code.
    fn update_activation_code(&self, c: &ActivationCode) -> Result<(), StoreError>;
    /// Failed attempts and lock of one calling device (`(0, None)` when none).
    fn code_failures(&self, device: &str) -> Result<(u32, Option<UnixMillis>), StoreError>;
    /// One more failed attempt; the new count.
    fn add_code_failure(&self, device: &str) -> Result<u32, StoreError>;
    /// Set (or with `(0, None)` clear) a device's failures and lock.
    fn set_code_failures(
        &self,
        device: &str,
        failed: u32,
        locked_until: Option<UnixMillis>,
    ) -> Result<(), StoreError>;
}

/// A user ready to insert: secrets already hashed (hashing is the slow part of an import and is
/// done in parallel before the transaction).
#[derive(Clone)]
pub struct PreparedUser {
    pub user: NewUser,
    pub pin_hash: Option<String>,
    pub password_hash: Option<String>,
}

/// Keys already in the database, for import validation.
#[derive(Debug, Default, Clone)]
pub struct ExistingKeys {
    pub profiles: HashSet<String>,
    pub user_ids: HashSet<String>,
    /// Self-service ID → the user who has it.
    pub self_service_ids: HashMap<String, String>,
}
