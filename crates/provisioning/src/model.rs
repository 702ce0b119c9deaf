//! The provisioning objects (CUCM self-provisioning model) as types that validate themselves.
//!
//! Values are parsed at the edge (`FromStr`/constructors); a bad value yields a [`FieldError`]
//! naming the field and the rule it broke.

use serde::{Deserialize, Serialize};

pub use crate::audit::{AuditEntry, AuditKind};
use std::fmt;
use std::str::FromStr;

/// A value refused at the edge: which field, and which rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct FieldError {
    pub field: String,
    pub rule: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            rule: rule.into(),
        }
    }
    /// The same error under a longer path, e.g. `dn_range.start`.
    pub fn within(self, parent: &str) -> Self {
        FieldError {
            field: format!("{parent}.{}", self.field),
            rule: self.rule,
        }
    }
}

macro_rules! string_newtype {
    ($(#[$m:meta])* $name:ident, $field:literal, $check:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl FromStr for $name {
            type Err = FieldError;
            fn from_str(s: &str) -> Result<Self, FieldError> {
                let check: fn(&str) -> Result<(), String> = $check;
                check(s).map_err(|rule| FieldError::new($field, rule))?;
                Ok($name(s.to_owned()))
            }
        }
        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(s: String) -> Result<Self, FieldError> {
                s.parse()
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fn digits(s: &str, min: usize, max: usize) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{s}` must contain digits only"));
    }
    if s.len() < min || s.len() > max {
        return Err(format!("`{s}` must have {min} to {max} digits"));
    }
    Ok(())
}

fn name_rule(s: &str, max: usize) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if s.chars().any(|c| c.is_control()) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

string_newtype!(
    /// A directory number: 1 to 24 digits.
    Dn, "dn", |s| digits(s, 1, 24)
);
string_newtype!(
    /// The self-service user ID a caller types on the keypad: 1 to 24 digits.
    SelfServiceId, "self_service_id", |s| digits(s, 1, 24)
);
string_newtype!(
    /// An end user's ID (login name), e.g. `jsmith`: 1 to 64 printable characters, no spaces.
    UserId, "user_id", |s| {
        name_rule(s, 64)?;
        if s.contains(char::is_whitespace) {
            return Err(format!("`{s}` must not contain spaces"));
        }
        Ok(())
    }
);
string_newtype!(
    /// A device name, e.g. `SEP001122334455`: 1 to 64 printable characters, no spaces.
    DeviceName, "device_name", |s| {
        name_rule(s, 64)?;
        if s.contains(char::is_whitespace) {
            return Err(format!("`{s}` must not contain spaces"));
        }
        Ok(())
    }
);
string_newtype!(
    /// The name of a template or user profile: 1 to 100 printable characters.
    ObjectName, "name", |s| name_rule(s, 100)
);

string_newtype!(
    /// An administrator account's name, e.g. `alice`: 1 to 64 printable characters, no spaces
    /// and no `:` (it becomes the actor `api:alice` in the audit log).
    AccountName, "name", |s| {
        name_rule(s, 64)?;
        if s.contains(|c: char| c.is_whitespace() || c == ':') {
            return Err(format!("`{s}` must not contain spaces or `:`"));
        }
        Ok(())
    }
);

impl DeviceName {
    /// `SEP` followed by 12 hexadecimal digits (the MAC address), as Cisco names desk phones.
    pub fn is_sep_mac(&self) -> bool {
        let b = self.0.as_bytes();
        b.len() == 15 && self.0.starts_with("SEP") && b[3..].iter().all(u8::is_ascii_hexdigit)
    }

    /// The `SEP…` name for a MAC address given as 12 hex digits (separators allowed).
    pub fn from_mac(mac: &str) -> Option<DeviceName> {
        let hex: String = mac.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        let sep_ok = mac
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '-' || c == '.');
        (hex.len() == 12 && sep_ok).then(|| DeviceName(format!("SEP{}", hex.to_ascii_uppercase())))
    }
}

impl Dn {
    /// The DN as a number, for range arithmetic.
    pub fn value(&self) -> u128 {
        // Up to 24 digits always fits a u128.
        self.0.parse().unwrap_or(0)
    }
}

/// Longest first or last name.
pub const NAME_MAX: usize = 64;

/// Free text an administrator gives: at most `max` characters, no control characters (they end
/// up in logs, phone screens and CSV files).
pub fn check_text(field: &str, v: &str, max: usize) -> Result<(), FieldError> {
    if v.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// A user's PIN: 1 to 20 digits (the IVR only has a keypad).
pub fn check_pin(pin: &str) -> Result<(), FieldError> {
    // The value itself never appears in the message.
    digits(pin, 1, 20).map_err(|rule| {
        FieldError::new(
            "pin",
            if pin.is_empty() {
                rule
            } else {
                rule.replace(pin, "the PIN")
            },
        )
    })
}

/// The system authentication code: 1 to 20 digits, never empty (seed 000).
pub fn check_auth_code(code: &str) -> Result<(), FieldError> {
    digits(code, 1, 20).map_err(|rule| {
        FieldError::new(
            "authentication_code",
            if code.is_empty() {
                rule
            } else {
                rule.replace(code, "the code")
            },
        )
    })
}

/// What kind of device a phone is; the user profile has one UDT slot per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceClass {
    /// Desk phones.
    DeskPhone,
    /// Mobile and desktop devices (softphones).
    MobileDesktop,
    /// Remote destination / device profiles.
    Profile,
}

impl DeviceClass {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceClass::DeskPhone => "desk_phone",
            DeviceClass::MobileDesktop => "mobile_desktop",
            DeviceClass::Profile => "profile",
        }
    }
}

impl FromStr for DeviceClass {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        match s {
            "desk_phone" => Ok(DeviceClass::DeskPhone),
            "mobile_desktop" => Ok(DeviceClass::MobileDesktop),
            "profile" => Ok(DeviceClass::Profile),
            _ => Err(FieldError::new(
                "class",
                format!("`{s}` is not one of desk_phone, mobile_desktop, profile"),
            )),
        }
    }
}

impl fmt::Display for DeviceClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Phone models selfprov knows how to provision, with their class. A device whose model is not
/// listed here gets `INVALID_DEVICE_MODEL`.
pub const KNOWN_MODELS: &[(&str, DeviceClass)] = &[
    ("Cisco 7811", DeviceClass::DeskPhone),
    ("Cisco 7821", DeviceClass::DeskPhone),
    ("Cisco 7841", DeviceClass::DeskPhone),
    ("Cisco 7861", DeviceClass::DeskPhone),
    ("Cisco 8811", DeviceClass::DeskPhone),
    ("Cisco 8841", DeviceClass::DeskPhone),
    ("Cisco 8845", DeviceClass::DeskPhone),
    ("Cisco 8851", DeviceClass::DeskPhone),
    ("Cisco 8861", DeviceClass::DeskPhone),
    ("Cisco 8865", DeviceClass::DeskPhone),
    ("Yealink T46U", DeviceClass::DeskPhone),
    ("Yealink T54W", DeviceClass::DeskPhone),
    ("Polycom VVX 450", DeviceClass::DeskPhone),
    ("Generic SIP Phone", DeviceClass::DeskPhone),
    ("Cisco Jabber", DeviceClass::MobileDesktop),
    ("Cisco Webex", DeviceClass::MobileDesktop),
    ("Generic Softphone", DeviceClass::MobileDesktop),
    ("Device Profile", DeviceClass::Profile),
];

/// The class of a known model (case-insensitive), or `None` for an unknown model.
pub fn model_class(model: &str) -> Option<DeviceClass> {
    KNOWN_MODELS
        .iter()
        .find(|(m, _)| m.eq_ignore_ascii_case(model))
        .map(|(_, c)| *c)
}

/// An inclusive range of directory numbers of the same width, e.g. `1000..=1999`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnRange {
    start: Dn,
    end: Dn,
}

impl DnRange {
    pub fn new(start: Dn, end: Dn) -> Result<Self, FieldError> {
        if start.as_str().len() != end.as_str().len() {
            return Err(FieldError::new(
                "dn_range",
                format!("start `{start}` and end `{end}` must have the same number of digits"),
            ));
        }
        if start.value() > end.value() {
            return Err(FieldError::new(
                "dn_range",
                format!("start `{start}` must not be greater than end `{end}`"),
            ));
        }
        Ok(DnRange { start, end })
    }
    pub fn start(&self) -> &Dn {
        &self.start
    }
    pub fn end(&self) -> &Dn {
        &self.end
    }
    pub fn len(&self) -> u128 {
        self.end.value() - self.start.value() + 1
    }
    pub fn is_empty(&self) -> bool {
        false
    }
    pub fn contains(&self, dn: &Dn) -> bool {
        dn.as_str().len() == self.start.as_str().len()
            && (self.start.value()..=self.end.value()).contains(&dn.value())
    }
    /// The DNs of the range in order.
    pub fn iter(&self) -> impl Iterator<Item = Dn> + '_ {
        (self.start.value()..=self.end.value()).map(|v| self.dn(v))
    }
    /// The DN with numeric value `v`, at the range's width (`v` is not checked against the range).
    pub fn dn(&self, v: u128) -> Dn {
        let width = self.start.as_str().len();
        Dn(format!("{v:0width$}"))
    }
}

impl fmt::Display for DnRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// Universal Device Template: settings applied to a phone when it is provisioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UniversalDeviceTemplate {
    pub name: ObjectName,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub device_pool: String,
    /// Device security profile name; a profile marked `secure` makes devices using it secure.
    #[serde(default)]
    pub device_security_profile: String,
    #[serde(default)]
    pub secure: bool,
    #[serde(default)]
    pub sip_profile: String,
    #[serde(default)]
    pub phone_button_template: String,
    /// Device description pattern, e.g. `#FirstName# #LastName# (#Product#)`.
    #[serde(default)]
    pub description_pattern: String,
}

/// Universal Line Template: line settings applied to the phone's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UniversalLineTemplate {
    pub name: ObjectName,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub partition: String,
    #[serde(default)]
    pub calling_search_space: String,
    /// Line text label pattern, e.g. `#FirstName# #LastName#`.
    #[serde(default)]
    pub line_text_label: String,
    #[serde(default)]
    pub voicemail_profile: String,
}

/// Default and maximum of "Limit Provisioning once End User has this many phones" (seed 000).
pub const DEFAULT_DEVICE_LIMIT: u32 = 10;
pub const MAX_DEVICE_LIMIT: u32 = 20;

/// User profile: which templates a user's phones get and whether they may self-provision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfile {
    pub name: ObjectName,
    #[serde(default)]
    pub description: String,
    /// The system default profile applies to users without a profile. At most one.
    #[serde(default)]
    pub system_default: bool,
    pub udt_desk_phone: Option<ObjectName>,
    pub udt_mobile_desktop: Option<ObjectName>,
    pub udt_profile: Option<ObjectName>,
    pub ult: Option<ObjectName>,
    pub allow_self_provisioning: bool,
    pub device_limit: u32,
    /// Whether the profile's users may log in to the self-care portal (on unless turned off).
    #[serde(default = "yes")]
    pub allow_self_care: bool,
}

fn yes() -> bool {
    true
}

impl UserProfile {
    pub fn check(&self) -> Result<(), FieldError> {
        if self.device_limit == 0 || self.device_limit > MAX_DEVICE_LIMIT {
            return Err(FieldError::new(
                "device_limit",
                format!(
                    "{} is out of range: must be 1 to {MAX_DEVICE_LIMIT}",
                    self.device_limit
                ),
            ));
        }
        Ok(())
    }
    /// The UDT for a device class, if the profile has one.
    pub fn udt_for(&self, class: DeviceClass) -> Option<&ObjectName> {
        match class {
            DeviceClass::DeskPhone => self.udt_desk_phone.as_ref(),
            DeviceClass::MobileDesktop => self.udt_mobile_desktop.as_ref(),
            DeviceClass::Profile => self.udt_profile.as_ref(),
        }
    }
}

/// An end user as stored (secrets only as hashes; never serialised out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndUser {
    pub user_id: UserId,
    pub first_name: String,
    pub last_name: String,
    /// Defaults to the primary extension.
    pub self_service_id: Option<SelfServiceId>,
    pub primary_extension: Option<Dn>,
    /// `None`: the system default profile.
    pub user_profile: Option<ObjectName>,
    pub enabled: bool,
    #[serde(skip)]
    pub pin_hash: Option<String>,
    #[serde(skip)]
    pub password_hash: Option<String>,
}

impl EndUser {
    /// The user as the store keeps it: without a self-service ID of their own, a user's
    /// self-service ID is their primary extension.
    pub fn with_default_self_service_id(mut self) -> Self {
        if self.self_service_id.is_none() {
            self.self_service_id = self
                .primary_extension
                .as_ref()
                .and_then(|d| d.as_str().parse().ok());
        }
        self
    }
}

/// A new or updated user as an administrator gives it: secrets in clear, hashed by the store.
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    pub user_id: UserId,
    pub first_name: String,
    pub last_name: String,
    pub self_service_id: Option<SelfServiceId>,
    pub primary_extension: Option<Dn>,
    pub user_profile: Option<ObjectName>,
    pub enabled: bool,
    pub pin: Option<String>,
    pub password: Option<String>,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("user_id", &self.user_id)
            .field("self_service_id", &self.self_service_id)
            .field("primary_extension", &self.primary_extension)
            .field("user_profile", &self.user_profile)
            .field("pin", &self.pin.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl NewUser {
    /// The effective self-service ID: the given one, else the primary extension.
    pub fn effective_self_service_id(&self) -> Option<SelfServiceId> {
        self.self_service_id.clone().or_else(|| {
            self.primary_extension
                .as_ref()
                .and_then(|d| d.as_str().parse().ok())
        })
    }
}

/// A phone known to the system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub name: DeviceName,
    pub model: String,
    pub protocol: String,
    pub class: DeviceClass,
    pub secure: bool,
    pub dn: Option<Dn>,
    /// The owner's user ID; `None` while auto-registered.
    pub owner: Option<UserId>,
    pub auto_registered: bool,
    pub udt: Option<String>,
    pub ult: Option<String>,
    pub description: String,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// Fill a CUCM-style pattern (`#FirstName# #LastName# (#Product#)`).
pub fn expand_pattern(pattern: &str, user: &EndUser, device: &Device, extension: &Dn) -> String {
    pattern
        .replace("#FirstName#", &user.first_name)
        .replace("#LastName#", &user.last_name)
        .replace("#UserID#", user.user_id.as_str())
        .replace("#Product#", &device.model)
        .replace("#Extension#", extension.as_str())
        .replace("#DeviceName#", device.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dn_rules() {
        assert!("1004".parse::<Dn>().is_ok());
        let e = "10a4".parse::<Dn>().unwrap_err();
        assert_eq!(e.field, "dn");
        assert!(e.rule.contains("digits only"));
        assert!("".parse::<Dn>().is_err());
        assert!("1".repeat(25).parse::<Dn>().is_err());
    }

    #[test]
    fn range_rules_and_iteration() {
        let r = DnRange::new("0998".parse().unwrap(), "1001".parse().unwrap()).unwrap();
        let all: Vec<String> = r.iter().map(String::from).collect();
        assert_eq!(all, ["0998", "0999", "1000", "1001"]);
        assert!(r.contains(&"1000".parse().unwrap()));
        assert!(!r.contains(&"999".parse().unwrap()));
        assert!(DnRange::new("2000".parse().unwrap(), "1999".parse().unwrap()).is_err());
        assert!(DnRange::new("100".parse().unwrap(), "1999".parse().unwrap()).is_err());
    }

    #[test]
    fn sep_names() {
        assert!("SEP001122AABBCC"
            .parse::<DeviceName>()
            .unwrap()
            .is_sep_mac());
        assert!(!"BOT001122AABBCC"
            .parse::<DeviceName>()
            .unwrap()
            .is_sep_mac());
        assert_eq!(
            DeviceName::from_mac("00:11:22:aa:bb:cc").unwrap().as_str(),
            "SEP001122AABBCC"
        );
        assert!(DeviceName::from_mac("00:11:22").is_none());
    }

    #[test]
    fn profile_limit_rule() {
        let mut p = UserProfile {
            name: "p".parse().unwrap(),
            description: String::new(),
            system_default: false,
            udt_desk_phone: None,
            udt_mobile_desktop: None,
            udt_profile: None,
            ult: None,
            allow_self_provisioning: true,
            device_limit: 21,
            allow_self_care: true,
        };
        let e = p.check().unwrap_err();
        assert_eq!(e.field, "device_limit");
        p.device_limit = 20;
        assert!(p.check().is_ok());
    }

    #[test]
    fn pin_rules() {
        assert!(check_pin("12345").is_ok());
        let e = check_pin("12a45").unwrap_err();
        assert!(
            !e.to_string().contains("12a45"),
            "a bad PIN must not be echoed: {e}"
        );
        assert!(check_auth_code("").is_err());
        assert!(check_auth_code(&"1".repeat(21)).is_err());
    }
}
