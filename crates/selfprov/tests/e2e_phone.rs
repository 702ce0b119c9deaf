//! End to end with the built-in test phone (`selfprov phone`): every codec, every DTMF method,
//! hold, hang-up mid-PIN, wrong PINs until lockout, no input — against the real service.

mod common;

use common::*;
use selfprov_media::Codec;

fn provisioned(r: &serde_json::Value) -> bool {
    r["outcome"] == "provisioned" && r["check_sync"] == true
}

/// Best normalised cross-correlation of `reference` against `got`, at whole-packet lags up to
/// 200 ms, over the first second.
fn correlation(got: &[i16], reference: &[i16], frame: usize) -> f64 {
    let n = (frame * 50).min(reference.len());
    (0..=10)
        .map(|k| k * frame)
        .filter(|lag| lag + n <= got.len())
        .map(|lag| {
            let (a, b) = (&got[lag..lag + n], &reference[..n]);
            let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
            let ea: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum();
            let eb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum();
            if ea == 0.0 || eb == 0.0 {
                0.0
            } else {
                dot / (ea * eb).sqrt()
            }
        })
        .fold(0.0, f64::max)
}

/// Each codec the route point offers, and L16/16000 with its telephone-events paired at 8000 (a
/// pairing phones make): the phone hears the prompts and is provisioned by RFC 4733 digits.
#[test]
fn every_codec_carries_the_prompts_and_provisions_the_phone() {
    let s = config("e2e-codecs");
    let (_svc, _err) = start_service(&s);
    // (codec, telephone-event clock rate offered)
    let callers = [
        (Codec::Pcmu, 8000),
        (Codec::Pcma, 8000),
        (Codec::G722, 8000),
        (Codec::G729, 8000),
        (Codec::L16, 16000),
        (Codec::L16, 8000),
        (Codec::L16Narrowband, 8000),
        (Codec::Opus, 48000),
    ];
    let results: Vec<_> = std::thread::scope(|sc| {
        let hs: Vec<_> = callers
            .iter()
            .enumerate()
            .map(|(i, &(c, rate))| {
                let s = &s;
                sc.spawn(move || {
                    let wav = s.dir.path().join(format!("{c:?}-{rate}.wav"));
                    let dev = format!("SEP00000000C0{i:02X}");
                    let (code, r) = phone(
                        s,
                        &[
                            "--codec", c.config_name(), "--dtmf-rate", &rate.to_string(), "--device", &dev,
                            "--digits", "1004#12345#1", "--record", wav.to_str().unwrap(),
                        ],
                    );
                    (c, rate, dev, wav, code, r)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (codec, rate, dev, wav, code, r) in results {
        let caller = format!("{codec:?} with telephone-event/{rate}");
        assert_eq!(code, 0, "{caller}: {r:#}");
        assert!(provisioned(&r), "{caller}: {r:#}");
        // The answer kept the caller's telephone-event rate, and the digits were events.
        assert_eq!(r["telephone_event"], format!("101/{rate}"), "{caller}: {r:#}");
        assert_eq!(r["new_dn"], "1004", "{caller}: the DN read out");
        assert_eq!(r["rtp"]["lost"], 0, "{caller}: {r:#}");
        assert!(r["rtp"]["received"].as_u64().unwrap() > 200, "{caller}: {r:#}");
        let d = device(&s, &dev).expect("device");
        assert_eq!((d["owner"].as_str(), d["dn"].as_str()), (Some("jsmith"), Some("1004")), "{caller}");
        // The received audio, decoded: not silence, and it is the welcome prompt.
        let got: Vec<i16> = hound::WavReader::open(&wav).unwrap().samples::<i16>().map(Result::unwrap).collect();
        let rms = (got.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / got.len() as f64).sqrt();
        assert!(rms > 200.0, "{caller}: received audio is silent (rms {rms})");
        let frame = codec.samples_per_frame(20);
        let welcome = correlation(&got, &decoded_prompt("welcome", codec), frame);
        let goodbye = correlation(&got, &decoded_prompt("goodbye", codec), frame);
        assert!(welcome > 0.9, "{caller}: correlation with the welcome prompt {welcome:.3}");
        assert!(goodbye < 0.5, "{caller}: correlation with another prompt {goodbye:.3}");
    }
    // Every caller's 12 keys (1004# 12345# 1) came as RFC 4733 events.
    let events = metric(&s, "selfprov_dtmf_digits_total{method=\"rfc4733\"}");
    assert_eq!(events, 12.0 * callers.len() as f64);
}

#[test]
fn digits_by_sip_info_and_in_band_tones() {
    let s = config("e2e-dtmf");
    let (_svc, _err) = start_service(&s);
    let (info, inband) = std::thread::scope(|sc| {
        let a = sc.spawn(|| phone(&s, &["--dtmf", "info", "--device", "SEP00000000D001", "--digits", "1004#12345#1"]));
        let b = sc.spawn(|| phone(&s, &["--dtmf", "inband", "--codec", "PCMU", "--device", "SEP00000000D002", "--digits", "1005#54321#1"]));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(provisioned(&info.1), "{:#}", info.1);
    assert!(provisioned(&inband.1), "{:#}", inband.1);
    assert_eq!(device(&s, "SEP00000000D001").unwrap()["owner"], "jsmith");
    assert_eq!(device(&s, "SEP00000000D002").unwrap()["owner"], "mdupont");
    // 1004# 12345# 1 = 12 keys each way.
    assert_eq!(metric(&s, "selfprov_dtmf_digits_total{method=\"sip_info\"}"), 12.0);
    assert_eq!(metric(&s, "selfprov_dtmf_digits_total{method=\"inband\"}"), 12.0);
}

#[test]
fn hold_and_resume_in_the_middle_of_the_flow() {
    let s = config("e2e-hold");
    let (_svc, _err) = start_service(&s);
    let (code, r) = phone(&s, &["--hold-at", "enter_pin", "--hold-for", "2s", "--device", "SEP00000000E001", "--digits", "1004#12345#1"]);
    assert_eq!(code, 0, "{r:#}");
    assert!(provisioned(&r), "{r:#}");
    // The PIN prompt was cut by the hold and asked again after the resume.
    let h = heard(&r);
    assert_eq!(h.iter().filter(|n| *n == "enter_pin").count(), 2, "{h:?}");
    let a = cli(&s, &["audit", "--json", "--kind", "claim"]);
    assert_eq!(a[0]["code"], "SUCCESS");
}

#[test]
fn caller_hangs_up_in_the_middle_of_the_pin() {
    let s = config("e2e-hangup");
    let (_svc, _err) = start_service(&s);
    let (code, r) = phone(&s, &["--hangup-after-digits", "--device", "SEP00000000E002", "--digits", "1004#,12"]);
    assert_eq!(code, 3, "{r:#}");
    assert_eq!(r["ended_by"], "phone BYE", "{r:#}");
    assert_eq!(r["digits_sent"], serde_json::json!(["1004#", "12"]));
    let a = cli(&s, &["audit", "--json", "--kind", "claim"]);
    assert_eq!(a[0]["code"], "ABANDONED", "{a:#}");
    assert!(device(&s, "SEP00000000E002").unwrap()["owner"].is_null());
    let st: serde_json::Value = serde_json::from_str(
        http_get(s.admin_port, "/status").split("\r\n\r\n").nth(1).unwrap(),
    )
    .unwrap();
    assert_eq!(st["active_calls"], 0, "{st:#}");
}

#[test]
fn wrong_pins_until_the_account_locks() {
    let s = config("e2e-lockout");
    s.edit("failed_attempts_threshold = 5", "failed_attempts_threshold = 2");
    let (_svc, _err) = start_service(&s);
    let (code, r) = phone(&s, &["--device", "SEP00000000F001", "--digits", "1004#,99999#,1004#,99999#,1004#,12345#"]);
    assert_eq!(code, 3, "{r:#}");
    // The caller hears a wrong PIN each time, locked or not (no enumeration, no lockout
    // oracle); the audit keeps the real code.
    assert_eq!(r["outcome"], "too_many_attempts", "{r:#}");
    let first = heard(&r);
    assert_eq!(first.iter().filter(|p| *p == "invalid_credentials").count(), 3, "{r:#}");
    assert!(!first.contains(&"account_locked".to_owned()), "{r:#}");
    let a = cli(&s, &["audit", "--json", "--kind", "claim"]);
    assert_eq!(a[0]["code"], "ACCOUNT_LOCKED", "{a:#}");
    // Locked: even the right PIN is refused now, sounding the same, and nothing was assigned.
    // The phone has had its first file: it fetches again with its secret.
    let password = phone_password(&s, "SEP00000000F001");
    let (_, r) = phone(&s, &["--device", "SEP00000000F001", "--password", &password, "--digits", "1004#,12345#,1004#,12345#,1004#,12345#"]);
    assert_eq!(r["outcome"], "too_many_attempts", "{r:#}");
    assert!(!heard(&r).contains(&"account_locked".to_owned()), "{r:#}");
    assert!(device(&s, "SEP00000000F001").unwrap()["owner"].is_null());
    assert_eq!(cli(&s, &["audit", "--json", "--kind", "claim"])[0]["code"], "ACCOUNT_LOCKED");
    // The lockout came from that phone: the user, at another new phone, still claims it
    // (failed attempts count per user and calling device; docs/security.md).
    let (code, r) = phone(&s, &["--device", "SEP00000000F003", "--digits", "1004#,12345#,1"]);
    assert_eq!(code, 0, "{r:#}");
    assert!(provisioned(&r), "{r:#}");
    assert_eq!(device(&s, "SEP00000000F003").unwrap()["owner"], "jsmith");
}

#[test]
fn no_input_ends_the_call_and_changes_nothing() {
    let s = config("e2e-noinput");
    s.edit("first_digit_timeout = \"10s\"", "first_digit_timeout = \"1s\"");
    let (_svc, _err) = start_service(&s);
    let (code, r) = phone(&s, &["--device", "SEP00000000F002", "--timeout", "60s"]);
    assert_eq!(code, 3, "{r:#}");
    assert_eq!(r["outcome"], "no_input", "{r:#}");
    assert_eq!(r["ended_by"], "server BYE", "{r:#}");
    assert_eq!(cli(&s, &["audit", "--json", "--kind", "claim"])[0]["code"], "NO_INPUT");
    assert!(device(&s, "SEP00000000F002").unwrap()["owner"].is_null());
}

#[test]
fn cancel_while_ringing_leaves_nothing_behind() {
    let s = config("e2e-cancel");
    s.edit("max_calls = 10000", "max_calls = 10000\nanswer_delay = \"5s\"");
    let (_svc, err) = start_service(&s);
    let scenario = repo().join("tests/scenarios/cancel_ringing.xml");
    assert!(sipp_call_as(&s, &scenario, "2000", "SEP00000000CA01"), "401, 180, CANCEL, 200, 487");
    err.wait_for("cancelled while ringing", std::time::Duration::from_secs(10)).expect("log line");
    let a = cli(&s, &["audit", "--json", "--kind", "claim"]);
    assert_eq!(a[0]["code"], "ABANDONED", "{a:#}");
    assert_eq!(a[0]["detail"], "cancelled while ringing", "{a:#}");
    assert_eq!(metric(&s, "selfprov_calls_total{outcome=\"ABANDONED\"}"), 1.0);
    // Past the ring time: nothing is answered late, no call is left.
    std::thread::sleep(std::time::Duration::from_secs(6));
    assert_eq!(active_calls(&s), 0);
    assert!(!err.lines().iter().any(|l| l.contains("call answered")));
    // The ringing route point still answers a caller who waits.
    let (code, r) = phone(&s, &["--device", "SEP00000000CA02", "--digits", "1004#12345#1"]);
    assert_eq!(code, 0, "{r:#}");
    assert!(r["setup_ms"].as_f64().unwrap() >= 5000.0, "answered after the ring time: {r:#}");
}

#[test]
fn a_phone_that_cannot_claim_is_told_so_before_any_id_or_pin() {
    let s = config("e2e-no-oracle");
    cli_ok(&s, &["demo", "load"]);
    // Created by an administrator: not auto-registered, so nothing can be claimed from it.
    cli_ok(
        &s,
        &["device", "create", "SEP0011223344B1", "--model", "Cisco 8845", "--dn", "1500"],
    );
    let (_svc, _err) = start_service(&s);
    let password = phone_password(&s, "SEP0011223344B1");
    let (code, r) = phone(
        &s,
        &["--device", "SEP0011223344B1", "--password", &password, "--digits", "1004#,12345#,1"],
    );
    assert_eq!(code, 3, "{r:#}");
    assert_eq!(r["outcome"], "not_autoregistered", "{r:#}");
    assert_eq!(r["ended_by"], "server BYE", "{r:#}");
    // Never asked for an ID or a PIN: such a phone cannot be used to test PINs.
    let heard = heard(&r);
    assert!(
        !heard.iter().any(|p| p.starts_with("enter_")),
        "asked for credentials: {r:#}"
    );
    let a = cli(&s, &["audit", "--json", "--kind", "claim"]);
    assert_eq!(a[0]["code"], "NOT_AUTOREGISTERED", "{a:#}");
    assert_eq!(a[0]["device"], "SEP0011223344B1", "{a:#}");
    let alice_devices = cli(&s, &["device", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["owner"] == "alice")
        .count();
    assert_eq!(alice_devices, 0);
}
