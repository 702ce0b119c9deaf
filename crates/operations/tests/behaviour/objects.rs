//! Administrative create/update/delete/list: referential rules with errors that name the field,
//! one system default profile, search, sort and paging, bounded free text.

use crate::*;
use selfprov_operations::devices::DevicePatch;
use selfprov_operations::profiles::ProfilePatch;
use selfprov_operations::users::UserPatch;
use selfprov_operations::ErrorClass;
use selfprov_provisioning::store::{DeviceSort, ListQuery, Pattern, UserSort};

pub fn referential_errors_name_what_is_wrong(make: &Factory) {
    let h = fixture(make);
    let a = admin();
    let e = h.ops.delete_udt(&a, "Desk").unwrap_err();
    assert_eq!(e.class(), ErrorClass::Conflict);
    assert!(
        e.to_string().contains("used by") && e.to_string().contains("user profile"),
        "{e}"
    );
    let e = h
        .ops
        .create_profile(
            &a,
            "X",
            &ProfilePatch {
                udt_desk_phone: s("Nope"),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.field(), Some("udt_desk_phone"));
    assert!(e.to_string().contains("Nope"), "{e}");
    let e = h
        .ops
        .create_user(&a, "alice", &user_patch(Some("1"), "Std", "1"))
        .unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    let e = h
        .ops
        .create_user(&a, "zed", &user_patch(Some("1004"), "Std", "1"))
        .unwrap_err();
    assert_eq!(e.field(), Some("self_service_id"), "{e}");
    let e = h
        .ops
        .create_user(&a, "zed", &user_patch(Some("12a"), "Std", "1"))
        .unwrap_err();
    assert_eq!(e.field(), Some("primary_extension"), "{e}");
    let e = h
        .ops
        .create_user(
            &a,
            "zed",
            &UserPatch {
                pin: None,
                ..user_patch(Some("1200"), "Std", "1")
            },
        )
        .unwrap_err();
    assert_eq!(e.field(), Some("pin"), "{e}");
    let e = h
        .ops
        .create_user(&a, "zed", &user_patch(Some("1200"), "Nope", "1"))
        .unwrap_err();
    assert_eq!(e.field(), Some("user_profile"), "{e}");
    let e = h
        .ops
        .create_device(
            &a,
            "SEP000000000001",
            &DevicePatch {
                owner: s("ghost"),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.field(), Some("owner"), "{e}");
    let e = h.ops.delete_user(&a, "ghost").unwrap_err();
    assert_eq!(e.class(), ErrorClass::NotFound);
    // A user who owns a device cannot be deleted.
    autoreg_device(&h, "SEPOWNED0000001", "Cisco 8845");
    claim(&h, "SEPOWNED0000001", "alice").unwrap();
    assert!(h
        .ops
        .delete_user(&a, "alice")
        .unwrap_err()
        .to_string()
        .contains("device(s) owned"));
    // Nothing of the refused changes was written or audited.
    assert!(h.ops.user("zed").is_err());
}

pub fn only_one_system_default_profile(make: &Factory) {
    let h = fixture(make);
    let set_default = |n: &str| {
        h.ops
            .update_profile(
                &admin(),
                n,
                &ProfilePatch {
                    system_default: Some(true),
                    ..Default::default()
                },
            )
            .unwrap()
    };
    set_default("Std");
    set_default("Two");
    let defaults: Vec<_> = h
        .ops
        .profiles(&Default::default())
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.system_default)
        .collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0].name.as_str(), "Two");
}

pub fn search_sort_and_page(make: &Factory) {
    let h = fixture(make);
    let q = |t: &str| ListQuery::<UserSort> {
        search: Some(Pattern::new(t).unwrap()),
        ..Default::default()
    };
    let ids = |p: selfprov_provisioning::store::Page<selfprov_provisioning::model::EndUser>| {
        p.items
            .iter()
            .map(|u| u.user_id.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(h.ops.users(&q("car")).unwrap()), ["carol", "carol2"]);
    assert_eq!(ids(h.ops.users(&q("*ol2")).unwrap()), ["carol2"]);
    assert_eq!(
        ids(h.ops.users(&q("100")).unwrap()),
        ["alice", "bob", "dave", "erin"]
    );
    assert_eq!(
        ids(h.ops.users(&q("ALI")).unwrap()),
        ["alice"],
        "case-insensitive"
    );
    // Wildcard characters of SQL are literal.
    assert!(h.ops.users(&q("a_ice")).unwrap().items.is_empty());
    let page = h
        .ops
        .users(&ListQuery {
            sort: UserSort::PrimaryExtension,
            descending: true,
            offset: 1,
            limit: Some(2),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.total, 6);
    assert_eq!(ids(page), ["dave", "bob"]);
    autoreg_device(&h, "SEP00AABBCCDDEE", "Cisco 8845");
    autoreg_device(&h, "SEP0011AABBCCDD", "Yealink T46U");
    let dq = |t: &str| ListQuery::<DeviceSort> {
        search: Some(Pattern::new(t).unwrap()),
        ..Default::default()
    };
    let names = |t: &str| {
        h.ops
            .devices(&dq(t))
            .unwrap()
            .items
            .iter()
            .map(|d| d.name.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names("00:aa:bb"),
        ["SEP00AABBCCDDEE"],
        "a MAC with separators finds the SEP name"
    );
    assert_eq!(names("yealink"), ["SEP0011AABBCCDD"]);
    assert_eq!(names("300*").len(), 2, "by DN");
    let by_dn = h
        .ops
        .devices(&ListQuery {
            sort: DeviceSort::Dn,
            descending: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_dn.items[0].name.as_str(), "SEP0011AABBCCDD");
    // Templates and profiles are searched by name.
    let pq = ListQuery {
        search: Some(Pattern::new("no*").unwrap()),
        ..Default::default()
    };
    assert_eq!(h.ops.profiles(&pq).unwrap().total, 2);
}

pub fn free_text_is_bounded(make: &Factory) {
    let h = fixture(make);
    let e = h
        .ops
        .update_user(
            &admin(),
            "alice",
            &UserPatch {
                first_name: Some("x".repeat(10_000)),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.field(), Some("first_name"));
    let e = h
        .ops
        .create_udt(
            &admin(),
            "T",
            &selfprov_operations::templates::UdtPatch {
                description: s("a\u{1b}[31mred"),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.field(), Some("description"));
    assert_eq!(h.ops.user("alice").unwrap().first_name, "First");
}
