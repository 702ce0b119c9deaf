//! Codecs the route point offers: PCMU (0), PCMA (8), G.722 (9), G.729 (18), L16/16000 and
//! L16/8000 (dynamic), Opus/48000 (dynamic). Encoders take PCM at the codec's own sample rate, one
//! packet time at a time.

/// A codec and its RTP properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Codec {
    Pcmu,
    Pcma,
    /// G.722 at 64 kbit/s: 16 kHz audio, but an 8 kHz RTP clock (RFC 3551 §4.5.2).
    G722,
    G729,
    /// L16 at 16 kHz (the seed's "L16 256K"; the configuration's `L16`).
    L16,
    /// L16 at 8 kHz (the configuration's `L16_8000`).
    L16Narrowband,
    Opus,
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("{0:?} support is not compiled in (cargo feature)")]
    Disabled(Codec),
    #[error("{codec:?} frame needs {want} samples, got {got}")]
    FrameSize {
        codec: Codec,
        want: usize,
        got: usize,
    },
    #[error("{codec:?} payload of {len} bytes is not valid: {why}")]
    BadPayload {
        codec: Codec,
        len: usize,
        why: &'static str,
    },
    #[error("opus: {0}")]
    Opus(String),
}

impl Codec {
    pub const ALL: [Codec; 7] = [
        Codec::Pcmu,
        Codec::Pcma,
        Codec::G722,
        Codec::G729,
        Codec::L16,
        Codec::L16Narrowband,
        Codec::Opus,
    ];

    /// The name the configuration (`media.codecs`) and `selfprov phone --codec` use.
    pub fn config_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::G722 => "G722",
            Codec::G729 => "G729",
            Codec::L16 => "L16",
            Codec::L16Narrowband => "L16_8000",
            Codec::Opus => "OPUS",
        }
    }

    /// PCM sample rate the encoder takes and the decoder gives.
    pub fn sample_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma | Codec::G729 | Codec::L16Narrowband => 8000,
            Codec::G722 | Codec::L16 => 16000,
            Codec::Opus => 48000,
        }
    }

    /// RTP timestamp clock (RFC 3551; G.722 keeps the 8 kHz clock of its first definition
    /// although it samples at 16 kHz, §4.5.2; Opus is always 48 kHz per RFC 7587).
    pub fn rtp_clock_rate(self) -> u32 {
        match self {
            Codec::G722 => 8000,
            other => other.sample_rate(),
        }
    }

    pub fn static_payload_type(self) -> Option<u8> {
        match self {
            Codec::Pcmu => Some(0),
            Codec::Pcma => Some(8),
            Codec::G722 => Some(9),
            Codec::G729 => Some(18),
            Codec::L16 | Codec::L16Narrowband | Codec::Opus => None,
        }
    }

    /// Encoding name as in SDP `a=rtpmap`.
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::G722 => "G722",
            Codec::G729 => "G729",
            Codec::L16 | Codec::L16Narrowband => "L16",
            Codec::Opus => "opus",
        }
    }

    /// Whether this build can encode/decode it.
    pub fn is_enabled(self) -> bool {
        match self {
            Codec::G729 => cfg!(feature = "g729"),
            Codec::Opus => cfg!(feature = "opus"),
            _ => true,
        }
    }

    pub fn samples_per_frame(self, ptime_ms: u32) -> usize {
        (self.sample_rate() * ptime_ms / 1000) as usize
    }

    /// RTP timestamp increment per packet.
    pub fn timestamp_step(self, ptime_ms: u32) -> u32 {
        self.rtp_clock_rate() * ptime_ms / 1000
    }
}

enum EncInner {
    Pcmu,
    Pcma,
    G722(Box<crate::g722::G722Encoder>),
    L16,
    #[cfg(feature = "g729")]
    G729(Box<g729_sys::Encoder>),
    #[cfg(feature = "opus")]
    Opus(audiopus::coder::Encoder),
}

/// A stateful encoder (G.729 and Opus keep state between frames).
pub struct Encoder {
    codec: Codec,
    inner: EncInner,
}

impl Encoder {
    pub fn new(codec: Codec) -> Result<Encoder, CodecError> {
        let inner = match codec {
            Codec::Pcmu => EncInner::Pcmu,
            Codec::Pcma => EncInner::Pcma,
            Codec::G722 => EncInner::G722(Box::default()),
            Codec::L16 | Codec::L16Narrowband => EncInner::L16,
            #[cfg(feature = "g729")]
            Codec::G729 => EncInner::G729(Box::new(g729_sys::Encoder::new(false))),
            #[cfg(feature = "opus")]
            Codec::Opus => {
                use audiopus::{coder::Encoder as OE, Application, Channels, SampleRate};
                EncInner::Opus(
                    OE::new(SampleRate::Hz48000, Channels::Mono, Application::Voip)
                        .map_err(|e| CodecError::Opus(e.to_string()))?,
                )
            }
            #[allow(unreachable_patterns)]
            other => return Err(CodecError::Disabled(other)),
        };
        Ok(Encoder { codec, inner })
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Encode one packet's worth of PCM (a multiple of 10 ms at `codec.sample_rate()`),
    /// appending the payload to `out`.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        let ten_ms = self.codec.samples_per_frame(10);
        if pcm.is_empty() || !pcm.len().is_multiple_of(ten_ms) {
            return Err(CodecError::FrameSize {
                codec: self.codec,
                want: ten_ms,
                got: pcm.len(),
            });
        }
        match &mut self.inner {
            EncInner::Pcmu => out.extend(pcm.iter().map(|&s| crate::g711::linear_to_ulaw(s))),
            EncInner::Pcma => out.extend(pcm.iter().map(|&s| crate::g711::linear_to_alaw(s))),
            EncInner::G722(enc) => enc.encode(pcm, out),
            EncInner::L16 => {
                for s in pcm {
                    out.extend_from_slice(&s.to_be_bytes());
                }
            }
            #[cfg(feature = "g729")]
            EncInner::G729(enc) => {
                for chunk in pcm.chunks_exact(g729_sys::FRAME_SAMPLES) {
                    let mut frame = [0i16; g729_sys::FRAME_SAMPLES];
                    frame.copy_from_slice(chunk);
                    let mut buf = [0u8; g729_sys::VOICE_FRAME_BYTES];
                    let n = enc.encode_into(&frame, &mut buf) as usize;
                    out.extend_from_slice(&buf[..n]);
                }
            }
            #[cfg(feature = "opus")]
            EncInner::Opus(enc) => {
                let mut buf = [0u8; 1275];
                let n = enc
                    .encode(pcm, &mut buf)
                    .map_err(|e| CodecError::Opus(e.to_string()))?;
                out.extend_from_slice(&buf[..n]);
            }
        }
        Ok(())
    }
}

enum DecInner {
    Pcmu,
    Pcma,
    G722(Box<crate::g722::G722Decoder>),
    L16,
    #[cfg(feature = "g729")]
    G729(Box<g729_sys::Decoder>),
    #[cfg(feature = "opus")]
    Opus(audiopus::coder::Decoder),
}

/// A stateful decoder.
pub struct Decoder {
    codec: Codec,
    inner: DecInner,
}

impl Decoder {
    pub fn new(codec: Codec) -> Result<Decoder, CodecError> {
        let inner = match codec {
            Codec::Pcmu => DecInner::Pcmu,
            Codec::Pcma => DecInner::Pcma,
            Codec::G722 => DecInner::G722(Box::default()),
            Codec::L16 | Codec::L16Narrowband => DecInner::L16,
            #[cfg(feature = "g729")]
            Codec::G729 => DecInner::G729(Box::new(g729_sys::Decoder::new())),
            #[cfg(feature = "opus")]
            Codec::Opus => {
                use audiopus::{coder::Decoder as OD, Channels, SampleRate};
                DecInner::Opus(
                    OD::new(SampleRate::Hz48000, Channels::Mono)
                        .map_err(|e| CodecError::Opus(e.to_string()))?,
                )
            }
            #[allow(unreachable_patterns)]
            other => return Err(CodecError::Disabled(other)),
        };
        Ok(Decoder { codec, inner })
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Decode one payload, appending PCM at `codec.sample_rate()` to `out`.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        let codec = self.codec;
        match &mut self.inner {
            DecInner::Pcmu => out.extend(payload.iter().map(|&b| crate::g711::ulaw_to_linear(b))),
            DecInner::Pcma => out.extend(payload.iter().map(|&b| crate::g711::alaw_to_linear(b))),
            DecInner::G722(dec) => dec.decode(payload, out),
            DecInner::L16 => {
                if !payload.len().is_multiple_of(2) {
                    return Err(CodecError::BadPayload {
                        codec,
                        len: payload.len(),
                        why: "odd length",
                    });
                }
                out.extend(
                    payload
                        .chunks_exact(2)
                        .map(|c| i16::from_be_bytes([c[0], c[1]])),
                );
            }
            #[cfg(feature = "g729")]
            DecInner::G729(dec) => {
                // Voice frames are 10 bytes; a trailing 2-byte SID frame (Annex B) may follow.
                let mut rest = payload;
                while rest.len() >= g729_sys::VOICE_FRAME_BYTES {
                    out.extend_from_slice(&dec.decode(&rest[..10], false, false, false));
                    rest = &rest[10..];
                }
                match rest.len() {
                    0 => {}
                    2 => out.extend_from_slice(&dec.decode(rest, false, true, false)),
                    n => {
                        return Err(CodecError::BadPayload {
                            codec,
                            len: n,
                            why: "not 10-byte frames (+ optional 2-byte SID)",
                        })
                    }
                }
            }
            #[cfg(feature = "opus")]
            DecInner::Opus(dec) => {
                let packet = audiopus::packet::Packet::try_from(payload)
                    .map_err(|e| CodecError::Opus(e.to_string()))?;
                let mut buf = vec![0i16; 5760];
                let signals = audiopus::MutSignals::try_from(&mut buf[..])
                    .map_err(|e| CodecError::Opus(e.to_string()))?;
                let n = dec
                    .decode(Some(packet), signals, false)
                    .map_err(|e| CodecError::Opus(e.to_string()))?;
                out.extend_from_slice(&buf[..n]);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A speech-like test signal: three tones with slow amplitude changes, plus a little noise.
    fn signal(rate: u32, ms: u32) -> Vec<i16> {
        let n = (rate * ms / 1000) as usize;
        let mut seed = 12345u32;
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let noise = ((seed >> 16) as f64 / 65536.0 - 0.5) * 200.0;
                let env = 0.6 + 0.4 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
                let v = env
                    * (6000.0 * (2.0 * std::f64::consts::PI * 300.0 * t).sin()
                        + 4000.0 * (2.0 * std::f64::consts::PI * 700.0 * t).sin()
                        + 2000.0 * (2.0 * std::f64::consts::PI * 1500.0 * t).sin())
                    + noise;
                v as i16
            })
            .collect()
    }

    /// Normalised cross-correlation at the best lag within `max_lag` samples (codecs delay).
    fn best_correlation(a: &[i16], b: &[i16], max_lag: usize) -> f64 {
        let mut best = f64::MIN;
        for lag in 0..=max_lag {
            let n = a.len().min(b.len().saturating_sub(lag));
            let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
            for i in 0..n {
                let x = f64::from(a[i]);
                let y = f64::from(b[i + lag]);
                ab += x * y;
                aa += x * x;
                bb += y * y;
            }
            if aa > 0.0 && bb > 0.0 {
                best = best.max(ab / (aa * bb).sqrt());
            }
        }
        best
    }

    fn snr_db(a: &[i16], b: &[i16]) -> f64 {
        let (mut sig, mut noise) = (0.0, 0.0);
        for (x, y) in a.iter().zip(b) {
            sig += f64::from(*x).powi(2);
            noise += (f64::from(*x) - f64::from(*y)).powi(2);
        }
        10.0 * (sig / noise.max(1.0)).log10()
    }

    fn round_trip(codec: Codec) -> (Vec<i16>, Vec<i16>, usize) {
        let input = signal(codec.sample_rate(), 1000);
        let mut enc = Encoder::new(codec).unwrap();
        let mut dec = Decoder::new(codec).unwrap();
        let frame = codec.samples_per_frame(20);
        let mut out = Vec::new();
        let mut bytes = 0;
        for chunk in input.chunks_exact(frame) {
            let mut payload = Vec::new();
            enc.encode(chunk, &mut payload).unwrap();
            bytes = payload.len();
            dec.decode(&payload, &mut out).unwrap();
        }
        (input, out, bytes)
    }

    #[test]
    fn g711_round_trips_with_high_snr() {
        for c in [Codec::Pcmu, Codec::Pcma] {
            let (i, o, bytes) = round_trip(c);
            assert_eq!(bytes, 160);
            assert!(snr_db(&i, &o) > 30.0, "{c:?} SNR {}", snr_db(&i, &o));
        }
    }

    #[test]
    fn l16_is_lossless_big_endian_640_bytes() {
        let (i, o, bytes) = round_trip(Codec::L16);
        assert_eq!(bytes, 640);
        assert_eq!(i, o);
        let mut p = Vec::new();
        Encoder::new(Codec::L16)
            .unwrap()
            .encode(&[0x0102; 160], &mut p)
            .unwrap();
        assert_eq!(&p[..2], &[0x01, 0x02]);
    }

    #[test]
    fn g722_160_bytes_per_20_ms_and_round_trips_a_prompt() {
        let (i, o, bytes) = round_trip(Codec::G722);
        assert_eq!(bytes, 160);
        // The QMFs delay the audio by 22 samples.
        let c = best_correlation(&i, &o, 40);
        assert!(c > 0.99, "G.722 correlation {c}");
        // A real prompt (speech, 16 kHz), packet by packet as the prompt cache encodes it.
        let pcm: Vec<i16> = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/g722/welcome.s16le"
        ))
        .unwrap()
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
        let (mut enc, mut dec) = (
            Encoder::new(Codec::G722).unwrap(),
            Decoder::new(Codec::G722).unwrap(),
        );
        let mut out = Vec::new();
        for packet in pcm.chunks_exact(Codec::G722.samples_per_frame(20)) {
            let mut payload = Vec::new();
            enc.encode(packet, &mut payload).unwrap();
            dec.decode(&payload, &mut out).unwrap();
        }
        let c = best_correlation(&pcm, &out, 40);
        let aligned = &out[22..];
        let snr = snr_db(&pcm[..aligned.len()], aligned);
        assert!(
            c > 0.99 && snr > 15.0,
            "G.722 on a prompt: correlation {c}, SNR {snr} dB"
        );
    }

    #[test]
    fn l16_narrowband_is_lossless_big_endian_320_bytes() {
        let (i, o, bytes) = round_trip(Codec::L16Narrowband);
        assert_eq!(
            (bytes, Codec::L16Narrowband.samples_per_frame(20)),
            (320, 160)
        );
        assert_eq!(i, o);
        let mut p = Vec::new();
        Encoder::new(Codec::L16Narrowband)
            .unwrap()
            .encode(&[-2; 80], &mut p)
            .unwrap();
        assert_eq!(&p[..4], &[0xFF, 0xFE, 0xFF, 0xFE], "network byte order");
    }

    #[cfg(feature = "g729")]
    #[test]
    fn g729_two_ten_byte_frames_per_packet_and_correlates() {
        let (i, o, bytes) = round_trip(Codec::G729);
        assert_eq!(bytes, 20);
        let c = best_correlation(&i[800..7200], &o[800..], 200);
        assert!(c > 0.6, "G.729 correlation {c}");
    }

    #[cfg(feature = "opus")]
    #[test]
    fn opus_round_trip_correlates() {
        let (i, o, bytes) = round_trip(Codec::Opus);
        assert!(bytes > 10 && bytes < 400, "{bytes}");
        assert_eq!(o.len(), i.len());
        let c = best_correlation(&i[4800..43200], &o[4800..], 1000);
        assert!(c > 0.8, "Opus correlation {c}");
    }

    #[test]
    fn wrong_frame_size_is_an_error_not_a_panic() {
        let mut e = Encoder::new(Codec::Pcmu).unwrap();
        assert!(e.encode(&[0; 17], &mut Vec::new()).is_err());
        let mut d = Decoder::new(Codec::L16).unwrap();
        assert!(d.decode(&[1, 2, 3], &mut Vec::new()).is_err());
    }

    #[test]
    fn properties() {
        assert_eq!(Codec::Opus.timestamp_step(20), 960);
        assert_eq!(Codec::L16.timestamp_step(20), 320);
        assert_eq!(Codec::G729.static_payload_type(), Some(18));
        assert_eq!(Codec::Pcmu.samples_per_frame(30), 240);
        // G.722: 16 kHz audio, 8 kHz RTP clock (RFC 3551 §4.5.2), static payload type 9.
        assert_eq!(Codec::G722.samples_per_frame(20), 320);
        assert_eq!(Codec::G722.timestamp_step(20), 160);
        assert_eq!(Codec::G722.static_payload_type(), Some(9));
        assert_eq!(Codec::L16Narrowband.timestamp_step(20), 160);
        assert_eq!(Codec::L16Narrowband.encoding_name(), "L16");
        let names: Vec<_> = Codec::ALL.iter().map(|c| c.config_name()).collect();
        assert_eq!(
            names,
            ["PCMU", "PCMA", "G722", "G729", "L16", "L16_8000", "OPUS"]
        );
    }
}
