//! The behaviour of the store and the operations on it, written once and run against every
//! backend: each test is a function of a backend factory, and `backend_suite!` instantiates the
//! whole list for one backend (SQLite today; the PostgreSQL backend adds one line).

mod accounts;
mod activation;
mod audit;
mod auth;
mod claims;
mod cluster;
mod objects;
mod paging;
mod properties;
mod registry;
mod self_care;
mod settings;
mod subscriber;
mod unclaimed;

use selfprov_operations::profiles::ProfilePatch;
use selfprov_operations::templates::UdtPatch;
use selfprov_operations::users::UserPatch;
use selfprov_operations::{Actor, AssignOutcome, ClaimContext, ClaimEngine, Operations};
use selfprov_provisioning::model::{Device, DnRange, UserId};
use selfprov_provisioning::settings::*;
use selfprov_provisioning::store::sqlite_durability::Durability;
use selfprov_provisioning::store::{PgOptions, PgStore, SqliteStore, Store, UnixMillis};
use selfprov_provisioning::{AssignError, AuthMode, OutcomeCode};
use selfprov_testkit::postgres::PgDatabase;
use selfprov_testkit::TempDir;
use std::sync::Arc;

pub const NOW: UnixMillis = UnixMillis(1_700_000_000_000);

/// One database of one backend, with the operations layer over it.
pub struct Harness {
    pub ops: Operations,
    pub store: Arc<dyn Store>,
    /// What keeps the database alive (its directory, its PostgreSQL database).
    _keep: Option<Box<dyn std::any::Any + Send + Sync>>,
}

/// Makes a fresh, empty database of one backend.
pub type Factory = dyn Fn() -> Harness;

impl Harness {
    pub fn new(
        store: Arc<dyn Store>,
        keep: Option<Box<dyn std::any::Any + Send + Sync>>,
    ) -> Harness {
        Harness {
            ops: Operations::new(store.clone()),
            store,
            _keep: keep,
        }
    }
    pub fn claims(&self) -> &ClaimEngine {
        self.ops.claims()
    }
    /// The operations layer of a new process over the same database.
    pub fn restarted(&self) -> Operations {
        Operations::new(self.store.clone())
    }
}

pub mod backends {
    use super::*;

    pub fn sqlite() -> Harness {
        let dir = TempDir::new("behaviour");
        let store = SqliteStore::open_with(&dir.path().join("t.db"), Durability::Normal).unwrap();
        Harness::new(Arc::new(store), Some(Box::new(dir)))
    }

    /// A fresh database on a real PostgreSQL (selfprov_testkit::postgres).
    pub fn postgresql() -> Harness {
        let db = PgDatabase::new("behaviour");
        let store = PgStore::open(&PgOptions {
            url: db.url.clone(),
            pool_size: 8,
            tls: false,
            ca_file: None,
            subscriber: None,
        })
        .unwrap();
        Harness::new(Arc::new(store), Some(Box::new(db)))
    }
}

/// Instantiate every behaviour test for one backend.
macro_rules! backend_suite {
    ($backend:ident: $($module:ident :: $test:ident),* $(,)?) => {
        mod $backend {
            $(
                #[test]
                fn $test() {
                    crate::$module::$test(&crate::backends::$backend);
                }
            )*
        }
    };
}

/// Every behaviour test, for `backend_suite!`.
macro_rules! every_test {
    ($backend:ident) => {
        backend_suite!($backend:
    claims::success_assigns_owner_extension_and_templates_and_is_idempotent,
    claims::every_assign_outcome_code,
    claims::preview_changes_nothing,
    claims::fifty_threads_one_user_limit_ten,
    claims::two_users_racing_for_one_device_one_owner,
    claims::user_without_profile_uses_system_default,
    claims::secrets_never_reach_the_audit_log_or_serialised_users,
    auth::authentication_modes_and_invalid_credentials,
    auth::lockout_after_threshold_and_unlock_after_duration,
    auth::unlock_and_pin_reset_clear_a_lockout,
    auth::a_strangers_failures_lock_the_strangers_phone_not_the_users,
    registry::auto_registration_hands_out_free_dns_and_reports_exhaustion,
    registry::auto_registration_hands_dns_out_in_turn_and_skips_long_taken_runs,
    registry::concurrent_auto_registration_never_shares_a_dn,
    registry::release_returns_a_device_to_a_temporary_dn,
    registry::credentials_rotate_at_auto_registration_claim_and_release,
    registry::replace_gives_the_new_hardware_the_old_lines,
    unclaimed::unclaimed_devices_expire_after_going_quiet_and_give_their_dn_back,
    claims::move_follows_the_claim_rules_and_issues_a_new_secret,
    claims::the_device_alone_is_checked_before_any_credential,
    objects::referential_errors_name_what_is_wrong,
    objects::only_one_system_default_profile,
    objects::search_sort_and_page,
    objects::free_text_is_bounded,
    paging::keyset_pages_walk_every_order,
    paging::wildcard_searches_find_what_the_pattern_matches,
    audit::every_change_of_every_kind_is_audited_with_before_and_after,
    audit::audit_filters,
    settings::settings_override_the_file_and_reset,
    settings::settings_are_checked_as_a_whole,
    properties::limit_and_single_owner_hold,
    properties::autoreg_dns_unique,
    accounts::logins_lock_like_pins_and_the_last_administrator_stays,
    accounts::tokens_are_hashed_expire_and_never_exceed_their_owner,
    accounts::sessions_expire_and_end_at_logout,
    accounts::a_change_based_on_an_old_version_is_refused,
    accounts::reimport_updates_existing_users_and_keeps_their_pins,
    self_care::self_care_login_checks_the_pin_the_profile_and_locks_per_address,
    self_care::a_self_care_session_ends_at_logout_or_when_the_profile_stops_allowing_it,
    self_care::a_user_releases_only_their_own_phones_and_changes_their_pin,
    activation::issued_code_claims_the_phone_once_and_is_audited,
    activation::expired_and_revoked_codes_are_refused,
    activation::wrong_codes_lock_the_calling_phone_out,
    activation::by_model_code_binds_the_first_phone_of_that_model,
    activation::codes_follow_the_assign_rules_and_check_their_input,
        );
    };
}

every_test!(sqlite);
every_test!(postgresql);

// --- fixtures -----------------------------------------------------------------------------

pub fn admin() -> Actor {
    Actor::cli("tester")
}

pub fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

pub fn uid(s: &str) -> UserId {
    s.parse().unwrap()
}

pub fn create_udt(h: &Harness, name: &str, secure: bool) {
    h.ops
        .create_udt(
            &admin(),
            name,
            &UdtPatch {
                secure: Some(secure),
                ..Default::default()
            },
        )
        .unwrap();
}

pub fn profile_patch(allow: bool, limit: u32, desk: bool) -> ProfilePatch {
    ProfilePatch {
        udt_desk_phone: desk.then(|| "Desk".to_owned()),
        allow_self_provisioning: Some(allow),
        device_limit: Some(limit),
        ..Default::default()
    }
}

pub fn create_profile(h: &Harness, name: &str, allow: bool, limit: u32, desk: bool) {
    h.ops
        .create_profile(&admin(), name, &profile_patch(allow, limit, desk))
        .unwrap();
}

pub fn user_patch(ext: Option<&str>, profile: &str, pin: &str) -> UserPatch {
    UserPatch {
        first_name: s("First"),
        primary_extension: ext.map(str::to_owned),
        user_profile: s(profile),
        pin: s(pin),
        ..Default::default()
    }
}

pub fn create_user(h: &Harness, id: &str, ext: Option<&str>, profile: &str, pin: &str) {
    let p = UserPatch {
        last_name: s(id),
        ..user_patch(ext, profile, pin)
    };
    h.ops.create_user(&admin(), id, &p).unwrap();
}

pub fn autoreg(start: &str, end: &str) -> AutoRegistrationSettings {
    AutoRegistrationSettings {
        enabled: true,
        udt: None,
        ult: None,
        dn_range: DnRange::new(start.parse().unwrap(), end.parse().unwrap()).unwrap(),
    }
}

pub fn autoreg_device(h: &Harness, n: &str, model: &str) -> Device {
    h.claims()
        .auto_register(
            &n.parse().unwrap(),
            model,
            &autoreg("3000", "3999"),
            &Actor::registrar(),
            NOW,
        )
        .unwrap()
}

pub fn sp(mode: AuthMode) -> SelfProvisioningSettings {
    SelfProvisioningSettings {
        ivr_enabled: true,
        auth_mode: mode,
        auth_code_hash: Some(SelfProvisioningSettings::hash_auth_code("999000").unwrap()),
        languages: LanguagePreference::default(),
        route_point: RoutePoint {
            name: "RP".into(),
            dns: vec!["2000".parse().unwrap()],
            activation_dn: None,
        },
        application_user: None,
        registrar_mode: RegistrarMode::Builtin,
    }
}

pub fn claim(h: &Harness, device: &str, user: &str) -> Result<AssignOutcome, AssignError> {
    h.claims()
        .claim(device, &uid(user), &ClaimContext::ivr("call"), NOW)
}

pub fn code_of(r: Result<AssignOutcome, AssignError>) -> OutcomeCode {
    match r {
        Ok(_) => OutcomeCode::Success,
        Err(e) => e.code(),
    }
}

/// The standard data set: a desk UDT; profiles Std (limit 10), Two (limit 2), NoSelf
/// (self-provisioning off), NoUdt (no desk UDT); users alice (1004, Std), bob (1005, NoSelf),
/// carol (no extension), carol2 (self-service ID 3333), dave (1007, NoUdt), erin (1008, Two).
pub fn fixture(make: &Factory) -> Harness {
    let h = make();
    create_udt(&h, "Desk", false);
    create_profile(&h, "Std", true, 10, true);
    create_profile(&h, "Two", true, 2, true);
    create_profile(&h, "NoSelf", false, 10, true);
    create_profile(&h, "NoUdt", true, 10, false);
    create_user(&h, "alice", Some("1004"), "Std", "12345");
    create_user(&h, "bob", Some("1005"), "NoSelf", "11111");
    create_user(&h, "carol", None, "Std", "22222");
    h.ops
        .create_user(
            &admin(),
            "carol2",
            &UserPatch {
                self_service_id: s("3333"),
                ..user_patch(None, "Std", "22222")
            },
        )
        .unwrap();
    create_user(&h, "dave", Some("1007"), "NoUdt", "33333");
    create_user(&h, "erin", Some("1008"), "Two", "44444");
    h
}
