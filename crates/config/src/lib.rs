//! Typed, validated selfprov configuration (TOML).
