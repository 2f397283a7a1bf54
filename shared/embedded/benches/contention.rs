//! Contention: 1, 2, 4 and 8 concurrent routers on one round-robin pool, each its own engine
//! and its own connection to the same SQLite file (as separate Lambda instances share one
//! DynamoDB table), pulling batches of 10 leads from a shared queue. Prints routed leads per
//! second and conflict retries per lead (commits lost to another router, re-read and retried).
//!
//! `cargo bench --profile contention -p leadrouter-embedded --bench contention` (the figures go to
//! docs/benchmarks.md). A benchmark, not a test: it asserts only that every lead was routed
//! exactly once, so a wrong figure cannot hide a broken run.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::{Engine, Routed};
use leadrouter_domain::ports::{RoutingStore, SystemClock};
use leadrouter_embedded::EmbeddedStore;
use leadrouter_lead::Lead;
use uuid::Uuid;

/// The allocator the binaries use, so that the figures are theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const LEADS: usize = 4_000;
const BATCH: usize = 10;
const REPS: usize = 20;

fn config() -> RoutingConfig {
    let mut toml = String::new();
    for i in 0..REPS {
        toml.push_str(&format!("[[reps]]\nid = \"r{i}\"\n"));
    }
    let members: Vec<String> = (0..REPS).map(|i| format!("\"r{i}\"")).collect();
    toml.push_str(&format!(
        "[[pools]]\nid = \"p\"\nmembers = [{}]\nstrategy = \"round_robin\"\n[[rules]]\nname = \"all\"\npool = \"p\"\n[settings]\nsticky_days = 0\n",
        members.join(", ")
    ));
    RoutingConfig::parse(&toml, Format::Toml, "bench.toml").expect("bench config")
}

fn leads() -> Vec<Lead> {
    (0..LEADS)
        .map(|i| Lead {
            id: Uuid::now_v7(),
            received_at: chrono::Utc::now(),
            source: "api".into(),
            email: Some(format!("c{i}@corp{i}.de")),
            ..Lead::default()
        })
        .collect()
}

async fn run(routers: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.db");
    let queue: Arc<Mutex<Vec<Vec<Lead>>>> = Arc::new(Mutex::new(
        leads().chunks(BATCH).map(|c| c.to_vec()).collect(),
    ));
    let engines: Vec<Arc<Engine>> = (0..routers)
        .map(|_| {
            let store = EmbeddedStore::open(&path).expect("open store");
            Arc::new(Engine::new(
                Arc::new(store),
                config(),
                Arc::new(SystemClock),
            ))
        })
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for engine in &engines {
        let engine = engine.clone();
        let queue = queue.clone();
        tasks.push(tokio::spawn(async move {
            let mut assigned = 0usize;
            loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                let Some(batch) = next else { break };
                let routed = engine.route_batch(batch).await.expect("routed");
                assigned += routed
                    .iter()
                    .filter(|r| matches!(r, Routed::Assigned { .. }))
                    .count();
            }
            assigned
        }));
    }
    let mut assigned = 0;
    for t in tasks {
        assigned += t.await.expect("router task");
    }
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(assigned, LEADS, "every lead assigned exactly once");
    let check = EmbeddedStore::open(&path).expect("open");
    let pool = check.get_pool("p").await.expect("pool");
    assert_eq!(pool.turn, LEADS as u64, "one rotation turn per lead");
    let conflicts: u64 = engines.iter().map(|e| e.conflict_retries()).sum();
    (LEADS as f64 / secs, conflicts as f64 / LEADS as f64)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "routers  leads/s  conflict retries/lead   ({LEADS} leads, batches of {BATCH}, one pool of {REPS} reps)"
    );
    for routers in [1, 2, 4, 8] {
        let (rate, retries) = rt.block_on(run(routers));
        println!("{routers:>7}  {rate:>7.0}  {retries:>21.3}");
    }
}
