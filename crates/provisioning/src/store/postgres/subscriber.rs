//! Kamailio's `subscriber` table, kept by selfprov when phones register at Kamailio: one row per
//! device (username = the device name, the digest user its file carries; domain = the realm
//! Kamailio challenges with), holding only the digest HA1s of its current secret — never the
//! secret — and the DN it may register (`dn`). Every row is written in the transaction that
//! changes the device or its credential, so Kamailio never knows a credential selfprov has
//! replaced, nor misses one it has issued.

use super::PgTx;
use crate::store::StoreError;
use md5::{Digest, Md5};
use std::sync::Arc;

/// The secret of a device's credential generation (derived by the operations layer from the
/// device-secret key).
pub type SecretOf = Arc<dyn Fn(&str, u32) -> String + Send + Sync>;

/// What keeping the `subscriber` table needs.
#[derive(Clone)]
pub struct RegistrarAccounts {
    /// The realm (and `domain` column) Kamailio authenticates phones in.
    pub realm: String,
    pub secret: SecretOf,
}

impl std::fmt::Debug for RegistrarAccounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RegistrarAccounts {{ realm: {:?} }}", self.realm)
    }
}

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// HA1 and HA1b (RFC 2617: MD5 of `user:realm:password`; Kamailio's ha1b uses `user@domain`).
pub fn ha1s(user: &str, realm: &str, password: &str) -> (String, String) {
    (
        md5_hex(&format!("{user}:{realm}:{password}")),
        md5_hex(&format!("{user}@{realm}:{realm}:{password}")),
    )
}

impl PgTx<'_, '_> {
    /// The device's row for credential `generation`, with the DN the device has now.
    pub(super) fn sync_subscriber(&self, device: &str, generation: u32) -> Result<(), StoreError> {
        let Some(a) = self.accounts else {
            return Ok(());
        };
        let (ha1, ha1b) = ha1s(device, &a.realm, &(a.secret)(device, generation));
        self.exec(
            "INSERT INTO subscriber (username, domain, ha1, ha1b, dn) \
             VALUES ($1, $2, $3, $4, (SELECT dn FROM device WHERE name = $5)) \
             ON CONFLICT (username, domain) DO UPDATE SET ha1 = excluded.ha1, ha1b = excluded.ha1b, dn = excluded.dn",
            &[&device, &a.realm, &ha1, &ha1b, &device],
        )?;
        Ok(())
    }

    /// The DN a device may register, after it changed.
    pub(super) fn subscriber_dn(&self, device: &str, dn: Option<&str>) -> Result<(), StoreError> {
        if let Some(a) = self.accounts {
            self.exec(
                "UPDATE subscriber SET dn = $3 WHERE username = $1 AND domain = $2",
                &[&device, &a.realm, &dn],
            )?;
        }
        Ok(())
    }

    /// A deleted device's row.
    pub(super) fn drop_subscriber(&self, device: &str) -> Result<(), StoreError> {
        if let Some(a) = self.accounts {
            self.exec(
                "DELETE FROM subscriber WHERE username = $1 AND domain = $2",
                &[&device, &a.realm],
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    /// RFC 2617 §3.5's example: HA1 of Mufasa / testrealm@host.com / Circle Of Life.
    #[test]
    fn ha1_is_rfc_2617s() {
        let (ha1, _) = super::ha1s("Mufasa", "testrealm@host.com", "Circle Of Life");
        assert_eq!(ha1, "939e7578ed9e3c518a452acee763bce9");
    }
}
