//! The demo data set `selfprov serve` loads on first start with the sample configuration: a
//! desk-phone and a softphone UDT, a ULT, the system default profile "Standard Employee", and
//! two users (`jsmith`, extension 1004, PIN 12345; `mdupont`, extension 1005, PIN 54321).
//! Loading is idempotent: objects that exist are left as they are.

use crate::model::{NewUser, UniversalDeviceTemplate, UniversalLineTemplate, UserProfile};
use crate::store::{Store, StoreError};

fn ignore_exists(r: Result<(), StoreError>) -> Result<bool, StoreError> {
    match r {
        Ok(()) => Ok(true),
        Err(StoreError::AlreadyExists { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

fn name(s: &str) -> crate::model::ObjectName {
    s.parse()
        .unwrap_or_else(|_| unreachable!("demo names are valid"))
}

/// Load the demo data; returns how many objects were created.
pub fn load_demo_data(store: &dyn Store) -> Result<usize, StoreError> {
    let mut created = 0;
    let udt = |n: &str, desc: &str| UniversalDeviceTemplate {
        name: name(n),
        description: desc.into(),
        device_pool: "Default".into(),
        device_security_profile: "Universal Device Template - Model-independent Security Profile"
            .into(),
        secure: false,
        sip_profile: "Standard SIP Profile".into(),
        phone_button_template: "Universal Device Template Button Layout".into(),
        description_pattern: "#FirstName# #LastName# (#Product#)".into(),
    };
    created += usize::from(ignore_exists(
        store.create_udt(&udt("Desk Phones", "Desk phones of employees")),
    )?);
    created += usize::from(ignore_exists(
        store.create_udt(&udt("Softphones", "Mobile and desktop devices")),
    )?);
    created += usize::from(ignore_exists(store.create_ult(&UniversalLineTemplate {
        name: name("Employee Line"),
        description: "Internal line".into(),
        partition: "Internal_PT".into(),
        calling_search_space: "Internal_CSS".into(),
        line_text_label: "#FirstName# #LastName#".into(),
        voicemail_profile: "Default".into(),
    }))?);
    created += usize::from(ignore_exists(store.create_profile(&UserProfile {
        name: name("Standard Employee"),
        description: "Employees who may provision their own phones".into(),
        system_default: true,
        udt_desk_phone: Some(name("Desk Phones")),
        udt_mobile_desktop: Some(name("Softphones")),
        udt_profile: None,
        ult: Some(name("Employee Line")),
        allow_self_provisioning: true,
        device_limit: crate::model::DEFAULT_DEVICE_LIMIT,
    }))?);
    for (id, first, last, ext, pin) in [
        ("jsmith", "John", "Smith", "1004", "12345"),
        ("mdupont", "Marie", "Dupont", "1005", "54321"),
    ] {
        let u = NewUser {
            user_id: id.parse()?,
            first_name: first.into(),
            last_name: last.into(),
            self_service_id: None,
            primary_extension: Some(ext.parse()?),
            user_profile: Some(name("Standard Employee")),
            enabled: true,
            pin: Some(pin.into()),
            password: None,
        };
        created += usize::from(ignore_exists(store.create_user(&u))?);
    }
    Ok(created)
}
