//! DynamoDB and SQS adapters for leadrouter's ports.
//!
//! - [`dynamo`]: [`DynamoStore`], the `LeadStore` + `RoutingStore` over one DynamoDB table
//!   (single-table design, see `docs/data-model.md`), and [`create_table`] for tests and local
//!   development.
//! - [`sqs`]: [`SqsQueue`], the `Queue` over one SQS queue whose redrive policy moves messages to a
//!   dead-letter queue, and [`create_queue_with_dlq`].
//!
//! - [`redrive`]: moving dead-lettered messages back to their queue (`leadrouter redrive`).
//! - [`config_store`]: [`DynamoConfigStore`], versioned routing configs (a head item and one item
//!   per version, pushed with one conditional `TransactWriteItems`).
//! - [`env`]: what the Lambda functions build once per cold start, from environment variables.
//! - [`secrets`]: `ssm:/path` secret references of the routing config, fetched from SSM
//!   Parameter Store once per cold start.
//! - [`sdk`]: the SDK configuration every client is made from: `aws_config::defaults`, which
//!   honours `AWS_ENDPOINT_URL` (moto in tests), so production code has no local-mode branch,
//!   with an HTTPS client on rustls and ring.

pub mod config_store;
pub mod dynamo;
pub mod env;
#[cfg(feature = "test-support")]
pub mod moto;
pub mod redrive;
pub mod sdk;
pub mod secrets;
pub mod sqs;
pub mod stats;

pub use config_store::DynamoConfigStore;
pub use dynamo::{DynamoStore, create_table};
pub use sqs::{SqsQueue, create_queue_with_dlq};
pub use stats::DynamoStatsStore;

use std::collections::HashMap;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use leadrouter_domain::ports::StoreError;

/// Every item `request` asks of `table` (at most 100 keys, DynamoDB's limit for one call):
/// one `BatchGetItem`, then the keys DynamoDB left unprocessed (it does under load) asked again
/// with exponential backoff, a bounded number of times. Absent items are left out.
pub(crate) async fn batch_get_items(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    request: KeysAndAttributes,
) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
    let mut found = Vec::new();
    let mut request = Some(request);
    let mut rounds = 0;
    while let Some(req) = request.take() {
        rounds += 1;
        let out = client
            .batch_get_item()
            .request_items(table, req)
            .send()
            .await
            .map_err(|e| sdk_error("BatchGetItem", e))?;
        found.extend(
            out.responses
                .and_then(|mut r| r.remove(table))
                .unwrap_or_default(),
        );
        // The unprocessed keys come back with the request's projection and consistency.
        request = out
            .unprocessed_keys
            .and_then(|mut u| u.remove(table))
            .filter(|k| !k.keys().is_empty());
        if request.is_some() {
            if rounds > 8 {
                return Err(StoreError::Throttled(
                    "BatchGetItem: keys left unprocessed".into(),
                ));
            }
            tokio::time::sleep(std::time::Duration::from_millis(10 << rounds)).await;
        }
    }
    Ok(found)
}

/// Maps an SDK error to a store error: throttling is transient load, anything else is
/// unavailability. The message names the operation, never item contents.
pub(crate) fn sdk_error<E, R>(
    op: &'static str,
    e: aws_sdk_dynamodb::error::SdkError<E, R>,
) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    let code = e.code().unwrap_or_default().to_owned();
    if code.contains("Throttl")
        || code == "ProvisionedThroughputExceededException"
        || code == "RequestLimitExceeded"
    {
        StoreError::Throttled(format!("{op}: {code}"))
    } else {
        let detail = if code.is_empty() {
            format!("{e:?}").chars().take(200).collect()
        } else {
            code
        };
        StoreError::Unavailable(format!("{op}: {detail}"))
    }
}
