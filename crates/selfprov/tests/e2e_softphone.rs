//! A real softphone: baresip (Debian package), headless — no sound card: it plays a silent WAV
//! file as its microphone and its `sndfile` module records what it hears. It fetches its
//! `accounts` file from the configuration server (auto-registered there, its credentials in the
//! account line), registers with digest, dials the route point (digest again), sends the ID, PIN and
//! confirmation as RFC 4733 events through its TCP control interface, and is provisioned; the
//! audio it recorded contains the IVR's prompts — with PCMU, and with G.722 only (baresip's
//! `g722` module is spandsp's codec: an independent decoder of our pre-encoded prompts). After
//! the claim it follows NOTIFY check-sync as a phone does: it fetches its file again, restarts with
//! it and registers as the user's extension with its new secret.

mod common;

use common::baresip::{self, pieces_found};
use common::*;
use selfprov_media::Codec;
use std::time::Duration;

/// 16 kHz audio at 8 kHz, each pair of samples from `phase` on averaged.
fn halve(x: &[i16], phase: usize) -> Vec<i16> {
    x[phase..]
        .chunks_exact(2)
        .map(|p| ((i32::from(p[0]) + i32::from(p[1])) / 2) as i16)
        .collect()
}

/// The whole loop with a real phone: baresip provisions itself through the IVR, then does what a
/// phone does after NOTIFY check-sync — fetches its file again (with the secret it has, inside
/// the first-fetch window), restarts with it and registers as the user's extension, 1004, with
/// its new secret; the temporary DN is free again.
#[test]
fn baresip_provisions_itself_and_comes_back_on_the_users_line() {
    let run = provision_with_baresip("e2e-baresip", "SEP00000000BA01", Codec::Pcmu, "g711.so");
    let s = &run.service;
    run.log
        .wait_for("NOTIFY check-sync", Duration::from_secs(30))
        .expect("the service tells the phone to fetch again");
    // What the phone knows: its first file's credentials.
    let param = |line: &str, key: &str| {
        line.split(';')
            .find_map(|p| p.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key} in {line}"))
            .to_owned()
    };
    let (user, old_secret) = (
        param(&run.account, "auth_user"),
        param(&run.account, "auth_pass"),
    );
    let f = selfprov_phone::config_file::fetch(
        &config_server(s),
        "baresip/00000000ba01/accounts",
        "baresip v1.0.0 (x86_64/linux)",
        Some((&user, &old_secret)),
    )
    .expect("the phone fetches its new file with the secret it has");
    let line = f
        .body
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .unwrap_or_else(|| panic!("no account in {}", f.body))
        .to_owned();
    assert!(line.contains("<sip:1004@"), "{line}");
    assert!(line.starts_with("\"John Smith\""), "{line}");
    let new_secret = param(&line, "auth_pass");
    assert_ne!(new_secret, old_secret, "the user's line has its own secret");
    assert_eq!(param(&line, "auth_user"), user);

    // baresip restarts with the new file (the old one stopped by PID) and registers on 1004.
    drop(run.phone);
    let phone = baresip::start(&s.dir.path().join("baresip-claimed"), &line, "");
    let registered_on = |dn: &str| {
        cli(s, &["registrations", "--json"])["registrations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["device"] == "SEP00000000BA01" && r["dn"] == dn && r["auth"] == "digest")
    };
    let until = std::time::Instant::now() + Duration::from_secs(30);
    while !registered_on("1004") {
        assert!(
            std::time::Instant::now() < until,
            "baresip did not register as 1004: {:?}",
            phone.out.lines()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The temporary DN it had went back to the pool.
    assert!(
        !common::boot::dn_taken(s, &run.temporary_dn),
        "{}",
        run.temporary_dn
    );
    // The old secret no longer registers: a baresip with the first file is refused.
    let stale = baresip::start(&s.dir.path().join("baresip-stale"), &run.account, "");
    stale
        .out
        .wait_for("403 Forbidden", Duration::from_secs(30))
        .unwrap_or_else(|| panic!("the old secret was not refused: {:?}", stale.out.lines()));
}

#[test]
fn baresip_with_g722_hears_the_prompts_in_wideband() {
    provision_with_baresip(
        "e2e-baresip-g722",
        "SEP00000000BA02",
        Codec::G722,
        "g722.so",
    );
}

/// A baresip provisioned by [`provision_with_baresip`], still running.
struct Provisioned {
    phone: baresip::Baresip,
    /// The account line of its first file.
    account: String,
    /// The DN it registered with before the claim.
    temporary_dn: String,
    log: selfprov_testkit::LineWatcher,
    _svc: selfprov_testkit::ChildGuard,
    service: Service,
}

/// baresip offering only `codec` (its `module`) registers, dials, types the ID, PIN and
/// confirmation as RFC 4733 events, is provisioned, and its recording holds the success prompt.
fn provision_with_baresip(tag: &str, device: &str, codec: Codec, module: &str) -> Provisioned {
    let s = config(tag);
    let (svc, log) = start_service(&s);
    let rate = codec.sample_rate();
    let mac = device.trim_start_matches("SEP");
    let account =
        baresip::fetched_account(&s, mac, &format!(";audio_codecs={}", codec.encoding_name()));
    let phone = baresip::start_with_codec(
        &s.dir.path().join("baresip"),
        &account,
        "2000",
        rate,
        module,
    );
    phone.provision_as_jsmith();

    // It registered here with its own credentials.
    let regs = cli(&s, &["registrations", "--json"]);
    let reg = regs["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["device"] == device)
        .cloned();
    assert_eq!(
        reg.as_ref().map(|r| r["auth"].clone()),
        Some("digest".into()),
        "{regs:#}"
    );
    let d = common::device(&s, device).expect("auto-registered");
    assert_eq!(
        (d["owner"].as_str(), d["dn"].as_str()),
        (Some("jsmith"), Some("1004")),
        "{d}"
    );
    assert_eq!(
        cli(&s, &["audit", "--json", "--kind", "claim"])[0]["code"],
        "SUCCESS"
    );

    // What baresip heard, decoded. The typed digits cut the first prompts short (barge-in);
    // the success prompt plays whole.
    let (got, got_rate) = phone.recording_at_rate();
    assert_eq!(
        got_rate, rate,
        "{codec:?}: baresip decoded at {got_rate} Hz"
    );
    // The last 10 s hold the success prompt and goodbye.
    let tail = &got[got.len().saturating_sub(10 * rate as usize)..];
    // The search is quadratic: wideband audio is compared at 8 kHz, pairs of samples averaged,
    // pairing the recording's samples the way that lines it up with the success prompt.
    let (tail, phases) = if rate == 8000 {
        (tail.to_vec(), 1)
    } else {
        (halve(tail, 0), 2)
    };
    let pieces = |prompt: &str, phase: usize| {
        let reference = decoded_prompt(prompt, codec);
        pieces_found(
            &tail,
            &if phases == 1 {
                reference
            } else {
                halve(&reference, phase)
            },
        )
    };
    let (success, phase) = (0..phases)
        .map(|p| (pieces("success", p), p))
        .max()
        .unwrap_or_default();
    assert!(
        success >= 4,
        "{codec:?}: only {success} of 5 pieces of the success prompt are in baresip's audio"
    );
    // And the measure can fail: account_locked was never played.
    assert!(pieces("account_locked", phase) <= 1);
    let temporary_dn = reg.unwrap()["dn"].as_str().unwrap().to_owned();
    Provisioned {
        phone,
        account,
        temporary_dn,
        log,
        _svc: svc,
        service: s,
    }
}
