//! The running selfprov service. The protocol crates (`sip`, `media`, `dtmf`, `ivr`) are state
//! machines and engines; this crate is the thin outer layer that owns the runtime, sockets, the
//! database handle and the clock, and moves events and actions between them. It also serves the
//! admin HTTP endpoints (`/health`, `/status`, `/metrics`) and turns Unix signals into reload and
//! drain requests.

pub mod admin;
pub mod metrics;
pub mod registrar;
pub mod runtime;
pub mod signals;

pub use runtime::serve;
