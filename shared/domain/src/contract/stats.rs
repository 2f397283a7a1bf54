//! The `StatsStore` contract: additions counted once per event id, summed over a range of hours
//! per group kind, ids remembered for at least [`crate::stats::DEDUP_HOURS`].

use crate::stats::{Cell, GroupBy, StatsStore, StatsUpdate};

fn update(id: &str, hour: i64, name: &str, rep: &str) -> StatsUpdate {
    StatsUpdate {
        event_id: id.into(),
        hour,
        cells: vec![
            Cell {
                kind: GroupBy::All,
                value: String::new(),
                name: name.into(),
                n: 1,
            },
            Cell {
                kind: GroupBy::Rep,
                value: rep.into(),
                name: name.into(),
                n: 1,
            },
            Cell {
                kind: GroupBy::Rep,
                value: rep.into(),
                name: "to_assign:17".into(),
                n: 2,
            },
        ],
    }
}

fn sorted(mut cells: Vec<Cell>) -> Vec<(GroupBy, String, String, u64)> {
    let mut out: Vec<_> = cells
        .drain(..)
        .map(|c| (c.kind, c.value, c.name, c.n))
        .collect();
    out.sort();
    out
}

/// Runs the contract against an empty store.
pub async fn stats_contract(store: &dyn StatsStore) {
    let base = 500_000; // hours since the epoch: 2027
    assert!(
        store
            .record(&update("a:1", base, "received", "ana"))
            .await
            .expect("record"),
        "a new event id is applied"
    );
    assert!(
        !store
            .record(&update("a:1", base, "received", "ana"))
            .await
            .expect("record again"),
        "the same event id is not applied twice"
    );
    for (id, hour, rep) in [("b:1", base + 1, "ana"), ("c:1", base + 2, "bo")] {
        store
            .record(&update(id, hour, "received", rep))
            .await
            .expect("record");
    }
    let all = store
        .read(base, base + 2, &[GroupBy::All])
        .await
        .expect("read");
    assert_eq!(
        sorted(all),
        vec![(GroupBy::All, String::new(), "received".into(), 2)],
        "[from, to) excludes `to`, sums the hours"
    );
    let reps = store
        .read(base, base + 3, &[GroupBy::Rep, GroupBy::All])
        .await
        .expect("read");
    assert_eq!(
        sorted(reps),
        vec![
            (GroupBy::All, String::new(), "received".into(), 3),
            (GroupBy::Rep, "ana".into(), "received".into(), 2),
            (GroupBy::Rep, "ana".into(), "to_assign:17".into(), 4),
            (GroupBy::Rep, "bo".into(), "received".into(), 1),
            (GroupBy::Rep, "bo".into(), "to_assign:17".into(), 2),
        ],
        "several kinds, values and names; increments above one"
    );
    assert!(
        store
            .read(base + 3, base + 10, &[GroupBy::All, GroupBy::Rep])
            .await
            .expect("read")
            .is_empty(),
        "hours without writes read as nothing"
    );
    assert!(
        !store
            .record(&update("b:1", base + 1, "received", "ana"))
            .await
            .expect("within the window"),
        "remembered within the window"
    );

    // A batch: one already applied (b:1), one new id twice, two new ids on the same bucket.
    let batch = [
        update("b:1", base + 1, "received", "ana"),
        update("d:1", base + 5, "assigned", "ana"),
        update("d:1", base + 5, "assigned", "ana"),
        update("e:1", base + 5, "assigned", "bo"),
        update("f:1", base + 5, "assigned", "bo"),
    ];
    assert_eq!(
        store.record_all(&batch).await.expect("record_all"),
        3,
        "a batch applies each new event id once"
    );
    assert_eq!(
        store.record_all(&batch).await.expect("record_all again"),
        0,
        "a redelivered batch applies nothing"
    );
    let hour5 = store
        .read(base + 5, base + 6, &[GroupBy::All, GroupBy::Rep])
        .await
        .expect("read");
    assert_eq!(
        sorted(hour5),
        vec![
            (GroupBy::All, String::new(), "assigned".into(), 3),
            (GroupBy::Rep, "ana".into(), "assigned".into(), 1),
            (GroupBy::Rep, "ana".into(), "to_assign:17".into(), 2),
            (GroupBy::Rep, "bo".into(), "assigned".into(), 2),
            (GroupBy::Rep, "bo".into(), "to_assign:17".into(), 4),
        ],
        "a batch's updates merge into the same sums as one by one"
    );
    let hour1 = store
        .read(base + 1, base + 2, &[GroupBy::All])
        .await
        .expect("read");
    assert_eq!(
        sorted(hour1),
        vec![(GroupBy::All, String::new(), "received".into(), 1)],
        "the already-applied event in the batch added nothing"
    );
}
