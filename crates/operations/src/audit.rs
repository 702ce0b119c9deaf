//! The audit log: entries for administrative changes (who, when, what, the fields before and
//! after), and reading the log with filters. Claim entries are written by [`crate::claim`].

use crate::{Actor, OpError, Operations};
use selfprov_provisioning::model::{AuditEntry, AuditKind};
use selfprov_provisioning::store::{AuditFilter, StoreExt, UnixMillis};
use serde_json::Value;

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
