//! `selfprov settings show|set|reset`.

use super::{read_secret_stdin, show, Admin};
use crate::cli::{SettingsArgs, SettingsCmd};
use crate::output::{json, table};
use anyhow::Result;
use selfprov_operations::settings::{SettingsPatch, SettingsView};
use selfprov_provisioning::settings::Status;

fn print_view(v: &SettingsView) {
    match &v.status {
        Status::Ready => println!("Status: Ready"),
        Status::NotReady(r) => println!("Status: {}", r.join("; ")),
    }
    let rows: Vec<Vec<String>> = v
        .settings
        .iter()
        .map(|s| {
            let value = match &s.value {
                serde_json::Value::String(x) => x.clone(),
                serde_json::Value::Null => "-".into(),
                other => other.to_string(),
            };
            vec![s.name.to_owned(), value, s.source.to_owned()]
        })
        .collect();
    table(&["SETTING", "VALUE", "FROM"], &rows);
}

pub fn settings(a: &Admin, cmd: SettingsCmd) -> Result<()> {
    let (ops, who) = (&a.ops, &a.actor);
    match cmd {
        SettingsCmd::Show { json: true } => show(&ops.settings(&a.base)?, true)?,
        SettingsCmd::Show { json: false } => print_view(&ops.settings(&a.base)?),
        SettingsCmd::Set(s) => {
            let as_json = s.json;
            let saved = ops.update_settings(who, &a.base, &patch(s)?)?;
            if as_json {
                return json(&saved);
            }
            println!("{}", saved.message);
            print_view(&saved.view);
        }
        SettingsCmd::Reset { names } => {
            let saved = ops.reset_settings(who, &a.base, &names)?;
            println!("{}", saved.message);
            print_view(&saved.view);
        }
    }
    Ok(())
}

fn patch(s: SettingsArgs) -> Result<SettingsPatch> {
    let code = s
        .authentication_code_stdin
        .then(|| read_secret_stdin("authentication code"))
        .transpose()?;
    Ok(SettingsPatch {
        ivr_enabled: s.ivr_enabled,
        authentication_mode: s.authentication_mode,
        authentication_code: code,
        languages: s.languages,
        auto_registration_enabled: s.auto_registration_enabled,
        auto_registration_udt: s.auto_registration_udt,
        auto_registration_ult: s.auto_registration_ult,
        dn_range_start: s.dn_range_start,
        dn_range_end: s.dn_range_end,
    })
}
