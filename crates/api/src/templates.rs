//! `/udts` and `/ults`: universal device and line templates.

use selfprov_operations::templates::{UdtPatch, UltPatch};
use selfprov_provisioning::model::{UniversalDeviceTemplate, UniversalLineTemplate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A universal device template: what a phone gets when it is provisioned.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Udt {
    pub name: String,
    pub description: String,
    pub device_pool: String,
    pub device_security_profile: String,
    /// Devices with a secure profile cannot self-provision (SECURE_DEVICE_NOT_SUPPORTED).
    pub secure: bool,
    pub sip_profile: String,
    pub phone_button_template: String,
    /// e.g. `#FirstName# #LastName# (#Product#)`.
    pub description_pattern: String,
}

impl From<&UniversalDeviceTemplate> for Udt {
    fn from(t: &UniversalDeviceTemplate) -> Self {
        // Every field named: a new one in the model must be placed here.
        let UniversalDeviceTemplate {
            name,
            description,
            device_pool,
            device_security_profile,
            secure,
            sip_profile,
            phone_button_template,
            description_pattern,
        } = t.clone();
        Udt {
            name: name.to_string(),
            description,
            device_pool,
            device_security_profile,
            secure,
            sip_profile,
            phone_button_template,
            description_pattern,
        }
    }
}

/// A new UDT: its name and any of the fields.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NewUdt {
    pub name: String,
    #[serde(flatten)]
    pub fields: UdtPatch,
}

/// A universal line template: the phone's line settings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Ult {
    pub name: String,
    pub description: String,
    pub partition: String,
    pub calling_search_space: String,
    /// e.g. `#FirstName# #LastName#`.
    pub line_text_label: String,
    pub voicemail_profile: String,
}

impl From<&UniversalLineTemplate> for Ult {
    fn from(t: &UniversalLineTemplate) -> Self {
        let UniversalLineTemplate {
            name,
            description,
            partition,
            calling_search_space,
            line_text_label,
            voicemail_profile,
        } = t.clone();
        Ult {
            name: name.to_string(),
            description,
            partition,
            calling_search_space,
            line_text_label,
            voicemail_profile,
        }
    }
}

/// A new ULT: its name and any of the fields.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NewUlt {
    pub name: String,
    #[serde(flatten)]
    pub fields: UltPatch,
}

crate::resource!(UdtResource: UniversalDeviceTemplate as Udt, UdtPatch, sort (), "/udts" by "name",
    list udts, get udt, create create_udt, update update_udt, delete delete_udt, key |d| d.name);

crate::resource!(UltResource: UniversalLineTemplate as Ult, UltPatch, sort (), "/ults" by "name",
    list ults, get ult, create create_ult, update update_ult, delete delete_ult, key |d| d.name);

/// `/udts`.
pub mod udt {
    use super::*;
    crate::crud_routes!(
        UdtResource,
        tag = "templates",
        collection = "/udts",
        item = "/udts/{name}",
        key = "name",
        create = NewUdt,
        wire = Udt,
        detail = Udt,
        patch = UdtPatch,
        summaries = [
            "List universal device templates",
            "Create a universal device template",
            "Read a universal device template",
            "Change a universal device template",
            "Delete a universal device template (refused while a profile uses it)"
        ]
    );
}

/// `/ults`.
pub mod ult {
    use super::*;
    crate::crud_routes!(
        UltResource,
        tag = "templates",
        collection = "/ults",
        item = "/ults/{name}",
        key = "name",
        create = NewUlt,
        wire = Ult,
        detail = Ult,
        patch = UltPatch,
        summaries = [
            "List universal line templates",
            "Create a universal line template",
            "Read a universal line template",
            "Change a universal line template",
            "Delete a universal line template (refused while a profile uses it)"
        ]
    );
}
