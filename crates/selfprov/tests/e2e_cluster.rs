//! The clustered form, end to end, as a skeptic would test it: two selfprov nodes sharing one
//! PostgreSQL database, behind a real Kamailio that is the phones' registrar
//! (deploy/kamailio/kamailio.cfg, authenticating phones against the `subscriber` table selfprov
//! keeps). A factory-fresh phone fetches its file from a node, registers to Kamailio on its
//! temporary DN, dials 2000 through Kamailio, lands on one of the nodes, claims 1004, gets the
//! check-sync through Kamailio, fetches again, registers to Kamailio as 1004 — and a caller
//! calling 1004 through Kamailio reaches it and the phone answers.

mod common;

use common::boot::*;
use common::*;
use selfprov_testkit::kamailio::Kamailio;
use selfprov_testkit::postgres::PgDatabase;
use selfprov_testkit::{
    free_udp_tcp_port, sipp_command, spawn_watched, ChildGuard, LineWatcher, TempDir,
};
use std::time::Duration;

const REALM: &str = "pbx.test";

struct Cluster {
    kam: Kamailio,
    nodes: Vec<(Service, ChildGuard, LineWatcher)>,
    _kdir: TempDir,
    _db: PgDatabase,
}

/// Kamailio's form of the database URL (`postgres://user:password@…`).
fn kamailio_db_url(url: &str) -> String {
    let rest = url
        .strip_prefix("postgresql://")
        .expect("postgresql:// URL");
    match rest.split_once('@') {
        Some((user, host)) if !user.contains(':') => format!("postgres://{user}:unused@{host}"),
        _ => format!("postgres://{rest}"),
    }
}

fn cluster(tag: &str, n: usize) -> Cluster {
    let db = PgDatabase::new(tag);
    let kport = free_udp_tcp_port();
    let kaddr = format!("127.0.0.1:{kport}");
    let services: Vec<Service> = (0..n).map(|i| config(&format!("{tag}-{i}"))).collect();
    let key = services[0].dir.path().join("var/device-secret.key");
    for (i, s) in services.iter().enumerate() {
        on_postgresql(s, &db.url, (i > 0).then_some(key.as_path()));
        s.edit(
            "mode = \"builtin\"",
            &format!(
                "mode = \"external\"\naddress = \"{kaddr}\"\ntrusted_proxies = [\"127.0.0.1\"]\nsubscriber_realm = \"{REALM}\""
            ),
        );
        s.edit("sip_password = \"\"", "sip_password = \"not-checked\"");
        s.edit(
            "# outbound_proxy = \"192.0.2.20:5060\"",
            &format!("outbound_proxy = \"{kaddr}\""),
        );
        // Phones' files name Kamailio as their registrar and proxy.
        s.edit(
            "# sip_address = \"192.0.2.10:5060\"",
            &format!("sip_address = \"{kaddr}\""),
        );
    }
    // The schema (with Kamailio's subscriber table, which Kamailio checks at start), the key
    // and the demo users, before anything runs.
    cli_ok(&services[0], &["demo", "load"]);
    let kdir = TempDir::new(&format!("{tag}-kamailio"));
    let list = kdir.path().join("dispatcher.list");
    let nodes: String = services
        .iter()
        .map(|s| format!("1 sip:127.0.0.1:{} 0 0\n", s.sip_port))
        .collect();
    std::fs::write(&list, nodes).unwrap();
    let kam = Kamailio::start(
        &repo().join("deploy/kamailio/kamailio.cfg"),
        kdir.path(),
        kport,
        &[
            ("IP", "127.0.0.1"),
            ("DBURL", &kamailio_db_url(&db.url)),
            ("REALM", REALM),
            ("ROUTE_POINTS", "^2000$"),
            ("DISPATCHER_LIST", &list.display().to_string()),
        ],
    );
    let nodes = services
        .into_iter()
        .map(|s| {
            let (svc, err) = start_service(&s);
            err.wait_for("state=registered", Duration::from_secs(20))
                .expect("the node's route point registers at Kamailio");
            (s, svc, err)
        })
        .collect();
    Cluster {
        kam,
        nodes,
        _kdir: kdir,
        _db: db,
    }
}

#[test]
fn a_new_phone_claims_through_kamailio_and_rings_on_its_new_extension() {
    let c = cluster("e2e-cluster", 2);
    let node = &c.nodes[0].0;
    let phone = boot(
        node,
        "yealink",
        "0A1B2C0000D1",
        &["--digits", "1004#12345#1", "--answer", "60s"],
    );
    // Its first REGISTER, at Kamailio, with the credentials of its first file.
    let temp = phone.registered_first();
    assert_ne!(temp, "1004");
    // Back on the user's line, registered at Kamailio with its new secret.
    let r = phone.registered("1004");
    assert_eq!(r["registrar"], c.kam.addr(), "{r}");
    assert_eq!(r["digest"], true, "{r}");

    // A caller outside calls 1004 through Kamailio: the phone rings and answers.
    let mut sc = sipp_command(node.dir.path(), &c.kam.addr(), Duration::from_secs(30));
    sc.arg("-sf")
        .arg(repo().join("tests/scenarios/call_via_proxy.xml"))
        .args(["-s", "1004", "-m", "1"]);
    let (mut sipp, _o, _e) = spawn_watched("sipp", &mut sc).unwrap();
    let status = sipp
        .wait_timeout(Duration::from_secs(60))
        .expect("sipp ends");
    assert!(status.success(), "the call to 1004 through Kamailio failed");
    let report = phone.report();
    assert_eq!(report["outcome"], "answered", "{report}");
    assert_eq!(report["check_syncs"], 1, "{report}");
    let claim = steps(&report, "claim");
    assert_eq!(claim[0]["outcome"], "provisioned", "{report}");

    // The call to the route point went through Kamailio's dispatcher to a node, with the
    // authenticated device named; the temporary DN is free again.
    assert!(c
        .kam
        .log
        .wait_for("kamailio got INVITE sip:2000", Duration::from_secs(1))
        .is_some());
    assert!(!dn_taken(node, &temp));
}

/// One node dies (kill -9): Kamailio's OPTIONS probes take it out (or the call fails over after
/// the INVITE timer), and new phones claim on the survivor.
#[test]
fn a_killed_node_is_passed_over_and_the_survivor_takes_the_claims() {
    let mut c = cluster("e2e-cluster-kill", 2);
    let dead = c.nodes[0].1.pid();
    c.nodes[0].1.signal(9);
    assert!(c.nodes[0].1.wait_timeout(Duration::from_secs(10)).is_some());
    let survivor = &c.nodes[1].0;
    for mac in ["0A1B2C0000E1", "0A1B2C0000E2"] {
        let phone = boot(survivor, "yealink", mac, &["--digits", "1004#12345#1"]);
        let r = phone.report();
        assert_eq!(
            (&r["outcome"], &r["dn"]),
            (&"registered".into(), &"1004".into()),
            "node {dead} killed: {r}"
        );
    }
    // Both claims were taken by the survivor, and the database holds both.
    let owned = cli(survivor, &["device", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["dn"] == "1004" && d["name"].as_str().unwrap().starts_with("SEP0A1B2C0000E"))
        .count();
    assert_eq!(owned, 2);
}
