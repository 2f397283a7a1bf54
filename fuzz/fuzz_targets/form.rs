//! The HTML form decoder (`POST /v1/leads` with `application/x-www-form-urlencoded`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| leadrouter_fuzz::form(data));
