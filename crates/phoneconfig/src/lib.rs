//! Phone configuration files: which file a phone asks for ([`family`]: Cisco, Yealink, Polycom,
//! Snom, Grandstream, baresip, Linphone, each with its own names and formats), what a template
//! sees ([`context`]), and the templates themselves ([`templates`]: shipped, and overridden by
//! an administrator per family, model or device). Pure: no sockets, no database; the service's
//! configuration server and the `selfprov config` commands use it.

pub mod context;
pub mod family;
pub mod mac;
pub mod templates;

pub use context::Context;
pub use family::{read_user_agent, recognise, Agent, Family, FileRequest};
pub use mac::Mac;
pub use templates::{Problem, Rendered, Templates};
