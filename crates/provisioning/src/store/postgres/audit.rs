//! The audit log and the settings documents in PostgreSQL.

use super::rows::*;
use super::PgTx;
use crate::model::AuditEntry;
use crate::store::{AuditFilter, AuditRows, SettingRows, StoreError, UnixMillis};

fn json_text(v: &Option<serde_json::Value>) -> Option<String> {
    v.as_ref().map(|v| v.to_string())
}

impl AuditRows for PgTx<'_, '_> {
    fn insert_audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO audit_log (time_ms, kind, actor, call_id, device, user_id, code, detail, object_kind, object, action, before_json, after_json) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            &[
                &e.time_ms,
                &e.kind.as_str(),
                &e.actor,
                &e.call_id,
                &e.device,
                &e.user,
                &e.code.map(|c| c.as_str()),
                &e.detail,
                &e.object_kind,
                &e.object,
                &e.action,
                &json_text(&e.before),
                &json_text(&e.after),
            ],
        )?;
        Ok(())
    }

    fn audit_log(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let limit: Option<i64> = f.limit.map(|l| l.min(i64::MAX as usize) as i64);
        self.list(
            &format!(
                "SELECT {AUDIT_COLS} FROM audit_log
                 WHERE ($1::text IS NULL OR device = $1) AND ($2::text IS NULL OR user_id = $2)
                   AND ($3::text IS NULL OR code = $3) AND ($4::text IS NULL OR kind = $4)
                   AND ($5::text IS NULL OR object = $5 OR device = $5 OR user_id = $5)
                   AND ($6::text IS NULL OR actor = $6 OR actor LIKE $6 || ':%')
                   AND ($7::bigint IS NULL OR time_ms >= $7) AND ($8::bigint IS NULL OR time_ms <= $8)
                 ORDER BY id DESC LIMIT $9"
            ),
            &[
                &f.device,
                &f.user,
                &f.code.map(|c| c.as_str()),
                &f.kind.map(|k| k.as_str()),
                &f.object,
                &f.actor,
                &f.since.map(|t| t.0),
                &f.until.map(|t| t.0),
                &limit,
            ],
            row_audit,
        )
    }
}

impl SettingRows for PgTx<'_, '_> {
    fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.opt("SELECT value FROM setting WHERE name = $1", &[&name])?
            .map(|r| col(&r, 0))
            .transpose()
    }

    fn put_setting(
        &self,
        name: &str,
        json: &str,
        actor: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO setting (name, value, revision, updated_ms, updated_by)
             VALUES ($1, $2, (SELECT COALESCE(MAX(revision), 0) + 1 FROM setting), $3, $4)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, revision = excluded.revision,
                 updated_ms = excluded.updated_ms, updated_by = excluded.updated_by",
            &[&name, &json, &now.0, &actor],
        )?;
        Ok(())
    }

    fn settings_revision(&self) -> Result<i64, StoreError> {
        col(
            &self.one("SELECT COALESCE(MAX(revision), 0) FROM setting", &[])?,
            0,
        )
    }
}
