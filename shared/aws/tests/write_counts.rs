//! DynamoDB requests per routed lead, counted by an SDK interceptor on the real client against
//! moto (not estimated), at router batch sizes 1, 10 and 100, with the hourly stats on (as
//! deployed by default). Issue target: at most 2 write
//! requests per lead at batch 10. The figures are printed for `docs/benchmarks.md`
//! (`cargo test -p leadrouter-aws --test write_counts -- --nocapture`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use leadrouter_aws::moto::{moto, sdk};
use leadrouter_aws::{DynamoStatsStore, DynamoStore, create_table};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::{Engine, Routed};
use leadrouter_domain::ports::SystemClock;
use leadrouter_domain::stats::{GroupBy, StatsStore, hour_of};
use leadrouter_lead::Lead;
use uuid::Uuid;

#[derive(Debug, Clone, Default)]
struct Counter(Arc<Mutex<HashMap<String, usize>>>);

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "request-counter"
    }

    /// Counts every request sent (retries included), by the operation DynamoDB's JSON protocol
    /// names in `X-Amz-Target` (`DynamoDB_20120810.PutItem`).
    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = ctx
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("unknown")
            .to_owned();
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(op)
            .or_default() += 1;
        Ok(())
    }
}

impl Counter {
    fn take(&self) -> HashMap<String, usize> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

const WRITES: &[&str] = &[
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "BatchWriteItem",
];
const CONFIG: &str = "[[reps]]\nid = \"a\"\n[[reps]]\nid = \"b\"\n[[reps]]\nid = \"c\"\n[[pools]]\nid = \"p\"\nmembers = [\"a\", \"b\", \"c\"]\nstrategy = \"round_robin\"\n[[rules]]\nname = \"default\"\npool = \"p\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_requests_per_routed_lead_by_batch_size() {
    const LEADS: usize = 100;
    let moto = moto(true).await;
    let config = sdk(&moto).await;
    let mut per_lead = HashMap::new();
    for batch in [1usize, 10, 100] {
        let table = format!("leadrouter-b{batch}");
        create_table(&aws_sdk_dynamodb::Client::new(&config), &table)
            .await
            .expect("table");
        let counter = Counter::default();
        let client = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&config)
                .interceptor(counter.clone())
                .build(),
        );
        let stats = Arc::new(DynamoStatsStore::new(client.clone(), table.clone()));
        let store = Arc::new(DynamoStore::new(client, table));
        let cfg = RoutingConfig::parse(CONFIG, Format::Toml, "t.toml").expect("config");
        let engine = Engine::new(store, cfg, Arc::new(SystemClock)).with_stats(stats.clone());
        let started = hour_of(chrono::Utc::now());
        let leads: Vec<Lead> = (0..LEADS)
            .map(|i| Lead {
                id: Uuid::now_v7(),
                received_at: chrono::Utc::now(),
                source: "api".into(),
                email: Some(format!("w{i}@corp{i}.de")),
                ..Lead::default()
            })
            .collect();
        for chunk in leads.chunks(batch) {
            let routed = engine.route_batch(chunk.to_vec()).await.expect("routed");
            assert!(
                routed.iter().all(|r| matches!(r, Routed::Assigned { .. })),
                "{routed:?}"
            );
        }
        let counts = counter.take();
        let writes: usize = WRITES
            .iter()
            .map(|w| counts.get(*w).copied().unwrap_or(0))
            .sum();
        let reads: usize = counts
            .iter()
            .filter(|(k, _)| !WRITES.contains(&k.as_str()))
            .map(|(_, v)| v)
            .sum();
        assert!(
            writes > 0 && reads > 0,
            "the counter saw no requests: {counts:?}"
        );
        let w = writes as f64 / LEADS as f64;
        let r = reads as f64 / LEADS as f64;
        eprintln!(
            "batch {batch:>3}: {w:.2} write requests and {r:.2} read requests per routed lead; by operation: {counts:?}"
        );
        per_lead.insert(batch, w);

        // The stats saw every lead once, and a redelivered batch adds nothing.
        let again = engine
            .route_batch(leads[..batch].to_vec())
            .await
            .expect("redelivered");
        assert_eq!(again.len(), batch);
        let hours = started..hour_of(chrono::Utc::now()) + 1;
        let cells = stats
            .read(hours.start, hours.end, &[GroupBy::All])
            .await
            .expect("stats");
        let count = |name: &str| {
            cells
                .iter()
                .filter(|c| c.name == name)
                .map(|c| c.n)
                .sum::<u64>()
        };
        assert_eq!(
            (count("received"), count("assigned")),
            (LEADS as u64, LEADS as u64),
            "batch {batch}: {cells:?}"
        );
    }
    assert!(
        per_lead[&10] <= 2.0,
        "target: at most 2 write requests per lead at batch 10, got {}",
        per_lead[&10]
    );
    assert!(
        per_lead[&100] <= per_lead[&10] && per_lead[&10] <= per_lead[&1],
        "batching must not cost more writes: {per_lead:?}"
    );
}
