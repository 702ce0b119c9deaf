//! Universal device templates and universal line templates: what an administrator may set, and
//! their create/update/delete/list.

use crate::field::{set_text, TEXT_MAX};
use crate::object::Object;
use crate::{Actor, OpError, Operations};
use selfprov_provisioning::model::{FieldError, UniversalDeviceTemplate, UniversalLineTemplate};
use selfprov_provisioning::store::{ListQuery, Page, StoreError, StoreExt, Tx};
use serde::{Deserialize, Serialize};

/// UDT fields to set; `None` keeps the current value (or the default on create).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UdtPatch {
    pub description: Option<String>,
    pub device_pool: Option<String>,
    pub device_security_profile: Option<String>,
    /// The security profile is secure (devices get SECURE_DEVICE_NOT_SUPPORTED).
    pub secure: Option<bool>,
    pub sip_profile: Option<String>,
    pub phone_button_template: Option<String>,
    /// e.g. `#FirstName# #LastName# (#Product#)`.
    pub description_pattern: Option<String>,
}

impl UdtPatch {
    fn apply(&self, mut t: UniversalDeviceTemplate) -> Result<UniversalDeviceTemplate, FieldError> {
        set_text(
            &mut t.description,
            "description",
            &self.description,
            TEXT_MAX,
        )?;
        set_text(
            &mut t.device_pool,
            "device_pool",
            &self.device_pool,
            TEXT_MAX,
        )?;
        set_text(
            &mut t.device_security_profile,
            "device_security_profile",
            &self.device_security_profile,
            TEXT_MAX,
        )?;
        if let Some(v) = self.secure {
            t.secure = v;
        }
        set_text(
            &mut t.sip_profile,
            "sip_profile",
            &self.sip_profile,
            TEXT_MAX,
        )?;
        set_text(
            &mut t.phone_button_template,
            "phone_button_template",
            &self.phone_button_template,
            TEXT_MAX,
        )?;
        set_text(
            &mut t.description_pattern,
            "description_pattern",
            &self.description_pattern,
            TEXT_MAX,
        )?;
        Ok(t)
    }
}

/// ULT fields to set; `None` keeps the current value (or the default on create).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UltPatch {
    pub description: Option<String>,
    pub partition: Option<String>,
    pub calling_search_space: Option<String>,
    pub line_text_label: Option<String>,
    pub voicemail_profile: Option<String>,
}

impl UltPatch {
    fn apply(&self, mut t: UniversalLineTemplate) -> Result<UniversalLineTemplate, FieldError> {
        set_text(
            &mut t.description,
            "description",
            &self.description,
            TEXT_MAX,
        )?;
        set_text(&mut t.partition, "partition", &self.partition, TEXT_MAX)?;
        set_text(
            &mut t.calling_search_space,
            "calling_search_space",
            &self.calling_search_space,
            TEXT_MAX,
        )?;
        set_text(
            &mut t.line_text_label,
            "line_text_label",
            &self.line_text_label,
            TEXT_MAX,
        )?;
        set_text(
            &mut t.voicemail_profile,
            "voicemail_profile",
            &self.voicemail_profile,
            TEXT_MAX,
        )?;
        Ok(t)
    }
}

impl Object for UniversalDeviceTemplate {
    const KIND: &'static str = "udt";
    const LABEL: &'static str = "universal device template";
    fn key(&self) -> String {
        self.name.to_string()
    }
    fn load(tx: &dyn Tx, key: &str) -> Result<Option<Self>, StoreError> {
        tx.udt(key)
    }
    fn insert(&self, tx: &dyn Tx) -> Result<(), StoreError> {
        tx.insert_udt(self)
    }
    fn update(&self, tx: &dyn Tx) -> Result<(), StoreError> {
        tx.update_udt(self)
    }
    fn remove(tx: &dyn Tx, key: &str) -> Result<(), StoreError> {
        tx.delete_udt(key)
    }
    fn view(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

impl Object for UniversalLineTemplate {
    const KIND: &'static str = "ult";
    const LABEL: &'static str = "universal line template";
    fn key(&self) -> String {
        self.name.to_string()
    }
    fn load(tx: &dyn Tx, key: &str) -> Result<Option<Self>, StoreError> {
        tx.ult(key)
    }
    fn insert(&self, tx: &dyn Tx) -> Result<(), StoreError> {
        tx.insert_ult(self)
    }
    fn update(&self, tx: &dyn Tx) -> Result<(), StoreError> {
        tx.update_ult(self)
    }
    fn remove(tx: &dyn Tx, key: &str) -> Result<(), StoreError> {
        tx.delete_ult(key)
    }
    fn view(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// A list query over names only (templates and profiles are few; they are filtered in memory).
pub type NameQuery = ListQuery<()>;

impl Operations {
    pub fn create_udt(
        &self,
        actor: &Actor,
        name: &str,
        p: &UdtPatch,
    ) -> Result<UniversalDeviceTemplate, OpError> {
        let t = p.apply(UniversalDeviceTemplate {
            name: crate::field::parse("name", name)?,
            description: String::new(),
            device_pool: "Default".into(),
            device_security_profile: String::new(),
            secure: false,
            sip_profile: String::new(),
            phone_button_template: String::new(),
            description_pattern: "#FirstName# #LastName# (#Product#)".into(),
        })?;
        self.create_object(actor, t)
    }
    pub fn update_udt(
        &self,
        actor: &Actor,
        name: &str,
        p: &UdtPatch,
    ) -> Result<UniversalDeviceTemplate, OpError> {
        self.change_object(actor, name, "update", |_, t| Ok(p.apply(t)?))
    }
    pub fn delete_udt(&self, actor: &Actor, name: &str) -> Result<(), OpError> {
        self.delete_object::<UniversalDeviceTemplate>(actor, name)
    }
    pub fn udt(&self, name: &str) -> Result<UniversalDeviceTemplate, OpError> {
        self.get_object(name)
    }
    pub fn udts(&self, q: &NameQuery) -> Result<Page<UniversalDeviceTemplate>, OpError> {
        let all = self.store.reading(|tx| tx.udts())?;
        Ok(Page::of(
            all,
            q,
            |t| q.search.as_ref().is_none_or(|p| p.matches(t.name.as_str())),
            |t| t.name.as_str(),
        ))
    }

    pub fn create_ult(
        &self,
        actor: &Actor,
        name: &str,
        p: &UltPatch,
    ) -> Result<UniversalLineTemplate, OpError> {
        let t = p.apply(UniversalLineTemplate {
            name: crate::field::parse("name", name)?,
            description: String::new(),
            partition: String::new(),
            calling_search_space: String::new(),
            line_text_label: String::new(),
            voicemail_profile: String::new(),
        })?;
        self.create_object(actor, t)
    }
    pub fn update_ult(
        &self,
        actor: &Actor,
        name: &str,
        p: &UltPatch,
    ) -> Result<UniversalLineTemplate, OpError> {
        self.change_object(actor, name, "update", |_, t| Ok(p.apply(t)?))
    }
    pub fn delete_ult(&self, actor: &Actor, name: &str) -> Result<(), OpError> {
        self.delete_object::<UniversalLineTemplate>(actor, name)
    }
    pub fn ult(&self, name: &str) -> Result<UniversalLineTemplate, OpError> {
        self.get_object(name)
    }
    pub fn ults(&self, q: &NameQuery) -> Result<Page<UniversalLineTemplate>, OpError> {
        let all = self.store.reading(|tx| tx.ults())?;
        Ok(Page::of(
            all,
            q,
            |t| q.search.as_ref().is_none_or(|p| p.matches(t.name.as_str())),
            |t| t.name.as_str(),
        ))
    }
}
