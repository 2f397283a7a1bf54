//! Steps of `tests/lambda-watch-e2e.sh` that need the AWS side (ignored in a normal test run;
//! the script runs each with `--ignored --exact`), so the table is created by the same
//! `create_table` as everywhere else. Each reads `MOTO_URL` (the moto the functions talk to) and
//! `E2E_DIR` (the script's work directory).
//!
//! - `setup`: creates the table and the intake queue (with its DLQ); writes the queue URL to
//!   `$E2E_DIR/queue_url`.
//! - `sqs_event`: receives what ingest sent and writes the SQS event Lambda would hand the router
//!   to `$E2E_DIR/sqs-event.json`.
//! - `check`: the lead `$LEAD_ID` is assigned, with an owner, in DynamoDB.

#![allow(clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use leadrouter_aws::{DynamoStore, SqsQueue, create_queue_with_dlq, create_table};
use leadrouter_domain::ports::{LeadStore, Queue};
use leadrouter_domain::record::LeadStatus;

fn var(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set (run tests/lambda-watch-e2e.sh)"))
}

async fn sdk() -> aws_config::SdkConfig {
    leadrouter_aws::sdk::loader()
        .endpoint_url(var("MOTO_URL"))
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await
}

fn dir() -> PathBuf {
    PathBuf::from(var("E2E_DIR"))
}

#[tokio::test]
#[ignore = "a step of tests/lambda-watch-e2e.sh"]
async fn setup() {
    let sdk = sdk().await;
    create_table(&aws_sdk_dynamodb::Client::new(&sdk), "leadrouter")
        .await
        .expect("table");
    let (url, _dlq) = create_queue_with_dlq(
        &aws_sdk_sqs::Client::new(&sdk),
        "leadrouter-intake",
        Duration::from_secs(60),
        5,
    )
    .await
    .expect("queue");
    std::fs::write(dir().join("queue_url"), url).expect("write queue url");
}

#[tokio::test]
#[ignore = "a step of tests/lambda-watch-e2e.sh"]
async fn sqs_event() {
    let sdk = sdk().await;
    let url = std::fs::read_to_string(dir().join("queue_url")).expect("queue url");
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), url.trim());
    let messages = queue
        .receive(10, Duration::from_secs(2))
        .await
        .expect("receive");
    assert_eq!(messages.len(), 1, "ingest sent exactly one message");
    let event = leadrouter_aws::moto::sqs_event(&messages, "leadrouter-intake");
    std::fs::write(
        dir().join("sqs-event.json"),
        serde_json::to_string_pretty(&event).expect("json"),
    )
    .expect("write event");
}

#[tokio::test]
#[ignore = "a step of tests/lambda-watch-e2e.sh"]
async fn check() {
    let sdk = sdk().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), "leadrouter");
    let id = var("LEAD_ID").parse().expect("lead id");
    let rec = store
        .get_lead(id)
        .await
        .expect("get lead")
        .expect("the lead is in DynamoDB");
    assert_eq!(rec.status, LeadStatus::Assigned, "{:?}", rec.history);
    let owner = rec.owner.expect("an owner");
    println!("lead {id} assigned to {owner}");
}
