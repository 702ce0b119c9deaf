//! End users, their secrets' hashes and lockout counters in PostgreSQL.

use super::rows::*;
use super::PgTx;
use crate::model::{EndUser, FieldError};
use crate::store::{
    Credentials, ExistingKeys, ListQuery, Page, StoreError, UnixMillis, UserRows, UserSort,
};
use tokio_postgres::error::SqlState;

const USER: &str = "user";

fn millis(t: Option<UnixMillis>) -> Option<i64> {
    t.map(|t| t.0)
}

impl UserRows for PgTx<'_, '_> {
    fn user(&self, user_id: &str) -> Result<Option<EndUser>, StoreError> {
        self.row(
            &format!("SELECT {USER_COLS} FROM end_user WHERE user_id = $1"),
            &[&user_id],
            row_user,
        )
    }

    fn users(&self, q: &ListQuery<UserSort>) -> Result<Page<EndUser>, StoreError> {
        let like = q.search.as_ref().map(|p| p.to_like().to_ascii_lowercase());
        // Each term of the OR uses the index on its column's lower case.
        let (cond, params): (&str, Vec<&(dyn tokio_postgres::types::ToSql + Sync)>) = match &like {
            None => ("TRUE", vec![]),
            Some(l) => (
                "(lower(user_id) LIKE $1 OR lower(last_name) LIKE $1 OR lower(first_name) LIKE $1 \
                 OR lower(primary_extension) LIKE $1 OR lower(self_service_id) LIKE $1)",
                vec![l],
            ),
        };
        Paged {
            cols: USER_COLS,
            table: "end_user",
            cond,
            order: user_order(q.sort, q.descending),
            limit: q.limit,
            offset: q.offset,
            after: q.after.as_ref(),
        }
        .run(self, &params, row_user)
    }

    fn insert_user(&self, u: &EndUser) -> Result<(), StoreError> {
        let ssid = effective_ssid(u);
        let r = self.checked(
            &format!(
                "INSERT INTO end_user ({USER_COLS}) VALUES ({})",
                placeholders(9)
            ),
            &[
                &u.user_id.as_str(),
                &u.first_name,
                &u.last_name,
                &ssid,
                &u.primary_extension.as_ref().map(|d| d.as_str()),
                &u.user_profile.as_ref().map(|p| p.as_str()),
                &u.enabled,
                &u.pin_hash,
                &u.password_hash,
            ],
        )?;
        match r {
            Ok(_) => Ok(()),
            Err(c) if c == SqlState::UNIQUE_VIOLATION => {
                if self.user(u.user_id.as_str())?.is_some() {
                    Err(StoreError::AlreadyExists {
                        kind: USER,
                        name: u.user_id.to_string(),
                    })
                } else {
                    Err(ssid_taken(ssid))
                }
            }
            Err(c) if c == SqlState::FOREIGN_KEY_VIOLATION => {
                Err(FieldError::new("user_profile", "no such user profile").into())
            }
            Err(c) => Err(StoreError::Database(format!(
                "user `{}`: constraint {} failed",
                u.user_id,
                c.code()
            ))),
        }
    }

    fn update_user(&self, u: &EndUser) -> Result<(), StoreError> {
        let ssid = effective_ssid(u);
        let r = self.checked(
            "UPDATE end_user SET first_name=$2, last_name=$3, self_service_id=$4, primary_extension=$5, user_profile=$6, \
             enabled=$7, pin_hash=$8, password_hash=$9 WHERE user_id=$1",
            &[
                &u.user_id.as_str(),
                &u.first_name,
                &u.last_name,
                &ssid,
                &u.primary_extension.as_ref().map(|d| d.as_str()),
                &u.user_profile.as_ref().map(|p| p.as_str()),
                &u.enabled,
                &u.pin_hash,
                &u.password_hash,
            ],
        )?;
        match r {
            Ok(n) => one_row(n as usize, USER, u.user_id.as_str()),
            Err(c) if c == SqlState::UNIQUE_VIOLATION => Err(ssid_taken(ssid)),
            Err(c) if c == SqlState::FOREIGN_KEY_VIOLATION => {
                Err(FieldError::new("user_profile", "no such user profile").into())
            }
            Err(c) => Err(StoreError::Database(format!(
                "user `{}`: constraint {} failed",
                u.user_id,
                c.code()
            ))),
        }
    }

    fn delete_user(&self, user_id: &str) -> Result<(), StoreError> {
        self.delete_unless_used(
            "DELETE FROM end_user WHERE user_id = $1",
            user_id,
            USER,
            &[(
                "SELECT COUNT(*) FROM device WHERE owner = $1",
                "device(s) owned",
            )],
        )
    }

    fn credentials(&self, self_service_id: &str) -> Result<Option<Credentials>, StoreError> {
        let Some(r) = self.opt(
            "SELECT user_id, pin_hash, failed_attempts, locked_until_ms FROM end_user WHERE self_service_id = $1",
            &[&self_service_id],
        )?
        else {
            return Ok(None);
        };
        Ok(Some(Credentials {
            user_id: parsed(&r, 0)?,
            pin_hash: col(&r, 1)?,
            failed_attempts: count(col(&r, 2)?),
            locked_until: col::<Option<i64>>(&r, 3)?.map(UnixMillis),
        }))
    }

    fn add_failed_attempt(&self, user_id: &str) -> Result<u32, StoreError> {
        let r = self.opt(
            "UPDATE end_user SET failed_attempts = failed_attempts + 1 WHERE user_id = $1 RETURNING failed_attempts",
            &[&user_id],
        )?;
        let r = r.ok_or_else(|| StoreError::NotFound {
            kind: USER,
            name: user_id.to_owned(),
        })?;
        Ok(count(col(&r, 0)?))
    }

    fn set_lock_state(
        &self,
        user_id: &str,
        failed: u32,
        locked_until: Option<UnixMillis>,
    ) -> Result<(), StoreError> {
        let n = self.exec(
            "UPDATE end_user SET failed_attempts = $2, locked_until_ms = $3 WHERE user_id = $1",
            &[&user_id, &i64::from(failed), &millis(locked_until)],
        )?;
        one_row(n as usize, USER, user_id)
    }

    fn lock_state(&self, user_id: &str) -> Result<Option<(u32, Option<UnixMillis>)>, StoreError> {
        let r = self.opt(
            "SELECT failed_attempts, locked_until_ms FROM end_user WHERE user_id = $1",
            &[&user_id],
        )?;
        r.map(|r| {
            Ok((
                count(col(&r, 0)?),
                col::<Option<i64>>(&r, 1)?.map(UnixMillis),
            ))
        })
        .transpose()
    }

    fn device_lock_state(
        &self,
        user_id: &str,
        device: &str,
    ) -> Result<(u32, Option<UnixMillis>), StoreError> {
        let r = self.opt(
            "SELECT failed, locked_until_ms FROM claim_failure WHERE user_id = $1 AND device = $2",
            &[&user_id, &device],
        )?;
        failures(r)
    }

    fn add_device_failure(&self, user_id: &str, device: &str) -> Result<u32, StoreError> {
        let r = self.one(
            "INSERT INTO claim_failure (user_id, device, failed) VALUES ($1, $2, 1) \
             ON CONFLICT (user_id, device) DO UPDATE SET failed = claim_failure.failed + 1 RETURNING failed",
            &[&user_id, &device],
        )?;
        Ok(count(col(&r, 0)?))
    }

    fn set_device_lock_state(
        &self,
        user_id: &str,
        device: &str,
        failed: u32,
        locked_until: Option<UnixMillis>,
    ) -> Result<(), StoreError> {
        if failed == 0 && locked_until.is_none() {
            self.exec(
                "DELETE FROM claim_failure WHERE user_id = $1 AND device = $2",
                &[&user_id, &device],
            )?;
        } else {
            self.exec(
                "INSERT INTO claim_failure (user_id, device, failed, locked_until_ms) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, device) \
                 DO UPDATE SET failed = $3, locked_until_ms = $4",
                &[&user_id, &device, &i64::from(failed), &millis(locked_until)],
            )?;
        }
        Ok(())
    }

    fn clear_device_locks(&self, user_id: &str) -> Result<(), StoreError> {
        self.exec("DELETE FROM claim_failure WHERE user_id = $1", &[&user_id])?;
        Ok(())
    }

    fn existing_keys(&self) -> Result<ExistingKeys, StoreError> {
        let mut k = ExistingKeys::default();
        for r in self.query("SELECT name FROM user_profile", &[])? {
            k.profiles.insert(col(&r, 0)?);
        }
        for r in self.query("SELECT user_id, self_service_id FROM end_user", &[])? {
            let user: String = col(&r, 0)?;
            if let Some(ssid) = col::<Option<String>>(&r, 1)? {
                k.self_service_ids.insert(ssid, user.clone());
            }
            k.user_ids.insert(user);
        }
        Ok(k)
    }
}
