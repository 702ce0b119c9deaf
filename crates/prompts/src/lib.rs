//! Prompt catalog. Master prompts are WAV files `prompts/<language>/<name>.wav` (mono, 16-bit,
//! 16 kHz). At load (start and reload) every prompt is resampled with a band-limited FFT resampler
//! (rubato) to each enabled codec's rate and encoded once into ready-to-send payloads, padded to a
//! whole number of packets so that prompts played back to back join without a gap. Calls share the
//! encoded prompts through `Arc`s and only copy payload bytes.
//!
//! Lookup takes the caller's language preference and falls back along it, then to `en_US`.

mod check;
mod resample;

pub use check::{check, CheckReport, FileIssue};
pub use resample::resample;

use selfprov_media::{Codec, Encoder};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every prompt the IVR needs, by file name (without `.wav`).
pub const REQUIRED: &[&str] = &[
    "welcome",
    "language_select",
    "enter_self_service_id",
    "enter_pin",
    "enter_pin_or_auth_code",
    "invalid_entry",
    "invalid_credentials",
    "account_locked",
    "not_allowed",
    "device_limit",
    "no_device_template",
    "invalid_model",
    "not_autoregistered",
    "secure_device_not_supported",
    "no_primary_extension",
    "confirm_extension",
    "confirm_press",
    "digit_0",
    "digit_1",
    "digit_2",
    "digit_3",
    "digit_4",
    "digit_5",
    "digit_6",
    "digit_7",
    "digit_8",
    "digit_9",
    "success",
    "cancelled",
    "no_input",
    "too_many_attempts",
    "service_unavailable",
    "internal_error",
    "goodbye",
    // The activation route point (docs/activation-codes.md).
    "enter_activation_code",
    "activation_code_invalid",
    "activation_code_expired",
    "activation_code_used",
    "activation_code_wrong_device",
];

/// The language every lookup falls back to last.
pub const FALLBACK_LANGUAGE: &str = "en_US";
/// Sample rate of the master files.
pub const MASTER_RATE: u32 = 16_000;

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("{path}: {why}")]
    File { path: PathBuf, why: String },
    #[error("encoding {name} ({language}) as {codec:?}: {why}")]
    Encode {
        name: String,
        language: String,
        codec: Codec,
        why: String,
    },
    #[error("no prompts could be loaded from {0} (is prompts.dir right?)")]
    Empty(PathBuf),
}

/// One prompt encoded for one codec: `frames[i]` is the payload of the i-th packet.
#[derive(Debug)]
pub struct EncodedAudio {
    pub codec: Codec,
    pub ptime_ms: u32,
    pub frames: Vec<Box<[u8]>>,
}

impl EncodedAudio {
    pub fn duration_ms(&self) -> u64 {
        self.frames.len() as u64 * u64::from(self.ptime_ms)
    }
    pub fn bytes(&self) -> usize {
        self.frames.iter().map(|f| f.len()).sum()
    }
}

/// One prompt in one language: its master PCM and its encodings.
#[derive(Debug)]
pub struct Prompt {
    pub name: String,
    pub language: String,
    /// Master audio, 16 kHz.
    pub pcm16k: Arc<[i16]>,
    encoded: HashMap<Codec, Arc<EncodedAudio>>,
}

impl Prompt {
    pub fn encoded(&self, codec: Codec) -> Option<&Arc<EncodedAudio>> {
        self.encoded.get(&codec)
    }
}

/// All prompts of all languages, encoded.
#[derive(Debug, Default)]
pub struct Catalog {
    prompts: HashMap<(String, String), Arc<Prompt>>,
    codecs: Vec<Codec>,
    ptime_ms: u32,
}

/// Decode a WAV file to mono 16-bit PCM at 16 kHz (resampling other rates, mixing down stereo).
pub fn read_wav(path: &Path) -> Result<Vec<i16>, PromptError> {
    let err = |why: String| PromptError::File {
        path: path.to_owned(),
        why,
    };
    let mut r = hound::WavReader::open(path).map_err(|e| err(e.to_string()))?;
    let spec = r.spec();
    if spec.sample_format != hound::SampleFormat::Int || spec.bits_per_sample != 16 {
        return Err(err(format!(
            "{}-bit {:?} samples; need 16-bit PCM",
            spec.bits_per_sample, spec.sample_format
        )));
    }
    let samples: Vec<i16> = r
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .map_err(|e| err(e.to_string()))?;
    let ch = usize::from(spec.channels.max(1));
    let mono: Vec<i16> = if ch == 1 {
        samples
    } else {
        samples
            .chunks(ch)
            .map(|c| (c.iter().map(|&s| i32::from(s)).sum::<i32>() / ch as i32) as i16)
            .collect()
    };
    Ok(if spec.sample_rate == MASTER_RATE {
        mono
    } else {
        resample(&mono, spec.sample_rate, MASTER_RATE)
    })
}

/// Encode master PCM (16 kHz) into whole packets of `codec`, the last one padded with silence.
pub fn encode(pcm16k: &[i16], codec: Codec, ptime_ms: u32) -> Result<EncodedAudio, String> {
    let mut pcm = resample(pcm16k, MASTER_RATE, codec.sample_rate());
    let frame = codec.samples_per_frame(ptime_ms);
    let rem = pcm.len() % frame;
    if rem != 0 || pcm.is_empty() {
        pcm.resize(pcm.len() + frame - rem, 0);
    }
    let mut enc = Encoder::new(codec).map_err(|e| e.to_string())?;
    let mut frames = Vec::with_capacity(pcm.len() / frame);
    let mut buf = Vec::with_capacity(2 * frame);
    for chunk in pcm.chunks_exact(frame) {
        buf.clear();
        enc.encode(chunk, &mut buf).map_err(|e| e.to_string())?;
        frames.push(buf.clone().into_boxed_slice());
    }
    Ok(EncodedAudio {
        codec,
        ptime_ms,
        frames,
    })
}

/// FNV-1a 64: a stable fingerprint of a prompt file for the encoded-prompt cache.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Cache file layout: magic, source fingerprint, frame count, then (u16 length, bytes) frames.
const CACHE_MAGIC: &[u8; 8] = b"SPFRAME1";

fn cache_read(file: &Path, source: u64, codec: Codec, ptime_ms: u32) -> Option<EncodedAudio> {
    let data = std::fs::read(file).ok()?;
    let rest = data.strip_prefix(CACHE_MAGIC)?;
    let (h, rest) = rest.split_at_checked(8)?;
    if u64::from_le_bytes(h.try_into().ok()?) != source {
        return None;
    }
    let (n, mut rest) = rest.split_at_checked(4)?;
    let n = u32::from_le_bytes(n.try_into().ok()?) as usize;
    let mut frames = Vec::with_capacity(n.min(1 << 20));
    for _ in 0..n {
        let (len, r) = rest.split_at_checked(2)?;
        let (f, r) = r.split_at_checked(usize::from(u16::from_le_bytes(len.try_into().ok()?)))?;
        frames.push(f.to_vec().into_boxed_slice());
        rest = r;
    }
    (rest.is_empty() && !frames.is_empty()).then_some(EncodedAudio {
        codec,
        ptime_ms,
        frames,
    })
}

fn cache_write(file: &Path, source: u64, e: &EncodedAudio) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(e.bytes() + 2 * e.frames.len() + 20);
    out.extend_from_slice(CACHE_MAGIC);
    out.extend_from_slice(&source.to_le_bytes());
    out.extend_from_slice(&(e.frames.len() as u32).to_le_bytes());
    for f in &e.frames {
        out.extend_from_slice(&(f.len() as u16).to_le_bytes());
        out.extend_from_slice(f);
    }
    if let Some(d) = file.parent() {
        std::fs::create_dir_all(d)?;
    }
    // Write then rename: a crash never leaves a half-written entry under the real name.
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &out)?;
    std::fs::rename(&tmp, file)
}

impl Catalog {
    /// Load `dir/<language>/*.wav` for each language (plus `en_US`), encoding every prompt into
    /// every enabled codec of `codecs`. Work is spread over all cores.
    pub fn load(
        dir: &Path,
        languages: &[&str],
        codecs: &[Codec],
        ptime_ms: u32,
    ) -> Result<Catalog, PromptError> {
        Self::load_cached(dir, languages, codecs, ptime_ms, None)
    }

    /// [`load`](Self::load), keeping encoded prompts in `cache` (a directory, created if need
    /// be): a prompt whose WAV file is unchanged is read back instead of encoded again, so a
    /// restart is quick. A missing, stale or damaged cache entry is encoded and rewritten.
    pub fn load_cached(
        dir: &Path,
        languages: &[&str],
        codecs: &[Codec],
        ptime_ms: u32,
        cache: Option<&Path>,
    ) -> Result<Catalog, PromptError> {
        let mut langs: Vec<&str> = languages.to_vec();
        if !langs.contains(&FALLBACK_LANGUAGE) {
            langs.push(FALLBACK_LANGUAGE);
        }
        let codecs: Vec<Codec> = codecs.iter().copied().filter(|c| c.is_enabled()).collect();
        let mut files: Vec<(String, String, PathBuf)> = Vec::new();
        for lang in &langs {
            let ldir = dir.join(lang);
            let Ok(rd) = std::fs::read_dir(&ldir) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().and_then(|x| x.to_str()) == Some("wav") {
                    if let Some(stem) = p.file_stem().and_then(|s| s.to_str()) {
                        files.push((lang.to_string(), stem.to_owned(), p.clone()));
                    }
                }
            }
        }
        if files.is_empty() {
            return Err(PromptError::Empty(dir.to_owned()));
        }
        files.sort();
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let chunk = files.len().div_ceil(threads);
        let results: Vec<Result<Vec<Prompt>, PromptError>> = std::thread::scope(|s| {
            let hs: Vec<_> = files
                .chunks(chunk)
                .map(|part| {
                    let codecs = &codecs;
                    s.spawn(move || {
                        part.iter()
                            .map(|(lang, name, path)| {
                                let pcm = read_wav(path)?;
                                let source = cache.map(|_| fnv1a(&std::fs::read(path).unwrap_or_default()));
                                let mut encoded = HashMap::new();
                                for &c in codecs {
                                    let entry = cache.zip(source).map(|(dir, h)| {
                                        (dir.join(lang).join(format!("{name}.{c:?}.{ptime_ms}ms.frames")), h)
                                    });
                                    if let Some(e) = entry.as_ref().and_then(|(f, h)| cache_read(f, *h, c, ptime_ms)) {
                                        encoded.insert(c, Arc::new(e));
                                        continue;
                                    }
                                    let e = encode(&pcm, c, ptime_ms).map_err(|why| {
                                        PromptError::Encode {
                                            name: name.clone(),
                                            language: lang.clone(),
                                            codec: c,
                                            why,
                                        }
                                    })?;
                                    if let Some((f, h)) = &entry {
                                        // A cache that cannot be written only costs time.
                                        let _ = cache_write(f, *h, &e);
                                    }
                                    encoded.insert(c, Arc::new(e));
                                }
                                Ok(Prompt {
                                    name: name.clone(),
                                    language: lang.clone(),
                                    pcm16k: pcm.into(),
                                    encoded,
                                })
                            })
                            .collect()
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(PromptError::Empty(PathBuf::from(
                            "(loader thread panicked)",
                        )))
                    })
                })
                .collect()
        });
        let mut prompts = HashMap::new();
        for r in results {
            for p in r? {
                prompts.insert((p.language.clone(), p.name.clone()), Arc::new(p));
            }
        }
        Ok(Catalog {
            prompts,
            codecs,
            ptime_ms,
        })
    }

    /// The prompt `name` in the first language of `preference` that has it, else in `en_US`.
    pub fn lookup(&self, name: &str, preference: &[&str]) -> Option<Arc<Prompt>> {
        preference
            .iter()
            .chain(std::iter::once(&FALLBACK_LANGUAGE))
            .find_map(|l| self.prompts.get(&(l.to_string(), name.to_owned())).cloned())
    }

    /// The encoded packets for a sequence of prompts in one codec, to play back to back. Each
    /// prompt is padded to whole packets, so the joins are seamless (the encoders restart per
    /// prompt; prompts begin and end with silence, so that is inaudible).
    pub fn sequence(
        &self,
        names: &[&str],
        preference: &[&str],
        codec: Codec,
    ) -> Option<Vec<Arc<EncodedAudio>>> {
        names
            .iter()
            .map(|n| {
                self.lookup(n, preference)
                    .and_then(|p| p.encoded(codec).cloned())
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.prompts.len()
    }

    /// Every prompt of every language, in no particular order.
    pub fn prompts(&self) -> impl Iterator<Item = &Arc<Prompt>> {
        self.prompts.values()
    }

    pub fn is_empty(&self) -> bool {
        self.prompts.is_empty()
    }

    /// Bytes of encoded audio held (for the prompt cache metric).
    pub fn encoded_bytes(&self) -> usize {
        self.prompts
            .values()
            .flat_map(|p| p.encoded.values())
            .map(|e| e.bytes())
            .sum()
    }

    pub fn codecs(&self) -> &[Codec] {
        &self.codecs
    }

    pub fn ptime_ms(&self) -> u32 {
        self.ptime_ms
    }
}

#[cfg(test)]
mod tests;

/// Encoded prompts play straight from the shared catalog: the pacer reads their frames in place.
impl selfprov_media::pacer::Frames for EncodedAudio {
    fn frame(&self, i: usize) -> Option<&[u8]> {
        self.frames.get(i).map(|b| &b[..])
    }
    fn len(&self) -> usize {
        self.frames.len()
    }
}
