//! Inputs the fuzzer (`fuzz/`, `tests/fuzz.sh`) crashed on, kept as regression tests: each file
//! in `tests/fuzz-regressions/` is a webhook body named after its fuzz target. The property is
//! the fuzz targets' own: decoding and normalizing never panics, and every lead the webhook
//! accepts comes through the router's re-normalization unchanged (it used to change or reject
//! leads whose tool id had line breaks or more than 256 characters).

use chrono::DateTime;
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::intake::leads_from_payload;
use leadrouter_lead::{derive_lead_id, renormalize};
use uuid::Uuid;

const CONFIG: &str = r#"
[[reps]]
id = "a"
[[pools]]
id = "p"
members = ["a"]
strategy = "round_robin"
[[rules]]
name = "default"
pool = "p"
"#;

/// The fuzz targets' content-type sniffing (`fuzz/src/lib.rs`).
fn content_type(body: &[u8]) -> String {
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

fn config() -> RoutingConfig {
    RoutingConfig::parse(CONFIG, Format::Toml, "t.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn decode(source: &str, body: &[u8]) -> Vec<leadrouter_lead::Lead> {
    let at = DateTime::from_timestamp(1_763_884_800, 0).unwrap_or_default();
    leads_from_payload(
        &config(),
        source,
        &content_type(body),
        body,
        at,
        None,
        &|i| Uuid::from_u128(i as u128 + 1),
    )
    .unwrap_or_default()
}

#[test]
fn crash_inputs_renormalize_unchanged() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz-regressions");
    let mut files = 0;
    let mut leads = 0;
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        // `source_google_ads-<hash>` → `google-ads`
        let target = name.split('-').next().unwrap_or_default();
        let source = target.trim_start_matches("source_").replace('_', "-");
        let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        for lead in decode(&source, &body) {
            let again = renormalize(lead.clone())
                .unwrap_or_else(|e| panic!("{name}: the router would reject the lead: {e}"));
            assert_eq!(again, lead, "{name}: renormalize changed the lead");
            leads += 1;
        }
        files += 1;
    }
    assert!(files >= 5, "the crash inputs are there");
    assert!(leads >= 5, "each crash input still decodes to a lead");
}

#[test]
fn a_tool_id_with_line_breaks_is_stored_normalized_and_keeps_the_lead_id() {
    let raw = "abc\r\n  def ";
    let body = serde_json::json!({"external_id": raw, "email": "ada@beispiel.de"}).to_string();
    let leads = decode("generic", body.as_bytes());
    let lead = leads.first().unwrap_or_else(|| panic!("one lead"));
    assert_eq!(lead.external_id.as_deref(), Some("abc def"));
    assert_eq!(renormalize(lead.clone()).ok().as_ref(), Some(lead));
    // The id still derives from the id as sent: redeliveries before and after the fix match.
    assert_eq!(Some(lead.id), derive_lead_id("generic", None, Some(raw)));
}

#[test]
fn a_tool_id_too_long_to_store_is_left_out_but_still_names_the_lead() {
    let raw = "x".repeat(300);
    let body = serde_json::json!({"external_id": raw, "email": "ada@beispiel.de"}).to_string();
    let leads = decode("generic", body.as_bytes());
    let lead = leads.first().unwrap_or_else(|| panic!("one lead"));
    assert_eq!(lead.external_id, None);
    assert!(
        renormalize(lead.clone()).is_ok(),
        "the router accepts the lead"
    );
    assert_eq!(Some(lead.id), derive_lead_id("generic", None, Some(&raw)));
}
