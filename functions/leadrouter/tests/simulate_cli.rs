//! `leadrouter simulate` end to end: CSV and JSON-lines input, a bad row skipped and counted,
//! the JSON report, `--compare` and the assignments CSV.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_leadrouter"))
}

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/demo.toml");

#[test]
fn simulate_csv_with_compare_and_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let leads = dir.path().join("leads.csv");
    std::fs::write(
        &leads,
        "received_at,email,country,seats,job_title\n\
         2026-11-23T10:00:00Z,ana@beispiel-gmbh.de,DE,10,CTO\n\
         2026-11-23T10:01:00Z,jo@bigcorp.com,US,900,VP\n\
         2026-11-23T10:02:00Z,kim@uni.edu,GB,1,Student\n\
         2026-11-23T10:03:00Z,not-an-email,DE,1,CTO\n",
    )
    .expect("write");
    // The other config sends everything to the catch-all pool.
    let other = dir.path().join("other.toml");
    let demo = std::fs::read_to_string(DEMO).expect("demo");
    let catch_all = demo.replace("pool = \"emea\"", "pool = \"inbound\"");
    std::fs::write(&other, catch_all).expect("write");
    let out = dir.path().join("assignments.csv");
    let run = bin()
        .args(["simulate", DEMO])
        .arg(&leads)
        .arg("--compare")
        .arg(&other)
        .arg("--out")
        .arg(&out)
        .args(["--format", "json"])
        .output()
        .expect("runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).expect("json");
    assert_eq!(v["skipped_rows"], 1, "the invalid email row is skipped");
    assert_eq!(v["report"]["leads"], 3);
    assert_eq!(v["report"]["by_rule"]["emea"], 1);
    assert_eq!(v["report"]["by_rule"]["enterprise"], 1);
    assert_eq!(v["report"]["by_rule"]["students"], 1);
    assert_eq!(v["report"]["by_status"]["nurture"], 1);
    assert_eq!(
        v["compare"]["changes"]["pool_changed"], 1,
        "the DE lead moves"
    );
    assert_eq!(
        v["compare"]["changes"]["pool_moves"][0][0], "emea → inbound",
        "{}",
        v["compare"]
    );
    let csv = std::fs::read_to_string(&out).expect("out");
    assert_eq!(csv.lines().count(), 4, "header and three assignments");
    assert!(csv.starts_with("lead_id,received_at,status,owner,pool,rule,due_at,reason"));
}

#[test]
fn simulate_jsonl_text_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let leads = dir.path().join("leads.jsonl");
    let lines: Vec<String> = (0..50)
        .map(|i| format!(r#"{{"email": "p{i}@acme-corp.io", "country": "FR"}}"#))
        .collect();
    std::fs::write(&leads, lines.join("\n")).expect("write");
    let run = bin()
        .args(["simulate", DEMO])
        .arg(&leads)
        .args(["--at", "2026-11-23T09:00:00Z", "--speed", "2"])
        .output()
        .expect("runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(
        text.starts_with("50 leads replayed (0 rows skipped)"),
        "{text}"
    );
    assert!(text.contains("by pool:"), "{text}");
    assert!(text.contains("SLA: accept deadline"), "{text}");
}
