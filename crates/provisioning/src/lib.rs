//! Provisioning core of selfprov: the CUCM self-provisioning model (settings, templates, user
//! profiles, end users, auto-registration, devices, credential policy, audit log), the assign and
//! authenticate operations, and their storage. It knows nothing of SIP, RTP or sockets.

pub mod codes;

pub use codes::{AuthMode, Language, OutcomeCode};
