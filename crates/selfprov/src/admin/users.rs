//! `selfprov user …`: `/api/v1/users`.

use super::{page_footer, read_secret_stdin, show, sorted_query, Client};
use crate::cli::{UserArgs, UserCmd};
use crate::client::{path, Payload};
use crate::output::{json, opt, table};
use anyhow::Result;
use axum::http::Method;
use selfprov_api::list::ListPage;
use selfprov_api::users::{Lock, PinReset, ResetPin, User, UserDetail};
use selfprov_operations::users::UserPatch;

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

pub fn user(c: &Client, cmd: UserCmd) -> Result<()> {
    let item = |id: &str| path("/users", id);
    match cmd {
        UserCmd::Create(args) => {
            let (id, p) = user_patch(args)?;
            let u: UserDetail = c.create("/users", "user_id", &id, &p)?;
            println!("created user {}", u.user.user_id);
        }
        UserCmd::Update(args) => {
            let (id, p) = user_patch(args)?;
            let u: UserDetail = c.patch(&item(&id), &p)?;
            println!("updated user {}", u.user.user_id);
        }
        UserCmd::List(l) => {
            let page: ListPage<User> = c.get_query(&path("/users", ""), &sorted_query(&l))?;
            if l.list.json {
                return json(&page.items);
            }
            let rows: Vec<Vec<String>> = page
                .items
                .iter()
                .map(|u| {
                    vec![
                        u.user_id.clone(),
                        format!("{} {}", u.first_name, u.last_name),
                        opt(&u.self_service_id),
                        opt(&u.primary_extension),
                        u.user_profile
                            .clone()
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
        // The PIN only as whether one is set, and the lockout state.
        UserCmd::Show { user_id, json: j } => show(&c.get::<UserDetail>(&item(&user_id))?, j)?,
        UserCmd::Delete { user_id } => {
            c.no_content(Method::DELETE, &item(&user_id), Payload::Empty)?;
            println!("deleted user {user_id}");
        }
        UserCmd::Unlock { user_id } => {
            let _: Lock = c.action(&format!("{}/unlock", item(&user_id)))?;
            println!("unlocked user {user_id}");
        }
        UserCmd::ResetPin { user_id, pin_stdin } => {
            let pin = pin_stdin.then(|| read_secret_stdin("PIN")).transpose()?;
            let r: PinReset =
                c.post(&format!("{}/reset-pin", item(&user_id)), &ResetPin { pin })?;
            match r.pin {
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
