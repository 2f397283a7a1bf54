//! What the Lambda functions build once per cold start: configuration from environment
//! variables, SDK clients, the store, the intake queue and the routing engine.
//!
//! | variable | meaning |
//! |---|---|
//! | `LEADROUTER_TABLE` | the DynamoDB table |
//! | `LEADROUTER_QUEUE_URL` | the intake queue's URL (ingest sends to it) |
//! | `LEADROUTER_EVENTS_QUEUE_URL` | the outbound events queue's URL (every lead write sends an event; the notifier consumes it) |
//! | `LEADROUTER_CONFIG` | path of the routing config file packaged with the function |
//! | `AWS_ENDPOINT_URL` | read by the SDK itself (moto in tests); no code branches on it |

use std::path::PathBuf;
use std::sync::Arc;

use leadrouter_domain::config::RoutingConfig;
use leadrouter_domain::engine::Engine;
use leadrouter_domain::ports::{Queue, SystemClock};

use crate::{DynamoStore, SqsQueue};

/// Why a function could not start.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

fn var(name: &str) -> Result<String, StartError> {
    std::env::var(name).map_err(|_| StartError(format!("environment variable {name} is not set")))
}

/// Everything a function needs, built once.
pub struct AwsDeps {
    /// The routing engine over DynamoDB.
    pub engine: Arc<Engine>,
    /// The intake queue.
    pub queue: Arc<SqsQueue>,
    /// The outbound events queue (`LEADROUTER_EVENTS_QUEUE_URL`), if set; the engine sends an
    /// event to it after every lead write.
    pub events: Option<Arc<dyn Queue>>,
}

/// Builds the clients, store, queue and engine from the environment. Call once per cold start.
pub async fn from_env() -> Result<AwsDeps, StartError> {
    let table = var("LEADROUTER_TABLE")?;
    let queue_url = var("LEADROUTER_QUEUE_URL")?;
    let config_path = PathBuf::from(var("LEADROUTER_CONFIG")?);
    let config = RoutingConfig::load(&config_path).map_err(|e| StartError(e.to_string()))?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = SqsQueue::new(sqs.clone(), queue_url);
    let events: Option<Arc<dyn Queue>> = std::env::var("LEADROUTER_EVENTS_QUEUE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .map(|url| Arc::new(SqsQueue::new(sqs, url)) as Arc<dyn Queue>);
    let mut engine = Engine::new(Arc::new(store), config, Arc::new(SystemClock));
    if let Some(events) = &events {
        engine = engine.with_events(events.clone());
    }
    Ok(AwsDeps {
        engine: Arc::new(engine),
        queue: Arc::new(queue),
        events,
    })
}

/// JSON logs to stdout (CloudWatch), level from `LEADROUTER_LOG` (default `info`), without ANSI
/// colours and without the time (Lambda adds its own).
pub fn init_json_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LEADROUTER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_ansi(false)
        .without_time()
        .with_current_span(false)
        .init();
}
