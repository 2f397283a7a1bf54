//! The routing config loader (TOML, or JSON when the text starts with `{`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| leadrouter_fuzz::config(data));
