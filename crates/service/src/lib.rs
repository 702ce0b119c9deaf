//! The running selfprov service. The protocol crates (`sip`, `media`, `dtmf`, `ivr`) are state
//! machines and engines and the domain's operations are in `selfprov-operations`; this crate is
//! the thin outer layer that owns the runtime, sockets, the store handle and the clock, and moves
//! events and actions between them.
//!
//! The way of a call, by file: [`start`] wires everything and starts the event loop
//! ([`event_loop`]); an INVITE arrives as a SIP event ([`sip_events`]), its device is identified
//! ([`caller_identity`]: digest with the phone's own credentials, [`phone_auth`]; its
//! registration binding; or a trusted proxy's assertion) and it becomes a call in the call table
//! ([`calls`]); digits and prompt ends come from the media engine ([`media_events`]);
//! each event goes to the call's IVR and the actions it returns are carried out
//! ([`ivr_actions`]): prompts, timers, PIN checks and the claim (through the claim engine, off
//! the loop: [`work`]); NOTIFY check-sync finds its way to the phone by [`phone_target`]. Phones
//! register at the built-in registrar ([`registrar`], [`phone_registrations`]); the route point
//! registers at an external one ([`route_point`]).
//! SIGHUP and changed settings reload without dropping calls ([`reload`]); SIGTERM drains
//! ([`operator`], [`signals`]). `/health`, `/status` and `/metrics` are served by [`admin`] from
//! [`status`] and [`metrics`] on the [`background`] runtime (lower scheduling priority than
//! calls), beside the HTTP API (crate `selfprov-api`), which asks the loop
//! for the live calls and registrations ([`live_view`]) and has it tell phones changed through
//! the API to fetch their files again ([`resync`]). Two background tasks watch auto-registration:
//! [`range_watch`] counts the DN range, [`unclaimed_sweep`] expires devices never claimed.

pub mod admin;
pub mod background;
mod caller_identity;
mod calls;
mod codecs;
pub mod config_server;
mod event_loop;
pub mod http_listener;
mod ivr_actions;
mod live_view;
mod media_events;
pub mod metrics;
mod operator;
mod phone_auth;
pub mod phone_config;
mod phone_registrations;
mod phone_target;
mod range_watch;
mod redact;
pub mod registrar;
mod reload;
mod resync;
mod route_point;
pub mod screen_claim;
pub mod signals;
mod sip_events;
mod start;
mod state;
mod status;
pub mod tls;
mod unclaimed_sweep;
mod work;

pub use start::{open_operations, open_store, serve};
