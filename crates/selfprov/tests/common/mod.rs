//! Shared by the end-to-end tests: a private configuration per test (free ports, its own
//! database), the service started and waited for, the CLI, HTTP, SIPp and the test phone.
#![allow(dead_code)]

pub mod api;
pub mod baresip;
pub mod baresip_tls;
pub mod boot;
pub mod browser;
pub mod ua;

use selfprov_testkit::{
    free_even_udp_port, free_tcp_port, free_udp_port, free_udp_tcp_port, sipp_command,
    spawn_watched, TempDir,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub struct Service {
    pub dir: TempDir,
    pub cfg: PathBuf,
    pub sip_port: u16,
    pub admin_port: u16,
    pub config_port: u16,
    pub tftp_port: u16,
}

pub fn config(tag: &str) -> Service {
    let dir = TempDir::new(tag);
    let sip_port = free_udp_tcp_port();
    // The RTP range must start on an even port.
    let rtp = free_even_udp_port();
    let admin = free_tcp_port();
    let phone_config = free_tcp_port();
    let tftp = free_udp_port();
    let cfg = dir.path().join("selfprov.toml");
    let text = std::fs::read_to_string(repo().join("config/selfprov.toml"))
        .unwrap()
        .replace(
            "listen = \"127.0.0.1:5060\"",
            &format!("listen = \"127.0.0.1:{sip_port}\""),
        )
        .replace(
            "listen = \"127.0.0.1:8080\"",
            &format!("listen = \"127.0.0.1:{admin}\""),
        )
        .replace(
            "http_listen = \"127.0.0.1:6970\"",
            &format!("http_listen = \"127.0.0.1:{phone_config}\""),
        )
        .replace(
            "tftp_listen = \"127.0.0.1:6969\"",
            &format!("tftp_listen = \"127.0.0.1:{tftp}\""),
        )
        .replace(
            "rtp_port_range = { start = 20000, end = 29999 }",
            &format!("rtp_port_range = {{ start = {rtp}, end = {} }}", rtp + 1),
        )
        .replace(
            "dir = \"../prompts\"",
            &format!("dir = \"{}\"", repo().join("prompts").display()),
        );
    std::fs::write(&cfg, text).unwrap();
    Service {
        dir,
        cfg,
        sip_port,
        admin_port: admin,
        config_port: phone_config,
        tftp_port: tftp,
    }
}

/// Start `selfprov serve` and wait for its ready line.
pub fn start_service(s: &Service) -> (selfprov_testkit::ChildGuard, selfprov_testkit::LineWatcher) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_selfprov"));
    cmd.arg("--config").arg(&s.cfg).arg("serve");
    let (service, _out, err) = spawn_watched("selfprov", &mut cmd).unwrap();
    assert!(
        err.wait_for("selfprov ready", Duration::from_secs(90))
            .is_some(),
        "service did not become ready"
    );
    (service, err)
}

/// Start `selfprov serve`, which must stop by itself with a failure (a configuration it cannot
/// start with); its error output.
pub fn failed_start(s: &Service) -> selfprov_testkit::LineWatcher {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_selfprov"));
    cmd.arg("--config").arg(&s.cfg).arg("serve");
    let (mut p, _out, err) = spawn_watched("selfprov", &mut cmd).unwrap();
    let status = p
        .wait_timeout(Duration::from_secs(60))
        .expect("the service stops by itself");
    assert!(!status.success());
    err
}

/// The service's ready line (after `start_service`).
pub fn ready_line(err: &selfprov_testkit::LineWatcher) -> String {
    err.lines()
        .into_iter()
        .find(|l| l.contains("selfprov ready"))
        .expect("the ready line")
}

/// Run a SIPp scenario (a built-in one with `-sn`, or a file) calling `service`; true on success.
pub fn sipp_call(s: &Service, scenario: &[&str], service: &str) -> bool {
    let mut sc = sipp_command(
        s.dir.path(),
        &format!("127.0.0.1:{}", s.sip_port),
        Duration::from_secs(30),
    );
    sc.args(scenario)
        .args(["-s", service, "-m", "1", "-d", "500"]);
    let (mut p, _o, _e) = spawn_watched("sipp", &mut sc).unwrap();
    p.wait_timeout(Duration::from_secs(60))
        .expect("sipp did not finish")
        .success()
}

/// Run a SIPp scenario that authenticates (`device;password` injection file, e.g.
/// tests/scenarios/call_digest.xml) calling `service` as `device`, its credentials fetched like
/// a phone's; true on success.
pub fn sipp_call_as(s: &Service, scenario: &Path, service: &str, device: &str) -> bool {
    let inf = s.dir.path().join(format!("{device}.csv"));
    std::fs::write(
        &inf,
        format!("SEQUENTIAL\n{device};{}\n", phone_password(s, device)),
    )
    .unwrap();
    sipp_call(
        s,
        &[
            "-sf",
            scenario.to_str().unwrap(),
            "-inf",
            inf.to_str().unwrap(),
        ],
        service,
    )
}

pub fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(format!("GET {path} HTTP/1.0\r\nHost: t\r\n\r\n").as_bytes())
        .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out
}

/// `selfprov ARGS` against the service's configuration; its stdout parsed as JSON.
pub fn cli(s: &Service, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&cli_stdin(s, args, "")).unwrap()
}

/// `selfprov ARGS`, asserting success.
pub fn cli_ok(s: &Service, args: &[&str]) {
    cli_stdin(s, args, "");
}

/// Run the CLI with `args` on the test's configuration, `stdin` as its input; what it did.
pub fn cli_run(s: &Service, args: &[&str], stdin: &str) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_selfprov"));
    c.arg("--config").arg(&s.cfg).args(args);
    run_piped(&mut c, stdin)
}

/// Run `c` with `stdin` as its input; what it did.
pub fn run_piped(c: &mut Command, stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut c = c
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    c.wait_with_output().unwrap()
}

/// Run the CLI with `args` (no input); what it did.
pub fn cli_output(s: &Service, args: &[&str]) -> std::process::Output {
    cli_run(s, args, "")
}

/// `selfprov ARGS` with `stdin`; its stdout (asserting success).
pub fn cli_stdin(s: &Service, args: &[&str], stdin: &str) -> String {
    let o = cli_run(s, args, stdin);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

impl Service {
    /// Change the configuration file: replace `from` (which must be there) by `to`.
    pub fn edit(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(&self.cfg).unwrap();
        assert!(text.contains(from), "config has no {from:?}");
        std::fs::write(&self.cfg, text.replace(from, to)).unwrap();
    }
}

/// Run `selfprov phone --json` with `args`; its exit code and report.
pub fn phone(s: &Service, args: &[&str]) -> (i32, serde_json::Value) {
    let o = Command::new(env!("CARGO_BIN_EXE_selfprov"))
        .arg("--config")
        .arg(&s.cfg)
        .arg("phone")
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "phone {args:?}: {e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.code().unwrap_or(-1), report)
}

/// Names of the prompts a phone report says were heard.
pub fn heard(report: &serde_json::Value) -> Vec<String> {
    report["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

/// A device in `selfprov device list --json`.
pub fn device(s: &Service, name: &str) -> Option<serde_json::Value> {
    cli(s, &["device", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .cloned()
}

/// The value of a Prometheus sample line `name` (with labels) in `/metrics`.
pub fn metric(s: &Service, name: &str) -> f64 {
    http_get(s.admin_port, "/metrics")
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The User-Agent SIPp's phones (tests/scenarios/provision_rfc4733.xml) and the test phone send.
pub const CISCO_UA: &str = "Cisco-CP8845/14.2.1";

/// The running service's configuration server, as phones reach it.
pub fn config_server(s: &Service) -> selfprov_phone::config_file::ConfigServer {
    selfprov_phone::config_file::ConfigServer::from_url(&format!(
        "http://127.0.0.1:{}",
        s.config_port
    ))
    .unwrap()
}

/// A Cisco phone's line from its file: what a new phone gets at its first fetch (which
/// auto-registers it), or — for a device the administrator created, which cannot fetch without
/// credentials — what `selfprov config render --show-secrets` shows the administrator.
pub fn phone_line(s: &Service, device: &str) -> selfprov_phone::config_file::Line {
    use selfprov_phone::config_file::{cisco_line, fetch};
    let file = match fetch(
        &config_server(s),
        &format!("{device}.cnf.xml"),
        CISCO_UA,
        None,
    ) {
        Ok(f) => f.body,
        Err(_) => rendered_with_secrets(s, device),
    };
    cisco_line(&file).unwrap_or_else(|| panic!("no line in {device}'s file:\n{file}"))
}

/// The files a device receives, secrets shown (`selfprov config render DEVICE --show-secrets`).
pub fn rendered_with_secrets(s: &Service, device: &str) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_selfprov"))
        .arg("--config")
        .arg(&s.cfg)
        .args(["config", "render", device, "--show-secrets"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The device's digest secret (see [`phone_line`]).
pub fn phone_password(s: &Service, device: &str) -> String {
    phone_line(s, device).password
}

/// A line of the SIPp injection file of tests/scenarios/provision_rfc4733.xml for `device`, its
/// credentials fetched from the running service.
pub fn sipp_phone_line(
    s: &Service,
    device: &str,
    id: &str,
    pin: &str,
    contact_port: u16,
) -> String {
    format!(
        "{device};{id};{pin};{contact_port};{}",
        phone_password(s, device)
    )
}

/// `n` users (`load000`…, self-service ID 7000+i, extension 4000+i) imported into the database,
/// and the injection file of `n` new phones for them (`device;id;pin;notify_port`, the first
/// fields of tests/scenarios/provision_rfc4733.xml's; [`sipp_provisioning`] adds each phone's
/// password once the service runs); NOTIFY check-sync goes to `notify_port`. Returns the file.
pub fn load_users(s: &Service, n: usize, notify_port: u16) -> PathBuf {
    // All these new phones fetch their first file from one address (the test's): more unknown
    // MACs a minute than the default throttle lets through.
    s.edit("unknown_per_minute = 60", "unknown_per_minute = 100000");
    import_load_users(s, n);
    let phones = s.dir.path().join("phones.csv");
    let mut csv = String::from("SEQUENTIAL\n");
    for i in 0..n {
        csv += &format!(
            "SEP0000000100{i:02X};{};{};{notify_port}\n",
            7000 + i,
            20000 + 37 * i
        );
    }
    std::fs::write(&phones, csv).unwrap();
    phones
}

/// The demo data and `n` users `load000`… (self-service ID 7000 + i, PIN 20000 + 37·i,
/// extension 4000 + i, profile Standard Employee).
pub fn import_load_users(s: &Service, n: usize) {
    cli_ok(s, &["demo", "load"]);
    let users = s.dir.path().join("users.csv");
    let mut csv = String::from(
        "user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile\n",
    );
    for i in 0..n {
        csv += &format!(
            "load{i:03},Load,User{i},{},{},{},Standard Employee\n",
            7000 + i,
            20000 + 37 * i,
            4000 + i
        );
    }
    std::fs::write(&users, csv).unwrap();
    cli_ok(s, &["import", "users", users.to_str().unwrap()]);
}

/// Start SIPp placing `n` provisioning calls at once from the injection file `phones` (of
/// [`load_users`]); each phone first fetches its configuration file, as a new phone does, for
/// its credentials.
pub fn sipp_provisioning(s: &Service, phones: &Path, n: usize) -> selfprov_testkit::ChildGuard {
    let text = std::fs::read_to_string(phones).unwrap();
    let mut with_passwords = String::from("SEQUENTIAL\n");
    for line in text.lines().skip(1) {
        let device = line.split(';').next().unwrap();
        with_passwords += &format!("{line};{}\n", phone_password(s, device));
    }
    let phones = s.dir.path().join("phones-with-credentials.csv");
    std::fs::write(&phones, with_passwords).unwrap();
    let n = n.to_string();
    let mut sc = sipp_command(
        s.dir.path(),
        &format!("127.0.0.1:{}", s.sip_port),
        Duration::from_secs(120),
    );
    sc.arg("-sf")
        .arg(repo().join("tests/scenarios/provision_rfc4733.xml"))
        .arg("-inf")
        .arg(&phones)
        .args(["-s", "2000", "-m", &n, "-l", &n, "-r", &n, "-rp", "1000"]);
    spawn_watched("sipp", &mut sc).unwrap().0
}

/// Active calls according to the running service's `/status`.
pub fn active_calls(s: &Service) -> u64 {
    let r = http_get(s.admin_port, "/status");
    let body = r.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["active_calls"].as_u64())
        .unwrap_or(0)
}

/// Wait (polling `/status`) until at least `n` calls are up.
pub fn wait_active(s: &Service, n: u64) {
    let until = std::time::Instant::now() + Duration::from_secs(60);
    while active_calls(s) < n {
        assert!(
            std::time::Instant::now() < until,
            "never reached {n} active calls"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How many audit entries carry `code`.
pub fn audit_count(s: &Service, code: &str) -> usize {
    cli(s, &["audit", "--json", "--limit", "10000"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["code"] == code)
        .count()
}

/// What a phone decodes when the service plays `prompt` (en_US, shipped) in `codec`.
pub fn decoded_prompt(prompt: &str, codec: selfprov_media::Codec) -> Vec<i16> {
    let pcm =
        selfprov_prompts::read_wav(&repo().join(format!("prompts/en_US/{prompt}.wav"))).unwrap();
    let enc = selfprov_prompts::encode(&pcm, codec, 20).unwrap();
    let mut dec = selfprov_media::Decoder::new(codec).unwrap();
    let mut out = Vec::new();
    for f in &enc.frames {
        dec.decode(f, &mut out).unwrap();
    }
    out
}

/// The text of the first `<name>` element in an XML file (the phones' files in the tests).
pub fn element(xml: &str, name: &str) -> String {
    let start = xml
        .find(&format!("<{name}>"))
        .unwrap_or_else(|| panic!("no <{name}> in {xml}"))
        + name.len()
        + 2;
    xml[start..start + xml[start..].find('<').unwrap()].to_owned()
}

/// The service believes what this host's proxies assert (`registrar.trusted_proxies =
/// ["127.0.0.1"]`): a [`raw_invite`] is then answered without a digest challenge.
/// Load tests drive tens of phones from 127.0.0.1, where a site has one address per phone: turn
/// off the per-source SIP rate limits and the rate of new devices (docs/security.md), which would
/// otherwise answer the load with 503 (their own tests are e2e_sip_rate_limit and
/// e2e_autoreg_range).
pub fn many_phones_from_one_address(s: &Service) {
    for key in [
        "rate_limit_register",
        "rate_limit_invite",
        "rate_limit_options",
        "rate_limit_other",
        "new_devices_per_second",
    ] {
        let text = std::fs::read_to_string(&s.cfg).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("config has no {key}"))
            .to_owned();
        s.edit(&line, &format!("{key} = 0"));
    }
}

pub fn trust_this_host(s: &Service) {
    s.edit(
        "# trusted_proxies = [\"192.0.2.10\"]",
        "trusted_proxies = [\"127.0.0.1\"]",
    );
}

/// A raw INVITE to the route point from a UDP socket on `from_port`, calling as `device`, with
/// the SDP offer `sdp`. It comes as from a proxy that asserts the caller (P-Asserted-Identity):
/// with [`trust_this_host`] the service takes it without a challenge; otherwise it is challenged
/// (401) like any INVITE without credentials.
pub fn raw_invite(s: &Service, from_port: u16, device: &str, call_id: &str, sdp: &str) -> String {
    format!(
        "INVITE sip:2000@127.0.0.1:{port} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{from_port};branch=z9hG4bK-{branch:016x}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{device}@127.0.0.1>;tag=caller\r\n\
         To: <sip:2000@127.0.0.1>\r\n\
         P-Asserted-Identity: <sip:{device}@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:{device}@127.0.0.1:{from_port}>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {len}\r\n\r\n{sdp}",
        port = s.sip_port,
        // One transaction per Call-ID (FNV-1a of it: any bytes make a valid branch).
        branch = call_id
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b))
                .wrapping_mul(0x100_0000_01b3)),
        len = sdp.len()
    )
}

/// Point the service's configuration at `url`; share `key` (another node's device-secret key).
pub fn on_postgresql(s: &Service, url: &str, key: Option<&std::path::Path>) {
    s.edit(
        "backend = \"sqlite\"",
        &format!("backend = \"postgresql\"\nurl = \"{url}\"\npool_size = 4"),
    );
    if let Some(key) = key {
        s.edit(
            "[phone_config]\n",
            &format!("[phone_config]\nsecret_key_file = \"{}\"\n", key.display()),
        );
    }
}

/// The address fail2ban would ban for a log `line`, with the shipped filter
/// (deploy/fail2ban/filter.d/selfprov.conf): its `failregex` lines (trimmed, as fail2ban's
/// configuration parser does) with `<HOST>` read as an address, searched in the line.
pub fn fail2ban_host(line: &str) -> Option<String> {
    use regex_automata::meta::Regex;
    let filter =
        std::fs::read_to_string(repo().join("deploy/fail2ban/filter.d/selfprov.conf")).unwrap();
    let mut in_failregex = false;
    let mut regexes = Vec::new();
    for l in filter.lines() {
        if let Some(first) = l.strip_prefix("failregex =") {
            in_failregex = true;
            regexes.push(first.trim().to_owned());
        } else if in_failregex && l.starts_with(char::is_whitespace) && !l.trim().is_empty() {
            regexes.push(l.trim().to_owned());
        } else {
            in_failregex = false;
        }
    }
    assert!(!regexes.is_empty(), "no failregex in the filter");
    regexes.iter().find_map(|r| {
        let re = Regex::new(&r.replace("<HOST>", r"(?P<host>[0-9A-Fa-f.:]+)")).unwrap();
        let mut caps = re.create_captures();
        re.search_captures(&regex_automata::Input::new(line), &mut caps);
        caps.get_group_by_name("host")
            .map(|m| line[m.range()].to_owned())
    })
}

/// A TCP connection from `from` (an address of this host, any port) to `to`.
pub fn connect_from(from: &str, to: std::net::SocketAddr) -> std::io::Result<std::net::TcpStream> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    let local: std::net::SocketAddr = format!("{from}:0").parse().expect("an IPv4 address");
    s.bind(&local.into())?;
    s.connect_timeout(&to.into(), Duration::from_secs(5))?;
    Ok(s.into())
}
