//! `selfprov audit`: `/api/v1/audit`, claims and administrative changes, newest first, with
//! filters.

use super::Client;
use crate::cli::AuditArgs;
use crate::client::{path, ApiError};
use crate::output::{json, opt, table};
use anyhow::Result;
use selfprov_api::audit::Entry;
use selfprov_operations::audit::AuditQuery;

pub fn audit(c: &Client, args: AuditArgs) -> Result<()> {
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
    // The filters are options here: a wrong one is named as such (`--since: …`).
    let entries: Vec<Entry> = c
        .get_query(&path("/audit", ""), &query)
        .map_err(|e| match e.downcast::<ApiError>() {
            Ok(api) => match &api.problem.field {
                Some(f) if api.problem.detail.starts_with(f.as_str()) => {
                    let rest = &api.problem.detail[f.len()..];
                    anyhow::anyhow!("--{}{rest}", f.replace('_', "-"))
                }
                _ => api.into(),
            },
            Err(other) => other,
        })?;
    if args.json {
        return json(&entries);
    }
    let rows: Vec<Vec<String>> = entries
        .into_iter()
        .map(|e| {
            // A claim shows its outcome and device; a change its action and object; a fetch
            // whether it was served, and the file.
            let (what, about) = match e.kind.as_str() {
                "claim" => (opt(&e.code), opt(&e.device)),
                "fetch" => (opt(&e.action), opt(&e.object)),
                _ => (
                    opt(&e.action),
                    format!("{} {}", opt(&e.object_kind), opt(&e.object)),
                ),
            };
            vec![
                utc(e.time_ms),
                e.kind,
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
