//! Test support: a moto server (the AWS-compatible server from PyPI) started per test on a free
//! loopback port, and SDK configuration pointing at it. Enabled by the `test-support` feature.
//!
//! moto comes from `$MOTO_SERVER`, the repository's `.venv/bin/moto_server` (what
//! `tests/run-all.sh` installs) or `PATH`; without it the harness panics with the install command,
//! so tests fail rather than skip. Servers run through `tests/moto_harness.py` with moto's
//! interpreter: `serial` ones one request at a time (moto's threaded server does not make
//! DynamoDB's conditional writes atomic), and with two speed patches to moto that keep request
//! cost from growing with the data stored (the harness's docstring says what and why).

#![allow(clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A moto server on a free loopback port, stopped when dropped.
pub struct Moto {
    child: Child,
    /// Its endpoint URL.
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    let on_path = std::env::var_os("PATH").map(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("moto_server"))
            .find(|c| c.exists())
    });
    on_path.flatten().unwrap_or_else(|| {
        panic!("moto is not installed: run tests/run-all.sh (which installs it), or python3 -m venv .venv && .venv/bin/pip install 'moto[server]'")
    })
}

/// A moto server; `serial` serves one request at a time (for DynamoDB's conditional writes),
/// otherwise requests concurrently (SQS long polling must not block other requests).
pub async fn moto(serial: bool) -> Moto {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    // The interpreter that has moto sits beside its `moto_server` (a venv's or pyenv's bin/).
    let python = moto_binary()
        .parent()
        .map(|d| d.join("python3"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("python3"));
    let launcher = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/moto_harness.py");
    let mut command = Command::new(python);
    command.arg(launcher).args(["127.0.0.1", &port.to_string()]);
    if !serial {
        command.arg("--threaded");
    }
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "moto did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    moto
}

/// SDK configuration for `moto`: its endpoint, a region, test credentials.
pub async fn sdk(moto: &Moto) -> aws_config::SdkConfig {
    crate::sdk::loader()
        .endpoint_url(&moto.url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await
}

/// A fresh table named `table` on `moto`, and a store over it.
pub async fn dynamo_store(moto: &Moto, table: &str) -> crate::DynamoStore {
    let client = aws_sdk_dynamodb::Client::new(&sdk(moto).await);
    crate::create_table(&client, table)
        .await
        .expect("create table");
    crate::DynamoStore::new(client, table)
}

/// The config store over `table` on `moto` (the table created beforehand, e.g. by
/// [`dynamo_store`]).
pub async fn config_store(moto: &Moto, table: &str) -> crate::DynamoConfigStore {
    crate::DynamoConfigStore::new(aws_sdk_dynamodb::Client::new(&sdk(moto).await), table)
}

/// A fresh queue named `name` (with its dead-letter queue) on `moto`, and the queue over it.
pub async fn sqs_queue(
    moto: &Moto,
    name: &str,
    visibility: Duration,
    max_receives: u32,
) -> crate::SqsQueue {
    let client = aws_sdk_sqs::Client::new(&sdk(moto).await);
    let (url, _dlq) = crate::create_queue_with_dlq(&client, name, visibility, max_receives)
        .await
        .expect("create queue");
    crate::SqsQueue::new(client, url)
}

/// The SQS event (as JSON) that Lambda's event source would hand a function for `messages`
/// received from the queue `queue_name`: the fields the real event carries, so that tests feed
/// handlers what production does.
pub fn sqs_event(
    messages: &[leadrouter_domain::ports::Received],
    queue_name: &str,
) -> serde_json::Value {
    let records: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| {
            serde_json::json!({
                "messageId": m.id, "receiptHandle": m.receipt, "body": m.body,
                "attributes": { "ApproximateReceiveCount": m.receive_count.to_string() },
                "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:{queue_name}"),
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}
