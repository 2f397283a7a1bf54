//! The [`ConfigStore`] contract: versions numbered from 1 without gaps, conditional on the
//! current version, documents round-tripping byte for byte, history newest first.
//!
//! Unlike the lead store checks, these need a store of their own (a fresh database file, a fresh
//! table): the config is one per store.
//!
//! ```ignore
//! leadrouter_domain::contract::config::config_contract(Arc::new(store)).await;
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{Must, at};
use crate::config_store::{ConfigDoc, ConfigMeta, ConfigStore, MAX_SOURCE_BYTES, PutOutcome, push};
use crate::ports::StoreError;

/// Every config check, in order, on one fresh store.
pub async fn config_contract<S: ConfigStore + 'static>(store: Arc<S>) {
    empty_store_has_nothing(store.as_ref()).await;
    put_is_conditional_and_round_trips(store.as_ref()).await;
    oversized_documents_are_refused(store.as_ref()).await;
    concurrent_pushes_have_one_winner_per_version(Arc::clone(&store), 8).await;
    concurrent_retried_pushes_all_land_without_gaps(store, 8).await;
}

fn doc(tag: &str, secs: i64) -> ConfigDoc {
    ConfigDoc {
        meta: ConfigMeta {
            version: 0,
            pushed_at: at(secs),
            pushed_by: format!("ci-{tag}"),
            hash: format!("{:016x}", secs),
            message: format!("change {tag}: ünïcode ✓"),
            rolled_back_from: None,
        },
        format: "toml".into(),
        source: format!("# {tag}\n[settings]\ntimezone = \"Europe/Berlin\"\n\"quoted\" = 'x'\n"),
    }
}

fn stored(outcome: PutOutcome, what: &str) -> u64 {
    match outcome {
        PutOutcome::Stored { version } => version,
        other => panic!("contract: {what}: expected Stored, got {other:?}"),
    }
}

/// A store that never had a config reads as empty.
pub async fn empty_store_has_nothing<S: ConfigStore + ?Sized>(store: &S) {
    assert_eq!(
        store.current_version().await.must("current_version"),
        None,
        "contract: a fresh store has no current version"
    );
    assert!(
        store.current().await.must("current").is_none(),
        "contract: a fresh store has no current document"
    );
    assert!(
        store.get(1).await.must("get").is_none(),
        "contract: a fresh store has no version 1"
    );
    assert!(
        store.history(10).await.must("history").is_empty(),
        "contract: a fresh store has no history"
    );
}

/// Versions 1, 2, … each conditional on the one before; documents come back as pushed; history
/// is newest first. Runs after [`empty_store_has_nothing`] (needs an empty store).
pub async fn put_is_conditional_and_round_trips<S: ConfigStore + ?Sized>(store: &S) {
    let first = doc("first", 1);
    let v1 = stored(store.put(&first, None).await.must("put v1"), "first put");
    assert_eq!(v1, 1, "contract: the first version is 1");
    assert_eq!(
        store.put(&doc("again", 2), None).await.must("put"),
        PutOutcome::Conflict { current: Some(1) },
        "contract: a put expecting no config conflicts once one exists"
    );
    assert_eq!(
        store.put(&doc("ahead", 2), Some(7)).await.must("put"),
        PutOutcome::Conflict { current: Some(1) },
        "contract: a put expecting another version conflicts, naming the current one"
    );
    let mut second = doc("second", 3);
    second.meta.rolled_back_from = Some(1);
    second.format = "json".into();
    second.source = "{\"settings\": {}}".into();
    let v2 = stored(
        store.put(&second, Some(1)).await.must("put v2"),
        "second put",
    );
    assert_eq!(v2, 2, "contract: the next version is one more");
    assert_eq!(
        store.current_version().await.must("current_version"),
        Some(2)
    );

    let got1 = store.get(1).await.must("get 1");
    let mut want1 = first.clone();
    want1.meta.version = 1;
    assert_eq!(got1, Some(want1), "contract: version 1 round-trips");
    let mut want2 = second.clone();
    want2.meta.version = 2;
    assert_eq!(
        store.current().await.must("current"),
        Some(want2.clone()),
        "contract: current is the newest document, rolled_back_from and format included"
    );
    assert!(store.get(3).await.must("get 3").is_none());
    assert!(store.get(0).await.must("get 0").is_none());

    let history = store.history(10).await.must("history");
    assert_eq!(
        history,
        vec![want2.meta.clone(), {
            let mut m = first.meta.clone();
            m.version = 1;
            m
        }],
        "contract: history is every version's metadata, newest first"
    );
    let one = store.history(1).await.must("history 1");
    assert_eq!(one.len(), 1, "contract: history honours the limit");
    assert_eq!(one[0].version, 2);
}

/// A source over the limit is refused with `InvalidArgument` and nothing is written.
pub async fn oversized_documents_are_refused<S: ConfigStore + ?Sized>(store: &S) {
    let before = store.current_version().await.must("current_version");
    let mut big = doc("big", 10);
    big.source = "#".repeat(MAX_SOURCE_BYTES + 1);
    match store.put(&big, before).await {
        Err(StoreError::InvalidArgument { .. }) => {}
        other => panic!("contract: an oversized document must be InvalidArgument, got {other:?}"),
    }
    assert_eq!(
        store.current_version().await.must("current_version"),
        before,
        "contract: a refused document writes nothing"
    );
}

/// `n` pushes from the same base, several rounds: exactly one wins each round (with the next
/// version), the others conflict naming it.
pub async fn concurrent_pushes_have_one_winner_per_version<S: ConfigStore + 'static>(
    store: Arc<S>,
    n: usize,
) {
    for round in 0..3 {
        let base = store.current_version().await.must("current_version");
        let mut tasks = Vec::new();
        for i in 0..n {
            let store = Arc::clone(&store);
            let d = doc(&format!("race-{round}-{i}"), 100 + i as i64);
            tasks.push(tokio::spawn(async move { store.put(&d, base).await }));
        }
        let mut winners = Vec::new();
        let mut conflicts = 0;
        for t in tasks {
            match t.await.expect("push task") {
                Ok(PutOutcome::Stored { version }) => winners.push(version),
                Ok(PutOutcome::Conflict { current }) => {
                    assert_eq!(
                        current,
                        Some(base.unwrap_or(0) + 1),
                        "contract: a losing push names the winner's version"
                    );
                    conflicts += 1;
                }
                Err(e) => panic!("contract: concurrent put returned an error: {e}"),
            }
        }
        assert_eq!(
            winners,
            vec![base.unwrap_or(0) + 1],
            "contract: exactly one of {n} concurrent pushes from one base wins"
        );
        assert_eq!(conflicts, n - 1);
    }
}

/// `n` concurrent pushes that retry on conflict all land, on distinct versions, and the history
/// has no gap.
pub async fn concurrent_retried_pushes_all_land_without_gaps<S: ConfigStore + 'static>(
    store: Arc<S>,
    n: usize,
) {
    let base = store
        .current_version()
        .await
        .must("current_version")
        .unwrap_or(0);
    let mut tasks = Vec::new();
    for i in 0..n {
        let store = Arc::clone(&store);
        let d = doc(&format!("retry-{i}"), 200 + i as i64);
        tasks.push(tokio::spawn(async move {
            push(store.as_ref(), &d, n * 4).await
        }));
    }
    let mut versions = BTreeSet::new();
    for t in tasks {
        let v = stored(t.await.expect("push task").must("push"), "retried push");
        assert!(versions.insert(v), "contract: two pushes got version {v}");
    }
    let want: BTreeSet<u64> = (base + 1..=base + n as u64).collect();
    assert_eq!(
        versions, want,
        "contract: retried pushes take consecutive versions"
    );
    let history = store.history(100).await.must("history");
    let listed: Vec<u64> = history.iter().map(|m| m.version).collect();
    let all: Vec<u64> = (1..=base + n as u64).rev().collect();
    assert_eq!(
        listed, all,
        "contract: history lists every version once, no gaps"
    );
    for m in &history {
        let d = store
            .get(m.version)
            .await
            .must("get")
            .expect("listed version exists");
        assert_eq!(
            &d.meta, m,
            "contract: history metadata matches the document"
        );
    }
}
