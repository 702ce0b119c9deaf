//! `/profiles`: user profiles (which templates a user's phones get, whether users may provision
//! their own phones and how many).

use selfprov_operations::profiles::ProfilePatch;
use selfprov_provisioning::model::{ObjectName, UserProfile};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user profile.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// Applies to users without a profile; at most one profile is the default.
    pub system_default: bool,
    pub udt_desk_phone: Option<String>,
    pub udt_mobile_desktop: Option<String>,
    pub udt_profile: Option<String>,
    pub ult: Option<String>,
    pub allow_self_provisioning: bool,
    /// 1 to 20.
    pub device_limit: u32,
    /// The profile's users may log in to the self-care portal.
    pub allow_self_care: bool,
}

fn name(n: Option<ObjectName>) -> Option<String> {
    n.map(String::from)
}

impl From<&UserProfile> for Profile {
    fn from(p: &UserProfile) -> Self {
        let UserProfile {
            name: n,
            description,
            system_default,
            udt_desk_phone,
            udt_mobile_desktop,
            udt_profile,
            ult,
            allow_self_provisioning,
            device_limit,
            allow_self_care,
        } = p.clone();
        Profile {
            name: n.to_string(),
            description,
            system_default,
            udt_desk_phone: name(udt_desk_phone),
            udt_mobile_desktop: name(udt_mobile_desktop),
            udt_profile: name(udt_profile),
            ult: name(ult),
            allow_self_provisioning,
            device_limit,
            allow_self_care,
        }
    }
}

/// A new profile: its name and any of the fields.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct NewProfile {
    pub name: String,
    #[serde(flatten)]
    pub fields: ProfilePatch,
}

crate::resource!(ProfileResource: UserProfile as Profile, ProfilePatch, sort (), "/profiles" by "name",
    list profiles, get profile, create create_profile, update update_profile, delete delete_profile,
    key |d| d.name);

crate::crud_routes!(
    ProfileResource,
    tag = "profiles",
    collection = "/profiles",
    item = "/profiles/{name}",
    key = "name",
    create = NewProfile,
    wire = Profile,
    detail = Profile,
    patch = ProfilePatch,
    summaries = [
        "List user profiles",
        "Create a user profile",
        "Read a user profile",
        "Change a user profile",
        "Delete a user profile (refused while users have it)"
    ]
);
