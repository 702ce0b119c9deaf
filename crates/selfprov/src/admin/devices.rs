//! `selfprov device …`.

use super::{page_footer, show, sorted_query, Admin};
use crate::cli::{DeviceArgs, DeviceCmd};
use crate::output::{json, opt, table};
use anyhow::{Context, Result};
use selfprov_operations::devices::DevicePatch;
use selfprov_operations::{AssignOutcome, ClaimContext};
use selfprov_provisioning::model::Device;
use selfprov_provisioning::store::UnixMillis;

/// The JSON shape of `device list --json` and `device show`.
#[derive(serde::Serialize)]
struct DeviceOut<'a> {
    name: &'a str,
    model: &'a str,
    class: &'a str,
    dn: Option<&'a str>,
    owner: Option<&'a str>,
    auto_registered: bool,
    secure: bool,
    udt: Option<&'a str>,
    ult: Option<&'a str>,
    description: &'a str,
}

fn device_out(d: &Device) -> DeviceOut<'_> {
    DeviceOut {
        name: d.name.as_str(),
        model: &d.model,
        class: d.class.as_str(),
        dn: d.dn.as_ref().map(|x| x.as_str()),
        owner: d.owner.as_ref().map(|x| x.as_str()),
        auto_registered: d.auto_registered,
        secure: d.secure,
        udt: d.udt.as_deref(),
        ult: d.ult.as_deref(),
        description: &d.description,
    }
}

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

pub fn device(a: &Admin, cmd: DeviceCmd) -> Result<()> {
    let (ops, who) = (&a.ops, &a.actor);
    match cmd {
        DeviceCmd::Create(args) => {
            let (name, p) = device_patch(args);
            println!("created device {}", ops.create_device(who, &name, &p)?.name);
        }
        DeviceCmd::Update(args) => {
            let (name, p) = device_patch(args);
            println!("updated device {}", ops.update_device(who, &name, &p)?.name);
        }
        DeviceCmd::List(l) => {
            let page = ops.devices(&sorted_query(&l)?)?;
            if l.list.json {
                return json(&page.items.iter().map(device_out).collect::<Vec<_>>());
            }
            let rows: Vec<Vec<String>> = page
                .items
                .iter()
                .map(|d| {
                    vec![
                        d.name.to_string(),
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
        DeviceCmd::Show { name, json: j } => show(&device_out(&ops.device(&name)?), j)?,
        DeviceCmd::Delete { name } => {
            ops.delete_device(who, &name)?;
            println!("deleted device {name}");
        }
        DeviceCmd::Autoregister { name, model } => {
            let name = name.parse().context("device name")?;
            let d = ops.claims().auto_register(
                &name,
                &model,
                &a.cfg.auto_registration,
                who,
                UnixMillis::now(),
            )?;
            println!("device {} auto-registered with DN {}", d.name, opt(&d.dn));
        }
        DeviceCmd::Assign { name, user_id } => assign(a, &name, &user_id, false)?,
        DeviceCmd::Move { name, user_id } => assign(a, &name, &user_id, true)?,
        DeviceCmd::Replace { old, new } => {
            let (old, new) = (device_name(&old)?, device_name(&new)?);
            let d = ops.claims().replace(
                &old,
                &new.parse().context("new device")?,
                who,
                UnixMillis::now(),
            )?;
            println!(
                "device {new} replaces {old}: owner {}, DN {}; {old}'s files are no longer served",
                opt(&d.owner),
                opt(&d.dn)
            );
        }
        DeviceCmd::Release { name } => {
            let d =
                ops.claims()
                    .release(&name, &a.cfg.auto_registration, who, UnixMillis::now())?;
            println!(
                "device {} released: auto-registered again with DN {}",
                d.name,
                opt(&d.dn)
            );
        }
    }
    Ok(())
}

/// A device name, or a MAC given for it (`00:11:22:aa:bb:cc` → `SEP001122AABBCC`).
fn device_name(v: &str) -> Result<String> {
    match v.parse::<selfprov_phoneconfig::Mac>() {
        Ok(m) => Ok(m.device_name()),
        Err(_) => Ok(v.to_owned()),
    }
}

/// `device assign` (a claim) and `device move`: the claim engine's rules and outcome codes.
fn assign(a: &Admin, name: &str, user_id: &str, moving: bool) -> Result<()> {
    let user = user_id.parse().context("user ID")?;
    let (claims, how) = (a.ops.claims(), ClaimContext::by(&a.actor));
    let r = if moving {
        claims.move_device(name, &user, &how, UnixMillis::now())
    } else {
        claims.claim(name, &user, &how, UnixMillis::now())
    };
    match r {
        Ok(AssignOutcome::Assigned(p)) => {
            let verb = if moving { "moved" } else { "assigned" };
            println!(
                "device {name} {verb} to {} with extension {}",
                p.user_id, p.extension
            )
        }
        Ok(AssignOutcome::AlreadyAssigned(p)) => {
            println!(
                "device {name} already belongs to {} (extension {}); nothing changed",
                p.user_id, p.extension
            )
        }
        Err(e) => return Err(selfprov_operations::OpError::Refused(e).into()),
    }
    Ok(())
}
