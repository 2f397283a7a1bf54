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

const ONE_REP: &str = r#"
[[reps]]
id = "REP"
[[pools]]
id = "p"
members = ["REP"]
strategy = "round_robin"
[[rules]]
name = "default"
pool = "p"
"#;

/// Posts a lead and waits until it is routed; returns the lead JSON.
async fn route_one(client: &reqwest::Client, base: &str, n: u32) -> serde_json::Value {
    let r = client
        .post(format!("{base}/v1/leads"))
        .json(&serde_json::json!({ "email": format!("lead{n}@corp{n}.example"), "country": "DE" }))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), reqwest::StatusCode::ACCEPTED);
    let id = r.json::<serde_json::Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/v1/leads/{id}")).send().await
            && r.status().is_success()
            && let Ok(v) = r.json::<serde_json::Value>().await
            && v["status"] != "queued"
        {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("lead {id} was not routed");
}

/// `serve` without `--config` runs the pushed version and follows the next push while running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_pushed_config_and_follows_pushes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let file = dir.path().join("routing.toml");
    std::fs::write(&file, ONE_REP.replace("REP", "ana")).expect("write");
    let push = config(&data).arg("push").arg(&file).output().expect("push");
    assert!(push.status.success());

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadrouter"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(&data)
        .env_remove("LEADROUTER_CONFIG")
        .env_remove("LEADROUTER_API_TOKENS")
        .env("LEADROUTER_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn serve");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while reqwest::Client::new()
        .get(format!("{base}/v1/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(std::time::Instant::now() < deadline, "serve did not start");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // No LEADROUTER_API_TOKENS: serve generated a token into the data directory, owner-only.
    let token_file = data.join("api-token");
    let token = std::fs::read_to_string(&token_file).expect("generated token file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is the owner's only");
    }
    let open = reqwest::Client::new()
        .get(format!("{base}/v1/reps"))
        .send()
        .await
        .expect("get");
    assert_eq!(open.status(), 401, "admin routes are never open");
    let client = reqwest::Client::builder()
        .default_headers(reqwest::header::HeaderMap::from_iter([(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {}", token.trim()).parse().expect("header"),
        )]))
        .build()
        .expect("client");

    let first = route_one(&client, &base, 1).await;
    assert_eq!(first["owner"], "ana", "{first}");

    std::fs::write(&file, ONE_REP.replace("REP", "bo")).expect("write");
    let push = config(&data).arg("push").arg(&file).output().expect("push");
    assert!(push.status.success());
    let fingerprint = String::from_utf8_lossy(&push.stdout)
        .rsplit("fingerprint ")
        .next()
        .unwrap_or_default()
        .trim_end_matches([')', '\n'])
        .to_owned();

    // Local mode checks every 2 s; within 10 s a new lead goes to bo, decided by version 2.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut n = 2;
    loop {
        let lead = route_one(&client, &base, n).await;
        if lead["owner"] == "bo" {
            assert_eq!(
                lead["decision"]["config_version"],
                fingerprint.as_str(),
                "{lead}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the push was not followed: {lead}"
        );
        n += 1;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
}
