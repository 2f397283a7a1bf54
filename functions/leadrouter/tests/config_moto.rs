//! `leadrouter config --table` against DynamoDB (moto, through the real SDK): push, history,
//! rollback, as an admin would after deploying. Needs moto like the other `*_moto` tests
//! (`$MOTO_SERVER` or `.venv/bin/moto_server`); never skipped.

use std::process::Command;

use leadrouter_aws::moto::{config_store, dynamo_store, moto};
use leadrouter_domain::config_store::ConfigStore;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/demo.toml");

fn config(endpoint: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_leadrouter"));
    c.args(["config", "--table", "leadrouter"])
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    c
}

fn ok(c: &mut Command) -> String {
    let out = c.output().expect("runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_history_rollback_on_dynamodb() {
    let moto = moto(true).await;
    let _ = dynamo_store(&moto, "leadrouter").await; // creates the table
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("routing.toml");
    let demo = std::fs::read_to_string(DEMO).expect("demo");
    std::fs::write(&file, &demo).expect("write");

    let out = ok(config(&moto.url)
        .arg("push")
        .arg(&file)
        .args(["-m", "initial", "--by", "ada"]));
    assert!(out.contains("as version 1"), "{out}");
    std::fs::write(&file, demo.replace("sticky_days = 90", "sticky_days = 7")).expect("write");
    let out = ok(config(&moto.url)
        .arg("push")
        .arg(&file)
        .args(["--by", "bo"]));
    assert!(out.contains("as version 2"), "{out}");

    let diff = ok(config(&moto.url).args(["diff", "1", "2"]));
    assert!(
        diff.contains("# settings changed") && diff.contains("+sticky_days = 7"),
        "{diff}"
    );
    let out = ok(config(&moto.url).args(["rollback", "1", "--by", "cy"]));
    assert_eq!(out, "rolled back: version 3 has the content of version 1\n");
    let history = ok(config(&moto.url).arg("history"));
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 3, "{history}");
    assert!(
        lines[0].starts_with("* v3") && lines[0].contains("(rollback to v1)"),
        "{history}"
    );

    // What the functions read at cold start.
    let store = config_store(&moto, "leadrouter").await;
    let current = store.current().await.expect("read").expect("a config");
    assert_eq!(current.meta.version, 3);
    assert_eq!(current.source, demo);
    assert_eq!(current.meta.pushed_by, "cy");
}
