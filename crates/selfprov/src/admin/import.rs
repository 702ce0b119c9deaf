//! `selfprov import users FILE`: every row checked first (each bad one reported with its line),
//! PINs hashed on every core with a progress bar, then all users created (or, with
//! `--update-existing`, changed) in one transaction. `selfprov export users`: the same format.

use super::Admin;
use anyhow::{Context, Result};
use selfprov_provisioning::import::{self, Existing};

pub fn import_users(
    a: &Admin,
    file: &std::path::Path,
    dry_run: bool,
    mode: Existing,
) -> Result<bool> {
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let existing = a.ops.existing_keys()?;
    let (users, errors) = import::parse_users_csv(std::io::BufReader::new(f), &existing, mode);
    for e in &errors {
        eprintln!("{}:{e}", file.display());
    }
    let total_rows = users.len() + errors.len();
    if !errors.is_empty() {
        println!(
            "import: {} row(s) read, {} bad, nothing imported{}",
            total_rows,
            errors.len(),
            if dry_run {
                " (dry run)"
            } else {
                " (fix the rows above; a file is imported whole or not at all)"
            }
        );
        return Ok(false);
    }
    if dry_run {
        let updates = users
            .iter()
            .filter(|u| existing.user_ids.contains(u.user_id.as_str()))
            .count();
        println!(
            "import: {} row(s) read, all valid ({} new, {updates} existing); nothing imported (dry run)",
            users.len(),
            users.len() - updates
        );
        return Ok(true);
    }
    let bar = indicatif::ProgressBar::new(users.len() as u64);
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) && users.len() >= 100 {
        bar.set_style(
            indicatif::ProgressStyle::with_template("hashing PINs {bar:40} {pos}/{len} ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let prepared = import::prepare_users(users, &|done, _| bar.set_position(done as u64))
        .map_err(anyhow::Error::msg)?;
    bar.finish_and_clear();
    let sum = a
        .ops
        .import_users(&a.actor, &prepared, mode, &file.display().to_string())?;
    println!(
        "import: {} user(s) imported, {} updated, {} unchanged, 0 failed",
        sum.created, sum.updated, sum.unchanged
    );
    Ok(true)
}

pub fn export_users(a: &Admin, file: Option<&std::path::Path>) -> Result<()> {
    let users = a.ops.all_users()?;
    match file {
        Some(path) => {
            let f = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            import::write_users_csv(&users, std::io::BufWriter::new(f))?;
            eprintln!(
                "export: {} user(s) written to {}",
                users.len(),
                path.display()
            );
        }
        None => import::write_users_csv(&users, std::io::stdout().lock())?,
    }
    Ok(())
}
