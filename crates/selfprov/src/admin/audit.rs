//! `selfprov audit`: claims and administrative changes, newest first, with filters.

use super::Admin;
use crate::cli::AuditArgs;
use crate::output::{json, opt, table};
use anyhow::Result;
use selfprov_operations::audit::AuditQuery;
use selfprov_provisioning::model::AuditKind;
use selfprov_provisioning::store::UnixMillis;

pub fn audit(a: &Admin, args: AuditArgs) -> Result<()> {
    let query = AuditQuery {
        kind: args.kind,
        device: args.device,
        user: args.user,
        object: args.object,
        actor: args.actor,
        code: args.code,
        since: args.since,
        until: args.until,
        limit: args.limit,
    };
    let filter = query
        .filter(UnixMillis::now())
        .map_err(|e| anyhow::anyhow!("--{e}"))?;
    let entries = a.ops.audit_log(&filter)?;
    if args.json {
        return json(&entries);
    }
    let rows: Vec<Vec<String>> = entries
        .into_iter()
        .map(|e| {
            // A claim shows its outcome and device; a change its action and object; a fetch
            // whether it was served, and the file.
            let (what, about) = match e.kind {
                AuditKind::Claim => (opt(&e.code), opt(&e.device)),
                AuditKind::Fetch => (opt(&e.action), opt(&e.object)),
                AuditKind::Change => (
                    opt(&e.action),
                    format!("{} {}", opt(&e.object_kind), opt(&e.object)),
                ),
            };
            vec![
                utc(e.time_ms),
                e.kind.to_string(),
                e.actor,
                what,
                about,
                opt(&e.user),
                e.detail,
                e.call_id,
            ]
        })
        .collect();
    table(
        &[
            "TIME (UTC)",
            "KIND",
            "ACTOR",
            "CODE/ACTION",
            "DEVICE/OBJECT",
            "USER",
            "DETAIL",
            "CALL ID",
        ],
        &rows,
    );
    Ok(())
}

fn utc(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}
