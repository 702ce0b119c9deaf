//! Operations under load: SIGHUP with 50 calls in progress, SIGTERM drains.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn sighup_during_fifty_calls_lets_every_call_finish() {
    let s = config("e2e-hup50");
    many_phones_from_one_address(&s);
    let notify = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let phones = load_users(&s, 50, notify.local_addr().unwrap().port());
    let (service, err) = start_service(&s);
    let mut sipp = sipp_provisioning(&s, &phones, 50);
    wait_active(&s, 50);
    s.edit("max_attempts = 3", "max_attempts = 4");
    service.signal(1);
    let line = err
        .wait_for("configuration reloaded", Duration::from_secs(60))
        .expect("reload");
    // The reload took effect while calls were up (the line says how many).
    let active: u64 = line
        .split("active_calls=")
        .nth(1)
        .and_then(|v| v.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|v| v.parse().ok())
        .expect("active_calls in the reload line");
    assert!(active > 0, "{line}");
    let st = sipp.wait_timeout(Duration::from_secs(150)).expect("sipp");
    assert!(st.success(), "calls failed across the reload: {st:?}");
    assert_eq!(audit_count(&s, "SUCCESS"), 50);
}

#[test]
fn sigterm_refuses_new_calls_and_waits_for_the_calls_in_progress() {
    let s = config("e2e-drain");
    many_phones_from_one_address(&s);
    let notify = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let phones = load_users(&s, 10, notify.local_addr().unwrap().port());
    let (mut service, err) = start_service(&s);
    let mut sipp = sipp_provisioning(&s, &phones, 10);
    wait_active(&s, 10);
    service.signal(15);
    err.wait_for("draining", Duration::from_secs(10))
        .expect("drain");
    // A new caller is refused with 503 while the others finish.
    let refused = s.dir.path().join("refused.xml");
    let scenario = std::fs::read_to_string(repo().join("crates/sip/tests/scenarios/refused.xml"))
        .unwrap()
        .replace("EXPECT", "503");
    std::fs::write(&refused, scenario).unwrap();
    assert!(
        sipp_call(&s, &["-sf", refused.to_str().unwrap()], "2000"),
        "new call during drain: 503"
    );
    let st = sipp.wait_timeout(Duration::from_secs(120)).expect("sipp");
    assert!(st.success(), "calls in progress must finish: {st:?}");
    let st = service
        .wait_timeout(Duration::from_secs(30))
        .expect("service did not exit");
    assert!(st.success(), "{st:?}");
    assert_eq!(audit_count(&s, "SUCCESS"), 10);
}

#[test]
fn sigterm_deadline_hangs_up_the_rest_and_a_second_signal_exits_at_once() {
    let s = config("e2e-deadline");
    s.edit("drain_deadline = \"30s\"", "drain_deadline = \"1s\"");
    let (mut service, err) = start_service(&s);
    let r = std::thread::scope(|sc| {
        // A slow caller: it waits 20 s before typing.
        let p = sc.spawn(|| {
            phone(
                &s,
                &[
                    "--device",
                    "SEP00000000AB01",
                    "--typing-delay",
                    "20s",
                    "--digits",
                    "1004#12345#1",
                ],
            )
        });
        wait_active(&s, 1);
        service.signal(15);
        let st = service
            .wait_timeout(Duration::from_secs(15))
            .expect("service did not exit after the deadline");
        assert!(st.success(), "{st:?}");
        p.join().unwrap().1
    });
    assert!(err.lines().iter().any(|l| l.contains("selfprov stopped")));
    assert_eq!(r["ended_by"], "server BYE", "{r:#}");
    assert_ne!(r["outcome"], "provisioned");
    // The call hung up at the deadline is audited, the phone is not assigned.
    assert_eq!(
        audit_count(&s, "ABANDONED"),
        1,
        "{:#}",
        cli(&s, &["audit", "--json"])
    );
    assert!(device(&s, "SEP00000000AB01").unwrap()["owner"].is_null());

    // Again with a long deadline: a second SIGTERM exits at once.
    s.edit("drain_deadline = \"1s\"", "drain_deadline = \"60s\"");
    let (mut service, err) = start_service(&s);
    std::thread::scope(|sc| {
        let p = sc.spawn(|| {
            phone(
                &s,
                &[
                    "--device",
                    "SEP00000000AB02",
                    "--typing-delay",
                    "20s",
                    "--digits",
                    "1004#12345#1",
                    "--timeout",
                    "5s",
                ],
            )
        });
        wait_active(&s, 1);
        service.signal(15);
        err.wait_for("draining", Duration::from_secs(10))
            .expect("drain");
        service.signal(15);
        let st = service
            .wait_timeout(Duration::from_secs(5))
            .expect("a second signal must exit at once");
        assert!(st.success(), "{st:?}");
        p.join().unwrap();
    });
}

#[test]
fn json_logs_are_one_object_per_line() {
    let s = config("e2e-jsonlog");
    s.edit("format = \"text\"", "format = \"json\"");
    let (_service, err) = start_service(&s);
    let ready = err
        .wait_for("selfprov ready", Duration::from_secs(5))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(ready.trim()).expect("a JSON log line");
    assert_eq!(v["level"], "INFO", "{v}");
    assert_eq!(v["fields"]["message"], "selfprov ready", "{v}");
    assert!(
        v["fields"]["sip"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{v}"
    );
    assert!(v["timestamp"].is_string(), "{v}");
}

/// CPU time (user + system, clock ticks) a process has used.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    rest[11].parse::<u64>().unwrap() + rest[12].parse::<u64>().unwrap()
}

#[test]
fn an_idle_service_uses_no_cpu() {
    let s = config("e2e-idle");
    let (service, _err) = start_service(&s);
    // Let start-up finish (the first settings poll, the prompt cache), then watch 10 s of idling.
    std::thread::sleep(Duration::from_secs(3));
    let before = cpu_ticks(service.pid());
    std::thread::sleep(Duration::from_secs(10));
    let used = cpu_ticks(service.pid()) - before;
    // 1 tick is 10 ms: a 10 ms media tick or SIP timer scan alone would cost 100 ms or more.
    assert!(
        used <= 3,
        "an idle service used {used} clock ticks of CPU in 10 s"
    );
}
