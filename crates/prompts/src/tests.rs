use super::*;
use selfprov_testkit::TempDir;

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../prompts")
}

fn write_wav(path: &Path, rate: u32, channels: u16, samples: &[i16]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for s in samples {
        w.write_sample(*s).unwrap();
    }
    w.finalize().unwrap();
}

fn tone(n: usize, amp: f32) -> Vec<i16> {
    (0..n)
        .map(|i| (amp * (i as f32 * 0.2).sin()) as i16)
        .collect()
}

#[test]
fn shipped_prompts_are_complete_and_clean_in_four_languages() {
    let langs = ["en_US", "fr_FR", "de_DE", "es_ES"];
    let r = check(&shipped(), &langs);
    assert!(r.is_clean(), "{r}");
    assert_eq!(r.checked, REQUIRED.len() * 4);
}

#[test]
fn catalog_encodes_every_prompt_into_every_codec() {
    let cat = Catalog::load(&shipped(), &["en_US", "fr_FR"], &Codec::ALL, 20).unwrap();
    assert_eq!(cat.len(), REQUIRED.len() * 2);
    for name in REQUIRED {
        let p = cat.lookup(name, &["fr_FR"]).unwrap();
        assert_eq!(p.language, "fr_FR");
        for c in Codec::ALL.iter().filter(|c| c.is_enabled()) {
            let e = p
                .encoded(*c)
                .unwrap_or_else(|| panic!("{name} not encoded as {c:?}"));
            assert!(!e.frames.is_empty());
            // Whole packets, the duration of the master rounded up to a packet.
            let master_ms = p.pcm16k.len() as u64 * 1000 / 16000;
            assert!(
                e.duration_ms() >= master_ms && e.duration_ms() <= master_ms + 20,
                "{name} {c:?}: {} vs {master_ms} ({} samples)",
                e.duration_ms(),
                p.pcm16k.len()
            );
            match c {
                Codec::Pcmu | Codec::Pcma | Codec::G722 => {
                    assert!(e.frames.iter().all(|f| f.len() == 160))
                }
                Codec::L16 => assert!(e.frames.iter().all(|f| f.len() == 640)),
                Codec::L16Narrowband => assert!(e.frames.iter().all(|f| f.len() == 320)),
                Codec::G729 => assert!(e.frames.iter().all(|f| f.len() == 20)),
                Codec::Opus => assert!(e.frames.iter().all(|f| !f.is_empty() && f.len() < 400)),
            }
        }
    }
    assert!(cat.encoded_bytes() > 1_000_000);
}

#[test]
fn fallback_follows_preference_then_en_us() {
    let dir = TempDir::new("prompts-fallback");
    write_wav(
        &dir.path().join("en_US/welcome.wav"),
        16000,
        1,
        &tone(1600, 8000.0),
    );
    write_wav(
        &dir.path().join("en_US/goodbye.wav"),
        16000,
        1,
        &tone(1600, 8000.0),
    );
    write_wav(
        &dir.path().join("de_DE/goodbye.wav"),
        16000,
        1,
        &tone(1600, 8000.0),
    );
    write_wav(
        &dir.path().join("fr_FR/welcome.wav"),
        16000,
        1,
        &tone(1600, 8000.0),
    );
    let cat = Catalog::load(dir.path(), &["fr_FR", "de_DE"], &[Codec::Pcmu], 20).unwrap();
    assert_eq!(
        cat.lookup("welcome", &["fr_FR", "de_DE"]).unwrap().language,
        "fr_FR"
    );
    assert_eq!(
        cat.lookup("goodbye", &["fr_FR", "de_DE"]).unwrap().language,
        "de_DE"
    );
    assert_eq!(cat.lookup("goodbye", &["fr_FR"]).unwrap().language, "en_US");
    assert_eq!(cat.lookup("welcome", &["es_ES"]).unwrap().language, "en_US");
    assert!(cat.lookup("nope", &["fr_FR"]).is_none());
}

#[test]
fn other_rates_and_stereo_are_converted_at_load() {
    let dir = TempDir::new("prompts-convert");
    let stereo: Vec<i16> = tone(4410, 8000.0)
        .into_iter()
        .flat_map(|s| [s, s])
        .collect();
    write_wav(&dir.path().join("en_US/welcome.wav"), 44100, 2, &stereo);
    let cat = Catalog::load(dir.path(), &["en_US"], &[Codec::Pcma], 20).unwrap();
    let p = cat.lookup("welcome", &[]).unwrap();
    assert_eq!(p.pcm16k.len(), 1600);
    let r = check(dir.path(), &["en_US"]);
    assert!(
        r.issues
            .iter()
            .any(|(_, n, i)| n == "welcome" && matches!(i, FileIssue::Format(_))),
        "{r}"
    );
}

#[test]
fn check_finds_missing_clipped_silent_and_broken_files() {
    let dir = TempDir::new("prompts-check");
    let clipped: Vec<i16> = (0..1600)
        .map(|i| if i % 2 == 0 { i16::MAX } else { i16::MIN })
        .collect();
    write_wav(&dir.path().join("en_US/welcome.wav"), 16000, 1, &clipped);
    write_wav(
        &dir.path().join("en_US/goodbye.wav"),
        16000,
        1,
        &vec![3; 1600],
    );
    std::fs::write(dir.path().join("en_US/success.wav"), b"not a wav").unwrap();
    write_wav(
        &dir.path().join("en_US/digit_1.wav"),
        16000,
        1,
        &tone(1600, 9000.0),
    );
    let r = check(dir.path(), &["en_US"]);
    let find = |n: &str| {
        r.issues
            .iter()
            .filter(|(_, name, _)| name == n)
            .map(|(_, _, i)| i.clone())
            .collect::<Vec<_>>()
    };
    assert!(matches!(find("welcome")[..], [FileIssue::Clipped { .. }]));
    assert_eq!(find("goodbye"), vec![FileIssue::Silent]);
    assert!(matches!(find("success")[..], [FileIssue::Unreadable(_)]));
    assert!(find("digit_1").is_empty());
    assert_eq!(find("cancelled"), vec![FileIssue::Missing]);
    assert!(r.to_string().contains("en_US/cancelled.wav: missing"));
}

#[test]
fn sequences_join_without_gaps() {
    let cat = Catalog::load(&shipped(), &["en_US"], &[Codec::Pcmu], 20).unwrap();
    let names = [
        "confirm_extension",
        "digit_1",
        "digit_0",
        "digit_0",
        "digit_4",
        "confirm_press",
    ];
    let seq = cat.sequence(&names, &["en_US"], Codec::Pcmu).unwrap();
    assert_eq!(seq.len(), 6);
    // The concatenated packets last as long as the prompts themselves plus at most one packet of
    // padding each: no gap is inserted at the joins.
    let total: u64 = seq.iter().map(|e| e.duration_ms()).sum();
    let masters: u64 = names
        .iter()
        .map(|n| cat.lookup(n, &[]).unwrap().pcm16k.len() as u64 * 1000 / 16000)
        .sum();
    assert!(
        total >= masters && total < masters + 20 * 6,
        "{total} vs {masters}"
    );
    // Each prompt's own silence at the joins is short (trimmed to ~100 ms at each end).
    for e in &seq {
        let lead = e
            .frames
            .iter()
            .take_while(|f| {
                f.iter()
                    .all(|&b| b == 0xFF || b == 0x7F || b == 0xFE || b == 0x7E)
            })
            .count();
        assert!(lead * 20 <= 200, "{lead} silent packets at the start");
    }
    assert!(cat
        .sequence(&["welcome", "nope"], &["en_US"], Codec::Pcmu)
        .is_none());
}

#[test]
fn the_encoded_prompt_cache_is_used_and_follows_changes() {
    let dir = TempDir::new("prompts-cache-src");
    let cache = TempDir::new("prompts-cache");
    std::fs::create_dir_all(dir.path().join("en_US")).unwrap();
    let wav = dir.path().join("en_US/welcome.wav");
    std::fs::copy(shipped().join("en_US/welcome.wav"), &wav).unwrap();
    let codecs = [Codec::Pcmu, Codec::Opus];
    let cold = Catalog::load_cached(dir.path(), &["en_US"], &codecs, 20, Some(cache.path())).unwrap();
    let entry = cache.path().join("en_US/welcome.Opus.20ms.frames");
    assert!(entry.exists());
    // Warm: the same frames, read back.
    let warm = Catalog::load_cached(dir.path(), &["en_US"], &codecs, 20, Some(cache.path())).unwrap();
    for c in codecs {
        let a = cold.lookup("welcome", &["en_US"]).unwrap();
        let b = warm.lookup("welcome", &["en_US"]).unwrap();
        assert_eq!(a.encoded(c).unwrap().frames, b.encoded(c).unwrap().frames);
    }
    // A damaged entry is re-encoded, not trusted.
    std::fs::write(&entry, b"SPFRAME1garbage").unwrap();
    let again = Catalog::load_cached(dir.path(), &["en_US"], &codecs, 20, Some(cache.path())).unwrap();
    assert_eq!(
        again.lookup("welcome", &["en_US"]).unwrap().encoded(Codec::Opus).unwrap().frames,
        cold.lookup("welcome", &["en_US"]).unwrap().encoded(Codec::Opus).unwrap().frames
    );
    // A changed recording is encoded again: its frames change.
    std::fs::copy(shipped().join("en_US/goodbye.wav"), &wav).unwrap();
    let changed = Catalog::load_cached(dir.path(), &["en_US"], &codecs, 20, Some(cache.path())).unwrap();
    assert_ne!(
        changed.lookup("welcome", &["en_US"]).unwrap().encoded(Codec::Pcmu).unwrap().frames,
        cold.lookup("welcome", &["en_US"]).unwrap().encoded(Codec::Pcmu).unwrap().frames
    );
}
