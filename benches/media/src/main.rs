//! Benchmark: media (see benches/README.md and docs/benchmarks.md).
fn main() {}
