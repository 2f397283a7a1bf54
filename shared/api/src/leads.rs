//! Reading leads, and the actions reps take on them.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use leadrouter_domain::engine::{ActionOutcome, Claim, RepAction};
use leadrouter_domain::ports::LeadQuery;
use leadrouter_domain::record::{LeadRecord, LeadStatus};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{ApiError, AppState};

/// The JSON view of a stored lead: id and status on top, then everything else.
pub fn view(rec: &LeadRecord) -> Value {
    json!({
        "id": rec.lead.id,
        "status": rec.status,
        "owner": rec.owner,
        "pool": rec.pool,
        "repeat_of": rec.repeat_of,
        "received_at": rec.lead.received_at,
        "assigned_at": rec.assigned_at,
        "accepted_at": rec.accepted_at,
        "due": rec.due,
        "reassignments": rec.reassignments,
        "previous_owners": rec.previous_owners,
        "escalated": rec.escalated,
        "lead": rec.lead,
        "decision": rec.decision,
        "history": rec.history,
    })
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::bad_field("id", "not a UUID"))
}

/// `GET /v1/leads/{id}`: the lead, its status, owner, decision and history.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    match state.engine.store().get_lead(id).await? {
        Some(rec) => Ok(axum::Json(view(&rec)).into_response()),
        None => Err(ApiError::not_found(format!(
            "no lead {id} (a lead just accepted with 202 appears once the router has stored it, usually within milliseconds)"
        ))),
    }
}

/// Query parameters of `GET /v1/leads`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    status: Option<String>,
    owner: Option<String>,
    pool: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// `GET /v1/leads?status=&owner=&pool=&limit=&cursor=`: newest first, paginated.
pub async fn list(
    State(state): State<AppState>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::bad_field("query", e.body_text()))?;
    let status = match p.status.as_deref() {
        None => None,
        Some(s) => Some(LeadStatus::parse(s).ok_or_else(|| {
            ApiError::bad_field(
                "status",
                "one of queued, assigned, accepted, awaiting_claim, unassigned, nurture, spam",
            )
        })?),
    };
    let limit = match p.limit.as_deref() {
        None => 50,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=500).contains(&n) => n,
            _ => return Err(ApiError::bad_field("limit", "a whole number from 1 to 500")),
        },
    };
    let page = state
        .engine
        .store()
        .list_leads(&LeadQuery {
            status,
            owner: p.owner,
            pool: p.pool,
            limit,
            cursor: p.cursor,
        })
        .await?;
    Ok(axum::Json(json!({
        "leads": page.leads.iter().map(view).collect::<Vec<_>>(),
        "next": page.next,
    }))
    .into_response())
}

/// Body of rep actions: which rep acts, and why (declines). (Authentication binds the rep to
/// the caller in a later issue.)
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    rep: String,
    #[serde(default)]
    reason: Option<String>,
}

/// Longest rep id accepted in an action body (config ids are short; this bounds what is
/// looked up and echoed).
const REP_ID_MAX: usize = 128;

fn action_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<ActionBody, ApiError> {
    let body = crate::hooks::json_body(headers, body)?;
    let parsed = serde_json::from_slice::<ActionBody>(&body).map_err(|e| {
        let mut err = ApiError::invalid_field("rep", "send {\"rep\": \"<rep id>\"}");
        err.message = format!("invalid action body: {e}");
        err
    })?;
    let len = parsed.rep.chars().count();
    if len == 0 || len > REP_ID_MAX {
        return Err(ApiError::invalid_field(
            "rep",
            format!("a rep id of 1 to {REP_ID_MAX} characters"),
        ));
    }
    Ok(parsed)
}

/// `POST /v1/leads/{id}/{action}` with `{"rep": ..., "reason": ...}`: `accept`, `contacted`
/// (first touch), `converted`, `lost`, `decline` (reason required; the lead moves on at once and
/// never comes back to this rep) and `release` (hand back). Only the owner can act.
pub async fn act(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let ActionBody { rep, reason } = action_body(&headers, body)?;
    let action = match action.as_str() {
        "accept" => RepAction::Accept,
        "contacted" => RepAction::Contacted,
        "converted" => RepAction::Converted,
        "lost" => RepAction::Lost,
        "release" => RepAction::Release,
        "decline" => match reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
        {
            Some(reason) if reason.chars().count() <= 500 => RepAction::Decline { reason },
            _ => {
                let mut err =
                    ApiError::bad_field("reason", "a decline needs a reason (1 to 500 characters)");
                err.status = StatusCode::UNPROCESSABLE_ENTITY;
                err.code = "validation_failed";
                return Err(err);
            }
        },
        _ => return Err(ApiError::not_found("no such action")),
    };
    match state.engine.act(id, &rep, action).await? {
        ActionOutcome::Done(rec) => Ok(axum::Json(view(&rec)).into_response()),
        ActionOutcome::NotOwner { owner, status } => Ok((
            StatusCode::CONFLICT,
            axum::Json(json!({"error": {
                "code": "not_owner",
                "message": format!("{rep} does not own this lead"),
                "owner": owner,
                "status": status,
            }})),
        )
            .into_response()),
        ActionOutcome::InvalidState { status } => Ok((
            StatusCode::CONFLICT,
            axum::Json(json!({"error": {
                "code": "invalid_state",
                "message": format!("not possible for a lead that is {}", status.as_str()),
                "status": status,
            }})),
        )
            .into_response()),
    }
}

/// `POST /v1/leads/{id}/claim` with `{"rep": ...}`: first claim wins; the others get 409 with
/// the winner.
pub async fn claim(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let ActionBody { rep, .. } = action_body(&headers, body)?;
    match state.engine.claim(id, &rep).await? {
        Claim::Claimed(rec) => Ok(axum::Json(view(&rec)).into_response()),
        Claim::AlreadyOwned { by } => Ok((
            StatusCode::CONFLICT,
            axum::Json(json!({"error": {"code": "already_owned", "message": format!("already claimed by {by}"), "owner": by}})),
        )
            .into_response()),
        Claim::NotClaimable { reason } => Err(ApiError::new(StatusCode::CONFLICT, "not_claimable", reason)),
        Claim::NotEligible { reasons } => Ok((
            StatusCode::CONFLICT,
            axum::Json(json!({"error": {"code": "not_eligible", "message": format!("{rep} cannot take leads now"), "reasons": reasons}})),
        )
            .into_response()),
    }
}

/// `GET /v1/pools/{id}/queue`: leads waiting to be claimed in a claim pool, best first.
pub async fn pool_queue(
    State(state): State<AppState>,
    Path(pool): Path<String>,
) -> Result<Response, ApiError> {
    if state.engine.config().pool(&pool).is_none() {
        return Err(ApiError::not_found(format!("no pool {pool}")));
    }
    let leads = state
        .engine
        .store()
        .list_waiting(&pool, LeadStatus::AwaitingClaim, 100)
        .await?;
    Ok(
        axum::Json(json!({ "pool": pool, "leads": leads.iter().map(view).collect::<Vec<_>>() }))
            .into_response(),
    )
}
