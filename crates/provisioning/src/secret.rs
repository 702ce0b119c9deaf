//! Salted slow hashes for PINs, passwords and the authentication code (Argon2id, PHC strings).
//!
//! Verification goes through `argon2`'s `verify_password`, which compares the computed and stored
//! digests in constant time. Cost: see [`PIN_PARAMS`] and docs/benchmarks.md.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::cell::RefCell;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// Argon2id parameters for keypad secrets: 4 MiB, 2 passes, 1 lane. Measured about 5 ms per
/// check on the reference machine: slow enough that guessing is throttled (and lockout stops it),
/// fast enough for hundreds of provisionings per second on two cores.
pub const PIN_PARAMS: (u32, u32, u32) = (4096, 2, 1);

/// Argon2id parameters for administrators' passwords: 19 MiB, 2 passes, 1 lane (OWASP's
/// recommended minimum for Argon2id). A password guards every phone and user, and logins are
/// rare, so it gets the memory-hard cost a keypad PIN on the IVR's hot path cannot afford.
pub const PASSWORD_PARAMS: (u32, u32, u32) = (19_456, 2, 1);

fn hasher() -> Argon2<'static> {
    argon2_with(PIN_PARAMS)
}

fn argon2_with((m, t, p): (u32, u32, u32)) -> Argon2<'static> {
    // The constants above are valid Argon2 parameters.
    let params = Params::new(m, t, p, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A stored secret: an Argon2 PHC string (`$argon2id$v=19$m=…`). Debug/Display never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash(String);

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("not an Argon2 hash (PHC string like `$argon2id$v=19$...`): {0}")]
    BadHash(String),
    #[error("hashing failed: {0}")]
    Hashing(String),
}

impl SecretHash {
    /// Hash a secret with a fresh random salt.
    pub fn hash(secret: &str) -> Result<SecretHash, SecretError> {
        Self::hash_with(&hasher(), secret)
    }

    /// Hash an administrator's password ([`PASSWORD_PARAMS`]).
    pub fn hash_password(password: &str) -> Result<SecretHash, SecretError> {
        Self::hash_with(&argon2_with(PASSWORD_PARAMS), password)
    }

    fn hash_with(argon: &Argon2<'_>, secret: &str) -> Result<SecretHash, SecretError> {
        let salt = SaltString::generate(&mut OsRng);
        let h = argon
            .hash_password(secret.as_bytes(), &salt)
            .map_err(|e| SecretError::Hashing(e.to_string()))?;
        Ok(SecretHash(h.to_string()))
    }

    /// Constant-time check of `secret` against this hash. Parameters come from the PHC string,
    /// so hashes made with other costs still verify. Argon2's working memory is kept per thread:
    /// allocating 4 MiB for each check (and the kernel zeroing it) cost about as much as the
    /// hashing itself when profiled under load.
    pub fn verify(&self, secret: &str) -> bool {
        thread_local! {
            static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
        }
        let Ok(parsed) = PasswordHash::new(&self.0) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return false;
        };
        let (Ok(algorithm), Ok(version), Ok(params)) = (
            Algorithm::try_from(parsed.algorithm),
            parsed
                .version
                .map_or(Ok(Version::default()), Version::try_from),
            Params::try_from(&parsed),
        ) else {
            return false;
        };
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        let blocks = params.block_count();
        let argon = Argon2::new(algorithm, version, params);
        let mut out = vec![0u8; expected.len()];
        let hashed = BLOCKS.with_borrow_mut(|mem| {
            if mem.len() < blocks {
                mem.resize(blocks, Block::default());
            }
            argon
                .hash_password_into_with_memory(secret.as_bytes(), salt, &mut out, &mut mem[..])
                .is_ok()
        });
        // `Output` compares in constant time.
        hashed && Output::new(&out).is_ok_and(|o| o == expected)
    }

    /// Spend one verification's worth of work without a stored hash, so that an unknown user ID
    /// takes as long to refuse as a wrong PIN.
    pub fn verify_dummy(secret: &str) {
        static DUMMY: OnceLock<Option<SecretHash>> = OnceLock::new();
        if let Some(h) = DUMMY.get_or_init(|| SecretHash::hash("not-a-real-secret").ok()) {
            let _ = h.verify(secret);
        }
    }

    /// The same for a password: one password check's worth of work.
    pub fn verify_dummy_password(password: &str) {
        static DUMMY: OnceLock<Option<SecretHash>> = OnceLock::new();
        if let Some(h) = DUMMY.get_or_init(|| SecretHash::hash_password("not-a-real-secret").ok()) {
            let _ = h.verify(password);
        }
    }

    /// The PHC string, for storage.
    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl FromStr for SecretHash {
    type Err = SecretError;
    fn from_str(s: &str) -> Result<Self, SecretError> {
        let parsed = PasswordHash::new(s).map_err(|e| SecretError::BadHash(e.to_string()))?;
        if !parsed.algorithm.as_str().starts_with("argon2") {
            return Err(SecretError::BadHash(format!(
                "algorithm `{}` is not argon2",
                parsed.algorithm
            )));
        }
        Ok(SecretHash(s.to_owned()))
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = SecretHash::hash("12345").unwrap();
        assert!(h.verify("12345"));
        assert!(!h.verify("12346"));
        assert!(!h.verify(""));
        assert!(h.as_phc().starts_with("$argon2id$"));
        assert!(!format!("{h:?}").contains("argon2"));
        // Salted: the same secret hashes differently.
        assert_ne!(SecretHash::hash("12345").unwrap().as_phc(), h.as_phc());
        // Round trip through the stored form.
        let back: SecretHash = h.as_phc().parse().unwrap();
        assert!(back.verify("12345"));
        assert!("plain".parse::<SecretHash>().is_err());
        let p = SecretHash::hash_password("correct horse").unwrap();
        assert!(p.as_phc().contains("m=19456,t=2,p=1"), "{}", p.as_phc());
        assert!(p.verify("correct horse") && !p.verify("correct horsf"));
    }

    #[test]
    fn verifies_hashes_of_other_costs_with_the_reused_memory() {
        use argon2::password_hash::PasswordHasher;
        // Bigger, then smaller than the PIN cost, on one thread (one reused buffer); and an
        // Argon2i hash.
        for (alg, m, t) in [
            (Algorithm::Argon2id, 8192, 1),
            (Algorithm::Argon2id, 1024, 3),
            (Algorithm::Argon2i, 4096, 2),
        ] {
            let salt = SaltString::generate(&mut OsRng);
            let a = Argon2::new(alg, Version::V0x13, Params::new(m, t, 1, None).unwrap());
            let phc = a.hash_password(b"24680", &salt).unwrap().to_string();
            let h: SecretHash = phc.parse().unwrap();
            assert!(h.verify("24680"), "{phc}");
            assert!(!h.verify("24681"), "{phc}");
        }
        // Our hash, accepted by the library's own verifier as well as by ours.
        let h = SecretHash::hash("13579").unwrap();
        let parsed = PasswordHash::new(h.as_phc()).unwrap();
        use argon2::password_hash::PasswordVerifier;
        assert!(Argon2::default().verify_password(b"13579", &parsed).is_ok());
        assert!(h.verify("13579"));
    }
}
