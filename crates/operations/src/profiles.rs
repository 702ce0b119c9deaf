//! User profiles: which templates a user's phones get, whether users may provision their own
//! phones and how many. At most one is the system default.

use crate::field::{set_optional, set_text, TEXT_MAX};
use crate::object::Object;
use crate::templates::NameQuery;
use crate::{Actor, OpError, Operations};
use selfprov_provisioning::model::{FieldError, ObjectName, UserProfile, DEFAULT_DEVICE_LIMIT};
use selfprov_provisioning::store::{Page, StoreError, StoreExt, Tx};
use serde::{Deserialize, Serialize};

/// Profile fields to set; `None` keeps the current value. Template references: `""` clears.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    pub description: Option<String>,
    /// Make this the system default profile (clears the flag on the others).
    pub system_default: Option<bool>,
    pub udt_desk_phone: Option<String>,
    pub udt_mobile_desktop: Option<String>,
    pub udt_profile: Option<String>,
    pub ult: Option<String>,
    pub allow_self_provisioning: Option<bool>,
    /// 1 to 20 (default 10).
    pub device_limit: Option<u32>,
    /// Whether the profile's users may log in to the self-care portal (default true).
    pub allow_self_care: Option<bool>,
}

impl ProfilePatch {
    fn apply(&self, mut p: UserProfile) -> Result<UserProfile, FieldError> {
        set_text(
            &mut p.description,
            "description",
            &self.description,
            TEXT_MAX,
        )?;
        if let Some(v) = self.system_default {
            p.system_default = v;
        }
        set_optional(
            &mut p.udt_desk_phone,
            "udt_desk_phone",
            &self.udt_desk_phone,
        )?;
        set_optional(
            &mut p.udt_mobile_desktop,
            "udt_mobile_desktop",
            &self.udt_mobile_desktop,
        )?;
        set_optional(&mut p.udt_profile, "udt_profile", &self.udt_profile)?;
        set_optional(&mut p.ult, "ult", &self.ult)?;
        if let Some(v) = self.allow_self_provisioning {
            p.allow_self_provisioning = v;
        }
        if let Some(v) = self.device_limit {
            p.device_limit = v;
        }
        if let Some(v) = self.allow_self_care {
            p.allow_self_care = v;
        }
        p.check()?;
        Ok(p)
    }
}

/// A field error unless the named template exists.
fn must_exist(
    field: &str,
    name: &Option<ObjectName>,
    label: &str,
    found: impl Fn(&str) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    match name {
        Some(n) if !found(n.as_str())? => {
            Err(FieldError::new(field, format!("{label} `{n}` does not exist")).into())
        }
        _ => Ok(()),
    }
}

impl Object for UserProfile {
    const KIND: &'static str = "profile";
    const LABEL: &'static str = "user profile";
    fn key(&self) -> String {
        self.name.to_string()
    }
    fn load(tx: &dyn Tx, key: &str) -> Result<Option<Self>, StoreError> {
        tx.profile(key)
    }
    fn insert(&self, tx: &dyn Tx) -> Result<(), StoreError> {
        tx.insert_profile(self)
    }
    fn update(&self, tx: &dyn Tx) -> Result<(), StoreError> {
        tx.update_profile(self)
    }
    fn remove(tx: &dyn Tx, key: &str) -> Result<(), StoreError> {
        tx.delete_profile(key)
    }
    fn check(&self, tx: &dyn Tx) -> Result<(), StoreError> {
        let udt = |n: &str| Ok(tx.udt(n)?.is_some());
        must_exist(
            "udt_desk_phone",
            &self.udt_desk_phone,
            "universal device template",
            udt,
        )?;
        must_exist(
            "udt_mobile_desktop",
            &self.udt_mobile_desktop,
            "universal device template",
            udt,
        )?;
        must_exist(
            "udt_profile",
            &self.udt_profile,
            "universal device template",
            udt,
        )?;
        must_exist("ult", &self.ult, "universal line template", |n| {
            Ok(tx.ult(n)?.is_some())
        })
    }
    fn view(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

impl Operations {
    pub fn create_profile(
        &self,
        actor: &Actor,
        name: &str,
        p: &ProfilePatch,
    ) -> Result<UserProfile, OpError> {
        let profile = p.apply(UserProfile {
            name: crate::field::parse("name", name)?,
            description: String::new(),
            system_default: false,
            udt_desk_phone: None,
            udt_mobile_desktop: None,
            udt_profile: None,
            ult: None,
            allow_self_provisioning: true,
            device_limit: DEFAULT_DEVICE_LIMIT,
            allow_self_care: true,
        })?;
        self.create_object(actor, profile)
    }
    pub fn update_profile(
        &self,
        actor: &Actor,
        name: &str,
        p: &ProfilePatch,
    ) -> Result<UserProfile, OpError> {
        self.change_object(actor, name, "update", |_, cur| Ok(p.apply(cur)?))
    }
    pub fn delete_profile(&self, actor: &Actor, name: &str) -> Result<(), OpError> {
        self.delete_object::<UserProfile>(actor, name)
    }
    pub fn profile(&self, name: &str) -> Result<UserProfile, OpError> {
        self.get_object(name)
    }
    pub fn profiles(&self, q: &NameQuery) -> Result<Page<UserProfile>, OpError> {
        let all = self.store.reading(|tx| tx.profiles())?;
        Ok(Page::of(
            all,
            q,
            |p| q.search.as_ref().is_none_or(|s| s.matches(p.name.as_str())),
            |p| p.name.as_str(),
        ))
    }
}
