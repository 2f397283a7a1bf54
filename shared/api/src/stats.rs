//! `GET /v1/stats?from=&to=&group_by=rep|pool|source|rule`: lead counts, speed to lead (p50,
//! p90), SLA breaches, reassignments, conversion rate and distribution fairness per pool, summed
//! from the hourly buckets every lead write adds to ([`leadrouter_domain::stats`]), not by
//! reading leads. A range of 30 days reads about 720 hourly buckets per group kind.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use leadrouter_domain::stats::{self, GroupBy, StatsReport};
use serde::Deserialize;

use crate::{ApiError, AppState};

/// The longest range one request may cover.
const MAX_RANGE_DAYS: i64 = 400;

/// Query parameters of `GET /v1/stats`.
#[derive(Debug, Deserialize)]
pub struct StatsParams {
    /// Start (RFC 3339), rounded down to the hour; default: `to` minus 7 days.
    pub from: Option<DateTime<Utc>>,
    /// End (RFC 3339, exclusive), rounded up to the hour; default: now.
    pub to: Option<DateTime<Utc>>,
    /// `rep`, `pool`, `source` or `rule`; totals only when absent.
    pub group_by: Option<String>,
}

/// `GET /v1/stats`.
pub async fn get(
    State(state): State<AppState>,
    params: Result<Query<StatsParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<StatsReport>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_field("query", e.body_text()))?;
    let Some(store) = state.engine.stats() else {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "stats_unavailable",
            "this deployment keeps no stats",
        ));
    };
    let to = p.to.unwrap_or_else(|| state.engine.now());
    let from = p.from.unwrap_or(to - Duration::days(7));
    if from > to {
        return Err(ApiError::bad_field("from", "must not be after `to`"));
    }
    if to - from > Duration::days(MAX_RANGE_DAYS) {
        return Err(ApiError::bad_field(
            "from",
            format!("the range may cover at most {MAX_RANGE_DAYS} days"),
        ));
    }
    let group_by = match p.group_by.as_deref() {
        None | Some("") => None,
        Some(g @ ("rep" | "pool" | "source" | "rule")) => GroupBy::parse(g),
        Some(_) => {
            return Err(ApiError::bad_field(
                "group_by",
                "one of rep, pool, source, rule",
            ));
        }
    };
    let config = state.engine.config();
    let report = stats::report(store.as_ref(), &config, from, to, group_by).await?;
    Ok(Json(report))
}
