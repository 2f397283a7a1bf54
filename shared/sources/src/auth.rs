//! Request authenticity: each tool's published webhook signing scheme.
//!
//! All comparisons are constant-time: HMACs through `hmac`'s `verify_slice`, shared keys by
//! comparing SHA-256 digests with `subtle` (so neither contents nor length leak through timing).
//! No error carries a secret, a signature or body contents (see [`AuthError::reason`]).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Default Calendly replay window, in seconds (Calendly's docs use three minutes).
pub const CALENDLY_DEFAULT_TOLERANCE_SECS: u64 = 180;
/// HubSpot's documented window for `X-HubSpot-Request-Timestamp`: five minutes.
pub const HUBSPOT_TOLERANCE_MS: i64 = 5 * 60 * 1000;
/// Webflow's documented window for `x-webflow-timestamp`: five minutes.
pub const WEBFLOW_TOLERANCE_MS: i64 = 5 * 60 * 1000;

/// How a source's requests are authenticated. Secrets are plain strings the caller resolved
/// (e.g. from the environment); [`fmt::Debug`] redacts them.
///
/// Deserializes from a tagged object, e.g. `{"scheme": "typeform_hmac", "secret": "..."}`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    /// Typeform: `Typeform-Signature: sha256=<base64 HMAC-SHA256(secret, body)>`.
    TypeformHmac {
        /// The webhook's secret.
        secret: String,
    },
    /// Meta (Facebook) webhooks: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, body)>`.
    #[serde(rename = "meta_signature_256")]
    MetaSignature256 {
        /// The app secret.
        app_secret: String,
    },
    /// HubSpot v3: `X-HubSpot-Signature-v3` = base64 HMAC-SHA256(client secret,
    /// method + URI + body + timestamp), `X-HubSpot-Request-Timestamp` (ms) within 5 minutes.
    #[serde(rename = "hubspot_v3")]
    HubspotV3 {
        /// The app's client secret.
        client_secret: String,
    },
    /// Calendly: `Calendly-Webhook-Signature: t=<unix s>,v1=<hex HMAC-SHA256(key, "t.body")>`.
    CalendlySignature {
        /// The webhook signing key.
        signing_key: String,
        /// Replay window in seconds (default [`CALENDLY_DEFAULT_TOLERANCE_SECS`]).
        #[serde(default)]
        tolerance_secs: Option<u64>,
    },
    /// Webflow: `x-webflow-signature` = hex HMAC-SHA256(secret, timestamp + ":" + body),
    /// `x-webflow-timestamp` (ms) within 5 minutes.
    WebflowSignature {
        /// The OAuth app's client secret, or the webhook's own secret key.
        secret: String,
    },
    /// Google Ads lead forms: the `google_key` field of the JSON body equals the configured key.
    GoogleKey {
        /// The key configured on the lead form's webhook.
        key: String,
    },
    /// Tally: `Tally-Signature: <base64 HMAC-SHA256(signing secret, body)>`.
    TallySignature {
        /// The webhook's signing secret.
        signing_secret: String,
    },
    /// A shared key in a request header (for tools without signatures: Unbounce custom headers,
    /// Zapier, generic senders).
    ApiKey {
        /// Header name (case-insensitive).
        header: String,
        /// Expected header value.
        key: String,
    },
    /// No authentication (only for sources that offer none and are otherwise protected).
    None,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const R: &str = "<redacted>";
        match self {
            Auth::TypeformHmac { .. } => {
                f.debug_struct("TypeformHmac").field("secret", &R).finish()
            }
            Auth::MetaSignature256 { .. } => f
                .debug_struct("MetaSignature256")
                .field("app_secret", &R)
                .finish(),
            Auth::HubspotV3 { .. } => f
                .debug_struct("HubspotV3")
                .field("client_secret", &R)
                .finish(),
            Auth::CalendlySignature { tolerance_secs, .. } => f
                .debug_struct("CalendlySignature")
                .field("signing_key", &R)
                .field("tolerance_secs", tolerance_secs)
                .finish(),
            Auth::WebflowSignature { .. } => f
                .debug_struct("WebflowSignature")
                .field("secret", &R)
                .finish(),
            Auth::GoogleKey { .. } => f.debug_struct("GoogleKey").field("key", &R).finish(),
            Auth::TallySignature { .. } => f
                .debug_struct("TallySignature")
                .field("signing_secret", &R)
                .finish(),
            Auth::ApiKey { header, .. } => f
                .debug_struct("ApiKey")
                .field("header", header)
                .field("key", &R)
                .finish(),
            Auth::None => f.write_str("None"),
        }
    }
}

/// Why a request failed verification. Every reason is a static string: never a secret, a
/// signature or body contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A required header or field is absent.
    #[error("missing: {0}")]
    Missing(&'static str),
    /// The signature, key or a header is wrong or malformed.
    #[error("invalid: {0}")]
    Invalid(&'static str),
    /// Authentic but outside the allowed time window (replayed or badly delayed).
    #[error("stale: {0}")]
    Stale(&'static str),
}

impl AuthError {
    /// A short, loggable explanation (safe to show: no secrets, no body contents).
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Missing(r) | AuthError::Invalid(r) | AuthError::Stale(r) => r,
        }
    }
}

/// Verifies a request against `auth`.
///
/// `url` is the full URL the tool called, exactly as it called it (scheme, host, path and
/// query; HubSpot signs it). `headers` are the request headers (names case-insensitive).
/// `body` is the raw body, byte for byte. `now` is the clock used for replay windows.
pub fn verify(
    auth: &Auth,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    match auth {
        Auth::TypeformHmac { secret } => typeform(secret, headers, body),
        Auth::MetaSignature256 { app_secret } => meta(app_secret, headers, body),
        Auth::HubspotV3 { client_secret } => {
            hubspot_v3(client_secret, method, url, headers, body, now)
        }
        Auth::CalendlySignature {
            signing_key,
            tolerance_secs,
        } => calendly(
            signing_key,
            tolerance_secs.unwrap_or(CALENDLY_DEFAULT_TOLERANCE_SECS),
            headers,
            body,
            now,
        ),
        Auth::WebflowSignature { secret } => webflow(secret, headers, body, now),
        Auth::GoogleKey { key } => google_key(key, body),
        Auth::TallySignature { signing_secret } => tally(signing_secret, headers, body),
        Auth::ApiKey { header, key } => api_key(header, key, headers),
        Auth::None => Ok(()),
    }
}

/// The single value of a header; a header sent twice with different values is refused.
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, AuthError> {
    let mut found: Option<&str> = None;
    for (k, v) in headers {
        if k.trim().eq_ignore_ascii_case(name) {
            let v = v.trim();
            match found {
                Some(prev) if prev != v => {
                    return Err(AuthError::Invalid(
                        "conflicting duplicate signature headers",
                    ));
                }
                _ => found = Some(v),
            }
        }
    }
    Ok(found)
}

fn required<'a>(
    headers: &'a [(String, String)],
    name: &str,
    missing: &'static str,
) -> Result<&'a str, AuthError> {
    match header(headers, name)? {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(AuthError::Missing(missing)),
    }
}

fn mac(secret: &str) -> Result<HmacSha256, AuthError> {
    if secret.is_empty() {
        return Err(AuthError::Invalid(
            "verifier configured with an empty secret",
        ));
    }
    HmacSha256::new_from_slice(secret.as_bytes()).map_err(|_| AuthError::Invalid("unusable secret"))
}

fn check(mac: HmacSha256, expected: &[u8]) -> Result<(), AuthError> {
    mac.verify_slice(expected)
        .map_err(|_| AuthError::Invalid("signature does not match"))
}

fn decode_hex(s: &str) -> Result<Vec<u8>, AuthError> {
    hex::decode(s).map_err(|_| AuthError::Invalid("signature is not hex"))
}

fn decode_b64(s: &str) -> Result<Vec<u8>, AuthError> {
    BASE64
        .decode(s)
        .map_err(|_| AuthError::Invalid("signature is not base64"))
}

/// Constant-time equality of two shared keys (compares SHA-256 digests: no length leak).
fn keys_equal(given: &str, expected: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    bool::from(a.ct_eq(&b))
}

// Typeform, "Secure your webhooks":
// https://www.typeform.com/developers/webhooks/secure-your-webhooks/
// Header `Typeform-Signature: sha256=` + base64(HMAC-SHA256(secret, raw payload)).
fn typeform(secret: &str, headers: &[(String, String)], body: &[u8]) -> Result<(), AuthError> {
    let value = required(headers, "typeform-signature", "Typeform-Signature header")?;
    let sig = value.strip_prefix("sha256=").ok_or(AuthError::Invalid(
        "Typeform-Signature is not sha256=<base64>",
    ))?;
    let mut m = mac(secret)?;
    m.update(body);
    check(m, &decode_b64(sig)?)
}

// Meta, "Webhooks: Getting Started", Event Notifications / Validating Payloads:
// https://developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads
// Header `X-Hub-Signature-256: sha256=` + hex(HMAC-SHA256(app secret, raw payload)).
fn meta(app_secret: &str, headers: &[(String, String)], body: &[u8]) -> Result<(), AuthError> {
    let value = required(headers, "x-hub-signature-256", "X-Hub-Signature-256 header")?;
    let sig = value.strip_prefix("sha256=").ok_or(AuthError::Invalid(
        "X-Hub-Signature-256 is not sha256=<hex>",
    ))?;
    let mut m = mac(app_secret)?;
    m.update(body);
    check(m, &decode_hex(sig)?)
}

// HubSpot, "Validating requests" (v3 signature):
// https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests
// (also https://developers.hubspot.com/changelog/introducing-version-3-of-webhook-signatures)
// 1. reject if X-HubSpot-Request-Timestamp (ms) is older than 5 minutes;
// 2. UTF-8 string requestMethod + requestUri + requestBody + timestamp, where the listed
//    URL-encoded characters of the URI are decoded;
// 3. base64(HMAC-SHA256(client secret, string)) compared with X-HubSpot-Signature-v3.
fn hubspot_v3(
    client_secret: &str,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let sig = required(
        headers,
        "x-hubspot-signature-v3",
        "X-HubSpot-Signature-v3 header",
    )?;
    let ts = required(
        headers,
        "x-hubspot-request-timestamp",
        "X-HubSpot-Request-Timestamp header",
    )?;
    let ts_ms: i64 = ts
        .parse()
        .map_err(|_| AuthError::Invalid("X-HubSpot-Request-Timestamp is not an integer"))?;
    let mut m = mac(client_secret)?;
    m.update(method.to_ascii_uppercase().as_bytes());
    m.update(hubspot_decode_uri(url).as_bytes());
    m.update(body);
    m.update(ts.as_bytes());
    check(m, &decode_b64(sig)?)?;
    if now.timestamp_millis().abs_diff(ts_ms) > HUBSPOT_TOLERANCE_MS.unsigned_abs() {
        return Err(AuthError::Stale(
            "X-HubSpot-Request-Timestamp outside the 5-minute window",
        ));
    }
    Ok(())
}

/// Decodes exactly the percent-encodings HubSpot's v3 instructions list, leaving all others.
pub fn hubspot_decode_uri(uri: &str) -> String {
    const TABLE: [(&str, char); 12] = [
        ("3A", ':'),
        ("2F", '/'),
        ("3F", '?'),
        ("40", '@'),
        ("21", '!'),
        ("24", '$'),
        ("27", '\''),
        ("28", '('),
        ("29", ')'),
        ("2A", '*'),
        ("2C", ','),
        ("3B", ';'),
    ];
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let code = after.get(..2);
        match code.and_then(|c| TABLE.iter().find(|(k, _)| k.eq_ignore_ascii_case(c))) {
            Some((_, ch)) => {
                out.push(*ch);
                rest = &after[2..];
            }
            None => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

// Calendly, "Webhook Signatures":
// https://developer.calendly.com/api-docs/overview/webhooks/webhook-signatures
// Header `Calendly-Webhook-Signature: t=<unix seconds>,v1=<signature>`; the signature is
// hex(HMAC-SHA256(signing key, t + "." + raw body)); reject timestamps outside the tolerance
// (the docs' example uses 3 minutes) to prevent replays.
fn calendly(
    signing_key: &str,
    tolerance_secs: u64,
    headers: &[(String, String)],
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let value = required(
        headers,
        "calendly-webhook-signature",
        "Calendly-Webhook-Signature header",
    )?;
    let mut t = None;
    let mut sigs = Vec::new();
    for part in value.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.trim()),
            Some(("v1", v)) => sigs.push(v.trim()),
            _ => {}
        }
    }
    let t = t.ok_or(AuthError::Invalid("Calendly-Webhook-Signature has no t="))?;
    if sigs.is_empty() {
        return Err(AuthError::Invalid("Calendly-Webhook-Signature has no v1="));
    }
    let ts: i64 = t
        .parse()
        .map_err(|_| AuthError::Invalid("Calendly-Webhook-Signature t= is not an integer"))?;
    let mut base = mac(signing_key)?;
    base.update(t.as_bytes());
    base.update(b".");
    base.update(body);
    let matched = sigs.iter().any(|s| {
        hex::decode(s)
            .ok()
            .is_some_and(|bytes| base.clone().verify_slice(&bytes).is_ok())
    });
    if !matched {
        return Err(AuthError::Invalid("signature does not match"));
    }
    if now.timestamp().abs_diff(ts) > tolerance_secs {
        return Err(AuthError::Stale(
            "Calendly signature timestamp outside the replay window",
        ));
    }
    Ok(())
}

// Webflow, "Working with webhooks" / Validating request signatures:
// https://developers.webflow.com/data/docs/working-with-webhooks#validating-request-signatures
// hex(HMAC-SHA256(client secret or webhook secret, x-webflow-timestamp + ":" + raw body))
// compared with x-webflow-signature; requests older than 5 minutes (300,000 ms) are refused.
fn webflow(
    secret: &str,
    headers: &[(String, String)],
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    let sig = required(headers, "x-webflow-signature", "x-webflow-signature header")?;
    let ts = required(headers, "x-webflow-timestamp", "x-webflow-timestamp header")?;
    let ts_ms: i64 = ts
        .parse()
        .map_err(|_| AuthError::Invalid("x-webflow-timestamp is not an integer"))?;
    let mut m = mac(secret)?;
    m.update(ts.as_bytes());
    m.update(b":");
    m.update(body);
    check(m, &decode_hex(sig)?)?;
    if now.timestamp_millis().abs_diff(ts_ms) > WEBFLOW_TOLERANCE_MS.unsigned_abs() {
        return Err(AuthError::Stale(
            "x-webflow-timestamp outside the 5-minute window",
        ));
    }
    Ok(())
}

// Google Ads lead form webhooks, "Implementation" (google_key):
// https://developers.google.com/google-ads/webhook/docs/implementation
// "A key configured by the advertiser with each form ... verify the request is from Google":
// the JSON body's `google_key` must equal the configured key.
fn google_key(key: &str, body: &[u8]) -> Result<(), AuthError> {
    if key.is_empty() {
        return Err(AuthError::Invalid("verifier configured with an empty key"));
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| AuthError::Invalid("body is not JSON"))?;
    match value.get("google_key") {
        None | Some(serde_json::Value::Null) => Err(AuthError::Missing("google_key field")),
        Some(serde_json::Value::String(given)) if keys_equal(given, key) => Ok(()),
        Some(_) => Err(AuthError::Invalid("google_key does not match")),
    }
}

// Tally, "Webhooks" / Add a signing secret: https://tally.so/help/webhooks
// `Tally-Signature` = base64(HMAC-SHA256(signing secret, JSON payload)). Tally's example
// hashes JSON.stringify of the parsed payload, which is the compact body Tally sends; this
// verifies the raw body.
fn tally(secret: &str, headers: &[(String, String)], body: &[u8]) -> Result<(), AuthError> {
    let sig = required(headers, "tally-signature", "Tally-Signature header")?;
    let mut m = mac(secret)?;
    m.update(body);
    check(m, &decode_b64(sig)?)
}

fn api_key(name: &str, key: &str, headers: &[(String, String)]) -> Result<(), AuthError> {
    if key.is_empty() {
        return Err(AuthError::Invalid("verifier configured with an empty key"));
    }
    let given = required(headers, name, "API key header")?;
    if keys_equal(given, key) {
        Ok(())
    } else {
        Err(AuthError::Invalid("API key does not match"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hubspot_uri_table() {
        assert_eq!(
            hubspot_decode_uri("https://ex.com/hook?a=b%3Ac%2Fd%3f%40%21%24%27%28%29%2A%2C%3B%20%"),
            "https://ex.com/hook?a=b:c/d?@!$'()*,;%20%"
        );
    }

    #[test]
    fn debug_redacts() {
        let a = Auth::ApiKey {
            header: "x-key".into(),
            key: "hunter2".into(),
        };
        assert!(!format!("{a:?}").contains("hunter2"));
        let t = Auth::TypeformHmac {
            secret: "hunter2".into(),
        };
        assert!(!format!("{t:?}").contains("hunter2"));
    }

    #[test]
    fn deserializes_tagged() {
        let a: Auth =
            serde_json::from_str(r#"{"scheme":"hubspot_v3","client_secret":"s"}"#).expect("ok");
        assert_eq!(
            a,
            Auth::HubspotV3 {
                client_secret: "s".into()
            }
        );
        let n: Auth = serde_json::from_str(r#"{"scheme":"none"}"#).expect("ok");
        assert_eq!(n, Auth::None);
        let c: Auth = serde_json::from_str(r#"{"scheme":"calendly_signature","signing_key":"k"}"#)
            .expect("ok");
        assert!(matches!(
            c,
            Auth::CalendlySignature {
                tolerance_secs: None,
                ..
            }
        ));
        assert!(
            serde_json::from_str::<Auth>(r#"{"scheme":"google_key","key":"k","x":1}"#).is_err()
        );
    }
}
