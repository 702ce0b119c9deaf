//! Administrator accounts, API tokens and console sessions in PostgreSQL.

use super::rows::{col, count, one_row, parsed};
use super::PgTx;
use crate::accounts::{AdminAccount, ApiToken, SessionRow, TokenOwner};
use crate::store::columns::{ACCOUNT_COLS, SESSION_COLS, TOKEN_COLS};
use crate::store::{AccountRows, StoreError, UnixMillis};
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

const ACCOUNT: &str = "administrator account";
const TOKEN: &str = "API token";

fn millis(r: &Row, i: usize) -> Result<Option<UnixMillis>, StoreError> {
    Ok(col::<Option<i64>>(r, i)?.map(UnixMillis))
}

fn row_account(r: &Row) -> Result<AdminAccount, StoreError> {
    Ok(AdminAccount {
        name: parsed(r, 0)?,
        role: parsed(r, 1)?,
        password_hash: col(r, 2)?,
        failed_attempts: count(col(r, 3)?),
        locked_until: millis(r, 4)?,
        created: UnixMillis(col(r, 5)?),
    })
}

fn row_token(r: &Row) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: col(r, 0)?,
        secret_sha256: col(r, 1)?,
        owner: parsed(r, 2)?,
        role: parsed(r, 3)?,
        description: col(r, 4)?,
        created: UnixMillis(col(r, 5)?),
        expires: millis(r, 6)?,
        last_used: millis(r, 7)?,
    })
}

fn row_token_owner(r: &Row) -> Result<TokenOwner, StoreError> {
    Ok(TokenOwner {
        token: row_token(r)?,
        owner_role: parsed(r, 8)?,
    })
}

fn row_session(r: &Row) -> Result<SessionRow, StoreError> {
    Ok(SessionRow {
        secret_sha256: col(r, 0)?,
        account: parsed(r, 1)?,
        csrf: col(r, 2)?,
        created: UnixMillis(col(r, 3)?),
        expires: UnixMillis(col(r, 4)?),
        last_seen: UnixMillis(col(r, 5)?),
    })
}

impl AccountRows for PgTx<'_, '_> {
    fn account(&self, name: &str) -> Result<Option<AdminAccount>, StoreError> {
        self.row(
            &format!("SELECT {ACCOUNT_COLS} FROM admin_account WHERE name = $1"),
            &[&name],
            row_account,
        )
    }

    fn accounts(&self) -> Result<Vec<AdminAccount>, StoreError> {
        self.list(
            &format!("SELECT {ACCOUNT_COLS} FROM admin_account ORDER BY name"),
            &[],
            row_account,
        )
    }

    fn insert_account(&self, a: &AdminAccount) -> Result<(), StoreError> {
        let r = self.checked(
            &format!("INSERT INTO admin_account ({ACCOUNT_COLS}) VALUES ($1, $2, $3, $4, $5, $6)"),
            &[
                &a.name.as_str(),
                &a.role.as_str(),
                &a.password_hash,
                &i64::from(a.failed_attempts),
                &a.locked_until.map(|t| t.0),
                &a.created.0,
            ],
        )?;
        match r {
            Ok(_) => Ok(()),
            Err(c) if c == SqlState::UNIQUE_VIOLATION => Err(StoreError::AlreadyExists {
                kind: ACCOUNT,
                name: a.name.to_string(),
            }),
            Err(c) => Err(StoreError::Database(format!(
                "{ACCOUNT} `{}`: constraint {} failed",
                a.name,
                c.code()
            ))),
        }
    }

    fn update_account(&self, a: &AdminAccount) -> Result<(), StoreError> {
        let n = self.exec(
            "UPDATE admin_account SET role = $2, password_hash = $3, failed_attempts = $4, locked_until_ms = $5 WHERE name = $1",
            &[
                &a.name.as_str(),
                &a.role.as_str(),
                &a.password_hash,
                &i64::from(a.failed_attempts),
                &a.locked_until.map(|t| t.0),
            ],
        )?;
        one_row(n as usize, ACCOUNT, a.name.as_str())
    }

    fn delete_account(&self, name: &str) -> Result<(), StoreError> {
        let n = self.exec("DELETE FROM admin_account WHERE name = $1", &[&name])?;
        one_row(n as usize, ACCOUNT, name)
    }

    fn insert_token(&self, t: &ApiToken) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO api_token (id, secret_sha256, owner, role, description, created_ms, expires_ms, last_used_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &t.id,
                &t.secret_sha256,
                &t.owner.as_str(),
                &t.role.as_str(),
                &t.description,
                &t.created.0,
                &t.expires.map(|x| x.0),
                &t.last_used.map(|x| x.0),
            ],
        )?;
        Ok(())
    }

    fn tokens(&self, owner: Option<&str>) -> Result<Vec<ApiToken>, StoreError> {
        self.list(
            &format!(
                "SELECT {TOKEN_COLS} FROM api_token t WHERE $1::text IS NULL OR t.owner = $1 ORDER BY t.owner, t.created_ms"
            ),
            &[&owner],
            row_token,
        )
    }

    fn token_by_secret(&self, sha256: &str) -> Result<Option<TokenOwner>, StoreError> {
        self.row(
            &format!(
                "SELECT {TOKEN_COLS}, a.role FROM api_token t JOIN admin_account a ON a.name = t.owner WHERE t.secret_sha256 = $1"
            ),
            &[&sha256],
            row_token_owner,
        )
    }

    fn delete_token(&self, id: &str) -> Result<(), StoreError> {
        let n = self.exec("DELETE FROM api_token WHERE id = $1", &[&id])?;
        one_row(n as usize, TOKEN, id)
    }

    fn touch_token(&self, id: &str, now: UnixMillis) -> Result<(), StoreError> {
        self.exec(
            "UPDATE api_token SET last_used_ms = $2 WHERE id = $1",
            &[&id, &now.0],
        )?;
        Ok(())
    }

    fn insert_session(&self, s: &SessionRow) -> Result<(), StoreError> {
        self.exec(
            &format!("INSERT INTO admin_session ({SESSION_COLS}) VALUES ($1, $2, $3, $4, $5, $6)"),
            &[
                &s.secret_sha256,
                &s.account.as_str(),
                &s.csrf,
                &s.created.0,
                &s.expires.0,
                &s.last_seen.0,
            ],
        )?;
        Ok(())
    }

    fn session(&self, sha256: &str) -> Result<Option<SessionRow>, StoreError> {
        self.row(
            &format!("SELECT {SESSION_COLS} FROM admin_session WHERE secret_sha256 = $1"),
            &[&sha256],
            row_session,
        )
    }

    fn touch_session(&self, sha256: &str, now: UnixMillis) -> Result<(), StoreError> {
        self.exec(
            "UPDATE admin_session SET last_seen_ms = $2 WHERE secret_sha256 = $1",
            &[&sha256, &now.0],
        )?;
        Ok(())
    }

    fn delete_session(&self, sha256: &str) -> Result<(), StoreError> {
        self.exec(
            "DELETE FROM admin_session WHERE secret_sha256 = $1",
            &[&sha256],
        )?;
        Ok(())
    }

    fn purge_sessions(&self, now: UnixMillis) -> Result<(), StoreError> {
        self.exec("DELETE FROM admin_session WHERE expires_ms < $1", &[&now.0])?;
        Ok(())
    }
}
