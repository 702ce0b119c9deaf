//! The configuration server over HTTPS (rustls) with a configured certificate: the same files
//! and the same rules as over HTTP, checked by a real client (curl) against the certificate; a
//! renewed certificate is taken at SIGHUP without a restart, a broken one refuses the reload, and
//! one that cannot be read stops the start with the file named.

mod common;

use common::*;
use selfprov_testkit::{free_tcp_port, require_tool};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A self-signed certificate for 127.0.0.1 and its key, as `<dir>/<name>.pem` and
/// `<dir>/<name>.key`.
fn certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let o = Command::new(require_tool("openssl"))
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=selfprov test {name}"),
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (cert, key)
}

/// curl over HTTPS trusting `ca`: (curl's exit code, HTTP status, body).
fn curl(ca: &Path, url: &str, digest: Option<(&str, &str)>) -> (i32, u16, String) {
    let mut c = Command::new(require_tool("curl"));
    c.args(["-sS", "--max-time", "20", "-A", "Cisco-CP8845/14.2.1"])
        .arg("--cacert")
        .arg(ca)
        .args(["-w", "\n%{http_code}"]);
    if let Some((user, password)) = digest {
        c.args(["--digest", "-u", &format!("{user}:{password}")]);
    }
    let o = c.arg(url).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let (body, status) = out.rsplit_once('\n').unwrap_or(("", "0"));
    (
        o.status.code().unwrap_or(-1),
        status.trim().parse().unwrap_or(0),
        body.to_owned(),
    )
}

#[test]
fn phones_fetch_over_https_and_a_renewed_certificate_is_taken_at_sighup() {
    let s = config("e2e-https");
    let tls = s.dir.path().join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let (cert_a, key_a) = certificate(&tls, "a");
    let (cert_b, key_b) = certificate(&tls, "b");
    std::fs::copy(&cert_a, tls.join("cert.pem")).unwrap();
    std::fs::copy(&key_a, tls.join("key.pem")).unwrap();
    let port = free_tcp_port();
    s.edit(
        "[phone_config]\n",
        &format!(
            "[phone_config]\nhttps_listen = \"127.0.0.1:{port}\"\ntls_certificate = \"tls/cert.pem\"\ntls_private_key = \"tls/key.pem\"\n"
        ),
    );
    let (service, err) = start_service(&s);
    let ready = ready_line(&err);
    assert!(
        ready.contains(&format!("config_tls=https://127.0.0.1:{port}")),
        "{ready}"
    );
    let base = format!("https://127.0.0.1:{port}");

    // A new phone's first fetch over HTTPS auto-registers it and carries its credentials.
    let path = "/SEP00112233AA01.cnf.xml";
    let (rc, status, body) = curl(&cert_a, &format!("{base}{path}"), None);
    assert_eq!((rc, status), (0, 200), "{body}");
    let (user, secret) = (element(&body, "authName"), element(&body, "authPassword"));
    assert_eq!(user, "SEP00112233AA01");
    // Afterwards only with its digest credentials, as over HTTP.
    let (_, status, _) = curl(&cert_a, &format!("{base}{path}"), None);
    assert_eq!(status, 401);
    let (_, status, _) = curl(&cert_a, &format!("{base}{path}"), Some((&user, "wrong")));
    assert_eq!(status, 401);
    let (rc, status, again) = curl(&cert_a, &format!("{base}{path}"), Some((&user, &secret)));
    assert_eq!((rc, status), (0, 200));
    assert_eq!(again, body, "the same file, byte for byte");
    // A client that does not trust the certificate gets nothing (curl: 60, peer not verified).
    let (rc, _, _) = curl(&cert_b, &format!("{base}/XmlDefault.cnf.xml"), None);
    assert_eq!(rc, 60);
    // The plain HTTP listener still serves.
    let plain = http_get(s.config_port, "/XmlDefault.cnf.xml");
    assert!(plain.starts_with("HTTP/1.0 200"), "{plain}");

    // A renewed certificate: replace the files, SIGHUP; new connections get the new one.
    std::fs::copy(&cert_b, tls.join("cert.pem")).unwrap();
    std::fs::copy(&key_b, tls.join("key.pem")).unwrap();
    service.signal(1);
    assert!(err
        .wait_for("TLS certificate read again", Duration::from_secs(30))
        .is_some());
    let (rc, status, _) = curl(&cert_b, &format!("{base}/XmlDefault.cnf.xml"), None);
    assert_eq!((rc, status), (0, 200));
    let (rc, _, _) = curl(&cert_a, &format!("{base}/XmlDefault.cnf.xml"), None);
    assert_eq!(rc, 60, "the old certificate is no longer presented");

    // A broken certificate refuses the reload (naming the file); the running one stays.
    std::fs::write(tls.join("cert.pem"), "not a certificate\n").unwrap();
    service.signal(1);
    let refused = err
        .wait_for("reload refused", Duration::from_secs(30))
        .expect("the reload is refused");
    assert!(refused.contains("cert.pem"), "{refused}");
    let (rc, status, _) = curl(&cert_b, &format!("{base}/XmlDefault.cnf.xml"), None);
    assert_eq!((rc, status), (0, 200));
}

#[test]
fn a_missing_private_key_stops_the_start_and_names_the_file() {
    let s = config("e2e-https-nokey");
    let tls = s.dir.path().join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let (cert, _) = certificate(&tls, "a");
    s.edit(
        "[phone_config]\n",
        &format!(
            "[phone_config]\nhttps_listen = \"127.0.0.1:{}\"\ntls_certificate = \"{}\"\ntls_private_key = \"tls/missing.key\"\n",
            free_tcp_port(),
            cert.display()
        ),
    );
    let err = failed_start(&s);
    assert!(
        err.wait_for("missing.key", Duration::from_secs(5))
            .is_some(),
        "{:?}",
        err.lines()
    );
}

/// `openssl ARGS`, which must succeed.
fn openssl(args: &[&str]) {
    let o = Command::new(require_tool("openssl"))
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// An authority (`<dir>/<name>-ca.pem`) and a certificate it signed for 127.0.0.1 with its key,
/// as a site's PKI would issue: (authority, certificate, key).
fn issued_certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let p = |suffix: &str| dir.join(format!("{name}{suffix}")).display().to_string();
    let (ca, ca_key, csr, cert, key, ext) = (
        p("-ca.pem"),
        p("-ca.key"),
        p(".csr"),
        p(".pem"),
        p(".key"),
        p(".ext"),
    );
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    let args = |line: String| {
        let v: Vec<String> = line.split(' ').map(str::to_owned).collect();
        openssl(&v.iter().map(String::as_str).collect::<Vec<_>>());
    };
    let subject = |cn: &str| ["-subj".to_owned(), format!("/CN={cn}")];
    let [a, b] = subject("test-authority");
    args(format!(
        "req -x509 -days 2 {a} {b} {ec} -keyout {ca_key} -out {ca}"
    ));
    let [a, b] = subject("selfprov-admin");
    args(format!("req -new {a} {b} {ec} -keyout {key} -out {csr}"));
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    args(format!(
        "x509 -req -days 2 -in {csr} -CA {ca} -CAkey {ca_key} -CAcreateserial -extfile {ext} -out {cert}"
    ));
    (ca.into(), cert.into(), key.into())
}

/// `selfprov ARGS` on the test's configuration: (success, stdout and stderr).
fn selfprov(s: &Service, args: &[&str]) -> (bool, String) {
    let o = cli_run(s, args, "");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), text)
}

#[test]
fn the_admin_listener_serves_https_to_browsers_the_api_and_the_cli() {
    let s = config("e2e-admin-https");
    let tls = s.dir.path().join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let (ca, cert, key) = issued_certificate(&tls, "admin");
    let (stranger, _, _) = issued_certificate(&tls, "stranger");
    s.edit(
        "max_connections = 256\n",
        &format!(
            "max_connections = 256\ntls_certificate = \"{}\"\ntls_private_key = \"{}\"\n",
            cert.display(),
            key.display()
        ),
    );
    let (_svc, err) = start_service(&s);
    let base = format!("https://127.0.0.1:{}", s.admin_port);
    assert!(
        ready_line(&err).contains(&format!("admin={base}")),
        "{}",
        ready_line(&err)
    );
    // A browser-like client that checks the certificate; plain HTTP gets no answer.
    let (code, status, body) = curl(&ca, &format!("{base}/health"), None);
    assert_eq!((code, status), (0, 200), "{body}");
    let (_, status, _) = curl(&ca, &format!("{base}/api/v1/users"), None);
    assert_eq!(status, 401, "the API still wants a token over HTTPS");
    let (code, status, body) = curl(&ca, &format!("{base}/"), None);
    assert_eq!((code, status), (0, 200), "the console: {body}");
    let plain = Command::new(require_tool("curl"))
        .args(["-sS", "--max-time", "5"])
        .arg(format!("http://127.0.0.1:{}/health", s.admin_port))
        .output()
        .unwrap();
    assert!(!plain.status.success(), "plain HTTP must not be served");

    // The local status and registrations reach the service over HTTPS (trusting exactly the
    // configured certificate).
    let (ok, out) = selfprov(&s, &["status"]);
    assert!(
        ok && out.contains("Ready") && out.contains("active calls"),
        "{out}"
    );
    let (ok, out) = selfprov(&s, &["registrations"]);
    assert!(ok && out.contains("phone(s) registered"), "{out}");

    // --url https://… with the authority that signed the certificate; a client trusting
    // another authority refuses the connection and says why.
    let token = common::api::account(&s, "alice", "administrator");
    let remote = |ca: &Path, args: &[&str]| {
        let mut a = vec![
            "--url",
            &base,
            "--token",
            &token,
            "--ca-file",
            ca.to_str().unwrap(),
        ];
        a.extend_from_slice(args);
        selfprov(&s, &a)
    };
    let (ok, out) = remote(&ca, &["user", "list", "--json"]);
    assert!(ok, "{out}");
    let (ok, out) = remote(&ca, &["status"]);
    assert!(ok && out.contains("Ready"), "{out}");
    let (ok, out) = remote(&ca, &["registrations", "--json"]);
    assert!(ok && out.contains("\"registrations\""), "{out}");
    let (ok, out) = remote(&stranger, &["user", "list"]);
    assert!(
        !ok && out.contains("https://127.0.0.1") && out.contains("TLS"),
        "{out}"
    );
}
