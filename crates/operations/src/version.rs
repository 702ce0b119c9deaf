//! Versions of stored objects, so that a front end can refuse a lost update: a client reads an
//! object with its version, sends the version back with its change, and the change is refused
//! (`OpError::Modified`) when someone else changed the object in between. The version is a hash
//! of the object as the audit log shows it, taken inside the write transaction that changes it.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;

/// A version: 16 hex digits of the SHA-256 of the object's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Version(String);

impl Version {
    pub fn of(view: &serde_json::Value) -> Version {
        let digest = Sha256::digest(view.to_string().as_bytes());
        Version(crate::secrets::hex(&digest[..8]))
    }
    /// A version as a client sent it back (any text; it only has to match).
    pub fn parse(s: &str) -> Version {
        Version(s.trim().to_owned())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An object whose version a front end can show and check.
pub trait Versioned {
    fn version(&self) -> Version;
}

impl<O: crate::object::Object> Versioned for O {
    fn version(&self) -> Version {
        Version::of(&self.view())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_follow_content() {
        let a = Version::of(&json!({"name": "x", "n": 1}));
        assert_eq!(a, Version::of(&json!({"n": 1, "name": "x"})));
        assert_ne!(a, Version::of(&json!({"name": "x", "n": 2})));
        assert_eq!(a.as_str().len(), 16);
        assert_eq!(Version::parse(&format!(" {a} ")), a);
    }
}
