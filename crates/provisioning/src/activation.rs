//! Activation codes (CUCM 12.5+ onboarding): a single-use code an administrator issues for a user
//! and one phone (by its device name) or one model (bound to the first phone of that model that
//! uses it). A keyed hash of the code finds it; the code itself is kept only sealed (enciphered
//! under a key of the install's, for its user's self-care); the operations layer makes, seals and
//! checks them.

use crate::model::UserId;
use crate::store::UnixMillis;
use serde::{Deserialize, Serialize};

/// What a code may claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeTarget {
    /// This device only (its name, e.g. `SEP001122334455`).
    Device(String),
    /// The first phone of this model that uses the code.
    Model(String),
}

impl CodeTarget {
    /// (device, model): one of them set.
    pub fn parts(&self) -> (Option<String>, Option<String>) {
        match self {
            CodeTarget::Device(d) => (Some(d.clone()), None),
            CodeTarget::Model(m) => (None, Some(m.clone())),
        }
    }
}

/// One issued code, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationCode {
    /// A short public identifier (for listing and revoking); never the code.
    pub id: String,
    /// The keyed hash of the code (hex).
    pub code_hash: String,
    pub user_id: UserId,
    pub target: CodeTarget,
    pub created_by: String,
    pub created: UnixMillis,
    pub expires: UnixMillis,
    /// When it was used, and by which device.
    pub used: Option<(UnixMillis, String)>,
    pub revoked: Option<UnixMillis>,
    /// The code enciphered for its user's self-care (16 digits; `None` for codes issued before
    /// codes were kept so).
    pub sealed: Option<String>,
}

/// Where a code is in its life, as an administrator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeState {
    Pending,
    Used,
    Expired,
    Revoked,
}

impl CodeState {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeState::Pending => "pending",
            CodeState::Used => "used",
            CodeState::Expired => "expired",
            CodeState::Revoked => "revoked",
        }
    }
}

impl ActivationCode {
    pub fn state(&self, now: UnixMillis) -> CodeState {
        if self.used.is_some() {
            CodeState::Used
        } else if self.revoked.is_some() {
            CodeState::Revoked
        } else if self.expires <= now {
            CodeState::Expired
        } else {
            CodeState::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_follows_use_revocation_and_expiry() {
        let mut c = ActivationCode {
            id: "a".into(),
            code_hash: "h".into(),
            user_id: "u".parse().unwrap(),
            target: CodeTarget::Model("Cisco 8845".into()),
            created_by: "cli:x".into(),
            created: UnixMillis(0),
            expires: UnixMillis(100),
            used: None,
            revoked: None,
            sealed: None,
        };
        assert_eq!(c.state(UnixMillis(99)), CodeState::Pending);
        assert_eq!(c.state(UnixMillis(100)), CodeState::Expired);
        c.revoked = Some(UnixMillis(5));
        assert_eq!(c.state(UnixMillis(1)), CodeState::Revoked);
        c.used = Some((UnixMillis(6), "SEP1".into()));
        assert_eq!(c.state(UnixMillis(1000)), CodeState::Used);
    }
}
