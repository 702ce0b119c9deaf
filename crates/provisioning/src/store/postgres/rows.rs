//! Rows of the PostgreSQL schema and the model types they hold (column lists: `store::columns`).

use super::{Params, PgTx};
use crate::model::{
    AuditEntry, Device, EndUser, UniversalDeviceTemplate, UniversalLineTemplate, UserProfile,
};
use crate::store::{After, KeyValue, Page, StoreError, UnixMillis};
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::Row;

pub use crate::store::columns::*;

/// Column `i` of a row.
pub fn col<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> Result<T, StoreError> {
    r.try_get(i)
        .map_err(|e| StoreError::Database(format!("column {i}: {e}")))
}

/// Column `i` parsed into a model type.
pub fn parsed<T: std::str::FromStr>(r: &Row, i: usize) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    let s: String = col(r, i)?;
    s.parse()
        .map_err(|e| StoreError::Database(format!("column {i} `{s}`: {e}")))
}

pub fn parsed_opt<T: std::str::FromStr>(r: &Row, i: usize) -> Result<Option<T>, StoreError>
where
    T::Err: std::fmt::Display,
{
    let s: Option<String> = col(r, i)?;
    s.map(|s| {
        s.parse()
            .map_err(|e| StoreError::Database(format!("column {i} `{s}`: {e}")))
    })
    .transpose()
}

pub fn count(n: i64) -> u32 {
    n.clamp(0, i64::from(u32::MAX)) as u32
}

/// A `(failed, locked_until_ms)` row of a failure counter, `(0, None)` when there is none.
pub fn failures(r: Option<Row>) -> Result<(u32, Option<UnixMillis>), StoreError> {
    match r {
        None => Ok((0, None)),
        Some(r) => Ok((
            count(col(&r, 0)?),
            col::<Option<i64>>(&r, 1)?.map(UnixMillis),
        )),
    }
}

fn json(r: &Row, i: usize) -> Result<Option<serde_json::Value>, StoreError> {
    let s: Option<String> = col(r, i)?;
    s.map(|s| {
        serde_json::from_str(&s).map_err(|e| StoreError::Database(format!("column {i}: {e}")))
    })
    .transpose()
}

pub fn row_udt(r: &Row) -> Result<UniversalDeviceTemplate, StoreError> {
    Ok(UniversalDeviceTemplate {
        name: parsed(r, 0)?,
        description: col(r, 1)?,
        device_pool: col(r, 2)?,
        device_security_profile: col(r, 3)?,
        secure: col(r, 4)?,
        sip_profile: col(r, 5)?,
        phone_button_template: col(r, 6)?,
        description_pattern: col(r, 7)?,
    })
}

pub fn row_ult(r: &Row) -> Result<UniversalLineTemplate, StoreError> {
    Ok(UniversalLineTemplate {
        name: parsed(r, 0)?,
        description: col(r, 1)?,
        partition: col(r, 2)?,
        calling_search_space: col(r, 3)?,
        line_text_label: col(r, 4)?,
        voicemail_profile: col(r, 5)?,
    })
}

pub fn row_profile(r: &Row) -> Result<UserProfile, StoreError> {
    Ok(UserProfile {
        name: parsed(r, 0)?,
        description: col(r, 1)?,
        system_default: col(r, 2)?,
        udt_desk_phone: parsed_opt(r, 3)?,
        udt_mobile_desktop: parsed_opt(r, 4)?,
        udt_profile: parsed_opt(r, 5)?,
        ult: parsed_opt(r, 6)?,
        allow_self_provisioning: col(r, 7)?,
        device_limit: count(col(r, 8)?),
        allow_self_care: col(r, 9)?,
    })
}

pub fn row_user(r: &Row) -> Result<EndUser, StoreError> {
    Ok(EndUser {
        user_id: parsed(r, 0)?,
        first_name: col(r, 1)?,
        last_name: col(r, 2)?,
        self_service_id: parsed_opt(r, 3)?,
        primary_extension: parsed_opt(r, 4)?,
        user_profile: parsed_opt(r, 5)?,
        enabled: col(r, 6)?,
        pin_hash: col(r, 7)?,
        password_hash: col(r, 8)?,
    })
}

pub fn row_device(r: &Row) -> Result<Device, StoreError> {
    Ok(Device {
        name: parsed(r, 0)?,
        model: col(r, 1)?,
        protocol: col(r, 2)?,
        class: parsed(r, 3)?,
        secure: col(r, 4)?,
        dn: parsed_opt(r, 5)?,
        owner: parsed_opt(r, 6)?,
        auto_registered: col(r, 7)?,
        udt: col(r, 8)?,
        ult: col(r, 9)?,
        description: col(r, 10)?,
        created_at: col(r, 11)?,
        updated_at: col(r, 12)?,
    })
}

pub fn row_audit(r: &Row) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: col(r, 0)?,
        time_ms: col(r, 1)?,
        kind: parsed(r, 2)?,
        actor: col(r, 3)?,
        call_id: col(r, 4)?,
        device: col(r, 5)?,
        user: col(r, 6)?,
        code: parsed_opt(r, 7)?,
        detail: col(r, 8)?,
        object_kind: col(r, 9)?,
        object: col(r, 10)?,
        action: col(r, 11)?,
        before: json(r, 12)?,
        after: json(r, 13)?,
    })
}

/// `$1, $2, …, $n`.
pub fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A list's page: `SELECT cols FROM table WHERE cond ORDER BY … LIMIT …` with `params` bound to
/// `$1…$n` of `cond`, from `offset` or (keyset paging) `after` an item, and how many rows match
/// in all.
pub struct Paged<'a> {
    pub cols: &'a str,
    pub table: &'a str,
    pub cond: &'a str,
    pub order: Order<'a>,
    pub limit: Option<u64>,
    pub offset: u64,
    pub after: Option<&'a After>,
}

impl Paged<'_> {
    pub fn run<T>(
        &self,
        tx: &PgTx,
        params: Params,
        f: fn(&Row) -> Result<T, StoreError>,
    ) -> Result<Page<T>, StoreError> {
        let (table, cond) = (self.table, self.cond);
        let total: i64 = col(
            &tx.one(
                &format!("SELECT COUNT(*) FROM {table} WHERE {cond}"),
                params,
            )?,
            0,
        )?;
        let mut all: Vec<&(dyn ToSql + Sync)> = params.to_vec();
        let mut cond = cond.to_owned();
        if let Some(a) = self.after {
            let (after, binds_key) = self.order.after(a, all.len() + 1, |i| format!("${i}"))?;
            cond = format!("({cond}) AND {after}");
            match &a.key {
                KeyValue::Int(i) if binds_key => all.push(i),
                KeyValue::Text(t) if binds_key => all.push(t),
                _ => {}
            }
            all.push(&a.tie);
        }
        let n = all.len();
        let (cols, ncols) = (self.cols, self.cols.split(',').count());
        let (key_col, tie) = (self.order.col, self.order.tie);
        let sql = format!(
            "SELECT {cols}, {key_col}, {tie} FROM {table} WHERE {cond} ORDER BY {} LIMIT ${} OFFSET ${}",
            self.order.order_by(),
            n + 1,
            n + 2
        );
        // One more than the page, to learn whether a next page exists.
        let limit: Option<i64> = self.limit.map(|l| l.min(i64::MAX as u64 - 1) as i64 + 1);
        let offset = if self.after.is_some() {
            0
        } else {
            self.offset.min(i64::MAX as u64) as i64
        };
        all.push(&limit);
        all.push(&offset);
        let rows = tx
            .query(&sql, &all)?
            .iter()
            .map(|r| {
                let key = if self.order.numeric {
                    col::<Option<i64>>(r, ncols)?.map(KeyValue::Int)
                } else {
                    col::<Option<String>>(r, ncols)?.map(KeyValue::Text)
                };
                Ok((f(r)?, key.unwrap_or(KeyValue::Null), col(r, ncols + 1)?))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(page_of(rows, self.limit, total))
    }
}

impl PgTx<'_, '_> {
    /// Every row of `sql`, read with `f`.
    pub fn list<T>(
        &self,
        sql: &str,
        p: Params,
        f: fn(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.query(sql, p)?.iter().map(f).collect()
    }

    /// The row of `sql`, if any, read with `f`.
    pub fn row<T>(
        &self,
        sql: &str,
        p: Params,
        f: fn(&Row) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.opt(sql, p)?.as_ref().map(f).transpose()
    }

    /// Delete one row unless something still refers to it (`refs`: a count query and what it counts).
    pub fn delete_unless_used(
        &self,
        sql: &str,
        key: &str,
        kind: &'static str,
        refs: &[(&str, &str)],
    ) -> Result<(), StoreError> {
        for (q, by) in refs {
            let n: i64 = col(&self.one(q, &[&key])?, 0)?;
            if n > 0 {
                return Err(StoreError::InUse {
                    kind,
                    name: key.to_owned(),
                    by: format!("{n} {by}"),
                });
            }
        }
        one_row(self.exec(sql, &[&key])? as usize, kind, key)
    }
}
