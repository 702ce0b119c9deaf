//! Administrator accounts, API tokens and console sessions; versions that refuse lost updates;
//! importing users again (update mode).

use crate::*;
use selfprov_operations::accounts::{LoginError, Via};
use selfprov_operations::sessions::SessionPolicy;
use selfprov_operations::tokens::TokenRequest;
use selfprov_operations::{ErrorClass, Version, Versioned};
use selfprov_provisioning::accounts::Role;
use selfprov_provisioning::import::{parse_users_csv, prepare_users, Existing};
use selfprov_provisioning::store::{AuditFilter, StoreExt};
use std::time::Duration;

const PW: &str = "correct horse battery";

fn policy(threshold: u32) -> CredentialPolicy {
    CredentialPolicy {
        failed_attempts_threshold: threshold,
        lockout_duration: Duration::from_secs(60),
        reset_on_success: true,
    }
}

pub fn logins_lock_like_pins_and_the_last_administrator_stays(f: &Factory) {
    let h = f();
    let ops = &h.ops;
    ops.create_account(&admin(), "alice", Role::Administrator, PW)
        .unwrap();
    let short = ops
        .create_account(&admin(), "bob", Role::Helpdesk, "short")
        .unwrap_err();
    assert_eq!(short.field(), Some("password"));
    let bad_name = ops
        .create_account(&admin(), "a:b", Role::Helpdesk, PW)
        .unwrap_err();
    assert_eq!(bad_name.field(), Some("name"));
    let p = policy(3);
    assert_eq!(
        ops.login("alice", PW, &p, NOW).unwrap().role,
        Role::Administrator
    );
    assert_eq!(ops.login("nobody", PW, &p, NOW), Err(LoginError::Invalid));
    assert_eq!(
        ops.login("alice", "wrong", &p, NOW),
        Err(LoginError::Invalid)
    );
    assert_eq!(
        ops.login("alice", "wrong", &p, NOW),
        Err(LoginError::Invalid)
    );
    let locked = ops.login("alice", "wrong", &p, NOW);
    assert!(
        matches!(locked, Err(LoginError::Locked { .. })),
        "{locked:?}"
    );
    // Locked: even the right password is refused until the lockout ends or an unlock.
    assert!(matches!(
        ops.login("alice", PW, &p, NOW),
        Err(LoginError::Locked { .. })
    ));
    let later = NOW.plus(Duration::from_secs(61));
    assert!(ops.login("alice", PW, &p, later).is_ok());
    for _ in 0..3 {
        let _ = ops.login("alice", "wrong", &p, later);
    }
    ops.unlock_account(&admin(), "alice").unwrap();
    assert!(ops.login("alice", PW, &p, later).is_ok());
    // The only administrator cannot go, or be demoted.
    let e = ops.delete_account(&admin(), "alice").unwrap_err();
    assert!(e.to_string().contains("last administrator"), "{e}");
    assert!(ops
        .set_account_role(&admin(), "alice", Role::ReadOnly)
        .is_err());
    ops.create_account(&admin(), "carol", Role::Administrator, PW)
        .unwrap();
    ops.delete_account(&admin(), "alice").unwrap();
    // Audited, never with the password or its hash.
    let log = ops.audit_log(&AuditFilter::default()).unwrap();
    let text = serde_json::to_string(&log).unwrap();
    assert!(log.iter().any(|e| e.object.as_deref() == Some("carol")));
    assert!(!text.contains(PW) && !text.contains("argon2"), "{text}");
}

pub fn tokens_are_hashed_expire_and_never_exceed_their_owner(f: &Factory) {
    let h = f();
    let ops = &h.ops;
    ops.create_account(&admin(), "hd", Role::Helpdesk, PW)
        .unwrap();
    let req = |role| TokenRequest {
        owner: "hd".into(),
        role,
        description: "script".into(),
        expires: Some(NOW.plus(Duration::from_secs(3600))),
    };
    let e = ops
        .create_token(&admin(), &req(Some(Role::Administrator)), NOW)
        .unwrap_err();
    assert_eq!(e.field(), Some("role"));
    let t = ops.create_token(&admin(), &req(None), NOW).unwrap();
    assert!(t.secret.starts_with("spt_") && t.secret.len() > 70);
    let p = ops.authenticate_token(&t.secret, NOW).unwrap().unwrap();
    assert_eq!((p.name.as_str(), p.role), ("hd", Role::Helpdesk));
    assert_eq!(p.via, Via::Token(t.token.id.clone()));
    assert_eq!(p.actor().as_str(), "api:hd");
    assert!(ops.authenticate_token("spt_nope", NOW).unwrap().is_none());
    assert!(ops
        .authenticate_token(&t.secret[..t.secret.len() - 1], NOW)
        .unwrap()
        .is_none());
    let after = NOW.plus(Duration::from_secs(3601));
    assert!(
        ops.authenticate_token(&t.secret, after).unwrap().is_none(),
        "expired"
    );
    // The owner's role caps the token's at once.
    ops.create_account(&admin(), "boss", Role::Administrator, PW)
        .unwrap();
    let t2 = ops
        .create_token(&admin(), &req(Some(Role::Helpdesk)), NOW)
        .unwrap();
    ops.set_account_role(&admin(), "hd", Role::ReadOnly)
        .unwrap();
    let p = ops.authenticate_token(&t2.secret, NOW).unwrap().unwrap();
    assert_eq!(p.role, Role::ReadOnly);
    // Stored and audited without the secret; revoked, it stops.
    let rows = h.store.reading(|tx| tx.tokens(None)).unwrap();
    assert!(rows
        .iter()
        .all(|r| r.secret_sha256 != t.secret && !t.secret.contains(&r.secret_sha256)));
    ops.revoke_token(&admin(), &t2.token.id).unwrap();
    assert!(ops.authenticate_token(&t2.secret, NOW).unwrap().is_none());
    let text = serde_json::to_string(&ops.audit_log(&AuditFilter::default()).unwrap()).unwrap();
    assert!(
        !text.contains(&t.secret[4..]) && text.contains(&t2.token.id),
        "{text}"
    );
    // Deleting the owner deletes the tokens.
    ops.delete_account(&admin(), "hd").unwrap();
    assert!(ops.tokens(None).unwrap().is_empty());
}

pub fn sessions_expire_and_end_at_logout(f: &Factory) {
    let h = f();
    let ops = &h.ops;
    ops.create_account(&admin(), "ro", Role::ReadOnly, PW)
        .unwrap();
    let pol = SessionPolicy {
        lifetime: Duration::from_secs(3600),
        idle: Duration::from_secs(600),
    };
    let s = ops.open_session("ro", &pol, NOW).unwrap();
    let p = ops
        .authenticate_session(&s.secret, &pol, NOW)
        .unwrap()
        .unwrap();
    assert_eq!(
        p.via,
        Via::Session {
            csrf: s.csrf.clone()
        }
    );
    assert!(ops
        .authenticate_session(&"0".repeat(64), &pol, NOW)
        .unwrap()
        .is_none());
    // Used within the idle time, it lasts; idle too long, it ends.
    let t1 = NOW.plus(Duration::from_secs(500));
    assert!(ops
        .authenticate_session(&s.secret, &pol, t1)
        .unwrap()
        .is_some());
    let t2 = t1.plus(Duration::from_secs(601));
    assert!(ops
        .authenticate_session(&s.secret, &pol, t2)
        .unwrap()
        .is_none());
    let s = ops.open_session("ro", &pol, NOW).unwrap();
    ops.close_session(&s.secret).unwrap();
    assert!(ops
        .authenticate_session(&s.secret, &pol, NOW)
        .unwrap()
        .is_none());
    let s = ops.open_session("ro", &pol, NOW).unwrap();
    let end = NOW.plus(Duration::from_secs(3601));
    assert!(
        ops.authenticate_session(&s.secret, &pol, end)
            .unwrap()
            .is_none(),
        "lifetime"
    );
}

pub fn a_change_based_on_an_old_version_is_refused(f: &Factory) {
    let h = f();
    create_udt(&h, "Desk", false);
    create_profile(&h, "P", true, 2, true);
    create_user(&h, "u1", Some("1001"), "P", "1234");
    let v1 = h.ops.user("u1").unwrap().version();
    let patch = UserPatch {
        first_name: s("A"),
        ..Default::default()
    };
    let u = h
        .ops
        .expecting(Some(v1.clone()))
        .update_user(&admin(), "u1", &patch)
        .unwrap();
    // The version answered is the version read back.
    assert_eq!(u.version(), h.ops.user("u1").unwrap().version());
    let e = h
        .ops
        .expecting(Some(v1.clone()))
        .update_user(&admin(), "u1", &patch)
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Modified, "{e}");
    let e = h
        .ops
        .expecting(Some(v1))
        .delete_user(&admin(), "u1")
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Modified);
    assert!(h
        .ops
        .expecting(Some(Version::parse("x")))
        .delete_udt(&admin(), "Desk")
        .is_err());
    h.ops
        .expecting(Some(u.version()))
        .delete_user(&admin(), "u1")
        .unwrap();
    // Settings too.
    let base = h.ops.settings_version().unwrap();
    let b = selfprov_operations::settings::SettingsBase {
        self_provisioning: sp(AuthMode::Users),
        auto_registration: autoreg("1000", "1999"),
    };
    let p = selfprov_operations::settings::SettingsPatch {
        ivr_enabled: Some(false),
        ..Default::default()
    };
    h.ops
        .expecting(Some(base.clone()))
        .update_settings(&admin(), &b, &p)
        .unwrap();
    let e = h
        .ops
        .expecting(Some(base))
        .update_settings(&admin(), &b, &p)
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Modified);
}

pub fn reimport_updates_existing_users_and_keeps_their_pins(f: &Factory) {
    let h = f();
    create_udt(&h, "Desk", false);
    create_profile(&h, "P", true, 2, true);
    let csv = "user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile\n\
               a,Ann,A,,1234,1001,P\nb,Bob,B,77,4321,1002,\n";
    let import = |text: &str, mode| {
        let (users, errors) =
            parse_users_csv(text.as_bytes(), &h.ops.existing_keys().unwrap(), mode);
        assert!(errors.is_empty(), "{errors:?}");
        let prepared = prepare_users(users, &|_, _| {}).unwrap();
        h.ops
            .import_users(&admin(), &prepared, mode, "test")
            .unwrap()
    };
    assert_eq!(import(csv, Existing::Refuse).created, 2);
    let pin_of = |id: &str| h.store.reading(|tx| tx.user(id)).unwrap().unwrap().pin_hash;
    let pin_a = pin_of("a");
    let mut export = Vec::new();
    selfprov_provisioning::import::write_users_csv(&h.ops.all_users().unwrap(), &mut export)
        .unwrap();
    let export = String::from_utf8(export).unwrap();
    let again = import(&export, Existing::Update);
    assert_eq!(
        (again.created, again.updated, again.unchanged),
        (0, 0, 2),
        "{export}"
    );
    let changed = export.replace("Ann,A", "Ann,Aster");
    let again = import(&changed, Existing::Update);
    assert_eq!((again.updated, again.unchanged), (1, 1));
    assert_eq!(h.ops.user("a").unwrap().last_name, "Aster");
    assert_eq!(pin_of("a"), pin_a, "an empty PIN keeps the user's PIN");
    let (_, errors) = parse_users_csv(
        export.as_bytes(),
        &h.ops.existing_keys().unwrap(),
        Existing::Refuse,
    );
    assert_eq!(errors.len(), 2);
}
