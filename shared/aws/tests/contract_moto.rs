//! The store and queue contract suite (`leadrouter_domain::contract`, the same one the embedded
//! adapter passes) against DynamoDB and SQS through the real AWS SDK, served by moto on loopback.
//!
//! Each test starts its own moto server on a free port and stops it when done. moto comes from
//! `$MOTO_SERVER`, `.venv/bin/moto_server` (what `tests/run-all.sh` installs) or `PATH`; without
//! it the test fails with the install command: it is never skipped. The server runs through
//! `tests/moto_serial.py`, one request at a time, for DynamoDB: moto's threaded server does not
//! make conditional writes atomic (two racing puts can both pass their condition), DynamoDB
//! does. SQS runs on moto's threaded server, which long polling needs.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use leadrouter_aws::{DynamoStore, SqsQueue, create_queue_with_dlq, create_table};
use leadrouter_domain::contract;

struct Moto {
    child: Child,
    url: String,
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
/// otherwise moto's own threaded server (SQS long polling must not block other requests).
async fn moto(serial: bool) -> Moto {
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
    let launcher = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/moto_serial.py");
    let mut command = if serial {
        let mut c = Command::new(python);
        c.arg(launcher).args(["127.0.0.1", &port.to_string()]);
        c
    } else {
        let mut c = Command::new(moto_binary());
        c.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        c
    };
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

async fn sdk(moto: &Moto) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&moto.url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await
}

async fn store(moto: &Moto) -> DynamoStore {
    let client = aws_sdk_dynamodb::Client::new(&sdk(moto).await);
    create_table(&client, "leadrouter")
        .await
        .expect("create table");
    DynamoStore::new(client, "leadrouter")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_passes_the_store_contract() {
    let moto = moto(true).await;
    let store = store(&moto).await;
    contract::store_contract(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_passes_the_concurrency_contract() {
    let moto = moto(true).await;
    let store = Arc::new(store(&moto).await);
    contract::concurrent_commit_contract(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_passes_the_queue_contract() {
    let moto = moto(false).await;
    let client = aws_sdk_sqs::Client::new(&sdk(&moto).await);
    let visibility = Duration::from_secs(1);
    let (url, _dlq) = create_queue_with_dlq(&client, "intake", visibility, 3)
        .await
        .expect("queue");
    let queue = SqsQueue::new(client, url);
    contract::queue_contract(&queue, visibility, 3).await;
}
