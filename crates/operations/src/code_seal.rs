//! Activation codes kept for their user's self-care (docs/activation-codes.md, "Storage"): a
//! code is looked up by its keyed hash, and also kept *sealed* — each digit shifted by a keystream
//! digit, the keystream HMAC-SHA-256 of the code's id under a key derived from the install's
//! secret key file. Every code's id is new and random, so no keystream is used twice: without the
//! key the sealed digits say nothing about the code (a one-time pad), with it the service shows
//! the code to the one user it was issued for. A code unsealed with another key does not match
//! its hash and is not shown.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Sixteen keystream digits for code `id` (two bytes per digit: the bias of a 16-bit value
/// modulo 10 is 6 in 65,536).
fn keystream(key: &[u8; 32], id: &str) -> [u8; 16] {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(b"selfprov activation code seal v1\0");
    mac.update(id.as_bytes());
    let bytes = mac.finalize().into_bytes();
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = (u16::from_be_bytes([pair[0], pair[1]]) % 10) as u8;
    }
    out
}

/// `code` (digits only) sealed for code `id`.
pub(crate) fn seal(key: &[u8; 32], id: &str, code: &str) -> String {
    shift(key, id, code, |d, k| (d + k) % 10)
}

/// The code sealed as `sealed` for `id`; `None` when `sealed` is not 16 digits.
pub(crate) fn unseal(key: &[u8; 32], id: &str, sealed: &str) -> Option<String> {
    (sealed.len() == 16 && sealed.bytes().all(|b| b.is_ascii_digit()))
        .then(|| shift(key, id, sealed, |d, k| (d + 10 - k) % 10))
}

fn shift(key: &[u8; 32], id: &str, digits: &str, f: impl Fn(u8, u8) -> u8) -> String {
    digits
        .bytes()
        .zip(keystream(key, id))
        .map(|(d, k)| char::from(b'0' + f(d - b'0', k)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_code_opens_with_its_key_and_id_only() {
        let (key, code) = ([7u8; 32], "1234567890123456");
        let s = seal(&key, "a1b2c3", code);
        assert_eq!(s.len(), 16);
        assert_ne!(s, code);
        assert_eq!(unseal(&key, "a1b2c3", &s).as_deref(), Some(code));
        assert_ne!(unseal(&[8u8; 32], "a1b2c3", &s).as_deref(), Some(code));
        assert_ne!(unseal(&key, "a1b2c4", &s).as_deref(), Some(code));
        assert_ne!(
            seal(&key, "a1b2c4", code),
            s,
            "another id, another keystream"
        );
        assert_eq!(unseal(&key, "a1b2c3", "12345"), None);
        assert_eq!(unseal(&key, "a1b2c3", "123456789012345x"), None);
    }

    #[test]
    fn every_keystream_digit_value_occurs() {
        let mut seen = [false; 10];
        for i in 0..50 {
            for d in keystream(&[1; 32], &i.to_string()) {
                seen[usize::from(d)] = true;
            }
        }
        assert!(seen.iter().all(|s| *s), "{seen:?}");
    }
}
