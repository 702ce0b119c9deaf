//! Lists of 100,000 users through the API of a running service: the total, the first and a deep
//! page, prefix and wildcard search on user ID, name and extension, sorting either way.
//!
//! The users are written straight into the database before the service starts, in one
//! transaction, all with one PIN hash computed once: hashing 100,000 PINs the import's way costs
//! minutes of Argon2, and the PIN is not what this test is about. (The benchmark in
//! benches/api measures the same lists' latency on a release build.)

mod common;

use common::api::*;
use common::*;
use selfprov_provisioning::model::EndUser;
use selfprov_provisioning::secret::SecretHash;
use selfprov_provisioning::store::sqlite_durability::Durability;
use selfprov_provisioning::store::{SqliteStore, StoreExt};
use std::time::{Duration, Instant};

pub const USERS: usize = 100_000;

/// `user000000`… with last names `Name0000`… (ten users each) and extensions 200000….
fn populate(s: &Service, n: usize) {
    let cfg = selfprov_config::Config::load(&s.cfg).unwrap();
    let store = SqliteStore::open_with(&cfg.database_path, Durability::Normal).unwrap();
    let pin = SecretHash::hash("1234").unwrap().as_phc().to_owned();
    store
        .writing(|tx| {
            for i in 0..n {
                tx.insert_user(&EndUser {
                    user_id: format!("user{i:06}").parse().unwrap(),
                    first_name: "First".into(),
                    last_name: format!("Name{:04}", i % 10_000),
                    self_service_id: None,
                    primary_extension: Some(format!("{}", 200_000 + i).parse().unwrap()),
                    user_profile: None,
                    enabled: true,
                    pin_hash: Some(pin.clone()),
                    password_hash: None,
                })?;
            }
            Ok(())
        })
        .unwrap();
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn search_sort_and_page_through_100000_users() {
    let s = config("e2e-api-scale");
    let started = Instant::now();
    populate(&s, USERS);
    eprintln!("{USERS} users written in {:?}", started.elapsed());
    let (_service, _err) = start_service(&s);
    let c = roles(&s).read_only;
    let mut slowest = Duration::ZERO;
    let mut get = |path: &str| {
        let t = Instant::now();
        let a = c.get(path);
        slowest = slowest.max(t.elapsed());
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        a.json()
    };
    let first = get("/users");
    assert_eq!(
        (first["total"].as_u64(), first["limit"].as_u64()),
        (Some(USERS as u64), Some(100))
    );
    assert_eq!(ids(&first)[0], "user000000");
    let deep = get("/users?offset=99990&limit=50");
    assert_eq!(ids(&deep).len(), 10);
    assert_eq!(ids(&deep).last().unwrap(), "user099999");
    let prefix = get("/users?search=user0999&limit=1000");
    assert_eq!(prefix["total"], 100);
    assert_eq!(ids(&prefix)[0], "user099900");
    let suffix = get("/users?search=*77777");
    assert_eq!(ids(&suffix), ["user077777"], "{suffix:#}");
    let by_name = get("/users?search=name0042&sort=last_name");
    assert_eq!(by_name["total"], 10, "case is ignored");
    let by_ext = get("/users?search=200*&sort=primary_extension&desc=true");
    assert_eq!(by_ext["total"], 1000);
    assert_eq!(by_ext["items"][0]["primary_extension"], "200999");
    let desc = get("/users?sort=last_name&desc=true&limit=5");
    assert!(desc["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["last_name"] == "Name9999"));
    let middle = get("/users?search=*ser05*&offset=5000&limit=3");
    assert_eq!(
        (middle["total"].as_u64(), ids(&middle)[0].as_str()),
        (Some(10_000), "user055000")
    );
    // Keyset paging: each page's `next` leads to the page `offset` gives, and the last page
    // has none.
    for (list, step) in [
        ("/users?sort=last_name&desc=true", 7),
        ("/users?search=user0999", 50),
        ("/users?search=*ser0999*&sort=primary_extension", 50),
    ] {
        let mut cursor: Option<String> = None;
        for page in 0..3 {
            let by_cursor = get(&match &cursor {
                None => format!("{list}&limit={step}"),
                Some(c) => format!("{list}&limit={step}&after={c}"),
            });
            let by_offset = get(&format!("{list}&limit={step}&offset={}", page * step));
            assert_eq!(ids(&by_cursor), ids(&by_offset), "{list} page {page}");
            cursor = by_cursor["next"].as_str().map(str::to_owned);
            if page == 1 && step == 50 {
                assert_eq!(cursor, None, "{list}: 100 matches, 2 pages");
                break;
            }
        }
    }
    let bad = c.get("/users?sort=user_id&after=e30");
    assert_eq!(bad.status, 422, "{}", bad.body);
    // A debug build on a shared machine: generous; benches/api/run.sh measures a release build.
    eprintln!("slowest list: {slowest:?}");
    assert!(slowest < Duration::from_secs(3), "{slowest:?}");
}
