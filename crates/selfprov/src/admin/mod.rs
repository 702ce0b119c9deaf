//! The admin commands: each turns its arguments into a request of the HTTP API, sent by the
//! [`Client`] to a running service (`--url`) or to the API in this process on the database file,
//! and prints the answer as a table, `key: value` lines or JSON. Validation, rules and the audit
//! are the operations layer's behind the API, the same for every front end.
//!
//! [`Admin`] is the database opened directly, for the few commands the API has no equivalent of
//! (`demo load`, `device autoregister`, `config render`, the offline `status`).

pub mod accounts;
mod activation;
mod audit;
mod devices;
mod import;
pub mod phone_files;
mod settings;
mod templates;
mod users;

pub use activation::activation;
pub use audit::audit;
pub use devices::device;
pub use import::{export_users, import_users};
pub use settings::settings;
pub use templates::{profile, template};
pub use users::user;

use crate::cli::{ListArgs, SortedListArgs};
pub use crate::client::Client;
use crate::output::{fields, json};
use anyhow::{Context, Result};
use selfprov_api::list::{ListPage, ListParams};
use selfprov_config::Config;
use selfprov_operations::settings::SettingsBase;
use selfprov_operations::{Actor, Operations};
use std::io::Read;

/// The database opened directly, for the commands the API has no equivalent of.
pub struct Admin {
    pub ops: Operations,
    pub actor: Actor,
    /// The configuration with the settings in force.
    pub cfg: Config,
}

/// The configured database (created on first use) and the configuration file's settings (the
/// database may override them).
pub fn open_database(cfg: &Config) -> Result<(Operations, SettingsBase)> {
    let ops = selfprov_service::open_operations(cfg)
        .with_context(|| format!("opening database {}", cfg.database.describe()))?;
    let base = SettingsBase {
        self_provisioning: cfg.self_provisioning.clone(),
        auto_registration: cfg.auto_registration.clone(),
    };
    Ok((ops, base))
}

impl Admin {
    pub fn open(cfg: &Config) -> Result<Admin> {
        let (ops, base) = open_database(cfg)?;
        let eff = ops.effective_settings(&base)?;
        let mut effective = cfg.clone();
        effective.self_provisioning = eff.self_provisioning;
        effective.auto_registration = eff.auto_registration;
        Ok(Admin {
            ops,
            actor: Actor::cli_from_env(),
            cfg: effective,
        })
    }
}

/// `key: value` lines, or JSON.
pub fn show<T: serde::Serialize>(v: &T, as_json: bool) -> Result<()> {
    if as_json {
        json(v)
    } else {
        fields(v)
    }
}

/// A list request from the command line's search and paging options.
pub fn query(a: &ListArgs) -> ListParams {
    ListParams {
        search: a.search.clone(),
        offset: Some(a.offset),
        limit: a.limit,
        ..ListParams::default()
    }
}

/// The same with a sort key.
pub fn sorted_query(a: &SortedListArgs) -> ListParams {
    ListParams {
        sort: a.sort.clone(),
        desc: Some(a.desc),
        ..query(&a.list)
    }
}

/// Below a table: how many of how many, when the page is not everything.
pub fn page_footer<T>(p: &ListPage<T>) {
    if p.items.len() as u64 != p.total {
        eprintln!(
            "({} of {} shown; use --offset and --limit to page)",
            p.items.len(),
            p.total
        );
    }
}

/// A secret from standard input (trimmed).
pub fn read_secret_stdin(what: &str) -> Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .with_context(|| format!("reading the {what} from stdin"))?;
    Ok(s.trim().to_owned())
}
