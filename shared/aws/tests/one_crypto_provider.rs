//! Every binary carries one TLS crypto provider: ring, which both the AWS SDK clients
//! (`leadrouter_aws::sdk`) and reqwest (the notifier's webhooks) use. Building an SDK crate with
//! its `default-https-client` feature again would bring aws-lc-rs back beside it (a C library
//! built for each target, and megabytes in each binary) while the clients kept using ring:
//! nothing would fail but this check.

#![allow(clippy::expect_used)]

#[test]
fn the_lockfile_has_ring_and_no_aws_lc() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock");
    let lock = std::fs::read_to_string(path).expect("read the workspace's Cargo.lock");
    let names: Vec<&str> = lock
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .collect();
    assert!(names.contains(&"ring"), "ring is missing from Cargo.lock");
    assert!(
        names.contains(&"rustls"),
        "rustls is missing from Cargo.lock"
    );
    let aws_lc: Vec<_> = names.iter().filter(|n| n.starts_with("aws-lc")).collect();
    assert!(
        aws_lc.is_empty(),
        "Cargo.lock has {aws_lc:?}: an SDK crate or aws-config is built with \
         `default-https-client` again (see shared/aws/src/sdk.rs)"
    );
}
