//! In-band DTMF detection for G.711 calls without telephone-event: Goertzel filters at the eight
//! DTMF frequencies over a 20 ms window (50 Hz resolution, enough to tell 697/770/852/941 Hz
//! apart), evaluated every 10 ms block. A digit is reported after it is seen in three consecutive
//! windows (about 20 ms of tone or more at any alignment; 15 ms blips are ignored) and the detector
//! re-arms after two windows without it, which meets ITU-T Q.24 timing: 40 ms tones separated by
//! 40 ms pauses are all detected.
//!
//! A window counts as a digit only when: the strongest row and column tones carry most of the
//! window's energy (speech spreads its energy, so talk-off is rare), each is at least 9 dB above
//! the other tones of its group, the twist is within limits (column up to 6 dB stronger — reverse
//! twist — or up to 8 dB weaker — normal twist), the signal is not too faint, and the second
//! harmonics are weak (speech vowels have strong harmonics, DTMF has none).

use crate::Digit;

pub const SAMPLE_RATE: f32 = 8000.0;
/// Samples per hop (10 ms).
pub const BLOCK: usize = 80;
/// Samples per analysis window (20 ms).
pub const WINDOW: usize = 160;

const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Thresholds, documented so they can be tuned with numbers.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Row + column power as a fraction of the window energy (1.0 = nothing else present).
    pub tone_fraction: f32,
    /// How much stronger the chosen tone must be than the others of its group (power ratio).
    pub peak_ratio: f32,
    /// Column stronger than row by at most this (dB).
    pub reverse_twist_db: f32,
    /// Column weaker than row by at most this (dB).
    pub normal_twist_db: f32,
    /// Minimum RMS of the window (16-bit scale); about -40 dBm0.
    pub min_rms: f32,
    /// Second harmonic of each tone must be this much weaker (power ratio).
    pub harmonic_ratio: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            tone_fraction: 0.55,
            peak_ratio: 8.0,
            reverse_twist_db: 6.0,
            normal_twist_db: 8.0,
            min_rms: 80.0,
            harmonic_ratio: 4.0,
        }
    }
}

struct Goertzel {
    coeffs: [f32; 8],
    harmonic_coeffs: [f32; 8],
}

impl Goertzel {
    fn new() -> Self {
        let c = |f: f32| 2.0 * (2.0 * std::f32::consts::PI * f / SAMPLE_RATE).cos();
        let mut coeffs = [0.0; 8];
        let mut harmonic_coeffs = [0.0; 8];
        for (i, f) in ROWS.iter().chain(COLS.iter()).enumerate() {
            coeffs[i] = c(*f);
            harmonic_coeffs[i] = c(2.0 * f);
        }
        Goertzel {
            coeffs,
            harmonic_coeffs,
        }
    }

    /// Power at one frequency, normalised so a full-window sinusoid of energy E gives ≈ E.
    fn power(coeff: f32, x: &[f32]) -> f32 {
        let (mut s1, mut s2) = (0.0f32, 0.0f32);
        for &v in x {
            let s = v + coeff * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        (s1 * s1 + s2 * s2 - coeff * s1 * s2) * 2.0 / x.len() as f32
    }
}

/// Per-call in-band detector. Feed PCM (8 kHz, any chunk size); digits come out once.
pub struct InbandDetector {
    g: Goertzel,
    t: Thresholds,
    window: [f32; WINDOW],
    filled: usize,
    since_hop: usize,
    candidate: Option<char>,
    hits: u32,
    misses: u32,
    reported: Option<char>,
}

impl Default for InbandDetector {
    fn default() -> Self {
        Self::new(Thresholds::default())
    }
}

impl InbandDetector {
    pub fn new(t: Thresholds) -> Self {
        InbandDetector {
            g: Goertzel::new(),
            t,
            window: [0.0; WINDOW],
            filled: 0,
            since_hop: 0,
            candidate: None,
            hits: 0,
            misses: 2,
            reported: None,
        }
    }

    /// Feed samples; detected digits are pushed to `out`.
    pub fn feed(&mut self, pcm: &[i16], out: &mut Vec<Digit>) {
        for &s in pcm {
            self.window.copy_within(1.., 0);
            self.window[WINDOW - 1] = f32::from(s);
            self.filled = (self.filled + 1).min(WINDOW);
            self.since_hop += 1;
            if self.since_hop == BLOCK {
                self.since_hop = 0;
                if self.filled == WINDOW {
                    let d = self.analyse();
                    self.step(d, out);
                }
            }
        }
    }

    fn step(&mut self, d: Option<char>, out: &mut Vec<Digit>) {
        match d {
            Some(c) => {
                self.misses = 0;
                if self.candidate == Some(c) {
                    self.hits += 1;
                } else {
                    self.candidate = Some(c);
                    self.hits = 1;
                }
                if self.hits >= 3 && self.reported != Some(c) {
                    self.reported = Some(c);
                    if let Some(dg) = Digit::from_char(c) {
                        out.push(dg);
                    }
                }
            }
            None => {
                self.misses += 1;
                self.hits = 0;
                self.candidate = None;
                if self.misses >= 2 {
                    self.reported = None;
                }
            }
        }
    }

    /// Which key the current window holds, if any.
    fn analyse(&self) -> Option<char> {
        let x = &self.window;
        let energy: f32 = x.iter().map(|v| v * v).sum();
        let rms = (energy / WINDOW as f32).sqrt();
        if rms < self.t.min_rms {
            return None;
        }
        let mut p = [0.0f32; 8];
        for (i, c) in self.g.coeffs.iter().enumerate() {
            p[i] = Goertzel::power(*c, x);
        }
        let best = |group: &[f32]| -> (usize, f32, bool) {
            let (bi, bp) =
                group.iter().enumerate().fold(
                    (0, f32::MIN),
                    |a, (i, v)| if *v > a.1 { (i, *v) } else { a },
                );
            let clear = group
                .iter()
                .enumerate()
                .all(|(i, v)| i == bi || bp >= v * self.t.peak_ratio);
            (bi, bp, clear)
        };
        let (r, rp, rclear) = best(&p[..4]);
        let (c, cp, cclear) = best(&p[4..]);
        if !rclear || !cclear || rp <= 0.0 || cp <= 0.0 {
            return None;
        }
        if (rp + cp) < self.t.tone_fraction * energy {
            return None;
        }
        let twist_db = 10.0 * (cp / rp).log10();
        if twist_db > self.t.reverse_twist_db || -twist_db > self.t.normal_twist_db {
            return None;
        }
        let h_r = Goertzel::power(self.g.harmonic_coeffs[r], x);
        let h_c = Goertzel::power(self.g.harmonic_coeffs[4 + c], x);
        if h_r * self.t.harmonic_ratio > rp || h_c * self.t.harmonic_ratio > cp {
            return None;
        }
        Some(KEYS[r][c])
    }
}

/// Generate a DTMF tone (test signals, the built-in test phone): `ms` of key `key` at
/// `level` amplitude per tone, with frequencies scaled by `1 + deviation`.
pub fn generate(
    key: char,
    ms: u32,
    level: f32,
    deviation: f32,
    twist_db: f32,
    out: &mut Vec<i16>,
) -> bool {
    let Some((r, c)) = KEYS
        .iter()
        .enumerate()
        .find_map(|(r, row)| row.iter().position(|k| *k == key).map(|c| (r, c)))
    else {
        return false;
    };
    let n = (SAMPLE_RATE as u32 * ms / 1000) as usize;
    let fr = ROWS[r] * (1.0 + deviation);
    let fc = COLS[c] * (1.0 + deviation);
    let col_level = level * 10f32.powf(twist_db / 20.0);
    let start = out.len();
    for i in 0..n {
        let t = (start + i) as f32 / SAMPLE_RATE;
        let v = level * (2.0 * std::f32::consts::PI * fr * t).sin()
            + col_level * (2.0 * std::f32::consts::PI * fc * t).sin();
        out.push(v.clamp(-32768.0, 32767.0) as i16);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &str = "123A456B789C*0#D";

    fn noise(n: usize, amp: f32, seed: &mut u32, out: &mut Vec<i16>) {
        for _ in 0..n {
            *seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            // Sum of 4 uniforms: roughly Gaussian, unit-ish variance.
            let mut g = 0.0;
            for k in 0..4 {
                g += ((*seed >> (k * 8)) & 0xFF) as f32 / 255.0 - 0.5;
            }
            out.push((g * amp * 1.7) as i16);
        }
    }

    fn detect(pcm: &[i16]) -> String {
        let mut d = InbandDetector::default();
        let mut out = Vec::new();
        // Feed in odd chunk sizes to prove chunking does not matter.
        for chunk in pcm.chunks(37) {
            d.feed(chunk, &mut out);
        }
        out.iter().map(|d| d.as_char()).collect()
    }

    fn sequence(
        keys: &str,
        tone_ms: u32,
        pause_ms: u32,
        level: f32,
        dev: f32,
        twist: f32,
        snr_db: Option<f32>,
    ) -> Vec<i16> {
        let mut pcm = Vec::new();
        let mut seed = 7;
        let noise_amp = snr_db.map(|s| level / 10f32.powf(s / 20.0)).unwrap_or(0.0);
        let mut add = |pcm: &mut Vec<i16>, start: usize| {
            if noise_amp > 0.0 {
                let mut nz = Vec::new();
                noise(pcm.len() - start, noise_amp, &mut seed, &mut nz);
                for (s, n) in pcm[start..].iter_mut().zip(nz) {
                    *s = s.saturating_add(n);
                }
            }
        };
        let s0 = pcm.len();
        pcm.extend(std::iter::repeat_n(0, 800));
        add(&mut pcm, s0);
        for k in keys.chars() {
            let s = pcm.len();
            generate(k, tone_ms, level, dev, twist, &mut pcm);
            pcm.extend(std::iter::repeat_n(0, (pause_ms * 8) as usize));
            add(&mut pcm, s);
        }
        pcm
    }

    #[test]
    fn all_sixteen_digits_at_q24_timing_40_40() {
        assert_eq!(detect(&sequence(ALL, 40, 40, 6000.0, 0.0, 0.0, None)), ALL);
        // And at another phase alignment.
        let mut pcm = vec![0i16; 33];
        pcm.extend(sequence(ALL, 40, 40, 6000.0, 0.0, 0.0, None));
        assert_eq!(detect(&pcm), ALL);
    }

    #[test]
    fn noise_at_20db_snr() {
        assert_eq!(
            detect(&sequence(ALL, 50, 50, 4000.0, 0.0, 0.0, Some(20.0))),
            ALL
        );
    }

    #[test]
    fn twist_within_limits_accepted_beyond_rejected() {
        assert_eq!(
            detect(&sequence("159#", 60, 60, 5000.0, 0.0, 4.0, None)),
            "159#"
        );
        assert_eq!(
            detect(&sequence("159#", 60, 60, 5000.0, 0.0, -4.0, None)),
            "159#"
        );
        assert_eq!(
            detect(&sequence("159#", 60, 60, 5000.0, 0.0, 10.0, None)),
            ""
        );
        assert_eq!(
            detect(&sequence("159#", 60, 60, 5000.0, 0.0, -10.0, None)),
            ""
        );
    }

    #[test]
    fn frequency_tolerance() {
        assert_eq!(
            detect(&sequence(ALL, 60, 60, 6000.0, 0.015, 0.0, None)),
            ALL
        );
        assert_eq!(
            detect(&sequence(ALL, 60, 60, 6000.0, -0.015, 0.0, None)),
            ALL
        );
        assert_eq!(
            detect(&sequence("1590", 60, 60, 6000.0, 0.035, 0.0, None)),
            ""
        );
        assert_eq!(
            detect(&sequence("1590", 60, 60, 6000.0, -0.035, 0.0, None)),
            ""
        );
    }

    #[test]
    fn long_tone_is_one_digit_and_short_blip_none() {
        assert_eq!(
            detect(&sequence("5", 1000, 40, 6000.0, 0.0, 0.0, None)),
            "5"
        );
        assert_eq!(detect(&sequence("5", 15, 40, 6000.0, 0.0, 0.0, None)), "");
    }

    #[test]
    fn repeated_key_needs_a_pause() {
        assert_eq!(
            detect(&sequence("55", 40, 40, 6000.0, 0.0, 0.0, None)),
            "55"
        );
    }

    #[test]
    fn silence_and_single_tones_are_not_digits() {
        assert_eq!(detect(&vec![0; 8000]), "");
        let mut pcm = Vec::new();
        for i in 0..8000 {
            pcm.push(
                (8000.0 * (2.0 * std::f32::consts::PI * 697.0 * i as f32 / 8000.0).sin()) as i16,
            );
        }
        assert_eq!(detect(&pcm), "");
        let mut seed = 1;
        let mut nz = Vec::new();
        noise(16000, 5000.0, &mut seed, &mut nz);
        assert_eq!(detect(&nz), "");
    }
}
