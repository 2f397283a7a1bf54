//! The store and queue contract suite (`leadrouter_domain::contract`, the same one the embedded
//! adapter passes) against DynamoDB and SQS through the real AWS SDK, served by moto on loopback.
//!
//! Each test starts its own moto server on a free port and stops it when done. moto comes from
//! `$MOTO_SERVER`, `.venv/bin/moto_server` (what `tests/run-all.sh` installs) or `PATH`; without
//! it the test fails with the install command: it is never skipped. The server runs through
//! `tests/moto_harness.py`, one request at a time, for DynamoDB: moto's threaded server does not
//! make conditional writes atomic (two racing puts can both pass their condition), DynamoDB
//! does. SQS runs on moto's threaded server, which long polling needs.

use std::sync::Arc;
use std::time::Duration;

use leadrouter_aws::moto::{Moto, moto, sdk};
use leadrouter_aws::{DynamoStore, SqsQueue, create_queue_with_dlq, create_table};
use leadrouter_domain::contract;

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
async fn dynamodb_passes_the_sla_contract() {
    let moto = moto(true).await;
    let store = Arc::new(store(&moto).await);
    contract::sla::sla_contract(store).await;
}

/// 1,000 overdue leads accepted by their owners while two sweepers run, on DynamoDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_sweeper_races_accept() {
    let moto = moto(true).await;
    let store = Arc::new(store(&moto).await);
    contract::sla::sweeper_races_accept(store, 1_000).await;
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

/// Versioned routing configs on DynamoDB: conditional pushes (one transaction each), history,
/// concurrent pushes with exactly one winner per version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_passes_the_config_contract() {
    let moto = moto(true).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk(&moto).await);
    create_table(&client, "leadrouter")
        .await
        .expect("create table");
    let store = Arc::new(leadrouter_aws::DynamoConfigStore::new(client, "leadrouter"));
    contract::config::config_contract(store).await;
}
