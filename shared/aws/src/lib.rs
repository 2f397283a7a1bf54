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
//!
//! Clients come from `aws_config::defaults`, which honours `AWS_ENDPOINT_URL` (moto in tests), so
//! production code has no local-mode branch.

pub mod config_store;
pub mod dynamo;
pub mod env;
#[cfg(feature = "test-support")]
pub mod moto;
pub mod redrive;
pub mod secrets;
pub mod sqs;
pub mod stats;

pub use config_store::DynamoConfigStore;
pub use dynamo::{DynamoStore, create_table};
pub use sqs::{SqsQueue, create_queue_with_dlq};
pub use stats::DynamoStatsStore;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use leadrouter_domain::ports::StoreError;

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
