//! The clustered form, end to end, as a skeptic would test it: two selfprov nodes sharing one
//! PostgreSQL database, behind a real Kamailio that is the phones' registrar
//! (deploy/kamailio/kamailio.cfg, authenticating phones against the `subscriber` table selfprov
//! keeps). A factory-fresh phone fetches its file from a node, registers to Kamailio on its
//! temporary DN, dials 2000 through Kamailio, lands on one of the nodes, claims 1004, gets the
//! check-sync through Kamailio, fetches again, registers to Kamailio as 1004 — and, Kamailio
//! restarted in between, a caller calling 1004 through Kamailio reaches it and the phone answers.
//! A real softphone (baresip) claims through Kamailio beside it.

mod common;

use common::baresip;
use common::boot::*;
use common::*;
use selfprov_testkit::kamailio::Kamailio;
use selfprov_testkit::postgres::PgDatabase;
use selfprov_testkit::{
    free_udp_tcp_port, sipp_command, spawn_watched, ChildGuard, LineWatcher, TempDir,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const REALM: &str = "pbx.test";

struct Cluster {
    kam: Kamailio,
    nodes: Vec<(Service, ChildGuard, LineWatcher)>,
    _kdir: TempDir,
    db: PgDatabase,
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

/// A caller outside (SIPp, `tests/scenarios/call_via_proxy.xml`) calls `dn` through Kamailio;
/// true when the call was answered and ended well.
fn outside_call(node: &Service, kam: &Kamailio, dn: &str) -> bool {
    let mut sc = sipp_command(node.dir.path(), &kam.addr(), Duration::from_secs(30));
    sc.arg("-sf")
        .arg(repo().join("tests/scenarios/call_via_proxy.xml"))
        .args(["-s", dn, "-m", "1"]);
    let (mut sipp, _o, _e) = spawn_watched("sipp", &mut sc).unwrap();
    sipp.wait_timeout(Duration::from_secs(60))
        .expect("sipp ends")
        .success()
}

fn cluster(tag: &str, n: usize) -> Cluster {
    cluster_with(tag, n, |_| {}, |s| cli_ok(s, &["demo", "load"]))
}

/// `n` nodes, each configuration also changed by `tune`; `prepare` fills the database (from the
/// first node's configuration) before anything runs.
fn cluster_with(
    tag: &str,
    n: usize,
    tune: impl Fn(&Service),
    prepare: impl FnOnce(&Service),
) -> Cluster {
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
        tune(s);
    }
    // The schema (with Kamailio's subscriber table, which Kamailio checks at start), the key
    // and the users, before anything runs.
    prepare(&services[0]);
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
        db,
    }
}

#[test]
fn a_new_phone_claims_through_kamailio_and_rings_on_its_new_extension() {
    let mut c = cluster("e2e-cluster", 2);
    let node = &c.nodes[0].0;
    let phone = boot(
        node,
        "yealink",
        "0A1B2C0000D1",
        &["--digits", "1004#12345#1", "--answer", "60s"],
    );
    // A real softphone does the same at the same time: baresip fetches its account from the
    // other node, registers at Kamailio on its temporary DN, dials 2000 (challenged by
    // Kamailio), types as a user does and is provisioned.
    let other = &c.nodes[1].0;
    let account = baresip::fetched_account(other, "00000000BA11", ";audio_codecs=PCMU");
    assert!(
        account.contains(&c.kam.addr()),
        "its account names Kamailio: {account}"
    );
    let softphone = baresip::start(&other.dir.path().join("baresip"), &account, "2000");
    softphone.provision_as_jsmith();
    // Its check-sync went through Kamailio (the node that took its call says where it sent it).
    let node_lines: Vec<String> = c.nodes.iter().flat_map(|n| n.2.lines()).collect();
    let call_id = node_lines
        .iter()
        .find(|l| l.contains("call answered") && l.contains("device=SEP00000000BA11"))
        .and_then(|l| l.split("call_id=").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .expect("a node answered baresip's call")
        .to_owned();
    assert!(
        node_lines.iter().any(|l| l.contains("NOTIFY check-sync")
            && l.contains(&format!("call_id={call_id} "))
            && l.contains(&format!("via={}", c.kam.addr()))),
        "baresip's check-sync goes through Kamailio"
    );

    // Its first REGISTER, at Kamailio, with the credentials of its first file.
    let temp = phone.registered_first();
    assert_ne!(temp, "1004");
    // Back on the user's line, registered at Kamailio with its new secret.
    let r = phone.registered("1004");
    assert_eq!(r["registrar"], c.kam.addr(), "{r}");
    assert_eq!(r["digest"], true, "{r}");

    // The call to the route point went through Kamailio's dispatcher to a node.
    assert!(c
        .kam
        .log
        .wait_for("kamailio got INVITE sip:2000", Duration::from_secs(1))
        .is_some());

    // Kamailio is restarted (an upgrade, a crash): it finds the phone's and the nodes' route
    // point registrations in the database at once — nobody re-registers before the call below.
    c.kam.restart();
    // (usrloc keeps AoRs in lower case.)
    let locations = c.kam.kamcmd(&["ul.dump"]).to_ascii_lowercase();
    for aor in ["1004", "2000", &phone.device.to_ascii_lowercase()] {
        assert!(
            locations.contains(&format!("aor: {aor}")),
            "{aor} not in Kamailio's location after the restart:\n{locations}\nlocation table: {:?}",
            c.db.text_rows("SELECT username, contact, callid, expires::text, ruid FROM location")
        );
    }

    // A caller outside calls 1004 through Kamailio: the phone rings and answers.
    assert!(
        outside_call(node, &c.kam, "1004"),
        "the call to 1004 through Kamailio failed"
    );
    let report = phone.report();
    assert_eq!(report["outcome"], "answered", "{report}");
    assert_eq!(report["check_syncs"], 1, "{report}");
    let claim = steps(&report, "claim");
    assert_eq!(claim[0]["outcome"], "provisioned", "{report}");

    // The temporary DN is free again.
    assert!(!dn_taken(node, &temp));
    // baresip's claim is in the shared database, and Kamailio's row follows it.
    let d = common::device(node, "SEP00000000BA11").expect("baresip auto-registered");
    assert_eq!(
        (d["owner"].as_str(), d["dn"].as_str()),
        (Some("jsmith"), Some("1004")),
        "{d}"
    );
    let row =
        c.db.text_rows("SELECT dn FROM subscriber WHERE username = 'SEP00000000BA11'");
    assert_eq!(row, [[Some("1004".to_owned())]]);

    // baresip has no provisioning agent of its own: what its boot script does on check-sync,
    // the test does — fetch the account again with the device's credentials (digest; the file
    // now carries 1004 and a new secret) and start baresip on it. It registers at Kamailio as
    // 1004 with the new secret, and a call to 1004 through Kamailio rings it and it answers.
    drop(softphone);
    let old_secret = account
        .split(";auth_pass=")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .unwrap();
    let refetched = selfprov_phone::config_file::fetch(
        &config_server(other),
        "baresip/00000000ba11/accounts",
        "baresip v1.0.0 (x86_64/linux)",
        Some(("SEP00000000BA11", old_secret)),
    )
    .expect("baresip's account, fetched again with its credentials");
    let line = refetched
        .body
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .unwrap();
    assert!(line.contains("<sip:1004@"), "{line}");
    assert!(!line.contains(old_secret), "a new secret: {line}");
    let answering = baresip::start(
        &other.dir.path().join("baresip-1004"),
        &format!("{line};audio_codecs=PCMU;answermode=auto"),
        "",
    );
    assert!(
        answering
            .out
            .wait_for("200 OK", Duration::from_secs(20))
            .is_some(),
        "baresip registers at Kamailio as 1004"
    );
    assert!(
        outside_call(node, &c.kam, "1004"),
        "the second call to 1004 through Kamailio failed"
    );
    assert!(
        answering
            .out
            .wait_for("Call established", Duration::from_secs(10))
            .is_some(),
        "baresip answered the call to 1004"
    );
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

/// The load generator's phones (`device;self_service_id;pin`): `n` new phones `SEP<prefix><i>`,
/// phone i claiming load user `user(i)`.
fn phones_file(
    s: &Service,
    name: &str,
    prefix: &str,
    n: usize,
    user: impl Fn(usize) -> usize,
) -> PathBuf {
    let path = s.dir.path().join(name);
    let mut csv = String::from("SEQUENTIAL\n");
    for i in 0..n {
        let u = user(i);
        csv += &format!("SEP{prefix}{i:04X};{};{}\n", 7000 + u, 20000 + 37 * u);
    }
    std::fs::write(&path, csv).unwrap();
    path
}

/// `selfprov-loadgen --provision` with `phones` through Kamailio, files from `node`; its
/// process, and where its per-call CSV goes.
fn provision_through(
    kam: &Kamailio,
    node: &Service,
    phones: &Path,
    rate: u32,
    tag: &str,
) -> (ChildGuard, PathBuf, LineWatcher) {
    let loadgen = Path::new(env!("CARGO_BIN_EXE_selfprov")).with_file_name("selfprov-loadgen");
    assert!(
        loadgen.exists(),
        "{} is missing: build the workspace first",
        loadgen.display()
    );
    let csv = node.dir.path().join(format!("{tag}.csv"));
    let mut cmd = Command::new(&loadgen);
    cmd.arg("--server")
        .arg(kam.addr())
        .arg("--config-url")
        .arg(format!("http://127.0.0.1:{}", node.config_port))
        .arg("--provision")
        .arg(phones)
        .args(["--rate", &rate.to_string()])
        .arg("--prompts")
        .arg(repo().join("prompts"))
        .arg("--csv")
        .arg(&csv);
    let (lg, _o, err) = spawn_watched(tag, &mut cmd).unwrap();
    (lg, csv, err)
}

/// The per-call CSV of a load run: device → failure ("" when provisioned).
fn outcomes(csv: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(csv).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].to_owned(), f[f.len() - 1].to_owned())
        })
        .collect()
}

/// The skeptic's fault test: one node is killed (SIGKILL) while ~300 provisioning flows run
/// through Kamailio against two nodes. 200 phones race in pairs for 100 users whose profile
/// allows one device each; once the doomed node is in the middle of its share, it dies, and 100
/// more phones start. Afterwards: no user over the limit, every device whole — owned with the
/// owner's extension, or unowned on a temporary DN — and Kamailio's subscriber row agrees with
/// it; every call the survivor answered ended with a definite outcome; every phone that started
/// after the kill was provisioned, by the survivor.
#[test]
fn a_node_killed_during_300_provisioning_calls_leaves_every_claim_whole() {
    const PAIRS: usize = 100;
    const LATE: usize = 100;
    let mut c = cluster_with(
        "e2e-cluster-load",
        2,
        |s| {
            many_phones_from_one_address(s);
            s.edit("unknown_per_minute = 60", "unknown_per_minute = 100000");
        },
        |s| {
            import_load_users(s, PAIRS + LATE);
            cli_ok(
                s,
                &[
                    "profile",
                    "update",
                    "Standard Employee",
                    "--device-limit",
                    "1",
                ],
            );
        },
    );
    let (doomed, rest) = c.nodes.split_at_mut(1);
    let doomed_log = doomed[0].2.clone();
    let doomed = &mut doomed[0].1;
    let (survivor, survivor_log) = (&rest[0].0, &rest[0].2);
    let racing = phones_file(survivor, "racing.csv", "00000002", 2 * PAIRS, |i| i % PAIRS);
    let late = phones_file(survivor, "late.csv", "00000003", LATE, |i| PAIRS + i);

    let (mut wave1, csv1, _e1) = provision_through(&c.kam, survivor, &racing, 40, "loadgen-racing");
    // The doomed node is in the middle of its share of the calls: kill it.
    assert!(
        doomed_log.wait_for_count("call answered", 30, Duration::from_secs(120)),
        "the first node never took 30 calls"
    );
    doomed.signal(9);
    assert!(doomed.wait_timeout(Duration::from_secs(10)).is_some());
    let (mut wave2, csv2, _e2) = provision_through(&c.kam, survivor, &late, 40, "loadgen-late");
    for lg in [&mut wave1, &mut wave2] {
        // The load generator exits 0 even when flows fail: outcomes are checked below.
        assert!(
            lg.wait_timeout(Duration::from_secs(240)).is_some(),
            "load generator did not finish"
        );
    }

    // Every phone that started after the kill was provisioned — by the survivor.
    let after = outcomes(&csv2);
    assert_eq!(after.len(), LATE);
    let failed: Vec<_> = after.iter().filter(|(_, f)| !f.is_empty()).collect();
    assert!(
        failed.is_empty(),
        "phones started after the kill failed: {failed:?}"
    );

    // The database, as both nodes and Kamailio see it.
    let db = &c.db;
    let devices = db.text_rows(
        "SELECT d.name, d.owner, d.dn, u.primary_extension, s.dn \
         FROM device d LEFT JOIN end_user u ON u.user_id = d.owner \
         LEFT JOIN subscriber s ON s.username = d.name COLLATE \"C\" \
         WHERE d.name LIKE 'SEP0000000%'",
    );
    assert_eq!(
        devices.len(),
        2 * PAIRS + LATE,
        "every phone was auto-registered once"
    );
    let mut owned: HashMap<String, usize> = HashMap::new();
    for d in &devices {
        let [name, owner, dn, ext, sub_dn] = &d[..] else {
            unreachable!()
        };
        let dn = dn.as_deref().unwrap_or_default();
        match owner {
            Some(o) => {
                *owned.entry(o.clone()).or_default() += 1;
                assert_eq!(
                    Some(dn),
                    ext.as_deref(),
                    "{name:?} owned by {o} is on another DN"
                );
            }
            None => assert!(
                (1000..=1999).contains(&dn.parse::<u32>().unwrap_or(0)),
                "{name:?} unowned but on {dn}"
            ),
        }
        assert_eq!(
            sub_dn.as_deref(),
            Some(dn),
            "{name:?}: Kamailio's row disagrees"
        );
    }
    let over: Vec<_> = owned.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        over.is_empty(),
        "users over their limit of one device: {over:?}"
    );
    assert_eq!(owned.len(), owned.values().sum::<usize>());

    // Every call the survivor answered ended with a definite outcome in the audit log: the
    // claim, or the loss of its race for the user.
    let answered_by_survivor: Vec<String> = survivor_log
        .lines()
        .iter()
        .filter(|l| l.contains("call answered"))
        .filter_map(|l| l.split("device=").nth(1))
        .map(|d| d.split_whitespace().next().unwrap_or_default().to_owned())
        .collect();
    assert!(answered_by_survivor.len() >= LATE);
    let claims = cli(
        survivor,
        &["audit", "--json", "--kind", "claim", "--limit", "1000"],
    );
    for device in &answered_by_survivor {
        let codes: Vec<&str> = claims
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["device"] == device.as_str())
            .filter_map(|a| a["code"].as_str())
            .collect();
        assert!(
            codes
                .iter()
                .any(|c| *c == "SUCCESS" || *c == "SELFPROV_DEVICE_LIMIT"),
            "{device}, answered by the survivor, has no outcome: {codes:?}"
        );
    }
    // The racing phones whose flow completed were each provisioned or told the limit.
    let before = outcomes(&csv1);
    let provisioned = before.values().filter(|f| f.is_empty()).count();
    assert!(
        provisioned > 0 && provisioned <= PAIRS,
        "{provisioned} racing phones provisioned"
    );
}

/// SIGTERM drains a node: the claim in progress on it finishes (the phone comes back on 1004),
/// while it answers Kamailio's OPTIONS and new INVITEs with 503, so the next phone's call goes to
/// the other node; the drained node then exits 0.
#[test]
fn sigterm_drains_a_node_while_the_other_takes_new_calls() {
    let mut c = cluster("e2e-cluster-drain", 2);
    let first = boot(
        &c.nodes[0].0,
        "yealink",
        "0A1B2C0000F1",
        &["--digits", "1004#12345#1"],
    );
    // Which node took the call?
    let answered = |i: usize, device: &str| {
        c.nodes[i]
            .2
            .wait_for_match(
                |l| l.contains("call answered") && l.contains(device),
                Duration::from_millis(200),
            )
            .is_some()
    };
    let deadline = std::time::Instant::now() + WAIT;
    let busy = loop {
        if let Some(i) = (0..2).find(|&i| answered(i, "SEP0A1B2C0000F1")) {
            break i;
        }
        assert!(std::time::Instant::now() < deadline, "no node answered");
    };
    let other = 1 - busy;
    c.nodes[busy].1.signal(15);

    // A new phone meanwhile: its call goes to the node that is not draining.
    let second = boot(
        &c.nodes[other].0,
        "yealink",
        "0A1B2C0000F2",
        &["--digits", "1004#12345#1"],
    );
    for (phone, what) in [
        (&first, "the call on the draining node"),
        (&second, "the new call"),
    ] {
        let r = phone.report();
        assert_eq!(
            (&r["outcome"], &r["dn"]),
            (&"registered".into(), &"1004".into()),
            "{what}: {r}"
        );
    }
    assert!(answered(other, "SEP0A1B2C0000F2"));
    assert!(!answered(busy, "SEP0A1B2C0000F2"));
    let status = c.nodes[busy]
        .1
        .wait_timeout(Duration::from_secs(60))
        .expect("the drained node exits");
    assert!(status.success(), "{status:?}");
}
