//! The dashboard in a real headless browser: `leadrouter serve` on a free port with the demo
//! config, Debian's Chromium driven through ChromeDriver (WebDriver, spoken with the HTTP
//! client the crate already has). The page loads, a lead sent through the demo form shows up
//! assigned in the leads table, and a rep's availability toggle changes the rep (checked through
//! the API too).
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`tests/run-all.sh` installs them and
//! sets `LEADROUTER_REQUIRE_BROWSER=1`); without them, and without that variable, it skips.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_http(client: &reqwest::Client, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} did not answer");
}

/// One WebDriver session.
struct Browser {
    client: reqwest::Client,
    session: String,
}

impl Browser {
    async fn start(client: &reqwest::Client, driver: &str, profile: &Path) -> Browser {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1300,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        }}});
        let v: Value = client
            .post(format!("{driver}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session json");
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_owned();
        Browser {
            client: client.clone(),
            session: format!("{driver}/session/{session}"),
        }
    }

    async fn call(&self, path: &str, body: Value) -> Value {
        let v: Value = self
            .client
            .post(format!("{}{path}", self.session))
            .json(&body)
            .send()
            .await
            .expect("webdriver call")
            .json()
            .await
            .expect("webdriver json");
        assert!(
            v["value"].get("error").is_none(),
            "webdriver {path}: {}",
            v["value"]
        );
        v["value"].clone()
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .call("/element", json!({"using": "css selector", "value": css}))
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.call(&format!("/element/{e}/clear"), json!({})).await;
        self.call(&format!("/element/{e}/value"), json!({ "text": text }))
            .await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.call(&format!("/element/{e}/click"), json!({})).await;
    }

    async fn js(&self, script: &str) -> Value {
        self.call("/execute/sync", json!({"script": script, "args": []}))
            .await
    }

    /// Polls `script` until it returns something other than null/false/"".
    async fn wait_for(&self, script: &str, what: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.js(script).await;
            if !(v.is_null() || v == json!(false) || v == json!("")) {
                return v;
            }
            if Instant::now() > deadline {
                let err = self
                    .js("return document.querySelector('#error').textContent")
                    .await;
                panic!("timed out waiting for {what} (page error: {err})");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn close(self) {
        let _ = self.client.delete(&self.session).send().await;
    }
}

const TOKEN: &str = "dashboard-test-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_a_real_browser() {
    let have = Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists();
    if !have {
        assert!(
            std::env::var_os("LEADROUTER_REQUIRE_BROWSER").is_none(),
            "LEADROUTER_REQUIRE_BROWSER is set but {CHROMIUM} or {CHROMEDRIVER} is missing"
        );
        eprintln!(
            "skipping: no {CHROMIUM} / {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = Proc(
        Command::new(env!("CARGO_BIN_EXE_leadrouter"))
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env_remove("LEADROUTER_CONFIG")
            .env("LEADROUTER_LOG", "warn")
            .env("LEADROUTER_API_TOKENS", TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn leadrouter"),
    );
    let driver_port = free_port();
    let driver = format!("http://127.0.0.1:{driver_port}");
    let _driver = Proc(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver"),
    );
    let client = reqwest::Client::builder()
        .default_headers(reqwest::header::HeaderMap::from_iter([(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {TOKEN}").parse().expect("header"),
        )]))
        .build()
        .expect("client");
    wait_http(&client, &format!("{base}/v1/healthz")).await;
    wait_http(&client, &format!("{driver}/status")).await;

    let browser = Browser::start(&client, &driver, &dir.path().join("profile")).await;
    browser
        .call("/url", json!({ "url": format!("{base}/") }))
        .await;
    // The admin routes need the token: typed into the page's field, as a user would.
    browser.type_into("#token", TOKEN).await;
    browser
        .js("document.querySelector('#token').dispatchEvent(new Event('change')); return true")
        .await;
    browser
        .wait_for(
            "return document.querySelectorAll('#reps tbody tr').length === 6",
            "the demo config's six reps",
        )
        .await;

    // A lead through the demo form shows up assigned in the leads table.
    browser
        .type_into("#demo input[name=email]", "kim@browser-test.io")
        .await;
    browser.click("#demo button[type=submit]").await;
    let id = browser
        .wait_for(
            "return document.querySelector('#sent').dataset.id || null",
            "the form's answer",
        )
        .await;
    let id = id.as_str().expect("lead id").to_owned();
    let owner = browser
        .wait_for(
            &format!(
                "const tr = document.querySelector('#leads tr[data-id=\"{id}\"]');
                 return tr && tr.dataset.status === 'assigned' ? tr.children[3].textContent : null"
            ),
            "the lead assigned in the table",
        )
        .await;
    let lead: Value = client
        .get(format!("{base}/v1/leads/{id}"))
        .send()
        .await
        .expect("get lead")
        .json()
        .await
        .expect("lead json");
    assert_eq!(lead["status"], "assigned");
    assert_eq!(lead["owner"], owner, "the table shows the owner");
    assert_eq!(lead["lead"]["email"], "kim@browser-test.io");
    // The demo pools' SLA (accept within 15 min) runs: the table counts it down.
    assert_eq!(lead["due"]["kind"], "accept", "{lead}");
    let sla = browser
        .js(&format!(
            "return document.querySelector('#leads tr[data-id=\"{id}\"]').children[5].textContent"
        ))
        .await;
    assert!(
        sla.as_str().is_some_and(|t| t.starts_with("accept in 1")),
        "SLA countdown: {sla}"
    );

    // Toggle a rep away and back.
    browser.click("#reps tr[data-rep=ben] button").await;
    browser
        .wait_for(
            "const tr = document.querySelector('#reps tr[data-rep=ben]');
             return tr && tr.dataset.status === 'away'",
            "ben away in the table",
        )
        .await;
    let ben: Value = client
        .get(format!("{base}/v1/reps/ben"))
        .send()
        .await
        .expect("get rep")
        .json()
        .await
        .expect("rep json");
    assert_eq!(ben["status"], "away");
    browser.click("#reps tr[data-rep=ben] button").await;
    browser
        .wait_for(
            "const tr = document.querySelector('#reps tr[data-rep=ben]');
             return tr && tr.dataset.status === 'available'",
            "ben available again",
        )
        .await;

    // The charts drew from /v1/stats: one received lead.
    browser
        .wait_for(
            "return document.querySelector('#totals').textContent.includes('Received 1')",
            "the totals from /v1/stats",
        )
        .await;
    let bars = browser
        .js("return document.querySelectorAll('#distribution svg rect').length")
        .await;
    assert!(bars.as_u64().unwrap_or(0) >= 6, "distribution bars: {bars}");
    browser.close().await;
}
