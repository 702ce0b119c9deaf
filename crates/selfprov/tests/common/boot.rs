//! The test phone booting as a vendor's phone does (`selfprov phone --boot`) against a running
//! service, its steps watched as they happen.

use super::{cli, cli_ok, config, rendered_with_secrets, start_service, Service};
use selfprov_phone::boot::Vendor;
use selfprov_testkit::{spawn_watched, ChildGuard, LineWatcher};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

pub const WAIT: Duration = Duration::from_secs(90);

/// A `selfprov phone --boot` running; its steps (one JSON object per line) as they happen.
pub struct BootPhone {
    _guard: ChildGuard,
    pub out: LineWatcher,
    pub device: String,
}

pub fn boot(s: &Service, vendor: &str, mac: &str, args: &[&str]) -> BootPhone {
    let device = format!("SEP{mac}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_selfprov"));
    cmd.arg("--config")
        .arg(&s.cfg)
        .args(["phone", "--json", "--boot", vendor, "--device", &device])
        .args(["--timeout", "60s"])
        .args(args);
    let (guard, out, _err) = spawn_watched(&format!("{vendor}-phone"), &mut cmd).unwrap();
    BootPhone {
        _guard: guard,
        out,
        device,
    }
}

impl BootPhone {
    /// The first step for which `f` holds, waited for.
    pub fn step(&self, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let line = self
            .out
            .wait_for_match(
                |l| serde_json::from_str::<Value>(l).is_ok_and(|v| f(&v)),
                WAIT,
            )
            .unwrap_or_else(|| panic!("{}: no step {what}", self.device));
        serde_json::from_str(&line).unwrap()
    }

    /// The REGISTER accepted for `dn`.
    pub fn registered(&self, dn: &str) -> Value {
        self.step(&format!("registered as {dn}"), |v| {
            v["step"] == "register" && v["dn"] == dn && v["status"] == 200
        })
    }

    /// The first REGISTER accepted: its DN.
    pub fn registered_first(&self) -> String {
        let r = self.step("first REGISTER", |v| {
            v["step"] == "register" && v["dn_before"].is_null() && v["status"] == 200
        });
        r["dn"].as_str().unwrap().to_owned()
    }

    /// The report the phone ends with.
    pub fn report(&self) -> Value {
        self.step("report", |v| v.get("steps").is_some())
    }
}

pub fn steps<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["step"] == kind)
        .collect()
}

/// A running service with the demo data.
pub fn demo_service(tag: &str) -> (Service, ChildGuard, LineWatcher) {
    let s = config(tag);
    let (svc, err) = start_service(&s);
    cli_ok(&s, &["demo", "load"]);
    (s, svc, err)
}

/// The device's current secret, as `selfprov config render --show-secrets` shows it in the
/// vendor's files.
pub fn secret(s: &Service, vendor: &str, device: &str) -> String {
    let v: Vendor = vendor.parse().unwrap();
    v.read(&rendered_with_secrets(s, device), "")
        .line
        .unwrap_or_else(|| panic!("no line in {device}'s files"))
        .password
}

/// Whether any device has `dn`.
pub fn dn_taken(s: &Service, dn: &str) -> bool {
    cli(s, &["device", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["dn"] == dn)
}
