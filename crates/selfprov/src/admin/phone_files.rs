//! `selfprov config render|check`: what a device receives, and checking the templates.

use super::Admin;
use anyhow::{anyhow, bail, Result};
use selfprov_config::Config;
use selfprov_operations::DeviceSecrets;
use selfprov_phoneconfig::context::{samples, RoutePointInfo};
use selfprov_phoneconfig::{Family, Mac, Templates};
use std::process::ExitCode;

fn templates(cfg: &Config) -> Result<Templates> {
    Templates::load(&cfg.templates_dir).map_err(|problems| {
        let lines: Vec<String> = problems
            .iter()
            .map(|p| format!("  {}/{p}", cfg.templates_dir.display()))
            .collect();
        anyhow!("the template overrides have errors:\n{}", lines.join("\n"))
    })
}

/// `config check`: every template rendered for sample phones.
pub fn check(cfg: &Config) -> Result<ExitCode> {
    let t = match Templates::load(&cfg.templates_dir) {
        Ok(t) => t,
        Err(problems) => {
            for p in &problems {
                println!("{}/{p}", cfg.templates_dir.display());
            }
            println!("{} problem(s)", problems.len());
            return Ok(ExitCode::from(1));
        }
    };
    let problems = t.check();
    for p in &problems {
        println!("{}/{p}", cfg.templates_dir.display());
    }
    println!(
        "templates: {} shipped, {} override(s) in {}; {} problem(s)",
        Family::ALL
            .iter()
            .map(|f| f.templates().len())
            .sum::<usize>(),
        t.overrides().len(),
        cfg.templates_dir.display(),
        problems.len()
    );
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `config render DEVICE [--model M] [--file F] [--show-secrets]`.
pub fn render(
    a: &Admin,
    device: &str,
    model: Option<String>,
    file: Option<String>,
    show_secrets: bool,
) -> Result<()> {
    let t = templates(&a.cfg)?;
    let view = selfprov_service::phone_config::view(
        &a.cfg,
        Templates::shipped(),
        &selfprov_service::phone_config::config_url(&a.cfg),
    );
    let Some(mac) = Mac::of_device_name(device) else {
        bail!("`{device}` is not a device name with a MAC (SEP followed by 12 hex digits)");
    };
    let (ctx, model) = match a.ops.device(device) {
        Ok(d) => {
            let secrets =
                DeviceSecrets::load_or_create(&a.cfg.secret_key_file).map_err(|e| anyhow!(e))?;
            let (ctx, _) = a.ops.phone_context(device, &secrets, &view.server)?;
            (ctx, model.unwrap_or(d.model))
        }
        Err(e) => {
            let Some(m) = model else {
                bail!("{e}; give --model to see what a new phone of a model would receive");
            };
            // A new phone of that model, as it would be right after auto-registration.
            let [mut ctx, _] = samples();
            if let Some(d) = ctx.device.as_mut() {
                (d.name, d.mac, d.mac_lower, d.model) =
                    (device.to_owned(), mac.upper(), mac.lower(), m.clone());
            }
            if let Some(l) = ctx.line.as_mut() {
                // The first DN of the range stands for the one it would get.
                let dn = a.cfg.auto_registration.dn_range.start().to_string();
                (l.auth_user, l.number, l.display_name, l.label) =
                    (device.to_owned(), dn.clone(), dn.clone(), dn);
                l.password = "(issued at auto-registration)".into();
            }
            let s = &view.server;
            ctx.sip = s.sip.clone();
            ctx.config_url = s.config_url.clone();
            ctx.language = s.language.clone();
            ctx.idle_url = None;
            ctx.route_point = RoutePointInfo {
                label: format!("Dial {} to assign an extension", s.route_point_dn),
                dn: s.route_point_dn.clone(),
            };
            (ctx, m)
        }
    };
    let family = Family::of_model(&model).ok_or_else(|| anyhow!("no configuration files for model `{model}`: its family is not one of cisco, yealink, polycom, snom, grandstream, baresip, linphone"))?;
    let secret = ctx
        .line
        .as_ref()
        .map(|l| l.password.clone())
        .unwrap_or_default();
    let mut shown = 0;
    for (template, _) in family.templates() {
        if file.as_deref().is_some_and(|f| f != *template) {
            continue;
        }
        let r = t.render(family, template, &model, Some(device), &ctx)?;
        let text = if show_secrets || secret.is_empty() {
            r.text
        } else {
            r.text.replace(&secret, "********")
        };
        println!(
            "==> {} (template {}) <==",
            family.file_name(template, &mac),
            r.source
        );
        print!("{text}");
        shown += 1;
    }
    if shown == 0 {
        let names: Vec<&str> = family.templates().iter().map(|(t, _)| *t).collect();
        bail!("--file: the {family} templates are {}", names.join(", "));
    }
    Ok(())
}
