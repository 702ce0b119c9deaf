//! The audit of administrative changes: every create, update and delete of every kind of object
//! leaves an entry with the actor, the object, and the fields before and after — never a PIN or
//! its hash; and the log can be filtered.

use crate::*;
use selfprov_operations::devices::DevicePatch;
use selfprov_operations::profiles::ProfilePatch;
use selfprov_operations::templates::{UdtPatch, UltPatch};
use selfprov_operations::users::UserPatch;
use selfprov_provisioning::model::{AuditEntry, AuditKind};
use selfprov_provisioning::store::AuditFilter;

fn changes_of(h: &Harness, object: &str) -> Vec<AuditEntry> {
    let mut v = h
        .ops
        .audit_log(&AuditFilter {
            kind: Some(AuditKind::Change),
            object: s(object),
            ..Default::default()
        })
        .unwrap();
    v.reverse();
    v
}

/// create → update → delete of one object left exactly these three entries, in order, with
/// `field` going from `from` to `to` in the update.
fn assert_lifecycle(
    h: &Harness,
    kind: &str,
    object: &str,
    field: &str,
    from: serde_json::Value,
    to: serde_json::Value,
) {
    let e = changes_of(h, object);
    let actions: Vec<_> = e
        .iter()
        .map(|x| x.action.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        actions,
        ["create", "update", "delete"],
        "{kind} {object}: {e:#?}"
    );
    for x in &e {
        assert_eq!(
            (x.object_kind.as_deref(), x.actor.as_str(), x.code),
            (Some(kind), "cli:tester", None),
            "{x:?}"
        );
        assert!(x.time_ms > 0);
    }
    assert!(
        e[0].before.is_none() && e[0].after.as_ref().is_some_and(|a| a[field] == from),
        "{:?}",
        e[0]
    );
    assert_eq!(e[1].before.as_ref().unwrap()[field], from);
    assert_eq!(e[1].after.as_ref().unwrap()[field], to);
    assert!(e[1].detail.contains(field), "{}", e[1].detail);
    assert!(e[2].before.as_ref().is_some_and(|b| b[field] == to) && e[2].after.is_none());
}

pub fn every_change_of_every_kind_is_audited_with_before_and_after(make: &Factory) {
    let h = make();
    let a = admin();
    let o = &h.ops;
    o.create_udt(
        &a,
        "U",
        &UdtPatch {
            device_pool: s("P1"),
            ..Default::default()
        },
    )
    .unwrap();
    o.update_udt(
        &a,
        "U",
        &UdtPatch {
            device_pool: s("P2"),
            ..Default::default()
        },
    )
    .unwrap();
    o.create_ult(
        &a,
        "L",
        &UltPatch {
            partition: s("PT1"),
            ..Default::default()
        },
    )
    .unwrap();
    o.update_ult(
        &a,
        "L",
        &UltPatch {
            partition: s("PT2"),
            ..Default::default()
        },
    )
    .unwrap();
    o.create_profile(
        &a,
        "Prof",
        &ProfilePatch {
            udt_desk_phone: s("U"),
            device_limit: Some(3),
            ..Default::default()
        },
    )
    .unwrap();
    o.update_profile(
        &a,
        "Prof",
        &ProfilePatch {
            device_limit: Some(4),
            ..Default::default()
        },
    )
    .unwrap();
    o.create_user(
        &a,
        "uma",
        &UserPatch {
            last_name: s("Before"),
            pin: s("13579"),
            user_profile: s("Prof"),
            ..Default::default()
        },
    )
    .unwrap();
    o.update_user(
        &a,
        "uma",
        &UserPatch {
            last_name: s("After"),
            pin: s("97531"),
            ..Default::default()
        },
    )
    .unwrap();
    o.create_device(
        &a,
        "SEPAUDIT0000001",
        &DevicePatch {
            description: s("old"),
            ..Default::default()
        },
    )
    .unwrap();
    o.update_device(
        &a,
        "SEPAUDIT0000001",
        &DevicePatch {
            description: s("new"),
            ..Default::default()
        },
    )
    .unwrap();
    o.delete_device(&a, "SEPAUDIT0000001").unwrap();
    o.delete_user(&a, "uma").unwrap();
    o.delete_profile(&a, "Prof").unwrap();
    o.delete_ult(&a, "L").unwrap();
    o.delete_udt(&a, "U").unwrap();
    assert_lifecycle(&h, "udt", "U", "device_pool", "P1".into(), "P2".into());
    assert_lifecycle(&h, "ult", "L", "partition", "PT1".into(), "PT2".into());
    assert_lifecycle(&h, "profile", "Prof", "device_limit", 3.into(), 4.into());
    assert_lifecycle(
        &h,
        "user",
        "uma",
        "last_name",
        "Before".into(),
        "After".into(),
    );
    assert_lifecycle(
        &h,
        "device",
        "SEPAUDIT0000001",
        "description",
        "old".into(),
        "new".into(),
    );
    // A user's entries say whether a PIN is set, never the PIN or its hash.
    // (Times and ids zeroed: a millisecond time may contain the PIN's digits by chance.)
    let mut entries = o.audit_log(&AuditFilter::default()).unwrap();
    for e in &mut entries {
        e.time_ms = 0;
        e.id = 0;
    }
    let all = serde_json::to_string(&entries).unwrap();
    for secret in ["13579", "97531", "argon2", "pin_hash"] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
    assert_eq!(
        changes_of(&h, "uma")[0].after.as_ref().unwrap()["pin_set"],
        true
    );
    // A refused change writes nothing.
    let before = o.audit_log(&AuditFilter::default()).unwrap().len();
    assert!(o.update_udt(&a, "Gone", &UdtPatch::default()).is_err());
    assert!(o
        .create_profile(
            &a,
            "Bad",
            &ProfilePatch {
                device_limit: Some(99),
                ..Default::default()
            }
        )
        .is_err());
    assert_eq!(o.audit_log(&AuditFilter::default()).unwrap().len(), before);
}

pub fn audit_filters(make: &Factory) {
    let h = fixture(make);
    autoreg_device(&h, "SEPFILTER000001", "Cisco 8845");
    claim(&h, "SEPFILTER000001", "alice").unwrap();
    h.ops.unlock_user(&Actor::cli("helpdesk"), "bob").unwrap();
    let f = |f: AuditFilter| h.ops.audit_log(&f).unwrap();
    let claims = f(AuditFilter {
        kind: Some(AuditKind::Claim),
        ..Default::default()
    });
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].code, Some(OutcomeCode::Success));
    // By actor: exact, or the channel.
    assert_eq!(
        f(AuditFilter {
            actor: s("cli:helpdesk"),
            ..Default::default()
        })
        .len(),
        1
    );
    assert_eq!(
        f(AuditFilter {
            actor: s("registrar"),
            ..Default::default()
        })
        .len(),
        1
    );
    let cli = f(AuditFilter {
        actor: s("cli"),
        ..Default::default()
    });
    assert!(
        cli.len() > 10 && cli.iter().all(|e| e.actor.starts_with("cli:")),
        "{}",
        cli.len()
    );
    // The device's history: auto-registration, then the claim.
    let hist = f(AuditFilter {
        device: s("SEPFILTER000001"),
        ..Default::default()
    });
    assert_eq!(
        hist.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [AuditKind::Claim, AuditKind::Change]
    );
    // By object, code, time.
    assert_eq!(
        f(AuditFilter {
            object: s("bob"),
            kind: Some(AuditKind::Change),
            ..Default::default()
        })
        .len(),
        2,
        "create and unlock"
    );
    assert_eq!(
        f(AuditFilter {
            code: Some(OutcomeCode::Success),
            ..Default::default()
        })
        .len(),
        1
    );
    assert!(f(AuditFilter {
        until: Some(UnixMillis(0)),
        ..Default::default()
    })
    .is_empty());
    assert_eq!(
        f(AuditFilter {
            since: Some(UnixMillis(0)),
            limit: Some(3),
            ..Default::default()
        })
        .len(),
        3
    );
}
