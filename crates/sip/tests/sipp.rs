//! The SIP stack against a real peer: SIPp scenarios (kept in tests/scenarios/) over UDP and TCP.
//! Each test starts the stack in-process on OS-chosen ports with a small application that answers
//! calls with a real SDP answer, then runs SIPp as a child process and checks its exit status.

use selfprov_sip::endpoint::{EndpointConfig, Event};
use selfprov_sip::sdp;
use selfprov_sip::stack::{Command, SipStack};
use selfprov_sip::transaction::TimerValues;
use selfprov_testkit::{free_udp_port, require_tool, spawn_watched, TempDir};
use std::path::PathBuf;
use std::process::Command as Proc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name)
}

#[derive(Default)]
struct Seen {
    events: Vec<Event>,
}

/// Start the stack and the test application; returns the stack and what the app saw.
async fn start(max_calls: usize) -> (SipStack, Arc<Mutex<Seen>>) {
    let cfg = EndpointConfig {
        advertised: String::new(),
        user_agent: "selfprov-test".into(),
        route_point_dns: vec!["2000".into(), "2999".into()],
        max_calls,
        // Short timers so transactions drain within the test.
        timers: TimerValues {
            t1: Duration::from_millis(50),
            t2: Duration::from_millis(400),
            t4: Duration::from_millis(500),
        },
    };
    let (etx, mut erx) = mpsc::unbounded_channel();
    let stack = SipStack::start("127.0.0.1:0".parse().unwrap(), cfg, etx)
        .await
        .unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let cmds = stack.commands.clone();
    let s2 = seen.clone();
    tokio::spawn(async move {
        let codecs = [sdp::SdpCodec::Pcmu, sdp::SdpCodec::Pcma];
        let local: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let mut version = 1;
        while let Some(ev) = erx.recv().await {
            match &ev {
                Event::IncomingCall {
                    call_id,
                    to_user,
                    sdp: offer,
                    ..
                } if to_user != "2999" => {
                    let answer = sdp::parse(offer)
                        .ok()
                        .and_then(|o| sdp::answer(&o, &codecs, local, 20, 1, version).ok());
                    version += 1;
                    match answer {
                        Some((_, a)) => cmds
                            .send(Command::Answer {
                                call_id: call_id.clone(),
                                sdp: a.into_bytes(),
                            })
                            .unwrap(),
                        None => cmds
                            .send(Command::Reject {
                                call_id: call_id.clone(),
                                status: 488,
                                reason: "Not Acceptable Here".into(),
                                extra_headers: "Warning: 305 selfprov \"no common codec\"\r\n"
                                    .into(),
                            })
                            .unwrap(),
                    }
                }
                Event::Reinvite {
                    call_id,
                    sdp: offer,
                } => {
                    if let Some((_, a)) = sdp::parse(offer)
                        .ok()
                        .and_then(|o| sdp::answer(&o, &codecs, local, 20, 1, version).ok())
                    {
                        version += 1;
                        cmds.send(Command::Answer {
                            call_id: call_id.clone(),
                            sdp: a.into_bytes(),
                        })
                        .unwrap();
                    }
                }
                _ => {}
            }
            s2.lock().unwrap().events.push(ev);
        }
    });
    (stack, seen)
}

/// Run SIPp with `args` against the stack; returns (exit success, stderr+stdout text).
fn sipp(stack: &SipStack, scenario_args: &[&str], transport_tcp: bool, calls: u32) -> bool {
    sipp_to(stack, scenario_args, transport_tcp, calls, "2000")
}

/// Run SIPp against the stack, calling `service`; true when every call succeeded.
fn sipp_to(
    stack: &SipStack,
    scenario_args: &[&str],
    transport_tcp: bool,
    calls: u32,
    service: &str,
) -> bool {
    let sipp = require_tool("sipp");
    let dir = TempDir::new("sipp");
    let mut cmd = Proc::new(sipp);
    cmd.current_dir(dir.path())
        .arg(stack.local.to_string())
        .args(scenario_args)
        .args([
            "-s",
            service,
            "-i",
            "127.0.0.1",
            "-m",
            &calls.to_string(),
            "-r",
            "50",
            "-timeout",
            "15s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
        ])
        .args([
            "-p",
            &free_udp_port().to_string(),
            "-mp",
            &free_udp_port().to_string(),
        ]);
    if transport_tcp {
        cmd.args(["-t", "t1"]);
    }
    let (mut child, _out, _err) = spawn_watched("sipp", &mut cmd).unwrap();
    let status = child
        .wait_timeout(Duration::from_secs(30))
        .expect("sipp did not finish in 30 s");
    if !status.success() {
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            eprintln!(
                "--- {}:\n{}",
                f.path().display(),
                std::fs::read_to_string(f.path()).unwrap_or_default()
            );
        }
    }
    status.success()
}

async fn tables(stack: &SipStack) -> (usize, usize, usize) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    stack.commands.send(Command::Tables(tx)).unwrap();
    rx.await.unwrap()
}

/// Wait (bounded) until every transaction and dialog is gone.
async fn drained(stack: &SipStack) -> (usize, usize, usize) {
    for _ in 0..100 {
        let t = tables(stack).await;
        if t == (0, 0, 0) {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tables(stack).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_calls_over_udp_and_tcp_and_tables_drain() {
    let (stack, seen) = start(100).await;
    let ok = tokio::task::spawn_blocking({
        let s = SipStack {
            local: stack.local,
            commands: stack.commands.clone(),
        };
        move || sipp(&s, &["-sn", "uac"], false, 10) && sipp(&s, &["-sn", "uac"], true, 5)
    })
    .await
    .unwrap();
    assert!(ok, "sipp uac failed");
    let ev = seen.lock().unwrap().events.clone();
    let confirmed = ev
        .iter()
        .filter(|e| matches!(e, Event::CallConfirmed { .. }))
        .count();
    let ended = ev
        .iter()
        .filter(|e| matches!(e, Event::CallEnded { .. }))
        .count();
    assert_eq!((confirmed, ended), (15, 15));
    assert_eq!(
        drained(&stack).await,
        (0, 0, 0),
        "transactions or dialogs left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_unknown_method_info_dtmf_and_hold_resume() {
    let (stack, seen) = start(100).await;
    let s = SipStack {
        local: stack.local,
        commands: stack.commands.clone(),
    };
    let f = scenario("call_features.xml");
    let ok = tokio::task::spawn_blocking(move || {
        sipp(&s, &["-sf", f.to_str().unwrap()], false, 1)
            && sipp(&s, &["-sf", f.to_str().unwrap()], true, 1)
    })
    .await
    .unwrap();
    assert!(ok, "over UDP and TCP");
    let ev = seen.lock().unwrap().events.clone();
    let infos: Vec<(String, Vec<u8>)> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Info {
                content_type, body, ..
            } => Some((content_type.clone(), body.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(infos.len(), 4);
    let digits: Vec<char> = infos
        .iter()
        .filter_map(|(ct, b)| selfprov_dtmf_like(ct, b))
        .collect();
    assert_eq!(digits, ['5', '#', '5', '#']);
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::Reinvite { .. }))
            .count(),
        4
    );
    assert_eq!(drained(&stack).await, (0, 0, 0));
}

/// The INFO bodies as the service will read them (the dtmf crate does this for real).
fn selfprov_dtmf_like(ct: &str, body: &[u8]) -> Option<char> {
    let t = String::from_utf8_lossy(body);
    if ct.starts_with("application/dtmf-relay") {
        t.lines()
            .find_map(|l| l.strip_prefix("Signal="))
            .and_then(|v| v.trim().chars().next())
    } else {
        t.trim().chars().next()
    }
}

fn refused_scenario(code: u16) -> (TempDir, PathBuf) {
    let d = TempDir::new("refused");
    let p = d.path().join("refused.xml");
    std::fs::write(
        &p,
        std::fs::read_to_string(scenario("refused.xml"))
            .unwrap()
            .replace("EXPECT", &code.to_string()),
    )
    .unwrap();
    (d, p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_404_486_503_cancel_and_malformed() {
    // Capacity 0: every call to our DN gets 486.
    let (stack, _) = start(0).await;
    let s = SipStack {
        local: stack.local,
        commands: stack.commands.clone(),
    };
    let (_d1, busy) = refused_scenario(486);
    let (_d2, notfound) = refused_scenario(404);
    let (_d3, unavailable) = refused_scenario(503);
    let cancel = scenario("cancel.xml");
    let malformed = scenario("malformed.xml");
    let cmds = stack.commands.clone();
    let ok = tokio::task::spawn_blocking(move || {
        let r486 = sipp(&s, &["-sf", busy.to_str().unwrap()], false, 3);
        // Not our DN.
        let r404 = sipp_to(&s, &["-sf", notfound.to_str().unwrap()], false, 1, "4242");
        cmds.send(Command::SetRefusing(Some(7))).unwrap();
        let r503 = sipp(&s, &["-sf", unavailable.to_str().unwrap()], true, 2);
        let rmal = sipp(&s, &["-sf", malformed.to_str().unwrap()], false, 1);
        (r486, r404, r503, rmal, cancel)
    })
    .await
    .unwrap();
    assert!(ok.0, "486 over capacity");
    assert!(ok.1, "404 for a DN that is not ours");
    assert!(ok.2, "503 while refusing");
    assert!(ok.3, "400 with a reason for a truncated body");

    // No common codec: the application refuses with 488 and a Warning.
    let (stack3, _) = start(10).await;
    let s3 = SipStack {
        local: stack3.local,
        commands: stack3.commands.clone(),
    };
    let (_d4, g722) = refused_scenario(488);
    let text = std::fs::read_to_string(&g722).unwrap().replace(
        "RTP/AVP 0\n      a=rtpmap:0 PCMU/8000",
        "RTP/AVP 9\n      a=rtpmap:9 G722/8000",
    );
    assert!(text.contains("G722"));
    std::fs::write(&g722, text).unwrap();
    let r488 =
        tokio::task::spawn_blocking(move || sipp(&s3, &["-sf", g722.to_str().unwrap()], false, 1))
            .await
            .unwrap();
    assert!(r488, "488 when no codec is common");

    // CANCEL needs a call that stays unanswered: DN 2999 on a stack with capacity.
    let (stack2, seen2) = start(10).await;
    let s2 = SipStack {
        local: stack2.local,
        commands: stack2.commands.clone(),
    };
    let cancel = ok.4;
    let r = tokio::task::spawn_blocking(move || {
        sipp_to(&s2, &["-sf", cancel.to_str().unwrap()], false, 2, "2999")
    })
    .await
    .unwrap();
    assert!(r, "CANCEL: 200 + 487");
    let ev = seen2.lock().unwrap().events.clone();
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(
                e,
                Event::CallEnded {
                    reason: selfprov_sip::endpoint::EndReason::Cancel,
                    ..
                }
            ))
            .count(),
        2
    );
    assert_eq!(drained(&stack2).await, (0, 0, 0));
}
