//! Auto-registration (free DNs in turn, exhaustion, no DN shared under concurrency) and release.

use crate::*;
use selfprov_provisioning::model::AuditKind;
use selfprov_provisioning::store::AuditFilter;

pub fn register(
    ops: &Operations,
    name: &str,
    set: &AutoRegistrationSettings,
) -> Result<Device, selfprov_provisioning::StoreError> {
    ops.claims().auto_register(
        &name.parse().unwrap(),
        "Cisco 8845",
        set,
        &Actor::registrar(),
        NOW,
    )
}

pub fn auto_registration_hands_out_free_dns_and_reports_exhaustion(make: &Factory) {
    let h = fixture(make);
    // 1004 and 1005 are users' extensions: skipped.
    let set = autoreg("1003", "1006");
    let a = register(&h.ops, "SEP00000000000A", &set).unwrap();
    let b = register(&h.ops, "SEP00000000000B", &set).unwrap();
    assert_eq!(a.dn.unwrap().as_str(), "1003");
    assert_eq!(b.dn.unwrap().as_str(), "1006");
    // Known device: unchanged, and audited once.
    assert_eq!(
        register(&h.ops, "SEP00000000000A", &set)
            .unwrap()
            .dn
            .unwrap()
            .as_str(),
        "1003"
    );
    let e = register(&h.ops, "SEP00000000000C", &set).unwrap_err();
    assert!(e.to_string().contains("1003..1006 is exhausted"), "{e}");
    let entries = h
        .ops
        .audit_log(&AuditFilter {
            device: s("SEP00000000000A"),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].action.as_deref(), entries[0].actor.as_str()),
        (Some("autoregister"), "registrar")
    );
}

pub fn auto_registration_hands_dns_out_in_turn_and_skips_long_taken_runs(make: &Factory) {
    let h = fixture(make);
    let set = autoreg("6000", "6199");
    let reg = |ops: &Operations, i: u32| {
        register(ops, &format!("SEPD{i:011}"), &set)
            .unwrap()
            .dn
            .unwrap()
            .to_string()
    };
    for i in 0..100 {
        assert_eq!(reg(&h.ops, i), format!("{}", 6000 + i));
    }
    // A freed DN is not handed out again at once: the next one after the last is.
    h.ops.delete_device(&admin(), "SEPD00000000000").unwrap();
    assert_eq!(reg(&h.ops, 100), "6100");
    // A new process starts at the bottom: 6000 is free again.
    let again = h.restarted();
    assert_eq!(reg(&again, 101), "6000");
    // Then 6001..6100 are taken: more than the probes, so the range is read once.
    assert_eq!(reg(&again, 102), "6101");
}

pub fn concurrent_auto_registration_never_shares_a_dn(make: &Factory) {
    let h = fixture(make);
    let set = autoreg("5000", "5099");
    std::thread::scope(|sc| {
        for t in 0..4 {
            let (h, set) = (&h, &set);
            sc.spawn(move || {
                for i in 0..20 {
                    register(&h.ops, &format!("SEPT{t}{i:010}"), set).unwrap();
                }
            });
        }
    });
    let dns: Vec<String> = h
        .ops
        .devices(&Default::default())
        .unwrap()
        .items
        .into_iter()
        .filter_map(|d| d.dn.map(String::from))
        .collect();
    let unique: std::collections::HashSet<_> = dns.iter().collect();
    assert_eq!((dns.len(), unique.len()), (80, 80));
}

pub fn release_returns_a_device_to_a_temporary_dn(make: &Factory) {
    let h = fixture(make);
    let set = autoreg("3000", "3999");
    autoreg_device(&h, "SEPRELEASE00001", "Cisco 8845");
    claim(&h, "SEPRELEASE00001", "alice").unwrap();
    let d = h
        .claims()
        .release("SEPRELEASE00001", &set, &admin(), NOW)
        .unwrap();
    assert!(d.auto_registered && d.owner.is_none(), "{d:?}");
    let dn = d.dn.clone().unwrap();
    assert!(set.dn_range.contains(&dn) && dn.as_str() != "1004", "{dn}");
    assert_eq!(d.description, format!("Auto {dn}"));
    // The released device can be claimed again, by someone else.
    create_user(&h, "frank", Some("1009"), "Std", "5555");
    assert_eq!(
        code_of(claim(&h, "SEPRELEASE00001", "frank")),
        OutcomeCode::Success
    );
    // Releasing an unowned auto-registered device is refused and changes nothing.
    autoreg_device(&h, "SEPRELEASE00002", "Cisco 8845");
    let e = h
        .claims()
        .release("SEPRELEASE00002", &set, &admin(), NOW)
        .unwrap_err();
    assert!(e.to_string().contains("nothing to release"), "{e}");
    assert!(h
        .claims()
        .release("SEPNOSUCH000000", &set, &admin(), NOW)
        .unwrap_err()
        .to_string()
        .contains("not found"));
    let rel = h
        .ops
        .audit_log(&AuditFilter {
            kind: Some(AuditKind::Change),
            object: s("SEPRELEASE00001"),
            ..Default::default()
        })
        .unwrap();
    let release = rel
        .iter()
        .find(|e| e.action.as_deref() == Some("release"))
        .expect("release audited");
    assert_eq!(release.user.as_deref(), Some("alice"));
    assert_eq!(release.before.as_ref().unwrap()["owner"], "alice");
    assert!(release.after.as_ref().unwrap()["owner"].is_null());
}

pub fn credentials_rotate_at_auto_registration_claim_and_release(make: &Factory) {
    let h = fixture(make);
    let gen = |d: &str| h.claims().credential(d).unwrap().map(|c| c.generation);
    autoreg_device(&h, "SEPCRED00000001", "Cisco 8845");
    assert_eq!(gen("SEPCRED00000001"), Some(1));
    let c = h.claims().credential("SEPCRED00000001").unwrap().unwrap();
    assert_eq!((c.issued, c.fetched), (NOW, None));
    // A refused claim issues nothing; a claim issues the user's line its own secret.
    assert_eq!(
        code_of(claim(&h, "SEPCRED00000001", "bob")),
        OutcomeCode::SelfprovNotAllowed
    );
    assert_eq!(gen("SEPCRED00000001"), Some(1));
    claim(&h, "SEPCRED00000001", "alice").unwrap();
    assert_eq!(gen("SEPCRED00000001"), Some(2));
    // Claiming again changes nothing, so no new secret either.
    claim(&h, "SEPCRED00000001", "alice").unwrap();
    assert_eq!(gen("SEPCRED00000001"), Some(2));
    h.claims()
        .release("SEPCRED00000001", &autoreg("3000", "3999"), &admin(), NOW)
        .unwrap();
    assert_eq!(gen("SEPCRED00000001"), Some(3));
    // A device an administrator creates gets one too; deleting the device deletes it.
    h.ops
        .create_device(&admin(), "SEPCRED00000002", &Default::default())
        .unwrap();
    assert_eq!(gen("SEPCRED00000002"), Some(1));
    h.ops.delete_device(&admin(), "SEPCRED00000002").unwrap();
    assert_eq!(gen("SEPCRED00000002"), None);
}

pub fn replace_gives_the_new_hardware_the_old_lines(make: &Factory) {
    let h = fixture(make);
    autoreg_device(&h, "SEPOLD000000001", "Cisco 8845");
    claim(&h, "SEPOLD000000001", "alice").unwrap();
    // The new phone auto-registered itself already (its first fetch).
    let temp = autoreg_device(&h, "SEPNEW000000001", "Cisco 8861")
        .dn
        .unwrap();
    let d = h
        .claims()
        .replace(
            "SEPOLD000000001",
            &"SEPNEW000000001".parse().unwrap(),
            &admin(),
            NOW,
        )
        .unwrap();
    assert_eq!(
        (
            d.owner.as_ref().unwrap().as_str(),
            d.dn.as_ref().unwrap().as_str(),
            d.model.as_str()
        ),
        ("alice", "1004", "Cisco 8861")
    );
    assert!(!d.auto_registered && d.udt.as_deref() == Some("Desk"));
    assert!(
        h.claims().device("SEPOLD000000001").unwrap().is_none(),
        "the old device is gone"
    );
    assert!(
        h.claims().credential("SEPOLD000000001").unwrap().is_none(),
        "and its credential"
    );
    assert!(h.claims().credential("SEPNEW000000001").unwrap().is_some());
    // The new phone's temporary DN went back to the pool.
    assert!(
        h.ops
            .devices(&Default::default())
            .unwrap()
            .items
            .iter()
            .all(|x| x.dn.as_ref() != Some(&temp)),
        "{temp} still taken"
    );
    // Each device's history has the replacement.
    for name in ["SEPOLD000000001", "SEPNEW000000001"] {
        let e = h
            .ops
            .audit_log(&AuditFilter {
                device: s(name),
                kind: Some(AuditKind::Change),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(e[0].action.as_deref(), Some("replace"), "{name}");
    }
    // A phone that belongs to someone cannot be the replacement; nor can a device replace itself.
    autoreg_device(&h, "SEPBUSY00000001", "Cisco 8845");
    create_user(&h, "frank", Some("1009"), "Std", "5555");
    claim(&h, "SEPBUSY00000001", "frank").unwrap();
    assert!(h
        .claims()
        .replace(
            "SEPNEW000000001",
            &"SEPBUSY00000001".parse().unwrap(),
            &admin(),
            NOW
        )
        .unwrap_err()
        .to_string()
        .contains("in use"));
    assert!(h
        .claims()
        .replace(
            "SEPNEW000000001",
            &"SEPNEW000000001".parse().unwrap(),
            &admin(),
            NOW
        )
        .is_err());
    assert!(h
        .claims()
        .replace(
            "SEPNOSUCH000000",
            &"SEPX00000000001".parse().unwrap(),
            &admin(),
            NOW
        )
        .unwrap_err()
        .to_string()
        .contains("not found"));
}
