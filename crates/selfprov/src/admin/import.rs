//! `selfprov import users FILE`: every row checked first (each bad one reported with its line),
//! PINs hashed on every core with a progress bar, then all users created in one transaction.

use super::Admin;
use anyhow::{Context, Result};
use selfprov_provisioning::import;

pub fn import_users(a: &Admin, file: &std::path::Path, dry_run: bool) -> Result<bool> {
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let existing = a.ops.existing_keys()?;
    let (users, errors) = import::parse_users_csv(std::io::BufReader::new(f), &existing);
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
        println!(
            "import: {} row(s) read, all valid; nothing imported (dry run)",
            users.len()
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
    let imported = a
        .ops
        .import_users(&a.actor, &prepared, &file.display().to_string())?;
    println!("import: {imported} user(s) imported, 0 failed");
    Ok(true)
}
