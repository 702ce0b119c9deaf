//! Activation codes and failed attempts to use one, in PostgreSQL.

use super::rows::{col, count, failures, one_row};
use super::PgTx;
use crate::activation::ActivationCode;
use crate::store::columns::{CodeColumns, CODE_COLS};
use crate::store::{ActivationRows, StoreError, UnixMillis};
use tokio_postgres::Row;

fn row_code(r: &Row) -> Result<ActivationCode, StoreError> {
    CodeColumns {
        id: col(r, 0)?,
        code_hash: col(r, 1)?,
        user_id: col(r, 2)?,
        device: col(r, 3)?,
        model: col(r, 4)?,
        created_by: col(r, 5)?,
        created_ms: col(r, 6)?,
        expires_ms: col(r, 7)?,
        used_ms: col(r, 8)?,
        used_device: col(r, 9)?,
        revoked_ms: col(r, 10)?,
        sealed: col(r, 11)?,
    }
    .into_code()
}

impl PgTx<'_, '_> {
    fn code_where(&self, cond: &str, key: &str) -> Result<Vec<ActivationCode>, StoreError> {
        self.list(
            &format!(
                "SELECT {CODE_COLS} FROM activation_code WHERE {cond} ORDER BY created_ms DESC, id"
            ),
            &[&key],
            row_code,
        )
    }
}

impl ActivationRows for PgTx<'_, '_> {
    fn insert_activation_code(&self, c: &ActivationCode) -> Result<(), StoreError> {
        let v = CodeColumns::of(c);
        self.exec(
            &format!("INSERT INTO activation_code ({CODE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"),
            &[
                &v.id,
                &v.code_hash,
                &v.user_id,
                &v.device,
                &v.model,
                &v.created_by,
                &v.created_ms,
                &v.expires_ms,
                &v.used_ms,
                &v.used_device,
                &v.revoked_ms,
                &v.sealed,
            ],
        )?;
        Ok(())
    }

    fn activation_code_by_hash(&self, hash: &str) -> Result<Option<ActivationCode>, StoreError> {
        Ok(self.code_where("code_hash = $1", hash)?.pop())
    }

    fn activation_code(&self, id: &str) -> Result<Option<ActivationCode>, StoreError> {
        Ok(self.code_where("id = $1", id)?.pop())
    }

    fn activation_codes(&self, user_id: &str) -> Result<Vec<ActivationCode>, StoreError> {
        self.code_where("user_id = $1", user_id)
    }

    fn update_activation_code(&self, c: &ActivationCode) -> Result<(), StoreError> {
        let v = CodeColumns::of(c);
        let n = self.exec(
            "UPDATE activation_code SET device = $2, model = $3, used_ms = $4, used_device = $5, revoked_ms = $6 WHERE id = $1",
            &[&v.id, &v.device, &v.model, &v.used_ms, &v.used_device, &v.revoked_ms],
        )?;
        one_row(n as usize, "activation code", &c.id)
    }

    fn code_failures(&self, device: &str) -> Result<(u32, Option<UnixMillis>), StoreError> {
        failures(self.opt(
            "SELECT failed, locked_until_ms FROM code_failure WHERE device = $1",
            &[&device],
        )?)
    }

    fn add_code_failure(&self, device: &str) -> Result<u32, StoreError> {
        let r = self.one(
            "INSERT INTO code_failure (device, failed) VALUES ($1, 1) \
             ON CONFLICT (device) DO UPDATE SET failed = code_failure.failed + 1 RETURNING failed",
            &[&device],
        )?;
        Ok(count(col(&r, 0)?))
    }

    fn set_code_failures(
        &self,
        device: &str,
        failed: u32,
        locked_until: Option<UnixMillis>,
    ) -> Result<(), StoreError> {
        if failed == 0 && locked_until.is_none() {
            self.exec("DELETE FROM code_failure WHERE device = $1", &[&device])?;
        } else {
            self.exec(
                "INSERT INTO code_failure (device, failed, locked_until_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (device) DO UPDATE SET failed = $2, locked_until_ms = $3",
                &[&device, &i64::from(failed), &locked_until.map(|t| t.0)],
            )?;
        }
        Ok(())
    }
}
