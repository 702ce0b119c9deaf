//! The `selfprov` binary: `serve` runs the service (crate `selfprov-service`); the administrative
//! commands are a client of the HTTP API (`selfprov-api`), of a running service (`--url`) or of
//! the API in this process on the database file ([`client`]); the rest are tools (the test phone,
//! prompt and configuration checks).

mod admin;
mod cli;
mod client;
mod client_tls;
mod live;
mod log_format;
mod logging;
mod output;
mod phone;

use admin::Admin;
use anyhow::{Context, Result};
use clap::Parser;
use cli::{Cli, Command, DemoCmd, ExportCmd, ImportCmd, PromptsCmd, RemoteArgs};
use client::{Client, Remote};
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
    if let (Some(url), true) = (&cli.remote.url, uses_api(&cli.command)) {
        // A running service elsewhere: the configuration file is not needed.
        let log = selfprov_config::Log::default();
        logging::init(&log.format, &log.level);
        return finish(
            remote_client(url, &cli.remote).and_then(|c| run_api(cli.command, &c, None)),
        );
    }
    if let (Some(url), Command::Status { json } | Command::Registrations { json }) =
        (&cli.remote.url, &cli.command)
    {
        let log = selfprov_config::Log::default();
        logging::init(&log.format, &log.level);
        let status = matches!(cli.command, Command::Status { .. });
        let json = *json;
        return finish(remote_client(url, &cli.remote).and_then(|c| {
            if status {
                Ok(show_status(&live::remote_status(&c)?, json))
            } else {
                show_registrations(&live::remote_registrations(&c)?, json);
                Ok(ExitCode::SUCCESS)
            }
        }));
    }
    let cfg = match load_config(&cli) {
        Ok(c) => c,
        Err(code) => return code,
    };
    logging::init(&cfg.raw.log.format, &cfg.raw.log.level);
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    finish(run(cli.command, &cfg))
}

fn finish(r: Result<ExitCode>) -> ExitCode {
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether a command is a request of the API (the rest work on this machine only).
fn uses_api(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::Template(_)
            | Command::Profile(_)
            | Command::User(_)
            | Command::Device(_)
            | Command::Settings(_)
            | Command::Import(_)
            | Command::Export(_)
            | Command::Audit(_)
            | Command::Admin(_)
            | Command::Token(_)
            | Command::Activation(_)
    )
}

fn remote_client(url: &str, r: &RemoteArgs) -> Result<Client> {
    Client::http(
        Remote::from_options(url, r.token.as_deref(), r.token_file.as_ref())?,
        &client_tls::Trust::Authorities(r.ca_file.clone()),
    )
}

/// An administrative command, through `c`. `cfg` is the configuration when working on the local
/// database (for the commands the API has no equivalent of).
fn run_api(cmd: Command, c: &Client, cfg: Option<&Config>) -> Result<ExitCode> {
    let local = || match cfg {
        Some(cfg) => Admin::open(cfg),
        None => anyhow::bail!("this command works on the database file only; run it without --url"),
    };
    match cmd {
        Command::Template(x) => admin::template(c, x)?,
        Command::Profile(x) => admin::profile(c, x)?,
        Command::User(x) => admin::user(c, x)?,
        Command::Device(x) => admin::device(c, local, x)?,
        Command::Settings(x) => admin::settings(c, x)?,
        Command::Import(ImportCmd::Users {
            file,
            dry_run,
            update_existing,
        }) => {
            if !admin::import_users(c, &file, dry_run, update_existing)? {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Export(ExportCmd::Users { file }) => admin::export_users(c, file.as_deref())?,
        Command::Audit(args) => admin::audit(c, args)?,
        Command::Admin(x) => admin::accounts::account(c, x)?,
        Command::Token(x) => admin::accounts::token(c, x)?,
        Command::Activation(x) => admin::activation(c, x)?,
        other => anyhow::bail!("{other:?} is not a request of the API"),
    }
    Ok(ExitCode::SUCCESS)
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
            if let Some(live) = live::local(cfg, "/status") {
                return Ok(show_status(&live, json));
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
            let Some(regs) = live::local(cfg, "/registrations") else {
                eprintln!(
                    "error: no selfprov service answers at {} (the registrations live in the running service)",
                    cfg.raw.admin.listen
                );
                return Ok(ExitCode::from(1));
            };
            show_registrations(&regs, json);
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
        Command::Config(cli::ConfigCmd::Check) => return admin::phone_files::check(cfg),
        Command::Config(cli::ConfigCmd::Render {
            device,
            model,
            file,
            show_secrets,
        }) => admin::phone_files::render(&Admin::open(cfg)?, &device, model, file, show_secrets)?,
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
        // The administrative commands: requests of the API in this process.
        api => {
            let (ops, base) = admin::open_database(cfg)?;
            return run_api(api, &Client::in_process(ops, base)?, Some(cfg));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// GET `path` (JSON) from a running service's admin listener, if one answers.
/// Print a running service's status; exit 0 when it is ready and not draining.
fn show_status(live: &serde_json::Value, json: bool) -> ExitCode {
    if json {
        println!("{live}");
    } else {
        print_live_status(live);
    }
    let ready = live["ready"].as_bool().unwrap_or(false);
    let draining = live["draining"].as_bool().unwrap_or(false);
    if ready && !draining {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn show_registrations(regs: &serde_json::Value, json: bool) {
    if json {
        println!("{regs}");
    } else {
        print_registrations(regs);
    }
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
