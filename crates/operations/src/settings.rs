//! The self-provisioning and auto-registration settings an administrator changes at run time.
//! The configuration file gives the base values; changes made through the operations layer are
//! stored in the database (one JSON document) and override them field by field, so every node
//! sharing the database applies the same settings. A running service notices a change by the
//! settings revision and applies it without a restart; calls in progress continue.

use crate::audit::{change_entry, ChangeOf};
use crate::{Actor, OpError, Operations, Version};
use selfprov_provisioning::model::{DnRange, FieldError, ObjectName};
use selfprov_provisioning::secret::SecretHash;
use selfprov_provisioning::settings::{
    status, AutoRegistrationSettings, LanguagePreference, SelfProvisioningSettings, Status,
};
use selfprov_provisioning::store::{StoreError, StoreExt, Tx, UnixMillis};
use selfprov_provisioning::{AuthMode, Language};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The settings document's name in the database.
const DOCUMENT: &str = "system";

/// What CUCM's Self-Provisioning page answers on save; ours needs no restart.
pub const SAVED: &str =
    "Save successful. The running service applies the change within seconds, without a restart; calls in progress continue.";

/// The settings as the configuration file gives them.
#[derive(Debug, Clone)]
pub struct SettingsBase {
    pub self_provisioning: SelfProvisioningSettings,
    pub auto_registration: AutoRegistrationSettings,
}

/// Overrides stored in the database; `None` means "as in the file". A template of `""` means none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SettingsOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ivr_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_mode: Option<AuthMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication_code_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub languages: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_registration_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_registration_udt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_registration_ult: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dn_range_start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dn_range_end: Option<String>,
}

/// Settings to change; `None` leaves a field as it is. The authentication code is given in clear
/// (1 to 20 digits) and stored hashed.
#[derive(Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    pub ivr_enabled: Option<bool>,
    /// `users`, `users_and_admins` or `none`.
    pub authentication_mode: Option<String>,
    pub authentication_code: Option<String>,
    pub languages: Option<Vec<String>>,
    pub auto_registration_enabled: Option<bool>,
    /// `""` for none.
    pub auto_registration_udt: Option<String>,
    /// `""` for none.
    pub auto_registration_ult: Option<String>,
    pub dn_range_start: Option<String>,
    pub dn_range_end: Option<String>,
}

/// The names of the fields, as `settings set` and the API know them.
pub const FIELDS: [&str; 9] = [
    "ivr_enabled",
    "authentication_mode",
    "authentication_code",
    "languages",
    "auto_registration_enabled",
    "auto_registration_udt",
    "auto_registration_ult",
    "dn_range_start",
    "dn_range_end",
];

fn mode_name(m: AuthMode) -> &'static str {
    match m {
        AuthMode::Users => "users",
        AuthMode::UsersAndAdmins => "users_and_admins",
        AuthMode::None => "none",
    }
}

fn parse_mode(s: &str) -> Result<AuthMode, FieldError> {
    match s {
        "users" => Ok(AuthMode::Users),
        "users_and_admins" => Ok(AuthMode::UsersAndAdmins),
        "none" => Ok(AuthMode::None),
        _ => Err(FieldError::new(
            "authentication_mode",
            format!("`{s}` is not one of users, users_and_admins, none"),
        )),
    }
}

impl SettingsOverrides {
    /// The base with these overrides applied, every rule checked.
    pub fn apply(&self, base: &SettingsBase) -> Result<SettingsBase, FieldError> {
        let mut sp = base.self_provisioning.clone();
        let mut ar = base.auto_registration.clone();
        if let Some(v) = self.ivr_enabled {
            sp.ivr_enabled = v;
        }
        if let Some(m) = self.authentication_mode {
            sp.auth_mode = m;
        }
        if let Some(h) = &self.authentication_code_hash {
            sp.auth_code_hash = Some(
                h.parse::<SecretHash>()
                    .map_err(|e| FieldError::new("authentication_code", e.to_string()))?,
            );
        }
        if let Some(ls) = &self.languages {
            let langs = ls
                .iter()
                .map(|l| {
                    l.parse::<Language>()
                        .map_err(|e| FieldError::new("languages", e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            sp.languages = LanguagePreference::new(langs)?;
        }
        if let Some(v) = self.auto_registration_enabled {
            ar.enabled = v;
        }
        if let Some(t) = &self.auto_registration_udt {
            ar.udt = crate::field::optional::<ObjectName>("auto_registration_udt", t)?;
        }
        if let Some(t) = &self.auto_registration_ult {
            ar.ult = crate::field::optional::<ObjectName>("auto_registration_ult", t)?;
        }
        if self.dn_range_start.is_some() || self.dn_range_end.is_some() {
            let start = match &self.dn_range_start {
                Some(s) => crate::field::parse("dn_range_start", s)?,
                None => ar.dn_range.start().clone(),
            };
            let end = match &self.dn_range_end {
                Some(s) => crate::field::parse("dn_range_end", s)?,
                None => ar.dn_range.end().clone(),
            };
            ar.dn_range = DnRange::new(start, end)?;
        }
        sp.check()
            .map_err(|e| FieldError::new("authentication_code", e.rule))?;
        if let Some(dn) = sp
            .route_point
            .dns
            .iter()
            .chain(&sp.route_point.activation_dn)
            .find(|d| ar.dn_range.contains(d))
        {
            return Err(FieldError::new(
                "dn_range",
                format!("the route-point DN {dn} is inside the auto-registration range {}: phones would be given the IVR's number", ar.dn_range),
            ));
        }
        Ok(SettingsBase {
            self_provisioning: sp,
            auto_registration: ar,
        })
    }

    /// The overrides for the audit log and `settings show`: the code's hash is only "set".
    fn view(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            if o.remove("authentication_code_hash").is_some() {
                o.insert("authentication_code".into(), json!("set"));
            }
        }
        v
    }

    fn load(tx: &dyn Tx) -> Result<SettingsOverrides, StoreError> {
        match tx.setting(DOCUMENT)? {
            None => Ok(SettingsOverrides::default()),
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| StoreError::Database(format!("stored settings are unreadable ({e}); reset them with `selfprov settings reset all`"))),
        }
    }
}

/// One setting as `settings show` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingValue {
    pub name: &'static str,
    pub value: Value,
    /// `file` or `database` (changed at run time).
    pub source: &'static str,
}

/// The effective settings, where each comes from, and the resulting status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingsView {
    pub status: Status,
    pub settings: Vec<SettingValue>,
}

fn view_of(eff: &SettingsBase, o: &SettingsOverrides) -> SettingsView {
    let (sp, ar) = (&eff.self_provisioning, &eff.auto_registration);
    let src = |set: bool| if set { "database" } else { "file" };
    let name = |n: &Option<ObjectName>| json!(n.as_ref().map(|n| n.to_string()));
    let settings = vec![
        SettingValue {
            name: "ivr_enabled",
            value: json!(sp.ivr_enabled),
            source: src(o.ivr_enabled.is_some()),
        },
        SettingValue {
            name: "authentication_mode",
            value: json!(mode_name(sp.auth_mode)),
            source: src(o.authentication_mode.is_some()),
        },
        SettingValue {
            name: "authentication_code",
            value: json!(if sp.auth_code_hash.is_some() {
                "set"
            } else {
                "not set"
            }),
            source: src(o.authentication_code_hash.is_some()),
        },
        SettingValue {
            name: "languages",
            value: json!(sp
                .languages
                .as_slice()
                .iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>()),
            source: src(o.languages.is_some()),
        },
        SettingValue {
            name: "auto_registration_enabled",
            value: json!(ar.enabled),
            source: src(o.auto_registration_enabled.is_some()),
        },
        SettingValue {
            name: "auto_registration_udt",
            value: name(&ar.udt),
            source: src(o.auto_registration_udt.is_some()),
        },
        SettingValue {
            name: "auto_registration_ult",
            value: name(&ar.ult),
            source: src(o.auto_registration_ult.is_some()),
        },
        SettingValue {
            name: "dn_range_start",
            value: json!(ar.dn_range.start().to_string()),
            source: src(o.dn_range_start.is_some()),
        },
        SettingValue {
            name: "dn_range_end",
            value: json!(ar.dn_range.end().to_string()),
            source: src(o.dn_range_end.is_some()),
        },
    ];
    SettingsView {
        status: status(sp, ar),
        settings,
    }
}

/// The answer to a save: CUCM's wording, and the settings now in force.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingsSaved {
    pub message: &'static str,
    #[serde(flatten)]
    pub view: SettingsView,
}

impl Operations {
    /// The settings in force: the file's, with the database's overrides.
    pub fn effective_settings(&self, base: &SettingsBase) -> Result<SettingsBase, OpError> {
        let o = self.store.reading(SettingsOverrides::load)?;
        Ok(o.apply(base)?)
    }

    /// The settings in force, field by field with where each comes from, and the status.
    pub fn settings(&self, base: &SettingsBase) -> Result<SettingsView, OpError> {
        let o = self.store.reading(SettingsOverrides::load)?;
        Ok(view_of(&o.apply(base)?, &o))
    }

    /// The version of the stored settings (what a change made with [`Operations::expecting`]
    /// is checked against).
    pub fn settings_version(&self) -> Result<Version, OpError> {
        let o = self.store.reading(SettingsOverrides::load)?;
        Ok(Version::of(&o.view()))
    }

    /// Grows with every change of the stored settings (a running node polls it).
    pub fn settings_revision(&self) -> Result<i64, OpError> {
        Ok(self.store.reading(|tx| tx.settings_revision())?)
    }

    /// Change settings: checked as a whole (templates exist, the authentication code is there
    /// when the mode needs it, the route point is outside the DN range), stored, audited.
    pub fn update_settings(
        &self,
        actor: &Actor,
        base: &SettingsBase,
        p: &SettingsPatch,
    ) -> Result<SettingsSaved, OpError> {
        let code_hash = match &p.authentication_code {
            Some(c) => Some(
                SelfProvisioningSettings::hash_auth_code(c)?
                    .as_phc()
                    .to_owned(),
            ),
            None => None,
        };
        let mode = p
            .authentication_mode
            .as_deref()
            .map(parse_mode)
            .transpose()?;
        self.save_settings(actor, base, "update", |o| {
            o.ivr_enabled = p.ivr_enabled.or(o.ivr_enabled);
            o.authentication_mode = mode.or(o.authentication_mode);
            o.authentication_code_hash = code_hash.clone().or(o.authentication_code_hash.take());
            o.languages = p.languages.clone().or(o.languages.take());
            o.auto_registration_enabled =
                p.auto_registration_enabled.or(o.auto_registration_enabled);
            o.auto_registration_udt = p
                .auto_registration_udt
                .clone()
                .or(o.auto_registration_udt.take());
            o.auto_registration_ult = p
                .auto_registration_ult
                .clone()
                .or(o.auto_registration_ult.take());
            o.dn_range_start = p.dn_range_start.clone().or(o.dn_range_start.take());
            o.dn_range_end = p.dn_range_end.clone().or(o.dn_range_end.take());
            Ok(())
        })
    }

    /// Drop overrides so the file's values apply again: the named fields, or every one (`all`).
    pub fn reset_settings(
        &self,
        actor: &Actor,
        base: &SettingsBase,
        fields: &[String],
    ) -> Result<SettingsSaved, OpError> {
        self.save_settings(actor, base, "reset", |o| {
            for f in fields {
                match f.as_str() {
                    "all" => *o = SettingsOverrides::default(),
                    "ivr_enabled" => o.ivr_enabled = None,
                    "authentication_mode" => o.authentication_mode = None,
                    "authentication_code" => o.authentication_code_hash = None,
                    "languages" => o.languages = None,
                    "auto_registration_enabled" => o.auto_registration_enabled = None,
                    "auto_registration_udt" => o.auto_registration_udt = None,
                    "auto_registration_ult" => o.auto_registration_ult = None,
                    "dn_range_start" => o.dn_range_start = None,
                    "dn_range_end" => o.dn_range_end = None,
                    other => {
                        return Err(FieldError::new(
                            "settings",
                            format!(
                                "`{other}` is not a setting; one of {} or all",
                                FIELDS.join(", ")
                            ),
                        )
                        .into())
                    }
                }
            }
            Ok(())
        })
    }

    fn save_settings(
        &self,
        actor: &Actor,
        base: &SettingsBase,
        action: &str,
        change: impl Fn(&mut SettingsOverrides) -> Result<(), StoreError>,
    ) -> Result<SettingsSaved, OpError> {
        let view = self.store.writing(|tx| {
            let before = SettingsOverrides::load(tx)?;
            let current = Version::of(&before.view());
            if self.expect.as_ref().is_some_and(|v| *v != current) {
                return Ok(Err(OpError::Modified {
                    kind: "settings",
                    name: DOCUMENT.into(),
                    current,
                }));
            }
            let mut after = before.clone();
            change(&mut after)?;
            let eff = after.apply(base)?;
            for (field, t) in [
                ("auto_registration_udt", &eff.auto_registration.udt),
                ("auto_registration_ult", &eff.auto_registration.ult),
            ] {
                let found = match (field, t) {
                    (_, None) => true,
                    ("auto_registration_udt", Some(n)) => tx.udt(n.as_str())?.is_some(),
                    (_, Some(n)) => tx.ult(n.as_str())?.is_some(),
                };
                if !found {
                    return Err(FieldError::new(field, "no template of that name exists").into());
                }
            }
            let now = UnixMillis::now();
            let text =
                serde_json::to_string(&after).map_err(|e| StoreError::Database(e.to_string()))?;
            tx.put_setting(DOCUMENT, &text, actor.as_str(), now)?;
            tx.insert_audit(&change_entry(
                actor,
                ChangeOf {
                    object_kind: "settings",
                    object: DOCUMENT,
                    action,
                    device: None,
                    user: None,
                },
                Some(before.view()),
                Some(after.view()),
                now,
            ))?;
            Ok(Ok(view_of(&eff, &after)))
        })??;
        Ok(SettingsSaved {
            message: SAVED,
            view,
        })
    }
}
