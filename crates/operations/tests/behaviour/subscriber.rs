//! Kamailio's `subscriber` table follows every device credential, in the same transaction: a
//! row appears at auto-registration (temporary DN), changes with a claim (new secret, the user's
//! DN), a release (new secret, a temporary DN again), goes with the device; a claim that fails
//! changes nothing. The HA1 is that of the secret the operations layer derives, so a phone with
//! its file authenticates at Kamailio and nothing else does.

use crate::*;
use selfprov_provisioning::store::{ha1s, RegistrarAccounts};

const REALM: &str = "sip.test";

fn secret(device: &str, generation: u32) -> String {
    format!("{device}/{generation}")
}

/// (ha1, dn) of the device's row, if any.
fn row(db: &PgDatabase, device: &str) -> Option<(String, Option<String>)> {
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    c.query_opt(
        "SELECT ha1, dn FROM subscriber WHERE username = $1 AND domain = $2",
        &[&device, &REALM],
    )
    .unwrap()
    .map(|r| (r.get(0), r.get(1)))
}

fn ha1(device: &str, generation: u32) -> String {
    ha1s(device, REALM, &secret(device, generation)).0
}

#[test]
fn subscriber_rows_follow_auto_registration_claim_release_and_delete() {
    let db = PgDatabase::new("subscriber");
    let url = db.url.clone();
    let open = move || {
        let store = PgStore::open(&PgOptions {
            url: url.clone(),
            pool_size: 2,
            tls: false,
            ca_file: None,
            subscriber: Some(RegistrarAccounts {
                realm: REALM.into(),
                secret: Arc::new(secret),
            }),
        })
        .unwrap();
        Harness::new(Arc::new(store), None)
    };
    let h = fixture(&open);
    let d = autoreg_device(&h, "SEPSUB000000001", "Cisco 8845");
    let temp = d.dn.unwrap().to_string();
    assert_eq!(
        row(&db, "SEPSUB000000001"),
        Some((ha1("SEPSUB000000001", 1), Some(temp.clone())))
    );

    // A claim that fails (bob may not self-provision) changes nothing.
    assert!(claim(&h, "SEPSUB000000001", "bob").is_err());
    assert_eq!(
        row(&db, "SEPSUB000000001"),
        Some((ha1("SEPSUB000000001", 1), Some(temp.clone())))
    );

    claim(&h, "SEPSUB000000001", "alice").unwrap();
    assert_eq!(
        row(&db, "SEPSUB000000001"),
        Some((ha1("SEPSUB000000001", 2), Some("1004".into())))
    );

    let released = h
        .claims()
        .release("SEPSUB000000001", &autoreg("3000", "3999"), &admin(), NOW)
        .unwrap();
    assert_eq!(
        row(&db, "SEPSUB000000001"),
        Some((ha1("SEPSUB000000001", 3), released.dn.map(String::from)))
    );

    h.ops.delete_device(&admin(), "SEPSUB000000001").unwrap();
    assert_eq!(row(&db, "SEPSUB000000001"), None);
}
