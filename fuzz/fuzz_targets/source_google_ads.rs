//! The `google-ads` adapter: any body (content type sniffed from it), decoded and normalized as the
//! webhook endpoint does, then renormalized as the router does.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| leadrouter_fuzz::source("google-ads", data));
