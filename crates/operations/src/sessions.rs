//! Console sessions: after a login, the browser holds a random session secret in a cookie; only
//! its SHA-256 is stored, with the account, an anti-CSRF token the console sends back with every
//! change, and the session's expiry (absolute, and after a time without use). Stored in the
//! database so that every node sharing it, and a restarted service, knows the session.

use crate::accounts::{Principal, Via};
use crate::secrets::{hex, sha256_hex};
use crate::{OpError, Operations};
use selfprov_provisioning::accounts::SessionRow;
use selfprov_provisioning::model::AccountName;
use selfprov_provisioning::store::{StoreExt, UnixMillis};
use std::time::Duration;

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// From the login, whatever happens.
    pub lifetime: Duration,
    /// Without a request.
    pub idle: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            lifetime: Duration::from_secs(8 * 3600),
            idle: Duration::from_secs(30 * 60),
        }
    }
}

/// A session just opened: the cookie's value and the anti-CSRF token, to hand to the browser.
#[derive(Clone)]
pub struct OpenedSession {
    pub secret: String,
    pub csrf: String,
    pub expires: UnixMillis,
}

impl std::fmt::Debug for OpenedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedSession")
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// How often a session's last use is written (not at every request).
const TOUCH_EVERY: Duration = Duration::from_secs(60);

impl Operations {
    /// Open a session for an account that has just logged in.
    pub fn open_session(
        &self,
        account: &str,
        policy: &SessionPolicy,
        now: UnixMillis,
    ) -> Result<OpenedSession, OpError> {
        let account: AccountName = crate::field::parse("name", account)?;
        let secret = hex(&rand::random::<[u8; 32]>());
        let csrf = hex(&rand::random::<[u8; 16]>());
        let row = SessionRow {
            secret_sha256: sha256_hex(&secret),
            account,
            csrf: csrf.clone(),
            created: now,
            expires: now.plus(policy.lifetime),
            last_seen: now,
        };
        self.store.writing(|tx| {
            tx.purge_sessions(now)?;
            tx.insert_session(&row)
        })?;
        Ok(OpenedSession {
            secret,
            csrf,
            expires: row.expires,
        })
    }

    /// The administrator behind a session cookie, if the session is open; the role is the
    /// account's current one.
    pub fn authenticate_session(
        &self,
        secret: &str,
        policy: &SessionPolicy,
        now: UnixMillis,
    ) -> Result<Option<Principal>, OpError> {
        if secret.len() != 64 {
            return Ok(None);
        }
        let hash = sha256_hex(secret);
        let found = self.store.reading(|tx| {
            let Some(s) = tx.session(&hash)? else {
                return Ok(None);
            };
            Ok(tx.account(s.account.as_str())?.map(|a| (s, a.role)))
        })?;
        let Some((s, role)) = found else {
            return Ok(None);
        };
        if s.expires <= now || now.0 - s.last_seen.0 >= policy.idle.as_millis() as i64 {
            self.store.writing(|tx| tx.delete_session(&hash))?;
            return Ok(None);
        }
        if now.0 - s.last_seen.0 >= TOUCH_EVERY.as_millis() as i64 {
            self.store.writing(|tx| tx.touch_session(&hash, now))?;
        }
        Ok(Some(Principal {
            name: s.account,
            role,
            via: Via::Session { csrf: s.csrf },
        }))
    }

    /// Log out: the session stops working at once.
    pub fn close_session(&self, secret: &str) -> Result<(), OpError> {
        let hash = sha256_hex(secret);
        Ok(self.store.writing(|tx| tx.delete_session(&hash))?)
    }
}
