//! The built-in registrar knows which phone is which (issue 12, items 3 and 4): with
//! `registrar.phone_auth = "digest"` a phone registers and calls only with its own credentials
//! (none: 401; wrong ones: 403 and no binding, no call; nobody unregisters someone else's phone),
//! and the device a REGISTER or a call comes from is the one that authenticated — whatever From
//! says, so a caller with a valid PIN on device A cannot claim device B. With `"binding"` a
//! hand-configured phone registers without credentials and its calls are tied to its
//! registration by source address and Contact. P-Asserted-Identity names the caller only from
//! `registrar.trusted_proxies`. The bindings are listed by `/registrations` and `selfprov
//! registrations`.

mod common;

use common::ua::Ua;
use common::*;
use selfprov_phone::config_file::Line;
use selfprov_testkit::{free_udp_port, ChildGuard, LineWatcher};
use std::time::Duration;

/// The running service's registrations (`selfprov registrations --json`): (device, auth,
/// contact, source) each.
fn registrations(s: &Service) -> Vec<(String, String, String, String)> {
    registrations_in(&cli(s, &["registrations", "--json"]))
}

fn registrations_in(v: &serde_json::Value) -> Vec<(String, String, String, String)> {
    v["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_owned();
            (s("device"), s("auth"), s("contact"), s("source"))
        })
        .collect()
}

/// The admin listener's JSON document at `path`.
fn admin_json(s: &Service, path: &str) -> serde_json::Value {
    let r = http_get(s.admin_port, path);
    serde_json::from_str(r.split("\r\n\r\n").nth(1).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{path}: {e}\n{r}"))
}

/// A running service (`phone_auth = "digest"`, the default) and two new phones, A and B, that
/// fetched their files: their lines and credentials. The service stops when `_svc` is dropped:
/// bind it by name when taking the struct apart.
struct TwoPhones {
    s: Service,
    _svc: ChildGuard,
    err: LineWatcher,
    a: Line,
    b: Line,
}

fn two_phones(tag: &str) -> TwoPhones {
    let s = config(tag);
    let (_svc, err) = start_service(&s);
    let a = phone_line(&s, "SEP00000000AA01");
    let b = phone_line(&s, "SEP00000000BB01");
    TwoPhones { s, _svc, err, a, b }
}

/// `name` is jsmith's phone now, on jsmith's extension 1004: the claim went to it.
fn assert_claimed_by_jsmith(s: &Service, name: &str) {
    let d = device(s, name).unwrap_or_else(|| panic!("no device {name}"));
    assert_eq!(
        (d["owner"].as_str(), d["dn"].as_str()),
        (Some("jsmith"), Some("1004")),
        "{d}"
    );
}

/// The service logged A's wrong secret in a `method` as fail2ban reads it: `sip request refused
/// source=<HOST>`, with the device and why.
fn assert_wrong_secret_logged(err: &LineWatcher, method: &str) {
    let method = format!("method=\"{method}\"");
    let line = err
        .wait_for_match(
            |l| l.contains("sip request refused") && l.contains(&method),
            Duration::from_secs(5),
        )
        .unwrap_or_else(|| panic!("no refusal logged with {method}"));
    assert!(
        line.contains("source=127.0.0.1")
            && line.contains("SEP00000000AA01")
            && line.contains("wrong credentials"),
        "{line}"
    );
    assert_eq!(
        fail2ban_host(line.as_str()).as_deref(),
        Some("127.0.0.1"),
        "{line}"
    );
}

/// `selfprov_phone_auth_total` for `method` and `result` (challenged, accepted, refused).
fn phone_auth(s: &Service, method: &str, result: &str) -> f64 {
    metric(
        s,
        &format!("selfprov_phone_auth_total{{method=\"{method}\",result=\"{result}\"}}"),
    )
}

#[test]
fn only_a_phones_own_credentials_register_or_unregister_it() {
    let TwoPhones { s, _svc, err, a, b } = two_phones("e2e-reg-digest");
    // A's phone: From, To and Contact carry A's number.
    let mut ua = Ua::new(&s, &a.number);

    // No credentials: challenged (MD5, in phone_config.realm), nothing bound.
    let (first, r) = ua.register(3600, None);
    assert_eq!(first, 401);
    let www = r.header("www-authenticate").unwrap_or_default();
    assert!(
        www.starts_with("Digest ")
            && www.contains("realm=\"selfprov\"")
            && www.contains("algorithm=MD5"),
        "{www}"
    );
    assert!(registrations(&s).is_empty());
    // A wrong secret: 401, then 403 and a line fail2ban can match; still nothing bound.
    let (first, r) = ua.register(3600, Some((&a.auth_user, "not-the-secret")));
    assert_eq!((first, r.status), (401, Some(403)), "{}", r.reason);
    assert!(registrations(&s).is_empty());
    assert_wrong_secret_logged(&err, "REGISTER");
    // A secret is good for its own device only: A's name with B's secret is refused.
    let (_, r) = ua.register(3600, Some((&a.auth_user, &b.password)));
    assert_eq!(r.status, Some(403));
    assert!(registrations(&s).is_empty());
    // Its own: registered, bound to the device that authenticated.
    let (first, r) = ua.register(3600, Some((&a.auth_user, &a.password)));
    assert_eq!((first, r.status), (401, Some(200)));
    let regs = registrations(&s);
    assert_eq!(regs.len(), 1, "{regs:?}");
    let (name, auth, contact, source) = &regs[0];
    assert_eq!(
        (name.as_str(), auth.as_str(), source.clone()),
        ("SEP00000000AA01", "digest", ua.id.local.to_string())
    );
    assert_eq!(contact, &format!("sip:{}@{}", a.number, ua.id.local));
    // The admin listener's /registrations says the same, the CLI's table shows it, /status
    // counts it.
    assert_eq!(registrations_in(&admin_json(&s, "/registrations")), regs);
    let table = cli_output(&s, &["registrations"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("1 phone(s) registered (authentication: digest)")
            && table.lines().any(|l| l.contains("SEP00000000AA01")
                && l.contains(&a.number)
                && l.contains("digest")
                && l.contains(&ua.id.local.to_string())),
        "{table}"
    );
    let st = admin_json(&s, "/status");
    assert_eq!(
        (st["phone_auth"].as_str(), st["phones_registered"].as_u64()),
        (Some("digest"), Some(1)),
        "{st:#}"
    );

    // From never names the device: a REGISTER whose From, To and Contact say A's number but whose
    // digest is B's registers B, and leaves A's binding alone.
    let mut other = Ua::new(&s, &a.number);
    let (first, r) = other.register(3600, Some((&b.auth_user, &b.password)));
    assert_eq!((first, r.status), (401, Some(200)));
    let bound: Vec<(String, String)> = registrations(&s).into_iter().map(|r| (r.0, r.3)).collect();
    assert_eq!(
        bound,
        [
            ("SEP00000000AA01".to_owned(), ua.id.local.to_string()),
            ("SEP00000000BB01".to_owned(), other.id.local.to_string())
        ]
    );

    // Un-REGISTER without credentials, with wrong ones, or as another device: A's binding stays.
    assert_eq!(other.register(0, None).0, 401);
    assert_eq!(
        other.register(0, Some((&a.auth_user, "wrong"))).1.status,
        Some(403)
    );
    assert_eq!(
        other
            .register(0, Some((&b.auth_user, &b.password)))
            .1
            .status,
        Some(200),
        "B may unregister B"
    );
    let left: Vec<String> = registrations(&s).into_iter().map(|r| r.0).collect();
    assert_eq!(left, ["SEP00000000AA01"], "A is still registered, B is not");
    // The phone itself: gone.
    assert_eq!(
        ua.register(0, Some((&a.auth_user, &a.password))).1.status,
        Some(200)
    );
    assert!(registrations(&s).is_empty());

    // A phone that never fetched its file has no credential: challenged, refused, never
    // auto-registered by a REGISTER.
    let mut stranger = Ua::new(&s, "SEP00000000CC01");
    let (first, r) = stranger.register(3600, Some(("SEP00000000CC01", "guess")));
    assert_eq!((first, r.status), (401, Some(403)));
    assert!(
        device(&s, "SEP00000000CC01").is_none(),
        "a REGISTER never auto-registers in digest mode"
    );
    // Refused: A's wrong secret, A with B's secret, the wrong un-REGISTER, the stranger.
    // Accepted: A and B registered, B and A unregistered.
    assert_eq!(
        (
            phone_auth(&s, "REGISTER", "refused"),
            phone_auth(&s, "REGISTER", "accepted")
        ),
        (4.0, 4.0)
    );
}

#[test]
fn a_call_is_challenged_and_answered_only_with_the_callers_own_secret() {
    let TwoPhones { s, _svc, err, a, b } = two_phones("e2e-reg-invite");
    let mut ua = Ua::new(&s, &a.number);

    // No credentials: 401, no call.
    assert_eq!(ua.call(None), (401, 401));
    // A wrong secret: 403, and a line fail2ban can match.
    assert_eq!(ua.call(Some((&a.auth_user, "not-the-secret"))), (401, 403));
    assert_wrong_secret_logged(&err, "INVITE");
    // Another device's secret under A's name, or a device that never fetched its file: 403.
    assert_eq!(ua.call(Some((&a.auth_user, &b.password))), (401, 403));
    assert_eq!(ua.call(Some(("SEP00000000CC01", "guess"))), (401, 403));
    assert!(device(&s, "SEP00000000CC01").is_none());
    // Its own secret: answered (and hung up) — no REGISTER needed first.
    assert_eq!(ua.call(Some((&a.auth_user, &a.password))), (401, 200));
    assert_eq!(
        (
            phone_auth(&s, "INVITE", "challenged"),
            phone_auth(&s, "INVITE", "refused"),
            phone_auth(&s, "INVITE", "accepted")
        ),
        (5.0, 3.0, 1.0)
    );
}

#[test]
fn a_valid_pin_on_device_a_cannot_claim_device_b() {
    let TwoPhones {
        s,
        _svc,
        err: _err,
        a,
        b,
    } = two_phones("e2e-reg-claim");
    // Device A's phone, dressed up as B: From, Contact and +sip.instance all say B; its digest
    // (A's own credentials) says A.
    let scenario = std::fs::read_to_string(repo().join("tests/scenarios/provision_rfc4733.xml"))
        .unwrap()
        .replace(
            "username=\"[field0]\"",
            &format!("username=\"{}\"", a.auth_user),
        );
    assert_eq!(
        scenario
            .matches(&format!("username=\"{}\"", a.auth_user))
            .count(),
        2,
        "REGISTER and INVITE both authenticate as A"
    );
    let file = s.dir.path().join("a_as_b.xml");
    std::fs::write(&file, scenario).unwrap();
    let csv = s.dir.path().join("a_as_b.csv");
    std::fs::write(
        &csv,
        format!(
            "SEQUENTIAL\nSEP00000000BB01;1004;12345;{};{}\n",
            free_udp_port(),
            a.password
        ),
    )
    .unwrap();
    assert!(
        sipp_call(
            &s,
            &["-sf", file.to_str().unwrap(), "-inf", csv.to_str().unwrap()],
            "2000"
        ),
        "the call is provisioned"
    );

    // The claim went to the device that authenticated.
    assert_claimed_by_jsmith(&s, "SEP00000000AA01");
    let db = device(&s, "SEP00000000BB01").unwrap();
    assert!(db["owner"].is_null(), "{db}");
    assert_eq!(
        db["dn"].as_str(),
        Some(b.number.as_str()),
        "B keeps its temporary DN: {db}"
    );
    let claim = &cli(&s, &["audit", "--json", "--kind", "claim"])[0];
    assert_eq!(
        (claim["code"].as_str(), claim["device"].as_str()),
        (Some("SUCCESS"), Some("SEP00000000AA01")),
        "{claim}"
    );
    // REGISTER and INVITE agree: A's binding, whatever its Contact says.
    let regs = registrations(&s);
    assert_eq!(
        regs.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["SEP00000000AA01"],
        "{regs:?}"
    );
}

#[test]
fn binding_mode_registers_hand_configured_phones_and_ties_calls_to_their_registration() {
    let s = config("e2e-reg-binding");
    s.edit("phone_auth = \"digest\"", "phone_auth = \"binding\"");
    let (_svc, _err) = start_service(&s);
    // The test phone as a phone set up by hand: no configuration file, no credentials; it is
    // auto-registered at its first REGISTER and its call comes from the same address and Contact.
    let (code, r) = phone(
        &s,
        &["--device", "SEP00000000BD01", "--digits", "1004#12345#1"],
    );
    assert_eq!(code, 0, "{r:#}");
    assert!(
        r["config_file"].is_null() && r["register_digest"] == false,
        "{r:#}"
    );
    assert_claimed_by_jsmith(&s, "SEP00000000BD01");
    let changes = cli(
        &s,
        &[
            "audit",
            "--json",
            "--kind",
            "change",
            "--device",
            "SEP00000000BD01",
        ],
    );
    let auto = changes
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "autoregister")
        .expect("auto-registered");
    assert_eq!(
        auto["actor"], "registrar",
        "auto-registered by its REGISTER: {auto}"
    );
    let regs = registrations(&s);
    assert_eq!(regs.len(), 1, "{regs:?}");
    assert_eq!(
        (regs[0].0.as_str(), regs[0].1.as_str()),
        ("SEP00000000BD01", "binding")
    );

    // An INVITE from anywhere else matches no binding: refused, whatever its From says.
    let refused = s.dir.path().join("refused.xml");
    let scenario = std::fs::read_to_string(repo().join("crates/sip/tests/scenarios/refused.xml"))
        .unwrap()
        .replace("EXPECT", "403")
        .replace("SEP001122334455", "SEP00000000BD01");
    std::fs::write(&refused, scenario).unwrap();
    assert!(
        sipp_call(&s, &["-sf", refused.to_str().unwrap()], "2000"),
        "403 for a call from no registration"
    );
    // Nor can another address take the phone's registration away.
    let mut elsewhere = Ua::new(&s, "SEP00000000BD01");
    assert_eq!(elsewhere.register(0, None).0, 403);
    assert_eq!(registrations(&s).len(), 1);

    // Another hand-configured phone: registered without a challenge; from its own socket, a call
    // whose Contact is not the registered one is refused, one with it is answered.
    let mut ua = Ua::new(&s, "SEP00000000BD02");
    assert_eq!(ua.register(3600, None).0, 200);
    assert!(device(&s, "SEP00000000BD02").is_some(), "auto-registered");
    ua.id.user = "SEP00000000BD03".into();
    assert_eq!(ua.call(None), (403, 403));
    ua.id.user = "SEP00000000BD02".into();
    assert_eq!(ua.call(None), (200, 200));
    let bound: Vec<(String, String)> = registrations(&s).into_iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(
        bound,
        [
            ("SEP00000000BD01".to_owned(), "binding".to_owned()),
            ("SEP00000000BD02".to_owned(), "binding".to_owned())
        ]
    );
    // It may take its own registration away.
    assert_eq!(ua.register(0, None).0, 200);
    assert_eq!(registrations(&s).len(), 1);
}

#[test]
fn p_asserted_identity_counts_only_from_a_trusted_proxy() {
    let s = config("e2e-reg-pai");
    s.edit(
        "# trusted_proxies = [\"192.0.2.10\"]",
        "trusted_proxies = [\"127.0.0.5\"]",
    );
    let (_svc, _err) = start_service(&s);
    let b = phone_line(&s, "SEP00000000BB01");
    assert_ne!(b.number, "1004", "B starts on a temporary DN");

    // From an untrusted address the assertion is ignored: the caller is challenged.
    let refused = s.dir.path().join("asserted-untrusted.xml");
    let scenario = std::fs::read_to_string(repo().join("crates/sip/tests/scenarios/refused.xml"))
        .unwrap()
        .replace("EXPECT", "401")
        .replace(
            "      Call-ID: [call_id]\n      CSeq: 1 INVITE",
            "      P-Asserted-Identity: <sip:SEP00000000BB01@127.0.0.1>\n      Call-ID: [call_id]\n      CSeq: 1 INVITE",
        );
    assert!(scenario.contains("P-Asserted-Identity"));
    std::fs::write(&refused, scenario).unwrap();
    assert!(
        sipp_call(&s, &["-sf", refused.to_str().unwrap()], "2000"),
        "401: the assertion from 127.0.0.1 is ignored"
    );
    assert!(device(&s, "SEP00000000BB01").unwrap()["owner"].is_null());

    // From the trusted proxy's address it names the device; From does not.
    let csv = s.dir.path().join("asserted.csv");
    std::fs::write(
        &csv,
        "SEQUENTIAL\nSEP00000000BB01;1004;12345;SEP00000000AA09\n",
    )
    .unwrap();
    // A later -i wins: SIPp sends from the proxy's address.
    let scenario = repo().join("tests/scenarios/provision_asserted.xml");
    assert!(
        sipp_call(
            &s,
            &[
                "-sf",
                scenario.to_str().unwrap(),
                "-inf",
                csv.to_str().unwrap(),
                "-i",
                "127.0.0.5"
            ],
            "2000"
        ),
        "the call through the trusted proxy is provisioned"
    );
    assert_claimed_by_jsmith(&s, "SEP00000000BB01");
    assert!(
        device(&s, "SEP00000000AA09").is_none(),
        "From named no device"
    );
}
