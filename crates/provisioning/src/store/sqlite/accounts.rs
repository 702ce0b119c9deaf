//! Administrator accounts, API tokens and console sessions in SQLite.

use super::rows::{is_unique_violation, one_row, parse_col};
use super::SqliteTx;
use crate::accounts::{AdminAccount, ApiToken, SessionRow, TokenOwner};
use crate::store::columns::{ACCOUNT_COLS, SESSION_COLS, TOKEN_COLS};
use crate::store::{AccountRows, StoreError, UnixMillis};
use rusqlite::{params, OptionalExtension, Row};

const ACCOUNT: &str = "administrator account";
const TOKEN: &str = "API token";

fn row_account(r: &Row) -> rusqlite::Result<AdminAccount> {
    Ok(AdminAccount {
        name: parse_col(r.get(0)?, 0)?,
        role: parse_col(r.get(1)?, 1)?,
        password_hash: r.get(2)?,
        failed_attempts: r.get::<_, i64>(3)?.clamp(0, i64::from(u32::MAX)) as u32,
        locked_until: r.get::<_, Option<i64>>(4)?.map(UnixMillis),
        created: UnixMillis(r.get(5)?),
    })
}

fn row_token(r: &Row) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: r.get(0)?,
        secret_sha256: r.get(1)?,
        owner: parse_col(r.get(2)?, 2)?,
        role: parse_col(r.get(3)?, 3)?,
        description: r.get(4)?,
        created: UnixMillis(r.get(5)?),
        expires: r.get::<_, Option<i64>>(6)?.map(UnixMillis),
        last_used: r.get::<_, Option<i64>>(7)?.map(UnixMillis),
    })
}

fn row_session(r: &Row) -> rusqlite::Result<SessionRow> {
    Ok(SessionRow {
        secret_sha256: r.get(0)?,
        account: parse_col(r.get(1)?, 1)?,
        csrf: r.get(2)?,
        created: UnixMillis(r.get(3)?),
        expires: UnixMillis(r.get(4)?),
        last_seen: UnixMillis(r.get(5)?),
    })
}

impl AccountRows for SqliteTx<'_> {
    fn account(&self, name: &str) -> Result<Option<AdminAccount>, StoreError> {
        Ok(self
            .c
            .prepare_cached(&format!(
                "SELECT {ACCOUNT_COLS} FROM admin_account WHERE name = ?1"
            ))?
            .query_row([name], row_account)
            .optional()?)
    }

    fn accounts(&self) -> Result<Vec<AdminAccount>, StoreError> {
        self.list(
            &format!("SELECT {ACCOUNT_COLS} FROM admin_account ORDER BY name"),
            row_account,
        )
    }

    fn insert_account(&self, a: &AdminAccount) -> Result<(), StoreError> {
        let r = self.c.execute(
            &format!("INSERT INTO admin_account ({ACCOUNT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![
                a.name.as_str(),
                a.role.as_str(),
                a.password_hash,
                a.failed_attempts,
                a.locked_until.map(|t| t.0),
                a.created.0
            ],
        );
        match r {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists {
                kind: ACCOUNT,
                name: a.name.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    fn update_account(&self, a: &AdminAccount) -> Result<(), StoreError> {
        let n = self.c.execute(
            "UPDATE admin_account SET role = ?2, password_hash = ?3, failed_attempts = ?4, locked_until_ms = ?5 WHERE name = ?1",
            params![
                a.name.as_str(),
                a.role.as_str(),
                a.password_hash,
                a.failed_attempts,
                a.locked_until.map(|t| t.0)
            ],
        )?;
        one_row(n, ACCOUNT, a.name.as_str())
    }

    fn delete_account(&self, name: &str) -> Result<(), StoreError> {
        let n = self
            .c
            .execute("DELETE FROM admin_account WHERE name = ?1", [name])?;
        one_row(n, ACCOUNT, name)
    }

    fn insert_token(&self, t: &ApiToken) -> Result<(), StoreError> {
        self.c.execute(
            "INSERT INTO api_token (id, secret_sha256, owner, role, description, created_ms, expires_ms, last_used_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                t.id,
                t.secret_sha256,
                t.owner.as_str(),
                t.role.as_str(),
                t.description,
                t.created.0,
                t.expires.map(|x| x.0),
                t.last_used.map(|x| x.0)
            ],
        )?;
        Ok(())
    }

    fn tokens(&self, owner: Option<&str>) -> Result<Vec<ApiToken>, StoreError> {
        let mut st = self.c.prepare(&format!(
            "SELECT {TOKEN_COLS} FROM api_token t WHERE ?1 IS NULL OR t.owner = ?1 ORDER BY t.owner, t.created_ms"
        ))?;
        let rows = st
            .query_map([owner], row_token)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn token_by_secret(&self, sha256: &str) -> Result<Option<TokenOwner>, StoreError> {
        Ok(self
            .c
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLS}, a.role FROM api_token t JOIN admin_account a ON a.name = t.owner WHERE t.secret_sha256 = ?1"
            ))?
            .query_row([sha256], |r| {
                Ok(TokenOwner {
                    token: row_token(r)?,
                    owner_role: parse_col(r.get(8)?, 8)?,
                })
            })
            .optional()?)
    }

    fn delete_token(&self, id: &str) -> Result<(), StoreError> {
        let n = self
            .c
            .execute("DELETE FROM api_token WHERE id = ?1", [id])?;
        one_row(n, TOKEN, id)
    }

    fn touch_token(&self, id: &str, now: UnixMillis) -> Result<(), StoreError> {
        self.c.execute(
            "UPDATE api_token SET last_used_ms = ?2 WHERE id = ?1",
            params![id, now.0],
        )?;
        Ok(())
    }

    fn insert_session(&self, s: &SessionRow) -> Result<(), StoreError> {
        self.c.execute(
            &format!("INSERT INTO admin_session ({SESSION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![
                s.secret_sha256,
                s.account.as_str(),
                s.csrf,
                s.created.0,
                s.expires.0,
                s.last_seen.0
            ],
        )?;
        Ok(())
    }

    fn session(&self, sha256: &str) -> Result<Option<SessionRow>, StoreError> {
        Ok(self
            .c
            .prepare_cached(&format!(
                "SELECT {SESSION_COLS} FROM admin_session WHERE secret_sha256 = ?1"
            ))?
            .query_row([sha256], row_session)
            .optional()?)
    }

    fn touch_session(&self, sha256: &str, now: UnixMillis) -> Result<(), StoreError> {
        self.c.execute(
            "UPDATE admin_session SET last_seen_ms = ?2 WHERE secret_sha256 = ?1",
            params![sha256, now.0],
        )?;
        Ok(())
    }

    fn delete_session(&self, sha256: &str) -> Result<(), StoreError> {
        self.c.execute(
            "DELETE FROM admin_session WHERE secret_sha256 = ?1",
            [sha256],
        )?;
        Ok(())
    }

    fn purge_sessions(&self, now: UnixMillis) -> Result<(), StoreError> {
        self.c
            .execute("DELETE FROM admin_session WHERE expires_ms < ?1", [now.0])?;
        Ok(())
    }
}
