//! One request of the on-screen claim, from its device, token, page and query to the screen:
//! the token names the device; then the login form, the login (throttled per device, then the
//! claim engine's `authenticate` under the lockout policy and its `preview`), the confirmation
//! (the claim engine's `claim`, then NOTIFY check-sync) or the cancellation. Each attempt is
//! audited as the IVR's are: the claim writes its own entry, every other end is recorded with
//! `record_outcome`. Blocking: it reads and writes the database.

use super::screen::{self, Screen, Urls};
use super::xml::{self, Vendor};
use super::{language, ticket, ScreenClaim, Settings};
use selfprov_operations::ClaimContext;
use selfprov_phoneconfig::{read_user_agent, Family};
use selfprov_provisioning::model::UserId;
use selfprov_provisioning::store::UnixMillis;
use selfprov_provisioning::{AuthMode, OutcomeCode};
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// What came in: `/screen/<device>/<token>[/<page>]?<params>`.
pub struct Request<'a> {
    pub device: &'a str,
    pub token: &'a str,
    /// `""` (the login form), `submit`, `confirm` or `cancel`.
    pub page: &'a str,
    pub params: &'a HashMap<String, String>,
    pub user_agent: Option<&'a str>,
    pub accept_language: Option<&'a str>,
    pub source: IpAddr,
}

/// What goes out.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// The page, and its content type.
    Screen(String, &'static str),
    /// No such page, the on-screen claim is off, or no screens for this phone's vendor.
    NotFound,
    /// The token does not name the device (logged).
    Forbidden,
    /// The database could not be asked (logged).
    Unavailable,
}

/// What the audit says for the attempts ended on screen.
const DETAIL: &str = "on-screen claim";

impl ScreenClaim {
    /// Answer one request (see the module documentation).
    pub fn handle(&self, settings: Option<&Settings>, r: &Request<'_>) -> Reply {
        let Some(s) = settings else {
            return Reply::NotFound;
        };
        match self.token_names_device(r) {
            Ok(true) => {}
            Ok(false) => {
                // One line per refusal, in a form fail2ban can match (as the configuration
                // server's).
                tracing::warn!(source = %r.source, device = %r.device, "screen request refused");
                return Reply::Forbidden;
            }
            Err(()) => return Reply::Unavailable,
        }
        let vendor = self.vendor(r);
        let Some(vendor) = vendor else {
            tracing::info!(device = %r.device, "no on-screen claim for this phone's vendor");
            return Reply::NotFound;
        };
        let t = language::texts(r.accept_language, s.self_provisioning.languages.as_slice());
        let page = Page {
            settings: s,
            urls: Urls {
                base: format!("{}/{}/{}", s.base, r.device, r.token),
            },
            texts: t,
            request: r,
        };
        let shown = match r.page {
            "" => self.login_form(&page),
            "submit" => self.submit(&page),
            "confirm" => self.confirm(&page),
            "cancel" => {
                self.record(r.device, OutcomeCode::Cancelled);
                page.outcome(OutcomeCode::Cancelled, "")
            }
            _ => return Reply::NotFound,
        };
        Reply::Screen(xml::render(vendor, &shown), vendor.content_type())
    }

    /// The token is the device's for its current credential generation, compared in constant
    /// time; an unknown device is refused the same way.
    fn token_names_device(&self, r: &Request<'_>) -> Result<bool, ()> {
        match self.claims.credential(r.device) {
            Ok(Some(c)) => Ok(self
                .secrets
                .check_screen_token(r.device, c.generation, r.token)),
            Ok(None) => Ok(false),
            Err(e) => {
                tracing::error!(error = %e, "database unavailable for an on-screen claim");
                Err(())
            }
        }
    }

    /// The browser the phone has: its model's family, else its User-Agent's.
    fn vendor(&self, r: &Request<'_>) -> Option<Vendor> {
        let model = self.claims.device(r.device).ok().flatten().map(|d| d.model);
        model
            .and_then(|m| Family::of_model(&m))
            .or(read_user_agent(r.user_agent).family)
            .and_then(Vendor::of_family)
    }

    /// The login form, unless the phone cannot be claimed at all (told first, so it cannot be
    /// used to test PINs — as the IVR does before asking for anything).
    fn login_form(&self, p: &Page<'_>) -> Screen {
        if let Err(e) = self.claims.check_device(p.request.device) {
            return p.outcome(e.code(), "");
        }
        screen::login(
            p.texts,
            &p.urls,
            p.settings.self_provisioning.auth_mode != AuthMode::None,
        )
    }

    /// User ID and PIN sent: throttle, device rules, credentials, preview; the confirmation.
    fn submit(&self, p: &Page<'_>) -> Screen {
        let (r, s) = (p.request, p.settings);
        let per_minute = match s.attempts_per_minute {
            0 => u32::MAX,
            n => n,
        };
        if !self
            .logins
            .allow(r.device.to_owned(), per_minute, Instant::now())
        {
            tracing::warn!(device = %r.device, source = %r.source, "on-screen logins on this phone are over screen_attempts_per_minute");
            return screen::try_later(p.texts);
        }
        let code = r.params.get("code").map(|c| c.trim()).unwrap_or("");
        if !code.is_empty() {
            return self.claim_with_code(p, code);
        }
        let user = r.params.get("user").map(|u| u.trim()).unwrap_or("");
        let pin = r.params.get("pin").map(String::as_str);
        let result = self
            .claims
            .check_device(r.device)
            .and_then(|()| {
                if user.is_empty() {
                    return Err(selfprov_provisioning::AssignError::InvalidCredentials);
                }
                self.claims.authenticate(
                    user,
                    pin,
                    Some(r.device),
                    &s.self_provisioning,
                    &s.policy,
                    UnixMillis::now(),
                )
            })
            .and_then(|u| {
                self.claims
                    .preview(r.device, &u.user_id)
                    .map(|preview| (u.user_id, preview))
            });
        match result {
            Ok((user_id, preview)) => {
                let query = ticket::issue(&self.secrets, r.device, user_id.as_str(), now_s());
                screen::confirm(p.texts, &p.urls, preview.extension.as_str(), &query)
            }
            Err(e) => {
                let code = if user.is_empty() && e.code() == OutcomeCode::InvalidCredentials {
                    OutcomeCode::NoInput
                } else {
                    e.code()
                };
                self.record(r.device, code);
                p.outcome(code, "")
            }
        }
    }

    /// Continue pressed: the claim (audited by the claim engine), then NOTIFY check-sync.
    fn confirm(&self, p: &Page<'_>) -> Screen {
        let r = p.request;
        let Some(user) = ticket::check(&self.secrets, r.device, r.params, now_s()) else {
            // Expired or not ours: start again.
            return self.login_form(p);
        };
        let Ok(user_id) = user.parse::<UserId>() else {
            return self.login_form(p);
        };
        match self.claims.claim(
            r.device,
            &user_id,
            &ClaimContext::screen(),
            UnixMillis::now(),
        ) {
            Ok(outcome) => self.claimed(p, &outcome, "claimed on screen"),
            Err(e) => p.outcome(e.code(), ""),
        }
    }

    /// An activation code typed in place of user ID and PIN: the claim at once (the code names
    /// the user and the phone; typing it is the consent, as on the activation DN), audited by
    /// the claim engine whatever the outcome; wrong codes count toward this phone's lockout.
    fn claim_with_code(&self, p: &Page<'_>, code: &str) -> Screen {
        let r = p.request;
        match self.claims.claim_with_code(
            r.device,
            code,
            &ClaimContext::screen(),
            &p.settings.policy,
            UnixMillis::now(),
        ) {
            Ok(outcome) => self.claimed(p, &outcome, "claimed on screen with an activation code"),
            // A locked phone is told its code is not valid, as a locked user is told the PIN is
            // not; the audit has ACCOUNT_LOCKED.
            Err(e) if e.code() == OutcomeCode::AccountLocked => {
                p.outcome(OutcomeCode::ActivationCodeInvalid, "")
            }
            Err(e) => p.outcome(e.code(), ""),
        }
    }

    /// A claim made: logged, NOTIFY check-sync, the success screen with the extension.
    fn claimed(
        &self,
        p: &Page<'_>,
        outcome: &selfprov_operations::AssignOutcome,
        what: &str,
    ) -> Screen {
        let (selfprov_operations::AssignOutcome::Assigned(a)
        | selfprov_operations::AssignOutcome::AlreadyAssigned(a)) = outcome;
        let extension = a.extension.to_string();
        tracing::info!(device = %p.request.device, user = %a.user_id, %extension, "{what}");
        (self.resync)(vec![p.request.device.to_owned()]);
        p.outcome(OutcomeCode::Success, &extension)
    }

    /// The audit entry of an attempt that ended before a claim (off the event loop already).
    fn record(&self, device: &str, code: OutcomeCode) {
        tracing::info!(%device, outcome = %code, "on-screen claim attempt ended");
        if let Err(e) = self.claims.record_outcome(
            &ClaimContext::screen(),
            Some(device),
            code,
            DETAIL,
            UnixMillis::now(),
        ) {
            tracing::error!(error = %e, "audit entry not written");
        }
    }
}

/// One request's context for building its screen.
struct Page<'a> {
    settings: &'a Settings,
    urls: Urls,
    texts: &'static super::texts::Texts,
    request: &'a Request<'a>,
}

impl Page<'_> {
    fn outcome(&self, code: OutcomeCode, extension: &str) -> Screen {
        screen::outcome(self.texts, &self.urls, code, extension)
    }
}

fn now_s() -> u64 {
    crate::phone_auth::unix_s()
}
