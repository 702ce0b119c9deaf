//! Auto-registered devices nobody claims expire once unheard of for the configured time, each
//! with an audit entry, and give their DN back; a claimed device never expires.

use crate::*;
use selfprov_operations::unclaimed::SEEN_EVERY;
use selfprov_provisioning::model::AuditKind;
use selfprov_provisioning::store::{AuditFilter, StoreExt};
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);
const WEEK: Duration = Duration::from_secs(7 * 86_400);

fn expire_at(h: &Harness, at: Duration) -> Vec<String> {
    h.claims()
        .expire_unclaimed(WEEK, NOW.plus(at), &Actor::system())
        .unwrap()
        .into_iter()
        .map(|d| d.name.to_string())
        .collect()
}

pub fn unclaimed_devices_expire_after_going_quiet_and_give_their_dn_back(make: &Factory) {
    let h = fixture(make);
    let quiet = autoreg_device(&h, "SEP0000000EE001", "Cisco 8845");
    autoreg_device(&h, "SEP0000000EE002", "Cisco 8845");
    h.ops
        .mark_fetched("SEP0000000EE002", 1, NOW.plus(2 * DAY))
        .unwrap();
    autoreg_device(&h, "SEP0000000EE003", "Cisco 8845");
    h.claims()
        .heard_from("SEP0000000EE003", NOW.plus(6 * DAY))
        .unwrap();
    // Heard from again within SEEN_EVERY: not written (the expiry below shows it).
    let soon = NOW.plus(6 * DAY + SEEN_EVERY / 2);
    h.claims().heard_from("SEP0000000EE003", soon).unwrap();
    autoreg_device(&h, "SEP0000000EE004", "Cisco 8845");
    claim(&h, "SEP0000000EE004", "alice").unwrap();
    // First file served three days in (fetch and sign of life in one transaction); heard from
    // again within SEEN_EVERY: not written.
    autoreg_device(&h, "SEP0000000EE005", "Cisco 8845");
    h.claims()
        .first_file_served("SEP0000000EE005", 1, NOW.plus(3 * DAY))
        .unwrap();
    h.claims()
        .heard_from("SEP0000000EE005", NOW.plus(3 * DAY + SEEN_EVERY / 2))
        .unwrap();
    let fetched = h
        .store
        .reading(|tx| tx.credential("SEP0000000EE005"))
        .unwrap()
        .and_then(|c| c.fetched);
    assert_eq!(fetched, Some(NOW.plus(3 * DAY)));

    assert!(
        expire_at(&h, WEEK).is_empty(),
        "a week to the millisecond: not yet"
    );
    assert_eq!(expire_at(&h, 8 * DAY), ["SEP0000000EE001"]);
    assert!(h.claims().device("SEP0000000EE001").unwrap().is_none());
    let dn = quiet.dn.unwrap();
    assert!(
        !h.store.reading(|tx| tx.dn_taken(&dn)).unwrap(),
        "{dn} is free again"
    );
    let audit = h
        .ops
        .audit_log(&AuditFilter {
            kind: Some(AuditKind::Change),
            object: Some("SEP0000000EE001".into()),
            ..Default::default()
        })
        .unwrap();
    let e = audit
        .iter()
        .find(|e| e.action.as_deref() == Some("expire"))
        .expect("the expiry is audited");
    assert_eq!(e.actor, "system");
    assert_eq!(e.before.as_ref().unwrap()["dn"], dn.as_str());
    assert!(e.after.is_none());

    // First fetch two days in: expires at nine days; last REGISTER six days in: at thirteen.
    assert_eq!(
        expire_at(&h, 9 * DAY + Duration::from_secs(1)),
        ["SEP0000000EE002"]
    );
    assert_eq!(
        expire_at(&h, 10 * DAY + SEEN_EVERY / 4),
        ["SEP0000000EE005"],
        "the sign of life after the first file, within SEEN_EVERY, was not written"
    );
    assert!(expire_at(&h, 13 * DAY).is_empty());
    assert_eq!(
        expire_at(&h, 13 * DAY + SEEN_EVERY / 4),
        ["SEP0000000EE003"],
        "the second sign of life, within SEEN_EVERY, was not written"
    );
    // The claimed device never expires.
    assert!(expire_at(&h, 1000 * DAY).is_empty());
    assert!(h.claims().device("SEP0000000EE004").unwrap().is_some());
}
