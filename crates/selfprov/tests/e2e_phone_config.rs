//! Phones fetch their configuration files from the running service: an unknown phone is
//! auto-registered at its first fetch and gets its own credentials in its file; afterwards the
//! file is served only against the device's digest credentials; a claim gives the line a new
//! secret that the phone fetches with its old one; wrong credentials and MAC scanning are refused
//! and logged; each fetch is in the device's history.

mod common;

use common::*;
use selfprov_sip::digest::{Challenge, DigestClient};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

/// A response: status, headers (lower-case names), body.
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// GET `path` from `from` (a local address to bind, for another source address).
fn get(s: &Service, path: &str, ua: &str, auth: Option<&str>, from: &str) -> Resp {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&format!("{from}:0").parse::<SocketAddr>().unwrap().into())
        .unwrap();
    sock.connect(&SocketAddr::from(([127, 0, 0, 1], s.config_port)).into())
        .unwrap();
    let mut c: TcpStream = sock.into();
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(c, "GET {path} HTTP/1.1\r\nHost: selfprov\r\nUser-Agent: {ua}\r\n{auth}Connection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    c.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Resp {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// GET with digest credentials: the challenge first, then the answer (as a phone does).
fn get_digest(s: &Service, path: &str, user: &str, password: &str) -> Resp {
    let first = get(s, path, "Cisco-CP8845/14.2.1", None, "127.0.0.1");
    assert_eq!(first.status, 401, "{path}: {}", first.body);
    let ch = Challenge::parse(first.header_all("www-authenticate")[0]).unwrap();
    let auth = DigestClient::new(user, password)
        .authorize(&ch, "GET", path)
        .unwrap();
    get(s, path, "Cisco-CP8845/14.2.1", Some(&auth), "127.0.0.1")
}

#[test]
fn a_new_phone_gets_its_file_then_only_with_its_credentials_and_a_new_secret_at_claim() {
    let s = config("e2e-phonecfg");
    let (_svc, err) = start_service(&s);
    let ready = ready_line(&err);
    assert!(
        ready.contains(&format!("config=http://127.0.0.1:{}", s.config_port)),
        "{ready}"
    );

    // The common file needs nothing and names no secret.
    let d = get(
        &s,
        "/XmlDefault.cnf.xml",
        "Cisco-CP8845/14.2.1",
        None,
        "127.0.0.1",
    );
    assert_eq!(d.status, 200);
    assert!(
        d.body
            .contains(&format!("<sipPort>{}</sipPort>", s.sip_port)),
        "{}",
        d.body
    );

    // An unknown phone's first fetch auto-registers it; its file carries its own credentials.
    let path = "/SEP0011223344AA.cnf.xml";
    let first = get(&s, path, "Cisco-CP8845/14.2.1", None, "127.0.0.1");
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(element(&first.body, "authName"), "SEP0011223344AA");
    let temp_dn = element(&first.body, "contact");
    assert!(("1000".."1999").contains(&temp_dn.as_str()), "{temp_dn}");
    let secret = element(&first.body, "authPassword");
    assert_eq!(secret.len(), 20);
    let dev = device(&s, "SEP0011223344AA").expect("auto-registered at the fetch");
    assert_eq!(
        (dev["model"].as_str(), dev["dn"].as_str()),
        (Some("Cisco 8845"), Some(temp_dn.as_str()))
    );

    // Then: no credentials, no file; the right ones, the same bytes; wrong ones, refused.
    let again = get(&s, path, "Cisco-CP8845/14.2.1", None, "127.0.0.1");
    assert_eq!(again.status, 401);
    assert_eq!(
        again.header_all("www-authenticate").len(),
        2,
        "SHA-256 and MD5 challenges"
    );
    assert!(!again.body.contains(&secret));
    let ok = get_digest(&s, path, "SEP0011223344AA", &secret);
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, first.body, "an unchanged file is byte-identical");
    assert_eq!(
        get_digest(&s, path, "SEP0011223344AA", "wrong-secret").status,
        401
    );
    assert_eq!(
        get_digest(&s, path, "SEP00112233BBBB", &secret).status,
        401,
        "another device's name"
    );
    let line = err
        .wait_for("config fetch refused", std::time::Duration::from_secs(5))
        .expect("a refusal is logged for fail2ban");
    assert_eq!(fail2ban_host(&line).as_deref(), Some("127.0.0.1"), "{line}");

    // A claim: the user's line, with a new secret the phone fetches using its old one.
    cli_ok(&s, &["device", "assign", "SEP0011223344AA", "jsmith"]);
    let claimed = get_digest(&s, path, "SEP0011223344AA", &secret);
    assert_eq!(claimed.status, 200);
    assert_eq!(element(&claimed.body, "contact"), "1004");
    assert_eq!(element(&claimed.body, "displayName"), "John Smith");
    let new_secret = element(&claimed.body, "authPassword");
    assert_ne!(new_secret, secret);
    assert_eq!(
        get(&s, path, "Cisco-CP8845/14.2.1", None, "127.0.0.1").status,
        401
    );
    assert_eq!(
        get_digest(&s, path, "SEP0011223344AA", &new_secret).status,
        200
    );

    // Every device-specific fetch is in the device's history, served or refused.
    // The history is written in batches off the request path: wait for it (bounded).
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (hist, actions) = loop {
        let hist = cli(
            &s,
            &[
                "audit",
                "--json",
                "--kind",
                "fetch",
                "--device",
                "SEP0011223344AA",
            ],
        );
        let actions: Vec<String> = hist
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect();
        if actions.iter().any(|a| a == "served") && actions.iter().any(|a| a == "refused")
            || std::time::Instant::now() > until
        {
            break (hist, actions);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(
        actions.iter().any(|a| a == "served") && actions.iter().any(|a| a == "refused"),
        "{hist:#}"
    );
    assert!(!hist.to_string().contains(&secret) && !hist.to_string().contains(&new_secret));
}

#[test]
fn scanning_unknown_macs_is_throttled_per_source_and_late_first_fetches_refused() {
    let s = config("e2e-phonecfg-scan");
    s.edit("unknown_per_minute = 60", "unknown_per_minute = 5");
    s.edit(
        "first_fetch_window = \"10m\"",
        "first_fetch_window = \"1s\"",
    );
    let (_svc, _err) = start_service(&s);
    let statuses: Vec<u16> = (0..8)
        .map(|i| {
            get(
                &s,
                &format!("/SEPBAD0000000{i:02}.cnf.xml"),
                "scanner",
                None,
                "127.0.0.1",
            )
            .status
        })
        .collect();
    assert_eq!(&statuses[..5], &[200; 5]);
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // A genuine new phone from another address is still served.
    assert_eq!(
        get(
            &s,
            "/SEP00AA00BB00CC.cnf.xml",
            "Cisco-CP8845/14.2.1",
            None,
            "127.0.0.2"
        )
        .status,
        200
    );
    // Unknown file names are simply not there.
    assert_eq!(get(&s, "/etc/passwd", "x", None, "127.0.0.3").status, 404);
    // A phone auto-registered at its REGISTER that comes for its file after the window: refused.
    cli_ok(
        &s,
        &[
            "device",
            "autoregister",
            "SEP00AA00BB00DD",
            "--model",
            "Cisco 8845",
        ],
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        get(
            &s,
            "/SEP00AA00BB00DD.cnf.xml",
            "Cisco-CP8845/14.2.1",
            None,
            "127.0.0.1"
        )
        .status,
        401
    );
}
