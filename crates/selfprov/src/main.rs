//! The `selfprov` binary: `serve` runs the service (crate `selfprov-service`); every other
//! command is a front end over the operations layer (`selfprov-operations`), or a tool (the test
//! phone, prompt and configuration checks).

mod admin;
mod cli;
mod log_format;
mod logging;
mod output;
mod phone;

use admin::Admin;
use anyhow::{Context, Result};
use clap::Parser;
use cli::{Cli, Command, DemoCmd, ExportCmd, ImportCmd, PromptsCmd};
use selfprov_config::Config;
use selfprov_provisioning::import::Existing;
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
            // Provisioning work (Argon2 checks, SQLite commits) runs on the blocking pool. Bounded,
            // a burst of calls queues there instead of starting hundreds of threads with 4 MiB of
            // Argon2 memory each (measured: 550 threads, 3.6 GiB resident at 150 flows/s).
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .max_blocking_threads((4 * cores).clamp(8, 64))
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
                cfg.database.describe()
            );
        }
        Command::Status { json } => {
            // A running service answers for itself (registrations, active calls); otherwise the
            // status is computed from the configuration.
            if let Some(live) = admin_get(cfg.raw.admin.listen, "/status") {
                if json {
                    println!("{live}");
                } else {
                    print_live_status(&live);
                }
                let ready = live.get("ready").and_then(|v| v.as_bool()).unwrap_or(false);
                let draining = live
                    .get("draining")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false);
                return Ok(if ready && !draining {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                });
            }
            // Settings changed at run time live in the database, when there is one.
            let st = if !matches!(cfg.database, selfprov_config::DatabaseTarget::Sqlite(_))
                || cfg.database_path.exists()
            {
                let a = Admin::open(cfg)?;
                status(&a.cfg.self_provisioning, &a.cfg.auto_registration)
            } else {
                status(&cfg.self_provisioning, &cfg.auto_registration)
            };
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
                println!(
                    "(service not running at {}; status from the configuration)",
                    cfg.raw.admin.listen
                );
            }
            if st != Status::Ready {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Registrations { json } => {
            let Some(regs) = admin_get(cfg.raw.admin.listen, "/registrations") else {
                eprintln!(
                    "error: no selfprov service answers at {} (the registrations live in the running service)",
                    cfg.raw.admin.listen
                );
                return Ok(ExitCode::from(1));
            };
            if json {
                println!("{regs}");
            } else {
                print_registrations(&regs);
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
            let a = Admin::open(cfg)?;
            let n = selfprov_operations::demo::load_demo_data(&a.ops, &a.actor)?;
            println!("demo data loaded ({n} object(s) created)");
        }
        Command::Template(c) => admin::template(&Admin::open(cfg)?, c)?,
        Command::Profile(c) => admin::profile(&Admin::open(cfg)?, c)?,
        Command::User(c) => admin::user(&Admin::open(cfg)?, c)?,
        Command::Device(c) => admin::device(&Admin::open(cfg)?, c)?,
        Command::Settings(c) => admin::settings(&Admin::open(cfg)?, c)?,
        Command::Config(cli::ConfigCmd::Check) => return admin::phone_files::check(cfg),
        Command::Config(cli::ConfigCmd::Render {
            device,
            model,
            file,
            show_secrets,
        }) => admin::phone_files::render(&Admin::open(cfg)?, &device, model, file, show_secrets)?,
        Command::Import(ImportCmd::Users {
            file,
            dry_run,
            update_existing,
        }) => {
            let mode = if update_existing {
                Existing::Update
            } else {
                Existing::Refuse
            };
            if !admin::import_users(&Admin::open(cfg)?, &file, dry_run, mode)? {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Export(ExportCmd::Users { file }) => {
            admin::export_users(&Admin::open(cfg)?, file.as_deref())?
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
        Command::Phone(args) => return phone::run(cfg, args),
        Command::Audit(args) => admin::audit(&Admin::open(cfg)?, args)?,
        Command::Admin(c) => admin::accounts::account(&Admin::open(cfg)?, c)?,
        Command::Token(c) => admin::accounts::token(&Admin::open(cfg)?, c)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// GET `path` (JSON) from a running service's admin listener, if one answers.
fn admin_get(addr: std::net::SocketAddr, path: &str) -> Option<serde_json::Value> {
    use std::io::{Read, Write};
    let timeout = std::time::Duration::from_millis(500);
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(6)))
        .ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: selfprov\r\n\r\n").as_bytes())
        .ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let body = resp.split_once("\r\n\r\n")?.1;
    serde_json::from_str(body).ok()
}

fn print_live_status(v: &serde_json::Value) {
    let ready = v["ready"].as_bool().unwrap_or(false);
    if v["draining"].as_bool().unwrap_or(false) {
        println!("Draining (refusing new calls)");
    } else if ready {
        println!("Ready");
    } else {
        println!("Not ready:");
        for r in v["reasons"].as_array().into_iter().flatten() {
            println!("  {}", r.as_str().unwrap_or_default());
        }
    }
    for w in v["warnings"].as_array().into_iter().flatten() {
        println!("warning: {}", w.as_str().unwrap_or_default());
    }
    println!("active calls: {} of {}", v["active_calls"], v["max_calls"]);
    match v["phone_auth"].as_str() {
        Some("external") | None => {}
        Some(auth) => println!(
            "phones registered here: {} (authentication: {auth})",
            v["phones_registered"]
        ),
    }
    for r in v["registrations"].as_array().into_iter().flatten() {
        println!(
            "route point {}: {}",
            r["dn"].as_str().unwrap_or_default(),
            r["state"].as_str().unwrap_or_default()
        );
    }
    println!("SIP: {}", v["sip_listen"].as_str().unwrap_or_default());
}

fn print_registrations(v: &serde_json::Value) {
    let regs = v["registrations"].as_array().cloned().unwrap_or_default();
    println!(
        "{} phone(s) registered (authentication: {})",
        regs.len(),
        v["phone_auth"].as_str().unwrap_or_default()
    );
    if regs.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = regs
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            vec![
                s("device"),
                s("dn"),
                s("auth"),
                format!("{}/{}", s("source"), s("transport")),
                format!("{}s", r["expires_in"]),
                s("contact"),
            ]
        })
        .collect();
    output::table(
        &["DEVICE", "DN", "AUTH", "SOURCE", "EXPIRES", "CONTACT"],
        &rows,
    );
}
