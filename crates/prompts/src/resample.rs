//! Band-limited resampling of whole prompts (rubato's FFT resampler), done once at load.

use rubato::{FftFixedIn, Resampler};

/// Resample mono PCM from `from` Hz to `to` Hz. The resampler's delay is removed so the output is
/// time-aligned with the input and has `len * to / from` samples.
pub fn resample(pcm: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == to || pcm.is_empty() {
        return pcm.to_vec();
    }
    let chunk = 1024;
    let Ok(mut r) = FftFixedIn::<f32>::new(from as usize, to as usize, chunk, 2, 1) else {
        return pcm.to_vec();
    };
    let input: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32768.0).collect();
    let want = (pcm.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let delay = r.output_delay();
    let mut out: Vec<f32> = Vec::with_capacity(want + delay + chunk * 4);
    let mut pos = 0;
    while pos + r.input_frames_next() <= input.len() {
        let n = r.input_frames_next();
        if let Ok(o) = r.process(&[&input[pos..pos + n]], None) {
            out.extend_from_slice(&o[0]);
        }
        pos += n;
    }
    // The tail, then zeros until the delayed output has all come out.
    let mut tail: Option<&[f32]> = Some(&input[pos..]);
    while out.len() < want + delay {
        let res = match tail.take() {
            Some(t) => r.process_partial(Some(&[t]), None),
            None => r.process_partial::<&[f32]>(None, None),
        };
        match res {
            Ok(o) if !o[0].is_empty() => out.extend_from_slice(&o[0]),
            _ => break,
        }
    }
    out.iter()
        .skip(delay)
        .take(want)
        .map(|&v| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(f: f32, rate: u32, n: usize, amp: f32) -> Vec<i16> {
        (0..n)
            .map(|i| (amp * (2.0 * std::f32::consts::PI * f * i as f32 / rate as f32).sin()) as i16)
            .collect()
    }

    fn rms(x: &[i16]) -> f32 {
        (x.iter().map(|&v| f32::from(v).powi(2)).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn passband_kept_aligned_and_stopband_removed() {
        // 1 kHz survives 16k -> 8k with its level and phase.
        let x = tone(1000.0, 16000, 16000, 10000.0);
        let y = resample(&x, 16000, 8000);
        assert_eq!(y.len(), 8000);
        let expect = tone(1000.0, 8000, 8000, 10000.0);
        let err: f32 = y[500..7500]
            .iter()
            .zip(&expect[500..7500])
            .map(|(a, b)| (f32::from(*a) - f32::from(*b)).abs())
            .fold(0.0, f32::max);
        assert!(err < 600.0, "max error {err}");
        // 6 kHz (above the new Nyquist) is filtered out, not aliased to 2 kHz as naive decimation would.
        let hi = resample(&tone(6000.0, 16000, 16000, 10000.0), 16000, 8000);
        assert!(
            rms(&hi[500..7500]) < 100.0,
            "aliasing: rms {}",
            rms(&hi[500..7500])
        );
    }

    #[test]
    fn upsampling_lengths() {
        let x = tone(440.0, 16000, 3210, 5000.0);
        assert_eq!(resample(&x, 16000, 48000).len(), 9630);
        assert_eq!(resample(&x, 16000, 16000), x);
        assert!(resample(&[], 16000, 8000).is_empty());
    }
}
