//! Activation codes and failed attempts to use one, in SQLite.

use super::rows::one_row;
use super::SqliteTx;
use crate::activation::ActivationCode;
use crate::store::columns::{CodeColumns, CODE_COLS};
use crate::store::{ActivationRows, StoreError, UnixMillis};
use rusqlite::{params, OptionalExtension, Row};

fn row_code(r: &Row) -> rusqlite::Result<CodeColumns> {
    Ok(CodeColumns {
        id: r.get(0)?,
        code_hash: r.get(1)?,
        user_id: r.get(2)?,
        device: r.get(3)?,
        model: r.get(4)?,
        created_by: r.get(5)?,
        created_ms: r.get(6)?,
        expires_ms: r.get(7)?,
        used_ms: r.get(8)?,
        used_device: r.get(9)?,
        revoked_ms: r.get(10)?,
        sealed: r.get(11)?,
    })
}

impl SqliteTx<'_> {
    fn code_where(&self, cond: &str, key: &str) -> Result<Vec<ActivationCode>, StoreError> {
        let mut st = self.c.prepare_cached(&format!(
            "SELECT {CODE_COLS} FROM activation_code WHERE {cond} ORDER BY created_ms DESC, id"
        ))?;
        let rows = st
            .query_map([key], row_code)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(CodeColumns::into_code).collect()
    }
}

impl ActivationRows for SqliteTx<'_> {
    fn insert_activation_code(&self, c: &ActivationCode) -> Result<(), StoreError> {
        let v = CodeColumns::of(c);
        self.c.execute(
            &format!("INSERT INTO activation_code ({CODE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
            params![
                v.id,
                v.code_hash,
                v.user_id,
                v.device,
                v.model,
                v.created_by,
                v.created_ms,
                v.expires_ms,
                v.used_ms,
                v.used_device,
                v.revoked_ms,
                v.sealed
            ],
        )?;
        Ok(())
    }

    fn activation_code_by_hash(&self, hash: &str) -> Result<Option<ActivationCode>, StoreError> {
        Ok(self.code_where("code_hash = ?1", hash)?.pop())
    }

    fn activation_code(&self, id: &str) -> Result<Option<ActivationCode>, StoreError> {
        Ok(self.code_where("id = ?1", id)?.pop())
    }

    fn activation_codes(&self, user_id: &str) -> Result<Vec<ActivationCode>, StoreError> {
        self.code_where("user_id = ?1", user_id)
    }

    fn update_activation_code(&self, c: &ActivationCode) -> Result<(), StoreError> {
        let v = CodeColumns::of(c);
        let n = self.c.execute(
            "UPDATE activation_code SET device = ?2, model = ?3, used_ms = ?4, used_device = ?5, revoked_ms = ?6 WHERE id = ?1",
            params![v.id, v.device, v.model, v.used_ms, v.used_device, v.revoked_ms],
        )?;
        one_row(n, "activation code", &c.id)
    }

    fn code_failures(&self, device: &str) -> Result<(u32, Option<UnixMillis>), StoreError> {
        let r: Option<(i64, Option<i64>)> = self
            .c
            .prepare_cached("SELECT failed, locked_until_ms FROM code_failure WHERE device = ?1")?
            .query_row([device], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(r.map_or((0, None), |(n, u)| {
            (n.clamp(0, i64::from(u32::MAX)) as u32, u.map(UnixMillis))
        }))
    }

    fn add_code_failure(&self, device: &str) -> Result<u32, StoreError> {
        let n: i64 = self.c.query_row(
            "INSERT INTO code_failure (device, failed) VALUES (?1, 1) \
             ON CONFLICT (device) DO UPDATE SET failed = failed + 1 RETURNING failed",
            [device],
            |r| r.get(0),
        )?;
        Ok(n.clamp(0, i64::from(u32::MAX)) as u32)
    }

    fn set_code_failures(
        &self,
        device: &str,
        failed: u32,
        locked_until: Option<UnixMillis>,
    ) -> Result<(), StoreError> {
        if failed == 0 && locked_until.is_none() {
            self.c
                .execute("DELETE FROM code_failure WHERE device = ?1", [device])?;
        } else {
            self.c.execute(
                "INSERT INTO code_failure (device, failed, locked_until_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (device) DO UPDATE SET failed = ?2, locked_until_ms = ?3",
                params![device, failed, locked_until.map(|t| t.0)],
            )?;
        }
        Ok(())
    }
}
