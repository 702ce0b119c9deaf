//! Logging setup shared by every command: text or JSON (config `log.format`), filter from
//! `log.level` unless `RUST_LOG` is set; every value cleaned of control characters and cut to a
//! bounded length ([`crate::log_format`]).

use crate::log_format::{text_field, SafeJson};
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::debug_fn;
use tracing_subscriber::EnvFilter;

pub fn init(format: &str, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .fmt_fields(debug_fn(text_field).delimited(" "));
    // try_init: tests may initialise twice in one process.
    let _ = if format == "json" {
        b.with_ansi(false).event_format(SafeJson).try_init()
    } else {
        // Colour only on a terminal: log files and journald get plain text.
        b.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init()
    };
}
