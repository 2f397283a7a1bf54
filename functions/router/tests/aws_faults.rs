//! Faults on the AWS path, injected into the real AWS SDK clients (talking to moto) with SDK
//! interceptors (`aws_smithy_runtime_api::client::interceptors::Intercept`), under the real router
//! handler fed by the real `SqsQueue`:
//!
//! - a lost response: DynamoDB applies the write, the caller gets a 500 (and, in the second
//!   case, the connection stays bad for a few more requests); retries and redeliveries end with
//!   exactly one owner per lead, counters equal to ownership and one rotation turn per lead;
//! - throttling: writes naming some leads fail with `ProvisionedThroughputExceededException`;
//!   `batchItemFailures` names exactly those messages, redelivery completes the transient ones,
//!   and a message that always fails reaches the dead-letter queue after `maxReceiveCount` while
//!   its batch-mates are routed.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
    BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use leadrouter_aws::moto::{Moto, moto, sdk};
use leadrouter_aws::{DynamoStore, SqsQueue, create_queue_with_dlq, create_table};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::Engine;
use leadrouter_domain::ports::{Queue, RoutingStore, SystemClock};
use leadrouter_router::Deps;
use uuid::Uuid;

const CONFIG: &str = "[settings]\nsticky_days = 0\n[[reps]]\nid = \"a\"\n[[reps]]\nid = \"b\"\n[[reps]]\nid = \"c\"\nmax_open_leads = 5\n[[pools]]\nid = \"p\"\nmembers = [\"a\", \"b\", \"c\"]\nstrategy = \"round_robin\"\n[[rules]]\nname = \"default\"\npool = \"p\"\n";
const REPS: [&str; 3] = ["a", "b", "c"];
const WRITES: [&str; 2] = ["PutItem", "TransactWriteItems"];

/// The DynamoDB operation of a request (`X-Amz-Target: DynamoDB_20120810.PutItem`).
fn operation(headers: &aws_smithy_runtime_api::http::Headers) -> String {
    headers
        .get("x-amz-target")
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or_default()
        .to_owned()
}

/// What an interceptor noted about the request of this attempt (the request itself is gone by
/// the time the response is there: the orchestrator hands it to the HTTP client).
#[derive(Debug, Clone)]
struct Sent {
    operation: String,
    throttled: bool,
}

impl Storable for Sent {
    type Storer = StoreReplace<Self>;
}

/// A DynamoDB JSON-protocol error response.
fn error_response(status: u16, code: &str) -> Result<Response, BoxError> {
    let body = format!(
        "{{\"__type\":\"com.amazonaws.dynamodb.v20120810#{code}\",\"message\":\"injected by the test\"}}"
    );
    let mut response = Response::new(StatusCode::try_from(status)?, SdkBody::from(body));
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    response
        .headers_mut()
        .insert("x-amzn-errortype", code.to_owned());
    Ok(response)
}

/// Lets every `every`-th write reach DynamoDB (it is applied) and replaces its response with a
/// 500, as if the connection dropped after the server committed; then replaces the responses of
/// the next `blackout` requests of any kind too (the connection stays bad for a moment).
#[derive(Debug, Clone)]
struct LoseResponses {
    every: usize,
    blackout: usize,
    writes: Arc<AtomicUsize>,
    dark: Arc<AtomicUsize>,
    lost: Arc<AtomicUsize>,
}

impl LoseResponses {
    fn new(every: usize, blackout: usize) -> LoseResponses {
        LoseResponses {
            every,
            blackout,
            writes: Arc::default(),
            dark: Arc::default(),
            lost: Arc::default(),
        }
    }
}

impl Intercept for LoseResponses {
    fn name(&self) -> &'static str {
        "lose-responses"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Sent {
            operation: operation(ctx.request().headers()),
            throttled: false,
        });
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        ctx: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg
            .load::<Sent>()
            .map(|s| s.operation.clone())
            .unwrap_or_default();
        // Only a write DynamoDB accepted counts: a failed condition is an answer, not a commit.
        let applied = WRITES.contains(&op.as_str()) && ctx.response().status().is_success();
        let lose = if applied
            && (self.writes.fetch_add(1, Ordering::SeqCst) + 1).is_multiple_of(self.every)
        {
            self.dark.store(self.blackout, Ordering::SeqCst);
            true
        } else {
            self.dark
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |d| d.checked_sub(1))
                .is_ok()
        };
        if lose {
            self.lost.fetch_add(1, Ordering::SeqCst);
            *ctx.response_mut() = error_response(500, "InternalServerError")?;
        }
        Ok(())
    }
}

/// Throttles writes that name a lead in `budget`: each such request spends one unit of every
/// named lead's budget (`usize::MAX`: always throttled). The request is turned into a harmless
/// `DescribeLimits` before it is sent (a throttled write never reaches the table), and its
/// response into `400 ProvisionedThroughputExceededException`.
#[derive(Debug, Clone, Default)]
struct Throttle {
    budget: Arc<Mutex<HashMap<Uuid, usize>>>,
    throttled: Arc<AtomicUsize>,
}

impl Intercept for Throttle {
    fn name(&self) -> &'static str {
        "throttle"
    }

    fn modify_before_transmit(
        &self,
        ctx: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = ctx.request_mut();
        let op = operation(request.headers());
        cfg.interceptor_state().store_put(Sent {
            operation: op.clone(),
            throttled: false,
        });
        if !WRITES.contains(&op.as_str()) {
            return Ok(());
        }
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let mut budget = self.budget.lock().unwrap_or_else(|e| e.into_inner());
        let mut hit = false;
        for (id, left) in budget.iter_mut() {
            if *left > 0 && body.contains(&id.to_string()) {
                *left = left.saturating_sub(usize::from(*left != usize::MAX));
                hit = true;
            }
        }
        if hit {
            self.throttled.fetch_add(1, Ordering::SeqCst);
            request
                .headers_mut()
                .insert("x-amz-target", "DynamoDB_20120810.DescribeLimits");
            *request.body_mut() = SdkBody::from("{}");
            // The signed length was the write's; a stale one makes the server wait for more.
            request.headers_mut().insert("content-length", "2");
            cfg.interceptor_state().store_put(Sent {
                operation: op,
                throttled: true,
            });
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        ctx: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Sent>().is_some_and(|s| s.throttled) {
            *ctx.response_mut() = error_response(400, "ProvisionedThroughputExceededException")?;
        }
        Ok(())
    }
}

/// Moto for DynamoDB (serial) and SQS (threaded), a table, an intake queue with its DLQ.
struct Env {
    _dynamo_moto: Moto,
    _sqs_moto: Moto,
    dynamo_sdk: aws_config::SdkConfig,
    sqs: aws_sdk_sqs::Client,
    url: String,
    dlq_url: String,
    queue: SqsQueue,
}

async fn env(max_receives: u32) -> Env {
    let dynamo_moto = moto(true).await;
    let sqs_moto = moto(false).await;
    let dynamo_sdk = sdk(&dynamo_moto).await;
    create_table(&aws_sdk_dynamodb::Client::new(&dynamo_sdk), "leadrouter")
        .await
        .expect("table");
    let sqs = aws_sdk_sqs::Client::new(&sdk(&sqs_moto).await);
    let (url, dlq_url) =
        create_queue_with_dlq(&sqs, "intake", Duration::from_secs(30), max_receives)
            .await
            .expect("queue");
    let queue = SqsQueue::new(sqs.clone(), url.clone());
    Env {
        _dynamo_moto: dynamo_moto,
        _sqs_moto: sqs_moto,
        dynamo_sdk,
        sqs,
        url,
        dlq_url,
        queue,
    }
}

/// The router's store: the DynamoDB client with `interceptor` and `retry`.
fn faulty_store(
    env: &Env,
    interceptor: impl Intercept + 'static,
    retry: RetryConfig,
) -> Arc<DynamoStore> {
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&env.dynamo_sdk)
            .interceptor(interceptor)
            .retry_config(retry)
            .build(),
    );
    Arc::new(DynamoStore::new(client, "leadrouter"))
}

/// A store without faults, for checking the outcome.
fn clean_store(env: &Env) -> DynamoStore {
    DynamoStore::new(aws_sdk_dynamodb::Client::new(&env.dynamo_sdk), "leadrouter")
}

fn deps(store: Arc<DynamoStore>) -> Deps {
    let cfg = RoutingConfig::parse(CONFIG, Format::Toml, "faults.toml").expect("config");
    Deps {
        engine: Arc::new(Engine::new(store, cfg, Arc::new(SystemClock))),
        config: None,
    }
}

/// Sends `n` leads, each twice; returns their ids.
async fn send_leads(env: &Env, n: usize) -> Vec<Uuid> {
    let leads: Vec<(Uuid, String)> = (0..n).map(common::lead_message).collect();
    let mut bodies: Vec<String> = leads.iter().map(|l| l.1.clone()).collect();
    bodies.extend(leads.iter().map(|l| l.1.clone()));
    for chunk in bodies.chunks(10) {
        env.queue.send_batch(chunk).await.expect("send");
    }
    leads.into_iter().map(|l| l.0).collect()
}

/// Polls (one router, batches of 10) until the queue is empty; returns the failures reported.
async fn drain(env: &Env, deps: &Deps, max_polls: usize) -> usize {
    let mut failed = 0;
    for _ in 0..max_polls {
        if common::depth(&env.sqs, &env.url).await == 0 {
            return failed;
        }
        failed += common::poll(deps, &env.queue, 10, Duration::from_secs(1))
            .await
            .failed
            .len();
    }
    panic!("queue not drained after {max_polls} polls");
}

async fn check_outcome(env: &Env, ids: &[Uuid]) {
    let store = clean_store(env);
    let owned = common::owners(&store, ids).await;
    let reps: Vec<String> = REPS.iter().map(|r| r.to_string()).collect();
    common::counters_match(&store, &reps, &owned).await;
    assert!(owned.get("c").copied().unwrap_or(0) <= 5, "cap: {owned:?}");
    // A write whose response was lost and that was retried or redelivered reserved no second
    // turn: the rotation advanced exactly once per lead.
    let pool = store.get_pool("p").await.expect("pool");
    assert_eq!(pool.turn as usize, ids.len(), "one rotation turn per lead");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_write_responses_sdk_retries_find_the_write_landed() {
    let env = env(5).await;
    // Every 2nd applied write answers 500; the SDK retries it (standard mode), the retried
    // write's condition fails (it is already there), the engine re-reads and finds the leads
    // routed.
    let lose = LoseResponses::new(2, 0);
    let retry = RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(10));
    let deps = deps(faulty_store(&env, lose.clone(), retry));
    let ids = send_leads(&env, 40).await;
    let failed = drain(&env, &deps, 100).await;
    let lost = lose.lost.load(Ordering::SeqCst);
    eprintln!("lost responses: {lost}, message failures reported: {failed}");
    assert!(lost >= 2, "responses must have been lost: {lost}");
    check_outcome(&env, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_write_responses_without_sdk_retries_redelivery_completes() {
    let env = env(10).await;
    // No SDK retries: every 3rd applied write answers 500 and the next 4 requests fail too, so
    // the error reaches the router (and its message-by-message fallback); the messages it
    // reports come back from SQS and find their leads routed.
    let lose = LoseResponses::new(3, 4);
    let deps = deps(faulty_store(&env, lose.clone(), RetryConfig::disabled()));
    let ids = send_leads(&env, 40).await;
    let failed = drain(&env, &deps, 200).await;
    let lost = lose.lost.load(Ordering::SeqCst);
    eprintln!("lost responses: {lost}, message failures reported: {failed}");
    assert!(lost > 0, "responses must have been lost: {lost}");
    assert!(failed > 0, "some messages must have come back through SQS");
    assert_eq!(
        common::depth(&env.sqs, &env.dlq_url).await,
        0,
        "nothing dead-lettered"
    );
    check_outcome(&env, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_messages_alone_fail_and_a_poison_message_is_dead_lettered() {
    const MAX_RECEIVES: u32 = 3;
    let env = env(MAX_RECEIVES).await;
    let throttle = Throttle::default();
    // Retries off: the throttle reaches the router at once, as it does after the SDK's own
    // retries are spent.
    let deps = deps(faulty_store(
        &env,
        throttle.clone(),
        RetryConfig::disabled(),
    ));
    let leads: Vec<(Uuid, String)> = (0..10).map(common::lead_message).collect();
    let bodies: Vec<String> = leads.iter().map(|l| l.1.clone()).collect();
    env.queue.send_batch(&bodies).await.expect("send");
    let (transient, poison) = ([leads[2].0, leads[6].0], leads[8].0);
    {
        let mut budget = throttle.budget.lock().unwrap_or_else(|e| e.into_inner());
        // Two throttled writes each: the batch transaction and the message's own retry.
        budget.extend(transient.iter().map(|id| (*id, 2)));
        budget.insert(poison, usize::MAX);
    }

    // First delivery: one batch of 10; exactly the three throttled messages come back.
    let messages = env
        .queue
        .receive(10, Duration::from_secs(1))
        .await
        .expect("receive");
    assert_eq!(messages.len(), 10, "one batch of 10");
    let response = leadrouter_router::handle(&deps, common::sqs_event(&messages)).await;
    let failed: HashSet<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    let expected: HashSet<&str> = messages
        .iter()
        .filter(|m| {
            [transient[0], transient[1], poison]
                .iter()
                .any(|id| m.body.contains(&id.to_string()))
        })
        .map(|m| m.id.as_str())
        .collect();
    assert_eq!(
        failed, expected,
        "batchItemFailures names exactly the throttled messages"
    );
    for m in &messages {
        if failed.contains(m.id.as_str()) {
            env.queue
                .release(&m.receipt, Duration::ZERO)
                .await
                .expect("release");
        } else {
            env.queue.ack(&m.receipt).await.expect("ack");
        }
    }
    let store = clean_store(&env);
    let routed: Vec<Uuid> = leads
        .iter()
        .map(|l| l.0)
        .filter(|id| !transient.contains(id) && *id != poison)
        .collect();
    common::owners(&store, &routed).await;

    // Redeliveries: the transient ones get through; the poison one fails every time and SQS
    // moves it to the dead-letter queue after MAX_RECEIVES receives.
    drain(&env, &deps, 20).await;
    // Throttled writes: first delivery 1 (the batch) + 3 (each failed message on its own);
    // second 1 + 1 (the batch with the poison message, then it alone); third 1 + 1 (the same).
    // So the poison message was handed to the router exactly MAX_RECEIVES times before SQS
    // moved it.
    assert_eq!(
        throttle.throttled.load(Ordering::SeqCst),
        4 + 2 * (MAX_RECEIVES as usize - 1)
    );
    let all_but_poison: Vec<Uuid> = leads
        .iter()
        .map(|l| l.0)
        .filter(|id| *id != poison)
        .collect();
    common::owners(&store, &all_but_poison).await;
    assert_eq!(
        common::depth(&env.sqs, &env.dlq_url).await,
        1,
        "the poison message is dead-lettered"
    );
    let dlq = SqsQueue::new(env.sqs.clone(), env.dlq_url.clone());
    let dead = dlq
        .receive(10, Duration::from_secs(1))
        .await
        .expect("receive dlq");
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].body.contains(&poison.to_string()),
        "the DLQ holds the poison message"
    );

    // Nothing is lost: once the throttle is gone, a redrive from the DLQ routes it.
    throttle
        .budget
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    env.queue.send(&dead[0].body).await.expect("redrive");
    dlq.ack(&dead[0].receipt).await.expect("delete from dlq");
    drain(&env, &deps, 5).await;
    let ids: Vec<Uuid> = leads.iter().map(|l| l.0).collect();
    let owned = common::owners(&store, &ids).await;
    let reps: Vec<String> = REPS.iter().map(|r| r.to_string()).collect();
    common::counters_match(&store, &reps, &owned).await;
}
