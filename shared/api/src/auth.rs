//! API tokens for the admin and rep routes: `Authorization: Bearer <token>`.
//!
//! Lead intake (`POST /v1/leads`) and webhooks (`POST /v1/hooks/{source}`) are public by design
//! (each source authenticates itself); `GET /`, `GET /v1/healthz` and `GET /v1/openapi.json` are
//! public; every other route needs a token ([`crate::routes::ROUTES`] says which is which).
//!
//! Tokens are hashed (SHA-256) when loaded and only digests are kept; a presented token is
//! hashed and compared with every digest in constant time ([`subtle`]), so neither the time an
//! answer takes nor an early exit tells a caller how much of a token was right. Tokens are
//! never logged: [`ApiAuth`]'s `Debug` shows only how many there are.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, FieldError};
use crate::routes::{Access, access};

/// Shortest token accepted at load: shorter ones are guessable, and a typo'd list (`a,,b`)
/// should fail loudly rather than admit a one-letter token.
pub const MIN_TOKEN_LEN: usize = 16;

/// Why a token list was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AuthError {
    /// The list holds no token.
    #[error("no API token given (LEADROUTER_API_TOKENS is empty)")]
    Empty,
    /// A token is too short (its position in the list, 1-based; never its value).
    #[error("API token #{0} is shorter than {MIN_TOKEN_LEN} characters")]
    TooShort(usize),
    /// A token holds characters that cannot travel in an HTTP header.
    #[error("API token #{0} has characters other than visible ASCII")]
    NotVisibleAscii(usize),
}

/// How requests to secured routes are authenticated.
#[derive(Clone)]
pub struct ApiAuth {
    mode: Arc<Mode>,
}

enum Mode {
    /// Bearer tokens, kept as SHA-256 digests.
    Tokens(Vec<[u8; 32]>),
    /// An authorizer in front of the function (API Gateway IAM or JWT) authenticates callers:
    /// a secured route needs the request to carry [`GatewayAuthorized`].
    Gateway,
}

/// Request extension: the API gateway's authorizer (IAM or JWT) authenticated this request.
///
/// Only the Lambda entry point inserts it, from the event's request context, which API Gateway
/// writes and a caller cannot. A request that reached the function another way (its public
/// Function URL, whose events carry no authorizer) lacks it, so in `gateway` mode the secured
/// routes refuse it: the function URL serves intake and webhooks only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayAuthorized;

impl std::fmt::Debug for ApiAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.mode {
            Mode::Tokens(t) => write!(f, "ApiAuth::Tokens({} tokens)", t.len()),
            Mode::Gateway => f.write_str("ApiAuth::Gateway"),
        }
    }
}

fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

impl ApiAuth {
    /// Bearer tokens from a comma-separated list (`LEADROUTER_API_TOKENS`); blanks around each
    /// token are ignored. Each must be at least [`MIN_TOKEN_LEN`] visible ASCII characters.
    pub fn from_list(list: &str) -> Result<ApiAuth, AuthError> {
        let tokens: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        ApiAuth::from_tokens(tokens)
    }

    /// Bearer tokens, each at least [`MIN_TOKEN_LEN`] visible ASCII characters.
    pub fn from_tokens<'a>(
        tokens: impl IntoIterator<Item = &'a str>,
    ) -> Result<ApiAuth, AuthError> {
        let mut digests = Vec::new();
        for (i, t) in tokens.into_iter().enumerate() {
            if !t.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(AuthError::NotVisibleAscii(i + 1));
            }
            if t.len() < MIN_TOKEN_LEN {
                return Err(AuthError::TooShort(i + 1));
            }
            digests.push(digest(t.as_bytes()));
        }
        if digests.is_empty() {
            return Err(AuthError::Empty);
        }
        Ok(ApiAuth {
            mode: Arc::new(Mode::Tokens(digests)),
        })
    }

    /// Trust the API gateway's authorizer (IAM or JWT): a secured route is served when the
    /// request carries [`GatewayAuthorized`] and refused otherwise (the SAM template's ingest
    /// function with `AdminAuth=IAM|JWT`, whose optional Function URL has no authorizer).
    pub fn trust_gateway() -> ApiAuth {
        ApiAuth {
            mode: Arc::new(Mode::Gateway),
        }
    }

    /// Whether `token` is one of the configured tokens (never, behind a gateway: there are
    /// none). Compares against every digest without stopping early.
    pub fn accepts(&self, token: &str) -> bool {
        match &*self.mode {
            Mode::Gateway => false,
            Mode::Tokens(digests) => {
                let presented = digest(token.as_bytes());
                let mut found = subtle::Choice::from(0);
                for d in digests {
                    found |= d.ct_eq(&presented);
                }
                found.into()
            }
        }
    }

    /// Checks a request for a secured route: its `Authorization` header against the tokens, or
    /// behind a gateway whether the gateway's authorizer passed it (`gateway`, from
    /// [`GatewayAuthorized`]). `Ok`, or the 401 (bad or missing token) or 403 (not through the
    /// gateway's authorizer) to answer.
    pub fn check(
        &self,
        authorization: Option<&HeaderValue>,
        gateway: Option<GatewayAuthorized>,
    ) -> Result<(), ApiError> {
        if matches!(&*self.mode, Mode::Gateway) {
            return match gateway {
                Some(GatewayAuthorized) => Ok(()),
                None => Err(not_through_gateway()),
            };
        }
        let Some(value) = authorization else {
            return Err(unauthorized(
                "missing; send `Authorization: Bearer <token>`",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .ok_or_else(|| unauthorized("not of the form `Bearer <token>`"))?;
        if self.accepts(token) {
            Ok(())
        } else {
            Err(unauthorized("not a valid API token"))
        }
    }
}

fn unauthorized(problem: &str) -> ApiError {
    let mut err = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "this route needs an API token: `Authorization: Bearer <token>`",
    );
    err.fields.push(FieldError {
        field: "Authorization".into(),
        problem: problem.into(),
    });
    err
}

/// A secured route reached without the gateway's authorizer (through the Function URL).
fn not_through_gateway() -> ApiError {
    let mut err = ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "this route is served only through the API's authorizer (IAM or JWT); the function URL \
         takes lead intake and webhooks only",
    );
    err.fields.push(FieldError {
        field: "Authorization".into(),
        problem: "not checked: the request did not come through the API gateway's authorizer"
            .into(),
    });
    err
}

/// Middleware: secured routes need a valid token. The route is looked up by method and
/// matched path in [`crate::routes::ROUTES`]; a route missing from the table counts as secured,
/// so forgetting to list a new route can only make it stricter. Requests no route matches fall
/// through to the 404 (the route list is public in the OpenAPI document anyway).
pub async fn require_token(State(auth): State<ApiAuth>, req: Request, next: Next) -> Response {
    let Some(path) = req.extensions().get::<MatchedPath>() else {
        return next.run(req).await;
    };
    // HEAD is answered by GET handlers, so it has the GET route's access.
    let method = if req.method() == Method::HEAD {
        Method::GET
    } else {
        req.method().clone()
    };
    if access(&method, path.as_str()) != Access::Token {
        return next.run(req).await;
    }
    let gateway = req.extensions().get::<GatewayAuthorized>().copied();
    match auth.check(req.headers().get(header::AUTHORIZATION), gateway) {
        Ok(()) => next.run(req).await,
        Err(err) => {
            tracing::info!(route = path.as_str(), %method, status = err.status.as_u16(), "unauthenticated request refused");
            let challenge = err.status == StatusCode::UNAUTHORIZED;
            let mut resp = err.into_response();
            if challenge {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"leadrouter\""),
                );
            }
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_by_digest() {
        let auth = ApiAuth::from_list(" first-token-0123456789 , second-token-0123456789,")
            .expect("valid");
        assert!(auth.accepts("first-token-0123456789"));
        assert!(auth.accepts("second-token-0123456789"));
        assert!(!auth.accepts("first-token-012345678"));
        assert!(!auth.accepts(""));
        assert!(format!("{auth:?}").contains("2 tokens"));
        assert!(!format!("{auth:?}").contains("first"));
    }

    #[test]
    fn weak_lists_are_refused() {
        assert_eq!(
            ApiAuth::from_list(" , ").expect_err("refused"),
            AuthError::Empty
        );
        assert_eq!(
            ApiAuth::from_list("long-enough-token-123,short").expect_err("refused"),
            AuthError::TooShort(2)
        );
        assert_eq!(
            ApiAuth::from_list("long enough token 123").expect_err("refused"),
            AuthError::NotVisibleAscii(1)
        );
    }

    #[test]
    fn header_forms() {
        let auth = ApiAuth::from_list("the-one-token-0123456789").expect("valid");
        let ok = HeaderValue::from_static("Bearer the-one-token-0123456789");
        assert!(auth.check(Some(&ok), None).is_ok());
        let lower = HeaderValue::from_static("bearer the-one-token-0123456789");
        assert!(auth.check(Some(&lower), None).is_ok());
        for bad in [
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "the-one-token-0123456789",
            "Bearer wrong",
        ] {
            let v = HeaderValue::from_static(bad);
            let err = auth.check(Some(&v), None).expect_err("refused");
            assert_eq!(err.status, StatusCode::UNAUTHORIZED, "{bad}");
            assert_eq!(err.fields[0].field, "Authorization");
        }
        assert_eq!(
            auth.check(None, None).expect_err("refused").code,
            "unauthorized"
        );
        // A gateway marker does not stand in for a token in token mode.
        assert_eq!(
            auth.check(None, Some(GatewayAuthorized))
                .expect_err("refused")
                .code,
            "unauthorized"
        );
    }

    #[test]
    fn behind_a_gateway_only_its_authorizer_admits() {
        let auth = ApiAuth::trust_gateway();
        assert!(auth.check(None, Some(GatewayAuthorized)).is_ok());
        let token = HeaderValue::from_static("Bearer any-token-0123456789");
        for header in [None, Some(&token)] {
            let err = auth.check(header, None).expect_err("refused");
            assert_eq!((err.status, err.code), (StatusCode::FORBIDDEN, "forbidden"));
            assert_eq!(err.fields[0].field, "Authorization");
        }
        assert!(!auth.accepts("any-token-0123456789"));
    }
}
