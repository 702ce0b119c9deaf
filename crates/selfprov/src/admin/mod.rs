//! The admin commands: a thin front end over the operations layer (`selfprov-operations`). Each
//! command turns its arguments into one operation, acting as the operating-system user
//! (`cli:<user>`), and prints the result as a table, `key: value` lines or JSON. Validation,
//! rules and the audit are the operations layer's, the same for every front end.

pub mod accounts;
mod audit;
mod devices;
mod import;
pub mod phone_files;
mod settings;
mod templates;
mod users;

pub use audit::audit;
pub use devices::device;
pub use import::{export_users, import_users};
pub use settings::settings;
pub use templates::{profile, template};
pub use users::user;

use crate::cli::{ListArgs, SortedListArgs};
use crate::output::{fields, json};
use anyhow::{Context, Result};
use selfprov_config::Config;
use selfprov_operations::settings::SettingsBase;
use selfprov_operations::{Actor, Operations};
use selfprov_provisioning::store::{ListQuery, Page, Pattern};
use std::io::Read;
use std::str::FromStr;

/// What every admin command works with.
pub struct Admin {
    pub ops: Operations,
    pub actor: Actor,
    /// The configuration file's settings (the database may override them).
    pub base: SettingsBase,
    /// The configuration with the settings in force.
    pub cfg: Config,
}

impl Admin {
    /// Open the configured database (creating it on first use).
    pub fn open(cfg: &Config) -> Result<Admin> {
        let store = selfprov_service::open_store(cfg)
            .with_context(|| format!("opening database {}", cfg.database.describe()))?;
        let ops = Operations::new(store);
        let base = SettingsBase {
            self_provisioning: cfg.self_provisioning.clone(),
            auto_registration: cfg.auto_registration.clone(),
        };
        let eff = ops.effective_settings(&base)?;
        let mut effective = cfg.clone();
        effective.self_provisioning = eff.self_provisioning;
        effective.auto_registration = eff.auto_registration;
        Ok(Admin {
            ops,
            actor: Actor::cli_from_env(),
            base,
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

/// A list query from the command line's search and paging options.
pub fn query<S: Default>(a: &ListArgs) -> Result<ListQuery<S>> {
    Ok(ListQuery {
        search: a
            .search
            .as_deref()
            .map(Pattern::new)
            .transpose()
            .context("--search")?,
        offset: a.offset,
        limit: a.limit,
        ..ListQuery::default()
    })
}

/// The same with a sort key.
pub fn sorted_query<S: Default + FromStr<Err = selfprov_provisioning::model::FieldError>>(
    a: &SortedListArgs,
) -> Result<ListQuery<S>> {
    let mut q = query(&a.list)?;
    if let Some(s) = &a.sort {
        q.sort = s.parse().context("--sort")?;
    }
    q.descending = a.desc;
    Ok(q)
}

/// Below a table: how many of how many, when the page is not everything.
pub fn page_footer<T>(p: &Page<T>) {
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
