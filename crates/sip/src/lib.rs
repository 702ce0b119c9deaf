//! SIP signalling for selfprov.
//!
//! - [`message`]: parsing SIP messages with the maintained rsip-family parser of `rsipstack`
//!   (pinned), plus the checks it does not make (Content-Length, truncated bodies) and the
//!   header lookups the route point needs (compact forms, comma-joined values).
//! - [`sdp`]: SDP offer/answer (RFC 3264/4566) over a lenient line parser.
//! - [`digest`]: HTTP digest authentication for REGISTER (RFC 2617/7616/8760: MD5, SHA-256,
//!   qop lists, `nc` as 8 hex digits, `cnonce`, `opaque`, stale nonces).
//! - [`rate_limit`]: per-source request rate limits (token buckets by method class), sans I/O.
//! - [`tcp_limits`]: caps and the idle timeout on SIP over TCP and TLS.
//! - [`tls`]: the server certificate in use, TLS handshakes, and the client trust for reaching
//!   `sips:`/`;transport=tls` peers.
//! - [`transaction`]: RFC 3261 transactions (timers A–K) as sans-I/O state machines.

pub mod digest;
pub mod digest_server;
pub mod endpoint;
pub mod headers;
pub mod message;
pub mod rate_limit;
pub mod registration;
pub mod sdp;
pub mod stack;
pub mod tcp_limits;
pub mod tls;
pub mod transaction;
