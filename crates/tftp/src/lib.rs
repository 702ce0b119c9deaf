//! A read-only TFTP server as a state machine (no sockets, no clock of its own): phones that only
//! speak TFTP fetch their configuration files with it. [`packet`] parses and writes the packets;
//! [`transfer`] sends one file to one client: blocks, acknowledgements, retransmission on
//! timeout, the negotiated options, and block numbers that roll over past 65535.
//!
//! Written here rather than taken from a crate: the TFTP servers on crates.io own their sockets
//! and their async runtime (async-tftp runs on smol), while the service needs per-request policy
//! (which file, for whom) inside its own tokio runtime and tests that drive a transfer with bytes
//! and time only. The protocol is small: RFC 1350 and the three option RFCs.

pub mod packet;
pub mod transfer;

pub use packet::{ErrorCode, Packet, ReadRequest};
pub use transfer::{Options, Step, Transfer};
