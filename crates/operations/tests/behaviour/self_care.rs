//! The self-care portal's operations: login with the IVR's PIN check and lockout (per source
//! address), the profile's `allow_self_care`, a user's own phones, release and PIN change, and
//! their audit.

use crate::*;
use selfprov_operations::self_care::{PinChange, SelfCareContext, SelfCareError, SelfCarePolicy};
use selfprov_operations::sessions::SessionPolicy;
use selfprov_provisioning::store::AuditFilter;
use std::time::Duration;

fn policy() -> SelfCarePolicy {
    SelfCarePolicy {
        pins: CredentialPolicy {
            failed_attempts_threshold: 3,
            lockout_duration: Duration::from_secs(60),
            reset_on_success: true,
        },
        sessions: SessionPolicy::default(),
    }
}

/// A request from `source`, at NOW.
fn cx<'a>(
    source: &'a str,
    settings: &'a SelfProvisioningSettings,
    policy: &'a SelfCarePolicy,
) -> SelfCareContext<'a> {
    SelfCareContext {
        source,
        settings,
        policy,
        now: NOW,
    }
}

fn login(h: &Harness, id: &str, pin: &str, from: &str) -> Result<String, SelfCareError> {
    let (set, pol) = (sp(AuthMode::Users), policy());
    h.ops
        .self_care_login(id, pin, &cx(from, &set, &pol))
        .map(|(u, _)| u.user_id.to_string())
}

fn field_of(e: SelfCareError) -> String {
    match e {
        SelfCareError::Op(e) => e.field().unwrap_or("").to_owned(),
        e => format!("{e:?}"),
    }
}

pub fn self_care_login_checks_the_pin_the_profile_and_locks_per_address(make: &Factory) {
    let h = fixture(make);
    assert_eq!(login(&h, "1004", "12345", "10.0.0.1").unwrap(), "alice");
    assert_eq!(
        login(&h, "1004", "54321", "10.0.0.1"),
        Err(SelfCareError::InvalidCredentials)
    );
    assert_eq!(
        login(&h, "4242", "12345", "10.0.0.1"),
        Err(SelfCareError::InvalidCredentials)
    );
    // Never the ID alone, nor the administrators' authentication code, whatever the IVR's mode.
    for (mode, from) in [
        (AuthMode::None, "10.0.1.1"),
        (AuthMode::UsersAndAdmins, "10.0.1.2"),
    ] {
        let (set, pol) = (sp(mode), policy());
        let r = h
            .ops
            .self_care_login("1004", "999000", &cx(from, &set, &pol));
        assert_eq!(r.err(), Some(SelfCareError::InvalidCredentials), "{mode:?}");
    }
    // The profile decides; new profiles allow it, and the setting is stored.
    let p = h
        .ops
        .create_profile(
            &admin(),
            "NoCare",
            &ProfilePatch {
                allow_self_care: Some(false),
                ..profile_patch(true, 10, true)
            },
        )
        .unwrap();
    assert!(!p.allow_self_care);
    assert!(!h.ops.profile("NoCare").unwrap().allow_self_care);
    assert!(h.ops.profile("Std").unwrap().allow_self_care);
    create_user(&h, "gina", Some("1010"), "NoCare", "24680");
    assert_eq!(
        login(&h, "1010", "24680", "10.0.0.1"),
        Err(SelfCareError::NotAllowed)
    );
    // Wrong PINs lock the address they came from, not the user everywhere.
    login(&h, "1004", "0", "10.0.0.9").unwrap_err();
    login(&h, "1004", "0", "10.0.0.9").unwrap_err();
    assert_eq!(
        login(&h, "1004", "0", "10.0.0.9"),
        Err(SelfCareError::Locked)
    );
    assert_eq!(
        login(&h, "1004", "12345", "10.0.0.9"),
        Err(SelfCareError::Locked),
        "the right PIN is refused while locked"
    );
    assert_eq!(login(&h, "1004", "12345", "10.0.0.2").unwrap(), "alice");
    // Audited, with the address, never the PIN.
    let log = h
        .ops
        .audit_log(&AuditFilter {
            actor: s("self-care"),
            ..Default::default()
        })
        .unwrap();
    let actors: Vec<&str> = log.iter().map(|e| e.actor.as_str()).collect();
    assert!(actors.contains(&"self-care:alice@10.0.0.1"), "{actors:?}");
    assert!(actors.contains(&"self-care:@10.0.0.9"), "{actors:?}");
    assert!(log
        .iter()
        .any(|e| e.code == Some(OutcomeCode::AccountLocked)));
    assert!(log
        .iter()
        .any(|e| e.user.as_deref() == Some("gina") && e.detail.contains("does not allow")));
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains("12345") && !text.contains("24680"));
}

pub fn a_self_care_session_ends_at_logout_or_when_the_profile_stops_allowing_it(make: &Factory) {
    let h = fixture(make);
    let (set, pol) = (sp(AuthMode::Users), policy());
    let request = cx("10.0.0.1", &set, &pol);
    let (_, s1) = h.ops.self_care_login("1004", "12345", &request).unwrap();
    let found = h
        .ops
        .self_care_session(&s1.secret, &pol.sessions, NOW)
        .unwrap()
        .unwrap();
    assert_eq!((found.0.user_id.as_str(), found.1), ("alice", s1.csrf));
    h.ops
        .self_care_logout(&s1.secret, &uid("alice"), "10.0.0.1", NOW)
        .unwrap();
    assert!(h
        .ops
        .self_care_session(&s1.secret, &pol.sessions, NOW)
        .unwrap()
        .is_none());
    let (_, s2) = h.ops.self_care_login("1004", "12345", &request).unwrap();
    h.ops
        .update_profile(
            &admin(),
            "Std",
            &ProfilePatch {
                allow_self_care: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(h
        .ops
        .self_care_session(&s2.secret, &pol.sessions, NOW)
        .unwrap()
        .is_none());
}

pub fn a_user_releases_only_their_own_phones_and_changes_their_pin(make: &Factory) {
    let h = fixture(make);
    let set = autoreg("3000", "3999");
    autoreg_device(&h, "SEPCA0000000001", "Cisco 8845");
    autoreg_device(&h, "SEPCA0000000002", "Cisco 8845");
    claim(&h, "SEPCA0000000001", "alice").unwrap();
    claim(&h, "SEPCA0000000002", "erin").unwrap();
    let mine = h.ops.self_care_phones(&uid("alice")).unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].dn.as_ref().unwrap().as_str(), "1004");
    // Erin's phone is "not found" for alice, and stays erin's.
    let e = h
        .ops
        .self_care_release(&uid("alice"), "SEPCA0000000002", "10.0.0.1", &set, NOW)
        .unwrap_err();
    assert_eq!(e.class(), selfprov_operations::ErrorClass::NotFound, "{e}");
    assert_eq!(
        h.ops.device("SEPCA0000000002").unwrap().owner,
        Some(uid("erin"))
    );
    let d = h
        .ops
        .self_care_release(&uid("alice"), "SEPCA0000000001", "10.0.0.1", &set, NOW)
        .unwrap();
    assert!(d.auto_registered && d.owner.is_none());
    assert!(set.dn_range.contains(d.dn.as_ref().unwrap()));
    assert!(h.ops.self_care_phones(&uid("alice")).unwrap().is_empty());
    let released = h
        .ops
        .audit_log(&AuditFilter {
            object: s("SEPCA0000000001"),
            actor: s("self-care"),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(released[0].action.as_deref(), Some("release"));
    assert_eq!(released[0].actor, "self-care:alice@10.0.0.1");

    // PIN change: each field's own error, then the new PIN works and the old does not.
    let (set_sp, pol) = (sp(AuthMode::Users), policy());
    let change = |old: &str, new: &str, again: &str| {
        h.ops.self_care_change_pin(
            &uid("alice"),
            &PinChange {
                old_pin: old,
                new_pin: new,
                new_pin_again: again,
            },
            &cx("10.0.0.1", &set_sp, &pol),
        )
    };
    assert_eq!(
        field_of(change("12345", "12a", "12a").unwrap_err()),
        "new_pin"
    );
    assert_eq!(
        field_of(change("12345", "13579", "13578").unwrap_err()),
        "new_pin_again"
    );
    assert_eq!(
        field_of(change("99999", "13579", "13579").unwrap_err()),
        "old_pin"
    );
    change("12345", "13579", "13579").unwrap();
    assert_eq!(login(&h, "1004", "13579", "10.0.0.1").unwrap(), "alice");
    assert_eq!(
        login(&h, "1004", "12345", "10.0.0.1"),
        Err(SelfCareError::InvalidCredentials)
    );
    let changed = h
        .ops
        .audit_log(&AuditFilter {
            object: s("alice"),
            actor: s("self-care"),
            ..Default::default()
        })
        .unwrap();
    assert!(changed
        .iter()
        .any(|e| e.action.as_deref() == Some("change_pin")));
    let text = serde_json::to_string(&changed).unwrap();
    assert!(!text.contains("13579"), "no PIN in the audit");
}
