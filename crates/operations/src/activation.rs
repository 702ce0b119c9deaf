//! Activation codes (CUCM 12.5+ onboarding; docs/activation-codes.md). An administrator prepares a
//! phone for a user — one device by its name (MAC), or one model, bound to the first phone of
//! that model that uses the code — and gets a single-use 16-digit code, shown once. The user
//! types it on the phone instead of a user ID and PIN, and the phone is claimed through the same
//! claim engine ([`crate::claim::claim_in`]: rules, outcome codes, audit) in the transaction that
//! marks the code used.
//!
//! A code is found by its HMAC-SHA-256 under a key derived from the install's secret key file
//! (and kept sealed beside it for its user's self-care: [`crate::code_seal`]): 16 digits are only 53 bits, which an unkeyed hash of a stolen database would give up
//! to a GPU in days; the key is not in the database. A slow hash (Argon2) would cost every
//! attempt its time and rule out finding the code by its hash (docs/decisions.md).
//!
//! Wrong codes name no user, so they count against the calling device: the credential policy's
//! `failed_attempts_threshold` wrong codes (5 when lockout is off: a code can always be guessed
//! otherwise) lock that device out of codes for `lockout_duration` (15 minutes when zero).

use crate::audit::{change_entry, ChangeOf};
use crate::claim::{claim_in, internal, AssignOutcome, ClaimContext, ClaimEngine};
use crate::secrets::hex;
use crate::{Actor, OpError, Operations};
use hmac::{Hmac, Mac};
use rand::Rng;
use selfprov_provisioning::activation::{ActivationCode, CodeState, CodeTarget};
use selfprov_provisioning::model::{
    model_class, AuditEntry, AuditKind, DeviceName, FieldError, UserId,
};
use selfprov_provisioning::settings::CredentialPolicy;
use selfprov_provisioning::store::{StoreError, StoreExt, Tx, UnixMillis};
use selfprov_provisioning::AssignError;
use serde::Serialize;
use sha2::Sha256;
use std::time::Duration;

/// Digits in a code.
pub const CODE_DIGITS: usize = 16;
/// How long a code lasts unless configured (`self_provisioning.activation_code_lifetime`).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(7 * 86_400);
/// Wrong codes from one device before it is locked out, when the policy's lockout is off.
const FALLBACK_THRESHOLD: u32 = 5;
const FALLBACK_LOCKOUT: Duration = Duration::from_secs(15 * 60);

/// The key codes are hashed with, and how long a new code lasts.
#[derive(Clone)]
pub struct CodeSettings {
    /// Derive it with [`crate::DeviceSecrets::derive_key`]`(b"activation code")`: every node
    /// holding the install's key file then finds the same codes.
    pub key: [u8; 32],
    /// The key codes are sealed with for their user's self-care (derived likewise).
    pub seal_key: [u8; 32],
    pub lifetime: Duration,
}

impl Default for CodeSettings {
    /// A key of zeros (tests); the service and the command line set the install's.
    fn default() -> Self {
        CodeSettings {
            key: [0; 32],
            seal_key: [1; 32],
            lifetime: DEFAULT_LIFETIME,
        }
    }
}

impl CodeSettings {
    /// The install's settings: the key derived from its secret key file.
    pub fn of(secrets: &crate::DeviceSecrets, lifetime: Duration) -> CodeSettings {
        CodeSettings {
            key: secrets.derive_key(b"activation code"),
            seal_key: secrets.derive_key(b"activation code seal"),
            lifetime,
        }
    }

    fn hash(&self, code: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            unreachable!("HMAC takes keys of any length")
        };
        mac.update(b"selfprov activation code v1\0");
        mac.update(code.as_bytes());
        hex(&mac.finalize().into_bytes())
    }
}

/// What an administrator asks for: a user, and a device name or a model.
#[derive(Debug, Clone, Default)]
pub struct CodeRequest {
    pub user_id: String,
    pub device: Option<String>,
    pub model: Option<String>,
    /// Default: the configured lifetime.
    pub lifetime: Option<Duration>,
}

/// A code as listed: never the code, never its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeView {
    pub id: String,
    pub user_id: String,
    /// For this device only…
    pub device: Option<String>,
    /// …or for the first phone of this model.
    pub model: Option<String>,
    pub state: CodeState,
    pub created_by: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub used_ms: Option<i64>,
    /// The phone that used it.
    pub used_by: Option<String>,
    pub revoked_ms: Option<i64>,
}

impl CodeView {
    fn of(c: &ActivationCode, now: UnixMillis) -> CodeView {
        let (device, model) = c.target.parts();
        CodeView {
            id: c.id.clone(),
            user_id: c.user_id.to_string(),
            device,
            model,
            state: c.state(now),
            created_by: c.created_by.clone(),
            created_ms: c.created.0,
            expires_ms: c.expires.0,
            used_ms: c.used.as_ref().map(|u| u.0 .0),
            used_by: c.used.as_ref().map(|u| u.1.clone()),
            revoked_ms: c.revoked.map(|t| t.0),
        }
    }
    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// A code just issued: the only time the code itself is shown.
#[derive(Clone, Serialize)]
pub struct NewCode {
    #[serde(flatten)]
    pub view: CodeView,
    /// 16 digits.
    pub code: String,
}

impl std::fmt::Debug for NewCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCode")
            .field("view", &self.view)
            .field("code", &"<redacted>")
            .finish()
    }
}

/// 16 digits from the operating system's CSPRNG (each digit uniform: `gen_range` rejects).
fn new_code() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..CODE_DIGITS)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// The digits of a typed code (spaces and dashes as printed are ignored), if it has the shape of
/// one.
fn digits_of(typed: &str) -> Option<String> {
    let d: String = typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    (d.len() == CODE_DIGITS && d.bytes().all(|b| b.is_ascii_digit())).then_some(d)
}

fn audit_of(
    c: &CodeView,
    actor: &Actor,
    action: &str,
    before: bool,
    now: UnixMillis,
) -> AuditEntry {
    let (b, a) = if before {
        (Some(c.json()), None)
    } else {
        (None, Some(c.json()))
    };
    change_entry(
        actor,
        ChangeOf {
            object_kind: "activation_code",
            object: &c.id,
            action,
            device: c.device.clone(),
            user: Some(c.user_id.clone()),
        },
        b,
        a,
        now,
    )
}

impl Operations {
    /// Issue a code for a user and a device (by name) or a model. The code is in the answer and
    /// nowhere else.
    pub fn issue_activation_code(
        &self,
        actor: &Actor,
        req: &CodeRequest,
        now: UnixMillis,
    ) -> Result<NewCode, OpError> {
        let target = match (&req.device, &req.model) {
            (Some(d), None) => {
                let name: DeviceName = d.parse()?;
                CodeTarget::Device(name.to_string())
            }
            (None, Some(m)) if model_class(m).is_some() => CodeTarget::Model(m.clone()),
            (None, Some(m)) => {
                return Err(FieldError::new("model", format!("unknown phone model `{m}`")).into())
            }
            _ => {
                return Err(
                    FieldError::new("device", "give either a device name or a model").into(),
                )
            }
        };
        let user_id: UserId = req.user_id.parse()?;
        let settings = self.claims().code_settings();
        let lifetime = req.lifetime.unwrap_or(settings.lifetime);
        if lifetime.is_zero() {
            return Err(FieldError::new("lifetime", "must be more than zero").into());
        }
        let code = new_code();
        let id = hex(&rand::random::<[u8; 6]>());
        let row = ActivationCode {
            sealed: Some(crate::code_seal::seal(&settings.seal_key, &id, &code)),
            id,
            code_hash: settings.hash(&code),
            user_id,
            target,
            created_by: actor.to_string(),
            created: now,
            expires: now.plus(lifetime),
            used: None,
            revoked: None,
        };
        let view = CodeView::of(&row, now);
        self.store.writing(|tx| {
            if tx.user(row.user_id.as_str())?.is_none() {
                return Err(StoreError::NotFound {
                    kind: "user",
                    name: row.user_id.to_string(),
                });
            }
            tx.insert_activation_code(&row)?;
            tx.insert_audit(&audit_of(&view, actor, "issue", false, now))
        })?;
        Ok(NewCode { view, code })
    }

    /// A user's codes still usable at `now`, each with the code itself (unsealed), newest first:
    /// what the user's self-care shows. Codes issued before codes were sealed, or sealed under
    /// another key (the key file was replaced), are left out.
    pub fn self_care_codes(&self, user: &UserId, now: UnixMillis) -> Result<Vec<NewCode>, OpError> {
        let settings = self.claims().code_settings();
        let codes = self
            .store
            .reading(|tx| tx.activation_codes(user.as_str()))?;
        Ok(codes
            .iter()
            .filter(|c| c.state(now) == CodeState::Pending)
            .filter_map(|c| {
                let code =
                    crate::code_seal::unseal(&settings.seal_key, &c.id, c.sealed.as_deref()?)?;
                (settings.hash(&code) == c.code_hash).then(|| NewCode {
                    view: CodeView::of(c, now),
                    code,
                })
            })
            .collect())
    }

    /// A user's codes, newest first, with their state at `now`.
    pub fn activation_codes(
        &self,
        user_id: &str,
        now: UnixMillis,
    ) -> Result<Vec<CodeView>, OpError> {
        let rows = self.store.reading(|tx| {
            if tx.user(user_id)?.is_none() {
                return Err(StoreError::NotFound {
                    kind: "user",
                    name: user_id.to_owned(),
                });
            }
            tx.activation_codes(user_id)
        })?;
        Ok(rows.iter().map(|c| CodeView::of(c, now)).collect())
    }

    /// Revoke a code that has not been used: it stops working at once. Revoking a revoked or
    /// expired code changes nothing; a used one is refused (it did its work).
    pub fn revoke_activation_code(
        &self,
        actor: &Actor,
        id: &str,
        now: UnixMillis,
    ) -> Result<CodeView, OpError> {
        let view = self.store.writing(|tx| {
            let mut c = tx
                .activation_code(id)?
                .ok_or_else(|| StoreError::NotFound {
                    kind: "activation code",
                    name: id.to_owned(),
                })?;
            match c.state(now) {
                CodeState::Used => {
                    return Err(FieldError::new("id", "the code was already used").into())
                }
                CodeState::Revoked | CodeState::Expired => return Ok(CodeView::of(&c, now)),
                CodeState::Pending => {}
            }
            c.revoked = Some(now);
            tx.update_activation_code(&c)?;
            let view = CodeView::of(&c, now);
            tx.insert_audit(&audit_of(&view, actor, "revoke", true, now))?;
            Ok(view)
        })?;
        Ok(view)
    }
}

impl ClaimEngine {
    /// Set the key and lifetime of codes (at start-up).
    pub fn set_code_settings(&self, settings: CodeSettings) {
        *self.codes.write().unwrap_or_else(|p| p.into_inner()) = Some(settings);
    }

    /// A new lifetime for the codes issued from now on (a reload); the key stays.
    pub fn set_code_lifetime(&self, lifetime: Duration) {
        let mut codes = self.codes.write().unwrap_or_else(|p| p.into_inner());
        let current = codes.take().unwrap_or_default();
        *codes = Some(CodeSettings {
            lifetime,
            ..current
        });
    }

    fn code_settings(&self) -> CodeSettings {
        let codes = self.codes.read().unwrap_or_else(|p| p.into_inner());
        codes.clone().unwrap_or_default()
    }

    /// Claim the calling `device` with the code the user typed: the code is checked (it exists,
    /// is not used, expired or revoked, is for this device or this device's model), then the
    /// device is claimed for the code's user with the assign rules, and the code marked used —
    /// one transaction, one audit entry whatever the outcome. A refusal by the rules leaves the
    /// code unused. Wrong codes count toward the device's lockout (module documentation).
    pub fn claim_with_code(
        &self,
        device: &str,
        typed: &str,
        how: &ClaimContext,
        policy: &CredentialPolicy,
        now: UnixMillis,
    ) -> Result<AssignOutcome, AssignError> {
        let settings = self.code_settings();
        let hash = digits_of(typed).map(|d| settings.hash(&d));
        self.store
            .writing(|tx| {
                let refused = |e: AssignError, user: Option<&UserId>| {
                    tx.insert_audit(&AuditEntry {
                        time_ms: now.0,
                        kind: AuditKind::Claim,
                        actor: how.actor.to_string(),
                        call_id: how.call_id.clone(),
                        device: Some(device.to_owned()),
                        user: user.map(UserId::to_string),
                        code: Some(e.code()),
                        detail: format!("activation code: {e}"),
                        ..AuditEntry::default()
                    })?;
                    Ok(Err(e))
                };
                let (_, locked_until) = tx.code_failures(device)?;
                if locked_until.is_some_and(|t| t > now) {
                    return refused(AssignError::AccountLocked, None);
                }
                let found = match &hash {
                    Some(h) => tx.activation_code_by_hash(h)?,
                    None => None,
                };
                let Some(mut code) = found.filter(|c| c.revoked.is_none()) else {
                    let e = wrong_code(tx, device, policy, now)?;
                    return refused(e, None);
                };
                let user = code.user_id.clone();
                match code.state(now) {
                    CodeState::Used => return refused(AssignError::CodeUsed, Some(&user)),
                    CodeState::Expired => return refused(AssignError::CodeExpired, Some(&user)),
                    CodeState::Pending | CodeState::Revoked => {}
                }
                let fits = match &code.target {
                    CodeTarget::Device(d) => d.eq_ignore_ascii_case(device),
                    CodeTarget::Model(m) => tx
                        .device(device)?
                        .is_some_and(|d| d.model.eq_ignore_ascii_case(m)),
                };
                if !fits {
                    let what = match &code.target {
                        CodeTarget::Device(d) => d.clone(),
                        CodeTarget::Model(m) => format!("a {m}"),
                    };
                    return refused(AssignError::CodeWrongDevice(what), Some(&user));
                }
                let via = format!("activation code {}", code.id);
                let outcome = claim_in(tx, device, &user, how, now, false, &via)?;
                if outcome.is_ok() {
                    code.used = Some((now, device.to_owned()));
                    tx.update_activation_code(&code)?;
                    tx.set_code_failures(device, 0, None)?;
                }
                Ok(outcome)
            })
            .map_err(internal)?
    }
}

/// Count a wrong code against the calling device; `AccountLocked` when this one locks it.
fn wrong_code(
    tx: &dyn Tx,
    device: &str,
    policy: &CredentialPolicy,
    now: UnixMillis,
) -> Result<AssignError, StoreError> {
    let (threshold, lockout) = match policy.failed_attempts_threshold {
        0 => (FALLBACK_THRESHOLD, FALLBACK_LOCKOUT),
        n => (n, policy.lockout_duration),
    };
    let lockout = if lockout.is_zero() {
        FALLBACK_LOCKOUT
    } else {
        lockout
    };
    let failed = tx.add_code_failure(device)?;
    if failed >= threshold {
        tx.set_code_failures(device, 0, Some(now.plus(lockout)))?;
        return Ok(AssignError::AccountLocked);
    }
    Ok(AssignError::CodeInvalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sixteen_digits_and_differ() {
        let a = new_code();
        assert_eq!(a.len(), CODE_DIGITS);
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
        assert_ne!(a, new_code());
    }

    #[test]
    fn typed_codes_ignore_spaces_and_dashes_and_need_sixteen_digits() {
        assert_eq!(
            digits_of("1234 5678-9012 3456").as_deref(),
            Some("1234567890123456")
        );
        assert_eq!(digits_of("123456789012345"), None);
        assert_eq!(digits_of("12345678901234567"), None);
        assert_eq!(digits_of("123456789012345x"), None);
    }

    #[test]
    fn the_hash_depends_on_the_key() {
        let a = CodeSettings::default();
        let b = CodeSettings {
            key: [1; 32],
            ..CodeSettings::default()
        };
        assert_eq!(a.hash("1"), a.hash("1"));
        assert_ne!(a.hash("1"), b.hash("1"));
        assert_ne!(a.hash("1"), a.hash("2"));
    }
}
