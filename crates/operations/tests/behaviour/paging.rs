//! Keyset paging: walking a list page by page with each page's `next` gives exactly the list
//! in one piece — every sort key, both directions, with ties on the key, NULL keys (last in
//! both directions) and a search — and a cursor made for another order is refused.

use crate::*;
use selfprov_provisioning::store::{DeviceSort, KeyValue, ListQuery, Page, Pattern, UserSort};

/// Every page of `q` from the first, following `next`.
fn walk<S: Clone, T>(
    q: &ListQuery<S>,
    limit: u64,
    list: impl Fn(&ListQuery<S>) -> Page<T>,
) -> Vec<T> {
    let mut all = Vec::new();
    let mut q = ListQuery {
        limit: Some(limit),
        ..q.clone()
    };
    for _ in 0..1000 {
        let page = list(&q);
        assert!(page.items.len() as u64 <= limit);
        all.extend(page.items);
        match page.next {
            Some(a) => q.after = Some(a),
            None => return all,
        }
    }
    panic!("the walk did not end");
}

pub fn keyset_pages_walk_every_order(make: &Factory) {
    let h = fixture(make);
    // Ties on the last name (3 users each) and users without an extension among the others.
    for i in 0..24 {
        let ext = format!("{}", 1100 + (i * 7) % 24);
        let p = UserPatch {
            last_name: s(&format!("Name{}", i % 8)),
            ..user_patch((i % 5 != 0).then_some(ext.as_str()), "Std", "12345")
        };
        h.ops
            .create_user(&admin(), &format!("u{i:02}"), &p)
            .unwrap();
    }
    let ids = |v: Vec<selfprov_provisioning::model::EndUser>| {
        v.into_iter()
            .map(|u| u.user_id.to_string())
            .collect::<Vec<_>>()
    };
    let users = |q: &ListQuery<UserSort>| h.ops.users(q).unwrap();
    for sort in [
        UserSort::UserId,
        UserSort::LastName,
        UserSort::PrimaryExtension,
    ] {
        for descending in [false, true] {
            for search in [None, Some(Pattern::new("u1*").unwrap())] {
                let q = ListQuery {
                    sort,
                    descending,
                    search,
                    ..Default::default()
                };
                let whole = ids(users(&q).items);
                assert!(whole.len() >= 10);
                for limit in [1, 4, 7] {
                    assert_eq!(
                        ids(walk(&q, limit, users)),
                        whole,
                        "{sort:?} descending={descending} search={:?} by {limit}",
                        q.search
                    );
                }
            }
        }
    }
    // Devices: ties on the update time and the model, owners all NULL.
    for i in 0..12 {
        let model = if i % 2 == 0 {
            "Cisco 8845"
        } else {
            "Yealink T46U"
        };
        autoreg_device(&h, &format!("SEP0000000000{i:02}"), model);
    }
    let devices = |q: &ListQuery<DeviceSort>| h.ops.devices(q).unwrap();
    let names = |v: Vec<selfprov_provisioning::model::Device>| {
        v.into_iter()
            .map(|d| d.name.to_string())
            .collect::<Vec<_>>()
    };
    use DeviceSort::*;
    for sort in [Name, Dn, Owner, Model, Updated] {
        for descending in [false, true] {
            let q = ListQuery {
                sort,
                descending,
                ..Default::default()
            };
            let whole = names(devices(&q).items);
            assert_eq!(whole.len(), 12);
            assert_eq!(names(walk(&q, 5, devices)), whole, "{sort:?} {descending}");
        }
    }
    // A cursor of a text key used on the numeric one was made for another order.
    let first = devices(&ListQuery {
        limit: Some(2),
        ..Default::default()
    });
    let e = h
        .ops
        .devices(&ListQuery {
            sort: Updated,
            after: first.next,
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.field(), Some("after"), "{e}");
    let e = h
        .ops
        .users(&ListQuery {
            after: Some(selfprov_provisioning::store::After {
                key: KeyValue::Null,
                tie: "u01".into(),
            }),
            sort: UserSort::LastName,
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        e.field(),
        Some("after"),
        "a NULL key on a NOT NULL column: {e}"
    );
}

/// The keys of what a search for `term` finds in a list.
fn found<S: Default, T>(
    term: &str,
    list: impl Fn(&ListQuery<S>) -> Page<T>,
    key: fn(&T) -> String,
) -> Vec<String> {
    let q = ListQuery {
        search: Some(Pattern::new(term).unwrap()),
        ..Default::default()
    };
    list(&q).items.iter().map(key).collect()
}

/// What the in-memory matcher (a separate implementation) says a search finds among `all`.
fn expected(all: &[String], pattern: &Pattern) -> Vec<String> {
    all.iter().filter(|t| pattern.matches(t)).cloned().collect()
}

pub fn wildcard_searches_find_what_the_pattern_matches(make: &Factory) {
    let h = fixture(make);
    for i in 0..30 {
        let p = UserPatch {
            last_name: s(&format!("Smith{i:03}")),
            ..user_patch(Some(&format!("{}", 4000 + i)), "Std", "12345")
        };
        h.ops
            .create_user(&admin(), &format!("w{i:02}x"), &p)
            .unwrap();
    }
    let all = h.ops.users(&ListQuery::default()).unwrap().items;
    // The user IDs and last names are the only columns these patterns can match.
    let by = |f: fn(&selfprov_provisioning::model::EndUser) -> String| {
        all.iter().map(f).collect::<Vec<_>>()
    };
    let (ids, names) = (by(|u| u.user_id.to_string()), by(|u| u.last_name.clone()));
    for (term, over_ids) in [
        ("*mith01*", false),
        ("*ITH02*", false),
        ("*0x", true),
        ("*1x*", true),
        ("*h0*2", false),
    ] {
        let p = Pattern::new(term).unwrap();
        let want = if over_ids {
            expected(&ids, &p)
        } else {
            let hits = expected(&names, &p);
            all.iter()
                .filter(|u| hits.contains(&u.last_name))
                .map(|u| u.user_id.to_string())
                .collect()
        };
        let got = h
            .ops
            .users(&ListQuery {
                search: Some(p),
                ..Default::default()
            })
            .unwrap();
        let got_ids: Vec<String> = got.items.iter().map(|u| u.user_id.to_string()).collect();
        assert!(!want.is_empty(), "{term} should find someone");
        assert_eq!(
            (got_ids, got.total),
            (want.clone(), want.len() as u64),
            "{term}"
        );
    }
    // Changed and deleted users are found by their new values only.
    h.ops
        .update_user(
            &admin(),
            "w05x",
            &UserPatch {
                last_name: s("Zebra"),
                ..Default::default()
            },
        )
        .unwrap();
    h.ops.delete_user(&admin(), "w06x").unwrap();
    let find = |t: &str| found(t, |q| h.ops.users(q).unwrap(), |u| u.user_id.to_string());
    assert_eq!(find("*ebra*"), ["w05x"]);
    assert!(find("*mith005*").is_empty() && find("*06x*").is_empty());
    // A device by a part of its MAC, with or without separators.
    autoreg_device(&h, "SEP00AABBCCDDEE", "Cisco 8845");
    autoreg_device(&h, "SEP0011AABBCCDD", "Yealink T46U");
    let devices = |t: &str| found(t, |q| h.ops.devices(q).unwrap(), |d| d.name.to_string());
    assert_eq!(devices("*bb:cc:dd:ee"), ["SEP00AABBCCDDEE"]);
    assert_eq!(devices("*CCDD*"), ["SEP0011AABBCCDD", "SEP00AABBCCDDEE"]);
    assert_eq!(devices("*t46*"), ["SEP0011AABBCCDD"]);
}

/// SQLite's search index is keyed by rowid, which SQLite says a VACUUM may renumber: the store
/// checks the index against its table when it opens and rebuilds it when they differ. Here the
/// index is emptied behind the store's back (a VACUUM of this SQLite kept the rowids).
#[test]
fn sqlite_search_index_is_rebuilt_when_it_no_longer_matches() {
    use selfprov_provisioning::store::sqlite_durability::Durability;
    use selfprov_provisioning::store::SqliteStore;
    let dir = selfprov_testkit::TempDir::new("reindex");
    let path = dir.path().join("t.db");
    let open = || {
        let store = SqliteStore::open_with(&path, Durability::Normal).unwrap();
        Harness::new(std::sync::Arc::new(store), None)
    };
    let find = |h: &Harness| {
        h.ops
            .users(&ListQuery::<UserSort> {
                search: Some(Pattern::new("*ac9x*").unwrap()),
                ..Default::default()
            })
            .unwrap()
            .items
            .into_iter()
            .map(|u| u.user_id.to_string())
            .collect::<Vec<_>>()
    };
    let h = open();
    create_udt(&h, "Desk", false);
    create_profile(&h, "Std", true, 10, true);
    for i in 0..10 {
        create_user(&h, &format!("vac{i}x"), None, "Std", "12345");
    }
    assert_eq!(find(&h), ["vac9x"]);
    drop(h);
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch("INSERT INTO end_user_search(end_user_search) VALUES ('delete-all'); VACUUM;")
        .unwrap();
    drop(c);
    assert_eq!(
        find(&open()),
        ["vac9x"],
        "found again after the store reopened"
    );
}
