//! The `selfprov` binary: the admin command line over the provisioning core (and, in later
//! work, the service itself).

mod admin;
mod cli;
mod logging;
mod output;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{Cli, Command, DemoCmd, ImportCmd, PromptsCmd};
use selfprov_config::Config;
use selfprov_provisioning::settings::{status, Status};
use std::process::ExitCode;

fn load_config(cli: &Cli) -> Result<Config, ExitCode> {
    Config::load(&cli.config).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = match load_config(&cli) {
        Ok(c) => c,
        Err(code) => return code,
    };
    logging::init(&cfg.raw.log.format, &cfg.raw.log.level);
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    match run(cli.command, &cfg) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: Command, cfg: &Config) -> Result<ExitCode> {
    match cmd {
        Command::Serve => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the runtime")?;
            rt.block_on(selfprov_service::serve(cfg.clone()))?;
        }
        Command::CheckConfig => {
            println!(
                "{}: OK (route point {}, auth mode {:?}, DN range {}, database {})",
                cfg.file.display(),
                cfg.self_provisioning
                    .route_point
                    .dns
                    .iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                cfg.self_provisioning.auth_mode,
                cfg.auto_registration.dn_range,
                cfg.database_path.display()
            );
        }
        Command::Status { json } => {
            let st = status(&cfg.self_provisioning, &cfg.auto_registration);
            if json {
                output::json(&st)?;
            } else {
                match &st {
                    Status::Ready => println!("Ready"),
                    Status::NotReady(reasons) => {
                        println!("Not ready:");
                        for r in reasons {
                            println!("  {r}");
                        }
                    }
                }
            }
            if st != Status::Ready {
                return Ok(ExitCode::from(1));
            }
        }
        Command::HashSecret => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .context("reading the secret from stdin")?;
            let code = s.trim();
            let h =
                selfprov_provisioning::settings::SelfProvisioningSettings::hash_auth_code(code)?;
            println!("{}", h.as_phc());
        }
        Command::Demo(DemoCmd::Load) => {
            let store = admin::open_store(cfg)?;
            let n = selfprov_provisioning::demo::load_demo_data(&store)?;
            println!("demo data loaded ({n} object(s) created)");
        }
        Command::Template(c) => admin::template(&admin::open_store(cfg)?, c)?,
        Command::Profile(c) => admin::profile(&admin::open_store(cfg)?, c)?,
        Command::User(c) => admin::user(&admin::open_store(cfg)?, c)?,
        Command::Device(c) => admin::device(&admin::open_store(cfg)?, cfg, c)?,
        Command::Import(ImportCmd::Users { file, dry_run }) => {
            if !admin::import_users(&admin::open_store(cfg)?, &file, dry_run)? {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Prompts(PromptsCmd::Check { languages }) => {
            let mut langs: Vec<String> = if languages.is_empty() {
                cfg.self_provisioning
                    .languages
                    .as_slice()
                    .iter()
                    .map(|l| l.to_string())
                    .collect()
            } else {
                languages
            };
            if !langs
                .iter()
                .any(|l| l == selfprov_prompts::FALLBACK_LANGUAGE)
            {
                langs.push(selfprov_prompts::FALLBACK_LANGUAGE.to_owned());
            }
            let refs: Vec<&str> = langs.iter().map(String::as_str).collect();
            let report = selfprov_prompts::check(&cfg.prompts_dir, &refs);
            println!("prompts in {}:", cfg.prompts_dir.display());
            println!("{report}");
            if !report.is_clean() {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Audit {
            json,
            limit,
            device,
            user,
        } => admin::audit(&admin::open_store(cfg)?, json, limit, device, user)?,
    }
    Ok(ExitCode::SUCCESS)
}
