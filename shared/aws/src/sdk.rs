//! The SDK's configuration, built the same way for every AWS client leadrouter makes.
//!
//! The HTTPS client is rustls with *ring* as its crypto provider instead of the SDK's default,
//! aws-lc-rs. Both are maintained and audited; ring is pure Rust and assembly, while aws-lc-sys
//! builds a C library with its own build script (46 s of CPU on the 2-core machine, for each
//! target: x86_64 for tests and arm64 for Lambda) and adds to every binary. What ring lacks is
//! the post-quantum hybrid key exchange (X25519MLKEM768) that aws-lc-rs prefers; TLS to AWS
//! endpoints then uses X25519 (docs/reliability.md, "Dependency audit", says what the TLS
//! stack is and why).

use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// The SDK's usual configuration loader (credentials, region, `AWS_ENDPOINT_URL`, the latest
/// behaviour version) with leadrouter's HTTPS client.
pub fn loader() -> ConfigLoader {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(https)
}

/// [`loader`]'s configuration, loaded from the environment: what every function and CLI
/// command that talks to AWS starts from.
pub async fn from_env() -> SdkConfig {
    loader().load().await
}
