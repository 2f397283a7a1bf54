//! Consuming the events queue: one message at a time through [`handle`], acknowledged when
//! delivered, otherwise made visible again after an exponential [`Backoff`]. The local loop is
//! [`run`]; the notifier Lambda calls [`handle`] per SQS record and reports failures.

use std::sync::Arc;
use std::time::Duration;

use leadrouter_domain::config::RoutingConfig;
use leadrouter_domain::engine::Engine;
use leadrouter_domain::events::LeadEvent;
use leadrouter_domain::ports::{Queue, Received};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::deliver::{DeliveryError, Notifier, Secrets};

/// Retry delays: `base`, doubling per receive, at most `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Delay after the first failed delivery.
    pub base: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(5),
            max: Duration::from_secs(15 * 60),
        }
    }
}

impl Backoff {
    /// The delay before the next attempt after the `receive_count`-th failed one.
    pub fn delay(&self, receive_count: u32) -> Duration {
        let doublings = receive_count.saturating_sub(1).min(20);
        self.base.saturating_mul(1 << doublings).min(self.max)
    }
}

/// Delivers one queued event. `Ok(n)`: done (n posts, 0 if the pool subscribes to nothing).
pub async fn handle(
    notifier: &Notifier,
    cfg: &RoutingConfig,
    secrets: &Secrets,
    body: &str,
    now: i64,
) -> Result<usize, DeliveryError> {
    let event: LeadEvent =
        serde_json::from_str(body).map_err(|e| DeliveryError::Invalid(e.to_string()))?;
    notifier.deliver(cfg, &event, secrets, now).await
}

/// Receives and delivers events until `shutdown` turns true (local mode). The config is read
/// from `engine` at each message, so a config change applies at once.
pub async fn run(
    notifier: Notifier,
    engine: Arc<Engine>,
    queue: Arc<dyn Queue>,
    secrets: Arc<Secrets>,
    backoff: Backoff,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        let msgs = tokio::select! {
            r = queue.receive(10, Duration::from_millis(500)) => r,
            _ = shutdown.changed() => break,
        };
        let msgs = match msgs {
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, "events receive failed");
                tokio::time::sleep(backoff.base).await;
                continue;
            }
        };
        // Events that needed no delivery (most: pools without a webhook) are acked together at
        // the end of the batch, in one queue call. Once a webhook was called, the pending acks
        // go at once with it: a slow endpoint must not hold earlier acks past the visibility
        // timeout, which would deliver them twice.
        let mut pending: Vec<&str> = Vec::new();
        for msg in &msgs {
            let cfg = engine.config();
            let result = handle(
                &notifier,
                &cfg,
                &*secrets,
                &msg.body,
                engine.now().timestamp(),
            )
            .await;
            match result {
                Ok(0) => pending.push(&msg.receipt),
                Ok(_) => {
                    pending.push(&msg.receipt);
                    ack(queue.as_ref(), &mut pending).await;
                }
                Err(e) => release(queue.as_ref(), msg, e, backoff).await,
            }
        }
        ack(queue.as_ref(), &mut pending).await;
    }
    info!("notifier stopped");
}

async fn ack(queue: &dyn Queue, pending: &mut Vec<&str>) {
    if pending.is_empty() {
        return;
    }
    if let Err(e) = queue.ack_batch(pending).await {
        // Redelivered after the visibility timeout; a repeat delivery carries the same event id.
        warn!(messages = pending.len(), error = %e, "could not ack event messages");
    }
    pending.clear();
}

async fn release(queue: &dyn Queue, msg: &Received, e: DeliveryError, backoff: Backoff) {
    let delay = backoff.delay(msg.receive_count);
    warn!(message_id = %msg.id, receives = msg.receive_count, error = %e, ?delay, "delivery failed, will retry");
    if let Err(e) = queue.release(&msg.receipt, delay).await {
        warn!(message_id = %msg.id, error = %e, "could not settle event message");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff {
            base: Duration::from_secs(5),
            max: Duration::from_secs(60),
        };
        let d: Vec<u64> = (1..=6).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(d, [5, 10, 20, 40, 60, 60]);
        assert_eq!(b.delay(u32::MAX).as_secs(), 60);
    }
}
