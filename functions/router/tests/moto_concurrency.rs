//! 8 router workers on moto: the real router handler over `DynamoStore` + `SqsQueue` (the AWS
//! SDK against moto), batches of 10, every message delivered twice, while two reps are toggled
//! away and back. Afterwards every lead has exactly one owner and one `assigned` event, counters
//! equal the leads owned, caps hold, and the always-available uncapped reps' round-robin shares
//! differ by at most 1.
//!
//! DynamoDB runs on the one-request-at-a-time moto (`tests/moto_harness.py`: threaded moto does
//! not make conditional writes atomic), SQS on the same harness, threaded (long polls must not
//! block other requests). Completion is watched on the queue depth, not by reading leads, so the serial
//! DynamoDB serves only the routers while they run.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use leadrouter_aws::moto::{moto, sdk};
use leadrouter_aws::{DynamoStore, SqsQueue, create_queue_with_dlq, create_table};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::{Engine, RepPatch};
use leadrouter_domain::ports::{Queue, RoutingStore, SystemClock};
use leadrouter_domain::state::Availability;
use leadrouter_router::Deps;
use tokio::sync::watch;

/// Leads routed, each sent twice: the 2,000 (about a minute in a debug build on two
/// cores, most of it moto). `LEADROUTER_CONCURRENCY_LEADS` picks another count for a quick run
/// or a longer soak.
const LEADS_DEFAULT: usize = 2000;

fn leads() -> usize {
    std::env::var("LEADROUTER_CONCURRENCY_LEADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(LEADS_DEFAULT)
}
const WORKERS: usize = 8;
const CAP: u32 = 20;
/// Toggled away and back during the run (one capped, one uncapped).
const TOGGLED: [&str; 2] = ["r2", "r7"];

fn config() -> RoutingConfig {
    // sticky_days = 0: leads are distinct people; no sticky lookups.
    let mut src = String::from("[settings]\nsticky_days = 0\n");
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
    RoutingConfig::parse(&src, Format::Toml, "moto-concurrency.toml")
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_routers_on_moto_double_delivery_toggled_reps() {
    let n_leads = leads();
    let started = Instant::now();
    let dynamo_moto = moto(true).await;
    let sqs_moto = moto(false).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk(&dynamo_moto).await);
    create_table(&dynamo, "leadrouter").await.expect("table");
    let store = Arc::new(DynamoStore::new(dynamo, "leadrouter"));
    let sqs = aws_sdk_sqs::Client::new(&sdk(&sqs_moto).await);
    let (url, dlq_url) = create_queue_with_dlq(&sqs, "intake", Duration::from_secs(30), 5)
        .await
        .expect("queue");
    let queue = SqsQueue::new(sqs.clone(), url.clone());

    // Every lead twice; the second copy 5 leads later, so copies land in the same or
    // neighbouring batches, often taken by different workers at the same time.
    let leads: Vec<(uuid::Uuid, String)> = (0..n_leads).map(common::lead_message).collect();
    let mut bodies = Vec::with_capacity(2 * n_leads);
    for i in 0..n_leads {
        bodies.push(leads[i].1.clone());
        if i >= 5 {
            bodies.push(leads[i - 5].1.clone());
        }
    }
    bodies.extend(leads[n_leads - 5..].iter().map(|l| l.1.clone()));
    for chunk in bodies.chunks(10) {
        queue.send_batch(chunk).await.expect("send");
    }
    assert_eq!(common::depth(&sqs, &url).await, 2 * n_leads);
    eprintln!("set up and sent in {:.1?}", started.elapsed());
    let started = Instant::now();
    let ids: Vec<uuid::Uuid> = leads.iter().map(|l| l.0).collect();

    // One engine per worker, as each Lambda instance builds its own at cold start.
    let (stop_tx, stop_rx) = watch::channel(false);
    let batches = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let deps = Deps {
                engine: Arc::new(Engine::new(store.clone(), config(), Arc::new(SystemClock))),
                config: None,
            };
            let queue = queue.clone();
            let stop = stop_rx.clone();
            let (batches, failures) = (batches.clone(), failures.clone());
            tokio::spawn(async move {
                while !*stop.borrow() {
                    let p = common::poll(&deps, &queue, 10, Duration::from_secs(1)).await;
                    if p.received > 0 {
                        batches.fetch_add(1, Ordering::Relaxed);
                    }
                    failures.fetch_add(p.failed.len(), Ordering::Relaxed);
                }
            })
        })
        .collect();

    // Reps go away and come back while leads are routed (as `PATCH /v1/reps/{id}` does): going
    // away hands their unaccepted leads on at once, coming back makes them eligible again.
    let toggler = {
        let engine = Engine::new(store.clone(), config(), Arc::new(SystemClock));
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut toggles = 0usize;
            let mut away = false;
            while !*stop.borrow() {
                tokio::time::sleep(Duration::from_millis(500)).await;
                away = !away;
                let availability = if away {
                    Availability::Away
                } else {
                    Availability::Available
                };
                for rep in TOGGLED {
                    let patch = RepPatch {
                        availability: Some(availability),
                        out_of_office: None,
                    };
                    // The routers write these reps' counters all the time, so the update can
                    // lose its races; retry as an API client retries a 503.
                    while !*stop.borrow() {
                        if engine.update_rep(rep, patch.clone()).await.is_ok() {
                            toggles += 1;
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            // End available, so the final state is the steady one.
            for rep in TOGGLED {
                let patch = RepPatch {
                    availability: Some(Availability::Available),
                    out_of_office: None,
                };
                engine.update_rep(rep, patch).await.expect("set available");
            }
            toggles
        })
    };

    // About 50 s for 2,000 leads; the limit only keeps a stuck run from hanging CI.
    common::wait_drained(
        &sqs,
        &url,
        Duration::from_secs((n_leads as u64 / 4).max(240)),
    )
    .await;
    let routed_in = started.elapsed();
    stop_tx.send(true).expect("stop");
    for w in workers {
        w.await.expect("worker");
    }
    let toggles = toggler.await.expect("toggler");
    assert_eq!(
        common::depth(&sqs, &dlq_url).await,
        0,
        "nothing dead-lettered"
    );
    eprintln!(
        "{n_leads} leads ({} messages) routed by {WORKERS} routers in {routed_in:.1?}: {} batches, {} message failures retried, {toggles} availability toggles",
        2 * n_leads,
        batches.load(Ordering::Relaxed),
        failures.load(Ordering::Relaxed),
    );
    assert!(
        toggles >= 2,
        "reps must actually have been toggled: {toggles}"
    );

    // Exactly one owner and one `assigned` event per lead; counters equal ownership.
    let owned = common::owners(store.as_ref(), &ids).await;
    let reps: Vec<String> = (0..8).map(|i| format!("r{i}")).collect();
    common::counters_match(store.as_ref(), &reps, &owned).await;
    eprintln!("leads per rep: {owned:?}");
    for i in 0..3 {
        let rep = format!("r{i}");
        let n = owned.get(&rep).copied().unwrap_or(0);
        assert!(n <= CAP, "{rep} has {n} leads, cap {CAP}");
        if !TOGGLED.contains(&rep.as_str()) {
            assert_eq!(
                n, CAP,
                "{rep}: capped reps fill up before the others run dry"
            );
        }
    }
    // Uncapped reps that were always available share the rest round robin. Leads handed on
    // from a toggled rep go to the next in rotation too, so the spread stays small.
    let steady: Vec<u32> = (3..8)
        .map(|i| format!("r{i}"))
        .filter(|r| !TOGGLED.contains(&r.as_str()))
        .map(|r| owned.get(&r).copied().unwrap_or(0))
        .collect();
    let spread =
        steady.iter().max().copied().unwrap_or(0) - steady.iter().min().copied().unwrap_or(0);
    assert!(
        spread <= 1,
        "uncapped always-available reps' counts {steady:?}"
    );
    let pool = store.get_pool("p").await.expect("pool");
    assert!(
        pool.turn as usize >= n_leads,
        "one rotation turn per lead at least: {}",
        pool.turn
    );
    eprintln!("total {:.1?}", started.elapsed());
}
