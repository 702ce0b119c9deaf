//! Storage of the provisioning model behind one interface, [`Store`]. The embedded SQLite
//! backend ([`SqliteStore`]) is the default; the SQL is kept portable (no SQLite-only syntax but
//! `INSERT OR`-free upserts and partial indexes, which PostgreSQL has too) so that a PostgreSQL
//! backend can implement the same trait for multi-node deployments.

mod schema;
mod sqlite;

pub use sqlite::SqliteStore;
/// Commit durability of the SQLite backend.
pub mod sqlite_durability {
    pub use super::sqlite::Durability;
}

use crate::model::{
    AuditEntry, Device, DeviceName, EndUser, FieldError, NewUser, ObjectName, SelfServiceId,
    UniversalDeviceTemplate, UniversalLineTemplate, UserId, UserProfile,
};
use crate::rules::{AssignError, AssignmentPreview};
use crate::settings::{AutoRegistrationSettings, CredentialPolicy, SelfProvisioningSettings};
use crate::OutcomeCode;
use serde::Serialize;

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

#[derive(Debug, thiserror::Error)]
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
    #[error("{0}")]
    Invalid(#[from] FieldError),
    #[error("the auto-registration DN range {range} is exhausted: every DN is in use (widen auto_registration.dn_range)")]
    RangeExhausted { range: String },
    #[error("database error: {0}")]
    Database(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// A caller whose credentials were accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthenticatedUser {
    pub user_id: UserId,
    /// True when the administrator authentication code was used instead of the user's PIN.
    pub via_auth_code: bool,
}

/// Result of a successful `assign`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AssignOutcome {
    Assigned(AssignmentPreview),
    /// The device already belonged to this user; nothing changed.
    AlreadyAssigned(AssignmentPreview),
}

/// Result of a bulk import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub imported: usize,
    pub dry_run: bool,
}

/// Filter for reading the audit log (newest first).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub limit: Option<usize>,
    pub device: Option<String>,
    pub user: Option<String>,
    pub code: Option<OutcomeCode>,
}

/// One interface for every storage backend.
pub trait Store: Send + Sync {
    // Templates and profiles.
    fn create_udt(&self, t: &UniversalDeviceTemplate) -> Result<(), StoreError>;
    fn update_udt(&self, t: &UniversalDeviceTemplate) -> Result<(), StoreError>;
    fn get_udt(&self, name: &str) -> Result<UniversalDeviceTemplate, StoreError>;
    fn list_udts(&self) -> Result<Vec<UniversalDeviceTemplate>, StoreError>;
    fn delete_udt(&self, name: &str) -> Result<(), StoreError>;
    fn create_ult(&self, t: &UniversalLineTemplate) -> Result<(), StoreError>;
    fn update_ult(&self, t: &UniversalLineTemplate) -> Result<(), StoreError>;
    fn get_ult(&self, name: &str) -> Result<UniversalLineTemplate, StoreError>;
    fn list_ults(&self) -> Result<Vec<UniversalLineTemplate>, StoreError>;
    fn delete_ult(&self, name: &str) -> Result<(), StoreError>;
    /// Creating or updating a profile with `system_default` clears the flag on every other one.
    fn create_profile(&self, p: &UserProfile) -> Result<(), StoreError>;
    fn update_profile(&self, p: &UserProfile) -> Result<(), StoreError>;
    fn get_profile(&self, name: &str) -> Result<UserProfile, StoreError>;
    fn list_profiles(&self) -> Result<Vec<UserProfile>, StoreError>;
    fn delete_profile(&self, name: &str) -> Result<(), StoreError>;

    // Users (secrets are hashed by the store).
    fn create_user(&self, u: &NewUser) -> Result<(), StoreError>;
    /// Update a user; a `None` PIN/password keeps the stored one.
    fn update_user(&self, u: &NewUser) -> Result<(), StoreError>;
    fn get_user(&self, user_id: &str) -> Result<EndUser, StoreError>;
    fn list_users(&self) -> Result<Vec<EndUser>, StoreError>;
    fn delete_user(&self, user_id: &str) -> Result<(), StoreError>;
    /// Failed attempts and lock state of a user: (failed attempts, locked until).
    fn lock_state(&self, user_id: &str) -> Result<(u32, Option<UnixMillis>), StoreError>;
    /// Clear a lockout (administrator action).
    fn unlock_user(&self, user_id: &str) -> Result<(), StoreError>;

    // Devices.
    fn create_device(&self, d: &Device) -> Result<(), StoreError>;
    fn update_device(&self, d: &Device) -> Result<(), StoreError>;
    fn get_device(&self, name: &str) -> Result<Device, StoreError>;
    /// Find a device by name or, failing that, by its current DN.
    fn find_device(&self, name_or_dn: &str) -> Result<Option<Device>, StoreError>;
    fn list_devices(&self) -> Result<Vec<Device>, StoreError>;
    fn delete_device(&self, name: &str) -> Result<(), StoreError>;

    // Operations.
    /// Check the caller's self-service ID and secret under the mode and credential policy.
    fn authenticate(
        &self,
        self_service_id: &SelfServiceId,
        secret: Option<&str>,
        settings: &SelfProvisioningSettings,
        policy: &CredentialPolicy,
        now: UnixMillis,
    ) -> Result<AuthenticatedUser, AssignError>;
    /// Run every assign rule without changing anything.
    fn check_assignment(
        &self,
        device: &str,
        user_id: &UserId,
    ) -> Result<AssignmentPreview, AssignError>;
    /// Assign the device to the user in one transaction, audited.
    fn assign(
        &self,
        device: &str,
        user_id: &UserId,
        call_id: &str,
        now: UnixMillis,
    ) -> Result<AssignOutcome, AssignError>;
    /// A phone registers: return the known device, or create it with the next free DN.
    fn auto_register(
        &self,
        name: &DeviceName,
        model: &str,
        settings: &AutoRegistrationSettings,
        now: UnixMillis,
    ) -> Result<Device, StoreError>;

    // Audit and bulk work.
    fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;
    /// Import users in one transaction: all rows or none. Returns how many were imported.
    fn import_users(&self, users: &[PreparedUser]) -> Result<ImportSummary, StoreError>;
    /// Names of the profiles, user IDs and self-service IDs in use (for validating imports).
    fn existing_keys(&self) -> Result<ExistingKeys, StoreError>;
    /// The system default user profile, if any.
    fn default_profile(&self) -> Result<Option<ObjectName>, StoreError>;
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
    pub profiles: std::collections::HashSet<String>,
    pub user_ids: std::collections::HashSet<String>,
    pub self_service_ids: std::collections::HashSet<String>,
}
