//! Provisioning core of selfprov: the CUCM self-provisioning model (settings, templates, user
//! profiles, end users, auto-registration, devices, credential policy, audit log), the assign and
//! authenticate operations, and their storage. It knows nothing of SIP, RTP or sockets.
//!
//! - [`model`]: the objects, validated at the edge.
//! - [`settings`]: system settings and the `Ready` status.
//! - [`rules`]: the assign rules as one pure function.
//! - [`store`]: the [`Store`] interface and its SQLite backend.
//! - [`import`]: bulk user import from CSV.
//! - [`demo`]: the demo data set loaded on first start.

pub mod codes;
pub mod demo;
pub mod import;
pub mod model;
pub mod rules;
pub mod secret;
pub mod settings;
pub mod store;

pub use codes::{AuthMode, Language, OutcomeCode};
pub use rules::{AssignError, AssignmentPreview};
pub use store::{SqliteStore, Store, StoreError, UnixMillis};
