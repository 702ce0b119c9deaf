//! What the caller asks of the phone: how to send digits, the script of the call (digit groups,
//! hold, hang-up), and the options of one run.

use crate::config_file::ConfigServer;
use selfprov_media::Codec;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// How the phone sends its digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DtmfMode {
    /// RTP telephone-events (RFC 4733).
    Rfc4733,
    /// SIP INFO, `application/dtmf-relay`.
    Info,
    /// Tones in the audio (G.711 only).
    Inband,
}

/// What the caller does during the call.
#[derive(Debug, Clone)]
pub struct Script {
    /// Digit groups; each is typed when the IVR next asks for input (a prompt such as
    /// `enter_pin` starts), after `typing_delay`.
    pub groups: Vec<String>,
    pub typing_delay: Duration,
    /// Put the call on hold when this prompt starts, for `hold_for`, then resume.
    pub hold_at: Option<String>,
    pub hold_for: Duration,
    /// Hang up once the last group is typed (e.g. in the middle of the PIN).
    pub hangup_after_digits: bool,
}

impl Script {
    /// Split `--digits` into groups: at commas when there are any, else after each `#`.
    /// `1004#12345#1` → `1004#`, `12345#`, `1`.
    pub fn groups_from(digits: &str) -> Vec<String> {
        let d: String = digits.chars().filter(|c| !c.is_whitespace()).collect();
        if d.contains(',') {
            return d
                .split(',')
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect();
        }
        let mut out = Vec::new();
        let mut cur = String::new();
        for c in d.chars() {
            cur.push(c);
            if c == '#' {
                out.push(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct PhoneOptions {
    /// The selfprov SIP address (registrar and route point).
    pub server: SocketAddr,
    /// Local address to bind SIP and RTP to.
    pub bind: IpAddr,
    /// Device name (`SEP` + MAC) the phone registers as.
    pub device: String,
    pub user_agent: String,
    /// Number to dial.
    pub route_point: String,
    pub codec: Codec,
    pub dtmf: DtmfMode,
    /// Clock rate of the telephone-events offered with RFC 4733 (usually the codec's RTP clock
    /// rate, see [`crate::call::AudioOffer::new`]).
    pub dtmf_rate: u32,
    /// REGISTER before calling (a brand-new phone does).
    pub register: bool,
    /// Fetch the device's configuration file from this server first (HTTP; a new phone's first
    /// fetch needs no credentials) and use its line: number and digest credentials.
    pub config_server: Option<ConfigServer>,
    /// The device's digest secret when it has one already (a phone set up by hand, or one that
    /// fetched its file before): answers the configuration server's and the registrar's
    /// challenges.
    pub password: Option<String>,
    /// Send 20 ms of (silent) audio every packet time, as a phone without VAD does.
    pub send_audio: bool,
    pub script: Script,
    /// Give up (BYE) after this long in the call.
    pub call_limit: Duration,
    /// After a successful call, wait this long for NOTIFY check-sync.
    pub notify_wait: Duration,
    /// Write the received audio, decoded, to this WAV file.
    pub record: Option<PathBuf>,
}
