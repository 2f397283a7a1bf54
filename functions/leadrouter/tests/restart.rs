//! Kill `leadrouter serve` with SIGKILL while it routes, restart it on the same data directory,
//! and check that every lead answered with 202 ends assigned exactly once.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const CONFIG: &str = r#"
[[reps]]
id = "a"
[[reps]]
id = "b"
[[reps]]
id = "c"
max_open_leads = 40
[[pools]]
id = "p"
members = ["a", "b", "c"]
strategy = "round_robin"
[[rules]]
name = "default"
pool = "p"
"#;

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(data: &Path, config: &Path) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let child = Command::new(env!("CARGO_BIN_EXE_leadrouter"))
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data)
            .arg("--config")
            .arg(config)
            .env("LEADROUTER_LOG", "warn")
            .env("LEADROUTER_API_TOKENS", TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn leadrouter");
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn wait_ready(&self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/v1/healthz", self.base)).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server did not become ready");
    }

    fn kill(mut self) {
        // SIGKILL: no graceful shutdown, no flush.
        self.child.kill().expect("kill");
        self.child.wait().expect("reap");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Posts `n` leads from 8 concurrent clients; returns the ids answered with 202.
async fn post_leads(client: &reqwest::Client, base: &str, start: usize, n: usize) -> Vec<String> {
    let mut tasks = Vec::new();
    for w in 0..8 {
        let client = client.clone();
        let base = base.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut ok = Vec::new();
            for i in (start + w..start + n).step_by(8) {
                let body = json!({ "email": format!("lead{i}@corp{i}.example"), "company": "Corp", "country": "DE" });
                if let Ok(r) = client.post(format!("{base}/v1/leads")).json(&body).send().await
                    && r.status() == reqwest::StatusCode::ACCEPTED
                    && let Ok(v) = r.json::<Value>().await
                    && let Some(id) = v["id"].as_str()
                {
                    ok.push(id.to_owned());
                }
            }
            ok
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.expect("poster"));
    }
    ids
}

const TOKEN: &str = "restart-test-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_routing_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("routing.toml");
    std::fs::write(&config, CONFIG).expect("write config");
    let data = dir.path().join("data");
    let client = reqwest::Client::builder()
        .default_headers(reqwest::header::HeaderMap::from_iter([(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {TOKEN}").parse().expect("header"),
        )]))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");

    let mut accepted: Vec<String> = Vec::new();
    let mut kills = 0;
    for round in 0..3 {
        let server = Server::start(&data, &config);
        server.wait_ready(&client).await;
        // Post while the workers route, then kill mid-stream: posting runs concurrently with the
        // kill, so some requests are cut off (not 202, not counted) and some leads are queued
        // but not yet routed.
        let base = server.base.clone();
        let c2 = client.clone();
        let poster = tokio::spawn(async move { post_leads(&c2, &base, round * 1000, 600).await });
        tokio::time::sleep(Duration::from_millis(150 + 100 * round as u64)).await;
        server.kill();
        kills += 1;
        accepted.extend(poster.await.expect("poster"));
    }
    assert!(kills == 3 && !accepted.is_empty());

    // Restart and let it finish.
    let server = Server::start(&data, &config);
    server.wait_ready(&client).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut owners: HashMap<String, usize> = HashMap::new();
    for id in &accepted {
        loop {
            let r = client
                .get(format!("{}/v1/leads/{id}", server.base))
                .send()
                .await
                .expect("get");
            if r.status() == reqwest::StatusCode::OK {
                let v: Value = r.json().await.expect("json");
                if v["status"] != "queued" {
                    let assigned = v["history"]
                        .as_array()
                        .map_or(0, |h| h.iter().filter(|e| e["event"] == "assigned").count());
                    assert_eq!(assigned, 1, "lead {id}: {v}");
                    assert_eq!(v["status"], "assigned", "lead {id}: {v}");
                    let owner = v["owner"].as_str().expect("owner").to_owned();
                    *owners.entry(owner).or_default() += 1;
                    break;
                }
            }
            assert!(Instant::now() < deadline, "lead {id} never routed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Rep counters match ownership and the cap held across crashes. Leads cut off before their
    // 202 may still be queued and routed meanwhile, so read until two readings agree.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let before = rep_counters(&client, &server.base).await;
        let assigned = assigned_leads(&client, &server.base).await;
        let after = rep_counters(&client, &server.base).await;
        if before != after {
            assert!(Instant::now() < deadline, "counters never settled");
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        for (id, open) in &after {
            assert!(
                *open >= owners.get(id).copied().unwrap_or(0),
                "{id}: {open} < owned"
            );
        }
        assert!(
            after.get("c").copied().unwrap_or(0) <= 40,
            "cap broken: {after:?}"
        );
        assert!(assigned >= accepted.len());
        assert_eq!(
            after.values().sum::<usize>(),
            assigned,
            "rep counters vs assigned leads"
        );
        break;
    }
    server.kill();
}

async fn rep_counters(client: &reqwest::Client, base: &str) -> HashMap<String, usize> {
    let reps: Value = client
        .get(format!("{base}/v1/reps"))
        .send()
        .await
        .expect("reps")
        .json()
        .await
        .expect("json");
    reps["reps"]
        .as_array()
        .expect("reps")
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or_default().to_owned(),
                r["open_leads"].as_u64().unwrap_or(0) as usize,
            )
        })
        .collect()
}

/// Every assigned lead in the store, counted by paging through the list API.
async fn assigned_leads(client: &reqwest::Client, base: &str) -> usize {
    let mut n = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/leads?status=assigned&limit=500");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = client
            .get(url)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        n += page["leads"].as_array().map_or(0, Vec::len);
        match page["next"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return n,
        }
    }
}
