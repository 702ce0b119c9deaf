//! `selfprov audit`: claims and administrative changes, newest first, with filters.

use super::Admin;
use crate::cli::AuditArgs;
use crate::output::{json, opt, table};
use anyhow::{bail, Context, Result};
use selfprov_provisioning::model::AuditKind;
use selfprov_provisioning::store::{AuditFilter, UnixMillis};

/// A point in time: RFC 3339, or a span before now (`2h`, `3days`).
fn time_arg(flag: &str, v: &str) -> Result<UnixMillis> {
    if let Ok(t) = humantime::parse_rfc3339_weak(v) {
        let ms = t
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        return Ok(UnixMillis(ms));
    }
    match humantime::parse_duration(v) {
        Ok(d) => Ok(UnixMillis(UnixMillis::now().0 - d.as_millis() as i64)),
        Err(_) => bail!(
            "{flag}: `{v}` is neither a time (2026-11-29T08:00:00Z) nor a span ago (2h, 3days)"
        ),
    }
}

pub fn audit(a: &Admin, args: AuditArgs) -> Result<()> {
    let filter = AuditFilter {
        limit: args.limit,
        kind: args
            .kind
            .as_deref()
            .map(str::parse::<AuditKind>)
            .transpose()
            .context("--kind")?,
        device: args.device,
        user: args.user,
        object: args.object,
        actor: args.actor,
        code: args
            .code
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(anyhow::Error::msg)
            .context("--code")?,
        since: args
            .since
            .as_deref()
            .map(|v| time_arg("--since", v))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|v| time_arg("--until", v))
            .transpose()?,
    };
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
