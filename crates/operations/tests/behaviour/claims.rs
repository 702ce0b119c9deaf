//! The claim engine: every outcome code, idempotency, previews, and the device limit and single
//! owner under concurrency.

use crate::*;
use selfprov_operations::devices::DevicePatch;
use selfprov_provisioning::model::AuditKind;
use selfprov_provisioning::store::AuditFilter;

fn claims_audit(h: &Harness) -> Vec<selfprov_provisioning::model::AuditEntry> {
    h.ops
        .audit_log(&AuditFilter {
            kind: Some(AuditKind::Claim),
            ..Default::default()
        })
        .unwrap()
}

pub fn success_assigns_owner_extension_and_templates_and_is_idempotent(make: &Factory) {
    let h = fixture(make);
    let d = autoreg_device(&h, "SEP001122334455", "Cisco 8845");
    assert!(d.auto_registered && d.owner.is_none());
    let how = ClaimContext::ivr("call-1");
    let r = h
        .claims()
        .claim("SEP001122334455", &uid("alice"), &how, NOW)
        .unwrap();
    assert!(matches!(r, AssignOutcome::Assigned(ref p) if p.extension.as_str() == "1004"));
    let d = h.ops.device("SEP001122334455").unwrap();
    assert_eq!(d.owner.as_ref().map(|u| u.as_str()), Some("alice"));
    assert_eq!(d.dn.as_ref().map(|x| x.as_str()), Some("1004"));
    assert_eq!(d.udt.as_deref(), Some("Desk"));
    assert!(!d.auto_registered);
    assert_eq!(d.description, "First alice (Cisco 8845)");
    // Second time: succeeds, changes nothing.
    let again = h
        .claims()
        .claim(
            "SEP001122334455",
            &uid("alice"),
            &ClaimContext::ivr("call-2"),
            NOW,
        )
        .unwrap();
    assert!(matches!(again, AssignOutcome::AlreadyAssigned(_)));
    assert_eq!(h.ops.device("SEP001122334455").unwrap(), d);
    let audit = claims_audit(&h);
    assert_eq!(audit.len(), 2);
    assert!(audit
        .iter()
        .all(|a| a.code == Some(OutcomeCode::Success) && a.actor == "ivr"));
    assert_eq!(audit[1].call_id, "call-1");
    // The successful claim records the device before and after.
    assert_eq!(audit[1].before.as_ref().unwrap()["auto_registered"], true);
    assert_eq!(audit[1].after.as_ref().unwrap()["owner"], "alice");
}

pub fn every_assign_outcome_code(make: &Factory) {
    let h = fixture(make);
    let a = admin();
    autoreg_device(&h, "SEPAAAAAAAAAAA1", "Cisco 8845");
    // SELFPROV_NOT_ALLOWED: profile disallows.
    assert_eq!(
        code_of(claim(&h, "SEPAAAAAAAAAAA1", "bob")),
        OutcomeCode::SelfprovNotAllowed
    );
    // SELFPROV_NOT_ALLOWED: user disabled.
    h.ops
        .update_user(
            &a,
            "erin",
            &selfprov_operations::users::UserPatch {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        code_of(claim(&h, "SEPAAAAAAAAAAA1", "erin")),
        OutcomeCode::SelfprovNotAllowed
    );
    // NO_PRIMARY_EXTENSION.
    assert_eq!(
        code_of(claim(&h, "SEPAAAAAAAAAAA1", "carol")),
        OutcomeCode::NoPrimaryExtension
    );
    // NOT_AUTOREGISTERED: unknown device, and a device created by an administrator.
    assert_eq!(
        code_of(claim(&h, "SEPUNKNOWN00000", "alice")),
        OutcomeCode::NotAutoregistered
    );
    h.ops
        .create_device(
            &a,
            "SEPADMIN0000001",
            &DevicePatch {
                model: s("Cisco 8845"),
                dn: s("1999"),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        code_of(claim(&h, "SEPADMIN0000001", "alice")),
        OutcomeCode::NotAutoregistered
    );
    // SECURE_DEVICE_NOT_SUPPORTED.
    autoreg_device(&h, "SEPSECURE000001", "Cisco 8845");
    h.ops
        .update_device(
            &a,
            "SEPSECURE000001",
            &DevicePatch {
                secure: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        code_of(claim(&h, "SEPSECURE000001", "alice")),
        OutcomeCode::SecureDeviceNotSupported
    );
    // INVALID_DEVICE_MODEL.
    autoreg_device(&h, "SEPMODEL0000001", "Acme Toaster");
    assert_eq!(
        code_of(claim(&h, "SEPMODEL0000001", "alice")),
        OutcomeCode::InvalidDeviceModel
    );
    // MODEL_PHONETEMPLATE_NOT_FOUND: no UDT for desk phones / for softphones.
    assert_eq!(
        code_of(claim(&h, "SEPAAAAAAAAAAA1", "dave")),
        OutcomeCode::ModelPhonetemplateNotFound
    );
    autoreg_device(&h, "JABBERALICE", "Cisco Jabber");
    assert_eq!(
        code_of(claim(&h, "JABBERALICE", "alice")),
        OutcomeCode::ModelPhonetemplateNotFound
    );
    // SELFPROV_DEVICE_LIMIT: "Two" allows 2 devices.
    h.ops
        .update_user(
            &a,
            "erin",
            &selfprov_operations::users::UserPatch {
                enabled: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
    for n in ["SEPLIMIT0000001", "SEPLIMIT0000002", "SEPLIMIT0000003"] {
        autoreg_device(&h, n, "Cisco 7841");
    }
    assert_eq!(
        code_of(claim(&h, "SEPLIMIT0000001", "erin")),
        OutcomeCode::Success
    );
    assert_eq!(
        code_of(claim(&h, "SEPLIMIT0000002", "erin")),
        OutcomeCode::Success
    );
    assert_eq!(
        code_of(claim(&h, "SEPLIMIT0000003", "erin")),
        OutcomeCode::SelfprovDeviceLimit
    );
    // A device owned by someone else is not auto-registered any more.
    assert_eq!(
        code_of(claim(&h, "SEPLIMIT0000001", "alice")),
        OutcomeCode::NotAutoregistered
    );
    // An unknown user (a stale ID after authentication) is invalid credentials.
    assert_eq!(
        code_of(claim(&h, "SEPLIMIT0000003", "ghost")),
        OutcomeCode::InvalidCredentials
    );
    // Failures changed nothing and were audited with their code.
    assert!(h.ops.device("SEPLIMIT0000003").unwrap().owner.is_none());
    let codes: Vec<OutcomeCode> = claims_audit(&h).iter().filter_map(|a| a.code).collect();
    for c in [
        OutcomeCode::SelfprovNotAllowed,
        OutcomeCode::NoPrimaryExtension,
        OutcomeCode::NotAutoregistered,
        OutcomeCode::SecureDeviceNotSupported,
        OutcomeCode::InvalidDeviceModel,
        OutcomeCode::ModelPhonetemplateNotFound,
        OutcomeCode::SelfprovDeviceLimit,
        OutcomeCode::InvalidCredentials,
    ] {
        assert!(codes.contains(&c), "{c} not audited");
    }
}

pub fn preview_changes_nothing(make: &Factory) {
    let h = fixture(make);
    let before = autoreg_device(&h, "SEP0000000000AA", "Cisco 8845");
    let p = h
        .claims()
        .preview("SEP0000000000AA", &uid("alice"))
        .unwrap();
    assert_eq!(p.extension.as_str(), "1004");
    assert_eq!(p.udt.as_str(), "Desk");
    assert_eq!(h.ops.device("SEP0000000000AA").unwrap(), before);
    assert!(claims_audit(&h).is_empty());
}

pub fn fifty_threads_one_user_limit_ten(make: &Factory) {
    let h = fixture(make);
    create_profile(&h, "Ten", true, 10, true);
    create_user(&h, "racer", Some("1100"), "Ten", "1111");
    let names: Vec<String> = (0..50).map(|i| format!("SEP0000000{i:05}")).collect();
    for n in &names {
        autoreg_device(&h, n, "Cisco 8845");
    }
    let results: Vec<OutcomeCode> = std::thread::scope(|sc| {
        let hs: Vec<_> = names
            .iter()
            .map(|n| sc.spawn(|| code_of(claim(&h, n, "racer"))))
            .collect();
        hs.into_iter().map(|t| t.join().unwrap()).collect()
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
    let owned = h
        .ops
        .devices(&Default::default())
        .unwrap()
        .items
        .into_iter()
        .filter(|d| d.owner.as_ref().is_some_and(|o| o.as_str() == "racer"))
        .count();
    assert_eq!(owned, 10);
}

pub fn two_users_racing_for_one_device_one_owner(make: &Factory) {
    for round in 0..5 {
        let h = fixture(make);
        autoreg_device(&h, "SEPRACE00000001", "Cisco 8845");
        create_user(&h, "frank", Some("1009"), "Std", "5555");
        let (a, b) = std::thread::scope(|sc| {
            let h1 = sc.spawn(|| code_of(claim(&h, "SEPRACE00000001", "alice")));
            let h2 = sc.spawn(|| code_of(claim(&h, "SEPRACE00000001", "frank")));
            (h1.join().unwrap(), h2.join().unwrap())
        });
        let wins = [a, b]
            .iter()
            .filter(|c| **c == OutcomeCode::Success)
            .count();
        assert_eq!(wins, 1, "round {round}: {a} {b}");
        assert!(h.ops.device("SEPRACE00000001").unwrap().owner.is_some());
    }
}

pub fn user_without_profile_uses_system_default(make: &Factory) {
    let h = fixture(make);
    h.ops
        .create_user(
            &admin(),
            "gina",
            &selfprov_operations::users::UserPatch {
                user_profile: None,
                ..user_patch(Some("1010"), "Std", "1")
            },
        )
        .unwrap();
    autoreg_device(&h, "SEPDEFAULT00001", "Cisco 8845");
    // No default profile yet: not allowed.
    assert_eq!(
        code_of(claim(&h, "SEPDEFAULT00001", "gina")),
        OutcomeCode::SelfprovNotAllowed
    );
    h.ops
        .update_profile(
            &admin(),
            "Std",
            &selfprov_operations::profiles::ProfilePatch {
                system_default: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        code_of(claim(&h, "SEPDEFAULT00001", "gina")),
        OutcomeCode::Success
    );
}

pub fn secrets_never_reach_the_audit_log_or_serialised_users(make: &Factory) {
    let h = fixture(make);
    let _ = h.claims().authenticate(
        "1004",
        Some("987654"),
        None,
        &sp(AuthMode::Users),
        &CredentialPolicy::default(),
        NOW,
    );
    autoreg_device(&h, "SEPSECRET000001", "Cisco 8845");
    let _ = claim(&h, "SEPSECRET000001", "alice");
    h.ops.reset_pin(&admin(), "alice", Some("24680")).unwrap();
    let log = format!("{:?}", h.ops.audit_log(&AuditFilter::default()).unwrap());
    for secret in ["12345", "987654", "24680", "argon2"] {
        assert!(!log.contains(secret), "{secret} in the audit log");
    }
    let u = h.ops.user("alice").unwrap();
    assert!(u.pin_hash.as_deref().unwrap().starts_with("$argon2id$"));
    let json = serde_json::to_string(&u).unwrap();
    assert!(!json.contains("argon2"), "{json}");
}

pub fn move_follows_the_claim_rules_and_issues_a_new_secret(make: &Factory) {
    let h = fixture(make);
    create_user(&h, "frank", Some("1009"), "Std", "5555");
    autoreg_device(&h, "SEPMOVE00000001", "Cisco 8845");
    claim(&h, "SEPMOVE00000001", "alice").unwrap();
    let gen = |d: &str| h.claims().credential(d).unwrap().unwrap().generation;
    let g = gen("SEPMOVE00000001");
    let mv = |user: &str| {
        h.claims().move_device(
            "SEPMOVE00000001",
            &uid(user),
            &ClaimContext::by(&admin()),
            NOW,
        )
    };
    // The same refusals as a claim, with the same codes.
    assert_eq!(code_of(mv("bob")), OutcomeCode::SelfprovNotAllowed);
    assert_eq!(code_of(mv("carol")), OutcomeCode::NoPrimaryExtension);
    assert_eq!(gen("SEPMOVE00000001"), g, "a refused move changes nothing");
    assert_eq!(
        h.ops
            .device("SEPMOVE00000001")
            .unwrap()
            .owner
            .unwrap()
            .as_str(),
        "alice"
    );
    // Moved: the new owner's extension, a new secret; moving to the same owner is a no-op.
    assert!(
        matches!(mv("frank"), Ok(AssignOutcome::Assigned(ref p)) if p.extension.as_str() == "1009")
    );
    let d = h.ops.device("SEPMOVE00000001").unwrap();
    assert_eq!(
        (d.owner.unwrap().as_str(), d.dn.unwrap().as_str()),
        ("frank", "1009")
    );
    assert_eq!(gen("SEPMOVE00000001"), g + 1);
    assert!(matches!(mv("frank"), Ok(AssignOutcome::AlreadyAssigned(_))));
    let e = &h
        .ops
        .audit_log(&selfprov_provisioning::store::AuditFilter {
            device: s("SEPMOVE00000001"),
            kind: Some(AuditKind::Claim),
            ..Default::default()
        })
        .unwrap()[1];
    assert!(e.detail.starts_with("moved from alice"), "{}", e.detail);
    // A user at the device limit cannot receive a moved phone.
    for n in ["SEPMOVE00000002", "SEPMOVE00000003"] {
        autoreg_device(&h, n, "Cisco 8845");
        claim(&h, n, "erin").unwrap();
    }
    assert_eq!(
        code_of(h.claims().move_device(
            "SEPMOVE00000001",
            &uid("erin"),
            &ClaimContext::by(&admin()),
            NOW
        )),
        OutcomeCode::SelfprovDeviceLimit
    );
}

pub fn the_device_alone_is_checked_before_any_credential(make: &Factory) {
    let h = fixture(make);
    let a = admin();
    let check = |d: &str| h.claims().check_device(d).map_err(|e| e.code());
    autoreg_device(&h, "SEPCHECK0000001", "Cisco 8845");
    assert_eq!(check("SEPCHECK0000001"), Ok(()));
    assert_eq!(
        check("SEPUNKNOWN00000"),
        Err(OutcomeCode::NotAutoregistered)
    );
    autoreg_device(&h, "SEPCHECK0000002", "Acme Toaster");
    assert_eq!(
        check("SEPCHECK0000002"),
        Err(OutcomeCode::InvalidDeviceModel)
    );
    h.ops
        .update_device(
            &a,
            "SEPCHECK0000001",
            &DevicePatch {
                secure: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        check("SEPCHECK0000001"),
        Err(OutcomeCode::SecureDeviceNotSupported)
    );
    // A claimed phone is no longer auto-registered: nothing to claim from it.
    autoreg_device(&h, "SEPCHECK0000003", "Cisco 7841");
    assert_eq!(
        code_of(claim(&h, "SEPCHECK0000003", "alice")),
        OutcomeCode::Success
    );
    assert_eq!(
        check("SEPCHECK0000003"),
        Err(OutcomeCode::NotAutoregistered)
    );
    // Checking changes nothing and writes no audit entry.
    assert_eq!(claims_audit(&h).len(), 1);
}
