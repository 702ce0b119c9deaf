//! System-level settings: self-provisioning (authentication mode, languages, route point,
//! application user), auto-registration and the credential policy; and the `Ready` status.

use crate::model::Dn;
use crate::model::{check_auth_code, DnRange, FieldError, ObjectName};
use crate::secret::SecretHash;
use crate::{AuthMode, Language};
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// IVR language preference: 1 to 9 languages, highest priority first, no duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LanguagePreference(Vec<Language>);

impl LanguagePreference {
    pub const MAX: usize = 9;

    pub fn new(langs: Vec<Language>) -> Result<Self, FieldError> {
        if langs.is_empty() {
            // Seed 000's wording.
            return Err(FieldError::new(
                "languages",
                "Selected Language should contain at least one language.",
            ));
        }
        if langs.len() > Self::MAX {
            return Err(FieldError::new(
                "languages",
                format!("at most {} languages, got {}", Self::MAX, langs.len()),
            ));
        }
        for (i, l) in langs.iter().enumerate() {
            if langs[..i].contains(l) {
                return Err(FieldError::new(
                    "languages",
                    format!("`{l}` is listed twice"),
                ));
            }
        }
        Ok(LanguagePreference(langs))
    }

    pub fn as_slice(&self) -> &[Language] {
        &self.0
    }
}

impl Default for LanguagePreference {
    fn default() -> Self {
        LanguagePreference(vec![Language::en_us()])
    }
}

/// The route point: the number(s) phones dial to reach the IVR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoutePoint {
    pub name: String,
    pub dns: Vec<Dn>,
    /// The DN that asks for an activation code instead of an ID and PIN
    /// (docs/activation-codes.md); registered and answered like the others.
    pub activation_dn: Option<Dn>,
}

impl RoutePoint {
    /// The DNs as strings, as SIP compares them with a request's user part.
    pub fn dn_strings(&self) -> Vec<String> {
        self.dns
            .iter()
            .chain(&self.activation_dn)
            .map(|d| d.to_string())
            .collect()
    }

    /// Whether `dn` (a request's user part) is the activation DN.
    pub fn is_activation(&self, dn: &str) -> bool {
        self.activation_dn
            .as_ref()
            .is_some_and(|a| a.as_str() == dn)
    }
}

/// The application user the route point registers with (SIP digest credentials).
#[derive(Clone, PartialEq, Eq)]
pub struct ApplicationUser {
    pub user_id: String,
    pub sip_username: String,
    /// Kept in clear because SIP digest needs it; never logged or printed.
    pub sip_password: String,
}

impl ApplicationUser {
    pub fn has_credentials(&self) -> bool {
        !self.user_id.is_empty() && !self.sip_username.is_empty() && !self.sip_password.is_empty()
    }
}

impl fmt::Debug for ApplicationUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApplicationUser")
            .field("user_id", &self.user_id)
            .field("sip_username", &self.sip_username)
            .field("sip_password", &"<redacted>")
            .finish()
    }
}

/// Whether the application user's credentials are needed: an external registrar needs them; the
/// built-in registrar (direct mode) does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RegistrarMode {
    Builtin,
    External,
}

/// Self-provisioning settings (CUCM User Management > Self-Provisioning).
#[derive(Debug, Clone)]
pub struct SelfProvisioningSettings {
    pub ivr_enabled: bool,
    pub auth_mode: AuthMode,
    /// Required (and only used) in `users_and_admins` mode.
    pub auth_code_hash: Option<SecretHash>,
    pub languages: LanguagePreference,
    pub route_point: RoutePoint,
    pub application_user: Option<ApplicationUser>,
    pub registrar_mode: RegistrarMode,
}

impl SelfProvisioningSettings {
    /// Check the cross-field rules (the auth code must exist in `users_and_admins` mode).
    pub fn check(&self) -> Result<(), FieldError> {
        if self.auth_mode == AuthMode::UsersAndAdmins && self.auth_code_hash.is_none() {
            return Err(FieldError::new(
                "authentication_code_hash",
                "required when authentication_mode is users_and_admins (the code must be 1 to 20 digits, never empty)",
            ));
        }
        Ok(())
    }

    /// Hash an authentication code after checking it is 1 to 20 digits.
    pub fn hash_auth_code(code: &str) -> Result<SecretHash, FieldError> {
        check_auth_code(code)?;
        SecretHash::hash(code).map_err(|e| FieldError::new("authentication_code", e.to_string()))
    }
}

/// Auto-registration: unknown phones get the next free DN of the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoRegistrationSettings {
    pub enabled: bool,
    pub udt: Option<ObjectName>,
    pub ult: Option<ObjectName>,
    pub dn_range: DnRange,
}

/// Credential policy: lock a user out after too many failed attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialPolicy {
    /// Failed attempts that lock the account (0 disables lockout).
    pub failed_attempts_threshold: u32,
    pub lockout_duration: Duration,
    pub reset_on_success: bool,
}

impl Default for CredentialPolicy {
    fn default() -> Self {
        CredentialPolicy {
            failed_attempts_threshold: 5,
            lockout_duration: Duration::from_secs(15 * 60),
            reset_on_success: true,
        }
    }
}

/// `Ready`, or the list of what is off (seed 000 "Status" and the application-user warnings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Status {
    Ready,
    NotReady(Vec<String>),
}

pub const MSG_AUTOREG_OFF: &str = "Auto-Registration is disabled";
pub const MSG_IVR_OFF: &str = "Self-Provisioning IVR service is deactivated";
pub const MSG_NO_DN: &str =
    "No DN is assigned to the Route Point. Please assign a DN to the Route Point.";
pub const MSG_NO_APP_USER: &str =
    "You must select an Application User for the Self-Provisioning IVR to work.";
pub const MSG_APP_USER_CREDS: &str =
    "Valid credentials not set for this application User. Self-Provisioning IVR service will not work.";

/// Compute the status from the settings, as CUCM's Self-Provisioning page shows it.
pub fn status(sp: &SelfProvisioningSettings, autoreg: &AutoRegistrationSettings) -> Status {
    let mut reasons = Vec::new();
    if !autoreg.enabled {
        reasons.push(MSG_AUTOREG_OFF.to_owned());
    }
    if !sp.ivr_enabled {
        reasons.push(MSG_IVR_OFF.to_owned());
    }
    if sp.route_point.dns.is_empty() {
        reasons.push(MSG_NO_DN.to_owned());
    }
    if sp.registrar_mode == RegistrarMode::External {
        match &sp.application_user {
            None => reasons.push(MSG_NO_APP_USER.to_owned()),
            Some(u) if !u.has_credentials() => reasons.push(MSG_APP_USER_CREDS.to_owned()),
            Some(_) => {}
        }
    }
    if reasons.is_empty() {
        Status::Ready
    } else {
        Status::NotReady(reasons)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp() -> SelfProvisioningSettings {
        SelfProvisioningSettings {
            ivr_enabled: true,
            auth_mode: AuthMode::Users,
            auth_code_hash: None,
            languages: LanguagePreference::default(),
            route_point: RoutePoint {
                name: "SelfProvRP".into(),
                dns: vec!["2000".parse().unwrap()],
                activation_dn: None,
            },
            application_user: None,
            registrar_mode: RegistrarMode::Builtin,
        }
    }
    fn ar(enabled: bool) -> AutoRegistrationSettings {
        AutoRegistrationSettings {
            enabled,
            udt: None,
            ult: None,
            dn_range: DnRange::new("1000".parse().unwrap(), "1999".parse().unwrap()).unwrap(),
        }
    }

    #[test]
    fn ready_and_not_ready() {
        assert_eq!(status(&sp(), &ar(true)), Status::Ready);
        let mut s = sp();
        s.ivr_enabled = false;
        s.route_point.dns.clear();
        s.registrar_mode = RegistrarMode::External;
        s.application_user = Some(ApplicationUser {
            user_id: "sp".into(),
            sip_username: "2000".into(),
            sip_password: String::new(),
        });
        let Status::NotReady(r) = status(&s, &ar(false)) else {
            panic!("expected not ready")
        };
        assert_eq!(
            r,
            vec![MSG_AUTOREG_OFF, MSG_IVR_OFF, MSG_NO_DN, MSG_APP_USER_CREDS]
        );
    }

    #[test]
    fn languages_rules() {
        assert!(LanguagePreference::new(vec![])
            .unwrap_err()
            .rule
            .contains("at least one language"));
        let en = Language::en_us();
        assert!(LanguagePreference::new(vec![en.clone(), en.clone()]).is_err());
        assert!(LanguagePreference::new(vec![en; 10]).is_err());
    }

    #[test]
    fn auth_code_required_in_admin_mode() {
        let mut s = sp();
        s.auth_mode = AuthMode::UsersAndAdmins;
        assert_eq!(s.check().unwrap_err().field, "authentication_code_hash");
        s.auth_code_hash = Some(SelfProvisioningSettings::hash_auth_code("9999").unwrap());
        assert!(s.check().is_ok());
        assert!(SelfProvisioningSettings::hash_auth_code("").is_err());
    }

    #[test]
    fn app_user_debug_hides_password() {
        let u = ApplicationUser {
            user_id: "a".into(),
            sip_username: "b".into(),
            sip_password: "hunter2".into(),
        };
        assert!(!format!("{u:?}").contains("hunter2"));
    }
}
