//! `selfprov settings show|set|reset`: `/api/v1/settings`.

use super::{read_secret_stdin, show, Client};
use crate::cli::{SettingsArgs, SettingsCmd};
use crate::client::path;
use crate::output::{json, table};
use anyhow::Result;
use selfprov_api::settings::{Reset, Saved, Settings};
use selfprov_operations::settings::SettingsPatch;

fn print_view(v: &Settings) {
    if v.ready {
        println!("Status: Ready");
    } else {
        println!("Status: {}", v.reasons.join("; "));
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
            vec![s.name.clone(), value, s.source.clone()]
        })
        .collect();
    table(&["SETTING", "VALUE", "FROM"], &rows);
}

pub fn settings(c: &Client, cmd: SettingsCmd) -> Result<()> {
    let at = path("/settings", "");
    match cmd {
        SettingsCmd::Show { json: true } => show(&c.get::<Settings>(&at)?, true)?,
        SettingsCmd::Show { json: false } => print_view(&c.get(&at)?),
        SettingsCmd::Set(s) => {
            let as_json = s.json;
            let saved: Saved = c.patch(&at, &patch(s)?)?;
            if as_json {
                return json(&saved);
            }
            println!("{}", saved.message);
            print_view(&saved.settings);
        }
        SettingsCmd::Reset { names } => {
            let saved: Saved = c.post(&format!("{at}/reset"), &Reset { names })?;
            println!("{}", saved.message);
            print_view(&saved.settings);
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
