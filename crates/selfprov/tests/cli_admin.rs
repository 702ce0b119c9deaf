//! The command line as a front end of the operations layer: the same bad input gives the same
//! answer through the CLI as through a direct call; administrative changes are audited with the
//! OS user as actor and can be filtered; settings, PIN reset and release.

use selfprov_operations::users::UserPatch;
use selfprov_operations::{Actor, Operations};
use selfprov_provisioning::store::SqliteStore;
use selfprov_testkit::TempDir;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

struct Env {
    /// Removed when the test ends.
    _dir: TempDir,
    cfg: PathBuf,
}

impl Env {
    fn new(tag: &str) -> Env {
        let dir = TempDir::new(tag);
        let cfg = dir.path().join("selfprov.toml");
        std::fs::write(&cfg, "[service]\ndata_dir = \"var\"\n").unwrap();
        Env { _dir: dir, cfg }
    }
    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_selfprov"))
            .arg("--config")
            .arg(&self.cfg)
            .args(args)
            .env("USER", "opsadmin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        c.wait_with_output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args, "");
        assert!(
            o.status.success(),
            "{args:?}: {}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        text(&o.stdout)
    }
    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }
    /// The error line the CLI printed for a refused command.
    fn error(&self, args: &[&str]) -> String {
        let o = self.run(args, "");
        assert!(!o.status.success(), "{args:?} should fail");
        text(&o.stderr)
            .trim()
            .strip_prefix("error: ")
            .unwrap_or_default()
            .to_owned()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The same bad input, through the CLI and through the operations layer directly (on a database
/// in the same state), is refused with the same message.
#[test]
fn cli_and_operations_layer_refuse_bad_input_alike() {
    let e = Env::new("cli-same");
    e.ok(&["demo", "load"]);
    let twin = TempDir::new("cli-same-direct");
    let ops = Operations::new(Arc::new(
        SqliteStore::open(&twin.path().join("t.db")).unwrap(),
    ));
    selfprov_operations::demo::load_demo_data(&ops, &Actor::cli("x")).unwrap();
    let s = |v: &str| Some(v.to_owned());
    let cases: Vec<(Vec<&str>, Result<(), selfprov_operations::OpError>)> = vec![
        (
            vec!["user", "update", "jsmith", "--primary-extension", "10x4"],
            ops.update_user(
                &Actor::cli("x"),
                "jsmith",
                &UserPatch {
                    primary_extension: s("10x4"),
                    ..Default::default()
                },
            )
            .map(|_| ()),
        ),
        (
            vec!["user", "update", "jsmith", "--profile", "Nope"],
            ops.update_user(
                &Actor::cli("x"),
                "jsmith",
                &UserPatch {
                    user_profile: s("Nope"),
                    ..Default::default()
                },
            )
            .map(|_| ()),
        ),
        (
            vec!["user", "update", "ghost", "--first-name", "G"],
            ops.update_user(
                &Actor::cli("x"),
                "ghost",
                &UserPatch {
                    first_name: s("G"),
                    ..Default::default()
                },
            )
            .map(|_| ()),
        ),
        (
            vec![
                "profile",
                "update",
                "Standard Employee",
                "--device-limit",
                "0",
            ],
            ops.update_profile(
                &Actor::cli("x"),
                "Standard Employee",
                &selfprov_operations::profiles::ProfilePatch {
                    device_limit: Some(0),
                    ..Default::default()
                },
            )
            .map(|_| ()),
        ),
        (
            vec!["template", "udt", "delete", "Desk Phones"],
            ops.delete_udt(&Actor::cli("x"), "Desk Phones"),
        ),
        (
            vec!["device", "create", "SEP000000000001", "--owner", "ghost"],
            ops.create_device(
                &Actor::cli("x"),
                "SEP000000000001",
                &selfprov_operations::devices::DevicePatch {
                    owner: s("ghost"),
                    ..Default::default()
                },
            )
            .map(|_| ()),
        ),
    ];
    for (args, direct) in cases {
        let direct = direct
            .expect_err("the direct call must fail too")
            .to_string();
        assert_eq!(e.error(&args), direct, "{args:?}");
    }
}

#[test]
fn admin_changes_are_audited_with_the_os_user_and_filterable() {
    let e = Env::new("cli-audit");
    e.ok(&["template", "udt", "create", "Desk", "--device-pool", "P1"]);
    e.ok(&["template", "udt", "update", "Desk", "--device-pool", "P2"]);
    let o = e.run(
        &[
            "user",
            "create",
            "amy",
            "--primary-extension",
            "1100",
            "--pin-stdin",
        ],
        "86420\n",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let changes = e.json(&["audit", "--json", "--kind", "change", "--object", "Desk"]);
    let a = changes.as_array().unwrap();
    assert_eq!(a.len(), 2, "{changes:#}");
    assert_eq!(a[0]["actor"], "cli:opsadmin");
    assert_eq!(a[0]["action"], "update");
    assert_eq!(
        (
            a[0]["before"]["device_pool"].as_str(),
            a[0]["after"]["device_pool"].as_str()
        ),
        (Some("P1"), Some("P2"))
    );
    // The table names the change; no secret anywhere.
    let table = e.ok(&["audit", "--actor", "cli"]);
    assert!(
        table.contains("update") && table.contains("udt Desk") && table.contains("device_pool"),
        "{table}"
    );
    let all = e.ok(&["audit", "--json"]);
    assert!(!all.contains("86420") && !all.contains("argon2"), "{all}");
    assert_eq!(
        e.json(&["audit", "--json", "--since", "1h", "--user", "amy"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(e
        .json(&["audit", "--json", "--until", "2000-01-01T00:00:00Z"])
        .as_array()
        .unwrap()
        .is_empty());
    assert!(e
        .error(&["audit", "--since", "yesterday-ish"])
        .contains("--since"));
    assert!(e
        .error(&["audit", "--kind", "everything"])
        .contains("--kind"));
}

#[test]
fn settings_show_set_reset() {
    let e = Env::new("cli-settings");
    e.ok(&["demo", "load"]);
    let shown = e.ok(&["settings", "show"]);
    assert!(shown.starts_with("Status: Ready"), "{shown}");
    let out = e.ok(&[
        "settings",
        "set",
        "--auto-registration-enabled",
        "false",
        "--dn-range-start",
        "1500",
    ]);
    assert!(out.starts_with("Save successful."), "{out}");
    assert!(out.contains("Auto-Registration is disabled"), "{out}");
    let v = e.json(&["settings", "show", "--json"]);
    let field = |n: &str| {
        v["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(
        (
            field("dn_range_start")["value"].as_str(),
            field("dn_range_start")["source"].as_str()
        ),
        (Some("1500"), Some("database"))
    );
    assert_eq!(field("dn_range_end")["source"], "file");
    // The status command (service not running) sees the stored settings too.
    let st = e.run(&["status"], "");
    assert_eq!(st.status.code(), Some(1));
    assert!(text(&st.stdout).contains("Auto-Registration is disabled"));
    // The authentication code from stdin; shown only as set.
    let o = e.run(
        &[
            "settings",
            "set",
            "--authentication-mode",
            "users_and_admins",
            "--authentication-code-stdin",
        ],
        "97531\n",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!e.ok(&["audit", "--json"]).contains("97531"));
    assert!(e
        .error(&["settings", "set", "--dn-range-end", "2100"])
        .contains("route-point DN 2000"));
    e.ok(&["settings", "reset", "all"]);
    assert!(e.ok(&["settings", "show"]).starts_with("Status: Ready"));
    assert!(e
        .error(&["settings", "reset", "colour"])
        .contains("not a setting"));
}

#[test]
fn reset_pin_and_release_from_the_cli() {
    let e = Env::new("cli-helpdesk");
    e.ok(&["demo", "load"]);
    let out = e.ok(&["user", "reset-pin", "jsmith"]);
    let pin = out
        .split("new PIN for jsmith: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect(&out)
        .to_owned();
    assert_eq!(pin.len(), 6);
    let o = e.run(&["user", "reset-pin", "mdupont", "--pin-stdin"], "13579\n");
    assert!(
        o.status.success() && !text(&o.stdout).contains("13579"),
        "{}",
        text(&o.stdout)
    );
    e.ok(&[
        "device",
        "autoregister",
        "SEP00AA00BB00CC",
        "--model",
        "Cisco 8845",
    ]);
    e.ok(&["device", "assign", "SEP00AA00BB00CC", "jsmith"]);
    let out = e.ok(&["device", "release", "SEP00AA00BB00CC"]);
    assert!(out.contains("released"), "{out}");
    let d = e.json(&["device", "show", "SEP00AA00BB00CC", "--json"]);
    assert!(d["owner"].is_null() && d["auto_registered"] == true, "{d}");
    assert!(e
        .error(&["device", "release", "SEP00AA00BB00CC"])
        .contains("nothing to release"));
    // The device's history: auto-registration, claim, release.
    let hist = e.json(&["audit", "--json", "--device", "SEP00AA00BB00CC"]);
    let what: Vec<String> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            x["action"]
                .as_str()
                .or(x["code"].as_str())
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(what, ["release", "SUCCESS", "autoregister"]);
    // Search and paging in lists.
    let users = e.json(&["user", "list", "--json", "--search", "*upont"]);
    assert_eq!(users.as_array().unwrap().len(), 1);
    let page = e.run(&["user", "list", "--limit", "1"], "");
    assert!(
        text(&page.stderr).contains("1 of 2 shown"),
        "{}",
        text(&page.stderr)
    );
}

#[test]
fn config_render_and_check() {
    let e = Env::new("cli-phonecfg");
    e.ok(&["demo", "load"]);
    e.ok(&[
        "device",
        "autoregister",
        "SEP00AA00BB00EE",
        "--model",
        "Cisco 8845",
    ]);
    let out = e.ok(&["config", "render", "SEP00AA00BB00EE"]);
    assert!(
        out.contains("==> SEP00AA00BB00EE.cnf.xml (template shipped:cisco/device.cnf.xml) <=="),
        "{out}"
    );
    assert!(
        out.contains("<authPassword>********</authPassword>"),
        "masked by default: {out}"
    );
    let shown = e.ok(&[
        "config",
        "render",
        "SEP00AA00BB00EE",
        "--show-secrets",
        "--file",
        "device.cnf.xml",
    ]);
    assert!(
        !shown.contains("********") && !shown.contains("XmlDefault"),
        "{shown}"
    );
    // The same device rendered twice gives the same bytes.
    assert_eq!(
        shown,
        e.ok(&[
            "config",
            "render",
            "SEP00AA00BB00EE",
            "--show-secrets",
            "--file",
            "device.cnf.xml"
        ])
    );
    // A model's files for a phone not yet known.
    let y = e.ok(&[
        "config",
        "render",
        "SEP001565AABBCC",
        "--model",
        "Yealink T46U",
    ]);
    assert!(
        y.contains("==> 001565aabbcc.cfg") && y.contains("account.1.auth_name = SEP001565AABBCC"),
        "{y}"
    );
    assert!(e
        .error(&["config", "render", "SEP001565AABBCC"])
        .contains("--model"));
    assert!(e
        .error(&["config", "render", "SEP00AA00BB00EE", "--file", "nope.cfg"])
        .contains("the cisco templates are"));
    // Check: clean, then a broken override named with its file and line.
    assert!(e.ok(&["config", "check"]).contains("0 problem(s)"));
    let tdir = e._dir.path().join("templates/cisco");
    std::fs::create_dir_all(&tdir).unwrap();
    std::fs::write(
        tdir.join("device.cnf.xml"),
        "<device>\n  <x>{{ line.numbr }}</x>\n</device>\n",
    )
    .unwrap();
    let o = e.run(&["config", "check"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("templates/cisco/device.cnf.xml:2: undefined value"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn move_and_replace_from_the_cli() {
    let e = Env::new("cli-move");
    e.ok(&["demo", "load"]);
    e.ok(&[
        "device",
        "autoregister",
        "SEP00AA00BB0011",
        "--model",
        "Cisco 8845",
    ]);
    e.ok(&["device", "assign", "SEP00AA00BB0011", "jsmith"]);
    assert!(e
        .ok(&["device", "move", "SEP00AA00BB0011", "mdupont"])
        .contains("moved to mdupont with extension 1005"));
    let d = e.json(&["device", "show", "SEP00AA00BB0011", "--json"]);
    assert_eq!(
        (d["owner"].as_str(), d["dn"].as_str()),
        (Some("mdupont"), Some("1005"))
    );
    // The replacement given as a MAC; the old name stops existing.
    let out = e.ok(&["device", "replace", "SEP00AA00BB0011", "00:aa:00:bb:00:22"]);
    assert!(
        out.contains("device SEP00AA00BB0022 replaces SEP00AA00BB0011"),
        "{out}"
    );
    assert!(e
        .error(&["device", "show", "SEP00AA00BB0011"])
        .contains("not found"));
    assert_eq!(
        e.json(&["device", "show", "SEP00AA00BB0022", "--json"])["owner"],
        "mdupont"
    );
    assert!(e
        .error(&["device", "move", "SEP00AA00BB0022", "nobody"])
        .contains("INVALID_CREDENTIALS"));
}

#[test]
fn activation_codes_issue_list_revoke_from_the_cli() {
    let e = Env::new("cli-activation");
    e.ok(&["demo", "load"]);
    // Printed once, grouped by four, on stdout; the details on stderr.
    let o = e.run(
        &[
            "activation",
            "issue",
            "jsmith",
            "--device",
            "SEP00AA00BB00CC",
        ],
        "",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let printed = text(&o.stdout);
    let digits: String = printed.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(digits.len(), 16, "{printed}");
    assert_eq!(printed.trim().split(' ').count(), 4, "{printed}");
    assert!(
        text(&o.stderr).contains("shown once"),
        "{}",
        text(&o.stderr)
    );
    let qr = e._dir.path().join("code.svg");
    let by_model = e.json(&[
        "activation",
        "issue",
        "jsmith",
        "--model",
        "Cisco 8845",
        "--expires",
        "2h",
        "--json",
        "--qr",
        qr.to_str().unwrap(),
    ]);
    assert_eq!(by_model["model"], "Cisco 8845");
    // The QR code image, also in the answer.
    let svg = std::fs::read_to_string(&qr).unwrap();
    assert!(svg.contains("<svg"), "{svg}");
    assert_eq!(by_model["qr_svg"], svg.as_str());
    let ttl = by_model["expires_ms"].as_i64().unwrap() - by_model["created_ms"].as_i64().unwrap();
    assert_eq!(ttl, 2 * 3600 * 1000);
    // Listed newest first, with states, never the codes.
    let listed = e.json(&["activation", "list", "jsmith", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["state"] == "pending"));
    assert!(!listed.to_string().contains(&digits));
    let id = by_model["id"].as_str().unwrap();
    assert!(e.ok(&["activation", "revoke", id]).contains("revoked"));
    let listed = e.json(&["activation", "list", "jsmith", "--json"]);
    assert_eq!(listed[0]["state"], "revoked", "{listed}");
    // Refusals name what is wrong; issue and revoke are audited as the OS user, without the code.
    assert!(e
        .error(&["activation", "issue", "jsmith", "--model", "Toaster"])
        .contains("model"));
    assert!(e
        .error(&["activation", "list", "nobody"])
        .contains("nobody"));
    let audit = e.json(&["audit", "--json", "--kind", "change", "--user", "jsmith"]);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["object_kind"] == "activation_code")
        .map(|x| x["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["revoke", "issue", "issue"], "{audit}");
    assert!(audit
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["actor"] == "cli:opsadmin"));
    assert!(!audit.to_string().contains(&digits));
}
