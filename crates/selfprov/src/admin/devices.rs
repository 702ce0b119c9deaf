//! `selfprov device …`: `/api/v1/devices`, and `device autoregister`, which only the database
//! file has (the registrar does it in a running service).

use super::{page_footer, show, sorted_query, Admin, Client};
use crate::cli::{DeviceArgs, DeviceCmd};
use crate::client::{path, Payload};
use crate::output::{json, opt, table};
use anyhow::{bail, Context, Result};
use axum::http::Method;
use selfprov_api::devices::{Assignment, DeviceOut, Replacement, ToUser};
use selfprov_api::list::ListPage;
use selfprov_operations::devices::DevicePatch;
use selfprov_provisioning::store::UnixMillis;

fn device_patch(a: DeviceArgs) -> (String, DevicePatch) {
    let p = DevicePatch {
        model: a.model,
        class: a.class,
        secure: a.secure,
        dn: a.dn,
        owner: a.owner,
        auto_registered: a.auto_registered,
        description: a.description,
    };
    (a.name, p)
}

/// What the command line says after a change to a phone's line made without a running service.
fn phone_not_told(c: &Client, names: &[&str]) {
    if !c.is_remote() {
        eprintln!(
            "note: {} not told of the change (no NOTIFY check-sync without a running service): a phone takes it at its next fetch of its file; --url reaches the service",
            names.join(" and ")
        );
    }
}

pub fn device(c: &Client, local: impl FnOnce() -> Result<Admin>, cmd: DeviceCmd) -> Result<()> {
    let item = |name: &str| path("/devices", name);
    match cmd {
        DeviceCmd::Create(args) => {
            let (name, p) = device_patch(args);
            let d: DeviceOut = c.create("/devices", "name", &name, &p)?;
            println!("created device {}", d.name);
        }
        DeviceCmd::Update(args) => {
            let (name, p) = device_patch(args);
            let d: DeviceOut = c.patch(&item(&name), &p)?;
            println!("updated device {}", d.name);
        }
        DeviceCmd::List(l) => {
            let page: ListPage<DeviceOut> =
                c.get_query(&path("/devices", ""), &sorted_query(&l))?;
            if l.list.json {
                return json(&page.items);
            }
            let rows: Vec<Vec<String>> = page
                .items
                .iter()
                .map(|d| {
                    vec![
                        d.name.clone(),
                        d.model.clone(),
                        opt(&d.dn),
                        opt(&d.owner),
                        d.auto_registered.to_string(),
                        opt(&d.udt),
                    ]
                })
                .collect();
            table(
                &["NAME", "MODEL", "DN", "OWNER", "AUTO-REGISTERED", "UDT"],
                &rows,
            );
            page_footer(&page);
        }
        DeviceCmd::Show { name, json: j } => show(&c.get::<DeviceOut>(&item(&name))?, j)?,
        DeviceCmd::Delete { name } => {
            c.no_content(Method::DELETE, &item(&name), Payload::Empty)?;
            println!("deleted device {name}");
        }
        DeviceCmd::Autoregister { name, model } => {
            if c.is_remote() {
                bail!("`device autoregister` works on the database file only (a running service's registrar auto-registers phones); run it without --url");
            }
            let a = local()?;
            let name = name.parse().context("device name")?;
            let d = a.ops.claims().auto_register(
                &name,
                &model,
                &a.cfg.auto_registration,
                &a.actor,
                UnixMillis::now(),
            )?;
            println!("device {} auto-registered with DN {}", d.name, opt(&d.dn));
        }
        DeviceCmd::Assign { name, user_id } => assign(c, &name, user_id, false)?,
        DeviceCmd::Move { name, user_id } => assign(c, &name, user_id, true)?,
        DeviceCmd::Replace { old, new } => {
            let old = device_name(&old);
            let d: DeviceOut = c.post(&format!("{}/replace", item(&old)), &Replacement { new })?;
            println!(
                "device {} replaces {old}: owner {}, DN {}; {old}'s files are no longer served",
                d.name,
                opt(&d.owner),
                opt(&d.dn)
            );
            phone_not_told(c, &[&old, &d.name]);
        }
        DeviceCmd::Release { name } => {
            let d: DeviceOut = c.action(&format!("{}/release", item(&name)))?;
            println!(
                "device {} released: auto-registered again with DN {}",
                d.name,
                opt(&d.dn)
            );
            phone_not_told(c, &[&d.name]);
        }
    }
    Ok(())
}

/// A device name, or a MAC given for it (`00:11:22:aa:bb:cc` → `SEP001122AABBCC`).
fn device_name(v: &str) -> String {
    match v.parse::<selfprov_phoneconfig::Mac>() {
        Ok(m) => m.device_name(),
        Err(_) => v.to_owned(),
    }
}

/// `device assign` (a claim) and `device move`: the claim engine's rules and outcome codes.
fn assign(c: &Client, name: &str, user_id: String, moving: bool) -> Result<()> {
    let action = if moving { "move" } else { "assign" };
    let a: Assignment = c.post(
        &format!("{}/{action}", path("/devices", name)),
        &ToUser { user_id },
    )?;
    if a.outcome == "already_assigned" {
        println!(
            "device {name} already belongs to {} (extension {}); nothing changed",
            a.user_id, a.extension
        );
        return Ok(());
    }
    let verb = if moving { "moved" } else { "assigned" };
    println!(
        "device {name} {verb} to {} with extension {}",
        a.user_id, a.extension
    );
    phone_not_told(c, &[name]);
    Ok(())
}
