//! `leadrouter doctor` and `leadrouter redrive`, run as the binary an operator runs, against
//! the embedded store and against DynamoDB/SQS on moto (through the real SDK; moto is required
//! like in the other `*_moto` tests, never skipped).
//!
//! Doctor: a store built by the engine itself (routing, accepts, closes, a decline, batches) is
//! healthy; then one corruption at a time (a bumped counter, an over-cap owner written behind
//! the engine's back, a rotation counter) is reported as exactly that problem, with exit 1.
//! Redrive: a poison message that reached the dead-letter queue is moved back to its queue, the
//! dead-letter queue is empty afterwards, and a second run moves nothing.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::{Engine, RepAction};
use leadrouter_domain::ports::{Commit, Queue, Store, SystemClock};
use leadrouter_domain::ports::{CommitOutcome, Versioned};
use leadrouter_domain::record::{LeadRecord, LeadStatus};
use leadrouter_embedded::{EmbeddedStore, QueueConfig};
use leadrouter_lead::{Intake, normalize_json};
use serde_json::json;
use uuid::Uuid;

/// Small caps so an over-cap owner takes a few leads: `ana` holds at most 3 open leads.
const CONFIG: &str = r#"
[settings]
timezone = "UTC"
sticky_days = 0

[[reps]]
id = "ana"
max_open_leads = 3

[[reps]]
id = "ben"

[[reps]]
id = "cy"
weight = 2

[[pools]]
id = "rr"
members = ["ana", "ben"]
strategy = "round_robin"
fallback = { pool = "w" }
sla = { accept_within = "15m" }

[[pools]]
id = "w"
members = ["ben", "cy"]
strategy = "weighted"

[[rules]]
name = "big"
when = { field = "seats", gte = 500 }
pool = "w"

[[rules]]
name = "default"
pool = "rr"
"#;

fn lead(i: usize, seats: u32) -> leadrouter_lead::Lead {
    let intake = Intake {
        id: Uuid::now_v7(),
        received_at: Utc::now(),
        source: "api".into(),
        default_country: None,
        test: false,
        awaiting_enrichment: false,
    };
    normalize_json(
        &json!({"email": format!("lead{i}@doctor-test.io"), "seats": seats}),
        &intake,
    )
    .expect("a valid lead")
}

/// Routes leads through the engine and acts on some, as production would.
async fn healthy(store: Arc<dyn Store>, n: usize) {
    let config = RoutingConfig::parse(CONFIG, Format::Toml, "ops.toml").expect("config");
    let engine = Engine::new(store, config, Arc::new(SystemClock));
    let mut ids = Vec::new();
    for i in 0..n {
        let l = lead(i, if i % 4 == 0 { 900 } else { 10 });
        ids.push(l.id);
        engine.ingest(l).await.expect("ingest");
    }
    // A batch, like the router's.
    let batch: Vec<_> = (n..n + 4).map(|i| lead(i, 10)).collect();
    engine.route_batch(batch).await.expect("batch");
    for (k, id) in ids.iter().enumerate() {
        let rec = engine
            .store()
            .get_lead(*id)
            .await
            .expect("get")
            .expect("lead");
        let Some(owner) = rec.owner.clone() else {
            continue;
        };
        let action = match k % 5 {
            0 => RepAction::Accept,
            1 => RepAction::Converted,
            2 => RepAction::Lost,
            3 => RepAction::Decline {
                reason: "not mine".into(),
            },
            _ => continue,
        };
        engine.act(*id, &owner, action).await.expect("act");
    }
}

fn output(mut c: Command) -> (Option<i32>, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = c.output().expect("runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.code(), text)
}

/// The problem lines of a doctor run (notices are allowed anywhere).
fn problems(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("problem"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

async fn rep(store: &dyn Store, id: &str) -> leadrouter_domain::state::RepState {
    store
        .get_reps(&[id.to_owned()])
        .await
        .expect("reps")
        .remove(0)
}

async fn set_open(store: &dyn Store, id: &str, open: u32) {
    let state = rep(store, id).await;
    let mut next = state.clone();
    next.open_leads = open;
    let outcome = store
        .commit(&Commit {
            reps: vec![Versioned {
                expected_version: state.version,
                item: next,
            }],
            ..Commit::default()
        })
        .await
        .expect("commit");
    assert_eq!(outcome, CommitOutcome::Committed);
}

async fn open_count(store: &dyn Store, id: &str) -> u32 {
    let page = store
        .list_leads(&leadrouter_domain::ports::LeadQuery {
            owner: Some(id.to_owned()),
            limit: 500,
            ..Default::default()
        })
        .await
        .expect("list");
    page.leads
        .iter()
        .filter(|r| {
            matches!(
                r.status,
                LeadStatus::Assigned | LeadStatus::Accepted | LeadStatus::Contacted
            )
        })
        .count() as u32
}

/// The doctor scenario over any store; `doctor` runs the binary against it.
async fn doctor_scenario(store: Arc<dyn Store>, doctor: impl Fn() -> Command, n: usize) {
    healthy(store.clone(), n).await;
    let (code, text) = output(doctor());
    assert_eq!(code, Some(0), "a healthy store passes:\n{text}");
    assert!(problems(&text).is_empty(), "{text}");
    assert!(text.contains("0 problem(s)"), "{text}");

    // 1. A counter bumped behind the engine's back: exactly a counter mismatch.
    let ben = rep(store.as_ref(), "ben").await;
    let owned = open_count(store.as_ref(), "ben").await;
    assert_eq!(ben.open_leads, owned, "the engine keeps counters right");
    set_open(store.as_ref(), "ben", owned + 2).await;
    let (code, text) = output(doctor());
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(
        problems(&text),
        [format!(
            "problem counter_mismatch rep=ben counter={} owned={owned}",
            owned + 2
        )],
        "{text}"
    );
    set_open(store.as_ref(), "ben", owned).await;
    let (code, text) = output(doctor());
    assert_eq!(code, Some(0), "repaired:\n{text}");

    // 2. An over-cap owner: leads written straight to `ana` past her cap of 3, with the counter
    // kept in step, so the only thing wrong is the cap.
    let ana_owned = open_count(store.as_ref(), "ana").await;
    let extra = 4u32.saturating_sub(ana_owned).max(1);
    let mut commit = Commit::default();
    for i in 0..extra {
        let mut rec = LeadRecord::received(lead(1000 + i as usize, 10));
        rec.status = LeadStatus::Accepted;
        rec.owner = Some("ana".into());
        rec.pool = Some("rr".into());
        commit.leads.push(Versioned {
            expected_version: 0,
            item: rec,
        });
    }
    let ana = rep(store.as_ref(), "ana").await;
    let mut next = ana.clone();
    next.open_leads = ana_owned + extra;
    commit.reps.push(Versioned {
        expected_version: ana.version,
        item: next,
    });
    assert_eq!(
        store.commit(&commit).await.expect("commit"),
        CommitOutcome::Committed
    );
    let (code, text) = output(doctor());
    assert_eq!(code, Some(1), "{text}");
    let total = ana_owned + extra;
    assert_eq!(
        problems(&text),
        [format!(
            "problem over_open_cap rep=ana counter={total} owned={total} max=3"
        )],
        "{text}"
    );

    // 3. A rotation whose turn counter ran ahead of its members' assignments.
    let pool = store.get_pool("w").await.expect("pool");
    let mut bumped = pool.clone();
    bumped.turn += 5;
    assert_eq!(
        store
            .commit(&Commit {
                pools: vec![Versioned {
                    expected_version: pool.version,
                    item: bumped,
                }],
                ..Commit::default()
            })
            .await
            .expect("commit"),
        CommitOutcome::Committed
    );
    let (code, text) = output(doctor());
    assert_eq!(code, Some(1), "{text}");
    let found = problems(&text);
    assert_eq!(found.len(), 2, "{text}");
    assert!(
        found.contains(&format!(
            "problem turn_count pool=w turn={} assigned={}",
            pool.turn + 5,
            pool.turn
        )),
        "{text}"
    );
    // No personal data: the leads' emails never appear.
    assert!(!text.contains("doctor-test.io"), "{text}");
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_leadrouter"))
}

fn write_config(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("ops.toml");
    std::fs::write(&file, CONFIG).expect("write config");
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path());
    let store = EmbeddedStore::open(&dir.path().join("leadrouter.db")).expect("open");
    let data_dir = dir.path().to_owned();
    doctor_scenario(
        Arc::new(store),
        || {
            let mut c = bin();
            c.arg("doctor")
                .arg("--data-dir")
                .arg(&data_dir)
                .arg("--config")
                .arg(&config);
            c
        },
        40,
    )
    .await;

    // Without --config it checks against the pushed config; with none pushed it cannot check
    // (exit 2, not a false "ok").
    let doctor = || {
        let mut c = bin();
        c.arg("doctor").arg("--data-dir").arg(&data_dir);
        output(c)
    };
    let (code, text) = doctor();
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("no config to check against"), "{text}");
    let mut push = bin();
    push.args(["config", "push"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data_dir);
    assert_eq!(output(push).0, Some(0));
    let (code, text) = doctor();
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("over_open_cap"), "{text}");
}

fn aws_env(c: &mut Command, endpoint: &str) {
    c.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_on_dynamodb() {
    let moto = leadrouter_aws::moto::moto(true).await;
    let store = leadrouter_aws::moto::dynamo_store(&moto, "leadrouter").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path());
    let url = moto.url.clone();
    doctor_scenario(
        Arc::new(store),
        || {
            let mut c = bin();
            c.args(["doctor", "--table", "leadrouter", "--config"])
                .arg(&config);
            aws_env(&mut c, &url);
            c
        },
        16,
    )
    .await;

    // Without --config: the config pushed to the table.
    let mut push = bin();
    push.args(["config", "--table", "leadrouter", "push"])
        .arg(&config);
    aws_env(&mut push, &url);
    assert_eq!(output(push).0, Some(0));
    let mut c = bin();
    c.args(["doctor", "--table", "leadrouter"]);
    aws_env(&mut c, &url);
    let (code, text) = output(c);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("over_open_cap"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(&dir.path().join("leadrouter.db")).expect("open");
    let queue = store.queue(
        "intake",
        QueueConfig {
            visibility_timeout: Duration::from_millis(50),
            max_receives: 1,
        },
    );
    let id = queue.send("{\"poison\": true}").await.expect("send");
    let first = queue.receive(1, Duration::ZERO).await.expect("receive");
    assert_eq!(first.len(), 1);
    tokio::time::sleep(Duration::from_millis(80)).await;
    // Used up its receives: this receive dead-letters it.
    assert!(
        queue
            .receive(1, Duration::ZERO)
            .await
            .expect("receive")
            .is_empty()
    );
    assert_eq!(queue.depth().await.expect("depth").dead_letters, 1);

    let run = |extra: &[&str]| {
        let mut c = bin();
        c.arg("redrive")
            .arg("--data-dir")
            .arg(dir.path())
            .args(extra);
        output(c)
    };
    let (code, text) = run(&["--dry-run"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(&format!("would move {id}")), "{text}");
    assert!(!text.contains("poison"), "bodies are never printed: {text}");
    assert_eq!(queue.depth().await.expect("depth").dead_letters, 1);

    let (code, text) = run(&[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("moved 1 message(s)"), "{text}");
    let depth = queue.depth().await.expect("depth");
    assert_eq!((depth.visible, depth.dead_letters), (1, 0));
    let back = queue.receive(1, Duration::ZERO).await.expect("receive");
    assert_eq!(back[0].body, "{\"poison\": true}");
    assert_eq!(back[0].receive_count, 1, "receive count starts over");

    let (code, text) = run(&[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("moved 0 message(s)"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_on_sqs() {
    let moto = leadrouter_aws::moto::moto(false).await;
    let client = aws_sdk_sqs::Client::new(&leadrouter_aws::moto::sdk(&moto).await);
    let (url, dlq) =
        leadrouter_aws::create_queue_with_dlq(&client, "intake", Duration::from_secs(1), 1)
            .await
            .expect("queues");
    let queue = leadrouter_aws::SqsQueue::new(client.clone(), url.clone());
    queue.send("{\"poison\": true}").await.expect("send");
    assert_eq!(
        queue
            .receive(1, Duration::ZERO)
            .await
            .expect("receive")
            .len(),
        1
    );
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    // Received once already (maxReceiveCount 1): SQS moves it to the dead-letter queue.
    assert!(
        queue
            .receive(1, Duration::ZERO)
            .await
            .expect("receive")
            .is_empty()
    );
    let depth = |u: String| {
        let client = client.clone();
        async move {
            leadrouter_aws::redrive::approximate_depth(&client, &u)
                .await
                .expect("depth")
        }
    };
    assert_eq!(
        depth(dlq.clone()).await,
        1,
        "the poison message is dead-lettered"
    );

    let run = |extra: &[&str]| {
        let mut c = bin();
        c.args(["redrive", "--queue-url", &url]).args(extra);
        aws_env(&mut c, &moto.url);
        output(c)
    };
    let (code, text) = run(&["--dry-run"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("about 1 message(s)"), "{text}");
    assert_eq!(depth(dlq.clone()).await, 1, "a dry run moves nothing");

    let (code, text) = run(&[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("moved 1 message(s)"), "{text}");
    assert_eq!(
        depth(dlq.clone()).await,
        0,
        "the dead-letter queue is empty"
    );
    let back = queue.receive(1, Duration::ZERO).await.expect("receive");
    assert_eq!(back.len(), 1, "the message is back in the queue");
    assert_eq!(back[0].body, "{\"poison\": true}");
    queue.ack(&back[0].receipt).await.expect("ack");

    let (code, text) = run(&[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("moved 0 message(s)"), "{text}");
}

/// Doctor on a store that keeps routing and closing leads while it reads: every change to a
/// rep's open leads commits the rep's counter too, so a rep whose version moved is re-counted,
/// and no run reports a problem that is not there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_on_a_busy_store_reports_no_false_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> =
        Arc::new(EmbeddedStore::open(&dir.path().join("leadrouter.db")).expect("open"));
    let config = RoutingConfig::parse(CONFIG, Format::Toml, "ops.toml").expect("config");
    let engine = Arc::new(Engine::new(
        store.clone(),
        config.clone(),
        Arc::new(SystemClock),
    ));
    let busy = {
        let engine = engine.clone();
        tokio::spawn(async move {
            for i in 0..150 {
                let l = lead(i, if i % 3 == 0 { 900 } else { 10 });
                let id = l.id;
                engine.ingest(l).await.expect("ingest");
                if i % 2 == 0
                    && let Ok(Some(rec)) = engine.store().get_lead(id).await
                    && let Some(owner) = rec.owner
                {
                    engine
                        .act(id, &owner, RepAction::Converted)
                        .await
                        .expect("close");
                }
            }
        })
    };
    let mut runs = 0;
    while !busy.is_finished() || runs == 0 {
        let mut opts = leadrouter_domain::doctor::DoctorOptions::at(Utc::now());
        opts.confirm_after = Duration::from_millis(50);
        let report = leadrouter_domain::doctor::check(store.as_ref(), &config, opts)
            .await
            .expect("check");
        let problems: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.severity() == leadrouter_domain::doctor::Severity::Problem)
            .map(ToString::to_string)
            .collect();
        assert!(problems.is_empty(), "run {runs}: {problems:#?}");
        runs += 1;
    }
    busy.await.expect("routing task");
    assert!(
        runs >= 2,
        "the doctor ran while leads were routed ({runs} runs)"
    );
}
