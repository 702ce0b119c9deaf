//! Shared vocabulary used by every other crate: outcome codes, authentication mode, languages.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Outcome of a self-provisioning attempt. The order of the failure variants is the order in
/// which the assign rules are checked (SPEC "Assigning a device to a user").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OutcomeCode {
    Success,
    InvalidCredentials,
    AccountLocked,
    SelfprovNotAllowed,
    NoPrimaryExtension,
    NotAutoregistered,
    SecureDeviceNotSupported,
    InvalidDeviceModel,
    ModelPhonetemplateNotFound,
    SelfprovDeviceLimit,
    /// The caller cancelled at the confirmation step.
    Cancelled,
    /// The caller gave no (valid) input within the allowed attempts.
    NoInput,
    /// The caller hung up before the flow ended.
    Abandoned,
    /// An internal failure; nothing was changed.
    InternalError,
    /// The database could not be reached (down, restarting); nothing was changed and the caller
    /// was asked to try again later.
    DatabaseUnavailable,
    /// No such activation code (mistyped, made up, or revoked); counts toward the lockout.
    ActivationCodeInvalid,
    /// The activation code's expiry has passed.
    ActivationCodeExpired,
    /// The activation code was already used (it is single-use).
    ActivationCodeUsed,
    /// The activation code is for another phone (by MAC) or another model (by model), or its
    /// model's phone has already been chosen.
    ActivationCodeWrongDevice,
}

impl OutcomeCode {
    pub const ALL: [OutcomeCode; 19] = [
        OutcomeCode::Success,
        OutcomeCode::InvalidCredentials,
        OutcomeCode::AccountLocked,
        OutcomeCode::SelfprovNotAllowed,
        OutcomeCode::NoPrimaryExtension,
        OutcomeCode::NotAutoregistered,
        OutcomeCode::SecureDeviceNotSupported,
        OutcomeCode::InvalidDeviceModel,
        OutcomeCode::ModelPhonetemplateNotFound,
        OutcomeCode::SelfprovDeviceLimit,
        OutcomeCode::Cancelled,
        OutcomeCode::NoInput,
        OutcomeCode::Abandoned,
        OutcomeCode::InternalError,
        OutcomeCode::DatabaseUnavailable,
        OutcomeCode::ActivationCodeInvalid,
        OutcomeCode::ActivationCodeExpired,
        OutcomeCode::ActivationCodeUsed,
        OutcomeCode::ActivationCodeWrongDevice,
    ];

    /// The stable code string, as written to the audit log and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeCode::Success => "SUCCESS",
            OutcomeCode::InvalidCredentials => "INVALID_CREDENTIALS",
            OutcomeCode::AccountLocked => "ACCOUNT_LOCKED",
            OutcomeCode::SelfprovNotAllowed => "SELFPROV_NOT_ALLOWED",
            OutcomeCode::NoPrimaryExtension => "NO_PRIMARY_EXTENSION",
            OutcomeCode::NotAutoregistered => "NOT_AUTOREGISTERED",
            OutcomeCode::SecureDeviceNotSupported => "SECURE_DEVICE_NOT_SUPPORTED",
            OutcomeCode::InvalidDeviceModel => "INVALID_DEVICE_MODEL",
            OutcomeCode::ModelPhonetemplateNotFound => "MODEL_PHONETEMPLATE_NOT_FOUND",
            OutcomeCode::SelfprovDeviceLimit => "SELFPROV_DEVICE_LIMIT",
            OutcomeCode::Cancelled => "CANCELLED",
            OutcomeCode::NoInput => "NO_INPUT",
            OutcomeCode::Abandoned => "ABANDONED",
            OutcomeCode::InternalError => "INTERNAL_ERROR",
            OutcomeCode::DatabaseUnavailable => "DATABASE_UNAVAILABLE",
            OutcomeCode::ActivationCodeInvalid => "ACTIVATION_CODE_INVALID",
            OutcomeCode::ActivationCodeExpired => "ACTIVATION_CODE_EXPIRED",
            OutcomeCode::ActivationCodeUsed => "ACTIVATION_CODE_USED",
            OutcomeCode::ActivationCodeWrongDevice => "ACTIVATION_CODE_WRONG_DEVICE",
        }
    }
}

impl fmt::Display for OutcomeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OutcomeCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OutcomeCode::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown outcome code `{s}`"))
    }
}

/// System-level authentication mode of the self-provisioning IVR (CUCM "Self-Provisioning"
/// settings: secure mode with or without the administrator authentication code, or non-secure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Self-service ID and the user's PIN (default).
    #[default]
    Users,
    /// Self-service ID and either the user's PIN or the system authentication code.
    UsersAndAdmins,
    /// Self-service ID alone. Not for day-to-day use.
    None,
}

/// An IVR language as a locale name, e.g. `en_US`, `fr_FR`: two lowercase letters, `_`, two
/// uppercase letters. It names the prompt folder `prompts/<language>/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Language(String);

impl Language {
    pub fn en_us() -> Self {
        Language("en_US".to_owned())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Language {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        let ok = b.len() == 5
            && b[0].is_ascii_lowercase()
            && b[1].is_ascii_lowercase()
            && b[2] == b'_'
            && b[3].is_ascii_uppercase()
            && b[4].is_ascii_uppercase();
        if ok {
            Ok(Language(s.to_owned()))
        } else {
            Err(format!("`{s}` is not a language like `en_US` (ll_CC)"))
        }
    }
}

impl TryFrom<String> for Language {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Language> for String {
    fn from(l: Language) -> String {
        l.0
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_codes_round_trip() {
        for c in OutcomeCode::ALL {
            assert_eq!(c.as_str().parse::<OutcomeCode>().unwrap(), c);
        }
    }

    #[test]
    fn language_rules() {
        assert!("en_US".parse::<Language>().is_ok());
        assert!("EN_us".parse::<Language>().is_err());
        assert!("en-US".parse::<Language>().is_err());
        assert!("".parse::<Language>().is_err());
    }
}
