//! The self-care portal's operations (docs/self-care.md): an end user logs in with their
//! self-service ID and PIN — the claim engine's check, with the same lockout counters as the IVR —
//! then sees their phones, releases one (the administrator's release, limited to the user's own
//! phones) and changes their PIN (the PIN policy of an administrator's reset). Each action is
//! audited with the user and the source address as the actor (`self-care:jsmith@192.0.2.7`).
//! The sessions themselves are in [`crate::user_sessions`].

use crate::sessions::{OpenedSession, SessionPolicy};
use crate::{Actor, OpError, Operations};
use selfprov_provisioning::model::{AuditEntry, AuditKind, Device, EndUser, FieldError, UserId};
use selfprov_provisioning::settings::{
    AutoRegistrationSettings, CredentialPolicy, SelfProvisioningSettings,
};
use selfprov_provisioning::store::{StoreError, StoreExt, Tx, UnixMillis};
use selfprov_provisioning::{AssignError, AuthMode, OutcomeCode};

/// How users' PINs lock and how long their portal sessions last.
#[derive(Debug, Clone, Copy, Default)]
pub struct SelfCarePolicy {
    /// The IVR's credential policy (`[credential_policy]`): one lockout for both ways in.
    pub pins: CredentialPolicy,
    pub sessions: SessionPolicy,
}

/// Where a portal request comes from, and what it runs under.
#[derive(Clone, Copy)]
pub struct SelfCareContext<'a> {
    /// The client's address: the actor's and the lockout's (e.g. `192.0.2.7`).
    pub source: &'a str,
    /// The self-provisioning settings in force (the IVR's), for the PIN check.
    pub settings: &'a SelfProvisioningSettings,
    pub policy: &'a SelfCarePolicy,
    pub now: UnixMillis,
}

/// Why the portal refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelfCareError {
    /// Unknown self-service ID or wrong PIN (not said which).
    #[error("wrong self-service ID or PIN")]
    InvalidCredentials,
    #[error("too many wrong PINs: the account is locked for a while; try again later or ask the helpdesk")]
    Locked,
    /// The user's profile does not allow the portal, or the user is disabled.
    #[error("your user profile does not allow the self-care portal; ask your administrator")]
    NotAllowed,
    #[error(transparent)]
    Op(#[from] OpError),
}

impl From<StoreError> for SelfCareError {
    fn from(e: StoreError) -> Self {
        SelfCareError::Op(e.into())
    }
}

impl From<FieldError> for SelfCareError {
    fn from(e: FieldError) -> Self {
        SelfCareError::Op(e.into())
    }
}

/// The logged-in user, as the portal shows them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SelfCareUser {
    pub user_id: UserId,
    pub first_name: String,
    pub last_name: String,
    pub self_service_id: Option<String>,
    pub primary_extension: Option<String>,
}

impl From<&EndUser> for SelfCareUser {
    fn from(u: &EndUser) -> Self {
        let u = u.clone().with_default_self_service_id();
        SelfCareUser {
            user_id: u.user_id,
            first_name: u.first_name,
            last_name: u.last_name,
            self_service_id: u.self_service_id.map(|s| s.to_string()),
            primary_extension: u.primary_extension.map(|d| d.to_string()),
        }
    }
}

/// A PIN change as typed: the current PIN and the new one twice.
pub struct PinChange<'a> {
    pub old_pin: &'a str,
    pub new_pin: &'a str,
    pub new_pin_again: &'a str,
}

/// The key the lockout counts a portal's failures under, per source address (as the IVR counts
/// per calling phone): a stranger's guesses lock the stranger's address, not the user's phones.
fn lockout_key(source: &str) -> String {
    format!("self-care:{source}")
}

/// The user may use the portal: enabled, and their profile (or the system default) allows it.
pub(crate) fn allowed(tx: &dyn Tx, u: &EndUser) -> Result<bool, StoreError> {
    let profile = match &u.user_profile {
        Some(p) => tx.profile(p.as_str())?,
        None => tx.default_profile()?,
    };
    Ok(u.enabled && profile.is_some_and(|p| p.allow_self_care))
}

fn audit(
    actor: &Actor,
    user: Option<&UserId>,
    action: &str,
    code: Option<OutcomeCode>,
    detail: &str,
    now: UnixMillis,
) -> AuditEntry {
    AuditEntry {
        time_ms: now.0,
        kind: AuditKind::Change,
        actor: actor.to_string(),
        user: user.map(|u| u.to_string()),
        code,
        detail: detail.to_owned(),
        object_kind: Some("user".into()),
        object: user.map(|u| u.to_string()),
        action: Some(action.to_owned()),
        ..AuditEntry::default()
    }
}

impl Operations {
    /// The claim engine's check of a self-service ID and PIN, always with a PIN whatever the
    /// IVR's authentication mode (the portal never lets an ID alone in, nor the administrators'
    /// authentication code), counted per source address.
    fn check_user_pin(
        &self,
        self_service_id: &str,
        pin: &str,
        cx: &SelfCareContext<'_>,
    ) -> Result<UserId, AssignError> {
        let settings = SelfProvisioningSettings {
            auth_mode: AuthMode::Users,
            auth_code_hash: None,
            ..cx.settings.clone()
        };
        let key = lockout_key(cx.source);
        self.claims
            .authenticate(
                self_service_id,
                Some(pin),
                Some(&key),
                &settings,
                &cx.policy.pins,
                cx.now,
            )
            .map(|a| a.user_id)
    }

    /// Log in: the self-service ID and PIN (as `check_user_pin` checks them), then the profile,
    /// and a new session. Audited whatever the outcome.
    pub fn self_care_login(
        &self,
        self_service_id: &str,
        pin: &str,
        cx: &SelfCareContext<'_>,
    ) -> Result<(SelfCareUser, OpenedSession), SelfCareError> {
        let (source, now) = (cx.source, cx.now);
        let checked = self.check_user_pin(self_service_id, pin, cx);
        type Login = Result<(SelfCareUser, OpenedSession), SelfCareError>;
        let refused =
            |e: SelfCareError, code: Option<OutcomeCode>, user: Option<&UserId>| -> Login {
                let actor = Actor::self_care(user.map(UserId::as_str), source);
                let entry = audit(&actor, user, "self_care_login", code, &e.to_string(), now);
                self.store.writing(|tx| tx.insert_audit(&entry))?;
                Err(e)
            };
        let user_id = match checked {
            Ok(u) => u,
            Err(AssignError::InvalidCredentials) => {
                return refused(
                    SelfCareError::InvalidCredentials,
                    Some(OutcomeCode::InvalidCredentials),
                    None,
                )
            }
            Err(AssignError::AccountLocked) => {
                return refused(
                    SelfCareError::Locked,
                    Some(OutcomeCode::AccountLocked),
                    None,
                )
            }
            Err(e) => return Err(OpError::Refused(e).into()),
        };
        let (user, ok) = self.store.reading(|tx| {
            let u = tx
                .user(user_id.as_str())?
                .ok_or_else(|| crate::object::not_found::<EndUser>(user_id.as_str()))?;
            let ok = allowed(tx, &u)?;
            Ok((u, ok))
        })?;
        if !ok {
            return refused(SelfCareError::NotAllowed, None, Some(&user_id));
        }
        let opened = self.user_sessions.open(&user_id, &cx.policy.sessions, now);
        let actor = Actor::self_care(Some(user_id.as_str()), source);
        let entry = audit(
            &actor,
            Some(&user_id),
            "self_care_login",
            Some(OutcomeCode::Success),
            "logged in to self-care",
            now,
        );
        self.store.writing(|tx| tx.insert_audit(&entry))?;
        Ok((SelfCareUser::from(&user), opened))
    }

    /// The user behind a portal session cookie, while the session is open and the user may
    /// still use the portal (a profile changed or a user disabled ends their sessions).
    pub fn self_care_session(
        &self,
        secret: &str,
        policy: &SessionPolicy,
        now: UnixMillis,
    ) -> Result<Option<(SelfCareUser, String)>, OpError> {
        let Some(s) = self.user_sessions.find(secret, policy, now) else {
            return Ok(None);
        };
        let found = self.store.reading(|tx| {
            let Some(u) = tx.user(s.user_id.as_str())? else {
                return Ok(None);
            };
            Ok(allowed(tx, &u)?.then_some(u))
        })?;
        match found {
            Some(u) => Ok(Some((SelfCareUser::from(&u), s.csrf))),
            None => {
                self.user_sessions.close(secret);
                Ok(None)
            }
        }
    }

    /// Log out of the portal (audited).
    pub fn self_care_logout(
        &self,
        secret: &str,
        user: &UserId,
        source: &str,
        now: UnixMillis,
    ) -> Result<(), OpError> {
        self.user_sessions.close(secret);
        let actor = Actor::self_care(Some(user.as_str()), source);
        let entry = audit(
            &actor,
            Some(user),
            "self_care_logout",
            Some(OutcomeCode::Success),
            "logged out of self-care",
            now,
        );
        Ok(self.store.writing(|tx| tx.insert_audit(&entry))?)
    }

    /// The user's own phones, by name.
    pub fn self_care_phones(&self, user: &UserId) -> Result<Vec<Device>, OpError> {
        Ok(self.store.reading(|tx| tx.owned_devices(user.as_str()))?)
    }

    /// Release one of the user's own phones: the administrator's release (a temporary DN, the
    /// auto-registration templates, a new secret; audited as `release`), refused as "not found"
    /// for a phone the user does not own. The caller tells the phone (NOTIFY check-sync).
    pub fn self_care_release(
        &self,
        user: &UserId,
        device: &str,
        source: &str,
        settings: &AutoRegistrationSettings,
        now: UnixMillis,
    ) -> Result<Device, OpError> {
        let actor = Actor::self_care(Some(user.as_str()), source);
        self.claims
            .release_of(device, Some(user), settings, &actor, now)
    }

    /// Change the user's own PIN: the current one is checked as at login (a wrong one counts
    /// towards the lockout), the new one typed twice and held to the PIN policy. Errors name the
    /// field: `old_pin`, `new_pin`, `new_pin_again`. Audited as `change_pin`, without the PINs.
    pub fn self_care_change_pin(
        &self,
        user: &UserId,
        change: &PinChange<'_>,
        cx: &SelfCareContext<'_>,
    ) -> Result<(), SelfCareError> {
        if let Err(e) = selfprov_provisioning::model::check_pin(change.new_pin) {
            return Err(FieldError::new("new_pin", e.rule).into());
        }
        if change.new_pin != change.new_pin_again {
            return Err(FieldError::new("new_pin_again", "does not match the new PIN").into());
        }
        let u = self.user(user.as_str())?.with_default_self_service_id();
        let ssid = u.self_service_id.map(|s| s.to_string()).unwrap_or_default();
        match self.check_user_pin(&ssid, change.old_pin, cx) {
            Ok(id) if &id == user => {}
            Ok(_) | Err(AssignError::InvalidCredentials) => {
                return Err(FieldError::new("old_pin", "is not your current PIN").into())
            }
            Err(AssignError::AccountLocked) => return Err(SelfCareError::Locked),
            Err(e) => return Err(OpError::Refused(e).into()),
        }
        let actor = Actor::self_care(Some(user.as_str()), cx.source);
        self.set_pin(&actor, user.as_str(), change.new_pin, "change_pin")?;
        Ok(())
    }
}
