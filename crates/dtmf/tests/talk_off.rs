//! Talk-off: the in-band detector must not hear digits in speech. Every shipped prompt in every
//! shipped language goes through what a G.711 call does to it (16 kHz → 8 kHz, µ-law and A-law
//! encode/decode) and then through the detector: no digit may come out. Also: real digits mixed
//! after speech are still found.

use selfprov_dtmf::inband::{generate, InbandDetector};
use selfprov_media::g711;
use std::path::Path;

fn prompts_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../prompts")
}

fn speech_8k(lang: &str, name: &str) -> Vec<i16> {
    let pcm =
        selfprov_prompts::read_wav(&prompts_dir().join(lang).join(format!("{name}.wav"))).unwrap();
    selfprov_prompts::resample(&pcm, 16000, 8000)
}

#[test]
fn no_digits_in_any_shipped_prompt() {
    let mut total_ms = 0;
    for lang in ["en_US", "fr_FR", "de_DE", "es_ES"] {
        for name in selfprov_prompts::REQUIRED {
            let s = speech_8k(lang, name);
            total_ms += s.len() / 8;
            for law in ["ulaw", "alaw"] {
                let coded: Vec<i16> = s
                    .iter()
                    .map(|&v| {
                        if law == "ulaw" {
                            g711::ulaw_to_linear(g711::linear_to_ulaw(v))
                        } else {
                            g711::alaw_to_linear(g711::linear_to_alaw(v))
                        }
                    })
                    .collect();
                let mut d = InbandDetector::default();
                let mut out = Vec::new();
                d.feed(&coded, &mut out);
                assert!(
                    out.is_empty(),
                    "talk-off: {lang}/{name} ({law}) detected {:?}",
                    out
                );
            }
        }
    }
    assert!(total_ms > 200_000, "only {total_ms} ms of speech tested");
}

#[test]
fn digits_after_speech_are_detected() {
    let mut pcm = speech_8k("en_US", "enter_pin");
    for k in "1004#".chars() {
        generate(k, 60, 5000.0, 0.0, 0.0, &mut pcm);
        pcm.extend(std::iter::repeat_n(0, 480));
    }
    let coded: Vec<i16> = pcm
        .iter()
        .map(|&v| g711::ulaw_to_linear(g711::linear_to_ulaw(v)))
        .collect();
    let mut d = InbandDetector::default();
    let mut out = Vec::new();
    d.feed(&coded, &mut out);
    assert_eq!(out.iter().map(|d| d.as_char()).collect::<String>(), "1004#");
}
