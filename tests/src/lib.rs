//! Harness for selfprov end-to-end tests (see tests/tests/).
