//! Moving dead-lettered SQS messages back to their queue after a fix (`leadrouter redrive`).
//!
//! Receive from the dead-letter queue, send the body (and message attributes) to the source
//! queue, then delete it from the dead-letter queue: a message is deleted only after its copy is
//! durable, so a crash in between leaves it in the dead-letter queue (visible again after the
//! receive's visibility timeout) and a second run sends it again. The intake and events
//! consumers are idempotent by lead id and event id, so that duplicate is harmless; losing a
//! message is not possible. SQS's own `StartMessageMoveTask` does the same asynchronously, but
//! is not bounded by a message count and moto (the test server) does not implement it.

use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, QueueAttributeName, SendMessageBatchRequestEntry,
};
use leadrouter_domain::ports::StoreError;
use tracing::{info, instrument};

/// How long a received dead letter stays hidden while it is being moved.
const MOVE_VISIBILITY: Duration = Duration::from_secs(60);

fn sqs_error<E, R>(op: &'static str, e: aws_sdk_sqs::error::SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    let code = e.code().unwrap_or_default().to_owned();
    if code.contains("Throttl") || code == "RequestThrottled" || code == "OverLimit" {
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

/// An SQS client with the SDK's usual configuration (credentials, region, `AWS_ENDPOINT_URL`).
pub async fn client_from_env() -> Client {
    let sdk = crate::sdk::from_env().await;
    Client::new(&sdk)
}

/// The dead-letter queue URL of `queue_url`, from its redrive policy (`None` if it has none).
pub async fn dead_letter_queue_of(
    client: &Client,
    queue_url: &str,
) -> Result<Option<String>, StoreError> {
    let attrs = client
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .map_err(|e| sqs_error("GetQueueAttributes", e))?
        .attributes
        .unwrap_or_default();
    let Some(policy) = attrs.get(&QueueAttributeName::RedrivePolicy) else {
        return Ok(None);
    };
    let policy: serde_json::Value =
        serde_json::from_str(policy).map_err(|e| StoreError::Corrupt {
            key: "RedrivePolicy".into(),
            reason: e.to_string(),
        })?;
    let Some(arn) = policy.get("deadLetterTargetArn").and_then(|a| a.as_str()) else {
        return Ok(None);
    };
    // arn:aws:sqs:<region>:<account>:<name>
    let mut parts = arn.rsplitn(2, ':');
    let name = parts.next().unwrap_or_default();
    let account = parts.next().and_then(|rest| rest.rsplit(':').next());
    let mut req = client.get_queue_url().queue_name(name);
    if let Some(account) = account.filter(|a| !a.is_empty()) {
        req = req.queue_owner_aws_account_id(account);
    }
    let url = req
        .send()
        .await
        .map_err(|e| sqs_error("GetQueueUrl", e))?
        .queue_url;
    Ok(url)
}

/// Approximate number of messages waiting in a queue (visible + in flight).
pub async fn approximate_depth(client: &Client, queue_url: &str) -> Result<u64, StoreError> {
    let attrs = client
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| sqs_error("GetQueueAttributes", e))?
        .attributes
        .unwrap_or_default();
    let n = |k: QueueAttributeName| {
        attrs
            .get(&k)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(n(QueueAttributeName::ApproximateNumberOfMessages)
        + n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
}

/// Moves up to `max` messages from `dlq_url` to `queue_url`; returns how many moved. Stops early
/// when the dead-letter queue has nothing visible (messages another run holds stay there).
#[instrument(skip(client), err)]
pub async fn redrive(
    client: &Client,
    dlq_url: &str,
    queue_url: &str,
    max: usize,
) -> Result<usize, StoreError> {
    let mut moved = 0;
    while moved < max {
        let want = (max - moved).min(10);
        let page = client
            .receive_message()
            .queue_url(dlq_url)
            .max_number_of_messages(i32::try_from(want).unwrap_or(10))
            .visibility_timeout(i32::try_from(MOVE_VISIBILITY.as_secs()).unwrap_or(60))
            .wait_time_seconds(0)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| sqs_error("ReceiveMessage", e))?;
        let messages = page.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        let mut sends = Vec::with_capacity(messages.len());
        for (i, m) in messages.iter().enumerate() {
            sends.push(
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(m.body.clone().unwrap_or_default())
                    .set_message_attributes(m.message_attributes.clone())
                    .build()
                    .map_err(|e| StoreError::InvalidArgument {
                        what: "message",
                        reason: e.to_string(),
                    })?,
            );
        }
        let sent = client
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(sends))
            .send()
            .await
            .map_err(|e| sqs_error("SendMessageBatch", e))?;
        // Delete only what was sent: a failed entry stays dead-lettered for the next run.
        let mut deletes = Vec::new();
        for ok in &sent.successful {
            let Some(m) = ok.id.parse::<usize>().ok().and_then(|i| messages.get(i)) else {
                continue;
            };
            deletes.push(
                DeleteMessageBatchRequestEntry::builder()
                    .id(ok.id.clone())
                    .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                    .build()
                    .map_err(|e| StoreError::InvalidArgument {
                        what: "receipt",
                        reason: e.to_string(),
                    })?,
            );
        }
        let sent_now = deletes.len();
        if !deletes.is_empty() {
            client
                .delete_message_batch()
                .queue_url(dlq_url)
                .set_entries(Some(deletes))
                .send()
                .await
                .map_err(|e| sqs_error("DeleteMessageBatch", e))?;
        }
        moved += sent_now;
        if let Some(failed) = sent.failed.first() {
            return Err(StoreError::Unavailable(format!(
                "SendMessageBatch: {} entries failed ({}); {moved} moved so far, the rest stay dead-lettered",
                sent.failed.len(),
                failed.code
            )));
        }
    }
    info!(moved, "redrive");
    Ok(moved)
}
