//! DynamoDB requests per routed lead, counted by an SDK interceptor on the real client against
//! moto (not estimated), at router batch sizes 1, 10 and 100, with and without the hourly stats.
//! Issue target: at most 2 write requests per lead at batch 10. The figures are printed for
//! `docs/benchmarks.md` (`cargo test -p leadrouter-aws --test write_counts -- --nocapture`).
//!
//! SQS requests that leadrouter itself sends per routed lead (ingest's `SendMessage` of the
//! intake message, the router's `SendMessageBatch` of lead events) are counted the same way, by
//! an interceptor on the real SQS client; the receives and deletes of Lambda's event source
//! mappings are AWS's own and are left to the cost arithmetic in `docs/deploy.md`.
//!
//! Write request units are computed by the same interceptor from the requests' own items, with
//! DynamoDB's published sizing rules (see [`WriteUnits`]): moto does not bill, so this is the
//! rule applied to the real bytes sent, not a measurement by AWS.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use leadrouter_aws::moto::{moto, sdk};
use leadrouter_aws::{
    DynamoStatsStore, DynamoStore, SqsQueue, create_queue_with_dlq, create_table,
};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::{Engine, Routed};
use leadrouter_domain::ports::{Queue, SystemClock};
use leadrouter_domain::stats::{GroupBy, StatsStore, hour_of};
use leadrouter_lead::Lead;
use uuid::Uuid;

#[derive(Debug, Clone, Default)]
struct Counter {
    requests: Arc<Mutex<BTreeMap<String, usize>>>,
    units: WriteUnits,
}

/// Write request units of the requests sent, by DynamoDB's sizing rules: an item's size is the
/// sum of its attribute names' and values' lengths (strings and binaries by their bytes,
/// numbers about one byte per two digits plus one); a write costs one unit per started KB of the
/// item, two in a transaction; every global secondary index whose keys the item carries adds a
/// standard write of its projected entry (the keys and projected attributes). Updates (the
/// stats counters) are sized by their key and values, at least one unit. All writes here create
/// items, so no index entry is also deleted.
/// An index's key attributes and its projected non-key attributes (`None`: all).
type IndexShape = (Vec<String>, Option<Vec<String>>);

#[derive(Debug, Clone, Default)]
struct WriteUnits {
    indexes: Arc<Mutex<Vec<IndexShape>>>,
    table: Arc<Mutex<f64>>,
    index: Arc<Mutex<f64>>,
    /// Table units of items put, by the kind of item (`pk` up to its `#`: `LEAD`, `POOL`, ...).
    by_kind: Arc<Mutex<BTreeMap<String, f64>>>,
}

fn value_size(v: &serde_json::Value) -> usize {
    let Some(obj) = v.as_object() else { return 0 };
    obj.iter()
        .map(|(kind, inner)| match (kind.as_str(), inner) {
            ("S", serde_json::Value::String(s)) => s.len(),
            ("N", serde_json::Value::String(n)) => n.trim_start_matches('-').len().div_ceil(2) + 1,
            // Binaries travel base64-encoded: 4 characters for 3 bytes.
            ("B", serde_json::Value::String(b)) => b.trim_end_matches('=').len() * 3 / 4,
            ("BOOL" | "NULL", _) => 1,
            ("M", serde_json::Value::Object(m)) => {
                3 + m
                    .iter()
                    .map(|(k, v)| k.len() + value_size(v) + 1)
                    .sum::<usize>()
            }
            ("L", serde_json::Value::Array(l)) => {
                3 + l.iter().map(|v| value_size(v) + 1).sum::<usize>()
            }
            _ => 0,
        })
        .sum()
}

fn item_size<'a>(attrs: impl Iterator<Item = (&'a String, &'a serde_json::Value)>) -> usize {
    attrs.map(|(k, v)| k.len() + value_size(v)).sum()
}

fn units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

impl WriteUnits {
    fn put(&self, item: &serde_json::Map<String, serde_json::Value>, transactional: bool) {
        let factor = if transactional { 2.0 } else { 1.0 };
        let table_units = factor * units(item_size(item.iter()));
        *self.table.lock().unwrap_or_else(|e| e.into_inner()) += table_units;
        let kind = item
            .get("pk")
            .and_then(|k| k.get("S"))
            .and_then(|k| k.as_str())
            .and_then(|k| k.split_once('#'))
            .map_or("other", |(kind, _)| kind)
            .to_owned();
        *self
            .by_kind
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(kind)
            .or_default() += table_units;
        for (keys, projected) in self
            .indexes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            if !keys.iter().all(|k| item.contains_key(k)) {
                continue;
            }
            let entry = item_size(item.iter().filter(|(name, _)| {
                name.as_str() == "pk"
                    || keys.contains(name)
                    || projected.as_ref().is_none_or(|p| p.contains(name))
            }));
            *self.index.lock().unwrap_or_else(|e| e.into_inner()) += units(entry);
        }
    }

    fn update(&self, update: &serde_json::Value, transactional: bool) {
        let factor = if transactional { 2.0 } else { 1.0 };
        let size = ["Key", "ExpressionAttributeValues"]
            .iter()
            .filter_map(|f| update.get(*f).and_then(|v| v.as_object()))
            .map(|m| item_size(m.iter()))
            .sum();
        *self.table.lock().unwrap_or_else(|e| e.into_inner()) += factor * units(size);
    }

    /// Adds the units of one request (`op`, its JSON body).
    fn add(&self, op: &str, body: &serde_json::Value) {
        let as_item = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_object()).cloned();
        match op {
            "PutItem" => {
                if let Some(item) = as_item(body.get("Item")) {
                    self.put(&item, false);
                }
            }
            "UpdateItem" => self.update(body, false),
            "TransactWriteItems" => {
                for t in body["TransactItems"].as_array().into_iter().flatten() {
                    if let Some(item) = as_item(t.get("Put").and_then(|p| p.get("Item"))) {
                        self.put(&item, true);
                    } else if let Some(u) = t.get("Update") {
                        self.update(u, true);
                    } else {
                        // Delete and ConditionCheck: one unit per item, doubled.
                        *self.table.lock().unwrap_or_else(|e| e.into_inner()) += 2.0;
                    }
                }
            }
            "BatchWriteItem" => {
                for reqs in body["RequestItems"]
                    .as_object()
                    .into_iter()
                    .flat_map(|m| m.values())
                {
                    for r in reqs.as_array().into_iter().flatten() {
                        if let Some(item) = as_item(r.get("PutRequest").and_then(|p| p.get("Item")))
                        {
                            self.put(&item, false);
                        } else {
                            *self.table.lock().unwrap_or_else(|e| e.into_inner()) += 1.0;
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// (table units, index units) since the last take.
    fn take(&self) -> (f64, f64) {
        (
            std::mem::take(&mut *self.table.lock().unwrap_or_else(|e| e.into_inner())),
            std::mem::take(&mut *self.index.lock().unwrap_or_else(|e| e.into_inner())),
        )
    }

    /// Table units by kind of item since the last call.
    fn take_by_kind(&self) -> BTreeMap<String, f64> {
        std::mem::take(&mut *self.by_kind.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

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
        if let Some(body) = ctx
            .request()
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        {
            self.units.add(&op, &body);
        }
        *self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(op)
            .or_default() += 1;
        Ok(())
    }
}

impl Counter {
    fn take(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.requests.lock().unwrap_or_else(|e| e.into_inner()))
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

/// The table's indexes as DynamoDB describes them: key attributes and projected attributes.
async fn index_projections(client: &aws_sdk_dynamodb::Client, table: &str) -> Vec<IndexShape> {
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("describe table");
    let indexes = described
        .table()
        .map(|t| t.global_secondary_indexes().to_vec())
        .unwrap_or_default();
    assert!(!indexes.is_empty(), "the table has indexes");
    indexes
        .iter()
        .map(|g| {
            let keys = g
                .key_schema()
                .iter()
                .map(|k| k.attribute_name().to_owned())
                .collect();
            let projected = match g.projection().and_then(|p| p.projection_type()) {
                Some(aws_sdk_dynamodb::types::ProjectionType::All) => None,
                _ => Some(
                    g.projection()
                        .map(|p| p.non_key_attributes().to_vec())
                        .unwrap_or_default(),
                ),
            };
            (keys, projected)
        })
        .collect()
}

/// Creates `table` and a DynamoDB client that counts its requests and write units into the
/// returned counter (which knows the table's index projections).
async fn counted_table(
    config: &aws_config::SdkConfig,
    table: &str,
) -> (Counter, aws_sdk_dynamodb::Client) {
    let plain = aws_sdk_dynamodb::Client::new(config);
    create_table(&plain, table).await.expect("table");
    let counter = Counter::default();
    *counter
        .units
        .indexes
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = index_projections(&plain, table).await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(config)
            .interceptor(counter.clone())
            .build(),
    );
    (counter, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_requests_per_routed_lead_by_batch_size() {
    const LEADS: usize = 100;
    let moto = moto(true).await;
    let config = sdk(&moto).await;
    let mut per_lead = BTreeMap::new();
    for (batch, with_stats) in [
        (1usize, true),
        (10, true),
        (100, true),
        (1, false),
        (10, false),
        (100, false),
    ] {
        let table = format!("leadrouter-b{batch}-{with_stats}");
        let (counter, client) = counted_table(&config, &table).await;
        let stats = Arc::new(DynamoStatsStore::new(client.clone(), table.clone()));
        let store = Arc::new(DynamoStore::new(client, table.clone()));
        let cfg = RoutingConfig::parse(CONFIG, Format::Toml, "t.toml").expect("config");

        // The intake and events queues, on an SQS client with its own counter.
        let sqs_counter = Counter::default();
        let sqs_plain = aws_sdk_sqs::Client::new(&config);
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&config)
                .interceptor(sqs_counter.clone())
                .build(),
        );
        let visibility = std::time::Duration::from_secs(30);
        let (intake_url, _) =
            create_queue_with_dlq(&sqs_plain, &format!("{table}-intake"), visibility, 5)
                .await
                .expect("intake queue");
        let (events_url, _) =
            create_queue_with_dlq(&sqs_plain, &format!("{table}-events"), visibility, 5)
                .await
                .expect("events queue");
        let intake = SqsQueue::new(sqs.clone(), intake_url.clone());
        let events = Arc::new(SqsQueue::new(sqs, events_url.clone()));

        let engine = Engine::new(store, cfg, Arc::new(SystemClock)).with_events(events);
        let engine = if with_stats {
            engine.with_stats(stats.clone())
        } else {
            engine
        };
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
        // What ingest sends for each accepted lead: the lead as JSON, one message.
        for lead in &leads {
            let body = serde_json::to_string(lead).expect("lead json");
            intake.send(&body).await.expect("intake send");
        }
        for chunk in leads.chunks(batch) {
            let routed = engine.route_batch(chunk.to_vec()).await.expect("routed");
            assert!(
                routed.iter().all(|r| matches!(r, Routed::Assigned { .. })),
                "{routed:?}"
            );
        }
        let counts = counter.take();
        let sqs_counts = sqs_counter.take();
        let queued = |url: String| {
            let sqs_plain = sqs_plain.clone();
            async move {
                sqs_plain
                    .get_queue_attributes()
                    .queue_url(url)
                    .attribute_names(
                        aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
                    )
                    .send()
                    .await
                    .expect("queue attributes")
                    .attributes
                    .and_then(|a| {
                        a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                            .and_then(|n| n.parse::<usize>().ok())
                    })
                    .unwrap_or_default()
            }
        };
        assert_eq!(
            (queued(intake_url).await, queued(events_url).await),
            (LEADS, LEADS),
            "batch {batch}: one intake message and one event per lead"
        );
        let sqs_sent: usize = sqs_counts.values().sum();
        let (table_units, index_units) = counter.units.take();
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
        let (tu, iu) = (table_units / LEADS as f64, index_units / LEADS as f64);
        let stats_shown = if with_stats { "on" } else { "off" };
        eprintln!(
            "batch {batch:>3}, stats {stats_shown:>3}: {w:.2} write requests, {r:.2} read requests, {:.2} WRU ({tu:.2} table + {iu:.2} index) per routed lead; by operation: {counts:?}",
            tu + iu
        );
        eprintln!(
            "batch {batch:>3}, stats {stats_shown:>3}: SQS {:.2} requests sent per routed lead (ingest + router events); by operation: {sqs_counts:?}",
            sqs_sent as f64 / LEADS as f64
        );
        assert!(
            tu >= w,
            "every write request costs at least a unit: {tu} < {w}"
        );
        if !with_stats {
            continue;
        }
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

/// A batch whose leads go to two pools reads both pools in one `BatchGetItem` (not a `GetItem`
/// per pool in turn): the batch's reads are its leads and their contacts' sticky owners side by
/// side, then its reps and its pools side by side, four requests whatever the number of pools.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_reads_its_pools_in_one_request() {
    const TWO_POOLS: &str = "[[reps]]\nid = \"a\"\n[[reps]]\nid = \"b\"\n[[pools]]\nid = \"p\"\nmembers = [\"a\"]\nstrategy = \"round_robin\"\n[[pools]]\nid = \"q\"\nmembers = [\"b\"]\nstrategy = \"round_robin\"\n[[rules]]\nname = \"web\"\npool = \"q\"\nwhen = { field = \"source\", equals = \"web\" }\n[[rules]]\nname = \"default\"\npool = \"p\"\n";
    let moto = moto(true).await;
    let config = sdk(&moto).await;
    let table = "leadrouter-two-pools";
    create_table(&aws_sdk_dynamodb::Client::new(&config), table)
        .await
        .expect("table");
    let counter = Counter::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(counter.clone())
            .build(),
    );
    let store = Arc::new(DynamoStore::new(client, table.to_owned()));
    let cfg = RoutingConfig::parse(TWO_POOLS, Format::Toml, "t.toml").expect("config");
    let engine = Engine::new(store, cfg, Arc::new(SystemClock));
    let leads: Vec<Lead> = (0..10)
        .map(|i| Lead {
            id: Uuid::now_v7(),
            received_at: chrono::Utc::now(),
            source: if i % 2 == 0 { "web" } else { "api" }.into(),
            email: Some(format!("p{i}@corp{i}.de")),
            ..Lead::default()
        })
        .collect();
    let routed = engine.route_batch(leads).await.expect("routed");
    let owners: Vec<&str> = routed
        .iter()
        .map(|r| match r {
            Routed::Assigned { rep } => rep.as_str(),
            other => panic!("not assigned: {other:?}"),
        })
        .collect();
    assert_eq!(owners, ["b", "a", "b", "a", "b", "a", "b", "a", "b", "a"]);
    let counts = counter.take();
    let reads: BTreeMap<&str, usize> = counts
        .iter()
        .filter(|(op, _)| !WRITES.contains(&op.as_str()))
        .map(|(op, n)| (op.as_str(), *n))
        .collect();
    assert_eq!(
        reads,
        BTreeMap::from([("BatchGetItem", 4)]),
        "reads of a two-pool batch: {counts:?}"
    );
}

/// A config of one round-robin pool of `members` reps (`rep-0001`, ...) and one rule.
fn pool_config(members: usize) -> RoutingConfig {
    let ids: Vec<String> = (1..=members).map(|i| format!("rep-{i:04}")).collect();
    let mut src = String::new();
    for id in &ids {
        src.push_str(&format!("[[reps]]\nid = \"{id}\"\n"));
    }
    let quoted: Vec<String> = ids.iter().map(|id| format!("\"{id}\"")).collect();
    src.push_str(&format!(
        "[[pools]]\nid = \"p\"\nmembers = [{}]\nstrategy = \"round_robin\"\n[[rules]]\nname = \"default\"\npool = \"p\"\n",
        quoted.join(", ")
    ));
    RoutingConfig::parse(&src, Format::Toml, "t.toml").expect("config")
}

/// The pool's rotation is one item written once per batch, and it grows with the pool (a turn
/// per member): its write units per lead, at batch 10, for pools of 3, 20 and 200 reps in
/// service (every member has had a turn before counting starts), without the hourly stats and
/// with them (a larger pool's batch touches more reps' stats buckets).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_write_units_by_pool_size() {
    let moto = moto(true).await;
    let config = sdk(&moto).await;
    let mut rotation_units = Vec::new();
    for members in [3usize, 20, 200] {
        let (rotation, off) = pool_write_units(&config, members, false).await;
        let (_, on) = pool_write_units(&config, members, true).await;
        assert!(
            on > off,
            "pool of {members}: the stats write more ({on:.2} WRU, without {off:.2})"
        );
        rotation_units.push(rotation);
    }
    assert!(
        rotation_units.windows(2).all(|w| w[0] <= w[1]),
        "a larger pool's rotation costs no less: {rotation_units:?}"
    );
}

/// Routes 100 leads at batch 10 into a pool of `members` in service, prints their write units
/// per lead (the rotation's, and all of them by kind of item) and returns the rotation's and
/// all of them.
async fn pool_write_units(
    config: &aws_config::SdkConfig,
    members: usize,
    with_stats: bool,
) -> (f64, f64) {
    const LEADS: usize = 100;
    const BATCH: usize = 10;
    let table = format!("leadrouter-pool-{members}-{with_stats}");
    let (counter, client) = counted_table(config, &table).await;
    let store = Arc::new(DynamoStore::new(client.clone(), table.clone()));
    let engine = Engine::new(store, pool_config(members), Arc::new(SystemClock));
    let engine = if with_stats {
        engine.with_stats(Arc::new(DynamoStatsStore::new(client, table.clone())))
    } else {
        engine
    };
    let lead = |i: usize| Lead {
        id: Uuid::now_v7(),
        received_at: chrono::Utc::now(),
        source: "api".into(),
        email: Some(format!("m{i}@corp{i}.de")),
        ..Lead::default()
    };
    // In service: every member has a turn in the rotation (and, with stats, the hour's group
    // indexes name every member, as on a warm function).
    let warm: Vec<Lead> = (0..members).map(lead).collect();
    for chunk in warm.chunks(BATCH) {
        engine.route_batch(chunk.to_vec()).await.expect("warm-up");
    }
    counter.take();
    counter.units.take();
    counter.units.take_by_kind();
    let leads: Vec<Lead> = (members..members + LEADS).map(lead).collect();
    let mut owners = std::collections::HashSet::new();
    for chunk in leads.chunks(BATCH) {
        for r in engine.route_batch(chunk.to_vec()).await.expect("routed") {
            match r {
                Routed::Assigned { rep } => owners.insert(rep),
                other => panic!("not assigned: {other:?}"),
            };
        }
    }
    // Round robin over a pool in service: the 100 leads went to min(100, members) reps.
    assert_eq!(owners.len(), members.min(LEADS), "pool of {members}");
    let (table_units, index_units) = counter.units.take();
    let kinds = counter.units.take_by_kind();
    let rotation = kinds.get("POOL").copied().unwrap_or_default() / LEADS as f64;
    assert!(rotation > 0.0, "no rotation writes seen: {kinds:?}");
    let all = (table_units + index_units) / LEADS as f64;
    let stats_shown = if with_stats { "on" } else { "off" };
    eprintln!(
        "pool {members:>4}, batch {BATCH}, stats {stats_shown:>3}: rotation {rotation:.2} WRU per routed lead, all writes {all:.2} WRU ({:.2} table + {:.2} index); table units by item: {kinds:?}",
        table_units / LEADS as f64,
        index_units / LEADS as f64,
    );
    (rotation, all)
}
