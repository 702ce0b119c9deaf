//! What both SQL backends share about their rows: the column lists (both schemas name their
//! columns alike), the ordering of lists, and "exactly one row changed".

use super::{After, DeviceSort, KeyValue, Page, StoreError, UnixMillis, UserSort};
use crate::activation::{ActivationCode, CodeTarget};
use crate::model::{EndUser, FieldError};

pub const UDT_COLS: &str =
    "name, description, device_pool, device_security_profile, secure, sip_profile, phone_button_template, description_pattern";
pub const ULT_COLS: &str =
    "name, description, partition_name, calling_search_space, line_text_label, voicemail_profile";
pub const PROFILE_COLS: &str = "name, description, system_default, udt_desk_phone, udt_mobile_desktop, udt_profile, ult, allow_self_provisioning, device_limit, allow_self_care";
pub const USER_COLS: &str = "user_id, first_name, last_name, self_service_id, primary_extension, user_profile, enabled, pin_hash, password_hash";
pub const DEVICE_COLS: &str =
    "name, model, protocol, class, secure, dn, owner, auto_registered, udt, ult, description, created_at, updated_at";
pub const AUDIT_COLS: &str =
    "id, time_ms, kind, actor, call_id, device, user_id, code, detail, object_kind, object, action, before_json, after_json";

/// `Ok(())` for one changed row, `NotFound` for none.
pub fn one_row(n: usize, kind: &'static str, name: &str) -> Result<(), StoreError> {
    if n == 0 {
        return Err(StoreError::NotFound {
            kind,
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// How a list is ordered: by a key column, then by the primary key (`tie`) in the same
/// direction, so that an index on (key, tie) is walked in order without a sort, and a keyset
/// page can start right after any item.
#[derive(Debug, Clone, Copy)]
pub struct Order<'a> {
    pub col: &'a str,
    /// The key column can be NULL (NULLs come last in both directions).
    pub nullable: bool,
    /// The key column holds numbers (else text).
    pub numeric: bool,
    pub tie: &'a str,
    pub descending: bool,
}

impl Order<'_> {
    /// `ORDER BY` of the list. `NULLS LAST` only where NULLs can occur: on a NOT NULL column it
    /// would stop SQLite from walking the index.
    pub fn order_by(&self) -> String {
        let (col, tie) = (self.col, self.tie);
        let dir = if self.descending { "DESC" } else { "ASC" };
        let nulls = if self.nullable { " NULLS LAST" } else { "" };
        if col == tie {
            format!("{col} {dir}")
        } else {
            format!("{col} {dir}{nulls}, {tie} {dir}")
        }
    }

    /// The condition "comes after `a`" in this order (a row-value comparison both SQLite and
    /// PostgreSQL walk an index for), with parameters numbered from `first` (`ph` writes a
    /// placeholder): the key's, when the condition uses it, then the tie's. Returns whether the
    /// key is bound. A cursor that cannot come from this list (a number for a text key, NULL
    /// for a NOT NULL one) is refused: it was made for another list or altered.
    pub fn after(
        &self,
        a: &After,
        first: usize,
        ph: fn(usize) -> String,
    ) -> Result<(String, bool), StoreError> {
        let (col, tie) = (self.col, self.tie);
        let op = if self.descending { "<" } else { ">" };
        let fits = match &a.key {
            KeyValue::Null => self.nullable,
            KeyValue::Int(_) => self.numeric,
            KeyValue::Text(_) => !self.numeric,
        };
        if !fits {
            return Err(FieldError::new("after", "is not a cursor of this list and order").into());
        }
        if col == tie || a.key == KeyValue::Null {
            let tie_at = ph(first);
            return Ok(if col == tie {
                (format!("{tie} {op} {tie_at}"), false)
            } else {
                (format!("({col} IS NULL AND {tie} {op} {tie_at})"), false)
            });
        }
        let (key, tie_at) = (ph(first), ph(first + 1));
        let or_null = if self.nullable {
            format!(" OR {col} IS NULL")
        } else {
            String::new()
        };
        Ok((
            format!("(({col}, {tie}) {op} ({key}, {tie_at}){or_null})"),
            true,
        ))
    }
}

/// A page from the rows a list query returned — each item with its sort key and tie, at most
/// `limit + 1` of them (one more than the page, to learn whether there is a next page) — and the
/// total number of matches.
pub fn page_of<T>(rows: Vec<(T, KeyValue, String)>, limit: Option<u64>, total: i64) -> Page<T> {
    let limit = limit.map_or(usize::MAX, |l| l.min(usize::MAX as u64 - 1) as usize);
    let more = rows.len() > limit;
    let mut items = Vec::with_capacity(rows.len().min(limit));
    let mut last = None;
    for (item, key, tie) in rows.into_iter().take(limit) {
        items.push(item);
        last = Some(After { key, tie });
    }
    Page {
        items,
        total: total.max(0) as u64,
        next: last.filter(|_| more),
    }
}

/// The order of a user list.
pub fn user_order(s: UserSort, descending: bool) -> Order<'static> {
    let (col, nullable) = match s {
        UserSort::UserId => ("user_id", false),
        UserSort::LastName => ("last_name", false),
        UserSort::PrimaryExtension => ("primary_extension", true),
    };
    Order {
        col,
        nullable,
        numeric: false,
        tie: "user_id",
        descending,
    }
}

/// The stored self-service ID: the user's own, else the primary extension.
pub fn effective_ssid(u: &EndUser) -> Option<String> {
    u.self_service_id
        .as_ref()
        .map(|s| s.to_string())
        .or_else(|| u.primary_extension.as_ref().map(|d| d.to_string()))
}

/// The order of a device list.
pub fn device_order(s: DeviceSort, descending: bool) -> Order<'static> {
    let (col, nullable) = match s {
        DeviceSort::Name => ("name", false),
        DeviceSort::Dn => ("dn", true),
        DeviceSort::Owner => ("owner", true),
        DeviceSort::Model => ("model", false),
        DeviceSort::Updated => ("updated_at", false),
    };
    Order {
        col,
        nullable,
        numeric: s == DeviceSort::Updated,
        tie: "name",
        descending,
    }
}

/// A self-service ID another user already has, as the field error an administrator can act on.
pub fn ssid_taken(ssid: Option<String>) -> StoreError {
    FieldError::new(
        "self_service_id",
        format!(
            "`{}` is already used by another user",
            ssid.unwrap_or_default()
        ),
    )
    .into()
}

pub const ACCOUNT_COLS: &str =
    "name, role, password_hash, failed_attempts, locked_until_ms, created_ms";
pub const TOKEN_COLS: &str =
    "t.id, t.secret_sha256, t.owner, t.role, t.description, t.created_ms, t.expires_ms, t.last_used_ms";
pub const SESSION_COLS: &str = "secret_sha256, account, csrf, created_ms, expires_ms, last_seen_ms";

pub const CODE_COLS: &str = "id, code_hash, user_id, device, model, created_by, created_ms, expires_ms, used_ms, used_device, revoked_ms, code_sealed";

/// An activation code's columns as both backends read them (in [`CODE_COLS`] order).
pub struct CodeColumns {
    pub id: String,
    pub code_hash: String,
    pub user_id: String,
    pub device: Option<String>,
    pub model: Option<String>,
    pub created_by: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub used_ms: Option<i64>,
    pub used_device: Option<String>,
    pub revoked_ms: Option<i64>,
    pub sealed: Option<String>,
}

impl CodeColumns {
    pub fn of(c: &ActivationCode) -> CodeColumns {
        let (device, model) = c.target.parts();
        CodeColumns {
            id: c.id.clone(),
            code_hash: c.code_hash.clone(),
            user_id: c.user_id.to_string(),
            device,
            model,
            created_by: c.created_by.clone(),
            created_ms: c.created.0,
            expires_ms: c.expires.0,
            used_ms: c.used.as_ref().map(|u| u.0 .0),
            used_device: c.used.as_ref().map(|u| u.1.clone()),
            revoked_ms: c.revoked.map(|t| t.0),
            sealed: c.sealed.clone(),
        }
    }

    pub fn into_code(self) -> Result<ActivationCode, StoreError> {
        let bad =
            |what: String| StoreError::Database(format!("activation code {}: {what}", self.id));
        let target = match (&self.device, &self.model) {
            (Some(d), _) => CodeTarget::Device(d.clone()),
            (None, Some(m)) => CodeTarget::Model(m.clone()),
            (None, None) => return Err(bad("neither device nor model".into())),
        };
        let user_id = self
            .user_id
            .parse()
            .map_err(|e: FieldError| bad(e.to_string()))?;
        Ok(ActivationCode {
            target,
            user_id,
            used: self
                .used_ms
                .map(|t| (UnixMillis(t), self.used_device.clone().unwrap_or_default())),
            revoked: self.revoked_ms.map(UnixMillis),
            created: UnixMillis(self.created_ms),
            expires: UnixMillis(self.expires_ms),
            id: self.id,
            code_hash: self.code_hash,
            created_by: self.created_by,
            sealed: self.sealed,
        })
    }
}
