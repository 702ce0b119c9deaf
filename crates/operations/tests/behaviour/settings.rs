//! Settings changed at run time: they override the file's field by field, are checked as a
//! whole, are audited (the authentication code only as "set"), and can be reset.

use crate::*;
use selfprov_operations::settings::{SettingsBase, SettingsPatch, SAVED};
use selfprov_provisioning::model::AuditKind;
use selfprov_provisioning::store::AuditFilter;

fn base() -> SettingsBase {
    let mut sp = sp(AuthMode::Users);
    sp.auth_code_hash = None;
    SettingsBase {
        self_provisioning: sp,
        auto_registration: autoreg("1000", "1999"),
    }
}

pub fn settings_override_the_file_and_reset(make: &Factory) {
    let h = fixture(make);
    let b = base();
    let rev0 = h.ops.settings_revision().unwrap();
    let p = SettingsPatch {
        ivr_enabled: Some(false),
        authentication_mode: s("users_and_admins"),
        authentication_code: s("24680"),
        languages: Some(vec!["fr_FR".into(), "en_US".into()]),
        auto_registration_udt: s("Desk"),
        dn_range_start: s("1500"),
        ..Default::default()
    };
    let saved = h.ops.update_settings(&admin(), &b, &p).unwrap();
    assert_eq!(saved.message, SAVED);
    assert!(h.ops.settings_revision().unwrap() > rev0);
    let eff = h.ops.effective_settings(&b).unwrap();
    assert!(!eff.self_provisioning.ivr_enabled);
    assert_eq!(eff.self_provisioning.auth_mode, AuthMode::UsersAndAdmins);
    assert!(eff
        .self_provisioning
        .auth_code_hash
        .as_ref()
        .unwrap()
        .verify("24680"));
    assert_eq!(
        eff.self_provisioning.languages.as_slice()[0].as_str(),
        "fr_FR"
    );
    assert_eq!(eff.auto_registration.udt.as_ref().unwrap().as_str(), "Desk");
    assert_eq!(eff.auto_registration.dn_range.to_string(), "1500..1999");
    // The view says where each value comes from, and the status follows.
    let v = h.ops.settings(&b).unwrap();
    let src = |n: &str| v.settings.iter().find(|x| x.name == n).unwrap().source;
    assert_eq!(
        (src("ivr_enabled"), src("dn_range_end")),
        ("database", "file")
    );
    assert!(
        matches!(v.status, Status::NotReady(ref r) if r.iter().any(|m| m.contains("IVR service is deactivated")))
    );
    // The audit shows the change, with the code only as "set".
    let e = &h
        .ops
        .audit_log(&AuditFilter {
            kind: Some(AuditKind::Change),
            object: s("system"),
            ..Default::default()
        })
        .unwrap()[0];
    assert_eq!(e.after.as_ref().unwrap()["authentication_code"], "set");
    assert_eq!(e.after.as_ref().unwrap()["ivr_enabled"], false);
    assert!(!serde_json::to_string(e).unwrap().contains("argon2"));
    // Reset one field, then all.
    h.ops
        .reset_settings(&admin(), &b, &["ivr_enabled".into()])
        .unwrap();
    assert!(
        h.ops
            .effective_settings(&b)
            .unwrap()
            .self_provisioning
            .ivr_enabled
    );
    h.ops.reset_settings(&admin(), &b, &["all".into()]).unwrap();
    let eff = h.ops.effective_settings(&b).unwrap();
    assert_eq!(
        (
            eff.self_provisioning.auth_mode,
            eff.auto_registration.dn_range.to_string()
        ),
        (AuthMode::Users, "1000..1999".into())
    );
    assert!(h
        .ops
        .reset_settings(&admin(), &b, &["colour".into()])
        .unwrap_err()
        .to_string()
        .contains("not a setting"));
}

pub fn settings_are_checked_as_a_whole(make: &Factory) {
    let h = fixture(make);
    let b = base();
    let set = |p: SettingsPatch| h.ops.update_settings(&admin(), &b, &p).unwrap_err();
    // The mode that needs the code, without one.
    assert_eq!(
        set(SettingsPatch {
            authentication_mode: s("users_and_admins"),
            ..Default::default()
        })
        .field(),
        Some("authentication_code")
    );
    assert_eq!(
        set(SettingsPatch {
            authentication_code: s(""),
            ..Default::default()
        })
        .field(),
        Some("authentication_code")
    );
    assert_eq!(
        set(SettingsPatch {
            authentication_mode: s("everyone"),
            ..Default::default()
        })
        .field(),
        Some("authentication_mode")
    );
    assert_eq!(
        set(SettingsPatch {
            languages: Some(vec![]),
            ..Default::default()
        })
        .field(),
        Some("languages")
    );
    assert_eq!(
        set(SettingsPatch {
            auto_registration_ult: s("Nope"),
            ..Default::default()
        })
        .field(),
        Some("auto_registration_ult")
    );
    assert_eq!(
        set(SettingsPatch {
            dn_range_start: s("1x"),
            ..Default::default()
        })
        .field(),
        Some("dn_range_start")
    );
    // The route point's DN inside the range.
    let e = set(SettingsPatch {
        dn_range_end: s("2500"),
        ..Default::default()
    });
    assert!(e.to_string().contains("route-point DN 2000"), "{e}");
    // Nothing was stored.
    assert_eq!(h.ops.settings_revision().unwrap(), 0);
}
