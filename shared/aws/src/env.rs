//! What the Lambda functions build once per cold start: configuration from environment
//! variables, SDK clients, the store, the intake queue and the routing engine.
//!
//! | variable | meaning |
//! |---|---|
//! | `LEADROUTER_TABLE` | the DynamoDB table |
//! | `LEADROUTER_QUEUE_URL` | the intake queue's URL (ingest sends to it) |
//! | `LEADROUTER_EVENTS_QUEUE_URL` | the outbound events queue's URL (every lead write sends an event; the notifier consumes it) |
//! | `LEADROUTER_CONFIG` | unset, empty or `table` (the deployment's setting): the routing config is the current version in the table, pushed with `leadrouter config push FILE --table NAME`; anything else: the path of a config file packaged with the function (tests, special builds) |
//! | `AWS_ENDPOINT_URL` | read by the SDK itself (moto in tests); no code branches on it |
//!
//! With the config from the table, [`AwsDeps::config_watcher`] keeps a warm function on the
//! current version: the router checks the table's config head at most every
//! [`CONFIG_CHECK_EVERY`] (see `leadrouter_domain::config_store::ConfigWatcher`).

use std::path::PathBuf;
use std::sync::Arc;

use leadrouter_domain::config::RoutingConfig;
use leadrouter_domain::config_store::{ConfigWatcher, load_current};
use leadrouter_domain::engine::Engine;
use leadrouter_domain::ports::{Clock, Queue, SystemClock};

use crate::{DynamoConfigStore, DynamoStatsStore, DynamoStore, SqsQueue};

/// How often a warm function reads the config head item to learn of a push: a push reaches every
/// warm router within this time, for one small `GetItem` per instance per period (not one per
/// batch, which at batch size 1 would add a read to every lead).
pub const CONFIG_CHECK_EVERY: chrono::Duration = chrono::Duration::seconds(10);

/// Where the routing config comes from (`LEADROUTER_CONFIG`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// The current pushed version in the DynamoDB table (unset, empty or `table`).
    Table,
    /// A config file at this path.
    File(PathBuf),
}

impl ConfigSource {
    /// The source a `LEADROUTER_CONFIG` value names.
    pub fn from_var(value: Option<&str>) -> ConfigSource {
        match value.map(str::trim) {
            None | Some("") => ConfigSource::Table,
            Some(v) if v.eq_ignore_ascii_case("table") => ConfigSource::Table,
            Some(path) => ConfigSource::File(PathBuf::from(path)),
        }
    }
}

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
    /// With the config from the table: keeps the engine on the current pushed version (call
    /// `refresh` before each batch). `None` with a config file.
    pub config_watcher: Option<Arc<ConfigWatcher>>,
}

/// Builds the clients, store, queue and engine from the environment. Call once per cold start.
pub async fn from_env() -> Result<AwsDeps, StartError> {
    let table = var("LEADROUTER_TABLE")?;
    let queue_url = var("LEADROUTER_QUEUE_URL")?;
    let sdk = crate::sdk::from_env().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let source = ConfigSource::from_var(std::env::var("LEADROUTER_CONFIG").ok().as_deref());
    let (config, config_watcher) = match source {
        ConfigSource::File(path) => (
            RoutingConfig::load(&path).map_err(|e| StartError(e.to_string()))?,
            None,
        ),
        ConfigSource::Table => {
            let configs = Arc::new(DynamoConfigStore::new(dynamo.clone(), table.clone()));
            let (meta, config) = load_current(configs.as_ref())
                .await
                .map_err(|e| StartError(format!("routing config from table {table}: {e}")))?;
            tracing::info!(
                config_version = meta.version,
                fingerprint = %meta.hash,
                "routing config loaded from the table"
            );
            let watcher = ConfigWatcher::new(
                configs,
                CONFIG_CHECK_EVERY,
                Some(meta.version),
                Some(SystemClock.now()),
            );
            (config, Some(Arc::new(watcher)))
        }
    };
    let stats = stats_enabled(std::env::var("LEADROUTER_STATS").ok().as_deref())?
        .then(|| DynamoStatsStore::new(dynamo.clone(), table.clone()));
    let store = DynamoStore::new(dynamo, table);
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
    if let Some(stats) = stats {
        engine = engine.with_stats(Arc::new(stats));
    }
    Ok(AwsDeps {
        engine: Arc::new(engine),
        queue: Arc::new(queue),
        events,
        config_watcher,
    })
}

/// `LEADROUTER_STATS`: `on` (the default: every lead write adds to the hourly stats that
/// `GET /v1/stats` reads, about 5 write units per routed lead, see docs/data-model.md) or `off`.
fn stats_enabled(value: Option<&str>) -> Result<bool, StartError> {
    match value.map(str::trim) {
        None | Some("") | Some("on") => Ok(true),
        Some("off") => Ok(false),
        Some(other) => Err(StartError(format!(
            "LEADROUTER_STATS must be `on` or `off`, not `{other}`"
        ))),
    }
}

/// Before an invocation: switches `engine` to a newly pushed config if `watcher` says so (at
/// most one head read per [`CONFIG_CHECK_EVERY`]). Failures are logged and the engine keeps the
/// config it has: a config problem never stops routing or sweeping.
pub async fn refresh_config(watcher: Option<&ConfigWatcher>, engine: &Engine) {
    let Some(watcher) = watcher else { return };
    match watcher.refresh(engine).await {
        Ok(Some(version)) => {
            tracing::info!(config_version = version, "switched to a pushed config")
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "config check failed; keeping the running config"),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_switch() {
        assert!(stats_enabled(None).expect("unset"));
        assert!(stats_enabled(Some("on")).expect("on"));
        assert!(!stats_enabled(Some("off")).expect("off"));
        assert!(
            stats_enabled(Some("yes")).is_err(),
            "a typo is an error, not a default"
        );
    }

    #[test]
    fn config_source_rule() {
        assert_eq!(ConfigSource::from_var(None), ConfigSource::Table);
        assert_eq!(ConfigSource::from_var(Some("")), ConfigSource::Table);
        assert_eq!(ConfigSource::from_var(Some(" Table ")), ConfigSource::Table);
        assert_eq!(
            ConfigSource::from_var(Some("/var/task/routing.toml")),
            ConfigSource::File(PathBuf::from("/var/task/routing.toml"))
        );
    }
}
