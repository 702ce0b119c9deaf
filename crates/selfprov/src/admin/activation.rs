//! `selfprov activation …`: `/api/v1/users/{user_id}/activation-codes` and
//! `/api/v1/activation-codes/{id}/revoke`.

use super::accounts::when;
use super::Client;
use crate::cli::ActivationCmd;
use crate::client::path;
use crate::output::{json, opt, table};
use anyhow::{bail, Context, Result};
use selfprov_api::activation::{ActivationCode, CodeSpec, IssuedCode};

fn codes_of(user_id: &str) -> String {
    format!("{}/activation-codes", path("/users", user_id))
}

/// `1234 5678 9012 3456`: as the user reads it (the phone ignores the spaces).
fn grouped(code: &str) -> String {
    let groups: Vec<&str> = code
        .as_bytes()
        .chunks(4)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    groups.join(" ")
}

pub fn activation(c: &Client, cmd: ActivationCmd) -> Result<()> {
    match cmd {
        ActivationCmd::Issue {
            user_id,
            device,
            model,
            expires,
            qr,
            json: as_json,
        } => {
            let seconds = match expires.as_deref().map(humantime::parse_duration) {
                None => None,
                Some(Ok(d)) => Some(d.as_secs().max(1)),
                Some(Err(_)) => bail!("--expires: not a span such as 7d or 12h"),
            };
            let spec = CodeSpec {
                device,
                model,
                expires_in_seconds: seconds,
            };
            let made: IssuedCode = c.post(&codes_of(&user_id), &spec)?;
            if let Some(file) = qr {
                std::fs::write(&file, &made.qr_svg)
                    .with_context(|| format!("writing {}", file.display()))?;
            }
            if as_json {
                return json(&made);
            }
            // Shown once: only a keyed hash is stored.
            println!("{}", grouped(&made.code));
            let a = &made.activation_code;
            let target = match (&a.device, &a.model) {
                (Some(d), _) => d.clone(),
                (None, m) => format!("the first {} that uses it", opt(m)),
            };
            eprintln!(
                "activation code {} for {} on {target}, expires {}: shown once, give it to the user",
                a.id,
                a.user_id,
                when(Some(a.expires_ms))
            );
        }
        ActivationCmd::List {
            user_id,
            json: as_json,
        } => {
            let all: Vec<ActivationCode> = c.get(&codes_of(&user_id))?;
            if as_json {
                return json(&all);
            }
            let rows: Vec<Vec<String>> = all
                .into_iter()
                .map(|a| {
                    vec![
                        a.id,
                        a.device.or(a.model).unwrap_or_default(),
                        a.state.as_str().to_owned(),
                        when(Some(a.expires_ms)),
                        opt(&a.used_by),
                        a.created_by,
                    ]
                })
                .collect();
            table(
                &["ID", "FOR", "STATE", "EXPIRES", "USED BY", "ISSUED BY"],
                &rows,
            );
        }
        ActivationCmd::Revoke { id } => {
            let v: ActivationCode =
                c.action(&format!("{}/revoke", path("/activation-codes", &id)))?;
            println!("activation code {} of {} revoked", v.id, v.user_id);
        }
    }
    Ok(())
}
