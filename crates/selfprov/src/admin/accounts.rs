//! `selfprov admin …` (administrator accounts) and `selfprov token …` (API tokens): the same
//! operations as the API's `/accounts` and `/tokens`, acting as the operating-system user.

use super::{read_secret_stdin, Admin};
use crate::cli::{AccountCmd, TokenCmd};
use crate::output::{json, table};
use anyhow::{bail, Context, Result};
use selfprov_operations::tokens::TokenRequest;
use selfprov_provisioning::accounts::Role;
use selfprov_provisioning::store::UnixMillis;

fn role(v: &str) -> Result<Role> {
    v.parse::<Role>().context("--role")
}

/// A time as the table shows it.
fn when(ms: Option<i64>) -> String {
    ms.map_or_else(
        || "-".into(),
        |ms| {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
            humantime::format_rfc3339_seconds(t).to_string()
        },
    )
}

pub fn account(a: &Admin, cmd: AccountCmd) -> Result<()> {
    let (ops, who) = (&a.ops, &a.actor);
    match cmd {
        AccountCmd::Create { name, role: r } => {
            let r = role(&r)?;
            let password = read_secret_stdin("password")?;
            let made = ops.create_account(who, &name, r, &password)?;
            println!(
                "created administrator account {} ({})",
                made.name, made.role
            );
        }
        AccountCmd::List { json: true } => json(&ops.accounts()?)?,
        AccountCmd::List { json: false } => {
            let rows: Vec<Vec<String>> = ops
                .accounts()?
                .into_iter()
                .map(|x| {
                    vec![
                        x.name,
                        x.role.to_string(),
                        x.failed_attempts.to_string(),
                        when(x.locked_until_ms),
                        when(Some(x.created_ms)),
                    ]
                })
                .collect();
            table(
                &["NAME", "ROLE", "FAILED LOGINS", "LOCKED UNTIL", "CREATED"],
                &rows,
            );
        }
        AccountCmd::Password { name } => {
            let password = read_secret_stdin("password")?;
            ops.set_password(who, &name, &password)?;
            println!("password of {name} changed");
        }
        AccountCmd::Role { name, role: r } => {
            let made = ops.set_account_role(who, &name, role(&r)?)?;
            println!("{} is now {}", made.name, made.role);
        }
        AccountCmd::Unlock { name } => {
            ops.unlock_account(who, &name)?;
            println!("unlocked administrator account {name}");
        }
        AccountCmd::Delete { name } => {
            ops.delete_account(who, &name)?;
            println!("deleted administrator account {name} with its tokens and sessions");
        }
    }
    Ok(())
}

pub fn token(a: &Admin, cmd: TokenCmd) -> Result<()> {
    let (ops, who) = (&a.ops, &a.actor);
    match cmd {
        TokenCmd::Create {
            owner,
            role: r,
            description,
            expires,
            json: as_json,
        } => {
            let now = UnixMillis::now();
            let expires = match expires.as_str() {
                "never" => None,
                span => match humantime::parse_duration(span) {
                    Ok(d) => Some(now.plus(d)),
                    Err(_) => bail!("--expires: `{span}` is not a span (90d, 12h) or `never`"),
                },
            };
            let req = TokenRequest {
                owner,
                role: r.as_deref().map(role).transpose()?,
                description,
                expires,
            };
            let made = ops.create_token(who, &req, now)?;
            if as_json {
                return json(&made);
            }
            // Shown once: only its hash is stored.
            println!("{}", made.secret);
            eprintln!(
                "token {} for {} ({}), expires {}: shown once, store it now",
                made.token.id,
                made.token.owner,
                made.token.role,
                when(made.token.expires_ms)
            );
        }
        TokenCmd::List {
            owner,
            json: as_json,
        } => {
            let all = ops.tokens(owner.as_deref())?;
            if as_json {
                return json(&all);
            }
            let rows: Vec<Vec<String>> = all
                .into_iter()
                .map(|t| {
                    vec![
                        t.id,
                        t.owner,
                        t.role.to_string(),
                        when(t.expires_ms),
                        when(t.last_used_ms),
                        t.description,
                    ]
                })
                .collect();
            table(
                &["ID", "OWNER", "ROLE", "EXPIRES", "LAST USED", "DESCRIPTION"],
                &rows,
            );
        }
        TokenCmd::Revoke { id } => {
            ops.revoke_token(who, &id)?;
            println!("token {id} revoked");
        }
    }
    Ok(())
}
