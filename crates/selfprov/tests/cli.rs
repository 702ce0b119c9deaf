//! The real `selfprov` binary on a temporary config and database.

use selfprov_testkit::TempDir;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Env {
    dir: TempDir,
    cfg: PathBuf,
}

impl Env {
    fn new(tag: &str, extra: &str) -> Env {
        let dir = TempDir::new(tag);
        let cfg = dir.path().join("selfprov.toml");
        std::fs::write(&cfg, format!("[service]\ndata_dir = \"var\"\n{extra}")).unwrap();
        Env { dir, cfg }
    }
    fn run(&self, args: &[&str]) -> Output {
        self.run_stdin(args, "")
    }
    fn run_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_selfprov"))
            .arg("--config")
            .arg(&self.cfg)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        c.wait_with_output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{args:?} failed: {}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        text(&o.stdout)
    }
    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }
    fn path(&self, f: &str) -> PathBuf {
        self.dir.path().join(f)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_config_ok_and_errors_with_key_paths() {
    let e = Env::new("cc-ok", "");
    assert!(e.ok(&["check-config"]).contains("OK"));
    let bad = Env::new("cc-bad", "[auto_registration]\ndn_range = { start = \"10x\", end = \"1999\" }\n[ivr]\nmax_attempts = 0\n");
    let o = bad.run(&["check-config"]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("auto_registration.dn_range.start") && err.contains("digits only"),
        "{err}"
    );
    assert!(err.contains("ivr.max_attempts"), "{err}");
    let missing = Command::new(env!("CARGO_BIN_EXE_selfprov"))
        .args(["--config", "/nonexistent.toml", "check-config"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("cannot read"));
}

#[test]
fn status_ready_and_not_ready_with_seed_wording() {
    let e = Env::new("st-ok", "");
    let o = e.run(&["status"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        text(&o.stdout).starts_with("Ready\n"),
        "{}",
        text(&o.stdout)
    );
    let off = Env::new(
        "st-off",
        "[auto_registration]\nenabled = false\n[self_provisioning]\nivr_enabled = false\n[route_point]\ndns = []\n\
         [registrar]\nmode = \"external\"\naddress = \"127.0.0.1:5070\"\ntrusted_proxies = [\"127.0.0.1\"]\n[application_user]\nuser_id = \"app\"\nsip_username = \"2000\"\n",
    );
    let o = off.run(&["status"]);
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o.stdout);
    assert!(out.starts_with("Not ready:"), "{out}");
    assert!(out.contains("Auto-Registration is disabled"), "{out}");
    assert!(
        out.contains("Self-Provisioning IVR service is deactivated"),
        "{out}"
    );
    assert!(
        out.contains("No DN is assigned to the Route Point"),
        "{out}"
    );
    assert!(
        out.contains("Valid credentials not set for this application User"),
        "{out}"
    );
}

#[test]
fn crud_round_trips_and_device_list_json_shape() {
    let e = Env::new("crud", "");
    e.ok(&[
        "template",
        "udt",
        "create",
        "Desk",
        "--device-pool",
        "Pool1",
    ]);
    e.ok(&[
        "template",
        "udt",
        "update",
        "Desk",
        "--description",
        "desk phones",
    ]);
    let udt = e.json(&["template", "udt", "show", "Desk", "--json"]);
    assert_eq!(udt["device_pool"], "Pool1");
    assert_eq!(udt["description"], "desk phones");
    e.ok(&["template", "ult", "create", "Line", "--partition", "PT"]);
    e.ok(&[
        "profile",
        "create",
        "Std",
        "--udt-desk-phone",
        "Desk",
        "--ult",
        "Line",
        "--system-default",
        "true",
    ]);
    let bad = e.run(&["profile", "create", "Big", "--device-limit", "21"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("device_limit"),
        "{}",
        text(&bad.stderr)
    );
    let o = e.run_stdin(
        &[
            "user",
            "create",
            "alice",
            "--first-name",
            "Alice",
            "--primary-extension",
            "1004",
            "--profile",
            "Std",
            "--pin-stdin",
        ],
        "1234\n",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    // --pin-stdin with an empty stdin is refused as an empty PIN.
    let o = e.run_stdin(
        &[
            "user",
            "create",
            "bob",
            "--primary-extension",
            "1005",
            "--pin-stdin",
        ],
        "",
    );
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("pin: must not be empty"),
        "{}",
        text(&o.stderr)
    );
    e.run_stdin(
        &[
            "user",
            "create",
            "bob",
            "--primary-extension",
            "1005",
            "--pin-stdin",
        ],
        "4321\n",
    );
    let users = e.json(&["user", "list", "--json"]);
    assert_eq!(users.as_array().unwrap().len(), 2);
    let shown = e.ok(&["user", "show", "alice"]);
    assert!(shown.contains("self_service_id") && shown.contains("1004"));
    assert!(!shown.contains("argon2"));
    e.ok(&[
        "device",
        "autoregister",
        "SEP001122334455",
        "--model",
        "Cisco 8845",
    ]);
    e.ok(&[
        "device",
        "create",
        "SEPAABBCCDDEEFF",
        "--model",
        "Cisco 7841",
        "--dn",
        "1500",
    ]);
    let list = e.json(&["device", "list", "--json"]);
    let arr = list.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    for d in arr {
        for k in ["name", "model", "dn", "owner"] {
            assert!(d.get(k).is_some(), "missing {k} in {d}");
        }
        assert!(d["owner"].is_null());
    }
    // Deleting a template in use is refused with the reason.
    let o = e.run(&["template", "udt", "delete", "Desk"]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("used by"));
    e.ok(&["device", "delete", "SEPAABBCCDDEEFF"]);
    assert_eq!(
        e.json(&["device", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn assign_from_cli_shows_owner_and_audit() {
    let e = Env::new("assign", "");
    e.ok(&["demo", "load"]);
    e.ok(&["demo", "load"]); // idempotent
    e.ok(&[
        "device",
        "autoregister",
        "SEP00AA00BB00CC",
        "--model",
        "Cisco 8845",
    ]);
    assert!(e
        .ok(&["device", "assign", "SEP00AA00BB00CC", "jsmith"])
        .contains("extension 1004"));
    let list = e.json(&["device", "list", "--json"]);
    assert_eq!(list[0]["owner"], "jsmith");
    assert_eq!(list[0]["dn"], "1004");
    // A second user: refused with the stable code, no raw database error.
    let o = e.run(&["device", "assign", "SEP00AA00BB00CC", "mdupont"]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("NOT_AUTOREGISTERED"),
        "{}",
        text(&o.stderr)
    );
    // Claims only: the administrator's changes (demo load, auto-registration) are audited too.
    let audit = e.json(&["audit", "--json", "--kind", "claim"]);
    let codes: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["NOT_AUTOREGISTERED", "SUCCESS"]);
}

fn write_csv(p: &Path, rows: &[&str]) {
    let mut s = String::from(
        "user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile\n",
    );
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    std::fs::write(p, s).unwrap();
}

#[test]
fn import_good_bad_and_dry_run() {
    let e = Env::new("import", "");
    e.ok(&["demo", "load"]);
    let good = e.path("good.csv");
    write_csv(
        &good,
        &[
            "u1,A,B,,1111,2001,Standard Employee",
            "u2,C,D,9002,2222,2002,",
        ],
    );
    let dry = e.ok(&["import", "users", good.to_str().unwrap(), "--dry-run"]);
    assert!(dry.contains("dry run"), "{dry}");
    assert_eq!(
        e.json(&["user", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2,
        "dry run changed nothing"
    );
    assert!(e
        .ok(&["import", "users", good.to_str().unwrap()])
        .contains("2 user(s) imported"));
    assert_eq!(
        e.json(&["user", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        4
    );

    let bad = e.path("bad.csv");
    write_csv(
        &bad,
        &[
            "u3,A,B,,1111,2003,",
            "u1,A,B,,1111,2004,",
            "u5,A,B,,1x11,2005,",
            "u6,A,B,,1111,2006,Nope",
        ],
    );
    let o = e.run(&["import", "users", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("bad.csv:line 3: user_id `u1` already exists"),
        "{err}"
    );
    assert!(err.contains("line 4:") && err.contains("pin"), "{err}");
    assert!(
        err.contains("line 5: user_profile `Nope` does not exist"),
        "{err}"
    );
    assert!(text(&o.stdout).contains("3 bad, nothing imported"));
    // No half-imported row: u3 (valid) was not imported either.
    assert_eq!(
        e.json(&["user", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn import_100k_rows_dry_run() {
    let e = Env::new("import-huge", "");
    let p = e.path("huge.csv");
    let mut s = String::from(
        "user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile\n",
    );
    for i in 0..100_000u32 {
        s.push_str(&format!(
            "user{i},First,Last,,{:05},{},\n",
            i % 100_000,
            3_000_000 + i
        ));
    }
    std::fs::write(&p, s).unwrap();
    let out = e.ok(&["import", "users", p.to_str().unwrap(), "--dry-run"]);
    assert!(out.contains("100000 row(s) read, all valid"), "{out}");
}

#[test]
fn hash_secret_makes_a_usable_config_value() {
    let e = Env::new("hash", "");
    let o = e.run_stdin(&["hash-secret"], "424242\n");
    assert!(o.status.success());
    let h = text(&o.stdout).trim().to_owned();
    assert!(h.starts_with("$argon2id$"));
    let e2 = Env::new(
        "hash2",
        &format!("[self_provisioning]\nauthentication_mode = \"users_and_admins\"\nauthentication_code_hash = \"{h}\"\n"),
    );
    e2.ok(&["check-config"]);
    let bad = e.run_stdin(&["hash-secret"], "12ab\n");
    assert!(!bad.status.success());
}

#[test]
fn prompts_check_reports_clean_shipped_prompts_and_missing_ones() {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../prompts");
    let e = Env::new(
        "prompts",
        &format!(
            "[prompts]\ndir = \"{}\"\n[self_provisioning]\nlanguages = [\"fr_FR\", \"de_DE\"]\n",
            shipped.display()
        ),
    );
    let out = e.ok(&["prompts", "check"]);
    assert!(out.contains("117 file(s) checked, 0 issue(s)"), "{out}");
    let empty = e.path("empty");
    std::fs::create_dir_all(empty.join("en_US")).unwrap();
    let e2 = Env::new(
        "prompts-missing",
        &format!("[prompts]\ndir = \"{}\"\n", empty.display()),
    );
    let o = e2.run(&["prompts", "check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stdout).contains("en_US/welcome.wav: missing"));
}
