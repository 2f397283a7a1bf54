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

/// A client for moto with the `leadrouter` table created.
async fn table(moto: &Moto) -> aws_sdk_dynamodb::Client {
    let client = aws_sdk_dynamodb::Client::new(&sdk(moto).await);
    create_table(&client, "leadrouter")
        .await
        .expect("create table");
    client
}

async fn store(moto: &Moto) -> DynamoStore {
    DynamoStore::new(table(moto).await, "leadrouter")
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
    let store = Arc::new(leadrouter_aws::DynamoConfigStore::new(
        table(&moto).await,
        "leadrouter",
    ));
    contract::config::config_contract(store).await;
}

/// Rotations were stored as JSON text (`body`) before they were deflated (`bz`): such an item
/// still reads as the rotation it holds, and the next commit replaces it with the deflated form,
/// conditional on the version read as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_stored_as_text_reads_and_is_rewritten_deflated() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use leadrouter_domain::ports::{Commit, RoutingStore, Versioned};
    use leadrouter_domain::state::{MemberTurn, PoolState};

    let moto = moto(true).await;
    let client = table(&moto).await;
    let store = DynamoStore::new(client.clone(), "leadrouter");
    let mut old = PoolState::new("p");
    old.version = 3;
    old.turn = 7;
    for (i, rep) in ["a", "b", "c"].iter().enumerate() {
        let turn = MemberTurn {
            last_turn: 5 + i as u64,
            assigned: 2,
            ..MemberTurn::default()
        };
        old.members.insert((*rep).to_owned(), turn);
    }
    let text = serde_json::to_string(&old).expect("json");
    client
        .put_item()
        .table_name("leadrouter")
        .item("pk", AttributeValue::S("POOL#p".into()))
        .item("body", AttributeValue::S(text))
        .item("v", AttributeValue::N("3".into()))
        .send()
        .await
        .expect("put the old form");
    assert_eq!(store.get_pool("p").await.expect("read"), old);

    let mut next = old.clone();
    next.turn = 8;
    if let Some(m) = next.members.get_mut("a") {
        m.last_turn = 8;
        m.assigned = 3;
    }
    let commit = Commit {
        pools: vec![Versioned {
            expected_version: 3,
            item: next.clone(),
        }],
        ..Commit::default()
    };
    store.commit(&commit).await.expect("commit");
    let item = client
        .get_item()
        .table_name("leadrouter")
        .key("pk", AttributeValue::S("POOL#p".into()))
        .consistent_read(true)
        .send()
        .await
        .expect("get")
        .item
        .expect("the rotation item");
    assert!(
        item.contains_key("bz") && !item.contains_key("body"),
        "{item:?}"
    );
    next.version = 4;
    assert_eq!(store.get_pool("p").await.expect("read"), next);
    // A writer that read the old version loses, as with any rotation.
    let stale = Commit {
        pools: vec![Versioned {
            expected_version: 3,
            item: old,
        }],
        ..Commit::default()
    };
    assert!(
        matches!(
            store.commit(&stale).await.expect("commit"),
            leadrouter_domain::ports::CommitOutcome::Conflict(_)
        ),
        "a stale rotation write must not land"
    );
    assert_eq!(store.get_pool("p").await.expect("read"), next);
}
