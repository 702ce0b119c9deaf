//! Administrator accounts: who may administer selfprov through the HTTP API and the console, with
//! which [`Role`], and what each role may do ([`Action`]). Passwords are Argon2id hashes
//! ([`SecretHash::hash_password`]); a login is checked under the same lockout policy as users'
//! PINs (so many wrong passwords in a row lock the account for a while). Creating, deleting and
//! changing an account is audited like any other change; the password never is.

use crate::object::Object;
use crate::{Actor, OpError, Operations};
use rand::Rng;
use selfprov_provisioning::accounts::{AdminAccount, Role};
use selfprov_provisioning::model::{AccountName, FieldError};
use selfprov_provisioning::secret::SecretHash;
use selfprov_provisioning::settings::CredentialPolicy;
use selfprov_provisioning::store::{StoreError, StoreExt, Tx, UnixMillis};
use serde::Serialize;
use serde_json::json;

/// What a request does, as far as roles are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read anything (every role).
    Read,
    /// Unlock a user, reset a PIN, release or move a phone (helpdesk and administrators).
    Helpdesk,
    /// Every other change: objects, settings, import, accounts, tokens (administrators).
    Administer,
}

impl Action {
    /// The least role that may do this.
    pub fn needs(self) -> Role {
        match self {
            Action::Read => Role::ReadOnly,
            Action::Helpdesk => Role::Helpdesk,
            Action::Administer => Role::Administrator,
        }
    }
}

/// How a caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// An API token (its public id).
    Token(String),
    /// A console session, with its anti-CSRF token.
    Session { csrf: String },
    /// The command line on the database's own machine, calling the API in process (never over
    /// the network): audited as the operating-system user it runs as (`cli:<user>`).
    Local(Actor),
}

/// An authenticated administrator: their account, the role in force and how they came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: AccountName,
    pub role: Role,
    pub via: Via,
}

impl Principal {
    pub fn may(&self, action: Action) -> bool {
        self.role >= action.needs()
    }
    /// Who the audit log names: `api:<account>`, or the command line's `cli:<user>`.
    pub fn actor(&self) -> Actor {
        match &self.via {
            Via::Local(actor) => actor.clone(),
            _ => Actor::named("api", self.name.as_str()),
        }
    }

    /// The command line acting on the database it can open: an administrator, as `actor`.
    pub fn local(actor: Actor) -> Principal {
        // The account name is only used where an account acts on its own (its tokens, its
        // password); the command line names accounts explicitly.
        let name = actor
            .as_str()
            .rsplit(':')
            .next()
            .and_then(|n| n.parse().ok())
            .or_else(|| "cli".parse().ok());
        let Some(name) = name else {
            unreachable!("`cli` is a valid account name")
        };
        Principal {
            name,
            role: Role::Administrator,
            via: Via::Local(actor),
        }
    }
}

/// An account as shown (never its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountView {
    pub name: String,
    pub role: Role,
    pub failed_attempts: u32,
    pub locked_until_ms: Option<i64>,
    pub created_ms: i64,
}

impl From<&AdminAccount> for AccountView {
    fn from(a: &AdminAccount) -> Self {
        AccountView {
            name: a.name.to_string(),
            role: a.role,
            failed_attempts: a.failed_attempts,
            locked_until_ms: a.locked_until.map(|t| t.0),
            created_ms: a.created.0,
        }
    }
}

/// Why a login failed. Unknown names and wrong passwords give the same answer after the same
/// work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("wrong account name or password")]
    Invalid,
    #[error("account locked after too many failed logins; try again later")]
    Locked { until: UnixMillis },
    #[error(transparent)]
    Internal(#[from] OpError),
}

/// The first administrator's name.
pub const FIRST_ADMIN: &str = "admin";

/// Shortest password an administrator may choose.
pub const PASSWORD_MIN: usize = 12;
const PASSWORD_MAX: usize = 256;

/// A password: 12 to 256 characters, no control characters. Never echoed in the error.
pub fn check_password(p: &str) -> Result<(), FieldError> {
    let n = p.chars().count();
    if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&n) {
        return Err(FieldError::new(
            "password",
            format!("must be {PASSWORD_MIN} to {PASSWORD_MAX} characters"),
        ));
    }
    if p.chars().any(char::is_control) {
        return Err(FieldError::new(
            "password",
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// A random password (for the first administrator): 20 letters and digits.
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

fn hash_password(p: &str) -> Result<String, OpError> {
    check_password(p)?;
    SecretHash::hash_password(p)
        .map(|h| h.as_phc().to_owned())
        .map_err(|e| OpError::Store(StoreError::Database(e.to_string())))
}

impl Object for AdminAccount {
    const KIND: &'static str = "account";
    const LABEL: &'static str = "administrator account";
    fn key(&self) -> String {
        self.name.to_string()
    }
    fn load(tx: &dyn Tx, key: &str) -> Result<Option<Self>, StoreError> {
        tx.account(key)
    }
    fn insert(&self, tx: &dyn Tx) -> Result<(), StoreError> {
        tx.insert_account(self)
    }
    fn update(&self, tx: &dyn Tx) -> Result<(), StoreError> {
        tx.update_account(self)
    }
    fn remove(tx: &dyn Tx, key: &str) -> Result<(), StoreError> {
        tx.delete_account(key)
    }
    /// Name and role; the lockout counters change with every login and are not an edit.
    fn view(&self) -> serde_json::Value {
        json!({"name": self.name.as_str(), "role": self.role})
    }
}

impl Operations {
    pub fn create_account(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        password: &str,
    ) -> Result<AccountView, OpError> {
        let a = AdminAccount {
            name: crate::field::parse("name", name)?,
            role,
            password_hash: hash_password(password)?,
            failed_attempts: 0,
            locked_until: None,
            created: UnixMillis::now(),
        };
        Ok(AccountView::from(&self.create_object(actor, a)?))
    }

    pub fn accounts(&self) -> Result<Vec<AccountView>, OpError> {
        let all = self.store.reading(|tx| tx.accounts())?;
        Ok(all.iter().map(AccountView::from).collect())
    }

    pub fn account(&self, name: &str) -> Result<AccountView, OpError> {
        Ok(AccountView::from(&self.get_object::<AdminAccount>(name)?))
    }

    /// Whether any administrator account exists (the first start creates one when none does).
    pub fn has_accounts(&self) -> Result<bool, OpError> {
        Ok(!self.store.reading(|tx| tx.accounts())?.is_empty())
    }

    /// At the first start (no account at all): create the administrator `admin` with a random
    /// password written to `file` (readable by its owner only), never to the log. Returns the
    /// account's name when it made one.
    pub fn create_first_administrator(
        &self,
        file: &std::path::Path,
    ) -> Result<Option<String>, String> {
        if self.has_accounts().map_err(|e| e.to_string())? {
            return Ok(None);
        }
        let password = random_password();
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        // A file left from an earlier database holds a password that no longer exists.
        let _ = std::fs::remove_file(file);
        crate::secrets::write_private(file, &password)
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        self.create_account(
            &Actor::system(),
            FIRST_ADMIN,
            Role::Administrator,
            &password,
        )
        .map_err(|e| e.to_string())?;
        Ok(Some(FIRST_ADMIN.to_owned()))
    }

    /// Delete an account with its tokens and sessions. The last administrator cannot be deleted:
    /// nobody could administer selfprov through the API any more.
    pub fn delete_account(&self, actor: &Actor, name: &str) -> Result<(), OpError> {
        self.keep_an_administrator(name, None)?;
        self.delete_object::<AdminAccount>(actor, name)
    }

    /// Change an account's role (its tokens' roles are capped by it from the next request on).
    pub fn set_account_role(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
    ) -> Result<AccountView, OpError> {
        self.keep_an_administrator(name, Some(role))?;
        let a = self.change_object(actor, name, "update", |_, mut a: AdminAccount| {
            a.role = role;
            Ok(a)
        })?;
        Ok(AccountView::from(&a))
    }

    /// A new password (which also clears a lockout).
    pub fn set_password(&self, actor: &Actor, name: &str, password: &str) -> Result<(), OpError> {
        let hash = hash_password(password)?;
        self.change_object(actor, name, "set_password", |_, mut a: AdminAccount| {
            a.password_hash = hash.clone();
            a.failed_attempts = 0;
            a.locked_until = None;
            Ok(a)
        })?;
        Ok(())
    }

    /// Clear a lockout.
    pub fn unlock_account(&self, actor: &Actor, name: &str) -> Result<AccountView, OpError> {
        let a = self.change_object(actor, name, "unlock", |_, mut a: AdminAccount| {
            a.failed_attempts = 0;
            a.locked_until = None;
            Ok(a)
        })?;
        Ok(AccountView::from(&a))
    }

    /// Refuse to delete or demote the last administrator.
    fn keep_an_administrator(&self, name: &str, new_role: Option<Role>) -> Result<(), OpError> {
        if new_role == Some(Role::Administrator) {
            return Ok(());
        }
        let all = self.store.reading(|tx| tx.accounts())?;
        let others = all
            .iter()
            .filter(|a| a.role == Role::Administrator && a.name.as_str() != name)
            .count();
        let is_admin = all
            .iter()
            .any(|a| a.role == Role::Administrator && a.name.as_str() == name);
        if is_admin && others == 0 {
            return Err(FieldError::new(
                "name",
                format!("`{name}` is the last administrator; create another one first"),
            )
            .into());
        }
        Ok(())
    }

    /// Check an account's password under the lockout policy. A success with nothing to reset
    /// writes nothing.
    pub fn login(
        &self,
        name: &str,
        password: &str,
        policy: &CredentialPolicy,
        now: UnixMillis,
    ) -> Result<AccountView, LoginError> {
        let Some(a) = self
            .store
            .reading(|tx| tx.account(name))
            .map_err(OpError::from)?
        else {
            SecretHash::verify_dummy_password(password);
            return Err(LoginError::Invalid);
        };
        if let Some(until) = a.locked_until.filter(|t| *t > now) {
            return Err(LoginError::Locked { until });
        }
        let ok = match a.password_hash.parse::<SecretHash>() {
            Ok(h) => h.verify(password),
            Err(_) => {
                SecretHash::verify_dummy_password(password);
                false
            }
        };
        if ok && (!policy.reset_on_success || (a.failed_attempts == 0 && a.locked_until.is_none()))
        {
            return Ok(AccountView::from(&a));
        }
        self.store
            .writing(|tx| {
                let Some(mut cur) = tx.account(name)? else {
                    return Ok(Err(LoginError::Invalid));
                };
                if ok {
                    cur.failed_attempts = 0;
                    cur.locked_until = None;
                    tx.update_account(&cur)?;
                    return Ok(Ok(AccountView::from(&cur)));
                }
                cur.failed_attempts = cur.failed_attempts.saturating_add(1);
                let locked = policy.failed_attempts_threshold > 0
                    && cur.failed_attempts >= policy.failed_attempts_threshold;
                if locked {
                    cur.failed_attempts = 0;
                    cur.locked_until = Some(now.plus(policy.lockout_duration));
                }
                tx.update_account(&cur)?;
                Ok(Err(match cur.locked_until {
                    Some(until) if locked => LoginError::Locked { until },
                    _ => LoginError::Invalid,
                }))
            })
            .map_err(OpError::from)?
    }
}
