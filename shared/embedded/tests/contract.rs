//! The domain's port contract against a fresh database file, plus what only the embedded
//! adapter promises: durability across reopen, dead letters and redrive, corrupt-item reports.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use leadrouter_domain::contract;
use leadrouter_domain::ports::{
    Commit, CommitOutcome, EmailOwner, LeadQuery, LeadStore, Queue, RoutingStore, StoreError,
    Versioned,
};
use leadrouter_domain::record::LeadRecord;
use leadrouter_domain::state::{PoolState, RepState};
use leadrouter_embedded::{EmbeddedStore, QueueConfig, QueueDepth};
use leadrouter_lead::Lead;
use tempfile::TempDir;
use uuid::Uuid;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn fresh() -> Result<(TempDir, PathBuf, EmbeddedStore), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("leadrouter.db");
    let store = EmbeddedStore::open(&path)?;
    Ok((dir, path, store))
}

fn config(visibility_ms: u64, max_receives: u32) -> QueueConfig {
    QueueConfig {
        visibility_timeout: Duration::from_millis(visibility_ms),
        max_receives,
    }
}

fn lead() -> LeadRecord {
    LeadRecord::received(Lead {
        id: Uuid::now_v7(),
        received_at: chrono::Utc::now(),
        source: "test".into(),
        email: Some("ada@example.com".into()),
        ..Lead::default()
    })
}

/// Writes straight into the file, as a bug or an incompatible version would.
fn raw(path: &Path, sql: &str) -> TestResult {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch(sql)?;
    Ok(())
}

// ----- the domain contract -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_contract() -> TestResult {
    let (_dir, _path, store) = fresh()?;
    contract::store_contract(&store).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_contract() -> TestResult {
    let (_dir, _path, store) = fresh()?;
    contract::sla::sla_contract(Arc::new(store)).await;
    Ok(())
}

/// 1,000 overdue leads accepted by their owners while two sweepers run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sweeper_races_accept() -> TestResult {
    let (_dir, _path, store) = fresh()?;
    contract::sla::sweeper_races_accept(Arc::new(store), 1_000).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commit_contract() -> TestResult {
    let (_dir, _path, store) = fresh()?;
    contract::concurrent_commit_contract(Arc::new(store)).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_contract() -> TestResult {
    let (_dir, _path, store) = fresh()?;
    let queue = store.queue("contract", config(1_000, 3));
    contract::queue_contract(&queue, Duration::from_secs(1), 3).await;
    Ok(())
}

// ----- embedded only -------------------------------------------------------------------------

#[tokio::test]
async fn data_and_queues_survive_reopen() -> TestResult {
    let (_dir, path, store) = fresh()?;
    let rec = lead();
    store.insert_lead(&rec).await?;
    let rep = RepState::new("rep-a");
    let pool = PoolState::new("pool-a");
    let owner = EmailOwner {
        email: "ada@example.com".into(),
        rep: "rep-a".into(),
        lead_id: rec.lead.id,
        at: rec.lead.received_at,
    };
    let commit = Commit {
        reps: vec![Versioned {
            expected_version: 0,
            item: rep.clone(),
        }],
        pools: vec![Versioned {
            expected_version: 0,
            item: pool.clone(),
        }],
        email_owners: vec![owner.clone()],
        ..Commit::default()
    };
    assert_eq!(store.commit(&commit).await?, CommitOutcome::Committed);

    let queue = store.queue("intake", config(800, 5));
    let in_flight = queue.send("first").await?;
    let waiting = queue.send("second").await?;
    let acked = queue.send("third").await?;
    let got = queue.receive(10, Duration::ZERO).await?;
    assert_eq!(got.len(), 3);
    for m in &got {
        if m.id == acked {
            queue.ack(&m.receipt).await?;
        } else if m.id == waiting {
            queue.release(&m.receipt, Duration::ZERO).await?;
        }
    }
    drop((queue, store));

    let store = EmbeddedStore::open(&path)?;
    assert_eq!(store.get_lead(rec.lead.id).await?, Some(rec.clone()));
    assert_eq!(store.get_reps(&["rep-a".into()]).await?[0].version, 1);
    assert_eq!(store.get_pool("pool-a").await?.version, 1);
    assert_eq!(store.email_owner("ada@example.com").await?, Some(owner));

    let queue = store.queue("intake", config(800, 5));
    assert_eq!(
        queue.depth().await?,
        QueueDepth {
            visible: 1,
            invisible: 1,
            dead_letters: 0
        }
    );
    let got = queue.receive(10, Duration::ZERO).await?;
    assert_eq!(
        got.len(),
        1,
        "only the released message is visible: {got:?}"
    );
    assert_eq!(
        (got[0].id.as_str(), got[0].receive_count),
        (waiting.as_str(), 2)
    );
    queue.ack(&got[0].receipt).await?;

    // The delivery from before the restart times out and the message comes back.
    let got = queue.receive(10, Duration::from_secs(3)).await?;
    assert_eq!(got.len(), 1);
    assert_eq!(
        (
            got[0].id.as_str(),
            got[0].body.as_str(),
            got[0].receive_count
        ),
        (in_flight.as_str(), "first", 2)
    );
    queue.ack(&got[0].receipt).await?;
    assert_eq!(queue.depth().await?, QueueDepth::default());
    Ok(())
}

/// Set in the child process of [`survives_sigkill`]: the database file it writes.
const SIGKILL_CHILD_DB: &str = "LEADROUTER_EMBEDDED_SIGKILL_CHILD_DB";

/// Runs only as the child of [`survives_sigkill`]: writes, says so, and waits to be killed.
#[tokio::test]
#[ignore = "helper process of survives_sigkill"]
async fn sigkill_child() -> TestResult {
    let Some(path) = std::env::var_os(SIGKILL_CHILD_DB) else {
        return Ok(());
    };
    let store = EmbeddedStore::open(Path::new(&path))?;
    let rec = lead();
    store.insert_lead(&rec).await?;
    let queue = store.queue("intake", config(60_000, 5));
    queue.send("waiting").await?;
    queue.send("in flight").await?;
    let got = queue.receive(1, Duration::ZERO).await?;
    assert_eq!(got.len(), 1);
    println!("written {}", rec.lead.id);
    tokio::time::sleep(Duration::from_secs(60)).await;
    Ok(())
}

/// What local mode promises: whatever returned Ok before a SIGKILL is there after a restart.
#[test]
fn survives_sigkill() -> TestResult {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("leadrouter.db");
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "sigkill_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SIGKILL_CHILD_DB, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no child stdout")?;
    let mut id = None;
    for line in BufReader::new(stdout).lines() {
        // libtest prints "test sigkill_child ... " before the child's own output.
        if let Some((_, rest)) = line?.split_once("written ") {
            id = Some(Uuid::parse_str(rest.trim())?);
            break;
        }
    }
    child.kill()?; // SIGKILL: no destructors, no checkpoint, no clean close
    child.wait()?;
    let id = id.ok_or("the child never finished writing")?;

    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let store = EmbeddedStore::open(&path)?;
        assert!(store.get_lead(id).await?.is_some(), "the lead was lost");
        let queue = store.queue("intake", config(60_000, 5));
        assert_eq!(
            queue.depth().await?,
            QueueDepth {
                visible: 1,
                invisible: 1,
                dead_letters: 0
            },
            "both messages kept, the delivery still in flight"
        );
        Ok(())
    })
}

#[tokio::test]
async fn dead_letter_and_redrive() -> TestResult {
    let (_dir, _path, store) = fresh()?;
    let queue = store.queue("intake", config(1_000, 2));
    let id = queue.send("poison").await?;
    for n in 1..=2 {
        let got = queue.receive(1, Duration::ZERO).await?;
        assert_eq!(got[0].receive_count, n);
        queue.release(&got[0].receipt, Duration::ZERO).await?;
    }
    assert!(queue.receive(10, Duration::ZERO).await?.is_empty());
    let dead = queue.dead_letters().await?;
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (
            dead[0].id.as_str(),
            dead[0].body.as_str(),
            dead[0].receive_count
        ),
        (id.as_str(), "poison", 2)
    );
    assert!(dead[0].dead_lettered_at >= dead[0].sent_at);
    assert_eq!(
        queue.depth().await?,
        QueueDepth {
            visible: 0,
            invisible: 0,
            dead_letters: 1
        }
    );

    // Another queue in the same file has its own messages and dead letters.
    let other = store.queue("other", config(1_000, 2));
    assert!(other.dead_letters().await?.is_empty());
    assert_eq!(other.redrive().await?, 0);

    assert_eq!(queue.redrive().await?, 1);
    assert!(queue.dead_letters().await?.is_empty());
    let got = queue.receive(10, Duration::ZERO).await?;
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].id.as_str(), got[0].receive_count),
        (id.as_str(), 1),
        "a redriven message starts counting again"
    );
    queue.ack(&got[0].receipt).await?;
    Ok(())
}

#[tokio::test]
async fn queues_are_isolated_by_name() -> TestResult {
    let (_dir, _path, store) = fresh()?;
    let a = store.queue("a", config(1_000, 3));
    let b = store.queue("b", config(1_000, 3));
    a.send("for a").await?;
    assert!(b.receive(10, Duration::from_millis(100)).await?.is_empty());
    let got = a.receive(10, Duration::ZERO).await?;
    assert_eq!(got.len(), 1);
    // A receipt of queue `a` means nothing to queue `b`.
    b.ack(&got[0].receipt).await?;
    assert_eq!(a.depth().await?.invisible, 1);
    a.ack(&got[0].receipt).await?;
    assert_eq!(a.depth().await?, QueueDepth::default());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_sees_sends_from_another_connection() -> TestResult {
    // A second open of the same file stands in for another process: no in-process wake-up, so
    // the waiting receiver finds the message by polling.
    let (_dir, path, store) = fresh()?;
    let other = EmbeddedStore::open(&path)?;
    let receiver = store.queue("intake", config(1_000, 3));
    let sender = other.queue("intake", config(1_000, 3));
    let started = tokio::time::Instant::now();
    let (sent, got) = tokio::join!(
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            sender.send("cross").await
        },
        receiver.receive(1, Duration::from_secs(5))
    );
    let got = got?;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, sent?);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    receiver.ack(&got[0].receipt).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_in_this_process_wakes_a_waiting_receiver_at_once() -> TestResult {
    // Not the poll: it runs every 200 ms, and the receiver must be back well within that.
    let (_dir, _path, store) = fresh()?;
    let receiver = store.queue("intake", config(1_000, 3));
    let sender = store.queue("intake", config(1_000, 3));
    let (sent_at, got) = tokio::join!(
        async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let sent = sender.send("wake").await;
            (tokio::time::Instant::now(), sent)
        },
        async {
            let got = receiver.receive(1, Duration::from_secs(5)).await;
            (tokio::time::Instant::now(), got)
        }
    );
    let ((sent_at, sent), (got_at, got)) = (sent_at, got);
    let got = got?;
    assert_eq!(got[0].id, sent?);
    let latency = got_at.saturating_duration_since(sent_at);
    assert!(
        latency < Duration::from_millis(120),
        "woke {latency:?} after the send"
    );
    Ok(())
}

#[tokio::test]
async fn corrupt_items_are_reported_with_their_key() -> TestResult {
    let (_dir, path, store) = fresh()?;
    let rec = lead();
    store.insert_lead(&rec).await?;
    let id = rec.lead.id;
    raw(
        &path,
        &format!("UPDATE leads SET body = '{{\"lead\": \"ada@' WHERE id = '{id}'"),
    )?;
    match store.get_lead(id).await {
        Err(StoreError::Corrupt { key, reason }) => {
            assert_eq!(key, format!("lead/{id}"));
            assert!(
                !reason.contains("ada@"),
                "no item content in errors: {reason}"
            );
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let page = store
        .list_leads(&LeadQuery {
            limit: 10,
            ..LeadQuery::default()
        })
        .await;
    assert!(matches!(page, Err(StoreError::Corrupt { .. })), "{page:?}");

    raw(
        &path,
        "INSERT INTO pools (id, version, body) VALUES ('p', 1, 'nope')",
    )?;
    assert!(matches!(
        store.get_pool("p").await,
        Err(StoreError::Corrupt { key, .. }) if key == "pool/p"
    ));
    Ok(())
}

#[tokio::test]
async fn list_leads_rejects_a_foreign_cursor_and_caps_the_page() -> TestResult {
    let (_dir, _path, store) = fresh()?;
    let bad = store
        .list_leads(&LeadQuery {
            limit: 10,
            cursor: Some("not-a-cursor".into()),
            ..LeadQuery::default()
        })
        .await;
    assert!(
        matches!(bad, Err(StoreError::InvalidArgument { .. })),
        "{bad:?}"
    );

    for _ in 0..3 {
        store.insert_lead(&lead()).await?;
    }
    // 0 means "the largest page".
    let page = store.list_leads(&LeadQuery::default()).await?;
    assert_eq!((page.leads.len(), page.next), (3, None));
    Ok(())
}

#[tokio::test]
async fn insert_lead_stores_version_one() -> TestResult {
    let (_dir, _path, store) = fresh()?;
    let mut rec = lead();
    rec.version = 9;
    store.insert_lead(&rec).await?;
    let stored = store.get_lead(rec.lead.id).await?;
    assert_eq!(stored.map(|r| r.version), Some(1));
    Ok(())
}

#[tokio::test]
async fn an_item_twice_in_one_commit_conflicts_and_writes_nothing() -> TestResult {
    let (_dir, _path, store) = fresh()?;
    let write = |open_leads| Versioned {
        expected_version: 0,
        item: RepState {
            open_leads,
            ..RepState::new("rep-dup")
        },
    };
    let commit = Commit {
        reps: vec![write(1), write(2)],
        pools: vec![Versioned {
            expected_version: 0,
            item: PoolState::new("pool-dup"),
        }],
        ..Commit::default()
    };
    assert!(matches!(
        store.commit(&commit).await?,
        CommitOutcome::Conflict(_)
    ));
    assert_eq!(store.get_reps(&["rep-dup".into()]).await?[0].version, 0);
    assert_eq!(store.get_pool("pool-dup").await?.version, 0);
    Ok(())
}

#[test]
fn open_refuses_a_directory() -> TestResult {
    let dir = tempfile::tempdir()?;
    assert!(matches!(
        EmbeddedStore::open(dir.path()),
        Err(StoreError::Unavailable(_))
    ));
    Ok(())
}

/// Versioned routing configs: conditional pushes, history, concurrent pushes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn config_contract() -> TestResult {
    let (_dir, _path, store) = fresh()?;
    contract::config::config_contract(Arc::new(store)).await;
    Ok(())
}

/// Pushed configs survive reopening the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_versions_survive_reopen() -> TestResult {
    use leadrouter_domain::config_store::{ConfigDoc, ConfigMeta, ConfigStore, PutOutcome};
    let (_dir, path, store) = fresh()?;
    let doc = ConfigDoc {
        meta: ConfigMeta {
            version: 0,
            pushed_at: chrono::DateTime::from_timestamp(1_740_819_600, 0).unwrap_or_default(),
            pushed_by: "ada".into(),
            hash: "00000000deadbeef".into(),
            message: "first".into(),
            rolled_back_from: None,
        },
        format: "toml".into(),
        source: "[settings]\n".into(),
    };
    assert_eq!(
        store.put(&doc, None).await?,
        PutOutcome::Stored { version: 1 }
    );
    drop(store);
    let store = EmbeddedStore::open(&path)?;
    assert_eq!(store.current_version().await?, Some(1));
    let got = store.current().await?.ok_or("no current config")?;
    assert_eq!(got.source, doc.source);
    assert_eq!(got.meta.pushed_by, "ada");
    Ok(())
}

/// `leadrouter redrive --max N`: the oldest N dead letters go back, the rest stay, other queues'
/// dead letters are untouched.
#[tokio::test]
async fn bounded_redrive_moves_the_oldest_first() -> TestResult {
    let (_dir, _path, store) = fresh()?;
    let queue = store.queue("intake", config(1_000, 1));
    let other = store.queue("events", config(1_000, 1));
    let mut ids = Vec::new();
    for body in ["a", "b", "c"] {
        ids.push(queue.send(body).await?);
    }
    other.send("z").await?;
    for q in [&queue, &other] {
        for got in q.receive(10, Duration::ZERO).await? {
            q.release(&got.receipt, Duration::ZERO).await?;
        }
        // Each used up its one receive: this receive dead-letters them.
        assert!(q.receive(10, Duration::ZERO).await?.is_empty());
    }
    assert_eq!(queue.depth().await?.dead_letters, 3);

    assert_eq!(queue.redrive_at_most(2).await?, 2);
    let left: Vec<String> = queue
        .dead_letters()
        .await?
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(left, [ids[2].clone()], "the newest stays dead-lettered");
    let mut back: Vec<String> = queue
        .receive(10, Duration::ZERO)
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect();
    back.sort();
    assert_eq!(back, [ids[0].clone(), ids[1].clone()]);
    assert_eq!(
        other.depth().await?.dead_letters,
        1,
        "other queues untouched"
    );

    assert_eq!(queue.redrive_at_most(10).await?, 1);
    assert_eq!(queue.redrive_at_most(10).await?, 0);
    Ok(())
}
