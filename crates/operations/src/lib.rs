//! The domain operations of selfprov, written once below every front end (the IVR, the command
//! line, the HTTP API and web console to come): each front end translates its input into these
//! calls and their results into its own output, so validation, rules, outcome codes and the audit
//! are the same whichever way in.
//!
//! - [`Operations`]: create/update/delete/list/search of templates ([`templates`]), user
//!   profiles ([`profiles`]), users ([`users`]: also unlock and PIN reset) and devices
//!   ([`devices`]); the settings ([`settings`]); bulk import ([`import`]); the audit log
//!   ([`audit`]). Every change runs in one transaction with its audit entry: who ([`Actor`]),
//!   when, what, the fields before and after — never a secret.
//! - [`ClaimEngine`] ([`claim`], [`registry`]): authentication, preview and claim of a device
//!   with the assign rules, auto-registration and release; [`unclaimed`]: the rate of new
//!   auto-registered devices, when each device was last heard from, and the expiry of those
//!   never claimed.
//! - Administrators ([`accounts`]): their accounts and roles (what each [`Action`] needs), login
//!   under the lockout policy, API [`tokens`] and console [`sessions`]; each resolves to a
//!   [`Principal`] whose actor is written into the audit.
//! - End users ([`self_care`]): the self-care portal's login (the claim engine's PIN check and
//!   lockout), their phones, release and PIN change, in [`user_sessions`].
//! - [`activation`]: activation codes — issue, list, revoke, and the claim with a code (through
//!   the claim engine's rules and audit).
//! - [`version`]: versions of objects, so a change based on an outdated read is refused.
//!
//! It knows the store only through [`selfprov_provisioning::store::Store`], so it runs on any
//! backend.

pub mod accounts;
pub mod activation;
pub mod actor;
pub mod audit;
pub mod claim;
mod code_seal;
pub mod demo;
pub mod devices;
pub mod error;
mod field;
pub mod import;
mod object;
pub mod phone_files;
pub mod profiles;
pub mod registry;
pub mod secrets;
pub mod self_care;
pub mod sessions;
pub mod settings;
pub mod templates;
pub mod tokens;
pub mod unclaimed;
pub mod user_sessions;
pub mod users;
pub mod version;

pub use accounts::{Action, Principal};
pub use actor::Actor;
pub use claim::{AssignOutcome, AuthenticatedUser, ClaimContext, ClaimEngine, USER_WIDE_FACTOR};
pub use error::{ErrorClass, OpError};
pub use secrets::DeviceSecrets;
pub use version::{Version, Versioned};

use selfprov_provisioning::store::Store;
use std::sync::Arc;

/// The operations layer over one store. Cheap to share (`Arc` inside).
#[derive(Clone)]
pub struct Operations {
    store: Arc<dyn Store>,
    claims: Arc<ClaimEngine>,
    /// End users' self-care sessions (in memory, see [`user_sessions`]).
    user_sessions: Arc<user_sessions::UserSessions>,
    /// The version the next changes expect their object to have ([`Operations::expecting`]).
    expect: Option<Version>,
}

impl Operations {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Operations {
            claims: Arc::new(ClaimEngine::new(store.clone())),
            user_sessions: Default::default(),
            store,
            expect: None,
        }
    }

    /// The same operations, refusing an update or delete (`OpError::Modified`) unless the object
    /// is still at `version` — how a front end detects a lost update (HTTP `If-Match`).
    pub fn expecting(&self, version: Option<Version>) -> Operations {
        Operations {
            expect: version,
            ..self.clone()
        }
    }

    /// The claim engine (the IVR's way in; the administrator's `assign` goes through it too).
    pub fn claims(&self) -> &Arc<ClaimEngine> {
        &self.claims
    }

    /// The backend's name (`sqlite`, …).
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }
}
