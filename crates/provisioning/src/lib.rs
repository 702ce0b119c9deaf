//! Provisioning core of selfprov: the CUCM self-provisioning model (settings, templates, user
//! profiles, end users, auto-registration, devices, credential policy, audit log), the assign
//! rules, and their storage. The operations on them (claims, administrative changes) are in
//! `selfprov-operations`, written once against [`store::Tx`]. It knows nothing of SIP, RTP or
//! sockets.
//!
//! - [`model`]: the objects, validated at the edge; [`audit`]: the audit log's entries.
//! - [`settings`]: system settings and the `Ready` status.
//! - [`rules`]: the assign rules as one pure function.
//! - [`store`]: the [`Store`] interface (transactions of row operations) and its SQLite backend.
//! - [`import`]: bulk user import from CSV.
//! - [`accounts`]: administrator accounts, API tokens and console sessions.
//! - [`activation`]: activation codes issued for a user and a phone or a model.

pub mod accounts;
pub mod activation;
pub mod audit;
pub mod codes;
pub mod import;
pub mod model;
pub mod rules;
pub mod secret;
pub mod settings;
pub mod store;

pub use codes::{AuthMode, Language, OutcomeCode};
pub use rules::{AssignError, AssignmentPreview};
pub use store::{SqliteStore, Store, StoreError, UnixMillis};
