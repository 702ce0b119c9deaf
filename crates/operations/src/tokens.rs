//! API tokens: long random secrets an administrator gives a script or another system. A token is
//! shown once, when it is made; only its SHA-256 is stored. It has an owner (an administrator
//! account), a role that never exceeds the owner's, and an expiry.
//!
//! Why SHA-256 and not Argon2 as for passwords: a token is 256 random bits, so nobody can guess
//! it or search for it from its hash, and a slow hash would only cost every API request the
//! Argon2 time (docs/decisions.md).

use crate::accounts::{Principal, Via};
use crate::audit::{change_entry, ChangeOf};
use crate::secrets::{hex, sha256_hex};
use crate::{Actor, OpError, Operations};
use selfprov_provisioning::accounts::{ApiToken, Role};
use selfprov_provisioning::model::{check_text, FieldError};
use selfprov_provisioning::store::{StoreError, StoreExt, UnixMillis};
use serde::Serialize;
use std::time::Duration;

/// Every token starts with this, so a leaked one is easy to recognise (secret scanners).
pub const PREFIX: &str = "spt_";

/// How often the time of a token's last use is written (not at every request).
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// A token as listed (never its secret or hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenView {
    pub id: String,
    pub owner: String,
    pub role: Role,
    pub description: String,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
}

impl From<&ApiToken> for TokenView {
    fn from(t: &ApiToken) -> Self {
        TokenView {
            id: t.id.clone(),
            owner: t.owner.to_string(),
            role: t.role,
            description: t.description.clone(),
            created_ms: t.created.0,
            expires_ms: t.expires.map(|x| x.0),
            last_used_ms: t.last_used.map(|x| x.0),
        }
    }
}

/// A token just made: the secret, to be shown once.
#[derive(Clone, Serialize)]
pub struct NewToken {
    #[serde(flatten)]
    pub token: TokenView,
    pub secret: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("token", &self.token)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What to make.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub owner: String,
    /// Default: the owner's role.
    pub role: Option<Role>,
    pub description: String,
    /// `None`: the token never expires.
    pub expires: Option<UnixMillis>,
}

fn view_json(t: &TokenView) -> serde_json::Value {
    serde_json::to_value(t).unwrap_or_default()
}

impl Operations {
    /// Make a token for `owner`. Its role may not exceed the owner's.
    pub fn create_token(
        &self,
        actor: &Actor,
        req: &TokenRequest,
        now: UnixMillis,
    ) -> Result<NewToken, OpError> {
        check_text("description", &req.description, crate::field::TEXT_MAX)?;
        if req.expires.is_some_and(|e| e <= now) {
            return Err(FieldError::new("expires", "must be in the future").into());
        }
        let id = hex(&rand::random::<[u8; 6]>());
        let secret = format!("{PREFIX}{id}_{}", hex(&rand::random::<[u8; 32]>()));
        let token = self.store.writing(|tx| {
            let owner = tx.account(&req.owner)?.ok_or_else(|| {
                FieldError::new("owner", format!("no administrator account `{}`", req.owner))
            })?;
            let role = req.role.unwrap_or(owner.role);
            if role > owner.role {
                return Err(FieldError::new(
                    "role",
                    format!(
                        "a token cannot have more rights than its owner ({})",
                        owner.role
                    ),
                )
                .into());
            }
            let t = ApiToken {
                id: id.clone(),
                secret_sha256: sha256_hex(&secret),
                owner: owner.name,
                role,
                description: req.description.clone(),
                created: now,
                expires: req.expires,
                last_used: None,
            };
            tx.insert_token(&t)?;
            let view = TokenView::from(&t);
            tx.insert_audit(&change_entry(
                actor,
                ChangeOf {
                    object_kind: "token",
                    object: &t.id,
                    action: "create",
                    device: None,
                    user: None,
                },
                None,
                Some(view_json(&view)),
                now,
            ))?;
            Ok(view)
        })?;
        Ok(NewToken { token, secret })
    }

    /// Every token, or one owner's.
    pub fn tokens(&self, owner: Option<&str>) -> Result<Vec<TokenView>, OpError> {
        let all = self.store.reading(|tx| tx.tokens(owner))?;
        Ok(all.iter().map(TokenView::from).collect())
    }

    /// Revoke (delete) a token: it stops working at once.
    pub fn revoke_token(&self, actor: &Actor, id: &str) -> Result<(), OpError> {
        self.store.writing(|tx| {
            let before = tx
                .tokens(None)?
                .into_iter()
                .find(|t| t.id == id)
                .ok_or_else(|| StoreError::NotFound {
                    kind: "API token",
                    name: id.to_owned(),
                })?;
            tx.delete_token(id)?;
            tx.insert_audit(&change_entry(
                actor,
                ChangeOf {
                    object_kind: "token",
                    object: id,
                    action: "revoke",
                    device: None,
                    user: None,
                },
                Some(view_json(&TokenView::from(&before))),
                None,
                UnixMillis::now(),
            ))
        })?;
        Ok(())
    }

    /// The administrator a token belongs to, if it is a valid, unexpired token; the role in force
    /// is the lower of the token's and its owner's.
    pub fn authenticate_token(
        &self,
        secret: &str,
        now: UnixMillis,
    ) -> Result<Option<Principal>, OpError> {
        if !secret.starts_with(PREFIX) || secret.len() > 200 {
            return Ok(None);
        }
        let hash = sha256_hex(secret);
        let Some(found) = self.store.reading(|tx| tx.token_by_secret(&hash))? else {
            return Ok(None);
        };
        let t = found.token;
        if t.expires.is_some_and(|e| e <= now) {
            return Ok(None);
        }
        if t.last_used
            .is_none_or(|u| now.0 - u.0 >= TOUCH_EVERY.as_millis() as i64)
        {
            self.store.writing(|tx| tx.touch_token(&t.id, now))?;
        }
        Ok(Some(Principal {
            name: t.owner,
            role: t.role.min(found.owner_role),
            via: Via::Token(t.id),
        }))
    }
}
