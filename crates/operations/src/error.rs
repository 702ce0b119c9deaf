//! What an operation can fail with, in terms a front end can map to its own (an exit code, an
//! HTTP status, a spoken prompt) without looking inside.

use selfprov_provisioning::model::FieldError;
use selfprov_provisioning::{AssignError, OutcomeCode, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// Not found, already exists, in use, invalid field, range exhausted, database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A claim refused by the assign rules, with its stable outcome code.
    #[error("{code}: {error}", code = .0.code(), error = .0)]
    Refused(AssignError),
    /// The object changed since the version the change was based on (a lost update refused).
    #[error("{kind} `{name}` was changed by someone else since you read it (now version {current}); read it again and redo your change")]
    Modified {
        kind: &'static str,
        name: String,
        current: crate::Version,
    },
}

/// The class of an error, for front ends (HTTP status, exit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    NotFound,
    Conflict,
    Invalid,
    Refused,
    /// The change was based on an outdated version.
    Modified,
    Internal,
    /// The database cannot be reached; the same request may succeed later.
    Unavailable,
}

impl OpError {
    pub fn class(&self) -> ErrorClass {
        match self {
            OpError::Store(StoreError::NotFound { .. }) => ErrorClass::NotFound,
            OpError::Store(StoreError::AlreadyExists { .. } | StoreError::InUse { .. }) => {
                ErrorClass::Conflict
            }
            OpError::Store(StoreError::Invalid(_)) => ErrorClass::Invalid,
            OpError::Store(StoreError::RangeExhausted { .. }) => ErrorClass::Conflict,
            OpError::Store(StoreError::Database(_)) => ErrorClass::Internal,
            OpError::Refused(AssignError::Internal(_)) => ErrorClass::Internal,
            OpError::Store(StoreError::Unavailable(_))
            | OpError::Refused(AssignError::Unavailable(_)) => ErrorClass::Unavailable,
            OpError::Refused(_) => ErrorClass::Refused,
            OpError::Modified { .. } => ErrorClass::Modified,
        }
    }
    /// The field that is wrong, for an invalid input.
    pub fn field(&self) -> Option<&str> {
        match self {
            OpError::Store(StoreError::Invalid(f)) => Some(&f.field),
            _ => None,
        }
    }
    /// The outcome code of a refused claim.
    pub fn code(&self) -> Option<OutcomeCode> {
        match self {
            OpError::Refused(e) => Some(e.code()),
            _ => None,
        }
    }
}

impl From<FieldError> for OpError {
    fn from(e: FieldError) -> Self {
        OpError::Store(StoreError::Invalid(e))
    }
}

impl From<AssignError> for OpError {
    fn from(e: AssignError) -> Self {
        OpError::Refused(e)
    }
}
