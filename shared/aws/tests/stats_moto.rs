//! The stats contract (`leadrouter_domain::contract::stats`, the one the SQLite adapter passes)
//! against DynamoDB through the real AWS SDK, served by moto on loopback (one request at a time,
//! as in `contract_moto.rs`, so conditional transactions behave as on DynamoDB).

use leadrouter_aws::moto::{moto, sdk};
use leadrouter_aws::{DynamoStatsStore, create_table};
use leadrouter_domain::contract;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_passes_the_stats_contract() {
    let moto = moto(true).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk(&moto).await);
    create_table(&client, "leadrouter")
        .await
        .expect("create table");
    let store = DynamoStatsStore::new(client, "leadrouter");
    contract::stats::stats_contract(&store).await;
}

/// Each warm function's store leaves the group-index values it has committed out of its later
/// transactions. Stores that each know other values (two functions, and one that starts later)
/// must still leave every bucket readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_that_know_different_index_values_lose_no_bucket() {
    use leadrouter_domain::stats::{Cell, GroupBy, StatsStore, StatsUpdate};

    let moto = moto(true).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk(&moto).await);
    create_table(&client, "known").await.expect("create table");
    let update = |id: &str, hour: i64, rep: &str| StatsUpdate {
        event_id: id.into(),
        hour,
        cells: vec![Cell {
            kind: GroupBy::Rep,
            value: rep.into(),
            name: "routed".into(),
            n: 1,
        }],
    };
    let a = DynamoStatsStore::new(client.clone(), "known");
    let b = DynamoStatsStore::new(client.clone(), "known");
    let applied = a
        .record_all(&[update("1:1", 100, "ana"), update("2:1", 100, "ben")])
        .await
        .expect("a records");
    assert_eq!(applied, 2);
    // b has not seen ana: it adds her again (harmless), and cy.
    assert!(b.record(&update("3:1", 100, "ana")).await.expect("b"));
    assert!(b.record(&update("4:1", 100, "cy")).await.expect("b"));
    // a knows ana and ben now: its transactions leave them out, their buckets still count.
    assert!(a.record(&update("5:1", 100, "ana")).await.expect("a"));
    assert!(a.record(&update("6:1", 100, "ben")).await.expect("a"));
    // A redelivered event is still refused by a store that knows every value.
    assert!(!a.record(&update("6:1", 100, "ben")).await.expect("a"));
    // The next hour is new to a.
    assert!(a.record(&update("7:1", 101, "ben")).await.expect("a"));

    let reader = DynamoStatsStore::new(client, "known");
    let mut got: Vec<(String, u64)> = reader
        .read(100, 102, &[GroupBy::Rep])
        .await
        .expect("read")
        .into_iter()
        .map(|c| (c.value, c.n))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [("ana".into(), 3), ("ben".into(), 3), ("cy".into(), 1)]
    );
}
