//! The PostgreSQL backend, for several selfprov nodes sharing one database.
//!
//! Every write transaction runs at `SERIALIZABLE`: PostgreSQL aborts one of two writers whose
//! reads and writes could not have happened one after the other (SQLSTATE 40001/40P01). The
//! writers of one node take turns, a few at a time, which bounds the conflicts. The aborted
//! closure is then run again on a fresh snapshot, as the
//! [`Store`] contract allows, so the guarantees the SQLite backend gets from its single writer —
//! the device limit, one owner per device, one device per auto-registered DN, lockout counters —
//! hold across nodes too (`crates/operations/tests/behaviour/cluster.rs` proves it with
//! concurrent writers). Reads run on a `REPEATABLE READ READ ONLY` snapshot.
//!
//! Connections come from a pool; one that fails (the server restarted, the network cut) is
//! dropped and the next transaction opens a new one, so nodes reconnect by themselves.

mod accounts;
mod activation;
mod audit;
mod client;
mod devices;
mod rows;
mod schema;
mod subscriber;
mod templates;
mod users;

pub use schema::PG_MIGRATIONS;
pub use subscriber::{ha1s, RegistrarAccounts, SecretOf};

use super::pool::{Pool, Pooled};
use super::{Store, StoreError, Tx};
use client::{Client, Driver};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};

/// Parameters of a statement.
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// `postgresql://user[:password]@host[:port]/database[?options]` (libpq's URL or key=value form).
    pub url: String,
    /// Connections this node keeps at most.
    pub pool_size: usize,
    /// Encrypt the connection (TLS, server certificate verified).
    pub tls: bool,
    /// PEM file of the certificate authority that signed the server's certificate (TLS only).
    pub ca_file: Option<PathBuf>,
    /// Keep Kamailio's `subscriber` table for the devices (phones register at Kamailio).
    pub subscriber: Option<RegistrarAccounts>,
}

/// One connection and the statements prepared on it.
struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// PostgreSQL-backed [`Store`].
pub struct PgStore {
    config: tokio_postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    /// `host:port/database`, for messages (never the password).
    target: String,
    pool: Pool<Conn>,
    /// At most [`WRITERS_PER_NODE`] of this node's write transactions at once: enough for
    /// PostgreSQL to commit several together, few enough that a burst of writers on one node
    /// (a power cut's phones auto-registering) cannot run each other out of retries.
    writers: Turns,
    accounts: Option<RegistrarAccounts>,
    /// Declared last: dropped after the pool's connections.
    driver: Driver,
}

/// Write transactions of one node at once (see `PgStore::writers`).
const WRITERS_PER_NODE: usize = 4;

/// A counting semaphore: `take` waits while all turns are out.
struct Turns {
    free: std::sync::Mutex<usize>,
    returned: std::sync::Condvar,
}

struct Turn<'a>(&'a Turns);

impl Turns {
    fn new(n: usize) -> Self {
        Turns {
            free: std::sync::Mutex::new(n),
            returned: std::sync::Condvar::new(),
        }
    }
    fn take(&self) -> Turn<'_> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self.returned.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        Turn(self)
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.0.returned.notify_one();
    }
}

/// Attempts of a write transaction that keeps meeting concurrent writers before giving up.
const MAX_ATTEMPTS: u32 = 50;
/// How transactions begin; the advisory lock key that serialises migrations.
const BEGIN_WRITE: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE";
const BEGIN_READ: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
const MIGRATION_LOCK: i64 = 0x5e1f_9e0f;

fn is_conflict(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// The connection itself failed (no answer from the server), as opposed to a statement.
fn is_connection_failure(e: &tokio_postgres::Error) -> bool {
    e.is_closed() || e.code().is_none()
}

fn db_error(target: &str, e: &tokio_postgres::Error) -> StoreError {
    if is_connection_failure(e) {
        return StoreError::Unavailable(format!("{target}: {e}"));
    }
    match e.as_db_error() {
        Some(d) => StoreError::Database(format!("{target}: {}", d.message())),
        None => StoreError::Database(format!("{target}: {e}")),
    }
}

/// A short random pause before running a conflicting transaction again, growing with attempts.
fn backoff(attempt: u32) {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(attempt);
    let cap_us = (500u64 << attempt.min(7)).min(50_000);
    std::thread::sleep(Duration::from_micros(h.finish() % cap_us));
}

impl PgStore {
    /// Connect (checking the URL and that the server answers) and apply pending migrations.
    pub fn open(o: &PgOptions) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = o
            .url
            .parse()
            .map_err(|e| StoreError::Database(format!("database.url: {e}")))?;
        let target = describe(&config);
        let tls = if o.tls {
            Some(tls_connector(o.ca_file.as_deref())?)
        } else {
            None
        };
        let driver = Driver::new()
            .map_err(|e| StoreError::Database(format!("cannot start the database driver: {e}")))?;
        let s = PgStore {
            config,
            tls,
            target,
            pool: Pool::new(o.pool_size),
            writers: Turns::new(WRITERS_PER_NODE),
            accounts: o.subscriber.clone(),
            driver,
        };
        s.migrate()?;
        Ok(s)
    }

    fn connect(&self) -> Result<Conn, StoreError> {
        let client = self
            .driver
            .connect(&self.config, self.tls.as_ref())
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "cannot connect to PostgreSQL at {}: {e}",
                    self.target
                ))
            })?;
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }

    fn conn(&self) -> Result<Pooled<'_, Conn>, StoreError> {
        self.pool.get(|| self.connect())
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        let r = self.migrate_on(&c.client);
        if r.is_err() {
            // Whatever failed, the transaction is not reused.
            c.discard();
        }
        r
    }

    fn migrate_on(&self, c: &Client) -> Result<(), StoreError> {
        let err = |e: tokio_postgres::Error| db_error(&self.target, &e);
        let one = |sql: &str| -> Result<i64, StoreError> {
            let st = c.prepare(sql).map_err(err)?;
            Ok(c.query_one(&st, &[]).map_err(err)?.get(0))
        };
        c.batch_execute("BEGIN").map_err(err)?;
        // Nodes starting together: one migrates, the others wait and then find nothing to do.
        c.batch_execute(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
            .map_err(err)?;
        c.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            .map_err(err)?;
        let current = one("SELECT COALESCE(MAX(version), 0) FROM schema_version")?;
        if current as usize > PG_MIGRATIONS.len() {
            return Err(StoreError::Database(format!(
                "database schema version {current} is newer than this selfprov ({}); upgrade selfprov",
                PG_MIGRATIONS.len()
            )));
        }
        for (i, sql) in PG_MIGRATIONS.iter().enumerate().skip(current as usize) {
            c.batch_execute(sql).map_err(err)?;
            let v = i as i64 + 1;
            c.batch_execute(&format!(
                "INSERT INTO schema_version (version) VALUES ({v})"
            ))
            .map_err(err)?;
            tracing::info!(version = v, "applied database migration");
        }
        c.batch_execute("COMMIT").map_err(err)?;
        Ok(())
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let mut c = self.conn()?;
        let r = c
            .client
            .prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            .and_then(|st| c.client.query_one(&st, &[]));
        match r {
            Ok(row) => Ok(row.get(0)),
            Err(e) => {
                c.discard();
                Err(db_error(&self.target, &e))
            }
        }
    }

    /// Time `n` runs of one prepared single-row query on one connection, outside any
    /// transaction (the driver's own cost per round trip; `benches/provisioning --drivers`).
    #[doc(hidden)]
    pub fn time_round_trips(&self, n: u32) -> Result<Duration, StoreError> {
        let c = self.conn()?;
        let err = |e: tokio_postgres::Error| db_error(&self.target, &e);
        let st = c
            .client
            .prepare("SELECT generation FROM device_credential WHERE device = $1")
            .map_err(err)?;
        let t0 = std::time::Instant::now();
        for i in 0..n {
            let name = format!("SEP{i:012X}");
            c.client.query_opt(&st, &[&name]).map_err(err)?;
        }
        Ok(t0.elapsed())
    }

    /// Run `f` in a transaction opened with `begin`; again on a serialization conflict; on a
    /// fresh connection when a pooled one turns out dead before any work was done.
    fn run(
        &self,
        begin: &str,
        f: &mut dyn FnMut(&dyn Tx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut c = self.conn()?;
            if let Err(e) = c.client.batch_execute(begin) {
                c.discard();
                if is_connection_failure(&e) && attempt <= 2 {
                    continue;
                }
                return Err(db_error(&self.target, &e));
            }
            let tx = PgTx {
                c: RefCell::new(&mut c),
                target: &self.target,
                accounts: self.accounts.as_ref(),
                conflict: Cell::new(false),
                aborted: Cell::new(false),
                broken: Cell::new(false),
            };
            let r = f(&tx);
            let (conflict, aborted, broken) =
                (tx.conflict.get(), tx.aborted.get(), tx.broken.get());
            if broken {
                c.discard();
            }
            let outcome = match r {
                // A statement failed and the closure carried on: PostgreSQL would turn the COMMIT
                // into a ROLLBACK without an error, so never report that as done.
                Ok(()) if aborted => Err(StoreError::Database(format!(
                    "{}: transaction aborted by a failed statement",
                    self.target
                ))),
                Ok(()) => match c.client.batch_execute("COMMIT") {
                    Ok(()) => return Ok(()),
                    Err(e) if is_conflict(&e) => {
                        if attempt < MAX_ATTEMPTS {
                            backoff(attempt);
                            continue;
                        }
                        Err(db_error(&self.target, &e))
                    }
                    Err(e) => {
                        // Unknown whether it committed: never reuse this connection.
                        c.discard();
                        return Err(db_error(&self.target, &e));
                    }
                },
                Err(e) => Err(e),
            };
            if !broken && c.client.batch_execute("ROLLBACK").is_err() {
                c.discard();
            }
            if conflict && attempt < MAX_ATTEMPTS {
                backoff(attempt);
                continue;
            }
            return outcome;
        }
    }
}

/// `host:port/database` of a connection configuration.
fn describe(c: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let host = match c.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", c.get_dbname().unwrap_or("?"))
}

fn tls_connector(
    ca_file: Option<&std::path::Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    let Some(path) = ca_file else {
        return Err(StoreError::Database(
            "database.tls needs database.ca_file: the PEM file of the authority that signed the server's certificate".into(),
        ));
    };
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| StoreError::Database(format!("database.ca_file {}: {e}", path.display())))?;
    for c in certs {
        roots.add(c).map_err(|e| {
            StoreError::Database(format!("database.ca_file {}: {e}", path.display()))
        })?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Database(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(cfg))
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgresql"
    }

    fn read(&self, f: &mut dyn FnMut(&dyn Tx) -> Result<(), StoreError>) -> Result<(), StoreError> {
        self.run(BEGIN_READ, f)
    }

    fn write(
        &self,
        f: &mut dyn FnMut(&dyn Tx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let _turn = self.writers.take();
        self.run(BEGIN_WRITE, f)
    }
}

/// Row operations inside one open transaction.
pub(crate) struct PgTx<'a, 'p> {
    c: RefCell<&'a mut Pooled<'p, Conn>>,
    target: &'a str,
    accounts: Option<&'a RegistrarAccounts>,
    /// A statement met a concurrent writer: the transaction is to be run again.
    conflict: Cell<bool>,
    /// A statement failed outside a savepoint: the transaction can no longer commit.
    aborted: Cell<bool>,
    /// The connection failed.
    broken: Cell<bool>,
}

/// The outcome of a statement that may break a constraint: the constraint's SQLSTATE.
pub(crate) type Checked<T> = Result<T, SqlState>;

impl PgTx<'_, '_> {
    fn fail(&self, e: tokio_postgres::Error) -> StoreError {
        self.aborted.set(true);
        if is_conflict(&e) {
            self.conflict.set(true);
        }
        if is_connection_failure(&e) {
            self.broken.set(true);
        }
        db_error(self.target, &e)
    }

    /// Run `op` with the statement for `sql`, prepared once per connection.
    fn with<T>(
        &self,
        sql: &str,
        op: impl FnOnce(&Client, &Statement) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, tokio_postgres::Error> {
        let mut guard = self.c.borrow_mut();
        let conn: &mut Conn = &mut guard;
        let st = match conn.statements.get(sql) {
            Some(s) => s.clone(),
            None => {
                let s = conn.client.prepare(sql)?;
                conn.statements.insert(sql.to_owned(), s.clone());
                s
            }
        };
        op(&conn.client, &st)
    }

    pub(crate) fn query(&self, sql: &str, p: Params) -> Result<Vec<Row>, StoreError> {
        self.with(sql, |c, st| c.query(st, p))
            .map_err(|e| self.fail(e))
    }

    pub(crate) fn opt(&self, sql: &str, p: Params) -> Result<Option<Row>, StoreError> {
        self.with(sql, |c, st| c.query_opt(st, p))
            .map_err(|e| self.fail(e))
    }

    pub(crate) fn one(&self, sql: &str, p: Params) -> Result<Row, StoreError> {
        self.with(sql, |c, st| c.query_one(st, p))
            .map_err(|e| self.fail(e))
    }

    pub(crate) fn exec(&self, sql: &str, p: Params) -> Result<u64, StoreError> {
        self.with(sql, |c, st| c.execute(st, p))
            .map_err(|e| self.fail(e))
    }

    /// Run a statement that may break a unique, foreign-key or check constraint inside a
    /// savepoint, so that the transaction can go on (and tell the administrator what is wrong)
    /// when it does.
    pub(crate) fn checked(&self, sql: &str, p: Params) -> Result<Checked<u64>, StoreError> {
        let savepoint = |cmd: &str| {
            self.c
                .borrow_mut()
                .client
                .batch_execute(cmd)
                .map_err(|e| self.fail(e))
        };
        savepoint("SAVEPOINT checked")?;
        match self.with(sql, |c, st| c.execute(st, p)) {
            Ok(n) => {
                savepoint("RELEASE SAVEPOINT checked")?;
                Ok(Ok(n))
            }
            Err(e) => match e.code() {
                Some(code) if code.code().starts_with("23") && !is_conflict(&e) => {
                    savepoint("ROLLBACK TO SAVEPOINT checked")?;
                    Ok(Err(code.clone()))
                }
                _ => Err(self.fail(e)),
            },
        }
    }
}
