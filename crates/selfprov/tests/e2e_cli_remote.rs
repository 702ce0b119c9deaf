//! The command line pointed at a running service (`--url`, a token): the same commands as on the
//! database file, answered by the service's API — the same output, changes audited as the
//! token's owner, a release reaching the phone at once (NOTIFY check-sync), the token's role
//! enforced, and a wrong token or role said plainly with a non-zero exit.

mod common;

use common::api::account;
use common::boot::*;
use common::*;
use std::path::Path;
use std::process::{Command, Output};

/// `selfprov --url … ARGS` with `auth` (options or environment for the token), `stdin` as input.
/// The configuration given does not exist: everything must come from the service.
fn remote(s: &Service, auth: &[(&str, &str)], args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_selfprov"));
    cmd.arg("--config")
        .arg(s.dir.path().join("no-such-config.toml"))
        .args(["--url", &format!("http://127.0.0.1:{}", s.admin_port)])
        .env_remove("SELFPROV_TOKEN")
        .env_remove("SELFPROV_TOKEN_FILE");
    for (k, v) in auth {
        if k.starts_with("--") {
            cmd.args([k, v]);
        } else {
            cmd.env(k, v);
        }
    }
    run_piped(cmd.args(args), stdin)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(o: Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

fn token_file(dir: &Path, token: &str) -> String {
    let f = dir.join("alice.token");
    std::fs::write(&f, format!("{token}\n")).unwrap();
    f.to_str().unwrap().to_owned()
}

#[test]
fn the_cli_with_url_acts_through_the_running_service_as_the_tokens_owner() {
    let (s, _svc, _err) = demo_service("e2e-cli-remote");
    let file = token_file(s.dir.path(), &account(&s, "alice", "administrator"));
    let alice = [("--token-file", file.as_str())];
    let run = |args: &[&str]| ok(remote(&s, &alice, args, ""), &args.join(" "));

    // Lists: the demo users, the same output as on the database file.
    let users = run(&["user", "list", "--json"]);
    let ids: Vec<String> = serde_json::from_str::<serde_json::Value>(&users)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(ids.contains(&"jsmith".to_owned()), "{users}");
    assert_eq!(users, cli_stdin(&s, &["user", "list", "--json"], ""));
    assert_eq!(run(&["user", "list"]), cli_stdin(&s, &["user", "list"], ""));

    // A user created through the service, the PIN from stdin.
    let out = ok(
        remote(
            &s,
            &alice,
            &[
                "user",
                "create",
                "carol",
                "--primary-extension",
                "1200",
                "--pin-stdin",
            ],
            "2468\n",
        ),
        "user create",
    );
    assert_eq!(out, "created user carol\n");

    // A phone claims 1004 through the IVR; released with the command line, it is told at once
    // (check-sync), fetches its file and comes back on a temporary DN.
    let phone = boot(
        &s,
        "yealink",
        "0A1B2C000021",
        &["--digits", "1004#12345#1", "--syncs", "2"],
    );
    phone.registered("1004");
    let out = run(&["device", "release", &phone.device]);
    assert!(
        out.contains("released: auto-registered again with DN"),
        "{out}"
    );
    let r = phone.report();
    assert_eq!(r["check_syncs"], 2, "{r}");
    assert_eq!(r["outcome"], "registered", "{r}");
    assert_ne!(r["dn"], "1004", "{r}");

    // Assigned to the new user; the device as the service has it.
    let out = run(&["device", "assign", &phone.device, "carol"]);
    assert!(
        out.contains("assigned to carol with extension 1200"),
        "{out}"
    );
    let d: serde_json::Value =
        serde_json::from_str(&run(&["device", "show", &phone.device, "--json"])).unwrap();
    assert_eq!(
        (d["owner"].as_str(), d["dn"].as_str()),
        (Some("carol"), Some("1200"))
    );

    // The audit names the token's owner for each change.
    let audit: serde_json::Value =
        serde_json::from_str(&run(&["audit", "--json", "--actor", "api:alice"])).unwrap();
    let did: Vec<(String, String)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let what = e["action"]
                .as_str()
                .or(e["code"].as_str())
                .unwrap_or_default();
            let about = e["object"]
                .as_str()
                .or(e["device"].as_str())
                .unwrap_or_default();
            (what.to_owned(), about.to_owned())
        })
        .collect();
    for expected in [
        ("SUCCESS", phone.device.as_str()),
        ("release", phone.device.as_str()),
        ("create", "carol"),
    ] {
        assert!(
            did.iter()
                .any(|(w, a)| (w.as_str(), a.as_str()) == expected),
            "{expected:?} by api:alice in {did:?}"
        );
    }
    // The command line on the database file acts as the OS user, on the same data.
    assert_eq!(
        run(&["user", "show", "carol", "--json"]),
        cli_stdin(&s, &["user", "show", "carol", "--json"], "")
    );
}

#[test]
fn the_tokens_role_is_enforced_and_a_wrong_token_is_said_plainly() {
    let (s, _svc, _err) = demo_service("e2e-cli-remote-auth");
    let rita = account(&s, "rita", "read-only");
    // A read-only token reads ...
    let o = remote(&s, &[("--token", rita.as_str())], &["user", "list"], "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    // ... but a change is refused, naming the role it needs; nothing changes.
    let o = remote(
        &s,
        &[("--token", rita.as_str())],
        &["user", "update", "jsmith", "--first-name", "Eve"],
        "",
    );
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("403 Forbidden") && err.contains("administrator role") && err.contains("rita"),
        "{err}"
    );
    assert_eq!(
        cli(&s, &["user", "show", "jsmith", "--json"])["first_name"],
        "John"
    );

    // A token that is not one (from the environment): 401, said as such.
    let o = remote(
        &s,
        &[("SELFPROV_TOKEN", "spt_000000000000_0000")],
        &["user", "list"],
        "",
    );
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("401 Unauthorized") && err.contains("token"),
        "{err}"
    );
    // No token at all.
    let o = remote(&s, &[], &["user", "list"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("--url needs an API token"),
        "{}",
        text(&o.stderr)
    );
    // A revoked token stops at once.
    let id = rita.split('_').nth(1).unwrap();
    cli_ok(&s, &["token", "revoke", id]);
    let o = remote(&s, &[("--token", rita.as_str())], &["user", "list"], "");
    assert!(text(&o.stderr).contains("401"), "{}", text(&o.stderr));
}
