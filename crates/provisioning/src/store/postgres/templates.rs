//! Universal device and line templates and user profiles in PostgreSQL.

use super::rows::*;
use super::{Checked, PgTx};
use crate::model::{ObjectName, UniversalDeviceTemplate, UniversalLineTemplate, UserProfile};
use crate::store::{StoreError, TemplateRows};
use tokio_postgres::error::SqlState;

const UDT: &str = "universal device template";
const ULT: &str = "universal line template";
const PROFILE: &str = "user profile";

/// A checked insert: a unique violation means the name is taken.
fn inserted(r: Checked<u64>, kind: &'static str, name: &str) -> Result<(), StoreError> {
    match r {
        Ok(_) => Ok(()),
        Err(c) if c == SqlState::UNIQUE_VIOLATION => Err(StoreError::AlreadyExists {
            kind,
            name: name.to_owned(),
        }),
        Err(c) => Err(StoreError::Database(format!(
            "{kind} `{name}`: constraint {} failed",
            c.code()
        ))),
    }
}

impl PgTx<'_, '_> {
    fn clear_other_defaults(&self, p: &UserProfile) -> Result<(), StoreError> {
        if p.system_default {
            self.exec(
                "UPDATE user_profile SET system_default = FALSE WHERE name <> $1 AND system_default",
                &[&p.name.as_str()],
            )?;
        }
        Ok(())
    }
}

fn opt(o: &Option<ObjectName>) -> Option<&str> {
    o.as_ref().map(|x| x.as_str())
}

impl TemplateRows for PgTx<'_, '_> {
    fn udt(&self, name: &str) -> Result<Option<UniversalDeviceTemplate>, StoreError> {
        self.row(
            &format!("SELECT {UDT_COLS} FROM udt WHERE name = $1"),
            &[&name],
            row_udt,
        )
    }
    fn udts(&self) -> Result<Vec<UniversalDeviceTemplate>, StoreError> {
        self.list(
            &format!("SELECT {UDT_COLS} FROM udt ORDER BY name"),
            &[],
            row_udt,
        )
    }
    fn insert_udt(&self, t: &UniversalDeviceTemplate) -> Result<(), StoreError> {
        let r = self.checked(
            &format!("INSERT INTO udt ({UDT_COLS}) VALUES ({})", placeholders(8)),
            &[
                &t.name.as_str(),
                &t.description,
                &t.device_pool,
                &t.device_security_profile,
                &t.secure,
                &t.sip_profile,
                &t.phone_button_template,
                &t.description_pattern,
            ],
        )?;
        inserted(r, UDT, t.name.as_str())
    }
    fn update_udt(&self, t: &UniversalDeviceTemplate) -> Result<(), StoreError> {
        let n = self.exec(
            "UPDATE udt SET description=$2, device_pool=$3, device_security_profile=$4, secure=$5, sip_profile=$6, phone_button_template=$7, description_pattern=$8 WHERE name=$1",
            &[&t.name.as_str(), &t.description, &t.device_pool, &t.device_security_profile, &t.secure, &t.sip_profile, &t.phone_button_template, &t.description_pattern],
        )?;
        one_row(n as usize, UDT, t.name.as_str())
    }
    fn delete_udt(&self, name: &str) -> Result<(), StoreError> {
        self.delete_unless_used(
            "DELETE FROM udt WHERE name = $1",
            name,
            UDT,
            &[("SELECT COUNT(*) FROM user_profile WHERE udt_desk_phone = $1 OR udt_mobile_desktop = $1 OR udt_profile = $1", "user profile(s)")],
        )
    }

    fn ult(&self, name: &str) -> Result<Option<UniversalLineTemplate>, StoreError> {
        self.row(
            &format!("SELECT {ULT_COLS} FROM ult WHERE name = $1"),
            &[&name],
            row_ult,
        )
    }
    fn ults(&self) -> Result<Vec<UniversalLineTemplate>, StoreError> {
        self.list(
            &format!("SELECT {ULT_COLS} FROM ult ORDER BY name"),
            &[],
            row_ult,
        )
    }
    fn insert_ult(&self, t: &UniversalLineTemplate) -> Result<(), StoreError> {
        let r = self.checked(
            &format!("INSERT INTO ult ({ULT_COLS}) VALUES ({})", placeholders(6)),
            &[
                &t.name.as_str(),
                &t.description,
                &t.partition,
                &t.calling_search_space,
                &t.line_text_label,
                &t.voicemail_profile,
            ],
        )?;
        inserted(r, ULT, t.name.as_str())
    }
    fn update_ult(&self, t: &UniversalLineTemplate) -> Result<(), StoreError> {
        let n = self.exec(
            "UPDATE ult SET description=$2, partition_name=$3, calling_search_space=$4, line_text_label=$5, voicemail_profile=$6 WHERE name=$1",
            &[&t.name.as_str(), &t.description, &t.partition, &t.calling_search_space, &t.line_text_label, &t.voicemail_profile],
        )?;
        one_row(n as usize, ULT, t.name.as_str())
    }
    fn delete_ult(&self, name: &str) -> Result<(), StoreError> {
        self.delete_unless_used(
            "DELETE FROM ult WHERE name = $1",
            name,
            ULT,
            &[(
                "SELECT COUNT(*) FROM user_profile WHERE ult = $1",
                "user profile(s)",
            )],
        )
    }

    fn profile(&self, name: &str) -> Result<Option<UserProfile>, StoreError> {
        self.row(
            &format!("SELECT {PROFILE_COLS} FROM user_profile WHERE name = $1"),
            &[&name],
            row_profile,
        )
    }
    fn profiles(&self) -> Result<Vec<UserProfile>, StoreError> {
        self.list(
            &format!("SELECT {PROFILE_COLS} FROM user_profile ORDER BY name"),
            &[],
            row_profile,
        )
    }
    fn default_profile(&self) -> Result<Option<UserProfile>, StoreError> {
        self.row(
            &format!("SELECT {PROFILE_COLS} FROM user_profile WHERE system_default"),
            &[],
            row_profile,
        )
    }
    fn insert_profile(&self, p: &UserProfile) -> Result<(), StoreError> {
        self.clear_other_defaults(p)?;
        let limit = i64::from(p.device_limit);
        let r = self.checked(
            &format!(
                "INSERT INTO user_profile ({PROFILE_COLS}) VALUES ({})",
                placeholders(10)
            ),
            &[
                &p.name.as_str(),
                &p.description,
                &p.system_default,
                &opt(&p.udt_desk_phone),
                &opt(&p.udt_mobile_desktop),
                &opt(&p.udt_profile),
                &opt(&p.ult),
                &p.allow_self_provisioning,
                &limit,
                &p.allow_self_care,
            ],
        )?;
        inserted(r, PROFILE, p.name.as_str())
    }
    fn update_profile(&self, p: &UserProfile) -> Result<(), StoreError> {
        self.clear_other_defaults(p)?;
        let limit = i64::from(p.device_limit);
        let n = self.exec(
            "UPDATE user_profile SET description=$2, system_default=$3, udt_desk_phone=$4, udt_mobile_desktop=$5, udt_profile=$6, ult=$7, allow_self_provisioning=$8, device_limit=$9, allow_self_care=$10 WHERE name=$1",
            &[
                &p.name.as_str(),
                &p.description,
                &p.system_default,
                &opt(&p.udt_desk_phone),
                &opt(&p.udt_mobile_desktop),
                &opt(&p.udt_profile),
                &opt(&p.ult),
                &p.allow_self_provisioning,
                &limit,
                &p.allow_self_care,
            ],
        )?;
        one_row(n as usize, PROFILE, p.name.as_str())
    }
    fn delete_profile(&self, name: &str) -> Result<(), StoreError> {
        self.delete_unless_used(
            "DELETE FROM user_profile WHERE name = $1",
            name,
            PROFILE,
            &[(
                "SELECT COUNT(*) FROM end_user WHERE user_profile = $1",
                "user(s)",
            )],
        )
    }
}
