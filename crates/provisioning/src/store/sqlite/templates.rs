//! Universal device and line templates and user profiles in SQLite.

use super::rows::*;
use super::SqliteTx;
use crate::model::{UniversalDeviceTemplate, UniversalLineTemplate, UserProfile};
use crate::store::{StoreError, TemplateRows};
use rusqlite::{params, OptionalExtension};

const UDT: &str = "universal device template";
const ULT: &str = "universal line template";
const PROFILE: &str = "user profile";

impl SqliteTx<'_> {
    fn exists_or_insert(
        &self,
        r: rusqlite::Result<usize>,
        kind: &'static str,
        name: &str,
    ) -> Result<(), StoreError> {
        match r {
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists {
                kind,
                name: name.to_owned(),
            }),
            r => r.map(|_| ()).map_err(Into::into),
        }
    }

    /// Delete one row unless something still refers to it (`refs`: a count query and what it counts).
    pub(super) fn delete_unless_used(
        &self,
        sql: &str,
        key: &str,
        kind: &'static str,
        refs: &[(&str, &str)],
    ) -> Result<(), StoreError> {
        for (q, by) in refs {
            let n: i64 = self.c.query_row(q, [key], |r| r.get(0))?;
            if n > 0 {
                return Err(StoreError::InUse {
                    kind,
                    name: key.to_owned(),
                    by: format!("{n} {by}"),
                });
            }
        }
        one_row(self.c.execute(sql, [key])?, kind, key)
    }

    fn clear_other_defaults(&self, p: &UserProfile) -> Result<(), StoreError> {
        if p.system_default {
            self.c.execute(
                "UPDATE user_profile SET system_default = 0 WHERE name <> ?1",
                [p.name.as_str()],
            )?;
        }
        Ok(())
    }
}

impl TemplateRows for SqliteTx<'_> {
    fn udt(&self, name: &str) -> Result<Option<UniversalDeviceTemplate>, StoreError> {
        Ok(self
            .c
            .query_row(
                &format!("SELECT {UDT_COLS} FROM udt WHERE name = ?1"),
                [name],
                row_udt,
            )
            .optional()?)
    }
    fn udts(&self) -> Result<Vec<UniversalDeviceTemplate>, StoreError> {
        self.list(
            &format!("SELECT {UDT_COLS} FROM udt ORDER BY name"),
            row_udt,
        )
    }
    fn insert_udt(&self, t: &UniversalDeviceTemplate) -> Result<(), StoreError> {
        let r = self.c.execute(
            &format!("INSERT INTO udt ({UDT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![
                t.name.as_str(),
                t.description,
                t.device_pool,
                t.device_security_profile,
                bool_i(t.secure),
                t.sip_profile,
                t.phone_button_template,
                t.description_pattern
            ],
        );
        self.exists_or_insert(r, UDT, t.name.as_str())
    }
    fn update_udt(&self, t: &UniversalDeviceTemplate) -> Result<(), StoreError> {
        let n = self.c.execute(
            "UPDATE udt SET description=?2, device_pool=?3, device_security_profile=?4, secure=?5, sip_profile=?6, phone_button_template=?7, description_pattern=?8 WHERE name=?1",
            params![t.name.as_str(), t.description, t.device_pool, t.device_security_profile, bool_i(t.secure), t.sip_profile, t.phone_button_template, t.description_pattern],
        )?;
        one_row(n, UDT, t.name.as_str())
    }
    fn delete_udt(&self, name: &str) -> Result<(), StoreError> {
        self.delete_unless_used(
            "DELETE FROM udt WHERE name = ?1",
            name,
            UDT,
            &[("SELECT COUNT(*) FROM user_profile WHERE udt_desk_phone = ?1 OR udt_mobile_desktop = ?1 OR udt_profile = ?1", "user profile(s)")],
        )
    }

    fn ult(&self, name: &str) -> Result<Option<UniversalLineTemplate>, StoreError> {
        Ok(self
            .c
            .query_row(
                &format!("SELECT {ULT_COLS} FROM ult WHERE name = ?1"),
                [name],
                row_ult,
            )
            .optional()?)
    }
    fn ults(&self) -> Result<Vec<UniversalLineTemplate>, StoreError> {
        self.list(
            &format!("SELECT {ULT_COLS} FROM ult ORDER BY name"),
            row_ult,
        )
    }
    fn insert_ult(&self, t: &UniversalLineTemplate) -> Result<(), StoreError> {
        let r = self.c.execute(
            &format!("INSERT INTO ult ({ULT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![
                t.name.as_str(),
                t.description,
                t.partition,
                t.calling_search_space,
                t.line_text_label,
                t.voicemail_profile
            ],
        );
        self.exists_or_insert(r, ULT, t.name.as_str())
    }
    fn update_ult(&self, t: &UniversalLineTemplate) -> Result<(), StoreError> {
        let n = self.c.execute(
            "UPDATE ult SET description=?2, partition_name=?3, calling_search_space=?4, line_text_label=?5, voicemail_profile=?6 WHERE name=?1",
            params![t.name.as_str(), t.description, t.partition, t.calling_search_space, t.line_text_label, t.voicemail_profile],
        )?;
        one_row(n, ULT, t.name.as_str())
    }
    fn delete_ult(&self, name: &str) -> Result<(), StoreError> {
        self.delete_unless_used(
            "DELETE FROM ult WHERE name = ?1",
            name,
            ULT,
            &[(
                "SELECT COUNT(*) FROM user_profile WHERE ult = ?1",
                "user profile(s)",
            )],
        )
    }

    fn profile(&self, name: &str) -> Result<Option<UserProfile>, StoreError> {
        Ok(self
            .c
            .query_row(
                &format!("SELECT {PROFILE_COLS} FROM user_profile WHERE name = ?1"),
                [name],
                row_profile,
            )
            .optional()?)
    }
    fn profiles(&self) -> Result<Vec<UserProfile>, StoreError> {
        self.list(
            &format!("SELECT {PROFILE_COLS} FROM user_profile ORDER BY name"),
            row_profile,
        )
    }
    fn default_profile(&self) -> Result<Option<UserProfile>, StoreError> {
        Ok(self
            .c
            .query_row(
                &format!("SELECT {PROFILE_COLS} FROM user_profile WHERE system_default = 1"),
                [],
                row_profile,
            )
            .optional()?)
    }
    fn insert_profile(&self, p: &UserProfile) -> Result<(), StoreError> {
        self.clear_other_defaults(p)?;
        let r = self.c.execute(
            &format!("INSERT INTO user_profile ({PROFILE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
            rusqlite::params_from_iter(profile_params(p)),
        );
        self.exists_or_insert(r, PROFILE, p.name.as_str())
    }
    fn update_profile(&self, p: &UserProfile) -> Result<(), StoreError> {
        self.clear_other_defaults(p)?;
        let n = self.c.execute(
            "UPDATE user_profile SET description=?2, system_default=?3, udt_desk_phone=?4, udt_mobile_desktop=?5, udt_profile=?6, ult=?7, allow_self_provisioning=?8, device_limit=?9, allow_self_care=?10 WHERE name=?1",
            rusqlite::params_from_iter(profile_params(p)),
        )?;
        one_row(n, PROFILE, p.name.as_str())
    }
    fn delete_profile(&self, name: &str) -> Result<(), StoreError> {
        self.delete_unless_used(
            "DELETE FROM user_profile WHERE name = ?1",
            name,
            PROFILE,
            &[(
                "SELECT COUNT(*) FROM end_user WHERE user_profile = ?1",
                "user(s)",
            )],
        )
    }
}
