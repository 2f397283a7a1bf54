//! [`SqsQueue`]: the intake queue on SQS. Dead-lettering is the queue's redrive policy
//! (`maxReceiveCount`), which SQS applies itself.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use leadrouter_domain::ports::{Queue, Received, StoreError};
use tracing::instrument;

/// The largest batch SQS returns per `ReceiveMessage`.
const SQS_MAX_BATCH: usize = 10;

fn sqs_error<E, R>(op: &'static str, e: aws_sdk_sqs::error::SdkError<E, R>) -> StoreError
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::fmt::Debug,
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

/// SQS counts visibility and waits in whole seconds: round up, so that a short delay is never
/// rounded to "now".
fn whole_seconds(d: Duration) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(secs).unwrap_or(i32::MAX)
}

/// One SQS queue.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    /// The queue at `url`.
    pub fn new(client: Client, url: impl Into<String>) -> SqsQueue {
        SqsQueue {
            client,
            url: url.into(),
        }
    }
}

/// Creates a queue and its dead-letter queue (14-day retention), with the redrive policy moving
/// a message there after `max_receives` receives. Returns (queue URL, dead-letter queue URL).
pub async fn create_queue_with_dlq(
    client: &Client,
    name: &str,
    visibility: Duration,
    max_receives: u32,
) -> Result<(String, String), StoreError> {
    let dlq = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .map_err(|e| sqs_error("CreateQueue", e))?;
    let dlq_url = dlq.queue_url.unwrap_or_default();
    let arn = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sqs_error("GetQueueAttributes", e))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .unwrap_or_default();
    let redrive = serde_json::json!({ "deadLetterTargetArn": arn, "maxReceiveCount": max_receives.to_string() });
    let queue = client
        .create_queue()
        .queue_name(name)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            whole_seconds(visibility).to_string(),
        )
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .map_err(|e| sqs_error("CreateQueue", e))?;
    Ok((queue.queue_url.unwrap_or_default(), dlq_url))
}

/// SQS answers a batch call per entry: any failed entry of the `sent` fails the call, named by
/// the first failure's code.
fn batch_outcome<'a>(
    op: &str,
    failed: impl Iterator<Item = &'a aws_sdk_sqs::types::BatchResultErrorEntry>,
    sent: usize,
) -> Result<(), StoreError> {
    let failed: Vec<_> = failed.collect();
    match failed.first() {
        None => Ok(()),
        Some(first) => Err(StoreError::Unavailable(format!(
            "{op}: {} of {sent} entries failed ({}: {})",
            failed.len(),
            first.code,
            first.message.as_deref().unwrap_or_default()
        ))),
    }
}

#[async_trait]
impl Queue for SqsQueue {
    #[instrument(skip_all, err)]
    async fn send(&self, body: &str) -> Result<String, StoreError> {
        let out = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| sqs_error("SendMessage", e))?;
        Ok(out.message_id.unwrap_or_default())
    }

    #[instrument(skip_all, fields(messages = bodies.len()), err)]
    async fn send_batch(&self, bodies: &[String]) -> Result<(), StoreError> {
        for chunk in bodies.chunks(SQS_MAX_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .map_err(|e| StoreError::InvalidArgument {
                            what: "message",
                            reason: e.to_string(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sqs_error("SendMessageBatch", e))?;
            // A batch succeeds per entry: any failed entry fails the call (the caller's retry
            // repeats the batch; events are de-duplicated by id).
            batch_outcome("SendMessageBatch", out.failed.iter(), chunk.len())?;
        }
        Ok(())
    }

    #[instrument(skip(self), err)]
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, StoreError> {
        let mut out = Vec::new();
        let mut wait = whole_seconds(wait).min(20);
        while out.len() < max {
            let want = (max - out.len()).min(SQS_MAX_BATCH);
            let page = self
                .client
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(i32::try_from(want).unwrap_or(10))
                .wait_time_seconds(wait)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send()
                .await
                .map_err(|e| sqs_error("ReceiveMessage", e))?;
            let messages = page.messages.unwrap_or_default();
            let got = messages.len();
            for m in messages {
                let receive_count = m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
                out.push(Received {
                    id: m.message_id.unwrap_or_default(),
                    receipt: m.receipt_handle.unwrap_or_default(),
                    body: m.body.unwrap_or_default(),
                    receive_count,
                });
            }
            // Only the first call long-polls; stop when the queue has no more right now.
            wait = 0;
            if got < want {
                break;
            }
        }
        Ok(out)
    }

    #[instrument(skip_all, err)]
    async fn ack(&self, receipt: &str) -> Result<(), StoreError> {
        match self
            .client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // A receipt from an earlier delivery: nothing to do.
            Err(e) if e.code() == Some("ReceiptHandleIsInvalid") => Ok(()),
            Err(e) => Err(sqs_error("DeleteMessage", e)),
        }
    }

    /// One `DeleteMessageBatch` per 10 receipts. An entry refused as `ReceiptHandleIsInvalid`
    /// is a receipt of an earlier delivery, ignored as [`Queue::ack`] ignores it; any other
    /// refused entry fails the call (its message comes back after the visibility timeout).
    #[instrument(skip_all, fields(messages = receipts.len()), err)]
    async fn ack_batch(&self, receipts: &[&str]) -> Result<(), StoreError> {
        for chunk in receipts.chunks(SQS_MAX_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, receipt)| {
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(*receipt)
                        .build()
                        .map_err(|e| StoreError::InvalidArgument {
                            what: "receipt",
                            reason: e.to_string(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sqs_error("DeleteMessageBatch", e))?;
            let failed = out
                .failed
                .iter()
                .filter(|f| f.code != "ReceiptHandleIsInvalid");
            batch_outcome("DeleteMessageBatch", failed, chunk.len())?;
        }
        Ok(())
    }

    #[instrument(skip(self, receipt), err)]
    async fn release(&self, receipt: &str, delay: Duration) -> Result<(), StoreError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(whole_seconds(delay))
            .send()
            .await
            .map_err(|e| sqs_error("ChangeMessageVisibility", e))?;
        Ok(())
    }
}
