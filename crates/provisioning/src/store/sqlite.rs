//! The embedded SQLite backend: WAL journal, a small connection pool, `BEGIN IMMEDIATE` for every
//! write so that concurrent assignments serialise on the database's write lock.

use super::schema::MIGRATIONS;
use super::*;
use crate::model::{check_pin, expand_pattern, model_class, DeviceClass, Dn, DnRange};
use crate::rules::{evaluate, AssignContext};
use crate::secret::SecretHash;
use crate::AuthMode;
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
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
    pool: Mutex<Vec<Connection>>,
    available: Condvar,
    /// Connections handed out or pooled; at most `max`.
    open: Mutex<usize>,
    max: usize,
    /// Writers of this process queue here, not in SQLite's busy handler: that handler sleeps in
    /// steps of up to 100 ms, which under load pushed REGISTER answers past SIP retransmission.
    writer: Mutex<()>,
    /// The value after the last auto-registered DN: the next search starts there.
    dn_hint: Mutex<Option<u128>>,
}

struct Pooled<'a> {
    store: &'a SqliteStore,
    conn: Option<Connection>,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("pooled connection present until drop")
    }
}
impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn
            .as_mut()
            .expect("pooled connection present until drop")
    }
}
impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            if let Ok(mut p) = self.store.pool.lock() {
                p.push(c);
            }
            self.store.available.notify_one();
        }
    }
}

fn bool_i(b: bool) -> i64 {
    i64::from(b)
}

fn parse_col<T: std::str::FromStr>(v: String, idx: usize) -> rusqlite::Result<T>
where
    T::Err: std::fmt::Display,
{
    v.parse::<T>().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            e.to_string().into(),
        )
    })
}

fn opt_col<T: std::str::FromStr>(v: Option<String>, idx: usize) -> rusqlite::Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    v.map(|s| parse_col(s, idx)).transpose()
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

const UDT_COLS: &str =
    "name, description, device_pool, device_security_profile, secure, sip_profile, phone_button_template, description_pattern";
const ULT_COLS: &str =
    "name, description, partition_name, calling_search_space, line_text_label, voicemail_profile";
const PROFILE_COLS: &str = "name, description, system_default, udt_desk_phone, udt_mobile_desktop, udt_profile, ult, allow_self_provisioning, device_limit";
const USER_COLS: &str = "user_id, first_name, last_name, self_service_id, primary_extension, user_profile, enabled, pin_hash, password_hash";
const DEVICE_COLS: &str =
    "name, model, protocol, class, secure, dn, owner, auto_registered, udt, ult, description, created_at, updated_at";

fn row_udt(r: &Row) -> rusqlite::Result<UniversalDeviceTemplate> {
    Ok(UniversalDeviceTemplate {
        name: parse_col(r.get(0)?, 0)?,
        description: r.get(1)?,
        device_pool: r.get(2)?,
        device_security_profile: r.get(3)?,
        secure: r.get::<_, i64>(4)? != 0,
        sip_profile: r.get(5)?,
        phone_button_template: r.get(6)?,
        description_pattern: r.get(7)?,
    })
}

fn row_ult(r: &Row) -> rusqlite::Result<UniversalLineTemplate> {
    Ok(UniversalLineTemplate {
        name: parse_col(r.get(0)?, 0)?,
        description: r.get(1)?,
        partition: r.get(2)?,
        calling_search_space: r.get(3)?,
        line_text_label: r.get(4)?,
        voicemail_profile: r.get(5)?,
    })
}

fn row_profile(r: &Row) -> rusqlite::Result<UserProfile> {
    Ok(UserProfile {
        name: parse_col(r.get(0)?, 0)?,
        description: r.get(1)?,
        system_default: r.get::<_, i64>(2)? != 0,
        udt_desk_phone: opt_col(r.get(3)?, 3)?,
        udt_mobile_desktop: opt_col(r.get(4)?, 4)?,
        udt_profile: opt_col(r.get(5)?, 5)?,
        ult: opt_col(r.get(6)?, 6)?,
        allow_self_provisioning: r.get::<_, i64>(7)? != 0,
        device_limit: r.get::<_, i64>(8)?.clamp(0, i64::from(u32::MAX)) as u32,
    })
}

fn row_user(r: &Row) -> rusqlite::Result<EndUser> {
    Ok(EndUser {
        user_id: parse_col(r.get(0)?, 0)?,
        first_name: r.get(1)?,
        last_name: r.get(2)?,
        self_service_id: opt_col(r.get(3)?, 3)?,
        primary_extension: opt_col(r.get(4)?, 4)?,
        user_profile: opt_col(r.get(5)?, 5)?,
        enabled: r.get::<_, i64>(6)? != 0,
        pin_hash: r.get(7)?,
        password_hash: r.get(8)?,
    })
}

fn row_device(r: &Row) -> rusqlite::Result<Device> {
    Ok(Device {
        name: parse_col(r.get(0)?, 0)?,
        model: r.get(1)?,
        protocol: r.get(2)?,
        class: parse_col(r.get(3)?, 3)?,
        secure: r.get::<_, i64>(4)? != 0,
        dn: opt_col(r.get(5)?, 5)?,
        owner: opt_col(r.get(6)?, 6)?,
        auto_registered: r.get::<_, i64>(7)? != 0,
        udt: r.get(8)?,
        ult: r.get(9)?,
        description: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

fn row_audit(r: &Row) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.get(0)?,
        time_ms: r.get(1)?,
        call_id: r.get(2)?,
        device: r.get(3)?,
        user: r.get(4)?,
        code: parse_col(r.get(5)?, 5)?,
        detail: r.get(6)?,
    })
}

/// The nine columns of PROFILE_COLS, in order.
fn profile_params(p: &UserProfile) -> [Box<dyn rusqlite::ToSql + '_>; 9] {
    let opt = |o: &Option<ObjectName>| o.as_ref().map(|x| x.as_str().to_owned());
    [
        Box::new(p.name.as_str()),
        Box::new(p.description.as_str()),
        Box::new(bool_i(p.system_default)),
        Box::new(opt(&p.udt_desk_phone)),
        Box::new(opt(&p.udt_mobile_desktop)),
        Box::new(opt(&p.udt_profile)),
        Box::new(opt(&p.ult)),
        Box::new(bool_i(p.allow_self_provisioning)),
        Box::new(p.device_limit),
    ]
}

fn insert_device(tx: &Connection, d: &Device) -> rusqlite::Result<usize> {
    tx.execute(
        &format!("INSERT INTO device ({DEVICE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
        params![
            d.name.as_str(),
            d.model,
            d.protocol,
            d.class.as_str(),
            bool_i(d.secure),
            d.dn.as_ref().map(|x| x.as_str()),
            d.owner.as_ref().map(|x| x.as_str()),
            bool_i(d.auto_registered),
            d.udt,
            d.ult,
            d.description,
            d.created_at,
            d.updated_at
        ],
    )
}

fn insert_audit(tx: &Connection, e: &AuditEntry) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO audit_log (time_ms, call_id, device, user_id, code, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![e.time_ms, e.call_id, e.device, e.user, e.code.as_str(), e.detail],
    )?;
    Ok(())
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
            pool: Mutex::new(Vec::new()),
            available: Condvar::new(),
            open: Mutex::new(0),
            max: 8,
            writer: Mutex::new(()),
            dn_hint: Mutex::new(None),
        };
        s.migrate()?;
        Ok(s)
    }

    /// A private in-memory database (one connection), for tests and dry runs.
    pub fn in_memory() -> Result<Self, StoreError> {
        let s = SqliteStore {
            location: Location::Memory,
            durability: Durability::Normal,
            pool: Mutex::new(Vec::new()),
            available: Condvar::new(),
            open: Mutex::new(0),
            max: 1,
            writer: Mutex::new(()),
            dn_hint: Mutex::new(None),
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

    fn conn(&self) -> Result<Pooled<'_>, StoreError> {
        let mut pool = self
            .pool
            .lock()
            .map_err(|_| StoreError::Database("connection pool poisoned".into()))?;
        loop {
            if let Some(c) = pool.pop() {
                return Ok(Pooled {
                    store: self,
                    conn: Some(c),
                });
            }
            {
                let mut open = self
                    .open
                    .lock()
                    .map_err(|_| StoreError::Database("pool poisoned".into()))?;
                if *open < self.max {
                    *open += 1;
                    drop(open);
                    drop(pool);
                    return match self.connect() {
                        Ok(c) => Ok(Pooled {
                            store: self,
                            conn: Some(c),
                        }),
                        Err(e) => {
                            if let Ok(mut o) = self.open.lock() {
                                *o -= 1;
                            }
                            Err(e)
                        }
                    };
                }
            }
            pool = self
                .available
                .wait(pool)
                .map_err(|_| StoreError::Database("pool poisoned".into()))?;
        }
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

    /// A free DN of the range for auto-registration, inside the caller's write transaction. It
    /// probes (two index lookups each) from just after the last DN handed out, wrapping at the
    /// end, so DNs are handed out in turn; when 64 probes in a row are taken it reads the range's
    /// used DNs once. Taken means held by any device or as any user's primary extension.
    fn free_dn(&self, tx: &Transaction, range: &DnRange) -> Result<Dn, StoreError> {
        const PROBES: u128 = 64;
        let (lo, hi, len) = (range.start().value(), range.end().value(), range.len());
        let mut hint = self.dn_hint.lock().unwrap_or_else(|p| p.into_inner());
        let from = hint.filter(|v| (lo..=hi).contains(v)).unwrap_or(lo);
        let nth = |i: u128| lo + (from - lo + i) % len;
        let mut taken = tx.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM device WHERE dn = ?1) OR EXISTS(SELECT 1 FROM end_user WHERE primary_extension = ?1)",
        )?;
        for i in 0..len.min(PROBES) {
            let dn = range.dn(nth(i));
            if !taken.query_row([dn.as_str()], |r| r.get::<_, bool>(0))? {
                *hint = Some(nth(i) + 1);
                return Ok(dn);
            }
        }
        if len > PROBES {
            let mut used = std::collections::HashSet::new();
            let mut st = tx.prepare(
                "SELECT dn FROM device WHERE dn BETWEEN ?1 AND ?2 AND length(dn) = ?3 \
                 UNION SELECT primary_extension FROM end_user WHERE primary_extension BETWEEN ?1 AND ?2 AND length(primary_extension) = ?3",
            )?;
            let width = range.start().as_str().len() as i64;
            for dn in st.query_map(params![range.start().as_str(), range.end().as_str(), width], |r| r.get::<_, String>(0))? {
                if let Ok(v) = dn?.parse::<u128>() {
                    used.insert(v);
                }
            }
            if let Some(v) = (PROBES..len).map(nth).find(|v| !used.contains(v)) {
                *hint = Some(v + 1);
                return Ok(range.dn(v));
            }
        }
        Err(StoreError::RangeExhausted {
            range: range.to_string(),
        })
    }

    /// Begin a write transaction on `c` (already taken from the pool, so the lock holder never
    /// waits for a connection). The guard queues this process's writers; bind it before the
    /// transaction so it is released after the commit or rollback.
    fn begin<'c>(
        &self,
        c: &'c mut Connection,
    ) -> rusqlite::Result<(std::sync::MutexGuard<'_, ()>, Transaction<'c>)> {
        let guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        Ok((guard, c.transaction_with_behavior(TransactionBehavior::Immediate)?))
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut c = self.conn()?;
        let (_w, tx) = self.begin(&mut c)?;
        let v = f(&tx)?;
        tx.commit()?;
        Ok(v)
    }

    fn get_one<T>(
        &self,
        sql: &str,
        key: &str,
        kind: &'static str,
        f: fn(&Row) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        self.conn()?
            .query_row(sql, [key], f)
            .optional()?
            .ok_or_else(|| StoreError::NotFound {
                kind,
                name: key.to_owned(),
            })
    }

    fn list<T>(&self, sql: &str, f: fn(&Row) -> rusqlite::Result<T>) -> Result<Vec<T>, StoreError> {
        let c = self.conn()?;
        let mut st = c.prepare(sql)?;
        let rows = st.query_map([], f)?.collect::<rusqlite::Result<Vec<T>>>()?;
        Ok(rows)
    }

    fn delete(
        &self,
        sql: &str,
        key: &str,
        kind: &'static str,
        refs: &[(&str, &str)],
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            for (q, by) in refs {
                let n: i64 = tx.query_row(q, [key], |r| r.get(0))?;
                if n > 0 {
                    return Err(StoreError::InUse {
                        kind,
                        name: key.to_owned(),
                        by: format!("{n} {by}"),
                    });
                }
            }
            if tx.execute(sql, [key])? == 0 {
                return Err(StoreError::NotFound {
                    kind,
                    name: key.to_owned(),
                });
            }
            Ok(())
        })
    }

    fn check_profile_refs(tx: &Transaction, p: &UserProfile) -> Result<(), StoreError> {
        p.check()?;
        for (field, udt) in [
            ("udt_desk_phone", &p.udt_desk_phone),
            ("udt_mobile_desktop", &p.udt_mobile_desktop),
            ("udt_profile", &p.udt_profile),
        ] {
            if let Some(n) = udt {
                let found: Option<i64> = tx
                    .query_row("SELECT 1 FROM udt WHERE name = ?1", [n.as_str()], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if found.is_none() {
                    return Err(FieldError::new(
                        field,
                        format!("universal device template `{n}` does not exist"),
                    )
                    .into());
                }
            }
        }
        if let Some(n) = &p.ult {
            let found: Option<i64> = tx
                .query_row("SELECT 1 FROM ult WHERE name = ?1", [n.as_str()], |r| {
                    r.get(0)
                })
                .optional()?;
            if found.is_none() {
                return Err(FieldError::new(
                    "ult",
                    format!("universal line template `{n}` does not exist"),
                )
                .into());
            }
        }
        if p.system_default {
            tx.execute(
                "UPDATE user_profile SET system_default = 0 WHERE name <> ?1",
                [p.name.as_str()],
            )?;
        }
        Ok(())
    }

    fn check_user_refs(tx: &Transaction, u: &NewUser) -> Result<(), StoreError> {
        if let Some(p) = &u.user_profile {
            let found: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM user_profile WHERE name = ?1",
                    [p.as_str()],
                    |r| r.get(0),
                )
                .optional()?;
            if found.is_none() {
                return Err(FieldError::new(
                    "user_profile",
                    format!("user profile `{p}` does not exist"),
                )
                .into());
            }
        }
        if let Some(pin) = &u.pin {
            check_pin(pin)?;
        }
        Ok(())
    }

    fn hash_opt(secret: &Option<String>) -> Result<Option<String>, StoreError> {
        secret
            .as_deref()
            .map(|s| SecretHash::hash(s).map(|h| h.as_phc().to_owned()))
            .transpose()
            .map_err(|e| StoreError::Database(e.to_string()))
    }

    fn insert_user(
        tx: &Transaction,
        u: &NewUser,
        pin_hash: Option<String>,
        pw_hash: Option<String>,
    ) -> Result<(), StoreError> {
        let ssid = u.effective_self_service_id();
        let r = tx.execute(
            &format!(
                "INSERT INTO end_user ({USER_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ),
            params![
                u.user_id.as_str(),
                u.first_name,
                u.last_name,
                ssid.as_ref().map(|s| s.as_str()),
                u.primary_extension.as_ref().map(|d| d.as_str()),
                u.user_profile.as_ref().map(|p| p.as_str()),
                bool_i(u.enabled),
                pin_hash,
                pw_hash
            ],
        );
        match r {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                let id_taken: Option<i64> = tx
                    .query_row(
                        "SELECT 1 FROM end_user WHERE user_id = ?1",
                        [u.user_id.as_str()],
                        |r| r.get(0),
                    )
                    .optional()?;
                if id_taken.is_some() {
                    Err(StoreError::AlreadyExists {
                        kind: "user",
                        name: u.user_id.to_string(),
                    })
                } else {
                    Err(FieldError::new(
                        "self_service_id",
                        format!(
                            "`{}` is already used by another user",
                            ssid.map(String::from).unwrap_or_default()
                        ),
                    )
                    .into())
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Load what the rules need inside a transaction.
    fn assign_context(
        tx: &Connection,
        device: &str,
        user_id: &UserId,
    ) -> Result<(EndUser, Option<UserProfile>, Option<Device>, u32), AssignError> {
        let internal = |e: rusqlite::Error| AssignError::Internal(e.to_string());
        let user = tx
            .query_row(
                &format!("SELECT {USER_COLS} FROM end_user WHERE user_id = ?1"),
                [user_id.as_str()],
                row_user,
            )
            .optional()
            .map_err(internal)?
            .ok_or(AssignError::InvalidCredentials)?;
        let profile = match &user.user_profile {
            Some(p) => tx
                .query_row(
                    &format!("SELECT {PROFILE_COLS} FROM user_profile WHERE name = ?1"),
                    [p.as_str()],
                    row_profile,
                )
                .optional(),
            None => tx
                .query_row(
                    &format!("SELECT {PROFILE_COLS} FROM user_profile WHERE system_default = 1"),
                    [],
                    row_profile,
                )
                .optional(),
        }
        .map_err(internal)?;
        let dev = tx
            .query_row(
                &format!("SELECT {DEVICE_COLS} FROM device WHERE name = ?1"),
                [device],
                row_device,
            )
            .optional()
            .map_err(internal)?;
        let owned: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM device WHERE owner = ?1",
                [user_id.as_str()],
                |r| r.get(0),
            )
            .map_err(internal)?;
        Ok((user, profile, dev, owned.max(0) as u32))
    }

    /// Test hook for the crash test: run an assignment but stop (holding the write transaction,
    /// with the device row already changed) and call `pause` before committing.
    #[doc(hidden)]
    pub fn assign_with_pause(
        &self,
        device: &str,
        user_id: &UserId,
        pause: impl FnOnce(),
    ) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        let (_w, tx) = self.begin(&mut c)?;
        tx.execute(
            "UPDATE device SET owner = ?1, auto_registered = 0 WHERE name = ?2",
            params![user_id.as_str(), device],
        )?;
        insert_audit(
            &tx,
            &AuditEntry {
                id: 0,
                time_ms: 0,
                call_id: "crash-test".into(),
                device: Some(device.into()),
                user: Some(user_id.to_string()),
                code: OutcomeCode::Success,
                detail: "half-done".into(),
            },
        )?;
        pause();
        tx.commit()?;
        Ok(())
    }
}

impl Store for SqliteStore {
    fn create_udt(&self, t: &UniversalDeviceTemplate) -> Result<(), StoreError> {
        self.write(|tx| {
            let r = tx.execute(
                &format!("INSERT INTO udt ({UDT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                params![
                    t.name.as_str(),
                    t.description,
                    t.device_pool,
                    t.device_security_profile,
                    bool_i(t.secure),
                    t.sip_profile,
                    t.phone_button_template,
                    t.description_pattern
                ],
            );
            match r {
                Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists {
                    kind: "universal device template",
                    name: t.name.to_string(),
                }),
                r => r.map(|_| ()).map_err(Into::into),
            }
        })
    }
    fn update_udt(&self, t: &UniversalDeviceTemplate) -> Result<(), StoreError> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE udt SET description=?2, device_pool=?3, device_security_profile=?4, secure=?5, sip_profile=?6, phone_button_template=?7, description_pattern=?8 WHERE name=?1",
                params![t.name.as_str(), t.description, t.device_pool, t.device_security_profile, bool_i(t.secure), t.sip_profile, t.phone_button_template, t.description_pattern],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound { kind: "universal device template", name: t.name.to_string() });
            }
            Ok(())
        })
    }
    fn get_udt(&self, name: &str) -> Result<UniversalDeviceTemplate, StoreError> {
        self.get_one(
            &format!("SELECT {UDT_COLS} FROM udt WHERE name = ?1"),
            name,
            "universal device template",
            row_udt,
        )
    }
    fn list_udts(&self) -> Result<Vec<UniversalDeviceTemplate>, StoreError> {
        self.list(
            &format!("SELECT {UDT_COLS} FROM udt ORDER BY name"),
            row_udt,
        )
    }
    fn delete_udt(&self, name: &str) -> Result<(), StoreError> {
        self.delete(
            "DELETE FROM udt WHERE name = ?1",
            name,
            "universal device template",
            &[(
                "SELECT COUNT(*) FROM user_profile WHERE udt_desk_phone = ?1 OR udt_mobile_desktop = ?1 OR udt_profile = ?1",
                "user profile(s)",
            )],
        )
    }
    fn create_ult(&self, t: &UniversalLineTemplate) -> Result<(), StoreError> {
        self.write(|tx| {
            let r = tx.execute(
                &format!("INSERT INTO ult ({ULT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![
                    t.name.as_str(),
                    t.description,
                    t.partition,
                    t.calling_search_space,
                    t.line_text_label,
                    t.voicemail_profile
                ],
            );
            match r {
                Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists {
                    kind: "universal line template",
                    name: t.name.to_string(),
                }),
                r => r.map(|_| ()).map_err(Into::into),
            }
        })
    }
    fn update_ult(&self, t: &UniversalLineTemplate) -> Result<(), StoreError> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE ult SET description=?2, partition_name=?3, calling_search_space=?4, line_text_label=?5, voicemail_profile=?6 WHERE name=?1",
                params![t.name.as_str(), t.description, t.partition, t.calling_search_space, t.line_text_label, t.voicemail_profile],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound { kind: "universal line template", name: t.name.to_string() });
            }
            Ok(())
        })
    }
    fn get_ult(&self, name: &str) -> Result<UniversalLineTemplate, StoreError> {
        self.get_one(
            &format!("SELECT {ULT_COLS} FROM ult WHERE name = ?1"),
            name,
            "universal line template",
            row_ult,
        )
    }
    fn list_ults(&self) -> Result<Vec<UniversalLineTemplate>, StoreError> {
        self.list(
            &format!("SELECT {ULT_COLS} FROM ult ORDER BY name"),
            row_ult,
        )
    }
    fn delete_ult(&self, name: &str) -> Result<(), StoreError> {
        self.delete(
            "DELETE FROM ult WHERE name = ?1",
            name,
            "universal line template",
            &[(
                "SELECT COUNT(*) FROM user_profile WHERE ult = ?1",
                "user profile(s)",
            )],
        )
    }
    fn create_profile(&self, p: &UserProfile) -> Result<(), StoreError> {
        self.write(|tx| {
            Self::check_profile_refs(tx, p)?;
            let r = tx.execute(
                &format!("INSERT INTO user_profile ({PROFILE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                rusqlite::params_from_iter(profile_params(p)),
            );
            match r {
                Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists { kind: "user profile", name: p.name.to_string() }),
                r => r.map(|_| ()).map_err(Into::into),
            }
        })
    }
    fn update_profile(&self, p: &UserProfile) -> Result<(), StoreError> {
        self.write(|tx| {
            Self::check_profile_refs(tx, p)?;
            let n = tx.execute(
                "UPDATE user_profile SET description=?2, system_default=?3, udt_desk_phone=?4, udt_mobile_desktop=?5, udt_profile=?6, ult=?7, allow_self_provisioning=?8, device_limit=?9 WHERE name=?1",
                rusqlite::params_from_iter(profile_params(p)),
            )?;
            if n == 0 {
                return Err(StoreError::NotFound { kind: "user profile", name: p.name.to_string() });
            }
            Ok(())
        })
    }
    fn get_profile(&self, name: &str) -> Result<UserProfile, StoreError> {
        self.get_one(
            &format!("SELECT {PROFILE_COLS} FROM user_profile WHERE name = ?1"),
            name,
            "user profile",
            row_profile,
        )
    }
    fn list_profiles(&self) -> Result<Vec<UserProfile>, StoreError> {
        self.list(
            &format!("SELECT {PROFILE_COLS} FROM user_profile ORDER BY name"),
            row_profile,
        )
    }
    fn delete_profile(&self, name: &str) -> Result<(), StoreError> {
        self.delete(
            "DELETE FROM user_profile WHERE name = ?1",
            name,
            "user profile",
            &[(
                "SELECT COUNT(*) FROM end_user WHERE user_profile = ?1",
                "user(s)",
            )],
        )
    }

    fn create_user(&self, u: &NewUser) -> Result<(), StoreError> {
        if let Some(pin) = &u.pin {
            check_pin(pin)?;
        }
        // Hash before taking the write lock: hashing is the slow part.
        let pin_hash = Self::hash_opt(&u.pin)?;
        let pw_hash = Self::hash_opt(&u.password)?;
        self.write(|tx| {
            Self::check_user_refs(tx, u)?;
            Self::insert_user(tx, u, pin_hash, pw_hash)
        })
    }
    fn update_user(&self, u: &NewUser) -> Result<(), StoreError> {
        if let Some(pin) = &u.pin {
            check_pin(pin)?;
        }
        let pin_hash = Self::hash_opt(&u.pin)?;
        let pw_hash = Self::hash_opt(&u.password)?;
        self.write(|tx| {
            Self::check_user_refs(tx, u)?;
            let ssid = u.effective_self_service_id();
            let r = tx.execute(
                "UPDATE end_user SET first_name=?2, last_name=?3, self_service_id=?4, primary_extension=?5, user_profile=?6, enabled=?7,
                 pin_hash=COALESCE(?8, pin_hash), password_hash=COALESCE(?9, password_hash) WHERE user_id=?1",
                params![
                    u.user_id.as_str(),
                    u.first_name,
                    u.last_name,
                    ssid.as_ref().map(|s| s.as_str()),
                    u.primary_extension.as_ref().map(|d| d.as_str()),
                    u.user_profile.as_ref().map(|p| p.as_str()),
                    bool_i(u.enabled),
                    pin_hash,
                    pw_hash
                ],
            );
            match r {
                Ok(0) => Err(StoreError::NotFound { kind: "user", name: u.user_id.to_string() }),
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation(&e) => Err(FieldError::new(
                    "self_service_id",
                    format!("`{}` is already used by another user", ssid.map(String::from).unwrap_or_default()),
                )
                .into()),
                Err(e) => Err(e.into()),
            }
        })
    }
    fn get_user(&self, user_id: &str) -> Result<EndUser, StoreError> {
        self.get_one(
            &format!("SELECT {USER_COLS} FROM end_user WHERE user_id = ?1"),
            user_id,
            "user",
            row_user,
        )
    }
    fn list_users(&self) -> Result<Vec<EndUser>, StoreError> {
        self.list(
            &format!("SELECT {USER_COLS} FROM end_user ORDER BY user_id"),
            row_user,
        )
    }
    fn delete_user(&self, user_id: &str) -> Result<(), StoreError> {
        self.delete(
            "DELETE FROM end_user WHERE user_id = ?1",
            user_id,
            "user",
            &[(
                "SELECT COUNT(*) FROM device WHERE owner = ?1",
                "device(s) owned",
            )],
        )
    }
    fn lock_state(&self, user_id: &str) -> Result<(u32, Option<UnixMillis>), StoreError> {
        let (n, until): (i64, Option<i64>) = self
            .conn()?
            .query_row(
                "SELECT failed_attempts, locked_until_ms FROM end_user WHERE user_id = ?1",
                [user_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound {
                kind: "user",
                name: user_id.to_owned(),
            })?;
        Ok((n.max(0) as u32, until.map(UnixMillis)))
    }
    fn unlock_user(&self, user_id: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            let n = tx.execute("UPDATE end_user SET failed_attempts = 0, locked_until_ms = NULL WHERE user_id = ?1", [user_id])?;
            if n == 0 {
                return Err(StoreError::NotFound { kind: "user", name: user_id.to_owned() });
            }
            Ok(())
        })
    }

    fn create_device(&self, d: &Device) -> Result<(), StoreError> {
        self.write(|tx| {
            let r = insert_device(tx, d);
            match r {
                Err(e) if is_unique_violation(&e) => {
                    let exists: Option<i64> = tx
                        .query_row(
                            "SELECT 1 FROM device WHERE name = ?1",
                            [d.name.as_str()],
                            |r| r.get(0),
                        )
                        .optional()?;
                    if exists.is_some() {
                        Err(StoreError::AlreadyExists {
                            kind: "device",
                            name: d.name.to_string(),
                        })
                    } else {
                        Err(FieldError::new(
                            "dn",
                            "is already the DN of another auto-registered device",
                        )
                        .into())
                    }
                }
                Err(rusqlite::Error::SqliteFailure(f, Some(msg)))
                    if msg.contains("FOREIGN KEY") =>
                {
                    let _ = f;
                    Err(FieldError::new("owner", "no such user").into())
                }
                r => r.map(|_| ()).map_err(Into::into),
            }
        })
    }
    fn update_device(&self, d: &Device) -> Result<(), StoreError> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE device SET model=?2, protocol=?3, class=?4, secure=?5, dn=?6, owner=?7, auto_registered=?8, udt=?9, ult=?10, description=?11, updated_at=?12 WHERE name=?1",
                params![
                    d.name.as_str(),
                    d.model,
                    d.protocol,
                    d.class.as_str(),
                    bool_i(d.secure),
                    d.dn.as_ref().map(|x| x.as_str()),
                    d.owner.as_ref().map(|x| x.as_str()),
                    bool_i(d.auto_registered),
                    d.udt,
                    d.ult,
                    d.description,
                    d.updated_at
                ],
            );
            match r_or_conflict(n)? {
                0 => Err(StoreError::NotFound { kind: "device", name: d.name.to_string() }),
                _ => Ok(()),
            }
        })
    }
    fn get_device(&self, name: &str) -> Result<Device, StoreError> {
        self.get_one(
            &format!("SELECT {DEVICE_COLS} FROM device WHERE name = ?1"),
            name,
            "device",
            row_device,
        )
    }
    fn find_device(&self, name_or_dn: &str) -> Result<Option<Device>, StoreError> {
        let c = self.conn()?;
        if let Some(d) = c
            .query_row(
                &format!("SELECT {DEVICE_COLS} FROM device WHERE name = ?1"),
                [name_or_dn],
                row_device,
            )
            .optional()?
        {
            return Ok(Some(d));
        }
        // A DN identifies a device only while it is auto-registered (unique then).
        Ok(c.query_row(
            &format!("SELECT {DEVICE_COLS} FROM device WHERE dn = ?1 AND auto_registered = 1"),
            [name_or_dn],
            row_device,
        )
        .optional()?)
    }
    fn list_devices(&self) -> Result<Vec<Device>, StoreError> {
        self.list(
            &format!("SELECT {DEVICE_COLS} FROM device ORDER BY name"),
            row_device,
        )
    }
    fn delete_device(&self, name: &str) -> Result<(), StoreError> {
        self.delete("DELETE FROM device WHERE name = ?1", name, "device", &[])
    }

    fn authenticate(
        &self,
        self_service_id: &SelfServiceId,
        secret: Option<&str>,
        settings: &SelfProvisioningSettings,
        policy: &CredentialPolicy,
        now: UnixMillis,
    ) -> Result<AuthenticatedUser, AssignError> {
        let internal = |e: StoreError| AssignError::Internal(e.to_string());
        let row: Option<(String, Option<String>, Option<i64>, i64)> = self
            .conn()
            .map_err(internal)?
            .query_row(
                "SELECT user_id, pin_hash, locked_until_ms, failed_attempts FROM end_user WHERE self_service_id = ?1",
                [self_service_id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(|e| AssignError::Internal(e.to_string()))?;
        let Some((user_id, pin_hash, locked_until, failed_before)) = row else {
            // Same work as a real check, so timing does not tell unknown IDs apart.
            if settings.auth_mode != AuthMode::None {
                SecretHash::verify_dummy(secret.unwrap_or(""));
            }
            return Err(AssignError::InvalidCredentials);
        };
        if locked_until.is_some_and(|t| t > now.0) {
            return Err(AssignError::AccountLocked);
        }
        let user_id_t: UserId = user_id
            .parse()
            .map_err(|e: FieldError| AssignError::Internal(e.to_string()))?;
        let (ok, via_code) = match settings.auth_mode {
            AuthMode::None => (true, false),
            mode => {
                let s = secret.unwrap_or("");
                let pin_ok = match pin_hash.as_deref().map(str::parse::<SecretHash>) {
                    Some(Ok(h)) => h.verify(s),
                    _ => {
                        SecretHash::verify_dummy(s);
                        false
                    }
                };
                if pin_ok {
                    (true, false)
                } else if mode == AuthMode::UsersAndAdmins {
                    let code_ok = settings
                        .auth_code_hash
                        .as_ref()
                        .is_some_and(|h| h.verify(s));
                    (code_ok, code_ok)
                } else {
                    (false, false)
                }
            }
        };
        // A success with nothing to reset writes nothing (one durable commit less per call).
        if ok && (!policy.reset_on_success || (failed_before == 0 && locked_until.is_none())) {
            return Ok(AuthenticatedUser {
                user_id: user_id_t,
                via_auth_code: via_code,
            });
        }
        // Short write transaction for the counters, after the slow hash check.
        let res = self.write(|tx| {
            if ok {
                if policy.reset_on_success {
                    tx.execute("UPDATE end_user SET failed_attempts = 0, locked_until_ms = NULL WHERE user_id = ?1", [&user_id])?;
                }
                return Ok(None);
            }
            let failed: i64 = tx.query_row(
                "UPDATE end_user SET failed_attempts = failed_attempts + 1 WHERE user_id = ?1 RETURNING failed_attempts",
                [&user_id],
                |r| r.get(0),
            )?;
            if policy.failed_attempts_threshold > 0 && failed >= i64::from(policy.failed_attempts_threshold) {
                let until = now.plus(policy.lockout_duration);
                tx.execute(
                    "UPDATE end_user SET failed_attempts = 0, locked_until_ms = ?2 WHERE user_id = ?1",
                    params![&user_id, until.0],
                )?;
                return Ok(Some(AssignError::AccountLocked));
            }
            Ok(Some(AssignError::InvalidCredentials))
        });
        match res.map_err(internal)? {
            None => Ok(AuthenticatedUser {
                user_id: user_id_t,
                via_auth_code: via_code,
            }),
            Some(e) => Err(e),
        }
    }

    fn check_assignment(
        &self,
        device: &str,
        user_id: &UserId,
    ) -> Result<AssignmentPreview, AssignError> {
        let c = self
            .conn()
            .map_err(|e| AssignError::Internal(e.to_string()))?;
        let (user, profile, dev, owned) = Self::assign_context(&c, device, user_id)?;
        evaluate(&AssignContext {
            user: &user,
            profile: profile.as_ref(),
            device: dev.as_ref(),
            owned,
        })
    }

    fn assign(
        &self,
        device: &str,
        user_id: &UserId,
        call_id: &str,
        now: UnixMillis,
    ) -> Result<AssignOutcome, AssignError> {
        let internal = |e: rusqlite::Error| AssignError::Internal(e.to_string());
        let mut c = self
            .conn()
            .map_err(|e| AssignError::Internal(e.to_string()))?;
        let (_w, tx) = self.begin(&mut c).map_err(internal)?;
        let (user, profile, dev, owned) = Self::assign_context(&tx, device, user_id)?;
        let verdict = evaluate(&AssignContext {
            user: &user,
            profile: profile.as_ref(),
            device: dev.as_ref(),
            owned,
        });
        let mut audit = AuditEntry {
            id: 0,
            time_ms: now.0,
            call_id: call_id.to_owned(),
            device: Some(device.to_owned()),
            user: Some(user_id.to_string()),
            code: OutcomeCode::Success,
            detail: String::new(),
        };
        let outcome = match (verdict, dev) {
            (Ok(p), _) if p.already_assigned => {
                audit.detail = "already assigned to this user; nothing changed".into();
                Ok(AssignOutcome::AlreadyAssigned(p))
            }
            (Ok(p), Some(d)) => {
                let udt: Option<UniversalDeviceTemplate> = tx
                    .query_row(
                        &format!("SELECT {UDT_COLS} FROM udt WHERE name = ?1"),
                        [p.udt.as_str()],
                        row_udt,
                    )
                    .optional()
                    .map_err(internal)?;
                let pattern = udt
                    .as_ref()
                    .map(|u| u.description_pattern.as_str())
                    .unwrap_or("");
                let description = if pattern.is_empty() {
                    format!("{} {} ({})", user.first_name, user.last_name, d.model)
                } else {
                    expand_pattern(pattern, &user, &d, &p.extension)
                };
                tx.execute(
                    "UPDATE device SET owner=?2, dn=?3, auto_registered=0, udt=?4, ult=?5, description=?6, updated_at=?7 WHERE name=?1",
                    params![
                        device,
                        user_id.as_str(),
                        p.extension.as_str(),
                        p.udt.as_str(),
                        p.ult.as_ref().map(|u| u.as_str()),
                        description,
                        now.0 / 1000
                    ],
                )
                .map_err(internal)?;
                audit.detail = format!("extension {} udt {}", p.extension, p.udt);
                Ok(AssignOutcome::Assigned(p))
            }
            (Ok(_), None) => Err(AssignError::NotAutoregistered),
            (Err(e), _) => {
                audit.code = e.code();
                audit.detail = e.to_string();
                Err(e)
            }
        };
        if let Err(e) = &outcome {
            audit.code = e.code();
            audit.detail = e.to_string();
        }
        insert_audit(&tx, &audit).map_err(internal)?;
        tx.commit().map_err(internal)?;
        outcome
    }

    fn auto_register(
        &self,
        name: &DeviceName,
        model: &str,
        settings: &AutoRegistrationSettings,
        now: UnixMillis,
    ) -> Result<Device, StoreError> {
        self.write(|tx| {
            if let Some(d) =
                tx.query_row(&format!("SELECT {DEVICE_COLS} FROM device WHERE name = ?1"), [name.as_str()], row_device).optional()?
            {
                return Ok(d);
            }
            let dn = self.free_dn(tx, &settings.dn_range)?;
            let class = model_class(model).unwrap_or(DeviceClass::DeskPhone);
            let d = Device {
                name: name.clone(),
                model: model.to_owned(),
                protocol: "SIP".into(),
                class,
                secure: false,
                dn: Some(dn.clone()),
                owner: None,
                auto_registered: true,
                udt: settings.udt.as_ref().map(|u| u.to_string()),
                ult: settings.ult.as_ref().map(|u| u.to_string()),
                description: format!("Auto {dn}"),
                created_at: now.0 / 1000,
                updated_at: now.0 / 1000,
            };
            insert_device(tx, &d)?;
            Ok(d)
        })
    }

    fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.write(|tx| Ok(insert_audit(tx, entry)?))
    }

    fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let c = self.conn()?;
        let mut st = c.prepare(
            "SELECT id, time_ms, call_id, device, user_id, code, detail FROM audit_log
             WHERE (?1 IS NULL OR device = ?1) AND (?2 IS NULL OR user_id = ?2) AND (?3 IS NULL OR code = ?3)
             ORDER BY id DESC LIMIT ?4",
        )?;
        let limit = filter.limit.map(|l| l as i64).unwrap_or(-1);
        let rows = st
            .query_map(
                params![
                    filter.device,
                    filter.user,
                    filter.code.map(|c| c.as_str()),
                    limit
                ],
                row_audit,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn import_users(&self, users: &[PreparedUser]) -> Result<ImportSummary, StoreError> {
        self.write(|tx| {
            for u in users {
                Self::check_user_refs(
                    tx,
                    &NewUser {
                        pin: None,
                        ..u.user.clone()
                    },
                )?;
                Self::insert_user(tx, &u.user, u.pin_hash.clone(), u.password_hash.clone())?;
            }
            Ok(ImportSummary {
                imported: users.len(),
                dry_run: false,
            })
        })
    }

    fn existing_keys(&self) -> Result<ExistingKeys, StoreError> {
        let c = self.conn()?;
        let mut k = ExistingKeys::default();
        for (sql, set) in [
            ("SELECT name FROM user_profile", &mut k.profiles),
            ("SELECT user_id FROM end_user", &mut k.user_ids),
            (
                "SELECT self_service_id FROM end_user WHERE self_service_id IS NOT NULL",
                &mut k.self_service_ids,
            ),
        ] {
            let mut st = c.prepare(sql)?;
            for v in st.query_map([], |r| r.get::<_, String>(0))? {
                set.insert(v?);
            }
        }
        Ok(k)
    }

    fn default_profile(&self) -> Result<Option<ObjectName>, StoreError> {
        let v: Option<String> = self
            .conn()?
            .query_row(
                "SELECT name FROM user_profile WHERE system_default = 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        Ok(v.and_then(|s| s.parse().ok()))
    }
}

/// Map a unique-constraint failure of an update into a field error.
fn r_or_conflict(r: rusqlite::Result<usize>) -> Result<usize, StoreError> {
    match r {
        Err(e) if is_unique_violation(&e) => {
            Err(FieldError::new("dn", "is already the DN of another auto-registered device").into())
        }
        r => Ok(r?),
    }
}
