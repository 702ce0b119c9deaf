//! The SIP stack against a real peer: SIPp scenarios (kept in tests/scenarios/) over UDP and TCP.
//! Each test starts the stack in-process on OS-chosen ports with a small application that answers
//! calls with a real SDP answer, then runs SIPp as a child process and checks its exit status.

mod common;

use common::*;
use selfprov_sip::endpoint::Event;
use selfprov_sip::stack::Command;
use selfprov_testkit::TempDir;
use std::path::PathBuf;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_calls_over_udp_and_tcp_and_tables_drain() {
    let (stack, seen) = start(100).await;
    let ok = tokio::task::spawn_blocking({
        let s = handle(&stack);
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
    let s = handle(&stack);
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
    let s = handle(&stack);
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
    let s3 = handle(&stack3);
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
    let s2 = handle(&stack2);
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
