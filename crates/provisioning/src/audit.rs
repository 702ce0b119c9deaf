//! The audit log's entries: claims with their outcome codes, and administrative changes with the
//! fields before and after.

use crate::model::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A claim of a device (IVR call, CLI or API assignment), with its outcome code.
    #[default]
    Claim,
    /// An administrative change of an object, with the fields before and after.
    Change,
    /// A phone's configuration fetch, served or refused (and why).
    Fetch,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Claim => "claim",
            AuditKind::Change => "change",
            AuditKind::Fetch => "fetch",
        }
    }
}

impl FromStr for AuditKind {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        match s {
            "claim" => Ok(AuditKind::Claim),
            "change" => Ok(AuditKind::Change),
            "fetch" => Ok(AuditKind::Fetch),
            _ => Err(FieldError::new(
                "kind",
                format!("`{s}` is not `claim`, `change` or `fetch`"),
            )),
        }
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audit log entry. Never contains a PIN, a password, an authentication code or their hashes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    /// Unix milliseconds.
    pub time_ms: i64,
    pub kind: AuditKind,
    /// Who acted, as `channel` or `channel:name`: `ivr`, `cli:root`, `registrar`, `system`.
    pub actor: String,
    /// The SIP Call-ID of an IVR claim; empty otherwise.
    pub call_id: String,
    pub device: Option<String>,
    pub user: Option<String>,
    /// The outcome of a claim; `None` for a change.
    pub code: Option<crate::OutcomeCode>,
    pub detail: String,
    /// A change: what kind of object (`user`, `device`, `udt`, `ult`, `profile`, `settings`).
    pub object_kind: Option<String>,
    /// A change: the object's name.
    pub object: Option<String>,
    /// A change: `create`, `update`, `delete`, `unlock`, `reset_pin`, `release`, …
    pub action: Option<String>,
    /// The object's fields before and after (secrets left out).
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}
