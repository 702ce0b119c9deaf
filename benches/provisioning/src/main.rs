//! Benchmark: provisioning (see benches/README.md and docs/benchmarks.md).
fn main() {}
