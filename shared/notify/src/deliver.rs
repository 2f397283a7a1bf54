//! The HTTP deliveries of one event to its pool's webhooks.

use std::time::Duration;

use leadrouter_domain::config::{Notify, RoutingConfig};
use leadrouter_domain::events::LeadEvent;
use tracing::{debug, instrument};

use crate::{message, signature};

/// Resolves a secret reference (`env:NAME`, `ssm:/path`) to its value.
pub type Secrets = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Why an event was not delivered. Every variant is retried (with backoff) until the message
/// reaches the events dead-letter queue; none names a URL or a secret (Slack webhook URLs are
/// secrets).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The message is not a lead event.
    #[error("not a lead event: {0}")]
    Invalid(String),
    /// A secret reference did not resolve.
    #[error("pool `{pool}`: secret `{reference}` is not available")]
    Secret {
        /// The pool.
        pool: String,
        /// The reference (never the value).
        reference: String,
    },
    /// The endpoint answered with a non-2xx status.
    #[error("{target} webhook answered {status}")]
    Status {
        /// `slack` or `webhook`.
        target: &'static str,
        /// The HTTP status.
        status: u16,
    },
    /// The request did not complete (connection, TLS, timeout).
    #[error("{target} webhook unreachable: {reason}")]
    Transport {
        /// `slack` or `webhook`.
        target: &'static str,
        /// What failed.
        reason: String,
    },
}

/// Posts events to webhooks. Build once and share: it holds the connection pool.
#[derive(Debug, Clone)]
pub struct Notifier {
    http: reqwest::Client,
}

impl Notifier {
    /// A notifier whose requests time out after `timeout` (a hanging endpoint costs at most that,
    /// then the delivery is retried later).
    pub fn new(timeout: Duration) -> Result<Notifier, DeliveryError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("leadrouter/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DeliveryError::Transport {
                target: "client",
                reason: e.to_string(),
            })?;
        Ok(Notifier { http })
    }

    /// Delivers `event` to its pool's webhooks, if the pool subscribes to its type. Returns the
    /// number of posts made. `now` (Unix seconds) stamps the signature.
    #[instrument(skip_all, fields(event = %event.id, kind = %event.kind))]
    pub async fn deliver(
        &self,
        cfg: &RoutingConfig,
        event: &LeadEvent,
        secrets: &Secrets,
        now: i64,
    ) -> Result<usize, DeliveryError> {
        let Some(pool) = event.pool.as_deref().and_then(|p| cfg.pool(p)) else {
            return Ok(0);
        };
        let notify: &Notify = &pool.notify;
        if !notify.is_set() || !notify.events.contains(&event.kind) {
            return Ok(0);
        }
        let secret = |reference: &str| {
            secrets(reference)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| DeliveryError::Secret {
                    pool: pool.id.clone(),
                    reference: reference.to_owned(),
                })
        };
        let mut posts = 0;
        if let Some(reference) = &notify.slack_webhook {
            let url = secret(reference)?;
            let body = message::slack(event).to_string().into_bytes();
            self.post("slack", &url, body, Vec::new()).await?;
            posts += 1;
        }
        if let (Some(url), Some(reference)) = (&notify.webhook_url, &notify.webhook_secret) {
            let key = secret(reference)?;
            let body =
                message::webhook_body(event).map_err(|e| DeliveryError::Invalid(e.to_string()))?;
            let headers = vec![
                (signature::HEADER, signature::sign(&key, now, &body)),
                ("x-leadrouter-event-id", event.id.clone()),
                ("x-leadrouter-event-type", event.kind.clone()),
            ];
            self.post("webhook", url, body, headers).await?;
            posts += 1;
        }
        Ok(posts)
    }

    async fn post(
        &self,
        target: &'static str,
        url: &str,
        body: Vec<u8>,
        headers: Vec<(&'static str, String)>,
    ) -> Result<(), DeliveryError> {
        let mut req = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let resp = req.send().await.map_err(|e| DeliveryError::Transport {
            target,
            // reqwest's message may contain the URL: keep only the kind of failure.
            reason: if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                "connection failed".to_owned()
            } else {
                "request failed".to_owned()
            },
        })?;
        let status = resp.status().as_u16();
        debug!(target, status, "delivered");
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(DeliveryError::Status { target, status })
        }
    }
}
