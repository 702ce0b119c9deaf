//! Administrator accounts, their API tokens and their console sessions, as stored. The rules
//! (who may do what, lockout, expiry) are in `selfprov-operations`; these are the rows.

use crate::model::{AccountName, FieldError};
use crate::store::UnixMillis;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What an administrator account (or a token) may do. Ordered: each role may do everything the
/// roles below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Read everything (no secrets exist to read).
    ReadOnly,
    /// Read, and the helpdesk actions: unlock a user, reset a PIN, release or move a phone.
    Helpdesk,
    /// Everything.
    Administrator,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Administrator, Role::Helpdesk, Role::ReadOnly];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::ReadOnly => "read-only",
            Role::Helpdesk => "helpdesk",
            Role::Administrator => "administrator",
        }
    }
}

impl FromStr for Role {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                FieldError::new(
                    "role",
                    format!("`{s}` is not one of administrator, helpdesk, read-only"),
                )
            })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An administrator account. The password only as its Argon2id hash.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminAccount {
    pub name: AccountName,
    pub role: Role,
    pub password_hash: String,
    /// Failed logins in a row (the lockout counts them like PINs).
    pub failed_attempts: u32,
    pub locked_until: Option<UnixMillis>,
    pub created: UnixMillis,
}

/// An API token as stored: only the SHA-256 of its secret; the secret is shown once, at creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// The public part of the token (`spt_<id>_…`), for listing and revoking.
    pub id: String,
    pub secret_sha256: String,
    pub owner: AccountName,
    /// The token's own role; in use it never exceeds its owner's current role.
    pub role: Role,
    pub description: String,
    pub created: UnixMillis,
    pub expires: Option<UnixMillis>,
    pub last_used: Option<UnixMillis>,
}

impl fmt::Debug for AdminAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminAccount")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("failed_attempts", &self.failed_attempts)
            .field("locked_until", &self.locked_until)
            .finish_non_exhaustive()
    }
}

/// A console session as stored: only the SHA-256 of the cookie's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub secret_sha256: String,
    pub account: AccountName,
    /// The anti-CSRF token the console sends back in a header with every change.
    pub csrf: String,
    pub created: UnixMillis,
    pub expires: UnixMillis,
    pub last_seen: UnixMillis,
}

/// Who a valid token or session belongs to, with the role in force (the lower of the token's and
/// its owner's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub token: ApiToken,
    pub owner_role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_order() {
        assert_eq!("helpdesk".parse::<Role>().unwrap(), Role::Helpdesk);
        assert!(Role::Administrator > Role::Helpdesk && Role::Helpdesk > Role::ReadOnly);
        let e = "root".parse::<Role>().unwrap_err();
        assert_eq!(e.field, "role");
        assert_eq!(
            serde_json::to_string(&Role::ReadOnly).unwrap(),
            "\"read-only\""
        );
    }
}
