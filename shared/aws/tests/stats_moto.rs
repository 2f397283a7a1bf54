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
