//! `selfprov admin …` (administrator accounts, `/api/v1/accounts`) and `selfprov token …` (API
//! tokens, `/api/v1/tokens`).

use super::{read_secret_stdin, Client};
use crate::cli::{AccountCmd, TokenCmd};
use crate::client::{path, Payload};
use crate::output::{json, table};
use anyhow::{bail, Context, Result};
use axum::http::Method;
use selfprov_api::accounts::{
    Account, CreatedToken, NewAccount, NewPassword, RoleChange, Token, TokenListParams, TokenSpec,
};
use selfprov_provisioning::accounts::Role;

fn role(v: &str) -> Result<Role> {
    v.parse::<Role>().context("--role")
}

/// A time as the table shows it.
pub(crate) fn when(ms: Option<i64>) -> String {
    ms.map_or_else(
        || "-".into(),
        |ms| {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
            humantime::format_rfc3339_seconds(t).to_string()
        },
    )
}

pub fn account(c: &Client, cmd: AccountCmd) -> Result<()> {
    let item = |name: &str| path("/accounts", name);
    match cmd {
        AccountCmd::Create { name, role: r } => {
            let role = role(&r)?;
            let password = read_secret_stdin("password")?;
            let made: Account = c.post(
                &path("/accounts", ""),
                &NewAccount {
                    name,
                    role,
                    password,
                },
            )?;
            println!(
                "created administrator account {} ({})",
                made.name, made.role
            );
        }
        AccountCmd::List { json: true } => json(&c.get::<Vec<Account>>(&path("/accounts", ""))?)?,
        AccountCmd::List { json: false } => {
            let rows: Vec<Vec<String>> = c
                .get::<Vec<Account>>(&path("/accounts", ""))?
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
            c.no_content(
                Method::POST,
                &format!("{}/password", item(&name)),
                Payload::json(&NewPassword { password })?,
            )?;
            println!("password of {name} changed");
        }
        AccountCmd::Role { name, role: r } => {
            let made: Account = c.patch(&item(&name), &RoleChange { role: role(&r)? })?;
            println!("{} is now {}", made.name, made.role);
        }
        AccountCmd::Unlock { name } => {
            let _: Account = c.action(&format!("{}/unlock", item(&name)))?;
            println!("unlocked administrator account {name}");
        }
        AccountCmd::Delete { name } => {
            c.no_content(Method::DELETE, &item(&name), Payload::Empty)?;
            println!("deleted administrator account {name} with its tokens and sessions");
        }
    }
    Ok(())
}

pub fn token(c: &Client, cmd: TokenCmd) -> Result<()> {
    match cmd {
        TokenCmd::Create {
            owner,
            role: r,
            description,
            expires,
            json: as_json,
        } => {
            let (days, seconds) = match expires.as_str() {
                "never" => (Some(0), None),
                span => match humantime::parse_duration(span) {
                    Ok(d) => (None, Some(d.as_secs().max(1))),
                    Err(_) => bail!("--expires: `{span}` is not a span (90d, 12h) or `never`"),
                },
            };
            let spec = TokenSpec {
                owner: Some(owner),
                role: r.as_deref().map(role).transpose()?,
                description,
                expires_in_days: days,
                expires_in_seconds: seconds,
            };
            let made: CreatedToken = c.post(&path("/tokens", ""), &spec)?;
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
            let all: Vec<Token> = c.get_query(&path("/tokens", ""), &TokenListParams { owner })?;
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
            c.no_content(Method::DELETE, &path("/tokens", &id), Payload::Empty)?;
            println!("token {id} revoked");
        }
    }
    Ok(())
}
