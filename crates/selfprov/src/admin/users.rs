//! `selfprov user …`.

use super::{page_footer, read_secret_stdin, show, sorted_query, Admin};
use crate::cli::{UserArgs, UserCmd};
use crate::output::{json, opt, table};
use anyhow::Result;
use selfprov_operations::users::UserPatch;
use selfprov_provisioning::model::EndUser;

fn user_patch(a: UserArgs) -> Result<(String, UserPatch)> {
    let pin = if a.pin_stdin {
        Some(read_secret_stdin("PIN")?)
    } else {
        a.pin
    };
    let p = UserPatch {
        first_name: a.first_name,
        last_name: a.last_name,
        self_service_id: a.self_service_id,
        primary_extension: a.primary_extension,
        user_profile: a.profile,
        enabled: a.enabled,
        pin,
    };
    Ok((a.user_id, p))
}

/// `user show`: the user, whether a PIN is set (never the PIN or its hash), and the lockout state.
#[derive(serde::Serialize)]
struct Shown {
    #[serde(flatten)]
    user: EndUser,
    pin_set: bool,
    failed_attempts: u32,
    locked_until_ms: Option<i64>,
}

pub fn user(a: &Admin, cmd: UserCmd) -> Result<()> {
    let (ops, who) = (&a.ops, &a.actor);
    match cmd {
        UserCmd::Create(args) => {
            let (id, p) = user_patch(args)?;
            println!("created user {}", ops.create_user(who, &id, &p)?.user_id);
        }
        UserCmd::Update(args) => {
            let (id, p) = user_patch(args)?;
            println!("updated user {}", ops.update_user(who, &id, &p)?.user_id);
        }
        UserCmd::List(l) => {
            let page = ops.users(&sorted_query(&l)?)?;
            if l.list.json {
                return json(&page.items);
            }
            let rows: Vec<Vec<String>> = page
                .items
                .iter()
                .map(|u| {
                    vec![
                        u.user_id.to_string(),
                        format!("{} {}", u.first_name, u.last_name),
                        opt(&u.self_service_id),
                        opt(&u.primary_extension),
                        u.user_profile
                            .as_ref()
                            .map(|p| p.to_string())
                            .unwrap_or_else(|| "(system default)".into()),
                        u.enabled.to_string(),
                    ]
                })
                .collect();
            table(
                &[
                    "USER ID",
                    "NAME",
                    "SELF-SERVICE ID",
                    "EXTENSION",
                    "PROFILE",
                    "ENABLED",
                ],
                &rows,
            );
            page_footer(&page);
        }
        UserCmd::Show { user_id, json: j } => {
            let user = ops.user(&user_id)?;
            let lock = ops.lock_state(&user_id)?;
            let shown = Shown {
                pin_set: user.pin_hash.is_some(),
                user,
                failed_attempts: lock.failed_attempts,
                locked_until_ms: lock.locked_until_ms,
            };
            show(&shown, j)?
        }
        UserCmd::Delete { user_id } => {
            ops.delete_user(who, &user_id)?;
            println!("deleted user {user_id}");
        }
        UserCmd::Unlock { user_id } => {
            ops.unlock_user(who, &user_id)?;
            println!("unlocked user {user_id}");
        }
        UserCmd::ResetPin { user_id, pin_stdin } => {
            let pin = pin_stdin.then(|| read_secret_stdin("PIN")).transpose()?;
            match ops.reset_pin(who, &user_id, pin.as_deref())? {
                // Shown once, here; it is stored only as a hash.
                Some(generated) => {
                    println!("new PIN for {user_id}: {generated} (shown once; give it to the user)")
                }
                None => println!("PIN of {user_id} changed"),
            }
        }
    }
    Ok(())
}
