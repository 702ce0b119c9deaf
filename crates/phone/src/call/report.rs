//! What happened on the call, for people (`Display`) and scripts (JSON): the prompts heard, the
//! digits typed, the outcome and new extension concluded from the prompts, timings and RTP
//! receive statistics.

use crate::stats::RtpStats;

#[derive(Debug, Clone, serde::Serialize)]
pub struct HeardAt {
    pub name: String,
    pub language: String,
    /// When the prompt began, ms after the call was answered.
    pub at_ms: u64,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RtpSummary {
    pub received: u64,
    pub lost: u64,
    pub out_of_order: u64,
    pub duplicates: u64,
    pub deviation_p50_ms: f64,
    pub deviation_p99_ms: f64,
    pub deviation_max_ms: f64,
}

/// What happened, for people (`Display`) and scripts (JSON).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub device: String,
    /// The configuration file fetched first, its size, and whether the server asked for the
    /// device's digest credentials.
    pub config_file: Option<String>,
    pub config_bytes: Option<usize>,
    pub config_with_digest: bool,
    /// The line's number the file gave (the temporary DN of a new phone).
    pub line: Option<String>,
    /// REGISTER's final status.
    pub registered: Option<u16>,
    /// Whether the registrar challenged (401) and the phone answered with digest.
    pub register_digest: bool,
    /// INVITE's final status.
    pub call_status: Option<u16>,
    pub codec: String,
    /// The answer's telephone-event format, `<payload type>/<clock rate>` (none: not agreed).
    pub telephone_event: Option<String>,
    pub prompts: Vec<HeardAt>,
    pub digits_sent: Vec<String>,
    /// `server BYE`, `phone BYE`, `refused`, `time limit`.
    pub ended_by: String,
    /// `provisioned`, the failure prompt heard (`account_locked`, `no_input`, ...), `refused`,
    /// or `unknown`.
    pub outcome: String,
    /// The extension the IVR read out before asking to confirm.
    pub new_dn: Option<String>,
    pub check_sync: bool,
    /// INVITE → 200 OK.
    pub setup_ms: Option<f64>,
    /// INVITE → first RTP packet.
    pub first_rtp_ms: Option<f64>,
    /// Last digit of each group → the next prompt.
    pub reaction_ms: Vec<f64>,
    pub rtp: RtpSummary,
}

impl RtpSummary {
    /// The receive statistics as the report gives them.
    pub(super) fn from_stats(stats: &RtpStats) -> RtpSummary {
        let dev = |q| stats.deviation_ms(q);
        RtpSummary {
            received: stats.received,
            lost: stats.lost(),
            out_of_order: stats.out_of_order,
            duplicates: stats.duplicates,
            deviation_p50_ms: dev(0.5),
            deviation_p99_ms: dev(0.99),
            deviation_max_ms: dev(1.0),
        }
    }
}

/// Prompts that end a call without provisioning.
const FAILURES: &[&str] = &[
    "account_locked",
    "activation_code_expired",
    "activation_code_invalid",
    "activation_code_used",
    "activation_code_wrong_device",
    "cancelled",
    "device_limit",
    "internal_error",
    "invalid_model",
    "no_device_template",
    "no_input",
    "no_primary_extension",
    "not_allowed",
    "not_autoregistered",
    "secure_device_not_supported",
    "service_unavailable",
    "too_many_attempts",
];

impl Report {
    pub(super) fn conclude(&mut self) {
        let names: Vec<&str> = self.prompts.iter().map(|p| p.name.as_str()).collect();
        self.outcome = if names.contains(&"success") {
            "provisioned".into()
        } else if let Some(f) = names.iter().rev().find(|n| FAILURES.contains(n)) {
            (*f).to_owned()
        } else if self.call_status.is_some_and(|s| s >= 300) {
            "refused".into()
        } else {
            "unknown".into()
        };
        if let Some(start) = names.iter().rposition(|n| *n == "confirm_extension") {
            let dn: String = names[start + 1..]
                .iter()
                .take_while(|n| n.starts_with("digit_"))
                .filter_map(|n| n.strip_prefix("digit_"))
                .collect();
            if !dn.is_empty() {
                self.new_dn = Some(dn);
            }
        }
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let (Some(file), Some(bytes)) = (&self.config_file, self.config_bytes) {
            let how = if self.config_with_digest {
                "with digest"
            } else {
                "first fetch, no credentials"
            };
            write!(f, "fetched {file}: {bytes} bytes over HTTP ({how})")?;
            match &self.line {
                Some(l) => writeln!(f, ", line {l}, credentials for {}", self.device)?,
                None => writeln!(f)?,
            }
        }
        let as_line = self
            .line
            .as_ref()
            .map(|l| format!(" as {l}"))
            .unwrap_or_default();
        let how = if self.register_digest {
            " (digest)"
        } else {
            ""
        };
        match self.registered {
            Some(s) => writeln!(f, "registered {}{as_line}: {s}{how}", self.device)?,
            None => writeln!(f, "device {} (not registering)", self.device)?,
        }
        match (self.call_status, self.setup_ms) {
            (Some(s), Some(ms)) => writeln!(f, "call: {s} after {ms:.1} ms, codec {}", self.codec)?,
            (Some(s), None) => writeln!(f, "call: {s}")?,
            _ => writeln!(f, "call: no final answer")?,
        }
        let heard: Vec<&str> = self.prompts.iter().map(|p| p.name.as_str()).collect();
        writeln!(
            f,
            "heard: {}",
            if heard.is_empty() {
                "(nothing recognised)".to_owned()
            } else {
                heard.join(", ")
            }
        )?;
        writeln!(f, "typed: {}", self.digits_sent.join(" "))?;
        writeln!(f, "ended by: {}", self.ended_by)?;
        writeln!(
            f,
            "rtp: {} received, {} lost, {} out of order, p99 deviation {:.2} ms",
            self.rtp.received, self.rtp.lost, self.rtp.out_of_order, self.rtp.deviation_p99_ms
        )?;
        writeln!(f, "result: {}", self.outcome)?;
        if let Some(dn) = &self.new_dn {
            writeln!(f, "new extension: {dn}")?;
        }
        write!(
            f,
            "check-sync NOTIFY: {}",
            if self.check_sync {
                "received"
            } else {
                "not received"
            }
        )
    }
}
