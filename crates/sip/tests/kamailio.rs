//! Route-point registration against a real Kamailio registrar with digest authentication
//! (pv_www_authenticate with qop=auth; configuration in crates/sip/tests/kamailio/registrar.cfg), checked in
//! Kamailio's location table with kamcmd: register, refresh, wrong password, registrar down then
//! back, un-register on shutdown.

use selfprov_sip::endpoint::{EndpointConfig, Event};
use selfprov_sip::registration::{RegState, RegistrationConfig, BAD_CREDENTIALS};
use selfprov_sip::stack::{Command, SipStack};
use selfprov_sip::transaction::TimerValues;
use selfprov_testkit::kamailio::Kamailio;
use selfprov_testkit::{free_udp_port, TempDir};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

fn start_kamailio(dir: &Path, port: u16) -> Kamailio {
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kamailio/registrar.cfg");
    Kamailio::start(&cfg, dir, port, &[])
}

fn ul_dump(k: &Kamailio) -> String {
    k.kamcmd(&["ul.dump"])
}

fn contact_cseq(dump: &str) -> Option<u32> {
    dump.lines().find_map(|l| {
        l.trim()
            .strip_prefix("CSeq:")
            .and_then(|v| v.trim().parse().ok())
    })
}

async fn next_state(
    rx: &mut mpsc::UnboundedReceiver<Event>,
    dn: &str,
    want: impl Fn(&RegState) -> bool,
) -> RegState {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(Event::Registration { dn: d, state })) if d == dn && want(&state) => {
                return state
            }
            Ok(Some(Event::Registration { dn: d, state })) => {
                eprintln!("registration {d}: {state:?}")
            }
            Ok(Some(_)) => {}
            _ => panic!("registration of {dn} never reached the expected state"),
        }
    }
}

fn reg_cfg(dn: &str, password: &str, expires: u32) -> RegistrationConfig {
    RegistrationConfig {
        dn: dn.into(),
        registrar_host: "127.0.0.1".into(),
        username: dn.into(),
        password: password.into(),
        expires,
        min_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(2),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_refresh_wrong_password_outage_and_unregister() {
    let dir = TempDir::new("kamailio");
    let port = free_udp_port();
    let kam = tokio::task::spawn_blocking({
        let d = dir.path().to_owned();
        move || start_kamailio(&d, port)
    })
    .await
    .unwrap();
    let (etx, mut erx) = mpsc::unbounded_channel();
    let cfg = EndpointConfig {
        advertised: String::new(),
        listen: None,
        tls_listen: None,
        user_agent: "selfprov-test".into(),
        route_point_dns: vec!["2000".into()],
        max_calls: 10,
        timers: TimerValues {
            t1: Duration::from_millis(50),
            t2: Duration::from_millis(400),
            t4: Duration::from_millis(500),
        },
    };
    let stack = SipStack::start("127.0.0.1:0".parse().unwrap(), cfg, etx)
        .await
        .unwrap();
    let registrar = format!("127.0.0.1:{port}").parse().unwrap();

    // Register (401 with qop=auth, then 200), visible in the location table.
    stack
        .commands
        .send(Command::Register {
            cfg: reg_cfg("2000", "s3cret", 4),
            registrar,
            tcp: false,
        })
        .unwrap();
    let st = next_state(&mut erx, "2000", |s| {
        matches!(s, RegState::Registered { .. })
    })
    .await;
    assert!(
        matches!(st, RegState::Registered { expires } if expires >= 2),
        "{st:?}"
    );
    let dump = ul_dump(&kam);
    assert!(dump.contains("AoR: 2000"), "{dump}");
    let cseq1 = contact_cseq(&dump).unwrap();

    // Refresh before expiry: the contact's CSeq grows while it stays registered.
    let t0 = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let d = ul_dump(&kam);
        if contact_cseq(&d).is_some_and(|c| c > cseq1 + 1) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no refresh seen: {d}"
        );
    }

    // Wrong password: reported with the CUCM wording.
    stack
        .commands
        .send(Command::Register {
            cfg: reg_cfg("2001", "wrong", 60),
            registrar,
            tcp: false,
        })
        .unwrap();
    let st = next_state(&mut erx, "2001", |s| matches!(s, RegState::Failed(_))).await;
    assert_eq!(st, RegState::Failed(BAD_CREDENTIALS.into()));
    assert!(!ul_dump(&kam).contains("AoR: 2001"));

    // Registrar down: the refresh gets no answer; back up: registered again by itself.
    drop(kam);
    let st = next_state(&mut erx, "2000", |s| matches!(s, RegState::Failed(_))).await;
    assert!(
        matches!(st, RegState::Failed(ref w) if w.contains("no answer")),
        "{st:?}"
    );
    let kam = tokio::task::spawn_blocking({
        let d = dir.path().to_owned();
        move || start_kamailio(&d, port)
    })
    .await
    .unwrap();
    next_state(&mut erx, "2000", |s| {
        matches!(s, RegState::Registered { .. })
    })
    .await;
    assert!(ul_dump(&kam).contains("AoR: 2000"));

    // Shutdown: Expires: 0 removes the binding.
    stack.commands.send(Command::UnregisterAll).unwrap();
    next_state(&mut erx, "2000", |s| *s == RegState::Unregistered).await;
    assert!(
        !ul_dump(&kam).contains("AoR: 2000"),
        "binding left after un-register"
    );
}
