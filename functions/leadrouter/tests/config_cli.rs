//! `leadrouter config` end to end on the embedded store: push, history, show, and an invalid
//! file refused with a failing exit code.

use std::process::Command;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/demo.toml");

fn config(data: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_leadrouter"));
    c.arg("config")
        .arg("--data-dir")
        .arg(data)
        .env_remove("LEADROUTER_TABLE");
    c
}

#[test]
fn push_history_show_and_refuse_an_invalid_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let run = config(&data)
        .args(["push", DEMO, "-m", "initial routing", "--by", "ada"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("as version 1"), "{stdout}");

    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[[pools]]\nid = \"x\"\nstrategy = \"nonsense\"\n").expect("write");
    let run = config(&data)
        .arg("push")
        .arg(&broken)
        .output()
        .expect("runs");
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("nothing was pushed"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let run = config(&data).arg("history").output().expect("runs");
    let history = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success());
    assert_eq!(history.lines().count(), 1, "{history}");
    assert!(
        history.starts_with("* v1")
            && history.contains("ada")
            && history.contains("initial routing")
    );

    let run = config(&data).args(["show", "1"]).output().expect("runs");
    assert!(run.status.success());
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        std::fs::read_to_string(DEMO).expect("demo")
    );
}
