//! `GET /v1/config/history` and `GET /v1/config/{version}`: the versioned routing configs
//! (`leadrouter config push`) over HTTP, read-only. Served by `leadrouter serve`; merged beside
//! [`crate::router`] with [`routes`], since it needs the config store rather than the engine.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use leadrouter_domain::config_store::{ConfigMeta, ConfigStore};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The config routes over `store`, to merge with [`crate::router`].
pub fn routes(store: Arc<dyn ConfigStore>) -> Router {
    Router::new()
        .route("/v1/config/history", get(history))
        .route("/v1/config/{version}", get(version))
        .with_state(store)
}

/// `?limit=` of the history (default 20, at most 100).
#[derive(Debug, Deserialize)]
struct HistoryQuery {
    limit: Option<usize>,
}

/// The history response.
#[derive(Debug, Serialize)]
struct History {
    /// The current version (`null` before the first push).
    current: Option<u64>,
    /// Newest first.
    versions: Vec<ConfigMeta>,
}

async fn history(
    State(store): State<Arc<dyn ConfigStore>>,
    Query(q): Query<HistoryQuery>,
) -> Result<axum::Json<History>, ApiError> {
    let versions = store.history(q.limit.unwrap_or(20).clamp(1, 100)).await?;
    Ok(axum::Json(History {
        current: versions.first().map(|m| m.version),
        versions,
    }))
}

/// One version: its metadata, format and source text.
#[derive(Debug, Serialize)]
struct Version {
    meta: ConfigMeta,
    format: String,
    source: String,
}

async fn version(
    State(store): State<Arc<dyn ConfigStore>>,
    Path(version): Path<String>,
) -> Result<axum::Json<Version>, ApiError> {
    let doc = if version == "current" {
        store.current().await?
    } else {
        let n: u64 = version
            .parse()
            .map_err(|_| ApiError::bad_field("version", "a version number or `current`"))?;
        store.get(n).await?
    };
    let doc = doc.ok_or_else(|| ApiError::not_found(format!("no config version {version}")))?;
    Ok(axum::Json(Version {
        meta: doc.meta,
        format: doc.format,
        source: doc.source,
    }))
}
