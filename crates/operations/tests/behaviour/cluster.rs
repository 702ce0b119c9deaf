//! Several nodes on one PostgreSQL database: each node is a store with its own connection pool,
//! as two selfprov processes are. Writers on different nodes meet only in the database, so
//! these tests prove that the rules hold across nodes, not just across threads of one process:
//! the device limit, one owner per device, and no auto-registered DN handed out twice.

use crate::*;
use selfprov_provisioning::store::StoreExt;

/// `n` nodes over one fresh database, the first one loaded with the standard data set.
fn nodes(n: usize) -> (PgDatabase, Vec<Harness>) {
    let db = PgDatabase::new("cluster");
    let url = db.url.clone();
    let open = move || {
        let store = PgStore::open(&PgOptions {
            url: url.clone(),
            pool_size: 4,
            tls: false,
            ca_file: None,
            subscriber: None,
        })
        .unwrap();
        Harness::new(Arc::new(store), None)
    };
    let first = fixture(&open);
    let mut all = vec![first];
    all.extend((1..n).map(|_| open()));
    (db, all)
}

#[test]
fn three_nodes_racing_keep_the_device_limit_and_one_owner() {
    let (_db, nodes) = nodes(3);
    create_profile(&nodes[0], "Ten", true, 10, true);
    create_user(&nodes[0], "racer", Some("1100"), "Ten", "1111");
    let names: Vec<String> = (0..45).map(|i| format!("SEP0000000{i:05}")).collect();
    for n in &names {
        autoreg_device(&nodes[0], n, "Cisco 8845");
    }
    // Every device is claimed twice, from two different nodes, for two different users.
    let results: Vec<(String, OutcomeCode)> = std::thread::scope(|sc| {
        let mut hs = Vec::new();
        for (i, n) in names.iter().enumerate() {
            for (k, user) in [(i % 3, "racer"), ((i + 1) % 3, "alice")] {
                let h = &nodes[k];
                hs.push(sc.spawn(move || (user.to_owned(), code_of(claim(h, n, user)))));
            }
        }
        hs.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let wins = |u: &str| {
        results
            .iter()
            .filter(|(who, c)| who == u && *c == OutcomeCode::Success)
            .count()
    };
    assert!(wins("racer") <= 10, "racer got {} devices", wins("racer"));
    let devices = nodes[1].ops.devices(&Default::default()).unwrap().items;
    let owned_by = |u: &str| {
        devices
            .iter()
            .filter(|d| d.owner.as_ref().is_some_and(|o| o.as_str() == u))
            .count()
    };
    // What the callers were told is what the database holds: no claim reported done was lost,
    // none was made twice.
    assert_eq!(owned_by("racer"), wins("racer"));
    assert_eq!(owned_by("alice"), wins("alice"));
    assert!(owned_by("racer") <= 10);
    // Each device went to exactly one of its two claimants (every one had a free claimant:
    // alice's limit is 10 too, so at least 20 devices are claimed).
    assert_eq!(
        owned_by("racer") + owned_by("alice"),
        wins("racer") + wins("alice")
    );
    assert!(owned_by("racer") + owned_by("alice") >= 20, "{results:?}");
    // Every success was audited once, on whichever node made it.
    let audited = nodes[2]
        .store
        .reading(|tx| tx.audit_log(&Default::default()))
        .unwrap()
        .into_iter()
        .filter(|e| e.code == Some(OutcomeCode::Success))
        .count();
    assert_eq!(audited, wins("racer") + wins("alice"));
}

#[test]
fn three_nodes_auto_registering_never_share_a_dn() {
    let (_db, nodes) = nodes(3);
    let set = autoreg("5000", "5099");
    std::thread::scope(|sc| {
        for (k, h) in nodes.iter().enumerate() {
            let set = &set;
            for t in 0..2 {
                sc.spawn(move || {
                    for i in 0..15 {
                        registry::register(&h.ops, &format!("SEPN{k}{t}{i:09}"), set).unwrap();
                    }
                });
            }
        }
    });
    let dns: Vec<String> = nodes[0]
        .ops
        .devices(&Default::default())
        .unwrap()
        .items
        .into_iter()
        .filter_map(|d| d.dn.map(String::from))
        .collect();
    let unique: std::collections::HashSet<_> = dns.iter().collect();
    assert_eq!((dns.len(), unique.len()), (90, 90));
}
