//! selfprov's built-in test phone (`selfprov phone`): a brand-new phone that fetches its
//! configuration file (its line and credentials), registers with digest, dials
//! the route point, answers the IVR with DTMF (RFC 4733, SIP INFO or in-band tones) when it is
//! asked, and reports what it heard — prompts by name, the result, its new extension — plus
//! set-up latency and RTP receive statistics. The load generator reuses its pieces.

pub mod boot;
pub mod call;
pub mod config_file;
pub mod recognize;
pub mod sipmsg;
pub mod stats;
pub mod tftp_client;

pub use call::{run, DtmfMode, PhoneError, PhoneOptions, Report, Script};
pub use recognize::Recognizer;
