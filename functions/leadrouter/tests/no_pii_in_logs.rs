//! Personal data never reaches the logs: run `leadrouter serve` at `trace` level with JSON logs,
//! send leads with known names, emails and phones (accepted, invalid, and as form posts), let
//! them route, and search the captured log output for every one of those values.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PII: &[&str] = &[
    "Zelda",
    "Quixote-Smythe",
    "zelda.quixote@pii-canary.example",
    "+4930987654",
    "030 987654",
    "Canary Industries GmbH",
    "deliberately-invalid-canary@",
    "secret message canary",
];

/// The API token: a secret, so it must not reach the logs either.
const TOKEN: &str = "pii-canary-api-token-0123456789";
const WRONG_TOKEN: &str = "pii-canary-wrong-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_leads_logs_no_personal_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadrouter"))
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
        ])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("LEADROUTER_LOG", "trace")
        .env("LEADROUTER_API_TOKENS", TOKEN)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .default_headers(reqwest::header::HeaderMap::from_iter([(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {TOKEN}").parse().expect("header"),
        )]))
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .get(format!("{base}/v1/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "server not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let json = serde_json::json!({
        "first_name": "Zelda", "last_name": "Quixote-Smythe", "email": "zelda.quixote@pii-canary.example",
        "phone": "030 987654", "country": "DE", "company": "Canary Industries GmbH", "message": "secret message canary",
    });
    let r = client
        .post(format!("{base}/v1/leads"))
        .json(&json)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 202);
    let id = r.json::<serde_json::Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let form =
        "name=Zelda+Quixote-Smythe&email=zelda.quixote%40pii-canary.example&phone=%2B4930987654";
    let r = client
        .post(format!("{base}/v1/leads"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 202);
    let bad = serde_json::json!({"email": "deliberately-invalid-canary@", "first_name": "Zelda"});
    let r = client
        .post(format!("{base}/v1/leads"))
        .json(&bad)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 422);
    // Wait until the lead is routed, so the router's logs are in too.
    loop {
        let v: serde_json::Value = client
            .get(format!("{base}/v1/leads/{id}"))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .unwrap_or_default();
        if v["status"] == "assigned" {
            break;
        }
        assert!(Instant::now() < deadline, "lead not routed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Refused tokens are not logged either (a typo'd token is most of a real one).
    let wrong = reqwest::Client::new()
        .get(format!("{base}/v1/reps"))
        .bearer_auth(WRONG_TOKEN)
        .send()
        .await
        .expect("get");
    assert_eq!(wrong.status(), 401);
    child.kill().expect("kill");
    child.wait().expect("reap");
    let logs = std::fs::read_to_string(&log_path).expect("logs");
    assert!(
        logs.contains(&id),
        "the logs do carry lead ids (so the test sees the routing logs)"
    );
    assert!(logs.lines().count() > 5, "trace logging produced output");
    for secret in [TOKEN, WRONG_TOKEN] {
        assert!(
            !logs.contains(secret),
            "an API token `{secret}` found in the logs"
        );
    }
    for value in PII {
        assert!(
            !logs.contains(value),
            "personal data `{value}` found in the logs"
        );
    }
}
