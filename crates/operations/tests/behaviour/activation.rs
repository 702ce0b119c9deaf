//! Activation codes: issue → use → provisioned, single use, expiry (time passed in), wrong codes
//! and their lockout per calling device, by-model codes bound to the first phone of the model,
//! the assign rules applied as for any claim, and the audit.

use crate::*;
use selfprov_operations::activation::{CodeRequest, NewCode};
use selfprov_provisioning::activation::CodeState;
use selfprov_provisioning::model::AuditKind;
use selfprov_provisioning::store::AuditFilter;
use selfprov_provisioning::store::StoreExt;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

fn issue(h: &Harness, user: &str, device: Option<&str>, model: Option<&str>) -> NewCode {
    h.ops
        .issue_activation_code(
            &admin(),
            &CodeRequest {
                user_id: user.into(),
                device: device.map(str::to_owned),
                model: model.map(str::to_owned),
                lifetime: None,
            },
            NOW,
        )
        .unwrap()
}

fn use_code(h: &Harness, device: &str, code: &str, at: UnixMillis) -> OutcomeCode {
    code_of(h.claims().claim_with_code(
        device,
        code,
        &ClaimContext::ivr("call"),
        &CredentialPolicy::default(),
        at,
    ))
}

fn later(d: Duration) -> UnixMillis {
    NOW.plus(d)
}

/// A 16-digit code that is not `code`.
fn other_than(code: &str) -> String {
    let last = code.as_bytes()[15];
    let flipped = if last == b'9' {
        '0'
    } else {
        char::from(last + 1)
    };
    format!("{}{flipped}", &code[..15])
}

pub fn issued_code_claims_the_phone_once_and_is_audited(make: &Factory) {
    let h = fixture(make);
    autoreg_device(&h, "SEP001122334455", "Cisco 8845");
    let c = issue(&h, "alice", Some("SEP001122334455"), None);
    assert_eq!(c.code.len(), 16);
    assert!(c.code.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(c.view.state, CodeState::Pending);
    assert_eq!(
        c.view.expires_ms,
        later(7 * DAY).0,
        "default lifetime 7 days"
    );
    // Stored as a keyed hash and sealed: nothing listed or audited shows it, nor the row...
    let listed = h.ops.activation_codes("alice", NOW).unwrap();
    assert_eq!(listed.len(), 1);
    let row = h
        .store
        .reading(|tx| tx.activation_code(&c.view.id))
        .unwrap()
        .unwrap();
    let everything = format!(
        "{listed:?}{:?}{row:?}",
        h.ops.audit_log(&AuditFilter::default()).unwrap()
    );
    assert!(!everything.contains(&c.code));
    // ...but its user's self-care does, while it is pending.
    let alice = "alice".parse().unwrap();
    let mine = h.ops.self_care_codes(&alice, NOW).unwrap();
    assert_eq!(
        mine.iter().map(|m| m.code.as_str()).collect::<Vec<_>>(),
        [c.code.as_str()]
    );
    assert!(h
        .ops
        .self_care_codes(&alice, later(7 * DAY))
        .unwrap()
        .is_empty());

    // Typed with the spaces it is printed with.
    let spaced = format!(
        "{} {} {} {}",
        &c.code[..4],
        &c.code[4..8],
        &c.code[8..12],
        &c.code[12..]
    );
    assert_eq!(
        use_code(&h, "SEP001122334455", &spaced, later(DAY)),
        OutcomeCode::Success
    );
    let d = h.ops.device("SEP001122334455").unwrap();
    assert_eq!(d.owner.as_ref().map(|u| u.as_str()), Some("alice"));
    assert_eq!(d.dn.as_ref().map(|x| x.as_str()), Some("1004"));
    assert!(!d.auto_registered);
    let listed = h.ops.activation_codes("alice", later(DAY)).unwrap();
    assert_eq!(listed[0].state, CodeState::Used);
    assert_eq!(listed[0].used_by.as_deref(), Some("SEP001122334455"));
    assert!(
        h.ops
            .self_care_codes(&alice, later(DAY))
            .unwrap()
            .is_empty(),
        "spent"
    );

    // Single use: again, even from the same phone, is ACTIVATION_CODE_USED.
    assert_eq!(
        use_code(&h, "SEP001122334455", &c.code, later(DAY)),
        OutcomeCode::ActivationCodeUsed
    );
    let claims = h
        .ops
        .audit_log(&AuditFilter {
            kind: Some(AuditKind::Claim),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(claims.len(), 2);
    assert_eq!(claims[1].code, Some(OutcomeCode::Success));
    assert_eq!(claims[1].user.as_deref(), Some("alice"));
    assert!(claims[1]
        .detail
        .contains(&format!("activation code {}", c.view.id)));
    assert_eq!(claims[0].code, Some(OutcomeCode::ActivationCodeUsed));
    // Issuing is audited as a change by the administrator.
    let issued = h
        .ops
        .audit_log(&AuditFilter {
            kind: Some(AuditKind::Change),
            ..Default::default()
        })
        .unwrap();
    assert!(issued.iter().any(
        |e| e.detail.starts_with("issue activation_code") && e.user.as_deref() == Some("alice")
    ));
}

pub fn expired_and_revoked_codes_are_refused(make: &Factory) {
    let h = fixture(make);
    autoreg_device(&h, "SEP001122334455", "Cisco 8845");
    let c = issue(&h, "alice", Some("SEP001122334455"), None);
    let expiry = later(7 * DAY);
    assert_eq!(
        h.ops.activation_codes("alice", expiry).unwrap()[0].state,
        CodeState::Expired
    );
    assert_eq!(
        use_code(&h, "SEP001122334455", &c.code, expiry),
        OutcomeCode::ActivationCodeExpired
    );
    assert!(h.ops.device("SEP001122334455").unwrap().owner.is_none());
    // A shorter lifetime, asked for.
    let short = h
        .ops
        .issue_activation_code(
            &admin(),
            &CodeRequest {
                user_id: "alice".into(),
                device: Some("SEP001122334455".into()),
                lifetime: Some(Duration::from_secs(60)),
                ..Default::default()
            },
            NOW,
        )
        .unwrap();
    assert_eq!(
        use_code(
            &h,
            "SEP001122334455",
            &short.code,
            later(Duration::from_secs(61))
        ),
        OutcomeCode::ActivationCodeExpired
    );
    // Revoked: no longer a code at all.
    let r = issue(&h, "alice", Some("SEP001122334455"), None);
    let v = h
        .ops
        .revoke_activation_code(&admin(), &r.view.id, NOW)
        .unwrap();
    assert_eq!(v.state, CodeState::Revoked);
    assert_eq!(
        use_code(&h, "SEP001122334455", &r.code, NOW),
        OutcomeCode::ActivationCodeInvalid
    );
    assert!(h.ops.device("SEP001122334455").unwrap().owner.is_none());
    // A used code cannot be revoked.
    let u = issue(&h, "alice", Some("SEP001122334455"), None);
    assert_eq!(
        use_code(&h, "SEP001122334455", &u.code, NOW),
        OutcomeCode::Success
    );
    assert!(h
        .ops
        .revoke_activation_code(&admin(), &u.view.id, NOW)
        .is_err());
    // The configured lifetime changed (a reload): codes issued from then on last that long;
    // the key stays, so a code issued before still works.
    autoreg_device(&h, "SEP001122334466", "Cisco 8845");
    let before = issue(&h, "alice", Some("SEP001122334466"), None);
    h.claims().set_code_lifetime(Duration::from_secs(3600));
    let after = issue(&h, "alice", Some("SEP001122334466"), None);
    assert_eq!(after.view.expires_ms, later(Duration::from_secs(3600)).0);
    assert_eq!(before.view.expires_ms, later(7 * DAY).0);
    assert_eq!(
        use_code(
            &h,
            "SEP001122334466",
            &after.code,
            later(Duration::from_secs(3601))
        ),
        OutcomeCode::ActivationCodeExpired
    );
    assert_eq!(
        use_code(&h, "SEP001122334466", &before.code, later(DAY)),
        OutcomeCode::Success
    );
}

pub fn wrong_codes_lock_the_calling_phone_out(make: &Factory) {
    let h = fixture(make);
    autoreg_device(&h, "SEP001122334455", "Cisco 8845");
    autoreg_device(&h, "SEP00112233445A", "Cisco 8845");
    let c = issue(&h, "alice", Some("SEP001122334455"), None);
    let wrong = other_than(&c.code);
    let policy = CredentialPolicy::default();
    assert_eq!(
        use_code(&h, "SEP001122334455", "12", NOW),
        OutcomeCode::ActivationCodeInvalid
    );
    for _ in 1..policy.failed_attempts_threshold - 1 {
        assert_eq!(
            use_code(&h, "SEP001122334455", &wrong, NOW),
            OutcomeCode::ActivationCodeInvalid
        );
    }
    // The threshold-th wrong code locks this phone...
    assert_eq!(
        use_code(&h, "SEP001122334455", &wrong, NOW),
        OutcomeCode::AccountLocked
    );
    // ...so even the right code is refused until the lockout ends,
    assert_eq!(
        use_code(
            &h,
            "SEP001122334455",
            &c.code,
            later(Duration::from_secs(60))
        ),
        OutcomeCode::AccountLocked
    );
    // while another phone is not locked (its wrong code is only wrong).
    assert_eq!(
        use_code(&h, "SEP00112233445A", &wrong, NOW),
        OutcomeCode::ActivationCodeInvalid
    );
    // After the lockout the right code works, and the count starts again.
    let after = NOW.plus(policy.lockout_duration);
    assert_eq!(
        use_code(&h, "SEP001122334455", &c.code, after),
        OutcomeCode::Success
    );
    assert_eq!(
        h.store
            .reading(|tx| tx.code_failures("SEP001122334455"))
            .unwrap(),
        (0, None)
    );
}

pub fn by_model_code_binds_the_first_phone_of_that_model(make: &Factory) {
    let h = fixture(make);
    autoreg_device(&h, "SEPAAAAAAAAAAA1", "Cisco 7841");
    autoreg_device(&h, "SEPBBBBBBBBBBB1", "Cisco 8845");
    autoreg_device(&h, "SEPBBBBBBBBBBB2", "Cisco 8845");
    let c = issue(&h, "alice", None, Some("Cisco 8845"));
    assert_eq!(c.view.model.as_deref(), Some("Cisco 8845"));
    // A phone of another model: refused, the code stays usable.
    assert_eq!(
        use_code(&h, "SEPAAAAAAAAAAA1", &c.code, NOW),
        OutcomeCode::ActivationCodeWrongDevice
    );
    assert_eq!(
        use_code(&h, "SEPBBBBBBBBBBB1", &c.code, NOW),
        OutcomeCode::Success
    );
    assert_eq!(
        h.ops.activation_codes("alice", NOW).unwrap()[0]
            .used_by
            .as_deref(),
        Some("SEPBBBBBBBBBBB1")
    );
    // A second phone of the model: the code is spent.
    assert_eq!(
        use_code(&h, "SEPBBBBBBBBBBB2", &c.code, NOW),
        OutcomeCode::ActivationCodeUsed
    );
    assert!(h.ops.device("SEPBBBBBBBBBBB2").unwrap().owner.is_none());
    assert!(h.ops.device("SEPAAAAAAAAAAA1").unwrap().owner.is_none());
    // A by-MAC code used from another phone: its own outcome, and the code stays usable.
    autoreg_device(&h, "SEPCCCCCCCCCCC1", "Cisco 8845");
    let m = issue(&h, "alice", Some("SEPCCCCCCCCCCC1"), None);
    assert_eq!(
        use_code(&h, "SEPBBBBBBBBBBB2", &m.code, NOW),
        OutcomeCode::ActivationCodeWrongDevice
    );
    assert_eq!(
        use_code(&h, "SEPCCCCCCCCCCC1", &m.code, NOW),
        OutcomeCode::Success
    );
}

pub fn codes_follow_the_assign_rules_and_check_their_input(make: &Factory) {
    let h = fixture(make);
    // erin may own two phones: a code for a third is refused by the device limit, unused.
    for n in ["SEPEEEEEEEEEEE1", "SEPEEEEEEEEEEE2", "SEPEEEEEEEEEEE3"] {
        autoreg_device(&h, n, "Cisco 8845");
    }
    assert_eq!(claim(&h, "SEPEEEEEEEEEEE1", "erin").map(|_| ()), Ok(()));
    assert_eq!(claim(&h, "SEPEEEEEEEEEEE2", "erin").map(|_| ()), Ok(()));
    let c = issue(&h, "erin", Some("SEPEEEEEEEEEEE3"), None);
    assert_eq!(
        use_code(&h, "SEPEEEEEEEEEEE3", &c.code, NOW),
        OutcomeCode::SelfprovDeviceLimit
    );
    assert_eq!(
        h.ops.activation_codes("erin", NOW).unwrap()[0].state,
        CodeState::Pending
    );
    // bob's profile does not allow self-provisioning: neither does a code.
    autoreg_device(&h, "SEPB0B000000001", "Cisco 8845");
    let b = issue(&h, "bob", Some("SEPB0B000000001"), None);
    assert_eq!(
        use_code(&h, "SEPB0B000000001", &b.code, NOW),
        OutcomeCode::SelfprovNotAllowed
    );
    // Input checks name the field.
    let bad = |req: CodeRequest| {
        h.ops
            .issue_activation_code(&admin(), &req, NOW)
            .unwrap_err()
            .to_string()
    };
    assert!(bad(CodeRequest {
        user_id: "alice".into(),
        ..Default::default()
    })
    .contains("device"));
    assert!(bad(CodeRequest {
        user_id: "alice".into(),
        model: Some("Toaster 1".into()),
        ..Default::default()
    })
    .contains("model"));
    assert!(bad(CodeRequest {
        user_id: "nobody".into(),
        model: Some("Cisco 8845".into()),
        ..Default::default()
    })
    .contains("nobody"));
}
