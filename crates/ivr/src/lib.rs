//! The self-provisioning IVR call flow (SPEC "The IVR call flow", steps 4–9) as a state machine
//! without I/O, in the style of quinn-proto or str0m: the service feeds [`Event`]s with the
//! current time into [`Call::handle`] and carries out the [`Action`]s it returns (play prompts,
//! arm a timer, ask the provisioning core, hang up). No sockets, no SQL, no clock: a whole call
//! runs in a unit test in microseconds.

mod flow;
mod prompt;

pub use flow::{Action, AuthOk, Call, Event, IvrSettings, Key, TimerId};
pub use prompt::{Prompt, PromptRef};
