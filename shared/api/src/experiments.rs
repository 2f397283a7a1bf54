//! `GET /v1/experiments/{id}`: an A/B routing experiment's arms, their conversion rates with
//! confidence intervals, and each test arm against the control (a two-proportion z-test) with a
//! verdict in words ([`leadrouter_domain::experiment`]).
//!
//! The counts come from the leads themselves: each lead's decision records its experiment arm,
//! and the leads are read through the pool (or owner) index of each arm and of the pools an arm
//! falls back or escalates to, de-duplicated by id. That reads the experiment's leads once per
//! request, not the whole table; an experiment of millions of leads would want per-arm counters.

use std::collections::{BTreeMap, HashSet};

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use leadrouter_domain::config::{Route, RoutingConfig, Target};
use leadrouter_domain::experiment;
use leadrouter_domain::ports::LeadQuery;
use leadrouter_domain::record::LeadStatus;

use crate::{ApiError, AppState};

/// Leads read per experiment report, at most.
const MAX_LEADS: usize = 200_000;

/// `GET /v1/experiments/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cfg = state.engine.config();
    let Some(exp) = cfg
        .rules
        .iter()
        .filter_map(|r| r.experiment.as_ref())
        .find(|e| e.id == id)
    else {
        return Err(ApiError::not_found(format!(
            "no experiment `{id}` in the config"
        )));
    };
    let mut counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut seen = HashSet::new();
    for query in queries(&cfg, exp.arms.iter().map(|a| &a.route)) {
        let mut cursor = None;
        loop {
            let page = state
                .engine
                .store()
                .list_leads(&LeadQuery {
                    cursor,
                    limit: 500,
                    ..query.clone()
                })
                .await?;
            for rec in page.leads {
                let arm = rec
                    .decision
                    .as_ref()
                    .and_then(|d| d.experiment.as_ref())
                    .filter(|e| e.id == id);
                if let Some(arm) = arm
                    && seen.insert(rec.lead.id)
                {
                    let c = counts.entry(arm.arm.clone()).or_default();
                    c.0 += 1;
                    c.1 += u64::from(rec.status == LeadStatus::Converted);
                }
            }
            match page.next {
                Some(next) if seen.len() < MAX_LEADS => cursor = Some(next),
                _ => break,
            }
        }
    }
    let per_arm: Vec<(String, u64, u64)> = exp
        .arms
        .iter()
        .map(|a| {
            let (leads, conv) = counts.get(&a.name).copied().unwrap_or((0, 0));
            (a.name.clone(), leads, conv)
        })
        .collect();
    let report = experiment::report(&id, &per_arm);
    let split: BTreeMap<&str, u32> = exp
        .arms
        .iter()
        .map(|a| (a.name.as_str(), a.percent))
        .collect();
    Ok(axum::Json(serde_json::json!({
        "experiment": report,
        "split_percent": split,
    }))
    .into_response())
}

/// The index queries that find an experiment's leads: each arm's pool (and the pools it falls
/// back or escalates to), or each arm's rep.
fn queries<'a>(cfg: &RoutingConfig, routes: impl Iterator<Item = &'a Route>) -> Vec<LeadQuery> {
    let mut pools: Vec<String> = Vec::new();
    let mut reps: Vec<String> = Vec::new();
    for route in routes {
        match route {
            Route::Pool(p) => {
                let mut next = Some(p.clone());
                while let Some(id) = next.take() {
                    if pools.contains(&id) {
                        break;
                    }
                    let Some(pool) = cfg.pool(&id) else { break };
                    pools.push(id);
                    for t in [&pool.fallback, &pool.sla.escalate].into_iter().flatten() {
                        match t {
                            Target::Pool(q) if next.is_none() => next = Some(q.clone()),
                            Target::Pool(q) => pools.push(q.clone()),
                            Target::Rep(r) => reps.push(r.clone()),
                        }
                    }
                }
            }
            Route::Rep(r) => reps.push(r.clone()),
            Route::Outcome(_) => {}
        }
    }
    pools.sort();
    pools.dedup();
    reps.sort();
    reps.dedup();
    let by_pool = pools.into_iter().map(|p| LeadQuery {
        pool: Some(p),
        ..LeadQuery::default()
    });
    let by_rep = reps.into_iter().map(|r| LeadQuery {
        owner: Some(r),
        ..LeadQuery::default()
    });
    by_pool.chain(by_rep).collect()
}
