//! The prompt report behind `selfprov prompts check`: missing prompts per language, files that
//! are not mono 16-bit 16 kHz, clipped or silent recordings.

use crate::{read_wav, MASTER_RATE, REQUIRED};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileIssue {
    Missing,
    Unreadable(String),
    /// Loads (converted at load time) but is not the master format.
    Format(String),
    /// Too many samples at full scale.
    Clipped {
        samples: usize,
    },
    /// RMS below -50 dBFS.
    Silent,
}

/// Issues found, per language and prompt.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub issues: Vec<(String, String, FileIssue)>,
    pub checked: usize,
}

impl CheckReport {
    pub fn is_clean(&self) -> bool {
        self.issues.is_empty()
    }
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (lang, name, issue) in &self.issues {
            let what = match issue {
                FileIssue::Missing => "missing (falls back to the next language)".to_owned(),
                FileIssue::Unreadable(e) => format!("unreadable: {e}"),
                FileIssue::Format(e) => format!("format: {e}"),
                FileIssue::Clipped { samples } => {
                    format!("clipped: {samples} samples at full scale")
                }
                FileIssue::Silent => "silent (RMS below -50 dBFS)".to_owned(),
            };
            writeln!(f, "{lang}/{name}.wav: {what}")?;
        }
        write!(
            f,
            "{} file(s) checked, {} issue(s)",
            self.checked,
            self.issues.len()
        )
    }
}

/// Check the prompt files of each language against [`REQUIRED`].
pub fn check(dir: &Path, languages: &[&str]) -> CheckReport {
    let mut r = CheckReport::default();
    for lang in languages {
        for name in REQUIRED {
            let path: PathBuf = dir.join(lang).join(format!("{name}.wav"));
            if !path.exists() {
                r.issues
                    .push((lang.to_string(), name.to_string(), FileIssue::Missing));
                continue;
            }
            r.checked += 1;
            let push =
                |r: &mut CheckReport, i| r.issues.push((lang.to_string(), name.to_string(), i));
            match hound::WavReader::open(&path) {
                Err(e) => {
                    push(&mut r, FileIssue::Unreadable(e.to_string()));
                    continue;
                }
                Ok(w) => {
                    let s = w.spec();
                    if s.channels != 1 || s.bits_per_sample != 16 || s.sample_rate != MASTER_RATE {
                        push(
                            &mut r,
                            FileIssue::Format(format!(
                                "{} channel(s), {}-bit, {} Hz; want mono, 16-bit, 16000 Hz",
                                s.channels, s.bits_per_sample, s.sample_rate
                            )),
                        );
                    }
                }
            }
            match read_wav(&path) {
                Err(e) => push(&mut r, FileIssue::Unreadable(e.to_string())),
                Ok(pcm) => {
                    let clipped = pcm
                        .iter()
                        .filter(|&&v| v == i16::MAX || v == i16::MIN)
                        .count();
                    if clipped > 3 {
                        push(&mut r, FileIssue::Clipped { samples: clipped });
                    }
                    let rms = (pcm.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>()
                        / pcm.len().max(1) as f64)
                        .sqrt();
                    if rms < 32768.0 * 10f64.powf(-50.0 / 20.0) {
                        push(&mut r, FileIssue::Silent);
                    }
                }
            }
        }
    }
    r
}
