//! Certificates for TLS tests, made with the `openssl` command line: a test authority and the
//! certificates it issues (for an IP address, as a site's PKI would), each a PEM file with its
//! key beside it.

use crate::require_tool;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A certificate authority kept in a directory.
pub struct Authority {
    dir: PathBuf,
    name: String,
    /// The authority's certificate (what a peer trusts).
    pub certificate: PathBuf,
    key: PathBuf,
}

/// An issued certificate and its private key.
pub struct Issued {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

impl Issued {
    /// Certificate and key in one PEM file (`<certificate>.both`), as baresip and Kamailio's
    /// older modules take them.
    pub fn combined(&self) -> PathBuf {
        let both = self.certificate.with_extension("both.pem");
        let mut pem = std::fs::read(&self.certificate).expect("certificate");
        pem.extend(std::fs::read(&self.key).expect("key"));
        std::fs::write(&both, pem).expect("write combined PEM");
        both
    }
}

/// `openssl ARGS`, which must succeed.
fn openssl(args: &[&str]) {
    let o = Command::new(require_tool("openssl"))
        .args(args)
        .output()
        .expect("run openssl");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

const EC: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

impl Authority {
    /// A new self-signed authority `<dir>/<name>-ca.pem`.
    pub fn new(dir: &Path, name: &str) -> Authority {
        let (certificate, key) = (
            dir.join(format!("{name}-ca.pem")),
            dir.join(format!("{name}-ca.key")),
        );
        let subject = format!("/CN={name} test authority");
        let mut args = vec!["req", "-x509", "-days", "2", "-subj", &subject];
        args.extend(EC);
        args.extend(["-keyout", s(&key), "-out", s(&certificate)]);
        openssl(&args);
        Authority {
            dir: dir.to_owned(),
            name: name.to_owned(),
            certificate,
            key,
        }
    }

    /// A server certificate for `ip` (its only subject alternative name), named `cn`.
    pub fn issue(&self, cn: &str, ip: &str) -> Issued {
        let p = |suffix: &str| self.dir.join(format!("{}-{cn}{suffix}", self.name));
        let (csr, certificate, key, ext) = (p(".csr"), p(".pem"), p(".key"), p(".ext"));
        let subject = format!("/CN={cn}");
        let mut args = vec!["req", "-new", "-subj", &subject];
        args.extend(EC);
        args.extend(["-keyout", s(&key), "-out", s(&csr)]);
        openssl(&args);
        std::fs::write(
            &ext,
            format!(
                "subjectAltName=IP:{ip}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n"
            ),
        )
        .expect("write extensions");
        openssl(&[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            s(&csr),
            "-CA",
            s(&self.certificate),
            "-CAkey",
            s(&self.key),
            "-CAcreateserial",
            "-extfile",
            s(&ext),
            "-out",
            s(&certificate),
        ]);
        Issued { certificate, key }
    }
}
