//! The audit log and the settings documents in SQLite.

use super::rows::*;
use super::SqliteTx;
use crate::model::AuditEntry;
use crate::store::{AuditFilter, AuditRows, SettingRows, StoreError, UnixMillis};
use rusqlite::{params, OptionalExtension};

fn json_text(v: &Option<serde_json::Value>) -> Option<String> {
    v.as_ref().map(|v| v.to_string())
}

impl AuditRows for SqliteTx<'_> {
    fn insert_audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        self.c
            .prepare_cached(
                "INSERT INTO audit_log (time_ms, kind, actor, call_id, device, user_id, code, detail, object_kind, object, action, before_json, after_json) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?
            .execute(params![
                e.time_ms,
                e.kind.as_str(),
                e.actor,
                e.call_id,
                e.device,
                e.user,
                e.code.map(|c| c.as_str()),
                e.detail,
                e.object_kind,
                e.object,
                e.action,
                json_text(&e.before),
                json_text(&e.after)
            ])?;
        Ok(())
    }

    fn audit_log(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let mut st = self.c.prepare(&format!(
            "SELECT {AUDIT_COLS} FROM audit_log
             WHERE (?1 IS NULL OR device = ?1) AND (?2 IS NULL OR user_id = ?2) AND (?3 IS NULL OR code = ?3)
               AND (?4 IS NULL OR kind = ?4)
               AND (?5 IS NULL OR object = ?5 OR device = ?5 OR user_id = ?5)
               AND (?6 IS NULL OR actor = ?6 OR actor LIKE ?6 || ':%')
               AND (?7 IS NULL OR time_ms >= ?7) AND (?8 IS NULL OR time_ms <= ?8)
             ORDER BY id DESC LIMIT ?9"
        ))?;
        let limit = f
            .limit
            .map(|l| l.min(i64::MAX as usize) as i64)
            .unwrap_or(-1);
        let rows = st
            .query_map(
                params![
                    f.device,
                    f.user,
                    f.code.map(|c| c.as_str()),
                    f.kind.map(|k| k.as_str()),
                    f.object,
                    f.actor,
                    f.since.map(|t| t.0),
                    f.until.map(|t| t.0),
                    limit
                ],
                row_audit,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

impl SettingRows for SqliteTx<'_> {
    fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .c
            .query_row("SELECT value FROM setting WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?)
    }

    fn put_setting(
        &self,
        name: &str,
        json: &str,
        actor: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        self.c.execute(
            "INSERT INTO setting (name, value, revision, updated_ms, updated_by)
             VALUES (?1, ?2, (SELECT COALESCE(MAX(revision), 0) + 1 FROM setting), ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, revision = excluded.revision,
                 updated_ms = excluded.updated_ms, updated_by = excluded.updated_by",
            params![name, json, now.0, actor],
        )?;
        Ok(())
    }

    fn settings_revision(&self) -> Result<i64, StoreError> {
        Ok(self
            .c
            .query_row("SELECT COALESCE(MAX(revision), 0) FROM setting", [], |r| {
                r.get(0)
            })?)
    }
}
