//! The `selfprov` binary: admin CLI and (later) the service.
fn main() {}
