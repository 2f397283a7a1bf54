//! The canonical JSON body of `POST /v1/leads`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| leadrouter_fuzz::api_json(data));
