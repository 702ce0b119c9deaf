//! What a template sees: the device, its line (with the SIP credentials), the user who claimed
//! it, where to register, the route point as a speed dial, and the idle URL of the on-screen
//! claim. Every field is documented in docs/phone-configuration.md; templates may use any of them.

use serde::Serialize;

/// The whole context of one rendering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Context {
    /// `None` for a file common to every phone of a family.
    pub device: Option<DeviceInfo>,
    /// The phone's line: its temporary DN while auto-registered, the user's extension once claimed.
    pub line: Option<LineInfo>,
    /// The user who claimed the phone.
    pub user: Option<UserInfo>,
    pub sip: SipInfo,
    pub route_point: RoutePointInfo,
    /// Where phones fetch their files (`http://host:port`), without a trailing `/`.
    pub config_url: String,
    /// The phone's idle URL (the on-screen claim), when the self-service pages are served.
    pub idle_url: Option<String>,
    /// The IVR's first language, e.g. `en_US`.
    pub language: String,
    /// Settings of the device's universal device template.
    pub udt: Option<UdtInfo>,
    /// Settings of the line's universal line template.
    pub ult: Option<UltInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceInfo {
    /// `SEP001122AABBCC`.
    pub name: String,
    /// `001122AABBCC`.
    pub mac: String,
    /// `001122aabbcc`.
    pub mac_lower: String,
    pub model: String,
    pub description: String,
    /// No owner yet: the phone is on a temporary DN.
    pub auto_registered: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineInfo {
    /// The directory number (the SIP user part of the address of record).
    pub number: String,
    /// The name shown for calls from this line.
    pub display_name: String,
    /// The line key's label.
    pub label: String,
    /// The digest user name: the device's own name, unique per device.
    pub auth_user: String,
    /// The device's digest secret.
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    pub user_id: String,
    pub first_name: String,
    pub last_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SipInfo {
    /// The registrar and proxy phones use.
    pub host: String,
    pub port: u16,
    /// `udp` or `tcp`.
    pub transport: String,
    /// The digest realm.
    pub realm: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoutePointInfo {
    /// The number phones dial to reach the IVR.
    pub dn: String,
    /// e.g. "Dial 2000 to assign an extension".
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UdtInfo {
    pub name: String,
    pub device_pool: String,
    pub sip_profile: String,
    pub phone_button_template: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UltInfo {
    pub name: String,
    pub partition: String,
    pub calling_search_space: String,
    pub voicemail_profile: String,
}

/// The longest display name or label written into a file: phones cut them anyway, some badly.
pub const DISPLAY_MAX: usize = 24;

/// `text` cut to what a phone's line key shows.
pub fn display(text: &str) -> String {
    text.chars()
        .take(DISPLAY_MAX)
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// Sample contexts (an auto-registered and a claimed phone) for checking templates.
pub fn samples() -> [Context; 2] {
    let base = Context {
        device: Some(DeviceInfo {
            name: "SEP001122AABBCC".into(),
            mac: "001122AABBCC".into(),
            mac_lower: "001122aabbcc".into(),
            model: "Cisco 8845".into(),
            description: "Auto 1000".into(),
            auto_registered: true,
        }),
        line: Some(LineInfo {
            number: "1000".into(),
            display_name: "1000".into(),
            label: "1000".into(),
            auth_user: "SEP001122AABBCC".into(),
            password: "sample-secret-0000".into(),
        }),
        user: None,
        sip: SipInfo {
            host: "192.0.2.10".into(),
            port: 5060,
            transport: "udp".into(),
            realm: "selfprov".into(),
        },
        route_point: RoutePointInfo {
            dn: "2000".into(),
            label: "Dial 2000 to assign an extension".into(),
        },
        config_url: "http://192.0.2.10:6970".into(),
        idle_url: Some(
            "http://192.0.2.10:6970/screen/SEP001122AABBCC/0123456789abcdef0123456789abcdef".into(),
        ),
        language: "en_US".into(),
        udt: None,
        ult: None,
    };
    let claimed = Context {
        device: base.device.clone().map(|d| DeviceInfo {
            description: "John Smith (Cisco 8845)".into(),
            auto_registered: false,
            ..d
        }),
        line: Some(LineInfo {
            number: "1004".into(),
            display_name: "John Smith".into(),
            label: "John Smith".into(),
            auth_user: "SEP001122AABBCC".into(),
            password: "sample-secret-0001".into(),
        }),
        user: Some(UserInfo {
            user_id: "jsmith".into(),
            first_name: "John".into(),
            last_name: "Smith".into(),
        }),
        udt: Some(UdtInfo {
            name: "Desk Phones".into(),
            device_pool: "Default".into(),
            sip_profile: "Standard SIP Profile".into(),
            phone_button_template: "Universal Device Template Button Layout".into(),
        }),
        ult: Some(UltInfo {
            name: "Employee Line".into(),
            partition: "Internal_PT".into(),
            calling_search_space: "Internal_CSS".into(),
            voicemail_profile: "Default".into(),
        }),
        ..base.clone()
    };
    [base, claimed]
}
