//! Devices as an administrator edits them (create, update, delete, list). Claiming a device for a
//! user goes through the claim engine ([`crate::claim`]); auto-registration and release through
//! [`crate::registry`].

use crate::field::{set_optional, set_text, TEXT_MAX};
use crate::object::Object;
use crate::{Actor, OpError, Operations};
use selfprov_provisioning::model::{model_class, Device, DeviceClass, FieldError};
use selfprov_provisioning::store::{
    DeviceSort, ListQuery, Page, StoreError, StoreExt, Tx, UnixMillis,
};
use serde::{Deserialize, Serialize};

/// Device fields to set; `None` keeps the current value. `""` clears the DN or the owner.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DevicePatch {
    pub model: Option<String>,
    /// `desk_phone`, `mobile_desktop` or `profile` (default: from the model).
    pub class: Option<String>,
    pub secure: Option<bool>,
    pub dn: Option<String>,
    pub owner: Option<String>,
    pub auto_registered: Option<bool>,
    pub description: Option<String>,
}

impl DevicePatch {
    fn apply(&self, mut d: Device) -> Result<Device, FieldError> {
        set_text(&mut d.model, "model", &self.model, 100)?;
        match &self.class {
            Some(c) => d.class = crate::field::parse("class", c)?,
            // A new model brings its own class unless one is given.
            None if self.model.is_some() => d.class = model_class(&d.model).unwrap_or(d.class),
            None => {}
        }
        if let Some(v) = self.secure {
            d.secure = v;
        }
        set_optional(&mut d.dn, "dn", &self.dn)?;
        set_optional(&mut d.owner, "owner", &self.owner)?;
        if let Some(v) = self.auto_registered {
            d.auto_registered = v;
        }
        set_text(
            &mut d.description,
            "description",
            &self.description,
            TEXT_MAX,
        )?;
        d.updated_at = UnixMillis::now().0 / 1000;
        Ok(d)
    }
}

impl Object for Device {
    const KIND: &'static str = "device";
    const LABEL: &'static str = "device";
    fn key(&self) -> String {
        self.name.to_string()
    }
    fn load(tx: &dyn Tx, key: &str) -> Result<Option<Self>, StoreError> {
        tx.device(key)
    }
    fn insert(&self, tx: &dyn Tx) -> Result<(), StoreError> {
        tx.insert_device(self)?;
        crate::registry::new_credential(tx, self.name.as_str(), UnixMillis::now()).map(|_| ())
    }
    fn update(&self, tx: &dyn Tx) -> Result<(), StoreError> {
        tx.update_device(self)
    }
    fn remove(tx: &dyn Tx, key: &str) -> Result<(), StoreError> {
        tx.delete_device(key)
    }
    fn check(&self, tx: &dyn Tx) -> Result<(), StoreError> {
        match &self.owner {
            Some(o) if tx.user(o.as_str())?.is_none() => {
                Err(FieldError::new("owner", format!("user `{o}` does not exist")).into())
            }
            _ => Ok(()),
        }
    }
    /// Timestamps change on every write; the audit shows what an administrator set.
    fn view(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.remove("created_at");
            o.remove("updated_at");
        }
        v
    }
    fn subjects(&self) -> (Option<String>, Option<String>) {
        (
            Some(self.name.to_string()),
            self.owner.as_ref().map(|o| o.to_string()),
        )
    }
}

impl Operations {
    pub fn create_device(
        &self,
        actor: &Actor,
        name: &str,
        p: &DevicePatch,
    ) -> Result<Device, OpError> {
        let now = UnixMillis::now().0 / 1000;
        let model = p
            .model
            .clone()
            .unwrap_or_else(|| "Generic SIP Phone".into());
        let d = p.apply(Device {
            name: crate::field::parse("name", name)?,
            class: model_class(&model).unwrap_or(DeviceClass::DeskPhone),
            model,
            protocol: "SIP".into(),
            secure: false,
            dn: None,
            owner: None,
            auto_registered: false,
            udt: None,
            ult: None,
            description: String::new(),
            created_at: now,
            updated_at: now,
        })?;
        self.create_object(actor, d)
    }
    pub fn update_device(
        &self,
        actor: &Actor,
        name: &str,
        p: &DevicePatch,
    ) -> Result<Device, OpError> {
        self.change_object(actor, name, "update", |_, d| Ok(p.apply(d)?))
    }
    pub fn delete_device(&self, actor: &Actor, name: &str) -> Result<(), OpError> {
        self.delete_object::<Device>(actor, name)
    }
    pub fn device(&self, name: &str) -> Result<Device, OpError> {
        self.get_object(name)
    }
    pub fn devices(&self, q: &ListQuery<DeviceSort>) -> Result<Page<Device>, OpError> {
        Ok(self.store.reading(|tx| tx.devices(q))?)
    }
}
