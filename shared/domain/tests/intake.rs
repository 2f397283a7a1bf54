//! Issue 3 in the domain: webhook source config (secrets by reference only), spam traps and
//! block lists, test submissions.

use chrono::{TimeZone, Utc};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::record::LeadStatus;
use leadrouter_domain::routing::{Snapshot, decide};
use leadrouter_lead::Lead;
use leadrouter_sources::Auth;
use uuid::Uuid;

const BASE: &str = r#"
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

fn with(extra: &str) -> Result<RoutingConfig, leadrouter_domain::config::ConfigError> {
    RoutingConfig::parse(&format!("{BASE}\n{extra}"), Format::Toml, "t.toml")
}

fn lead(email: &str) -> Lead {
    Lead {
        id: Uuid::now_v7(),
        received_at: Utc
            .with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
            .single()
            .expect("time"),
        source: "api".into(),
        email: Some(email.into()),
        ..Lead::default()
    }
}

#[test]
fn sources_take_secret_references_resolved_at_start() {
    let cfg = with(
        r#"
[sources.typeform]
auth = { scheme = "typeform_hmac", secret = "env:TF_SECRET" }
mapping = { "industry_ref" = "industry" }

[sources.partner]
adapter = "generic"
auth = { scheme = "api_key", header = "x-api-key", key = "env:PARTNER_KEY" }
default_country = "de"
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let tf = &cfg.sources["typeform"];
    assert_eq!(tf.adapter, "typeform");
    assert_eq!(
        tf.mapping.fields.get("industry_ref").map(String::as_str),
        Some("industry")
    );
    let auth = tf
        .resolve_auth(&|reference| (reference == "env:TF_SECRET").then(|| "s3cret".to_owned()))
        .expect("resolves");
    assert_eq!(
        auth,
        Auth::TypeformHmac {
            secret: "s3cret".into()
        }
    );
    let missing = cfg.sources["partner"]
        .resolve_auth(&|_| None)
        .expect_err("unset");
    assert!(
        missing.contains("PARTNER_KEY") && !missing.contains("s3cret"),
        "{missing}"
    );
    assert_eq!(
        cfg.sources["partner"].default_country.as_deref(),
        Some("DE")
    );
}

#[test]
fn source_mistakes_are_config_errors() {
    let err = with(
        r#"
[sources.typeform]
auth = { scheme = "typeform_hmac", secret = "literally-the-secret" }

[sources.mystery]
auth = { scheme = "none" }

[sources.hubspot]

[sources.tally]
auth = { scheme = "rot13" }

[sources.webflow]
auth = { scheme = "webflow_signature", secret = "env:WF" }
mapping = { "x" = "not_a_field" }
"#,
    )
    .expect_err("invalid");
    let msgs: Vec<String> = err
        .problems
        .iter()
        .map(|p| format!("{} {}", p.path, p.message))
        .collect();
    for want in [
        "sources.typeform.auth `secret` must be a secret reference",
        "sources.mystery unknown adapter `mystery`",
        "sources.hubspot `auth` is required",
        "sources.tally.auth source `tally`: invalid auth",
        "sources.webflow.mapping",
    ] {
        assert!(
            msgs.iter().any(|m| m.starts_with(want)),
            "missing {want}: {msgs:#?}"
        );
    }
    assert!(
        !err.to_string().contains("literally-the-secret"),
        "a literal secret is never echoed back"
    );
}

#[test]
fn spam_traps_and_block_lists() {
    let cfg =
        with("[intake]\nhoneypot_fields = [\"website_url\"]\nblocked_domains = [\"spam.test\"]\n")
            .expect("valid");
    let now = Utc::now();
    let mut trapped = lead("x@corp.de");
    trapped
        .custom
        .insert("website_url".into(), serde_json::json!("http://bot"));
    let plan = decide(&cfg, &trapped, &Snapshot::default(), now);
    assert_eq!(plan.status, LeadStatus::Spam);
    assert_eq!(plan.decision.rule.name, "intake");
    assert!(
        plan.reason
            .as_deref()
            .is_some_and(|r| r.contains("website_url"))
    );
    let mut empty_trap = lead("x@corp.de");
    empty_trap
        .custom
        .insert("website_url".into(), serde_json::json!(""));
    assert_eq!(
        decide(&cfg, &empty_trap, &Snapshot::default(), now).status,
        LeadStatus::Assigned
    );
    assert_eq!(
        decide(&cfg, &lead("y@spam.test"), &Snapshot::default(), now).status,
        LeadStatus::Spam
    );
    // Setting blocked_domains replaces the defaults; blocked_emails keeps its defaults.
    assert_eq!(
        decide(&cfg, &lead("y@mailinator.com"), &Snapshot::default(), now).status,
        LeadStatus::Assigned
    );
    assert_eq!(
        decide(&cfg, &lead("test@test.com"), &Snapshot::default(), now).status,
        LeadStatus::Spam
    );
    let defaults = with("").expect("valid");
    assert_eq!(
        decide(
            &defaults,
            &lead("z@mailinator.com"),
            &Snapshot::default(),
            now
        )
        .status,
        LeadStatus::Spam
    );
}

#[test]
fn test_submissions_never_reach_a_rep() {
    let cfg = with("").expect("valid");
    let mut l = lead("t@corp.de");
    l.test = true;
    let plan = decide(&cfg, &l, &Snapshot::default(), Utc::now());
    assert_eq!((plan.status, plan.owner), (LeadStatus::Test, None));
    assert!(
        plan.rep.is_none() && plan.rotation.is_none(),
        "no counters or turns used"
    );
}
