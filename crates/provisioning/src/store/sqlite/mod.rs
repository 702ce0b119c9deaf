//! The embedded SQLite backend: WAL journal, a small connection pool, `BEGIN IMMEDIATE` for every
//! write so that concurrent assignments serialise on the database's write lock. The row
//! operations of each object kind live in their own file; this one opens, migrates and pools.

mod accounts;
mod activation;
mod audit;
mod devices;
mod rows;
mod templates;
mod users;

use super::pool::{Pool, Pooled};
use super::schema::MIGRATIONS;
use super::{Store, StoreError, Tx};
use rusqlite::{Connection, Row, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Durability of commits (`PRAGMA synchronous`). `Normal` in WAL mode never corrupts the database
/// and survives a process crash; `Full` also survives power loss at a cost per commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Normal,
    Full,
}

enum Location {
    File(PathBuf),
    Memory,
}

/// SQLite-backed [`Store`].
pub struct SqliteStore {
    location: Location,
    durability: Durability,
    pool: Pool<Connection>,
    /// Writers of this process queue here, not in SQLite's busy handler: that handler sleeps in
    /// steps of up to 100 ms, which under load pushed REGISTER answers past SIP retransmission.
    writer: Mutex<()>,
}

impl SqliteStore {
    /// Open (creating if needed) the database file and apply pending migrations. Commits are
    /// fully durable (`synchronous=FULL`): an assignment reported done survives a power cut.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, Durability::Full)
    }

    pub fn open_with(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Database(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let s = SqliteStore {
            location: Location::File(path.to_owned()),
            durability,
            pool: Pool::new(8),
            writer: Mutex::new(()),
        };
        s.migrate()?;
        Ok(s)
    }

    /// A private in-memory database (one connection), for tests and dry runs.
    pub fn in_memory() -> Result<Self, StoreError> {
        let s = SqliteStore {
            location: Location::Memory,
            durability: Durability::Normal,
            pool: Pool::new(1),
            writer: Mutex::new(()),
        };
        s.migrate()?;
        Ok(s)
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        let c = match &self.location {
            Location::File(p) => Connection::open(p).map_err(|e| {
                StoreError::Database(format!("cannot open database {}: {e}", p.display()))
            })?,
            Location::Memory => Connection::open_in_memory()?,
        };
        c.busy_timeout(Duration::from_secs(10))?;
        if matches!(self.location, Location::File(_)) {
            let mode: String = c.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Database(format!(
                    "could not enable WAL (journal_mode is {mode})"
                )));
            }
        }
        let sync = match self.durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        c.execute_batch(&format!(
            "PRAGMA synchronous={sync}; PRAGMA foreign_keys=ON;"
        ))?;
        Ok(c)
    }

    fn conn(&self) -> Result<Pooled<'_, Connection>, StoreError> {
        self.pool.get(|| self.connect())
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        let (_w, tx) = self.begin(&mut c)?;
        tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
        let current: i64 = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_version",
            [],
            |r| r.get(0),
        )?;
        if current as usize > MIGRATIONS.len() {
            return Err(StoreError::Database(format!(
                "database schema version {current} is newer than this selfprov ({}); upgrade selfprov",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [i as i64 + 1],
            )?;
            tracing::info!(version = i + 1, "applied database migration");
        }
        for table in ["end_user", "device"] {
            repair_search_index(&tx, table)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self.conn()?.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_version",
            [],
            |r| r.get(0),
        )?)
    }

    /// `PRAGMA integrity_check` result (`ok` when healthy).
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        Ok(self
            .conn()?
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    /// Begin a write transaction on `c` (already taken from the pool, so the lock holder never
    /// waits for a connection). The guard queues this process's writers; bind it before the
    /// transaction so it is released after the commit or rollback.
    fn begin<'c>(
        &self,
        c: &'c mut Connection,
    ) -> rusqlite::Result<(std::sync::MutexGuard<'_, ()>, Transaction<'c>)> {
        let guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        Ok((
            guard,
            c.transaction_with_behavior(TransactionBehavior::Immediate)?,
        ))
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn read(&self, f: &mut dyn FnMut(&dyn Tx) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let c = self.conn()?;
        f(&SqliteTx { c: &c })
    }

    fn write(
        &self,
        f: &mut dyn FnMut(&dyn Tx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        let (_w, tx) = self.begin(&mut c)?;
        f(&SqliteTx { c: &tx })?;
        tx.commit()?;
        Ok(())
    }
}

impl SqliteStore {
    /// Test hook for the crash test: run `change` in a write transaction, then call `pause`
    /// (holding the transaction, the rows already changed) before committing.
    #[doc(hidden)]
    pub fn write_with_pause(
        &self,
        change: impl FnOnce(&dyn Tx) -> Result<(), StoreError>,
        pause: impl FnOnce(),
    ) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        let (_w, tx) = self.begin(&mut c)?;
        change(&SqliteTx { c: &tx })?;
        pause();
        tx.commit()?;
        Ok(())
    }
}

/// Row operations on one connection: a read-only pooled connection or an open write transaction.
pub(crate) struct SqliteTx<'a> {
    c: &'a Connection,
}

impl SqliteTx<'_> {
    fn list<T>(&self, sql: &str, f: fn(&Row) -> rusqlite::Result<T>) -> Result<Vec<T>, StoreError> {
        let mut st = self.c.prepare(sql)?;
        let rows = st.query_map([], f)?.collect::<rusqlite::Result<Vec<T>>>()?;
        Ok(rows)
    }
}

/// Rebuild `table`'s trigram search index when it no longer matches the table's rows. It is
/// keyed by rowid, which SQLite says a VACUUM may renumber (closing gaps, in order): then the
/// highest rowid or the count differs from what the index recorded.
fn repair_search_index(c: &Connection, table: &str) -> Result<(), StoreError> {
    let rows: (i64, i64) = c.query_row(
        &format!("SELECT COUNT(*), COALESCE(MAX(rowid), 0) FROM {table}"),
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let indexed: (i64, i64) = c.query_row(
        &format!("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM {table}_search_docsize"),
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if rows != indexed {
        tracing::warn!(
            table,
            "the search index did not match its table: rebuilding it"
        );
        c.execute_batch(&format!(
            "INSERT INTO {table}_search({table}_search) VALUES ('rebuild')"
        ))?;
    }
    Ok(())
}
