//! The demo data set `selfprov serve` loads on first start with the sample configuration: a
//! desk-phone and a softphone UDT, a ULT, the system default profile "Standard Employee", and
//! two users (`jsmith`, extension 1004, PIN 12345; `mdupont`, extension 1005, PIN 54321).
//! Loading goes through the operations layer like any administrator's change (audited, by the
//! given actor) and is idempotent: objects that exist are left as they are.

use crate::profiles::ProfilePatch;
use crate::templates::{UdtPatch, UltPatch};
use crate::users::UserPatch;
use crate::{Actor, OpError, Operations};
use selfprov_provisioning::StoreError;

fn created<T>(r: Result<T, OpError>) -> Result<usize, OpError> {
    match r {
        Ok(_) => Ok(1),
        Err(OpError::Store(StoreError::AlreadyExists { .. })) => Ok(0),
        Err(e) => Err(e),
    }
}

/// Load the demo data; returns how many objects were created.
pub fn load_demo_data(ops: &Operations, actor: &Actor) -> Result<usize, OpError> {
    let s = |v: &str| Some(v.to_owned());
    let udt = |desc: &str| UdtPatch {
        description: s(desc),
        device_pool: s("Default"),
        device_security_profile: s(
            "Universal Device Template - Model-independent Security Profile",
        ),
        secure: Some(false),
        sip_profile: s("Standard SIP Profile"),
        phone_button_template: s("Universal Device Template Button Layout"),
        description_pattern: s("#FirstName# #LastName# (#Product#)"),
    };
    let mut n = created(ops.create_udt(actor, "Desk Phones", &udt("Desk phones of employees")))?;
    n += created(ops.create_udt(actor, "Softphones", &udt("Mobile and desktop devices")))?;
    n += created(ops.create_ult(
        actor,
        "Employee Line",
        &UltPatch {
            description: s("Internal line"),
            partition: s("Internal_PT"),
            calling_search_space: s("Internal_CSS"),
            line_text_label: s("#FirstName# #LastName#"),
            voicemail_profile: s("Default"),
        },
    ))?;
    n += created(ops.create_profile(
        actor,
        "Standard Employee",
        &ProfilePatch {
            description: s("Employees who may provision their own phones"),
            system_default: Some(true),
            udt_desk_phone: s("Desk Phones"),
            udt_mobile_desktop: s("Softphones"),
            udt_profile: None,
            ult: s("Employee Line"),
            allow_self_provisioning: Some(true),
            device_limit: Some(selfprov_provisioning::model::DEFAULT_DEVICE_LIMIT),
            allow_self_care: Some(true),
        },
    ))?;
    for (id, first, last, ext, pin) in [
        ("jsmith", "John", "Smith", "1004", "12345"),
        ("mdupont", "Marie", "Dupont", "1005", "54321"),
    ] {
        n += created(ops.create_user(
            actor,
            id,
            &UserPatch {
                first_name: s(first),
                last_name: s(last),
                primary_extension: s(ext),
                user_profile: s("Standard Employee"),
                enabled: Some(true),
                pin: s(pin),
                self_service_id: None,
            },
        ))?;
    }
    Ok(n)
}
