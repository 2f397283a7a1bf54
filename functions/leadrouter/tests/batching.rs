//! Batch routing writes little: a batch of leads into one pool is one commit, with the pool's
//! rotation written once (k turns reserved at once), each lead written once (no separate insert),
//! and a redelivered batch writes nothing. Counted by a decorator around the real SQLite store.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::{Engine, Routed};
use leadrouter_domain::ports::*;
use leadrouter_domain::record::{LeadRecord, LeadStatus, PoolId, RepId};
use leadrouter_domain::state::{PoolState, RepState};
use leadrouter_embedded::EmbeddedStore;
use leadrouter_lead::Lead;
use uuid::Uuid;

#[derive(Default)]
struct Counts {
    commits: AtomicUsize,
    lead_items: AtomicUsize,
    pool_items: AtomicUsize,
    rep_items: AtomicUsize,
    inserts: AtomicUsize,
}

/// Counts writes, then forwards to the real store.
struct Counting {
    inner: EmbeddedStore,
    counts: Arc<Counts>,
}

#[async_trait]
impl LeadStore for Counting {
    async fn insert_lead(&self, rec: &LeadRecord) -> Result<Inserted, StoreError> {
        self.counts.inserts.fetch_add(1, Ordering::Relaxed);
        self.inner.insert_lead(rec).await
    }
    async fn get_lead(&self, id: Uuid) -> Result<Option<LeadRecord>, StoreError> {
        self.inner.get_lead(id).await
    }
    async fn list_leads(&self, q: &LeadQuery) -> Result<LeadPage, StoreError> {
        self.inner.list_leads(q).await
    }
    async fn list_waiting(
        &self,
        pool: &str,
        status: LeadStatus,
        limit: usize,
    ) -> Result<Vec<LeadRecord>, StoreError> {
        self.inner.list_waiting(pool, status, limit).await
    }
    async fn list_due(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<Vec<LeadRecord>, StoreError> {
        self.inner.list_due(before, limit).await
    }
    async fn pools_with_waiting(&self) -> Result<Vec<PoolId>, StoreError> {
        self.inner.pools_with_waiting().await
    }
    async fn email_owner(&self, email: &str) -> Result<Option<EmailOwner>, StoreError> {
        self.inner.email_owner(email).await
    }
}

#[async_trait]
impl RoutingStore for Counting {
    async fn get_reps(&self, ids: &[RepId]) -> Result<Vec<RepState>, StoreError> {
        self.inner.get_reps(ids).await
    }
    async fn get_pool(&self, id: &str) -> Result<PoolState, StoreError> {
        self.inner.get_pool(id).await
    }
    async fn commit(&self, c: &Commit) -> Result<CommitOutcome, StoreError> {
        self.counts.commits.fetch_add(1, Ordering::Relaxed);
        self.counts
            .lead_items
            .fetch_add(c.leads.len(), Ordering::Relaxed);
        self.counts
            .pool_items
            .fetch_add(c.pools.len(), Ordering::Relaxed);
        self.counts
            .rep_items
            .fetch_add(c.reps.len(), Ordering::Relaxed);
        self.inner.commit(c).await
    }
}

const CONFIG: &str = r#"
[[reps]]
id = "a"
[[reps]]
id = "b"
[[reps]]
id = "c"
[[pools]]
id = "p"
members = ["a", "b", "c"]
strategy = "round_robin"
[[rules]]
name = "default"
pool = "p"
"#;

fn leads(n: usize) -> Vec<Lead> {
    (0..n)
        .map(|i| Lead {
            id: Uuid::now_v7(),
            received_at: chrono::Utc::now(),
            source: "api".into(),
            email: Some(format!("b{i}@corp{i}.de")),
            ..Lead::default()
        })
        .collect()
}

#[tokio::test]
async fn a_batch_is_one_commit_with_one_rotation_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let counts = Arc::new(Counts::default());
    let store = Arc::new(Counting {
        inner: EmbeddedStore::open(&dir.path().join("db.sqlite")).expect("store"),
        counts: counts.clone(),
    });
    let cfg = RoutingConfig::parse(CONFIG, Format::Toml, "t.toml").expect("config");
    let engine = Engine::new(store.clone(), cfg, Arc::new(SystemClock));

    let batch = leads(10);
    let routed = engine.route_batch(batch.clone()).await.expect("routed");
    let owners: Vec<String> = routed
        .iter()
        .map(|r| match r {
            Routed::Assigned { rep } => rep.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    // The rotation advanced lead by lead inside the batch.
    assert_eq!(owners, ["a", "b", "c", "a", "b", "c", "a", "b", "c", "a"]);
    assert_eq!(
        counts.commits.load(Ordering::Relaxed),
        1,
        "one commit for the batch"
    );
    assert_eq!(
        counts.pool_items.load(Ordering::Relaxed),
        1,
        "one rotation write"
    );
    assert_eq!(
        counts.lead_items.load(Ordering::Relaxed),
        10,
        "each lead written once"
    );
    assert_eq!(
        counts.rep_items.load(Ordering::Relaxed),
        3,
        "each owner's counters once"
    );
    assert_eq!(
        counts.inserts.load(Ordering::Relaxed),
        0,
        "no separate insert"
    );
    let pool = store.get_pool("p").await.expect("pool");
    assert_eq!((pool.turn, pool.version), (10, 1));

    // Redelivery of the whole batch: everything already routed, nothing written.
    let again = engine.route_batch(batch).await.expect("routed");
    assert!(
        again
            .iter()
            .all(|r| matches!(r, Routed::AlreadyRouted { .. })),
        "{again:?}"
    );
    assert_eq!(counts.commits.load(Ordering::Relaxed), 1);

    // A batch larger than a chunk is split so each transaction stays under 100 items.
    let big = leads(45);
    engine.route_batch(big).await.expect("routed");
    assert_eq!(
        counts.commits.load(Ordering::Relaxed),
        1 + 45_usize.div_ceil(leadrouter_domain::engine::BATCH_CHUNK)
    );
    let a = store
        .get_reps(&["a".into(), "b".into(), "c".into()])
        .await
        .expect("reps");
    let open: Vec<u32> = a.iter().map(|s| s.open_leads).collect();
    assert_eq!(open.iter().sum::<u32>(), 55);
    assert!(
        open.iter()
            .max()
            .zip(open.iter().min())
            .is_some_and(|(x, y)| x - y <= 1),
        "{open:?}"
    );
}
