//! Logging setup shared by every command: text or JSON (config `log.format`), filter from
//! `log.level` unless `RUST_LOG` is set.

use tracing_subscriber::EnvFilter;

pub fn init(format: &str, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only on a terminal: log files and journald get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // try_init: tests may initialise twice in one process.
    let _ = if format == "json" {
        b.json().try_init()
    } else {
        b.try_init()
    };
}
