//! What each fuzz target runs. A target only has to not panic; beyond that, every lead that
//! comes out must survive the router's re-normalization unchanged (`renormalize` is documented
//! as idempotent on normalized leads), which turns silent normalization bugs into crashes.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::intake::leads_from_payload;
use leadrouter_lead::{Intake, Lead, normalize_form, normalize_json, renormalize};
use uuid::Uuid;

/// The demo config: no `[sources]` section, so every adapter runs with its default mapping.
static CONFIG: LazyLock<RoutingConfig> = LazyLock::new(|| {
    RoutingConfig::parse(
        include_str!("../../functions/leadrouter/demo.toml"),
        Format::Toml,
        "demo.toml",
    )
    .unwrap_or_else(|e| panic!("the demo config must load: {e}"))
});

fn received_at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_763_884_800, 0).unwrap_or_default()
}

/// The content type a tool would send with `body`: JSON when it looks like JSON, multipart
/// (with the boundary of its first line) when it starts with `--`, else a urlencoded form. The
/// seeds are the tools' own payloads, used unchanged.
pub fn content_type(body: &[u8]) -> String {
    let trimmed = body.trim_ascii_start();
    if trimmed.starts_with(b"{") || trimmed.starts_with(b"[") {
        return "application/json".into();
    }
    if let Some(rest) = body.strip_prefix(b"--") {
        let line = rest
            .split(|b| *b == b'\r' || *b == b'\n')
            .next()
            .unwrap_or_default();
        return format!(
            "multipart/form-data; boundary={}",
            String::from_utf8_lossy(line)
        );
    }
    "application/x-www-form-urlencoded".into()
}

fn check_renormalizes(lead: Lead) {
    let again = renormalize(lead.clone())
        .unwrap_or_else(|e| panic!("a normalized lead failed renormalization: {e}"));
    assert_eq!(again, lead, "renormalize changed a normalized lead");
}

/// One webhook delivery to `source`.
pub fn source(source: &str, data: &[u8]) {
    let ct = content_type(data);
    if matches!(source, "typeform" | "tally") {
        json_verdict_is_serde_jsons(source, &ct, data);
    }
    let leads = leads_from_payload(&CONFIG, source, &ct, data, received_at(), None, &|i| {
        Uuid::from_u128(i as u128 + 1)
    });
    if let Ok(leads) = leads {
        for lead in leads {
            check_renormalizes(lead);
        }
    }
}

/// The Typeform and Tally adapters read JSON with their own validating reader
/// (`leadrouter_sources::json_reader`): a body is refused as invalid JSON exactly when
/// serde_json refuses it.
fn json_verdict_is_serde_jsons(source: &str, ct: &str, data: &[u8]) {
    if data.len() > leadrouter_sources::MAX_BODY_BYTES || ct != "application/json" {
        return;
    }
    let decoded = leadrouter_sources::decode_all(source, ct, data, &Default::default());
    let refused = matches!(
        decoded,
        Err(leadrouter_sources::SourceError::Malformed(
            "body is not valid JSON"
        ))
    );
    let valid = serde_json::from_slice::<serde_json::Value>(data).is_ok();
    assert_eq!(
        refused, !valid,
        "{source}: the reader and serde_json disagree"
    );
}

fn intake(source: &str) -> Intake {
    Intake {
        id: Uuid::from_u128(1),
        received_at: received_at(),
        source: source.into(),
        default_country: Some("DE".into()),
        test: false,
        awaiting_enrichment: false,
    }
}

/// One HTML form post.
pub fn form(data: &[u8]) {
    if let Ok(lead) = normalize_form(data, &intake("form")) {
        check_renormalizes(lead);
    }
}

/// One JSON body posted to the API.
pub fn api_json(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(lead) = normalize_json(&body, &intake("api")) {
        check_renormalizes(lead);
    }
}

/// One config file: TOML, or JSON when it starts with `{`.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let format = if text.trim_start().starts_with('{') {
        Format::Json
    } else {
        Format::Toml
    };
    match RoutingConfig::parse(text, format, "fuzz") {
        // Problems are rendered with lines and hints: that code runs on the input too.
        Err(e) => drop(e.to_string()),
        Ok(cfg) => drop(cfg.version),
    }
}
