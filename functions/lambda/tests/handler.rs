//! The binary's dispatch: a function whose handler is missing or unknown stops at its cold
//! start with the reason (Lambda reports it as the init error), before any AWS call. The four
//! known handlers are run end to end by tests/lambda-watch-e2e.sh and tests/bench.sh.

use std::process::Command;

/// Runs the binary with `_HANDLER` set to `handler` (or unset) and no AWS environment; returns
/// whether it succeeded and what it wrote to stderr.
fn run(handler: Option<&str>) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_leadrouter-lambda"));
    command
        .env_remove("_HANDLER")
        .env_remove("AWS_LAMBDA_RUNTIME_API");
    if let Some(handler) = handler {
        command.env("_HANDLER", handler);
    }
    let out = command.output().expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_unknown_handler_stops_the_cold_start_naming_the_known_ones() {
    let (ok, stderr) = run(Some("routr"));
    assert!(!ok);
    assert!(
        stderr.contains("_HANDLER is `routr`: expected ingest, router, sweeper or notifier"),
        "{stderr}"
    );
}

#[test]
fn a_missing_handler_stops_the_cold_start() {
    let (ok, stderr) = run(None);
    assert!(!ok);
    assert!(stderr.contains("_HANDLER is not set"), "{stderr}");
}
