//! `GET /v1/config/history` and `GET /v1/config/{version}`: the versioned routing configs
//! (`leadrouter config push`) over HTTP, read-only. Served where [`AppState::configs`] holds a
//! config store (`leadrouter serve`); elsewhere `501 config_unavailable` (on AWS the admin CLI
//! reads the history: `leadrouter config history --table`).

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use leadrouter_domain::config_store::{ConfigMeta, ConfigStore};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;

fn store(state: &AppState) -> Result<Arc<dyn ConfigStore>, ApiError> {
    state.configs.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "config_unavailable",
            "this deployment serves no config history; use `leadrouter config history --table`",
        )
    })
}

/// `?limit=` of the history (default 20, at most 100).
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    limit: Option<String>,
}

/// The history response.
#[derive(Debug, Serialize)]
pub struct History {
    /// The current version (`null` before the first push).
    current: Option<u64>,
    /// Newest first.
    versions: Vec<ConfigMeta>,
}

/// `GET /v1/config/history?limit=`.
pub async fn history(
    State(state): State<AppState>,
    q: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<axum::Json<History>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_field("query", e.body_text()))?;
    let limit = match q.limit.as_deref() {
        None => 20,
        // Out-of-range numbers are clamped, as before; only non-numbers are refused.
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| ApiError::bad_field("limit", "a whole number (1 to 100)"))?
            .clamp(1, 100),
    };
    let store = store(&state)?;
    let versions = store.history(limit).await?;
    Ok(axum::Json(History {
        current: versions.first().map(|m| m.version),
        versions,
    }))
}

/// One version: its metadata, format and source text.
#[derive(Debug, Serialize)]
pub struct Version {
    meta: ConfigMeta,
    format: String,
    source: String,
}

/// `GET /v1/config/{version}` (a number or `current`).
pub async fn version(
    State(state): State<AppState>,
    Path(version): Path<String>,
) -> Result<axum::Json<Version>, ApiError> {
    let store = store(&state)?;
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
