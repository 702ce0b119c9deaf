//! End users, their secrets' hashes and lockout counters in SQLite.

use super::rows::*;
use super::SqliteTx;
use crate::model::EndUser;
use crate::store::{
    Credentials, ExistingKeys, ListQuery, Page, StoreError, UnixMillis, UserRows, UserSort,
};
use rusqlite::{params, OptionalExtension};

const USER: &str = "user";

impl UserRows for SqliteTx<'_> {
    fn user(&self, user_id: &str) -> Result<Option<EndUser>, StoreError> {
        Ok(self
            .c
            .query_row(
                &format!("SELECT {USER_COLS} FROM end_user WHERE user_id = ?1"),
                [user_id],
                row_user,
            )
            .optional()?)
    }

    fn users(&self, q: &ListQuery<UserSort>) -> Result<Page<EndUser>, StoreError> {
        let like = q.search.as_ref().map(|p| p.to_like());
        let trigrams = q
            .search
            .as_ref()
            .filter(|p| p.leading_wildcard())
            .and_then(|p| p.trigram_query());
        // Without a search there is no condition at all (COUNT(*) of the table is then cheap);
        // with one, every term of the OR can use its column's case-insensitive index, and a
        // leading wildcard the trigram index (which only narrows: the terms still decide).
        let terms = "user_id LIKE ?1 ESCAPE '\\' OR last_name LIKE ?1 ESCAPE '\\' OR first_name LIKE ?1 ESCAPE '\\' \
                     OR primary_extension LIKE ?1 ESCAPE '\\' OR self_service_id LIKE ?1 ESCAPE '\\'";
        let (cond, params): (String, Vec<&dyn rusqlite::ToSql>) = match (&like, &trigrams) {
            (None, _) => ("1".into(), vec![]),
            (Some(l), None) => (format!("({terms})"), vec![l]),
            (Some(l), Some(t)) => (
                format!("({} AND ({terms}))", in_search("end_user", 2)),
                vec![l, t],
            ),
        };
        let page = Paged {
            cols: USER_COLS,
            table: "end_user",
            cond: &cond,
            order: user_order(q.sort, q.descending),
            limit: q.limit,
            offset: q.offset,
            after: q.after.as_ref(),
        };
        page.run(self.c, &params, row_user)
    }

    fn insert_user(&self, u: &EndUser) -> Result<(), StoreError> {
        let ssid = effective_ssid(u);
        let r = self.c.execute(
            &format!(
                "INSERT INTO end_user ({USER_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ),
            rusqlite::params_from_iter(user_params(u, &ssid)),
        );
        match r {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                if self.user(u.user_id.as_str())?.is_some() {
                    Err(StoreError::AlreadyExists {
                        kind: USER,
                        name: u.user_id.to_string(),
                    })
                } else {
                    Err(ssid_taken(ssid))
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    fn update_user(&self, u: &EndUser) -> Result<(), StoreError> {
        let ssid = effective_ssid(u);
        let r = self.c.execute(
            "UPDATE end_user SET first_name=?2, last_name=?3, self_service_id=?4, primary_extension=?5, user_profile=?6, \
             enabled=?7, pin_hash=?8, password_hash=?9 WHERE user_id=?1",
            rusqlite::params_from_iter(user_params(u, &ssid)),
        );
        match r {
            Ok(n) => one_row(n, USER, u.user_id.as_str()),
            Err(e) if is_unique_violation(&e) => Err(ssid_taken(ssid)),
            Err(e) => Err(e.into()),
        }
    }

    fn delete_user(&self, user_id: &str) -> Result<(), StoreError> {
        self.delete_unless_used(
            "DELETE FROM end_user WHERE user_id = ?1",
            user_id,
            USER,
            &[(
                "SELECT COUNT(*) FROM device WHERE owner = ?1",
                "device(s) owned",
            )],
        )
    }

    fn credentials(&self, self_service_id: &str) -> Result<Option<Credentials>, StoreError> {
        let row: Option<(String, Option<String>, i64, Option<i64>)> = self
            .c
            .prepare_cached("SELECT user_id, pin_hash, failed_attempts, locked_until_ms FROM end_user WHERE self_service_id = ?1")?
            .query_row([self_service_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?;
        row.map(|(id, pin_hash, failed, until)| {
            Ok(Credentials {
                user_id: id.parse()?,
                pin_hash,
                failed_attempts: failed.clamp(0, i64::from(u32::MAX)) as u32,
                locked_until: until.map(UnixMillis),
            })
        })
        .transpose()
    }

    fn add_failed_attempt(&self, user_id: &str) -> Result<u32, StoreError> {
        let n: Option<i64> = self
            .c
            .query_row(
                "UPDATE end_user SET failed_attempts = failed_attempts + 1 WHERE user_id = ?1 RETURNING failed_attempts",
                [user_id],
                |r| r.get(0),
            )
            .optional()?;
        let n = n.ok_or_else(|| StoreError::NotFound {
            kind: USER,
            name: user_id.to_owned(),
        })?;
        Ok(n.clamp(0, i64::from(u32::MAX)) as u32)
    }

    fn set_lock_state(
        &self,
        user_id: &str,
        failed: u32,
        locked_until: Option<UnixMillis>,
    ) -> Result<(), StoreError> {
        let n = self.c.execute(
            "UPDATE end_user SET failed_attempts = ?2, locked_until_ms = ?3 WHERE user_id = ?1",
            params![user_id, failed, locked_until.map(|t| t.0)],
        )?;
        one_row(n, USER, user_id)
    }

    /// Failed attempts and lock state of a user (for `user show`).
    fn lock_state(&self, user_id: &str) -> Result<Option<(u32, Option<UnixMillis>)>, StoreError> {
        let r: Option<(i64, Option<i64>)> = self
            .c
            .query_row(
                "SELECT failed_attempts, locked_until_ms FROM end_user WHERE user_id = ?1",
                [user_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(r.map(|(n, u)| (n.max(0) as u32, u.map(UnixMillis))))
    }

    fn device_lock_state(
        &self,
        user_id: &str,
        device: &str,
    ) -> Result<(u32, Option<UnixMillis>), StoreError> {
        let r: Option<(i64, Option<i64>)> = self
            .c
            .prepare_cached(
                "SELECT failed, locked_until_ms FROM claim_failure WHERE user_id = ?1 AND device = ?2",
            )?
            .query_row([user_id, device], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(r.map_or((0, None), |(n, u)| {
            (n.clamp(0, i64::from(u32::MAX)) as u32, u.map(UnixMillis))
        }))
    }

    fn add_device_failure(&self, user_id: &str, device: &str) -> Result<u32, StoreError> {
        let n: i64 = self.c.query_row(
            "INSERT INTO claim_failure (user_id, device, failed) VALUES (?1, ?2, 1) \
             ON CONFLICT (user_id, device) DO UPDATE SET failed = failed + 1 RETURNING failed",
            [user_id, device],
            |r| r.get(0),
        )?;
        Ok(n.clamp(0, i64::from(u32::MAX)) as u32)
    }

    fn set_device_lock_state(
        &self,
        user_id: &str,
        device: &str,
        failed: u32,
        locked_until: Option<UnixMillis>,
    ) -> Result<(), StoreError> {
        if failed == 0 && locked_until.is_none() {
            self.c.execute(
                "DELETE FROM claim_failure WHERE user_id = ?1 AND device = ?2",
                [user_id, device],
            )?;
        } else {
            self.c.execute(
                "INSERT INTO claim_failure (user_id, device, failed, locked_until_ms) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (user_id, device) \
                 DO UPDATE SET failed = ?3, locked_until_ms = ?4",
                params![user_id, device, failed, locked_until.map(|t| t.0)],
            )?;
        }
        Ok(())
    }

    fn clear_device_locks(&self, user_id: &str) -> Result<(), StoreError> {
        self.c
            .execute("DELETE FROM claim_failure WHERE user_id = ?1", [user_id])?;
        Ok(())
    }

    fn existing_keys(&self) -> Result<ExistingKeys, StoreError> {
        let mut k = ExistingKeys::default();
        for (sql, set) in [
            ("SELECT name FROM user_profile", &mut k.profiles),
            ("SELECT user_id FROM end_user", &mut k.user_ids),
        ] {
            let mut st = self.c.prepare(sql)?;
            for v in st.query_map([], |r| r.get::<_, String>(0))? {
                set.insert(v?);
            }
        }
        let mut st = self.c.prepare(
            "SELECT self_service_id, user_id FROM end_user WHERE self_service_id IS NOT NULL",
        )?;
        for v in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (ssid, user) = v?;
            k.self_service_ids.insert(ssid, user);
        }
        Ok(k)
    }
}
