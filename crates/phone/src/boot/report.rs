//! What a boot did, step by step, for people (`Display`) and scripts (one JSON object per step as
//! it happens, then the whole report).

use super::vendor::Vendor;
use std::fmt;

/// One step of the boot sequence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// A file asked for `over` `tftp` or `http`: whether it was served, the HTTP status, its
    /// size, whether the server asked for (and got) the device's digest credentials, and the
    /// TFTP error.
    Fetch {
        file: String,
        over: &'static str,
        served: bool,
        status: Option<u16>,
        bytes: Option<usize>,
        digest: bool,
        error: Option<String>,
    },
    /// REGISTER with the line the files gave: the final status, the DN registered and the one
    /// before (none at the first boot).
    Register {
        registrar: String,
        auth_user: String,
        dn: String,
        dn_before: Option<String>,
        status: u16,
        digest: bool,
    },
    /// The call to the route point: `provisioned` or the failure heard, the extension read out.
    Claim {
        outcome: String,
        new_dn: Option<String>,
    },
    /// The claim on screen (`--screen`): `provisioned` or the outcome code shown (lower case),
    /// the extension the confirmation named, the screens seen (their XML root elements).
    ScreenClaim {
        outcome: String,
        new_dn: Option<String>,
        screens: Vec<String>,
    },
    /// NOTIFY check-sync received: the phone fetches its files again.
    CheckSync,
    /// A call to the line `dn` answered (200), and ended by the caller (BYE).
    Answered { dn: String, caller: String },
}

/// The whole boot.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BootReport {
    pub vendor: Vendor,
    pub device: String,
    pub steps: Vec<Step>,
    /// The DN registered last.
    pub dn: Option<String>,
    pub check_syncs: u32,
    /// `registered` (every step done, registered at the end), `file_gone` (after a check-sync
    /// the device's file is no longer served), `no_line`, `register_refused`, `no_check_sync`,
    /// `no_idle_url` (`--screen` and the file gives none), or `claim_<outcome>`.
    pub outcome: String,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Fetch {
                file,
                over,
                status,
                bytes,
                digest,
                error,
                ..
            } => {
                let how = if *digest { " with digest" } else { "" };
                match (bytes, status, error) {
                    (Some(b), _, _) => write!(f, "fetched {file} over {over}: {b} bytes{how}"),
                    (None, Some(s), _) => write!(f, "fetch {file} over {over}: {s}{how}"),
                    (None, None, e) => {
                        write!(
                            f,
                            "fetch {file} over {over}: {}",
                            e.as_deref().unwrap_or("?")
                        )
                    }
                }
            }
            Step::Register {
                registrar,
                dn,
                dn_before,
                status,
                ..
            } => {
                write!(f, "REGISTER {dn} at {registrar}: {status}")?;
                match dn_before {
                    Some(b) => write!(f, " (was {b})"),
                    None => Ok(()),
                }
            }
            Step::Claim { outcome, new_dn } => {
                write!(f, "claim: {outcome}")?;
                match new_dn {
                    Some(d) => write!(f, ", extension {d}"),
                    None => Ok(()),
                }
            }
            Step::ScreenClaim {
                outcome,
                new_dn,
                screens,
            } => {
                write!(f, "claim on screen ({}): {outcome}", screens.join(" > "))?;
                match new_dn {
                    Some(d) => write!(f, ", extension {d}"),
                    None => Ok(()),
                }
            }
            Step::CheckSync => f.write_str("NOTIFY check-sync received"),
            Step::Answered { dn, caller } => write!(f, "answered a call to {dn} from {caller}"),
        }
    }
}

impl fmt::Display for BootReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} phone {}", self.vendor, self.device)?;
        for s in &self.steps {
            writeln!(f, "  {s}")?;
        }
        write!(
            f,
            "{}: DN {}",
            self.outcome,
            self.dn.as_deref().unwrap_or("none")
        )
    }
}
