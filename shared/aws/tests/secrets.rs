//! `ssm:/path` secret references resolved from SSM Parameter Store (SecureString, decrypted)
//! through the real SDK, against moto's SSM: what the ingest Lambda does at cold start.

use aws_sdk_ssm::types::ParameterType;
use leadrouter_aws::moto::{moto, sdk};
use leadrouter_aws::secrets::{fetch, notify_references, ssm_references};
use leadrouter_domain::config::{Format, RoutingConfig};

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

[sources.typeform]
auth = { scheme = "typeform_hmac", secret = "ssm:/leadrouter/typeform/secret" }

[sources.site]
adapter = "generic"
auth = { scheme = "api_key", header = "x-api-key", key = "ssm:/leadrouter/site/key" }

[sources.partner]
adapter = "generic"
auth = { scheme = "api_key", header = "x-api-key", key = "ssm:/leadrouter/partner/key" }
"#;

const NOTIFY: &str = r#"
[[reps]]
id = "a"
[[pools]]
id = "p"
members = ["a"]
strategy = "round_robin"
notify = { slack_webhook = "ssm:/leadrouter/slack/sales", webhook_url = "https://hooks.example.com/leads", webhook_secret = "env:LOCAL_ONLY" }
[[rules]]
name = "default"
pool = "p"
"#;

async fn put(client: &aws_sdk_ssm::Client, name: &str, value: &str) {
    client
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {name}: {e:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssm_references_resolve_from_parameter_store_and_a_missing_one_is_named() {
    let moto = moto(false).await;
    let client = aws_sdk_ssm::Client::new(&sdk(&moto).await);
    let cfg =
        RoutingConfig::parse(CONFIG, Format::Toml, "t.toml").unwrap_or_else(|e| panic!("{e}"));

    let refs = ssm_references(&cfg);
    assert_eq!(
        refs.iter().map(String::as_str).collect::<Vec<_>>(),
        [
            "ssm:/leadrouter/partner/key",
            "ssm:/leadrouter/site/key",
            "ssm:/leadrouter/typeform/secret"
        ]
    );

    // Two of the three exist; the partner's key was never stored.
    put(&client, "/leadrouter/typeform/secret", "tf-s3cret").await;
    put(&client, "/leadrouter/site/key", "site-k3y").await;
    let secrets = fetch(&client, refs).await.expect("fetch");
    assert_eq!(secrets.len(), 2);
    assert_eq!(
        secrets.lookup("ssm:/leadrouter/typeform/secret").as_deref(),
        Some("tf-s3cret"),
        "decrypted value"
    );
    // Only `ssm:` references resolve on AWS; the environment is never read.
    assert_eq!(secrets.lookup("env:PATH"), None);
    assert!(
        !format!("{secrets:?}").contains("s3cret"),
        "Debug shows no value"
    );

    let lookup = |reference: &str| secrets.lookup(reference);
    cfg.sources["typeform"]
        .resolve_auth(&lookup)
        .expect("typeform resolves");
    cfg.sources["site"]
        .resolve_auth(&lookup)
        .expect("site resolves");
    let missing = cfg.sources["partner"]
        .resolve_auth(&lookup)
        .expect_err("partner's key is missing");
    assert!(
        missing.contains("source `partner`")
            && missing.contains("`ssm:/leadrouter/partner/key`")
            && missing.contains("SSM Parameter Store")
            && !missing.contains("s3cret")
            && !missing.contains("k3y"),
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notifiers_ssm_references_are_listed_and_fetched() {
    let cfg =
        RoutingConfig::parse(NOTIFY, Format::Toml, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    let refs = notify_references(&cfg);
    assert_eq!(
        refs.iter().map(String::as_str).collect::<Vec<_>>(),
        ["ssm:/leadrouter/slack/sales"],
        "only ssm: references"
    );
    assert_eq!(
        ssm_references(&cfg),
        refs,
        "all of the config's references include them"
    );
    let moto = moto(false).await;
    let client = aws_sdk_ssm::Client::new(&sdk(&moto).await);
    put(
        &client,
        "/leadrouter/slack/sales",
        "https://hooks.slack.test/T/B/x",
    )
    .await;
    let secrets = fetch(&client, refs).await.expect("fetch");
    assert_eq!(
        secrets.lookup("ssm:/leadrouter/slack/sales").as_deref(),
        Some("https://hooks.slack.test/T/B/x")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_ten_references_are_fetched_in_several_calls() {
    let moto = moto(false).await;
    let client = aws_sdk_ssm::Client::new(&sdk(&moto).await);
    let mut refs = Vec::new();
    for i in 0..23 {
        put(&client, &format!("/leadrouter/s{i}"), &format!("v{i}")).await;
        refs.push(format!("ssm:/leadrouter/s{i}"));
    }
    // Not SSM references: ignored, never sent.
    refs.push("env:HOME".into());
    refs.push("plain".into());
    let secrets = fetch(&client, refs).await.expect("fetch");
    assert_eq!(secrets.len(), 23);
    assert_eq!(
        secrets.lookup("ssm:/leadrouter/s17").as_deref(),
        Some("v17")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_call_is_a_start_error_naming_the_operation() {
    // Nothing listens on this port: the call fails (no value, no panic), naming what it tried.
    let moto = moto(false).await;
    let mut conf = sdk(&moto).await.into_builder();
    conf.set_endpoint_url(Some("http://127.0.0.1:9".into()));
    let client = aws_sdk_ssm::Client::new(&conf.build());
    let err = fetch(&client, ["ssm:/leadrouter/x".to_owned()])
        .await
        .expect_err("unreachable endpoint");
    assert!(
        err.0.contains("SSM GetParameters") && err.0.contains("/leadrouter/x"),
        "{err}"
    );
}
