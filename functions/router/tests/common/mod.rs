//! Shared by the router's moto tests: a Lambda-like SQS event source over the real `SqsQueue`
//! (receive a batch, hand the router handler a real SQS event, delete what it routed, give the
//! failures back), queue depth, and the invariants every fault test checks afterwards.

#![allow(dead_code, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::QueueAttributeName;
use leadrouter_domain::ports::{LeadStore, Queue, Received, RoutingStore};
use leadrouter_domain::record::LeadStatus;
use leadrouter_router::{Deps, handle};
use uuid::Uuid;

/// The SQS event Lambda would hand the router for `messages`.
pub fn sqs_event(messages: &[Received]) -> SqsEvent {
    serde_json::from_value(leadrouter_aws::moto::sqs_event(messages, "intake")).expect("sqs event")
}

/// What one poll of the event source did.
#[derive(Debug, Default)]
pub struct Poll {
    /// Messages handed to the router.
    pub received: usize,
    /// Message ids the router reported in `batchItemFailures`.
    pub failed: Vec<String>,
}

/// One poll of the SQS event source mapping, as Lambda runs it with `ReportBatchItemFailures`:
/// receive up to `batch`, invoke the handler, delete the messages not reported as failed, and
/// make the failed ones visible again at once (Lambda leaves them to the visibility timeout;
/// releasing them now keeps the test fast, and is the same redelivery).
pub async fn poll(deps: &Deps, queue: &dyn Queue, batch: usize, wait: Duration) -> Poll {
    let messages = queue.receive(batch, wait).await.expect("receive");
    if messages.is_empty() {
        return Poll::default();
    }
    let response = handle(deps, sqs_event(&messages)).await;
    let failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    for m in &messages {
        if failed.contains(&m.id) {
            queue
                .release(&m.receipt, Duration::ZERO)
                .await
                .expect("release");
        } else {
            queue.ack(&m.receipt).await.expect("ack");
        }
    }
    Poll {
        received: messages.len(),
        failed,
    }
}

/// Messages in the queue: visible plus in flight (SQS's approximate counts; exact on moto).
pub async fn depth(sqs: &aws_sdk_sqs::Client, url: &str) -> usize {
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("queue attributes")
        .attributes
        .unwrap_or_default();
    [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .map(|k| {
        attrs
            .get(k)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0)
    })
    .sum()
}

/// Waits until the queue at `url` is empty (nothing visible, nothing in flight), at most `limit`.
pub async fn wait_drained(sqs: &aws_sdk_sqs::Client, url: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let n = depth(sqs, url).await;
        if n == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "queue not drained within {limit:?}: {n} messages left"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A canonical lead message with a distinct email (no sticky routing between leads).
pub fn lead_message(i: usize) -> (Uuid, String) {
    let lead = leadrouter_lead::Lead {
        id: Uuid::now_v7(),
        received_at: chrono::Utc::now(),
        source: "api".into(),
        email: Some(format!("lead{i}@example-{i}.com")),
        ..leadrouter_lead::Lead::default()
    };
    (lead.id, serde_json::to_string(&lead).expect("encode"))
}

/// The owner of every lead in `ids`, after checking that each exists, is assigned, and was
/// assigned exactly once (one `assigned` history event). Returns leads owned per rep.
pub async fn owners(store: &dyn LeadStore, ids: &[Uuid]) -> HashMap<String, u32> {
    let mut owned: HashMap<String, u32> = HashMap::new();
    for id in ids {
        let rec = store
            .get_lead(*id)
            .await
            .expect("get")
            .unwrap_or_else(|| panic!("lead {id} lost"));
        assert_eq!(rec.status, LeadStatus::Assigned, "lead {id}");
        let owner = rec
            .owner
            .clone()
            .unwrap_or_else(|| panic!("lead {id} has no owner"));
        let assigned = rec.history.iter().filter(|h| h.event == "assigned").count();
        assert_eq!(assigned, 1, "lead {id} has {assigned} `assigned` events");
        *owned.entry(owner).or_default() += 1;
    }
    assert_eq!(owned.values().sum::<u32>() as usize, ids.len());
    owned
}

/// Checks every rep's open-lead counter against the leads they own.
pub async fn counters_match(
    store: &dyn RoutingStore,
    reps: &[String],
    owned: &HashMap<String, u32>,
) {
    let states = store.get_reps(reps).await.expect("reps");
    let mut seen = 0;
    for s in &states {
        let n = owned.get(&s.rep).copied().unwrap_or(0);
        assert_eq!(
            s.open_leads, n,
            "{}: counter {} vs {n} owned",
            s.rep, s.open_leads
        );
        seen += 1;
    }
    for (rep, n) in owned {
        assert!(
            states.iter().any(|s| &s.rep == rep) || *n == 0,
            "{rep} owns {n} leads but has no state"
        );
    }
    assert!(seen > 0 || owned.is_empty());
}
