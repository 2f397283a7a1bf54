//! The queue consumer: decodes intake messages and routes them.
//!
//! The same [`handle`] serves the local worker loop and the router Lambda; only the loop around
//! it differs. A message is acknowledged only after its lead is stored and routed (or found
//! already routed), so a crash at any point means redelivery, never a lost lead.

use std::sync::Arc;
use std::time::Duration;

use leadrouter_lead::Lead;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::engine::{Engine, EngineError, Routed};
use crate::ports::{Queue, Received};

/// Why a message was not processed.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The body can never be processed (not a canonical lead, or invalid after normalization).
    /// Left to reach the dead-letter queue.
    #[error("invalid message: {0}")]
    Invalid(String),
    /// Processing failed for now; retry later.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Decodes an intake message (a canonical lead as JSON), re-normalizes it (integrations may
/// push straight onto the queue) and routes it. Idempotent: a redelivered message finds its lead
/// already stored and routed and succeeds without writing.
pub async fn handle(engine: &Engine, body: &str) -> Result<Routed, MessageError> {
    let lead: Lead =
        serde_json::from_str(body).map_err(|e| MessageError::Invalid(e.to_string()))?;
    let lead =
        leadrouter_lead::renormalize(lead).map_err(|e| MessageError::Invalid(e.to_string()))?;
    Ok(engine.ingest(lead).await?)
}

/// Tuning of the local worker loop.
#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    /// Messages taken per receive.
    pub batch: usize,
    /// Long-poll wait when the queue is empty.
    pub wait: Duration,
    /// Delay before a message that failed transiently is retried.
    pub retry_delay: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            batch: 10,
            wait: Duration::from_millis(500),
            retry_delay: Duration::from_secs(1),
        }
    }
}

/// Receives and handles messages until `shutdown` turns true.
pub async fn run(
    engine: Arc<Engine>,
    queue: Arc<dyn Queue>,
    cfg: WorkerConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        let msgs = tokio::select! {
            r = queue.receive(cfg.batch, cfg.wait) => r,
            _ = shutdown.changed() => break,
        };
        let msgs = match msgs {
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, "receive failed");
                tokio::time::sleep(cfg.retry_delay).await;
                continue;
            }
        };
        for msg in msgs {
            process_one(&engine, queue.as_ref(), &msg, cfg).await;
        }
    }
    info!("worker stopped");
}

async fn process_one(engine: &Engine, queue: &dyn Queue, msg: &Received, cfg: WorkerConfig) {
    let result = handle(engine, &msg.body).await;
    let settle = match &result {
        Ok(_) => queue.ack(&msg.receipt).await,
        Err(MessageError::Invalid(reason)) => {
            // Never acked: after the queue's max receives it lands in the dead-letter queue,
            // where an operator can inspect and redrive it. The reason names no personal data
            // (serde and the normalizer report field names and positions).
            error!(message_id = %msg.id, receives = msg.receive_count, %reason, "unprocessable message");
            queue.release(&msg.receipt, Duration::ZERO).await
        }
        Err(MessageError::Engine(e)) => {
            warn!(message_id = %msg.id, error = %e, "routing failed, will retry");
            queue.release(&msg.receipt, cfg.retry_delay).await
        }
    };
    if let Err(e) = settle {
        // The visibility timeout will redeliver it.
        warn!(message_id = %msg.id, error = %e, "could not settle message");
    }
}
