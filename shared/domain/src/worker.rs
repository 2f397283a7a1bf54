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

/// A `{source, payload}` envelope: a tool's native payload pushed onto the queue by an
/// integration (see `docs/queue-message.schema.json`).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    source: String,
    payload: serde_json::Value,
    #[serde(default)]
    content_type: Option<String>,
}

/// Decodes an intake message — a canonical lead, or a `{source, payload}` envelope — into
/// canonical leads, normalized with the same code as the API (integrations may push straight
/// onto the queue). Ids are deterministic, so a redelivered message yields the same leads.
pub fn decode(engine: &Engine, body: &str) -> Result<Vec<Lead>, MessageError> {
    let invalid = |e: &dyn std::fmt::Display| MessageError::Invalid(e.to_string());
    let value: serde_json::Value = serde_json::from_str(body).map_err(|e| invalid(&e))?;
    if value.get("payload").is_some() && value.get("id").is_none() {
        let env: Envelope = serde_json::from_value(value).map_err(|e| invalid(&e))?;
        // A payload given as a string is the raw body (form posts); an object is JSON.
        let (bytes, default_ct) = match &env.payload {
            serde_json::Value::String(s) => {
                (s.clone().into_bytes(), "application/x-www-form-urlencoded")
            }
            other => (other.to_string().into_bytes(), "application/json"),
        };
        let ct = env.content_type.as_deref().unwrap_or(default_ct);
        // Without a tool id, the message text names the lead: a redelivery is the same lead.
        let fallback = |i: usize| {
            uuid::Uuid::new_v5(
                &leadrouter_lead::LEAD_ID_NAMESPACE,
                format!("msg:{i}:{body}").as_bytes(),
            )
        };
        let cfg = engine.config();
        crate::intake::leads_from_payload(
            &cfg,
            &env.source,
            ct,
            &bytes,
            engine.now(),
            None,
            &fallback,
        )
        .map_err(|e| invalid(&e))
    } else {
        let lead: Lead = serde_json::from_value(value).map_err(|e| invalid(&e))?;
        Ok(vec![
            leadrouter_lead::renormalize(lead).map_err(|e| invalid(&e))?,
        ])
    }
}

/// Decodes one message and routes every lead in it. Idempotent: a redelivered message finds its
/// leads stored and routed and succeeds without writing.
pub async fn handle(engine: &Engine, body: &str) -> Result<Vec<Routed>, MessageError> {
    let leads = decode(engine, body)?;
    Ok(engine.route_batch(leads).await?)
}

/// Handles a batch of messages (one receive, one SQS event) and returns one result per message,
/// in order. The valid messages' leads are routed together (one rotation write per pool per
/// chunk); if that batch commit fails, each message is retried on its own, so a throttle or a
/// store error fails only the messages it hits, never the whole batch.
pub async fn handle_batch(
    engine: &Engine,
    bodies: &[&str],
) -> Vec<Result<Vec<Routed>, MessageError>> {
    let decoded: Vec<Result<Vec<Lead>, MessageError>> =
        bodies.iter().map(|b| decode(engine, b)).collect();
    let all: Vec<Lead> = decoded
        .iter()
        .filter_map(|d| d.as_ref().ok())
        .flatten()
        .cloned()
        .collect();
    match engine.route_batch(all).await {
        Ok(mut routed) => {
            let mut routed = routed.drain(..);
            decoded
                .into_iter()
                .map(|d| d.map(|leads| routed.by_ref().take(leads.len()).collect()))
                .collect()
        }
        Err(e) => {
            warn!(error = %e, "batch commit failed; routing message by message");
            let mut out = Vec::with_capacity(decoded.len());
            for d in decoded {
                out.push(match d {
                    Ok(leads) => engine.route_batch(leads).await.map_err(MessageError::from),
                    Err(e) => Err(e),
                });
            }
            out
        }
    }
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
        let bodies: Vec<&str> = msgs.iter().map(|m| m.body.as_str()).collect();
        let results = handle_batch(&engine, &bodies).await;
        settle(queue.as_ref(), &msgs, results, cfg).await;
    }
    info!("worker stopped");
}

/// Acks the batch's handled messages together (one queue call) and releases the others one by
/// one, each with the delay its failure calls for.
async fn settle(
    queue: &dyn Queue,
    msgs: &[Received],
    results: Vec<Result<Vec<Routed>, MessageError>>,
    cfg: WorkerConfig,
) {
    let mut done = Vec::with_capacity(msgs.len());
    for (msg, result) in msgs.iter().zip(results) {
        match result {
            Ok(_) => done.push(msg.receipt.as_str()),
            Err(e) => release(queue, msg, e, cfg).await,
        }
    }
    if let Err(e) = queue.ack_batch(&done).await {
        // The visibility timeout will redeliver them; routing them again writes nothing.
        warn!(messages = done.len(), error = %e, "could not ack handled messages");
    }
}

async fn release(queue: &dyn Queue, msg: &Received, error: MessageError, cfg: WorkerConfig) {
    let settle = match &error {
        MessageError::Invalid(reason) => {
            // Never acked: after the queue's max receives it lands in the dead-letter queue,
            // where an operator can inspect and redrive it. The reason names no personal data
            // (serde and the normalizer report field names and positions).
            error!(message_id = %msg.id, receives = msg.receive_count, %reason, "unprocessable message");
            queue.release(&msg.receipt, Duration::ZERO).await
        }
        MessageError::Engine(e) => {
            warn!(message_id = %msg.id, error = %e, "routing failed, will retry");
            queue.release(&msg.receipt, cfg.retry_delay).await
        }
    };
    if let Err(e) = settle {
        // The visibility timeout will redeliver it.
        warn!(message_id = %msg.id, error = %e, "could not settle message");
    }
}
