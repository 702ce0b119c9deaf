//! A real softphone: baresip (Debian package), headless — no sound card: it plays a silent WAV
//! file as its microphone and its `sndfile` module records what it hears. It fetches its
//! `accounts` file from the configuration server (auto-registered there, its credentials in the
//! account line), registers with digest, dials the route point (digest again), sends the ID, PIN and
//! confirmation as RFC 4733 events through its TCP control interface, and is provisioned; the
//! audio it recorded contains the IVR's prompts — with PCMU, and with G.722 only (baresip's
//! `g722` module is spandsp's codec: an independent decoder of our pre-encoded prompts).

mod common;

use common::baresip::{self, pieces_found};
use common::*;
use selfprov_media::Codec;

/// 16 kHz audio at 8 kHz, each pair of samples from `phase` on averaged.
fn halve(x: &[i16], phase: usize) -> Vec<i16> {
    x[phase..]
        .chunks_exact(2)
        .map(|p| ((i32::from(p[0]) + i32::from(p[1])) / 2) as i16)
        .collect()
}

#[test]
fn baresip_provisions_itself_and_hears_the_prompts() {
    provision_with_baresip("e2e-baresip", "SEP00000000BA01", Codec::Pcmu, "g711.so");
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

/// baresip offering only `codec` (its `module`) registers, dials, types the ID, PIN and
/// confirmation as RFC 4733 events, is provisioned, and its recording holds the success prompt.
fn provision_with_baresip(tag: &str, device: &str, codec: Codec, module: &str) {
    let s = config(tag);
    let (_svc, _err) = start_service(&s);
    let rate = codec.sample_rate();
    let mac = device.trim_start_matches("SEP");
    let account = baresip::fetched_account(
        &s,
        mac,
        &format!(";audio_codecs={}", codec.encoding_name()),
    );
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
}
