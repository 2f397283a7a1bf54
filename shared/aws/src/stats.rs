//! [`DynamoStatsStore`]: the hourly stats buckets in the same single table as the leads.
//!
//! | item | `pk` | attributes |
//! |---|---|---|
//! | bucket | `STATS#<hour>#<kind>#<value>` | one number per name (`received`, `to_assign:17`, ...), added to with `ADD` |
//! | group index | `STATS#<hour>#<kind>` | `vals`: string set of the values with a bucket that hour |
//! | applied event | `STATSEEN#<event id>` | `expires_at` (TTL, 7 days) |
//!
//! An update is one `TransactWriteItems`: the applied-event put, conditional on the item not
//! existing, with the `ADD`s of the buckets and group indexes; a redelivered event fails the
//! condition and adds nothing. A routing batch's updates share one transaction (up to 100
//! items), their common buckets written once. A read is `BatchGetItem`s of known keys: the group
//! indexes of the range's hours, then their buckets (30 days: 720 index items per kind, 100 per
//! request).
//!
//! A group index only grows, so a store remembers the values it has seen committed to one
//! ([`Known`]) and leaves them out of later transactions: a warm function adds each rep, pool,
//! source and rule to an hour's index once, not with every batch. Each index `ADD` is two write
//! units in a transaction, six of them a batch: this is most of what a batch's stats cost
//! beyond its buckets and applied-event items (docs/benchmarks.md, write units).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem, Update};
use leadrouter_domain::ports::StoreError;
use leadrouter_domain::stats::{Cell, DEDUP_HOURS, GroupBy, StatsStore, StatsUpdate};

use crate::sdk_error;

type Item = HashMap<String, AttributeValue>;

/// Keys per `BatchGetItem` (DynamoDB's limit).
const BATCH: usize = 100;
/// Retries of a transaction cancelled by a concurrent one (not by the applied-event condition).
const TRANSACTION_RETRIES: u32 = 5;
/// Items per `TransactWriteItems` (DynamoDB's limit).
const TRANSACTION_ITEMS: usize = 100;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Unavailable(format!("request build: {e}"))
}

fn index_key(hour: i64, kind: GroupBy) -> String {
    format!("STATS#{hour}#{}", kind.as_str())
}

fn bucket_key(hour: i64, kind: GroupBy, value: &str) -> String {
    format!("STATS#{hour}#{}#{value}", kind.as_str())
}

fn seen_key(event_id: &str) -> String {
    format!("STATSEEN#{event_id}")
}

/// Values of group indexes a store has seen committed (so later transactions leave them out),
/// per hour and kind. Hours more than [`Known::KEEP_HOURS`] behind the newest are forgotten,
/// and so is everything past [`Known::MAX`] values: forgetting only costs a redundant `ADD`.
#[derive(Debug, Default)]
struct Known(BTreeMap<(i64, GroupBy), BTreeSet<String>>);

impl Known {
    /// Hours kept behind the newest one seen (late events of the previous hour are common).
    const KEEP_HOURS: i64 = 1;
    /// Values kept at most (a few hours of every rep, pool, source and rule of a large team).
    const MAX: usize = 20_000;

    fn contains(&self, hour: i64, kind: GroupBy, value: &str) -> bool {
        self.0
            .get(&(hour, kind))
            .is_some_and(|set| set.contains(value))
    }

    fn insert_all(&mut self, values: Vec<(i64, GroupBy, String)>) {
        for (hour, kind, value) in values {
            self.0.entry((hour, kind)).or_default().insert(value);
        }
        // A few hours × six kinds of keys: cheap to walk on every commit.
        if let Some(&(newest, _)) = self.0.keys().next_back() {
            self.0
                .retain(|(hour, _), _| *hour >= newest - Self::KEEP_HOURS);
        }
        if self.0.values().map(BTreeSet::len).sum::<usize>() > Self::MAX {
            self.0.clear();
        }
    }
}

/// The `StatsStore` over one table (the one [`crate::create_table`] or the SAM template makes).
/// Clones share what the store knows of the group indexes.
#[derive(Debug, Clone)]
pub struct DynamoStatsStore {
    client: Client,
    table: String,
    known: Arc<Mutex<Known>>,
}

/// One transaction's items, and the group-index values it adds (known once it commits).
struct Transaction {
    items: Vec<TransactWriteItem>,
    adds: Vec<(i64, GroupBy, String)>,
}

impl DynamoStatsStore {
    /// A stats store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStatsStore {
        DynamoStatsStore {
            client,
            table: table.into(),
            known: Arc::default(),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        // The set stays consistent whatever a panicking holder did (each insert is whole).
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The write items of one transaction applying `updates` (distinct event ids): an
    /// applied-event put per update, conditional on its not existing, one `ADD` per bucket, and
    /// one per group index with values not known to be in it yet, merged across the updates.
    fn transaction(&self, updates: &[&StatsUpdate]) -> Result<Transaction, StoreError> {
        let mut items = Vec::new();
        for update in updates {
            let expires = (update.hour + DEDUP_HOURS + 1) * 3600;
            let seen = Put::builder()
                .table_name(&self.table)
                .item("pk", s(seen_key(&update.event_id)))
                .item("expires_at", AttributeValue::N(expires.to_string()))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().put(seen).build());
        }
        let mut buckets: BTreeMap<(i64, GroupBy, &str), BTreeMap<&str, u64>> = BTreeMap::new();
        for update in updates {
            for c in &update.cells {
                *buckets
                    .entry((update.hour, c.kind, c.value.as_str()))
                    .or_default()
                    .entry(c.name.as_str())
                    .or_default() += c.n;
            }
        }
        let mut values: BTreeMap<(i64, GroupBy), BTreeSet<&str>> = BTreeMap::new();
        let known = self.known();
        for ((hour, kind, value), names) in &buckets {
            if !known.contains(*hour, *kind, value) {
                values.entry((*hour, *kind)).or_default().insert(value);
            }
            let mut expr = Vec::new();
            let mut b = Update::builder()
                .table_name(&self.table)
                .key("pk", s(bucket_key(*hour, *kind, value)));
            for (i, (name, n)) in names.iter().enumerate() {
                expr.push(format!("#n{i} :v{i}"));
                b = b
                    .expression_attribute_names(format!("#n{i}"), *name)
                    .expression_attribute_values(
                        format!(":v{i}"),
                        AttributeValue::N(n.to_string()),
                    );
            }
            let b = b
                .update_expression(format!("ADD {}", expr.join(", ")))
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().update(b).build());
        }
        drop(known);
        let mut adds = Vec::new();
        for ((hour, kind), vals) in values {
            adds.extend(vals.iter().map(|v| (hour, kind, (*v).to_owned())));
            // A string set cannot hold "" (the `all` group): store values with a prefix.
            let set: Vec<String> = vals.iter().map(|v| format!("={v}")).collect();
            let b = Update::builder()
                .table_name(&self.table)
                .key("pk", s(index_key(hour, kind)))
                .update_expression("ADD vals :vals")
                .expression_attribute_values(":vals", AttributeValue::Ss(set))
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().update(b).build());
        }
        Ok(Transaction { items, adds })
    }

    /// How many of `updates` (at least one) fit in one transaction of at most
    /// [`TRANSACTION_ITEMS`] items.
    fn fitting(updates: &[&StatsUpdate]) -> usize {
        let mut keys: BTreeSet<(i64, GroupBy, &str)> = BTreeSet::new();
        let mut indexes: BTreeSet<(i64, GroupBy)> = BTreeSet::new();
        for (n, update) in updates.iter().enumerate() {
            for c in &update.cells {
                keys.insert((update.hour, c.kind, c.value.as_str()));
                indexes.insert((update.hour, c.kind));
            }
            if n > 0 && n + 1 + keys.len() + indexes.len() > TRANSACTION_ITEMS {
                return n;
            }
        }
        updates.len()
    }

    /// Sends one transaction; `Ok(false)` when DynamoDB cancelled it (an applied-event
    /// condition failed, or a concurrent transaction touched one of its items).
    async fn send(&self, t: Transaction) -> Result<bool, StoreError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(t.items))
            .send()
            .await
        {
            Ok(_) => {
                self.known().insert_all(t.adds);
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(TransactWriteItemsError::TransactionCanceledException(_))
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error("TransactWriteItems", e)),
        }
    }

    async fn seen(&self, event_id: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(seen_key(event_id)))
            .consistent_read(true)
            .projection_expression("pk")
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        Ok(out.item.is_some())
    }

    /// The items with keys `keys` (absent ones left out), 100 keys per request, unprocessed
    /// keys asked again.
    async fn batch_get(&self, keys: Vec<String>) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        for chunk in keys.chunks(BATCH) {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(
                    chunk
                        .iter()
                        .map(|k| HashMap::from([("pk".to_owned(), s(k.clone()))]))
                        .collect(),
                ))
                .consistent_read(true)
                .build()
                .map_err(build_error)?;
            out.extend(crate::batch_get_items(&self.client, &self.table, request).await?);
        }
        Ok(out)
    }
}

fn corrupt(key: &str, reason: &str) -> StoreError {
    StoreError::Corrupt {
        key: key.to_owned(),
        reason: reason.to_owned(),
    }
}

#[async_trait]
impl StatsStore for DynamoStatsStore {
    async fn record(&self, update: &StatsUpdate) -> Result<bool, StoreError> {
        for _ in 0..=TRANSACTION_RETRIES {
            if self.send(self.transaction(&[update])?).await? {
                return Ok(true);
            }
            if self.seen(&update.event_id).await? {
                return Ok(false);
            }
            // Cancelled by a concurrent transaction on a shared bucket: again.
        }
        Err(StoreError::Throttled(
            "TransactWriteItems: stats update kept conflicting".into(),
        ))
    }

    /// One transaction per ~7 updates of a routing batch instead of one each: the buckets they
    /// share (the hour's `all`, the pool, the rule) are written once. If DynamoDB cancels it (an
    /// event was applied before, as after a redelivery, or a concurrent transaction), that
    /// chunk falls back to [`StatsStore::record`] one by one, which tells the two apart.
    async fn record_all(&self, updates: &[StatsUpdate]) -> Result<usize, StoreError> {
        let mut ids = BTreeSet::new();
        let unique: Vec<&StatsUpdate> = updates
            .iter()
            .filter(|u| ids.insert(u.event_id.as_str()))
            .collect();
        let mut applied = 0;
        let mut rest = &unique[..];
        while !rest.is_empty() {
            let n = Self::fitting(rest);
            let (chunk, tail) = rest.split_at(n);
            if self.send(self.transaction(chunk)?).await? {
                applied += chunk.len();
            } else {
                for u in chunk {
                    applied += usize::from(self.record(u).await?);
                }
            }
            rest = tail;
        }
        Ok(applied)
    }

    async fn read(
        &self,
        from_hour: i64,
        to_hour: i64,
        kinds: &[GroupBy],
    ) -> Result<Vec<Cell>, StoreError> {
        let mut index_keys = Vec::new();
        for hour in from_hour..to_hour.max(from_hour) {
            for kind in kinds {
                index_keys.push(index_key(hour, *kind));
            }
        }
        let mut bucket_keys = Vec::new();
        for item in self.batch_get(index_keys).await? {
            let pk = item.get("pk").and_then(|v| v.as_s().ok()).cloned();
            let pk = pk.ok_or_else(|| corrupt("stats index", "missing pk"))?;
            let vals = item
                .get("vals")
                .and_then(|v| v.as_ss().ok())
                .ok_or_else(|| corrupt(&pk, "missing `vals`"))?;
            for v in vals {
                let value = v.strip_prefix('=').unwrap_or(v);
                bucket_keys.push(format!("{pk}#{value}"));
            }
        }
        let mut sums: BTreeMap<(GroupBy, String, String), u64> = BTreeMap::new();
        for item in self.batch_get(bucket_keys).await? {
            let pk = item
                .get("pk")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .ok_or_else(|| corrupt("stats bucket", "missing pk"))?;
            // STATS#<hour>#<kind>#<value>: the value may itself hold '#'.
            let mut parts = pk.splitn(4, '#');
            let (_, _, kind, value) = (parts.next(), parts.next(), parts.next(), parts.next());
            let kind = kind
                .and_then(GroupBy::parse)
                .ok_or_else(|| corrupt(&pk, "unknown group kind"))?;
            let value = value.unwrap_or_default().to_owned();
            for (name, v) in &item {
                if name == "pk" {
                    continue;
                }
                let n: u64 = v
                    .as_n()
                    .ok()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| corrupt(&pk, "non-numeric counter"))?;
                *sums.entry((kind, value.clone(), name.clone())).or_default() += n;
            }
        }
        Ok(sums
            .into_iter()
            .map(|((kind, value, name), n)| Cell {
                kind,
                value,
                name,
                n,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> DynamoStatsStore {
        // Never sends: only builds transactions.
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
            .build();
        DynamoStatsStore::new(Client::from_conf(config), "t")
    }

    fn update(id: &str, hour: i64, reps: &[&str]) -> StatsUpdate {
        let mut cells = vec![Cell {
            kind: GroupBy::All,
            value: String::new(),
            name: "routed".into(),
            n: 1,
        }];
        cells.extend(reps.iter().map(|r| Cell {
            kind: GroupBy::Rep,
            value: (*r).into(),
            name: "routed".into(),
            n: 1,
        }));
        StatsUpdate {
            event_id: id.into(),
            hour,
            cells,
        }
    }

    /// The group-index `ADD`s of a transaction: (key, values) in item order.
    fn index_adds(t: &Transaction) -> Vec<(String, Vec<String>)> {
        t.items
            .iter()
            .filter_map(|i| i.update())
            .filter(|u| u.update_expression() == "ADD vals :vals")
            .map(|u| {
                let key = u.key()["pk"].as_s().cloned().unwrap_or_default();
                let vals = u
                    .expression_attribute_values()
                    .and_then(|v| v[":vals"].as_ss().ok());
                (key, vals.cloned().unwrap_or_default())
            })
            .collect()
    }

    #[test]
    fn committed_index_values_are_left_out_of_later_transactions() {
        let store = store();
        let first = store
            .transaction(&[&update("a:1", 10, &["ana"])])
            .expect("builds");
        assert_eq!(
            index_adds(&first),
            [
                ("STATS#10#all".to_owned(), vec!["=".to_owned()]),
                ("STATS#10#rep".to_owned(), vec!["=ana".to_owned()]),
            ]
        );
        // Not sent yet: the next transaction still adds everything.
        let again = store
            .transaction(&[&update("a:2", 10, &["ana"])])
            .expect("builds");
        assert_eq!(index_adds(&again).len(), 2);
        // Committed: only a new value (and the new hour) is added.
        store.known().insert_all(first.adds);
        let later = store
            .transaction(&[
                &update("a:3", 10, &["ana", "ben"]),
                &update("a:4", 11, &["ana"]),
            ])
            .expect("builds");
        assert_eq!(
            index_adds(&later),
            [
                ("STATS#10#rep".to_owned(), vec!["=ben".to_owned()]),
                ("STATS#11#all".to_owned(), vec!["=".to_owned()]),
                ("STATS#11#rep".to_owned(), vec!["=ana".to_owned()]),
            ]
        );
        // The buckets and applied-event items are all still there: 2 puts, 5 bucket updates
        // (hour 10: all, ana, ben; hour 11: all, ana).
        let puts = later.items.iter().filter(|i| i.put().is_some()).count();
        assert_eq!((puts, later.items.len()), (2, 2 + 5 + 3));
        // A clone shares what is known.
        let clone = store.clone();
        assert!(clone.known().contains(10, GroupBy::Rep, "ana"));
    }

    #[test]
    fn known_forgets_old_hours_and_bounds_its_size() {
        let mut known = Known::default();
        known.insert_all(vec![(10, GroupBy::Rep, "ana".into())]);
        known.insert_all(vec![(11, GroupBy::Rep, "ana".into())]);
        assert!(known.contains(10, GroupBy::Rep, "ana"));
        known.insert_all(vec![(12, GroupBy::Pool, "p".into())]);
        assert!(!known.contains(10, GroupBy::Rep, "ana"));
        assert!(known.contains(11, GroupBy::Rep, "ana") && known.contains(12, GroupBy::Pool, "p"));
        known.insert_all(
            (0..=Known::MAX)
                .map(|i| (12, GroupBy::Source, format!("s{i}")))
                .collect(),
        );
        assert!(known.0.is_empty());
    }
}
