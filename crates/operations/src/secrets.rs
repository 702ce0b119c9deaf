//! Per-device SIP secrets. Each device's digest secret is derived from a key only the servers hold
//! (HMAC-SHA-256 of the device name and the credential's generation), so the database never holds
//! a secret: a stolen database or backup gives no phone's password, and a new generation (at
//! auto-registration, claim, release) makes the old secret stop working at once. Nodes sharing a
//! database share the key file.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;

/// Unambiguous on a phone's screen and in a file: no 0/o, 1/l.
const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
/// 20 characters of 5 bits: 100 bits.
const LEN: usize = 20;

const SCREEN_TOKEN: &[u8] = b"screen claim token";

/// The key the device secrets are derived from.
#[derive(Clone)]
pub struct DeviceSecrets {
    key: [u8; 32],
}

impl std::fmt::Debug for DeviceSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceSecrets(<key redacted>)")
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a random secret (an API token, a session cookie), as stored.
pub(crate) fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex(&Sha256::digest(s.as_bytes()))
}

impl DeviceSecrets {
    pub fn from_key(key: [u8; 32]) -> Self {
        DeviceSecrets { key }
    }

    /// Read the key file (64 hex digits), or create it with a fresh random key, readable by its
    /// owner only. The error says which file and what is wrong with it.
    pub fn load_or_create(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let t = text.trim();
                let bytes: Option<Vec<u8>> = (t.len() == 64)
                    .then(|| {
                        (0..32)
                            .map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16).ok())
                            .collect()
                    })
                    .flatten();
                let key: [u8; 32] = bytes
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| format!("{}: not a device-secret key (64 hex digits); restore it from a backup of this node or of another node sharing the database", path.display()))?;
                Ok(DeviceSecrets { key })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = rand::random();
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                }
                write_private(path, &hex(&key))
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                tracing::info!(file = %path.display(), "created the device-secret key (back it up; nodes sharing the database need the same file)");
                Ok(DeviceSecrets { key })
            }
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// A key for another purpose (e.g. signing digest nonces), derived so that every node holding
    /// the key file derives the same one.
    pub fn derive_key(&self, purpose: &[u8]) -> [u8; 32] {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            unreachable!("HMAC takes keys of any length")
        };
        mac.update(b"selfprov derived key v1\0");
        mac.update(purpose);
        mac.finalize().into_bytes().into()
    }

    /// A signature of `parts` for `purpose` (HMAC-SHA-256 under a key derived for the purpose,
    /// 128 bits in hex): what a URL carries to prove the server made it — the per-device token of
    /// a phone's idle URL, the confirmation of an on-screen claim. Every node derives the same.
    pub fn sign(&self, purpose: &[u8], parts: &[&[u8]]) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.derive_key(purpose)) else {
            unreachable!("HMAC takes keys of any length")
        };
        for p in parts {
            // Length-prefixed, so ("ab", "c") and ("a", "bc") sign differently.
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        hex(&mac.finalize().into_bytes()[..16])
    }

    /// Whether `signature` is [`DeviceSecrets::sign`]'s for these parts (compared in constant time).
    pub fn verify(&self, purpose: &[u8], parts: &[&[u8]], signature: &str) -> bool {
        constant_time_eq(self.sign(purpose, parts).as_bytes(), signature.as_bytes())
    }

    /// The token in the idle URL of `device` while its credential is of `generation`: it names
    /// the device to the on-screen claim (a new generation — claim, release — makes a new one).
    pub fn screen_token(&self, device: &str, generation: u32) -> String {
        self.sign(
            SCREEN_TOKEN,
            &[device.as_bytes(), &generation.to_be_bytes()],
        )
    }

    /// Whether `token` is [`DeviceSecrets::screen_token`]'s (compared in constant time).
    pub fn check_screen_token(&self, device: &str, generation: u32, token: &str) -> bool {
        self.verify(
            SCREEN_TOKEN,
            &[device.as_bytes(), &generation.to_be_bytes()],
            token,
        )
    }

    /// The digest secret of `device` in credential generation `generation`.
    pub fn secret(&self, device: &str, generation: u32) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            unreachable!("HMAC takes keys of any length")
        };
        mac.update(b"selfprov device secret v1\0");
        mac.update(device.as_bytes());
        mac.update(&generation.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        // Five bits at a time from the digest's first 100 bits.
        let bits: u128 = u128::from_be_bytes(digest[..16].try_into().unwrap_or([0; 16]));
        (0..LEN)
            .map(|i| char::from(ALPHABET[((bits >> (123 - 5 * i)) & 31) as usize]))
            .collect()
    }
}

/// Equal bytes, in a time that depends on the length only (tokens and signatures from the network).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_per_device_and_generation_and_the_key_file() {
        let s = DeviceSecrets::from_key([7; 32]);
        let a1 = s.secret("SEP001122AABBCC", 1);
        assert_eq!(a1.len(), 20);
        assert!(a1.bytes().all(|b| ALPHABET.contains(&b)));
        assert_eq!(a1, s.secret("SEP001122AABBCC", 1), "stable");
        assert_ne!(
            a1,
            s.secret("SEP001122AABBCC", 2),
            "a new generation is a new secret"
        );
        assert_ne!(a1, s.secret("SEP001122AABBCD", 1));
        assert_ne!(
            a1,
            DeviceSecrets::from_key([8; 32]).secret("SEP001122AABBCC", 1),
            "another key"
        );
        let dir = std::env::temp_dir().join(format!("selfprov-key-{}", std::process::id()));
        let path = dir.join("sub/device-secret.key");
        let k1 = DeviceSecrets::load_or_create(&path).unwrap();
        let k2 = DeviceSecrets::load_or_create(&path).unwrap();
        assert_eq!(k1.secret("x", 1), k2.secret("x", 1), "the key is kept");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::write(&path, "not hex").unwrap();
        assert!(DeviceSecrets::load_or_create(&path)
            .unwrap_err()
            .contains("64 hex digits"));
        let _ = std::fs::remove_dir_all(dir);
        assert!(!format!("{k1:?}").contains(&hex(&k1.key)));
    }

    #[test]
    fn signatures_per_purpose_and_parts_and_screen_tokens_per_device_and_generation() {
        let s = DeviceSecrets::from_key([7; 32]);
        let sig = s.sign(b"p", &[b"ab", b"c"]);
        assert_eq!(sig.len(), 32);
        assert!(s.verify(b"p", &[b"ab", b"c"], &sig));
        assert!(
            !s.verify(b"p", &[b"a", b"bc"], &sig),
            "parts are not concatenated"
        );
        assert!(!s.verify(b"q", &[b"ab", b"c"], &sig), "another purpose");
        assert!(!s.verify(b"p", &[b"ab", b"c"], &sig[..31]));
        assert!(!DeviceSecrets::from_key([8; 32]).verify(b"p", &[b"ab", b"c"], &sig));
        let t = s.screen_token("SEP001122AABBCC", 1);
        assert_ne!(t, s.screen_token("SEP001122AABBCD", 1));
        assert_ne!(t, s.screen_token("SEP001122AABBCC", 2));
        assert_ne!(t, s.secret("SEP001122AABBCC", 1));
        assert!(s.check_screen_token("SEP001122AABBCC", 1, &t));
        assert!(!s.check_screen_token("SEP001122AABBCD", 1, &t));
        assert!(!s.check_screen_token("SEP001122AABBCC", 2, &t));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"abc", b"ab"));
    }
}
