//! 8 workers route 5,000 leads through the embedded store and queue at once, every message
//! delivered twice: every lead has exactly one owner, none is lost, caps hold, rotation is fair.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::Engine;
use leadrouter_domain::ports::{LeadQuery, LeadStore, Queue, RoutingStore, SystemClock};
use leadrouter_domain::record::LeadStatus;
use leadrouter_domain::worker::{self, WorkerConfig};
use leadrouter_embedded::{EmbeddedStore, QueueConfig};
use leadrouter_lead::Lead;
use tokio::sync::watch;
use uuid::Uuid;

const LEADS: usize = 5_000;
const WORKERS: usize = 8;
const CAP: u32 = 150;

fn config() -> RoutingConfig {
    let mut src = String::new();
    // Three capped reps and five uncapped ones share one round-robin pool.
    for i in 0..8 {
        src.push_str(&format!("[[reps]]\nid = \"r{i}\"\n"));
        if i < 3 {
            src.push_str(&format!("max_open_leads = {CAP}\n"));
        }
    }
    src.push_str(
        "[[pools]]\nid = \"p\"\nmembers = [\"r0\", \"r1\", \"r2\", \"r3\", \"r4\", \"r5\", \"r6\", \"r7\"]\nstrategy = \"round_robin\"\n\
         [[rules]]\nname = \"default\"\npool = \"p\"\n",
    );
    RoutingConfig::parse(&src, Format::Toml, "concurrency.toml").unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_workers_double_delivery_one_owner_each_caps_hold() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("db.sqlite")).expect("open store"));
    let intake = store.queue(
        "intake",
        QueueConfig {
            visibility_timeout: Duration::from_secs(30),
            max_receives: 5,
        },
    );
    let queue: Arc<dyn Queue> = Arc::new(intake.clone());
    let engine = Arc::new(Engine::new(store.clone(), config(), Arc::new(SystemClock)));

    let mut ids = Vec::with_capacity(LEADS);
    for i in 0..LEADS {
        let lead = Lead {
            id: Uuid::now_v7(),
            received_at: chrono::Utc::now(),
            source: "api".into(),
            // Distinct emails: sticky routing must not kick in for this test.
            email: Some(format!("lead{i}@example-{i}.com")),
            ..Lead::default()
        };
        ids.push(lead.id);
        let body = serde_json::to_string(&lead).expect("encode");
        // Every message is delivered twice.
        queue.send(&body).await.expect("send");
        queue.send(&body).await.expect("send again");
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            tokio::spawn(worker::run(
                engine.clone(),
                queue.clone(),
                WorkerConfig {
                    batch: 10,
                    wait: Duration::from_millis(50),
                    retry_delay: Duration::from_millis(10),
                },
                stop_rx.clone(),
            ))
        })
        .collect();

    // Wait until the queue is drained (bounded: fail rather than hang).
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    loop {
        let depth = intake.depth().await.expect("depth");
        if depth.visible + depth.invisible == 0 {
            break;
        }
        assert_eq!(depth.dead_letters, 0, "nothing may be dead-lettered");
        assert!(
            std::time::Instant::now() < deadline,
            "queue not drained: {depth:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_tx.send(true).expect("stop");
    for w in workers {
        w.await.expect("worker");
    }

    // Every lead exists, is assigned, and was assigned exactly once.
    let mut owned: HashMap<String, u32> = HashMap::new();
    for id in &ids {
        let rec = store
            .get_lead(*id)
            .await
            .expect("get")
            .unwrap_or_else(|| panic!("lead {id} lost"));
        assert_eq!(rec.status, LeadStatus::Assigned, "lead {id}");
        let owner = rec.owner.clone().expect("owner");
        let assigned_events = rec.history.iter().filter(|h| h.event == "assigned").count();
        assert_eq!(
            assigned_events, 1,
            "lead {id} assigned {assigned_events} times"
        );
        *owned.entry(owner).or_default() += 1;
    }
    assert_eq!(owned.values().sum::<u32>() as usize, LEADS);
    let page = store
        .list_leads(&LeadQuery {
            limit: 500,
            ..LeadQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(page.leads.len(), 500);

    // Counters agree with ownership (a double delivery never double-counted), caps hold.
    let rep_ids: Vec<String> = (0..8).map(|i| format!("r{i}")).collect();
    let states = store.get_reps(&rep_ids).await.expect("reps");
    for s in &states {
        let n = owned.get(&s.rep).copied().unwrap_or(0);
        assert_eq!(s.open_leads, n, "{} counter vs owned", s.rep);
        if s.rep.as_str() < "r3" {
            assert!(n <= CAP, "{} has {n} leads, cap {CAP}", s.rep);
            assert_eq!(n, CAP, "capped reps fill up before the pool runs dry");
        }
    }
    // Always-eligible (uncapped) reps stay within one lead of each other.
    let uncapped: Vec<u32> = (3..8)
        .map(|i| owned.get(&format!("r{i}")).copied().unwrap_or(0))
        .collect();
    let (min, max) = (
        uncapped.iter().min().copied(),
        uncapped.iter().max().copied(),
    );
    assert!(
        max.zip(min).is_some_and(|(a, b)| a - b <= 1),
        "uncapped counts {uncapped:?}"
    );
    let pool = store.get_pool("p").await.expect("pool");
    assert_eq!(pool.turn as usize, LEADS, "one rotation turn per lead");
}
