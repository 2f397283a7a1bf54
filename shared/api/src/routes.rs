//! The route table: every (method, path) of the HTTP API, who may call it, and which handler
//! serves it. [`crate::router`] is built from this table, the auth middleware reads it, and the
//! tests check it against `docs/openapi.json` both ways, so the router, the access rules and
//! the published spec cannot drift apart.

use axum::http::Method;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: the dashboard page, health, the OpenAPI document.
    Public,
    /// Lead intake: public at the HTTP level; each source authenticates itself (per-source API
    /// keys, the tools' signature schemes, honeypots).
    Source,
    /// Admin and rep routes: `Authorization: Bearer <token>` ([`crate::auth`]).
    Token,
}

/// What serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /`: the dashboard page (static; it calls the API with the token typed into it).
    Dashboard,
    /// Liveness.
    Health,
    /// The OpenAPI document.
    OpenApi,
    /// Lead intake (JSON or form).
    CreateLead,
    /// Lead list.
    ListLeads,
    /// One lead.
    GetLead,
    /// Rep actions on a lead.
    LeadAction,
    /// Claiming a lead from a claim pool.
    ClaimLead,
    /// A claim pool's queue.
    PoolQueue,
    /// Webhook intake.
    Hook,
    /// Configured sources and their counters.
    Sources,
    /// Reps.
    ListReps,
    /// One rep.
    GetRep,
    /// Availability changes.
    PatchRep,
    /// An A/B experiment's result.
    Experiment,
    /// Shadow-mode comparison.
    Shadow,
    /// Stats.
    Stats,
    /// Config version history.
    ConfigHistory,
    /// One config version.
    ConfigVersion,
}

/// One route.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// HTTP method (upper case).
    pub method: &'static str,
    /// Path in axum and OpenAPI syntax (`/v1/leads/{id}`).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// What serves it.
    pub endpoint: Endpoint,
}

const fn r(method: &'static str, path: &'static str, access: Access, endpoint: Endpoint) -> Route {
    Route {
        method,
        path,
        access,
        endpoint,
    }
}

/// Every route of the HTTP API.
pub const ROUTES: &[Route] = &[
    r("GET", "/", Access::Public, Endpoint::Dashboard),
    r("GET", "/v1/healthz", Access::Public, Endpoint::Health),
    r("GET", "/v1/openapi.json", Access::Public, Endpoint::OpenApi),
    r("POST", "/v1/leads", Access::Source, Endpoint::CreateLead),
    r("POST", "/v1/hooks/{source}", Access::Source, Endpoint::Hook),
    r("GET", "/v1/leads", Access::Token, Endpoint::ListLeads),
    r("GET", "/v1/leads/{id}", Access::Token, Endpoint::GetLead),
    r(
        "POST",
        "/v1/leads/{id}/{action}",
        Access::Token,
        Endpoint::LeadAction,
    ),
    r(
        "POST",
        "/v1/leads/{id}/claim",
        Access::Token,
        Endpoint::ClaimLead,
    ),
    r(
        "GET",
        "/v1/pools/{id}/queue",
        Access::Token,
        Endpoint::PoolQueue,
    ),
    r("GET", "/v1/sources", Access::Token, Endpoint::Sources),
    r("GET", "/v1/reps", Access::Token, Endpoint::ListReps),
    r("GET", "/v1/reps/{id}", Access::Token, Endpoint::GetRep),
    r("PATCH", "/v1/reps/{id}", Access::Token, Endpoint::PatchRep),
    r(
        "GET",
        "/v1/experiments/{id}",
        Access::Token,
        Endpoint::Experiment,
    ),
    r("GET", "/v1/shadow", Access::Token, Endpoint::Shadow),
    r("GET", "/v1/stats", Access::Token, Endpoint::Stats),
    r(
        "GET",
        "/v1/config/history",
        Access::Token,
        Endpoint::ConfigHistory,
    ),
    r(
        "GET",
        "/v1/config/{version}",
        Access::Token,
        Endpoint::ConfigVersion,
    ),
];

/// Who may call `method` on the route `path` (axum's matched path). Anything not in the table
/// needs a token.
pub fn access(method: &Method, path: &str) -> Access {
    ROUTES
        .iter()
        .find(|r| r.path == path && r.method == method.as_str())
        .map_or(Access::Token, |r| r.access)
}
