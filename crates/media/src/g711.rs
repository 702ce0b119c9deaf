//! G.711 µ-law and A-law (ITU-T G.711), written by hand: the algorithm is a few lines and table
//! lookups beat any dependency. Decoding is exact (tables built from the G.711 formulas);
//! encoding follows the reference segment search.

const BIAS: i32 = 0x84;
const CLIP: i32 = 32635;

/// Encode one 16-bit linear sample to µ-law.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(CLIP) + BIAS;
    // Segment = position of the highest set bit among bits 7..=14.
    let mut exponent = 7;
    let mut mask = 0x4000;
    while exponent > 0 && (s & mask) == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// Decode one µ-law byte to 16-bit linear.
pub fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_DECODE[code as usize]
}

/// Encode one 16-bit linear sample to A-law.
pub fn linear_to_alaw(sample: i16) -> u8 {
    let mut s = i32::from(sample) >> 3; // A-law works on 13-bit magnitudes
    let mask = if s >= 0 {
        0xD5
    } else {
        s = -s - 1;
        0x55
    };
    let seg_ends = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
    let seg = seg_ends.iter().position(|&e| s <= e).unwrap_or(8) as i32;
    let aval = if seg >= 8 {
        0x7F
    } else {
        let base = seg << 4;
        if seg < 2 {
            base | ((s >> 1) & 0x0F)
        } else {
            base | ((s >> seg) & 0x0F)
        }
    };
    (aval ^ mask) as u8
}

/// Decode one A-law byte to 16-bit linear.
pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW_DECODE[code as usize]
}

const fn ulaw_decode(code: u8) -> i16 {
    let u = !code;
    let t = (((u & 0x0F) as i32) << 3) + BIAS;
    let t = t << ((u & 0x70) >> 4);
    if u & 0x80 != 0 {
        (BIAS - t) as i16
    } else {
        (t - BIAS) as i16
    }
}

const fn alaw_decode(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let seg = ((a & 0x70) >> 4) as i32;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    if a & 0x80 != 0 {
        t as i16
    } else {
        -t as i16
    }
}

const fn build<const U: bool>() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if U {
            ulaw_decode(i as u8)
        } else {
            alaw_decode(i as u8)
        };
        i += 1;
    }
    t
}

static ULAW_DECODE: [i16; 256] = build::<true>();
static ALAW_DECODE: [i16; 256] = build::<false>();

#[cfg(test)]
mod tests {
    use super::*;

    /// ITU-T G.711 µ-law decision levels, from the formula: decoding a code and encoding the
    /// result gives the code back (for every code but the negative zero).
    #[test]
    fn ulaw_round_trip_every_code() {
        for c in 0..=255u8 {
            let lin = ulaw_to_linear(c);
            let back = linear_to_ulaw(lin);
            if c == 0x7F {
                // -0 decodes to 0, which encodes as +0 (0xFF).
                assert_eq!(back, 0xFF);
            } else {
                assert_eq!(back, c, "code {c:#04x} -> {lin} -> {back:#04x}");
            }
        }
    }

    #[test]
    fn alaw_round_trip_every_code() {
        for c in 0..=255u8 {
            let lin = alaw_to_linear(c);
            assert_eq!(linear_to_alaw(lin), c, "code {c:#04x} -> {lin}");
        }
    }

    #[test]
    fn known_values() {
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_alaw(0), 0xD5);
    }

    /// Encoding any 16-bit sample picks the nearest code or its neighbour (within one code at
    /// segment boundaries): the decoded value is never further than one quantisation step.
    #[test]
    fn encode_error_bounded_over_all_inputs() {
        for s in i16::MIN..=i16::MAX {
            for (enc, dec) in [
                (
                    linear_to_ulaw as fn(i16) -> u8,
                    ulaw_to_linear as fn(u8) -> i16,
                ),
                (linear_to_alaw, alaw_to_linear),
            ] {
                let c = enc(s);
                let d = i32::from(dec(c));
                let err = (d - i32::from(s)).abs();
                // Step size grows with magnitude: at most 1/16 of the value plus the smallest step,
                // and the clipped top end.
                let bound = (i32::from(s).abs() / 16).max(16)
                    + 1024 * i32::from(i32::from(s).abs() > 31000);
                assert!(err <= bound, "{s} -> {c:#04x} -> {d} (err {err})");
            }
        }
    }
}
