//! The claim engine: the one way a device is claimed for a user, whichever front end asks (the
//! IVR, the phone's screen, the HTTP API, activation codes). It checks the caller's
//! credentials under the lockout policy, previews what a claim would do, and claims the device in
//! one transaction with the assign rules of [`selfprov_provisioning::rules`], writing one audit
//! entry per outcome, success or failure, so rules, codes and audit cannot differ between front
//! ends.

use crate::object::Object;
use crate::registry::DnHint;
use crate::Actor;
use selfprov_provisioning::model::{
    expand_pattern, AuditEntry, AuditKind, Device, EndUser, SelfServiceId, UserId, UserProfile,
};
use selfprov_provisioning::rules::{check_device, evaluate, AssignContext};
use selfprov_provisioning::secret::SecretHash;
use selfprov_provisioning::settings::{CredentialPolicy, SelfProvisioningSettings};
use selfprov_provisioning::store::{Store, StoreError, StoreExt, Tx, UnixMillis};
use selfprov_provisioning::{AssignError, AssignmentPreview, AuthMode, OutcomeCode};
use serde::Serialize;
use std::sync::Arc;

/// Failed attempts from any devices that lock a user everywhere, as a multiple of
/// `failed_attempts_threshold` (which locks one calling device). See [`ClaimEngine::authenticate`].
pub const USER_WIDE_FACTOR: u32 = 4;

/// A caller whose credentials were accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthenticatedUser {
    pub user_id: UserId,
    /// True when the administrator authentication code was used instead of the user's PIN.
    pub via_auth_code: bool,
}

/// Result of a successful claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AssignOutcome {
    Assigned(AssignmentPreview),
    /// The device already belonged to this user; nothing changed.
    AlreadyAssigned(AssignmentPreview),
}

/// Who claims, and through what: recorded in the audit entry.
#[derive(Debug, Clone)]
pub struct ClaimContext {
    pub actor: Actor,
    /// The SIP Call-ID of an IVR call; empty otherwise.
    pub call_id: String,
}

impl ClaimContext {
    pub fn ivr(call_id: &str) -> Self {
        ClaimContext {
            actor: Actor::ivr(),
            call_id: call_id.to_owned(),
        }
    }
    /// The on-screen claim of a phone (its idle URL): the device itself is the one that
    /// authenticated the request, recorded in the audit entry's device.
    pub fn screen() -> Self {
        ClaimContext {
            actor: Actor::screen(),
            call_id: String::new(),
        }
    }
    pub fn by(actor: &Actor) -> Self {
        ClaimContext {
            actor: actor.clone(),
            call_id: String::new(),
        }
    }
}

/// See the module documentation.
pub struct ClaimEngine {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) dn_hint: DnHint,
    pub(crate) new_devices: crate::unclaimed::NewDeviceRate,
    pub(crate) seen_writes: crate::unclaimed::SeenWrites,
    /// How activation codes are hashed and how long they last ([`crate::activation`]).
    pub(crate) codes: std::sync::RwLock<Option<crate::activation::CodeSettings>>,
}

/// What the rules look at, loaded in one transaction.
struct Loaded {
    user: EndUser,
    profile: Option<UserProfile>,
    device: Option<Device>,
    owned: u32,
}

impl Loaded {
    fn evaluate(&self) -> Result<AssignmentPreview, AssignError> {
        evaluate(&AssignContext {
            user: &self.user,
            profile: self.profile.as_ref(),
            device: self.device.as_ref(),
            owned: self.owned,
        })
    }
}

/// Load the user, their profile (or the system default), the device and how many devices the
/// user owns. An unknown user is `InvalidCredentials` (the inner result).
fn load(
    tx: &dyn Tx,
    device: &str,
    user_id: &UserId,
) -> Result<Result<Loaded, AssignError>, StoreError> {
    let Some(user) = tx.user(user_id.as_str())? else {
        return Ok(Err(AssignError::InvalidCredentials));
    };
    let profile = match &user.user_profile {
        Some(p) => tx.profile(p.as_str())?,
        None => tx.default_profile()?,
    };
    Ok(Ok(Loaded {
        device: tx.device(device)?,
        owned: tx.owned_count(user_id.as_str())?,
        profile,
        user,
    }))
}

pub(crate) fn internal(e: StoreError) -> AssignError {
    match e {
        StoreError::Unavailable(_) => AssignError::Unavailable(e.to_string()),
        e => AssignError::Internal(e.to_string()),
    }
}

impl ClaimEngine {
    pub fn new(store: Arc<dyn Store>) -> Self {
        ClaimEngine {
            store,
            dn_hint: DnHint::default(),
            new_devices: Default::default(),
            seen_writes: Default::default(),
            codes: Default::default(),
        }
    }

    /// Check a caller's self-service ID and secret (PIN, or the authentication code in
    /// `users_and_admins` mode) under the credential policy. Unknown IDs and wrong secrets give the
    /// same answer after the same work; a locked account answers `AccountLocked` after the same
    /// work too (front ends make it sound like a wrong secret to the caller; the audit keeps it).
    ///
    /// Failed attempts count per user **and per calling device** (`device`, when the front end
    /// knows it): `failed_attempts_threshold` failures from one device lock the user out of that
    /// device only, so a stranger's guesses from their own phone cannot keep the user out of the
    /// phone the user is at; [`USER_WIDE_FACTOR`] times as many failures from any devices lock
    /// the user everywhere (the ceiling on guesses however many phones a stranger has). Without a
    /// device, the threshold applies to the user directly. Success clears the user's count and
    /// that device's (`reset_on_success`).
    pub fn authenticate(
        &self,
        self_service_id: &str,
        secret: Option<&str>,
        device: Option<&str>,
        settings: &SelfProvisioningSettings,
        policy: &CredentialPolicy,
        now: UnixMillis,
    ) -> Result<AuthenticatedUser, AssignError> {
        let unknown = || {
            // Same work as a real check, so timing does not tell unknown IDs apart.
            if settings.auth_mode != AuthMode::None {
                SecretHash::verify_dummy(secret.unwrap_or(""));
            }
            AssignError::InvalidCredentials
        };
        let Ok(ssid) = self_service_id.parse::<SelfServiceId>() else {
            return Err(unknown());
        };
        let Some((c, pair)) = self
            .store
            .reading(|tx| {
                let Some(c) = tx.credentials(ssid.as_str())? else {
                    return Ok(None);
                };
                let pair = match device {
                    Some(d) => tx.device_lock_state(c.user_id.as_str(), d)?,
                    None => (0, None),
                };
                Ok(Some((c, pair)))
            })
            .map_err(internal)?
        else {
            return Err(unknown());
        };
        let (ok, via_auth_code) = match settings.auth_mode {
            AuthMode::None => (true, false),
            mode => {
                let s = secret.unwrap_or("");
                let pin_ok = match c.pin_hash.as_deref().map(str::parse::<SecretHash>) {
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
        // Checked after the secret, so a locked account takes as long to answer as any other.
        let locked = |until: Option<UnixMillis>| until.is_some_and(|t| t > now);
        if locked(c.locked_until) || locked(pair.1) {
            return Err(AssignError::AccountLocked);
        }
        let user = AuthenticatedUser {
            user_id: c.user_id.clone(),
            via_auth_code,
        };
        // A success with nothing to reset writes nothing (one durable commit less per call).
        let clean = c.failed_attempts == 0 && c.locked_until.is_none() && pair == (0, None);
        if ok && (!policy.reset_on_success || clean) {
            return Ok(user);
        }
        // Short write transaction for the counters, after the slow hash check.
        let uid = c.user_id.as_str();
        let verdict = self
            .store
            .writing(|tx| {
                if ok {
                    if policy.reset_on_success {
                        tx.set_lock_state(uid, 0, None)?;
                        if let Some(d) = device {
                            tx.set_device_lock_state(uid, d, 0, None)?;
                        }
                    }
                    return Ok(None);
                }
                let threshold = policy.failed_attempts_threshold;
                let until = Some(now.plus(policy.lockout_duration));
                let user_failed = tx.add_failed_attempt(uid)?;
                let device_failed = match device {
                    Some(d) => Some((d, tx.add_device_failure(uid, d)?)),
                    None => None,
                };
                if threshold == 0 {
                    return Ok(Some(AssignError::InvalidCredentials));
                }
                let user_limit = match device {
                    Some(_) => threshold.saturating_mul(USER_WIDE_FACTOR),
                    None => threshold,
                };
                if user_failed >= user_limit {
                    tx.set_lock_state(uid, 0, until)?;
                    return Ok(Some(AssignError::AccountLocked));
                }
                if let Some((d, n)) = device_failed {
                    if n >= threshold {
                        tx.set_device_lock_state(uid, d, 0, until)?;
                        return Ok(Some(AssignError::AccountLocked));
                    }
                }
                Ok(Some(AssignError::InvalidCredentials))
            })
            .map_err(internal)?;
        match verdict {
            None => Ok(user),
            Some(e) => Err(e),
        }
    }

    /// The rules about the calling device alone ([`check_device`]): can this phone be claimed at
    /// all? Asked before any credential.
    pub fn check_device(&self, device: &str) -> Result<(), AssignError> {
        let d = self
            .store
            .reading(|tx| tx.device(device))
            .map_err(internal)?;
        check_device(d.as_ref(), false).map(|_| ())
    }

    /// Run every assign rule without changing anything: what a claim would do.
    pub fn preview(
        &self,
        device: &str,
        user_id: &UserId,
    ) -> Result<AssignmentPreview, AssignError> {
        self.store
            .reading(|tx| load(tx, device, user_id))
            .map_err(internal)??
            .evaluate()
    }

    /// Claim the device for the user in one transaction, audited whatever the outcome. Claiming a
    /// device the user already owns changes nothing and succeeds.
    pub fn claim(
        &self,
        device: &str,
        user_id: &UserId,
        how: &ClaimContext,
        now: UnixMillis,
    ) -> Result<AssignOutcome, AssignError> {
        self.claim_or_move(device, user_id, how, now, false)
    }

    /// Move a device, claimed or not, to another user: the same rules, outcome codes and audit as
    /// a claim (a phone owned by someone else counts as free for the new owner), and a new secret.
    pub fn move_device(
        &self,
        device: &str,
        user_id: &UserId,
        how: &ClaimContext,
        now: UnixMillis,
    ) -> Result<AssignOutcome, AssignError> {
        self.claim_or_move(device, user_id, how, now, true)
    }

    fn claim_or_move(
        &self,
        device: &str,
        user_id: &UserId,
        how: &ClaimContext,
        now: UnixMillis,
        moving: bool,
    ) -> Result<AssignOutcome, AssignError> {
        self.store
            .writing(|tx| claim_in(tx, device, user_id, how, now, moving, ""))
            .map_err(internal)?
    }

    /// Audit how an attempt ended when it ended before a claim (the caller hung up, typed
    /// nothing, gave wrong credentials until the attempts ran out…).
    pub fn record_outcome(
        &self,
        how: &ClaimContext,
        device: Option<&str>,
        code: OutcomeCode,
        detail: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        let entry = AuditEntry {
            time_ms: now.0,
            kind: AuditKind::Claim,
            actor: how.actor.to_string(),
            call_id: how.call_id.clone(),
            device: device.map(str::to_owned),
            code: Some(code),
            detail: detail.to_owned(),
            ..AuditEntry::default()
        };
        self.store.writing(|tx| tx.insert_audit(&entry))
    }
}

/// Claim (or move) `device` for the user inside `tx` with the assign rules, writing the audit
/// entry of the outcome (`via` appended to its detail: how the user was recognised, e.g. an
/// activation code). The inner error is the refusal, which still commits its audit entry.
pub(crate) fn claim_in(
    tx: &dyn Tx,
    device: &str,
    user_id: &UserId,
    how: &ClaimContext,
    now: UnixMillis,
    moving: bool,
    via: &str,
) -> Result<Result<AssignOutcome, AssignError>, StoreError> {
    let mut audit = AuditEntry {
        time_ms: now.0,
        kind: AuditKind::Claim,
        actor: how.actor.to_string(),
        call_id: how.call_id.clone(),
        device: Some(device.to_owned()),
        user: Some(user_id.to_string()),
        code: Some(OutcomeCode::Success),
        ..AuditEntry::default()
    };
    let outcome = match load(tx, device, user_id)? {
        Err(e) => Err(e),
        Ok(mut ctx) => {
            // Moving: the phone is free for the new owner, whoever had it.
            let from = match ctx.device.as_mut() {
                Some(d) if moving && d.owner.as_ref() != Some(user_id) => {
                    d.auto_registered = true;
                    d.owner.take()
                }
                _ => None,
            };
            let before = tx.device(device)?;
            match (ctx.evaluate(), &ctx.device) {
                (Ok(p), _) if p.already_assigned => {
                    audit.detail = "already assigned to this user; nothing changed".into();
                    Ok(AssignOutcome::AlreadyAssigned(p))
                }
                (Ok(p), Some(d)) => {
                    let after = assigned(tx, d, &ctx.user, &p, now)?;
                    tx.update_device(&after)?;
                    // The user's line gets its own secret; the previous one stops working.
                    crate::registry::new_credential(tx, device, now)?;
                    audit.detail = match &from {
                        Some(f) => {
                            format!("moved from {f}: extension {} udt {}", p.extension, p.udt)
                        }
                        None => format!("extension {} udt {}", p.extension, p.udt),
                    };
                    audit.before = before.as_ref().map(Object::view);
                    audit.after = Some(after.view());
                    Ok(AssignOutcome::Assigned(p))
                }
                (Ok(_), None) => Err(AssignError::NotAutoregistered),
                (Err(e), _) => Err(e),
            }
        }
    };
    if let Err(e) = &outcome {
        audit.code = Some(e.code());
        audit.detail = e.to_string();
    }
    if !via.is_empty() {
        audit.detail = format!("{}; {via}", audit.detail);
    }
    tx.insert_audit(&audit)?;
    Ok(outcome)
}

/// The device as it is after the claim: the user's extension and templates, no longer
/// auto-registered, described by the UDT's pattern.
fn assigned(
    tx: &dyn Tx,
    d: &Device,
    user: &EndUser,
    p: &AssignmentPreview,
    now: UnixMillis,
) -> Result<Device, StoreError> {
    let pattern = tx
        .udt(p.udt.as_str())?
        .map(|u| u.description_pattern)
        .unwrap_or_default();
    let description = if pattern.is_empty() {
        format!("{} {} ({})", user.first_name, user.last_name, d.model)
    } else {
        expand_pattern(&pattern, user, d, &p.extension)
    };
    let after = Device {
        owner: Some(user.user_id.clone()),
        dn: Some(p.extension.clone()),
        auto_registered: false,
        udt: Some(p.udt.to_string()),
        ult: p.ult.as_ref().map(|u| u.to_string()),
        description,
        updated_at: now.0 / 1000,
        ..d.clone()
    };
    Ok(after)
}
