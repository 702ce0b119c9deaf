//! The provisioning core against a real SQLite file: every outcome code, concurrency, lockout,
//! crash safety, auto-registration and import.

use proptest::prelude::*;
use selfprov_provisioning::model::*;
use selfprov_provisioning::settings::*;
use selfprov_provisioning::store::{AssignOutcome, AuditFilter, SqliteStore, Store, UnixMillis};
use selfprov_provisioning::{AssignError, AuthMode, OutcomeCode};
use selfprov_testkit::TempDir;
use std::sync::Arc;
use std::time::Duration;

fn name(s: &str) -> ObjectName {
    s.parse().unwrap()
}

fn udt(n: &str, secure: bool) -> UniversalDeviceTemplate {
    UniversalDeviceTemplate {
        name: name(n),
        description: String::new(),
        device_pool: "Default".into(),
        device_security_profile: String::new(),
        secure,
        sip_profile: String::new(),
        phone_button_template: String::new(),
        description_pattern: "#FirstName# #LastName# (#Product#)".into(),
    }
}

fn profile(n: &str, allow: bool, limit: u32, desk: bool) -> UserProfile {
    UserProfile {
        name: name(n),
        description: String::new(),
        system_default: false,
        udt_desk_phone: desk.then(|| name("Desk")),
        udt_mobile_desktop: None,
        udt_profile: None,
        ult: None,
        allow_self_provisioning: allow,
        device_limit: limit,
    }
}

fn user(id: &str, ext: Option<&str>, prof: &str, pin: &str) -> NewUser {
    NewUser {
        user_id: id.parse().unwrap(),
        first_name: "First".into(),
        last_name: id.into(),
        self_service_id: None,
        primary_extension: ext.map(|e| e.parse().unwrap()),
        user_profile: Some(name(prof)),
        enabled: true,
        pin: Some(pin.into()),
        password: None,
    }
}

fn autoreg(start: &str, end: &str) -> AutoRegistrationSettings {
    AutoRegistrationSettings {
        enabled: true,
        udt: None,
        ult: None,
        dn_range: DnRange::new(start.parse().unwrap(), end.parse().unwrap()).unwrap(),
    }
}

fn sp(mode: AuthMode) -> SelfProvisioningSettings {
    SelfProvisioningSettings {
        ivr_enabled: true,
        auth_mode: mode,
        auth_code_hash: Some(SelfProvisioningSettings::hash_auth_code("999000").unwrap()),
        languages: LanguagePreference::default(),
        route_point: RoutePoint {
            name: "RP".into(),
            dns: vec!["2000".parse().unwrap()],
        },
        application_user: None,
        registrar_mode: RegistrarMode::Builtin,
    }
}

const NOW: UnixMillis = UnixMillis(1_800_000_000_000);

/// A file database with templates, profiles and users for every situation.
fn fixture(dir: &TempDir) -> SqliteStore {
    let s = SqliteStore::open(&dir.path().join("t.db")).unwrap();
    s.create_udt(&udt("Desk", false)).unwrap();
    s.create_profile(&profile("Std", true, 10, true)).unwrap();
    s.create_profile(&profile("Two", true, 2, true)).unwrap();
    s.create_profile(&profile("NoSelf", false, 10, true))
        .unwrap();
    s.create_profile(&profile("NoUdt", true, 10, false))
        .unwrap();
    s.create_user(&user("alice", Some("1004"), "Std", "12345"))
        .unwrap();
    s.create_user(&user("bob", Some("1005"), "NoSelf", "11111"))
        .unwrap();
    s.create_user(&user("carol", None, "Std", "22222")).unwrap();
    s.create_user(&NewUser {
        self_service_id: Some("3333".parse().unwrap()),
        ..user("carol2", None, "Std", "22222")
    })
    .unwrap();
    s.create_user(&user("dave", Some("1007"), "NoUdt", "33333"))
        .unwrap();
    s.create_user(&user("erin", Some("1008"), "Two", "44444"))
        .unwrap();
    s
}

fn autoreg_device(s: &SqliteStore, n: &str, model: &str) -> Device {
    s.auto_register(&n.parse().unwrap(), model, &autoreg("3000", "3999"), NOW)
        .unwrap()
}

fn code_of(r: Result<AssignOutcome, AssignError>) -> OutcomeCode {
    match r {
        Ok(_) => OutcomeCode::Success,
        Err(e) => e.code(),
    }
}

fn uid(s: &str) -> UserId {
    s.parse().unwrap()
}

#[test]
fn success_assigns_owner_extension_and_templates_and_is_idempotent() {
    let dir = TempDir::new("assign-ok");
    let s = fixture(&dir);
    let d = autoreg_device(&s, "SEP001122334455", "Cisco 8845");
    assert!(d.auto_registered && d.owner.is_none());
    let r = s
        .assign("SEP001122334455", &uid("alice"), "call-1", NOW)
        .unwrap();
    assert!(matches!(r, AssignOutcome::Assigned(ref p) if p.extension.as_str() == "1004"));
    let d = s.get_device("SEP001122334455").unwrap();
    assert_eq!(d.owner.as_ref().map(|u| u.as_str()), Some("alice"));
    assert_eq!(d.dn.as_ref().map(|x| x.as_str()), Some("1004"));
    assert_eq!(d.udt.as_deref(), Some("Desk"));
    assert!(!d.auto_registered);
    assert_eq!(d.description, "First alice (Cisco 8845)");
    // Second time: succeeds, changes nothing.
    let again = s
        .assign("SEP001122334455", &uid("alice"), "call-2", NOW)
        .unwrap();
    assert!(matches!(again, AssignOutcome::AlreadyAssigned(_)));
    assert_eq!(s.get_device("SEP001122334455").unwrap(), d);
    let audit = s.audit_log(&AuditFilter::default()).unwrap();
    assert_eq!(audit.len(), 2);
    assert!(audit.iter().all(|a| a.code == OutcomeCode::Success));
    assert_eq!(audit[1].call_id, "call-1");
}

#[test]
fn every_assign_outcome_code() {
    let dir = TempDir::new("codes");
    let s = fixture(&dir);
    autoreg_device(&s, "SEPAAAAAAAAAAA1", "Cisco 8845");
    // SELFPROV_NOT_ALLOWED: profile disallows.
    assert_eq!(
        code_of(s.assign("SEPAAAAAAAAAAA1", &uid("bob"), "c", NOW)),
        OutcomeCode::SelfprovNotAllowed
    );
    // SELFPROV_NOT_ALLOWED: user disabled.
    s.update_user(&NewUser {
        enabled: false,
        pin: None,
        ..user("erin", Some("1008"), "Two", "0")
    })
    .unwrap();
    assert_eq!(
        code_of(s.assign("SEPAAAAAAAAAAA1", &uid("erin"), "c", NOW)),
        OutcomeCode::SelfprovNotAllowed
    );
    // NO_PRIMARY_EXTENSION.
    assert_eq!(
        code_of(s.assign("SEPAAAAAAAAAAA1", &uid("carol"), "c", NOW)),
        OutcomeCode::NoPrimaryExtension
    );
    // NOT_AUTOREGISTERED: unknown device, and a device created by an administrator.
    assert_eq!(
        code_of(s.assign("SEPUNKNOWN00000", &uid("alice"), "c", NOW)),
        OutcomeCode::NotAutoregistered
    );
    s.create_device(&Device {
        name: "SEPADMIN0000001".parse().unwrap(),
        model: "Cisco 8845".into(),
        protocol: "SIP".into(),
        class: DeviceClass::DeskPhone,
        secure: false,
        dn: Some("1999".parse().unwrap()),
        owner: None,
        auto_registered: false,
        udt: None,
        ult: None,
        description: String::new(),
        created_at: 0,
        updated_at: 0,
    })
    .unwrap();
    assert_eq!(
        code_of(s.assign("SEPADMIN0000001", &uid("alice"), "c", NOW)),
        OutcomeCode::NotAutoregistered
    );
    // SECURE_DEVICE_NOT_SUPPORTED.
    let mut sec = autoreg_device(&s, "SEPSECURE000001", "Cisco 8845");
    sec.secure = true;
    s.update_device(&sec).unwrap();
    assert_eq!(
        code_of(s.assign("SEPSECURE000001", &uid("alice"), "c", NOW)),
        OutcomeCode::SecureDeviceNotSupported
    );
    // INVALID_DEVICE_MODEL.
    autoreg_device(&s, "SEPMODEL0000001", "Acme Toaster");
    assert_eq!(
        code_of(s.assign("SEPMODEL0000001", &uid("alice"), "c", NOW)),
        OutcomeCode::InvalidDeviceModel
    );
    // MODEL_PHONETEMPLATE_NOT_FOUND: profile has no UDT for desk phones / for softphones.
    assert_eq!(
        code_of(s.assign("SEPAAAAAAAAAAA1", &uid("dave"), "c", NOW)),
        OutcomeCode::ModelPhonetemplateNotFound
    );
    autoreg_device(&s, "JABBERALICE", "Cisco Jabber");
    assert_eq!(
        code_of(s.assign("JABBERALICE", &uid("alice"), "c", NOW)),
        OutcomeCode::ModelPhonetemplateNotFound
    );
    // SELFPROV_DEVICE_LIMIT: "Two" allows 2 devices.
    s.update_user(&NewUser {
        pin: None,
        ..user("erin", Some("1008"), "Two", "0")
    })
    .unwrap();
    for n in ["SEPLIMIT0000001", "SEPLIMIT0000002", "SEPLIMIT0000003"] {
        autoreg_device(&s, n, "Cisco 7841");
    }
    assert_eq!(
        code_of(s.assign("SEPLIMIT0000001", &uid("erin"), "c", NOW)),
        OutcomeCode::Success
    );
    assert_eq!(
        code_of(s.assign("SEPLIMIT0000002", &uid("erin"), "c", NOW)),
        OutcomeCode::Success
    );
    assert_eq!(
        code_of(s.assign("SEPLIMIT0000003", &uid("erin"), "c", NOW)),
        OutcomeCode::SelfprovDeviceLimit
    );
    // A device owned by someone else is not auto-registered any more.
    assert_eq!(
        code_of(s.assign("SEPLIMIT0000001", &uid("alice"), "c", NOW)),
        OutcomeCode::NotAutoregistered
    );
    // Failures changed nothing and were audited with their code.
    assert!(s.get_device("SEPLIMIT0000003").unwrap().owner.is_none());
    let codes: Vec<OutcomeCode> = s
        .audit_log(&AuditFilter::default())
        .unwrap()
        .iter()
        .map(|a| a.code)
        .collect();
    for c in [
        OutcomeCode::SelfprovNotAllowed,
        OutcomeCode::NoPrimaryExtension,
        OutcomeCode::NotAutoregistered,
        OutcomeCode::SecureDeviceNotSupported,
        OutcomeCode::InvalidDeviceModel,
        OutcomeCode::ModelPhonetemplateNotFound,
        OutcomeCode::SelfprovDeviceLimit,
    ] {
        assert!(codes.contains(&c), "{c} not audited");
    }
}

#[test]
fn check_assignment_changes_nothing() {
    let dir = TempDir::new("preview");
    let s = fixture(&dir);
    let before = autoreg_device(&s, "SEP0000000000AA", "Cisco 8845");
    let p = s
        .check_assignment("SEP0000000000AA", &uid("alice"))
        .unwrap();
    assert_eq!(p.extension.as_str(), "1004");
    assert_eq!(p.udt.as_str(), "Desk");
    assert_eq!(s.get_device("SEP0000000000AA").unwrap(), before);
    assert!(s.audit_log(&AuditFilter::default()).unwrap().is_empty());
}

#[test]
fn authentication_modes_and_invalid_credentials() {
    let dir = TempDir::new("auth");
    let s = fixture(&dir);
    let pol = CredentialPolicy::default();
    let ssid = |x: &str| x.parse::<SelfServiceId>().unwrap();
    // users: PIN only.
    assert_eq!(
        s.authenticate(
            &ssid("1004"),
            Some("12345"),
            &sp(AuthMode::Users),
            &pol,
            NOW
        )
        .unwrap()
        .user_id
        .as_str(),
        "alice"
    );
    assert_eq!(
        s.authenticate(
            &ssid("1004"),
            Some("999000"),
            &sp(AuthMode::Users),
            &pol,
            NOW
        ),
        Err(AssignError::InvalidCredentials)
    );
    // Unknown ID: same error.
    assert_eq!(
        s.authenticate(
            &ssid("4242"),
            Some("12345"),
            &sp(AuthMode::Users),
            &pol,
            NOW
        ),
        Err(AssignError::InvalidCredentials)
    );
    // users_and_admins: the PIN or the authentication code.
    let a = s
        .authenticate(
            &ssid("1004"),
            Some("999000"),
            &sp(AuthMode::UsersAndAdmins),
            &pol,
            NOW,
        )
        .unwrap();
    assert!(a.via_auth_code);
    assert!(
        !s.authenticate(
            &ssid("1004"),
            Some("12345"),
            &sp(AuthMode::UsersAndAdmins),
            &pol,
            NOW
        )
        .unwrap()
        .via_auth_code
    );
    assert_eq!(
        s.authenticate(
            &ssid("1004"),
            Some("000"),
            &sp(AuthMode::UsersAndAdmins),
            &pol,
            NOW
        ),
        Err(AssignError::InvalidCredentials)
    );
    // none: the ID alone.
    assert!(s
        .authenticate(&ssid("1004"), None, &sp(AuthMode::None), &pol, NOW)
        .is_ok());
    assert_eq!(
        s.authenticate(&ssid("4242"), None, &sp(AuthMode::None), &pol, NOW),
        Err(AssignError::InvalidCredentials)
    );
    // Explicit self-service ID.
    assert_eq!(
        s.authenticate(
            &ssid("3333"),
            Some("22222"),
            &sp(AuthMode::Users),
            &pol,
            NOW
        )
        .unwrap()
        .user_id
        .as_str(),
        "carol2"
    );
}

#[test]
fn lockout_after_threshold_and_unlock_after_duration() {
    let dir = TempDir::new("lock");
    let s = fixture(&dir);
    let pol = CredentialPolicy {
        failed_attempts_threshold: 3,
        lockout_duration: Duration::from_secs(60),
        reset_on_success: true,
    };
    let id: SelfServiceId = "1004".parse().unwrap();
    let set = sp(AuthMode::Users);
    assert_eq!(
        s.authenticate(&id, Some("1"), &set, &pol, NOW),
        Err(AssignError::InvalidCredentials)
    );
    assert_eq!(
        s.authenticate(&id, Some("2"), &set, &pol, NOW),
        Err(AssignError::InvalidCredentials)
    );
    assert_eq!(
        s.authenticate(&id, Some("3"), &set, &pol, NOW),
        Err(AssignError::AccountLocked)
    );
    // Locked: even the right PIN is refused.
    assert_eq!(
        s.authenticate(
            &id,
            Some("12345"),
            &set,
            &pol,
            NOW.plus(Duration::from_secs(59))
        ),
        Err(AssignError::AccountLocked)
    );
    // After the duration the right PIN works and the counter is reset.
    let later = NOW.plus(Duration::from_secs(61));
    assert!(s
        .authenticate(&id, Some("12345"), &set, &pol, later)
        .is_ok());
    assert_eq!(s.lock_state("alice").unwrap().0, 0);
    // Reset on success: two failures, a success, two failures → not locked.
    for _ in 0..2 {
        let _ = s.authenticate(&id, Some("0"), &set, &pol, later);
    }
    assert!(s
        .authenticate(&id, Some("12345"), &set, &pol, later)
        .is_ok());
    for _ in 0..2 {
        let _ = s.authenticate(&id, Some("0"), &set, &pol, later);
    }
    assert!(s
        .authenticate(&id, Some("12345"), &set, &pol, later)
        .is_ok());
}

#[test]
fn fifty_threads_one_user_limit_ten() {
    let dir = TempDir::new("limit50");
    let s = Arc::new(fixture(&dir));
    s.create_profile(&profile("Ten", true, 10, true)).unwrap();
    s.create_user(&user("racer", Some("1100"), "Ten", "1111"))
        .unwrap();
    let names: Vec<String> = (0..50).map(|i| format!("SEP0000000{i:05}")).collect();
    for n in &names {
        autoreg_device(&s, n, "Cisco 8845");
    }
    let results: Vec<OutcomeCode> = std::thread::scope(|sc| {
        let hs: Vec<_> = names
            .iter()
            .map(|n| {
                let s = s.clone();
                sc.spawn(move || code_of(s.assign(n, &uid("racer"), "race", NOW)))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        results
            .iter()
            .filter(|c| **c == OutcomeCode::Success)
            .count(),
        10
    );
    assert_eq!(
        results
            .iter()
            .filter(|c| **c == OutcomeCode::SelfprovDeviceLimit)
            .count(),
        40
    );
    let owned = s
        .list_devices()
        .unwrap()
        .into_iter()
        .filter(|d| d.owner.as_ref().is_some_and(|o| o.as_str() == "racer"))
        .count();
    assert_eq!(owned, 10);
}

#[test]
fn two_users_racing_for_one_device_one_owner() {
    for round in 0..5 {
        let dir = TempDir::new("race2");
        let s = Arc::new(fixture(&dir));
        autoreg_device(&s, "SEPRACE00000001", "Cisco 8845");
        s.create_user(&user("frank", Some("1009"), "Std", "5555"))
            .unwrap();
        let (a, b) = std::thread::scope(|sc| {
            let s1 = s.clone();
            let s2 = s.clone();
            let h1 =
                sc.spawn(move || code_of(s1.assign("SEPRACE00000001", &uid("alice"), "a", NOW)));
            let h2 =
                sc.spawn(move || code_of(s2.assign("SEPRACE00000001", &uid("frank"), "b", NOW)));
            (h1.join().unwrap(), h2.join().unwrap())
        });
        let wins = [a, b]
            .iter()
            .filter(|c| **c == OutcomeCode::Success)
            .count();
        assert_eq!(wins, 1, "round {round}: {a} {b}");
        assert!(s.get_device("SEPRACE00000001").unwrap().owner.is_some());
    }
}

#[test]
fn auto_registration_hands_out_free_dns_and_reports_exhaustion() {
    let dir = TempDir::new("autoreg");
    let s = fixture(&dir);
    // 1004 and 1005 are users' extensions: skipped.
    let set = autoreg("1003", "1006");
    let a = s
        .auto_register(&"SEP00000000000A".parse().unwrap(), "Cisco 8845", &set, NOW)
        .unwrap();
    let b = s
        .auto_register(&"SEP00000000000B".parse().unwrap(), "Cisco 8845", &set, NOW)
        .unwrap();
    assert_eq!(a.dn.unwrap().as_str(), "1003");
    assert_eq!(b.dn.unwrap().as_str(), "1006");
    // Known device: unchanged.
    let a2 = s
        .auto_register(&"SEP00000000000A".parse().unwrap(), "Cisco 8845", &set, NOW)
        .unwrap();
    assert_eq!(a2.dn.unwrap().as_str(), "1003");
    let e = s
        .auto_register(&"SEP00000000000C".parse().unwrap(), "Cisco 8845", &set, NOW)
        .unwrap_err();
    assert!(e.to_string().contains("1003..1006 is exhausted"), "{e}");
}

#[test]
fn auto_registration_hands_dns_out_in_turn_and_skips_long_taken_runs() {
    let dir = TempDir::new("autoreg-runs");
    let s = fixture(&dir);
    let set = autoreg("6000", "6199");
    let reg = |s: &SqliteStore, i: u32| {
        s.auto_register(&format!("SEPD{i:011}").parse().unwrap(), "Cisco 8845", &set, NOW)
            .unwrap()
            .dn
            .unwrap()
            .to_string()
    };
    for i in 0..100 {
        assert_eq!(reg(&s, i), format!("{}", 6000 + i));
    }
    // A freed DN is not handed out again at once: the next one after the last is.
    s.delete_device("SEPD00000000000").unwrap();
    assert_eq!(reg(&s, 100), "6100");
    drop(s);
    // A new process starts at the bottom: 6000 is free again.
    let s = SqliteStore::open(&dir.path().join("t.db")).unwrap();
    assert_eq!(reg(&s, 101), "6000");
    // Then 6001..6100 are taken: more than the probes, so the range is read once.
    assert_eq!(reg(&s, 102), "6101");
}

#[test]
fn concurrent_auto_registration_never_shares_a_dn() {
    let dir = TempDir::new("autoreg-race");
    let s = Arc::new(fixture(&dir));
    let set = autoreg("5000", "5099");
    std::thread::scope(|sc| {
        for t in 0..4 {
            let s = s.clone();
            let set = set.clone();
            sc.spawn(move || {
                for i in 0..20 {
                    s.auto_register(
                        &format!("SEPT{t}{i:010}").parse().unwrap(),
                        "Cisco 8845",
                        &set,
                        NOW,
                    )
                    .unwrap();
                }
            });
        }
    });
    let dns: Vec<String> = s
        .list_devices()
        .unwrap()
        .into_iter()
        .filter_map(|d| d.dn.map(String::from))
        .collect();
    let unique: std::collections::HashSet<_> = dns.iter().collect();
    assert_eq!(dns.len(), 80);
    assert_eq!(unique.len(), 80);
}

#[test]
fn migrations_apply_once_and_reopen_cleanly() {
    let dir = TempDir::new("migrate");
    let p = dir.path().join("m.db");
    {
        let s = SqliteStore::open(&p).unwrap();
        assert_eq!(s.schema_version().unwrap(), 2);
        s.create_udt(&udt("Desk", false)).unwrap();
    }
    let s = SqliteStore::open(&p).unwrap();
    assert_eq!(s.schema_version().unwrap(), 2);
    assert_eq!(s.list_udts().unwrap().len(), 1);
}

#[test]
fn referential_errors_name_what_is_wrong() {
    let dir = TempDir::new("refs");
    let s = fixture(&dir);
    let e = s.delete_udt("Desk").unwrap_err().to_string();
    assert!(e.contains("used by") && e.contains("user profile"), "{e}");
    let e = s
        .create_profile(&UserProfile {
            udt_desk_phone: Some(name("Nope")),
            ..profile("X", true, 5, false)
        })
        .unwrap_err();
    assert!(
        e.to_string().contains("udt_desk_phone") && e.to_string().contains("Nope"),
        "{e}"
    );
    let e = s
        .create_user(&user("alice", Some("1"), "Std", "1"))
        .unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    let e = s
        .create_user(&user("zed", Some("1004"), "Std", "1"))
        .unwrap_err();
    assert!(e.to_string().contains("self_service_id"), "{e}");
    // Only one system default.
    s.update_profile(&UserProfile {
        system_default: true,
        ..profile("Std", true, 10, true)
    })
    .unwrap();
    s.update_profile(&UserProfile {
        system_default: true,
        ..profile("Two", true, 2, true)
    })
    .unwrap();
    let defaults: Vec<_> = s
        .list_profiles()
        .unwrap()
        .into_iter()
        .filter(|p| p.system_default)
        .collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0].name.as_str(), "Two");
}

#[test]
fn user_without_profile_uses_system_default() {
    let dir = TempDir::new("default");
    let s = fixture(&dir);
    s.create_user(&NewUser {
        user_profile: None,
        ..user("gina", Some("1010"), "Std", "1")
    })
    .unwrap();
    autoreg_device(&s, "SEPDEFAULT00001", "Cisco 8845");
    // No default profile yet: not allowed.
    assert_eq!(
        code_of(s.assign("SEPDEFAULT00001", &uid("gina"), "c", NOW)),
        OutcomeCode::SelfprovNotAllowed
    );
    s.update_profile(&UserProfile {
        system_default: true,
        ..profile("Std", true, 10, true)
    })
    .unwrap();
    assert_eq!(
        code_of(s.assign("SEPDEFAULT00001", &uid("gina"), "c", NOW)),
        OutcomeCode::Success
    );
}

#[test]
fn secrets_never_reach_the_audit_log_or_debug_output() {
    let dir = TempDir::new("secrets");
    let s = fixture(&dir);
    let set = sp(AuthMode::Users);
    let _ = s.authenticate(
        &"1004".parse().unwrap(),
        Some("987654"),
        &set,
        &CredentialPolicy::default(),
        NOW,
    );
    autoreg_device(&s, "SEPSECRET000001", "Cisco 8845");
    let _ = s.assign("SEPSECRET000001", &uid("alice"), "c", NOW);
    let log = format!("{:?}", s.audit_log(&AuditFilter::default()).unwrap());
    assert!(!log.contains("12345") && !log.contains("987654") && !log.contains("argon2"));
    let u = s.get_user("alice").unwrap();
    assert!(u.pin_hash.as_deref().unwrap().starts_with("$argon2id$"));
    let json = serde_json::to_string(&u).unwrap();
    assert!(!json.contains("argon2"), "{json}");
}

// --- crash safety -------------------------------------------------------------------------

const CRASH_DB: &str = "SELFPROV_CRASH_TEST_DB";

/// Child side of `killed_mid_assignment_leaves_db_consistent` (runs only when re-executed).
#[test]
#[ignore = "runs as a child process of killed_mid_assignment_leaves_db_consistent"]
fn crash_child() {
    let Ok(path) = std::env::var(CRASH_DB) else {
        return;
    };
    let s = SqliteStore::open(std::path::Path::new(&path)).unwrap();
    s.assign_with_pause("SEPCRASH0000001", &uid("alice"), || {
        use std::io::Write;
        println!("IN_TRANSACTION");
        let _ = std::io::stdout().flush();
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    })
    .unwrap();
}

#[test]
fn killed_mid_assignment_leaves_db_consistent() {
    let dir = TempDir::new("crash");
    let path = dir.path().join("t.db");
    {
        let s = SqliteStore::open(&path).unwrap();
        s.create_udt(&udt("Desk", false)).unwrap();
        s.create_profile(&profile("Std", true, 10, true)).unwrap();
        s.create_user(&user("alice", Some("1004"), "Std", "12345"))
            .unwrap();
        s.auto_register(
            &"SEPCRASH0000001".parse().unwrap(),
            "Cisco 8845",
            &autoreg("3000", "3999"),
            NOW,
        )
        .unwrap();
    }
    let exe = std::env::current_exe().unwrap();
    let mut cmd = std::process::Command::new(exe);
    cmd.args([
        "--ignored",
        "--exact",
        "crash_child",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CRASH_DB, &path);
    let (mut child, out, _err) = selfprov_testkit::spawn_watched("crash-child", &mut cmd).unwrap();
    assert!(
        out.wait_for("IN_TRANSACTION", Duration::from_secs(30))
            .is_some(),
        "child never reached the transaction"
    );
    child.signal(9);
    let st = child
        .wait_timeout(Duration::from_secs(10))
        .expect("child did not die");
    assert!(!st.success());
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.integrity_check().unwrap(), "ok");
    let d = s.get_device("SEPCRASH0000001").unwrap();
    assert!(
        d.owner.is_none() && d.auto_registered,
        "half-done assignment visible: {d:?}"
    );
    assert!(s.audit_log(&AuditFilter::default()).unwrap().is_empty());
    // And the database still works.
    assert!(s
        .assign("SEPCRASH0000001", &uid("alice"), "after", NOW)
        .is_ok());
}

// --- property tests -----------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    /// Whatever the order of assignment attempts, no user ever owns more than the limit and no
    /// device has two owners.
    #[test]
    fn limit_and_single_owner_hold(limit in 1u32..5, attempts in proptest::collection::vec((0usize..3, 0usize..8), 1..40)) {
        let s = SqliteStore::in_memory().unwrap();
        s.create_udt(&udt("Desk", false)).unwrap();
        s.create_profile(&profile("P", true, limit, true)).unwrap();
        for u in 0..3 {
            s.create_user(&user(&format!("u{u}"), Some(&format!("10{u}0")), "P", "1")).unwrap();
        }
        for d in 0..8 {
            s.auto_register(&format!("SEPPROP{d:08}").parse().unwrap(), "Cisco 8845", &autoreg("3000", "3999"), NOW).unwrap();
        }
        for (u, d) in attempts {
            let _ = s.assign(&format!("SEPPROP{d:08}"), &uid(&format!("u{u}")), "p", NOW);
        }
        let devices = s.list_devices().unwrap();
        for u in 0..3 {
            let owned = devices.iter().filter(|d| d.owner.as_ref().is_some_and(|o| o.as_str() == format!("u{u}"))).count();
            prop_assert!(owned as u32 <= limit);
        }
    }

    /// Auto-registration never gives one DN to two auto-registered devices, for any range and
    /// any registration order (including repeats).
    #[test]
    fn autoreg_dns_unique(size in 1u32..20, regs in proptest::collection::vec(0u32..30, 1..40)) {
        let s = SqliteStore::in_memory().unwrap();
        let end = 4000 + size - 1;
        let set = autoreg("4000", &end.to_string());
        for r in regs {
            let _ = s.auto_register(&format!("SEPDN{r:010}").parse().unwrap(), "Cisco 8845", &set, NOW);
        }
        let dns: Vec<String> = s.list_devices().unwrap().into_iter().filter_map(|d| d.dn.map(String::from)).collect();
        let unique: std::collections::HashSet<_> = dns.iter().collect();
        prop_assert_eq!(dns.len(), unique.len());
        prop_assert!(dns.len() as u32 <= size);
    }
}
