//! `selfprov import users FILE`: the file is checked first (`/api/v1/import/users/preview`: each
//! bad row reported with its line), then imported whole (`/api/v1/import/users`: PINs hashed, all
//! users created or, with `--update-existing`, changed in one transaction). `selfprov export
//! users`: the same format (`/api/v1/export/users`).

use super::Client;
use crate::client::{path, ApiError, Payload};
use anyhow::{Context, Result};
use axum::http::Method;
use selfprov_api::import::{ImportParams, Imported, LineError, Preview};
use std::path::Path;

fn report(file: &Path, errors: &[LineError]) {
    for e in errors {
        eprintln!("{}:line {}: {}", file.display(), e.line, e.reason);
    }
}

/// Whether the file is (or, with `dry_run`, would be) imported.
pub fn import_users(c: &Client, file: &Path, dry_run: bool, update_existing: bool) -> Result<bool> {
    let csv = std::fs::read(file).with_context(|| format!("opening {}", file.display()))?;
    let params = ImportParams {
        existing: Some(if update_existing { "update" } else { "refuse" }.into()),
    };
    let query = serde_urlencoded::to_string(&params).context("building the query")?;
    let preview: Preview = c.send_csv(
        &format!("{}?{query}", path("/import/users/preview", "")),
        csv.clone(),
    )?;
    report(file, &preview.errors);
    if !preview.errors.is_empty() {
        println!(
            "import: {} row(s) read, {} bad, nothing imported{}",
            preview.rows,
            preview.errors.len(),
            if dry_run {
                " (dry run)"
            } else {
                " (fix the rows above; a file is imported whole or not at all)"
            }
        );
        return Ok(false);
    }
    if dry_run {
        println!(
            "import: {} row(s) read, all valid ({} new, {} existing); nothing imported (dry run)",
            preview.rows, preview.create, preview.update
        );
        return Ok(true);
    }
    let done: Result<Imported> = c.send_csv(&format!("{}?{query}", path("/import/users", "")), csv);
    let sum = match done {
        Ok(sum) => sum,
        // Changed since the preview: the rows bad now.
        Err(e) => match e.downcast::<ApiError>() {
            Ok(api) if api.problem.errors.is_some() => {
                report(file, api.problem.errors.as_deref().unwrap_or_default());
                println!("import: {}", api.problem.detail);
                return Ok(false);
            }
            Ok(api) => return Err(api.into()),
            Err(other) => return Err(other),
        },
    };
    println!(
        "import: {} user(s) imported, {} updated, {} unchanged, 0 failed",
        sum.created, sum.updated, sum.unchanged
    );
    Ok(true)
}

pub fn export_users(c: &Client, file: Option<&Path>) -> Result<()> {
    let answer = c.send(Method::GET, &path("/export/users", ""), Payload::Empty)?;
    answer.check(c.is_remote())?;
    match file {
        Some(p) => {
            std::fs::write(p, &answer.body).with_context(|| format!("writing {}", p.display()))?;
            // Rows after the header line.
            let users = answer
                .body
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                .saturating_sub(1);
            eprintln!("export: {users} user(s) written to {}", p.display());
        }
        None => std::io::Write::write_all(&mut std::io::stdout().lock(), &answer.body)
            .context("writing to stdout")?,
    }
    Ok(())
}
