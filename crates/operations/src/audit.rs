//! The audit log: entries for administrative changes (who, when, what, the fields before and
//! after), and reading the log with filters. Claim entries are written by [`crate::claim`].

use crate::{Actor, OpError, Operations};
use selfprov_provisioning::model::{AuditEntry, AuditKind, FieldError};
use selfprov_provisioning::store::{AuditFilter, StoreExt, UnixMillis};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The audit log's filters as a front end receives them (text), parsed the same way for every
/// front end.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// `claim` (IVR calls, assignments), `change` (administrative changes) or `fetch`.
    pub kind: Option<String>,
    /// Entries about this device (its history).
    pub device: Option<String>,
    /// Entries about this user.
    pub user: Option<String>,
    /// Entries about this object (a template, profile, user, device or account name).
    pub object: Option<String>,
    /// Who acted: `api:alice`, or a channel such as `api`, `cli`, `ivr`, `registrar`.
    pub actor: Option<String>,
    /// An outcome code, e.g. `SUCCESS`, `SELFPROV_DEVICE_LIMIT`.
    pub code: Option<String>,
    /// From this time: RFC 3339 (`2026-11-29T08:00:00Z`) or a span ago (`2h`, `3days`).
    pub since: Option<String>,
    /// Up to this time (the same forms).
    pub until: Option<String>,
    /// At most this many entries, newest first.
    pub limit: Option<usize>,
}

/// A point in time: RFC 3339, or a span before `now` (`2h`, `3days`).
pub fn parse_time(field: &str, v: &str, now: UnixMillis) -> Result<UnixMillis, FieldError> {
    if let Ok(t) = humantime::parse_rfc3339_weak(v) {
        let ms = t
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        return Ok(UnixMillis(ms));
    }
    match humantime::parse_duration(v) {
        Ok(d) => Ok(UnixMillis(now.0.saturating_sub(d.as_millis() as i64))),
        Err(_) => Err(FieldError::new(
            field,
            format!("`{v}` is neither a time (2026-11-29T08:00:00Z) nor a span ago (2h, 3days)"),
        )),
    }
}

impl AuditQuery {
    pub fn filter(&self, now: UnixMillis) -> Result<AuditFilter, FieldError> {
        let time = |field: &str, v: &Option<String>| {
            v.as_deref().map(|v| parse_time(field, v, now)).transpose()
        };
        Ok(AuditFilter {
            limit: self.limit,
            kind: self.kind.as_deref().map(str::parse).transpose()?,
            device: self.device.clone(),
            user: self.user.clone(),
            object: self.object.clone(),
            actor: self.actor.clone(),
            code: self
                .code
                .as_deref()
                .map(|c| c.parse().map_err(|e: String| FieldError::new("code", e)))
                .transpose()?,
            since: time("since", &self.since)?,
            until: time("until", &self.until)?,
        })
    }
}

/// The names of the top-level fields that differ between two JSON objects, in order.
pub fn changed_fields(before: &Value, after: &Value) -> Vec<String> {
    let (Some(b), Some(a)) = (before.as_object(), after.as_object()) else {
        return Vec::new();
    };
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| b.get(*k) != a.get(*k))
        .cloned()
        .collect()
}

/// What a change is about, for the entry's summary and its subjects.
pub struct ChangeOf<'a> {
    pub object_kind: &'a str,
    pub object: &'a str,
    pub action: &'a str,
    pub device: Option<String>,
    pub user: Option<String>,
}

/// An audit entry for an administrative change. `before`/`after` must already leave secrets out.
pub fn change_entry(
    actor: &Actor,
    of: ChangeOf<'_>,
    before: Option<Value>,
    after: Option<Value>,
    now: UnixMillis,
) -> AuditEntry {
    let detail = match (&before, &after) {
        (Some(b), Some(a)) => {
            let f = changed_fields(b, a);
            if f.is_empty() && of.action == "update" {
                format!("{} {}: nothing changed", of.action, of.object_kind)
            } else if f.is_empty() {
                format!("{} {}", of.action, of.object_kind)
            } else {
                format!("{} {}: {}", of.action, of.object_kind, f.join(", "))
            }
        }
        _ => format!("{} {}", of.action, of.object_kind),
    };
    AuditEntry {
        time_ms: now.0,
        kind: AuditKind::Change,
        actor: actor.to_string(),
        device: of.device,
        user: of.user,
        detail,
        object_kind: Some(of.object_kind.to_owned()),
        object: Some(of.object.to_owned()),
        action: Some(of.action.to_owned()),
        before,
        after,
        ..AuditEntry::default()
    }
}

impl Operations {
    /// The audit log, newest first.
    pub fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, OpError> {
        Ok(self.store.reading(|tx| tx.audit_log(filter))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summary_names_changed_fields() {
        let e = change_entry(
            &Actor::cli("root"),
            ChangeOf {
                object_kind: "udt",
                object: "Desk",
                action: "update",
                device: None,
                user: None,
            },
            Some(json!({"name": "Desk", "device_pool": "A", "secure": false})),
            Some(json!({"name": "Desk", "device_pool": "B", "secure": true})),
            UnixMillis(5),
        );
        assert_eq!(e.detail, "update udt: device_pool, secure");
        assert_eq!(
            (e.kind, e.code, e.actor.as_str()),
            (AuditKind::Change, None, "cli:root")
        );
    }
}
