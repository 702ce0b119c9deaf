//! Rows of the SQLite schema and the model types they hold: column lists, row readers, and the
//! mapping of constraint failures to [`StoreError`]s.

use crate::model::{
    AuditEntry, Device, EndUser, ObjectName, UniversalDeviceTemplate, UniversalLineTemplate,
    UserProfile,
};
use crate::store::{After, KeyValue, Page, StoreError};
use rusqlite::{Connection, Row, ToSql};

pub use crate::store::columns::*;

pub fn bool_i(b: bool) -> i64 {
    i64::from(b)
}

pub fn parse_col<T: std::str::FromStr>(v: String, idx: usize) -> rusqlite::Result<T>
where
    T::Err: std::fmt::Display,
{
    v.parse::<T>().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            e.to_string().into(),
        )
    })
}

pub fn opt_col<T: std::str::FromStr>(v: Option<String>, idx: usize) -> rusqlite::Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    v.map(|s| parse_col(s, idx)).transpose()
}

fn json_col(v: Option<String>, idx: usize) -> rusqlite::Result<Option<serde_json::Value>> {
    v.map(|s| {
        serde_json::from_str(&s).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
        })
    })
    .transpose()
}

pub fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, Some(m)) if f.code == rusqlite::ErrorCode::ConstraintViolation && m.contains("UNIQUE"))
}

pub fn is_foreign_key_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, Some(m)) if f.code == rusqlite::ErrorCode::ConstraintViolation && m.contains("FOREIGN KEY"))
}

pub fn row_udt(r: &Row) -> rusqlite::Result<UniversalDeviceTemplate> {
    Ok(UniversalDeviceTemplate {
        name: parse_col(r.get(0)?, 0)?,
        description: r.get(1)?,
        device_pool: r.get(2)?,
        device_security_profile: r.get(3)?,
        secure: r.get::<_, i64>(4)? != 0,
        sip_profile: r.get(5)?,
        phone_button_template: r.get(6)?,
        description_pattern: r.get(7)?,
    })
}

pub fn row_ult(r: &Row) -> rusqlite::Result<UniversalLineTemplate> {
    Ok(UniversalLineTemplate {
        name: parse_col(r.get(0)?, 0)?,
        description: r.get(1)?,
        partition: r.get(2)?,
        calling_search_space: r.get(3)?,
        line_text_label: r.get(4)?,
        voicemail_profile: r.get(5)?,
    })
}

pub fn row_profile(r: &Row) -> rusqlite::Result<UserProfile> {
    Ok(UserProfile {
        name: parse_col(r.get(0)?, 0)?,
        description: r.get(1)?,
        system_default: r.get::<_, i64>(2)? != 0,
        udt_desk_phone: opt_col(r.get(3)?, 3)?,
        udt_mobile_desktop: opt_col(r.get(4)?, 4)?,
        udt_profile: opt_col(r.get(5)?, 5)?,
        ult: opt_col(r.get(6)?, 6)?,
        allow_self_provisioning: r.get::<_, i64>(7)? != 0,
        device_limit: r.get::<_, i64>(8)?.clamp(0, i64::from(u32::MAX)) as u32,
        allow_self_care: r.get::<_, i64>(9)? != 0,
    })
}

pub fn row_user(r: &Row) -> rusqlite::Result<EndUser> {
    Ok(EndUser {
        user_id: parse_col(r.get(0)?, 0)?,
        first_name: r.get(1)?,
        last_name: r.get(2)?,
        self_service_id: opt_col(r.get(3)?, 3)?,
        primary_extension: opt_col(r.get(4)?, 4)?,
        user_profile: opt_col(r.get(5)?, 5)?,
        enabled: r.get::<_, i64>(6)? != 0,
        pin_hash: r.get(7)?,
        password_hash: r.get(8)?,
    })
}

pub fn row_device(r: &Row) -> rusqlite::Result<Device> {
    Ok(Device {
        name: parse_col(r.get(0)?, 0)?,
        model: r.get(1)?,
        protocol: r.get(2)?,
        class: parse_col(r.get(3)?, 3)?,
        secure: r.get::<_, i64>(4)? != 0,
        dn: opt_col(r.get(5)?, 5)?,
        owner: opt_col(r.get(6)?, 6)?,
        auto_registered: r.get::<_, i64>(7)? != 0,
        udt: r.get(8)?,
        ult: r.get(9)?,
        description: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

pub fn row_audit(r: &Row) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.get(0)?,
        time_ms: r.get(1)?,
        kind: parse_col(r.get(2)?, 2)?,
        actor: r.get(3)?,
        call_id: r.get(4)?,
        device: r.get(5)?,
        user: r.get(6)?,
        code: opt_col(r.get(7)?, 7)?,
        detail: r.get(8)?,
        object_kind: r.get(9)?,
        object: r.get(10)?,
        action: r.get(11)?,
        before: json_col(r.get(12)?, 12)?,
        after: json_col(r.get(13)?, 13)?,
    })
}

/// The ten columns of PROFILE_COLS, in order.
pub fn profile_params(p: &UserProfile) -> [Box<dyn rusqlite::ToSql + '_>; 10] {
    let opt = |o: &Option<ObjectName>| o.as_ref().map(|x| x.as_str().to_owned());
    [
        Box::new(p.name.as_str()),
        Box::new(p.description.as_str()),
        Box::new(bool_i(p.system_default)),
        Box::new(opt(&p.udt_desk_phone)),
        Box::new(opt(&p.udt_mobile_desktop)),
        Box::new(opt(&p.udt_profile)),
        Box::new(opt(&p.ult)),
        Box::new(bool_i(p.allow_self_provisioning)),
        Box::new(p.device_limit),
        Box::new(bool_i(p.allow_self_care)),
    ]
}

/// The thirteen columns of DEVICE_COLS, in order.
pub fn device_params(d: &Device) -> [Box<dyn ToSql + '_>; 13] {
    [
        Box::new(d.name.as_str()),
        Box::new(d.model.as_str()),
        Box::new(d.protocol.as_str()),
        Box::new(d.class.as_str()),
        Box::new(bool_i(d.secure)),
        Box::new(d.dn.as_ref().map(|x| x.as_str())),
        Box::new(d.owner.as_ref().map(|x| x.as_str())),
        Box::new(bool_i(d.auto_registered)),
        Box::new(d.udt.as_deref()),
        Box::new(d.ult.as_deref()),
        Box::new(d.description.as_str()),
        Box::new(d.created_at),
        Box::new(d.updated_at),
    ]
}

/// The nine columns of USER_COLS, in order, with the self-service ID as stored.
pub fn user_params<'a>(u: &'a EndUser, ssid: &'a Option<String>) -> [Box<dyn ToSql + 'a>; 9] {
    [
        Box::new(u.user_id.as_str()),
        Box::new(u.first_name.as_str()),
        Box::new(u.last_name.as_str()),
        Box::new(ssid.as_deref()),
        Box::new(u.primary_extension.as_ref().map(|d| d.as_str())),
        Box::new(u.user_profile.as_ref().map(|p| p.as_str())),
        Box::new(bool_i(u.enabled)),
        Box::new(u.pin_hash.as_deref()),
        Box::new(u.password_hash.as_deref()),
    ]
}

/// A list query's page: `SELECT cols FROM table WHERE cond ORDER BY …` with `params` bound to
/// `?1…?n` of `cond`, from `offset` or (keyset paging) `after` an item, and how many rows match
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
        c: &Connection,
        params: &[&dyn ToSql],
        f: fn(&Row) -> rusqlite::Result<T>,
    ) -> Result<Page<T>, StoreError> {
        let (table, cond) = (self.table, self.cond);
        // Without a condition SQLite counts from the table's b-tree page counts (0.2 ms for
        // 100,000 users); even `WHERE 1` makes it walk every row (2.6 ms).
        let count = if cond == "1" {
            format!("SELECT COUNT(*) FROM {table}")
        } else {
            format!("SELECT COUNT(*) FROM {table} WHERE {cond}")
        };
        let total: i64 = c.query_row(&count, params, |r| r.get(0))?;
        let mut all: Vec<&dyn ToSql> = params.to_vec();
        let key;
        let mut cond = cond.to_owned();
        if let Some(a) = self.after {
            let (after, binds_key) = self.order.after(a, all.len() + 1, |i| format!("?{i}"))?;
            cond = format!("({cond}) AND {after}");
            key = sql_key(&a.key);
            if binds_key {
                all.push(&key);
            }
            all.push(&a.tie);
        }
        let n = all.len();
        let (cols, ncols) = (self.cols, self.cols.split(',').count());
        let (col, tie) = (self.order.col, self.order.tie);
        let sql = format!(
            "SELECT {cols}, {col}, {tie} FROM {table} WHERE {cond} ORDER BY {} LIMIT ?{} OFFSET ?{}",
            self.order.order_by(),
            n + 1,
            n + 2
        );
        // One more than the page, to learn whether a next page exists.
        let limit = self
            .limit
            .map_or(-1, |l| l.min(i64::MAX as u64 - 1) as i64 + 1);
        let offset = if self.after.is_some() {
            0
        } else {
            self.offset.min(i64::MAX as u64) as i64
        };
        all.push(&limit);
        all.push(&offset);
        let mut st = c.prepare(&sql)?;
        let rows = st
            .query_map(all.as_slice(), |r| {
                let key = match r.get::<_, rusqlite::types::Value>(ncols)? {
                    rusqlite::types::Value::Integer(i) => KeyValue::Int(i),
                    rusqlite::types::Value::Text(t) => KeyValue::Text(t),
                    _ => KeyValue::Null,
                };
                Ok((f(r)?, key, r.get(ncols + 1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(page_of(rows, self.limit, total))
    }
}

/// "The row is among those `table`'s trigram search index finds for the query bound to `?n`".
pub fn in_search(table: &str, n: usize) -> String {
    format!("rowid IN (SELECT rowid FROM {table}_search WHERE {table}_search MATCH ?{n})")
}

/// A cursor's key as an SQLite value.
fn sql_key(k: &KeyValue) -> rusqlite::types::Value {
    match k {
        KeyValue::Null => rusqlite::types::Value::Null,
        KeyValue::Int(i) => rusqlite::types::Value::Integer(*i),
        KeyValue::Text(t) => rusqlite::types::Value::Text(t.clone()),
    }
}
