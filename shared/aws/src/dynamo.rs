//! [`DynamoStore`]: leads, rep states, pool rotations and the sticky index in one DynamoDB table.
//!
//! Every item is keyed by `pk` alone (`LEAD#<id>`, `REP#<id>`, `POOL#<id>`, `CONTACT#<key>`) and
//! holds its record as JSON in `body` (leads: deflated JSON in `bz`) with its version in `v`;
//! lead items also carry the attributes their listing indexes need. Writes are conditional on `v` (or on the item not
//! existing), so a lost race is a failed condition, reported as [`CommitOutcome::Conflict`].
//! No operation scans the table.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, Projection, ProjectionType, Put,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TimeToLiveSpecification,
    TransactWriteItem,
};
use chrono::{DateTime, Utc};
use leadrouter_domain::ports::{
    Commit, CommitOutcome, EmailOwner, Inserted, LeadPage, LeadQuery, LeadStore, RoutingStore,
    Stale, StoreError,
};
use leadrouter_domain::record::{LeadRecord, LeadStatus, PoolId, RepId};
use leadrouter_domain::state::{PoolState, RepState};
use tracing::instrument;
use uuid::Uuid;

use crate::sdk_error;

type Item = HashMap<String, AttributeValue>;

/// Largest page `list_leads` returns.
pub const MAX_PAGE: usize = 500;
/// Deflate level of lead bodies: 6 (zlib's default) gains a few percent over 1 at ~2× the time;
/// both are tens of microseconds for a lead, small beside a write's round trip.
const DEFLATE_LEVEL: u8 = 6;
/// Largest lead body (JSON) written, and so the most a stored one is inflated to when read.
/// Deflate can shrink repetitive JSON (a decision listing thousands of candidates) a
/// thousandfold, so a body this size may still fit DynamoDB's 400 KB item; the bound is
/// checked on write, so that no item is written that reads would refuse.
const MAX_INFLATED: usize = 4 * 1024 * 1024;
/// Sticky-index entries expire (DynamoDB TTL) this long after their lead was assigned.
const CONTACT_TTL_DAYS: i64 = 400;

/// Index name, its partition attribute, its sort attribute. Each projects only the keys and
/// [`FILTER_ATTRIBUTES`]: an index entry is then well under 1 KB (one write unit), where a copy
/// of the whole lead cost two or three per index; queries read the leads from the table.
///
/// There is no index of all leads: every lead is in `by_status` under exactly one status, so
/// the unfiltered listing merges the status partitions ([`DynamoStore::list_all`]). An index
/// entry is a write unit on every write of the lead, so a fifth index of all leads would cost
/// each lead one more unit when routed and at each later change of status, owner or pool.
const INDEXES: &[(&str, &str, &str)] = &[
    ("by_status", "st_pk", "all_sk"),
    ("by_owner", "ow_pk", "all_sk"),
    ("by_pool", "po_pk", "all_sk"),
    ("waiting", "wt_pk", "wt_sk"),
    ("unassigned", "un_pk", "po"),
    ("due", "due_shard", "due_at"),
];

/// The attributes `list_leads`'s filter expressions read, projected into every index.
const FILTER_ATTRIBUTES: [&str; 3] = ["st", "ow", "po"];

/// The store over one table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store over `table` (created beforehand: [`create_table`], or the SAM template).
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    /// A store over `table` with the SDK's usual configuration (credentials, region,
    /// `AWS_ENDPOINT_URL`): what the admin CLI (`leadrouter doctor --table`) uses.
    pub async fn from_env(table: impl Into<String>) -> DynamoStore {
        let sdk = crate::sdk::from_env().await;
        DynamoStore::new(Client::new(&sdk), table)
    }
}

/// Creates the table with its indexes and TTL, on-demand billing.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let string_attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(build_error)
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(build_error)
    };
    let mut attrs = vec![string_attr("pk")?];
    let mut indexes = Vec::new();
    for (name, hash, range) in INDEXES {
        for a in [hash, range] {
            if !attrs
                .iter()
                .any(|d: &AttributeDefinition| d.attribute_name() == *a)
            {
                attrs.push(string_attr(a)?);
            }
        }
        indexes.push(
            GlobalSecondaryIndex::builder()
                .index_name(*name)
                .key_schema(key(hash, KeyType::Hash)?)
                .key_schema(key(range, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::Include)
                        .set_non_key_attributes(Some(
                            FILTER_ATTRIBUTES
                                .iter()
                                .filter(|a| **a != *hash && **a != *range)
                                .map(|a| (*a).to_owned())
                                .collect(),
                        ))
                        .build(),
                )
                .build()
                .map_err(build_error)?,
        );
    }
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attrs))
        .key_schema(key("pk", KeyType::Hash)?)
        .set_global_secondary_indexes(Some(indexes))
        .send()
        .await
        .map_err(|e| sdk_error("CreateTable", e))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()
                .map_err(build_error)?,
        )
        .send()
        .await
        .map_err(|e| sdk_error("UpdateTimeToLive", e))?;
    Ok(())
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Unavailable(format!("request build: {e}"))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn lead_key(id: Uuid) -> String {
    format!("LEAD#{id}")
}

/// Fixed-width, so that string order is time order.
fn time_key(t: DateTime<Utc>) -> String {
    format!("{:020}", t.timestamp_micros().max(0))
}

/// Waiting order: highest score first, no score last, then oldest first.
fn waiting_key(rec: &LeadRecord) -> String {
    let score = match rec.lead.score {
        Some(s) if s.is_finite() => format!("0{:020}", (1e12 - s.clamp(-1e11, 1e11)) as i64 as u64),
        _ => "1".to_owned(),
    };
    format!("{score}#{}#{}", time_key(rec.lead.received_at), rec.lead.id)
}

fn body<T: serde::Serialize>(key: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt {
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

fn lead_item(rec: &LeadRecord, version: u64) -> Result<Item, StoreError> {
    let mut rec = rec.clone();
    rec.version = version;
    let pk = lead_key(rec.lead.id);
    let all_sk = format!("{}#{}", time_key(rec.lead.received_at), rec.lead.id);
    let mut item = Item::new();
    // Deflated: a lead's JSON shrinks to about half, which keeps the item under the 1 KB of one
    // write unit (two in a transaction) where the plain text took two (four).
    item.insert("bz".into(), deflated(&pk, "lead record", &rec)?);
    item.insert("v".into(), AttributeValue::N(version.to_string()));
    item.insert("all_sk".into(), s(all_sk));
    item.insert("st".into(), s(rec.status.as_str()));
    item.insert("st_pk".into(), s(format!("STATUS#{}", rec.status.as_str())));
    if let Some(owner) = &rec.owner {
        item.insert("ow".into(), s(owner.clone()));
        item.insert("ow_pk".into(), s(format!("OWNER#{owner}")));
    }
    if let Some(pool) = &rec.pool {
        item.insert("po".into(), s(pool.clone()));
        item.insert("po_pk".into(), s(format!("POOL#{pool}")));
        // Sparse indexes: present only while the lead waits.
        if matches!(
            rec.status,
            LeadStatus::Unassigned | LeadStatus::AwaitingClaim
        ) {
            item.insert(
                "wt_pk".into(),
                s(format!("WAIT#{pool}#{}", rec.status.as_str())),
            );
            item.insert("wt_sk".into(), s(waiting_key(&rec)));
        }
        if rec.status == LeadStatus::Unassigned {
            item.insert("un_pk".into(), s("UNASSIGNED"));
        }
    }
    if let Some(due) = &rec.due {
        // Sparse: only leads with a running SLA deadline are in the `due` index.
        item.insert("due_shard".into(), s("DUE"));
        item.insert(
            "due_at".into(),
            s(format!("{}#{}", time_key(due.at), rec.lead.id)),
        );
    }
    item.insert("pk".into(), s(pk));
    Ok(item)
}

fn versioned_item<T: serde::Serialize>(
    pk: String,
    value: &T,
    version: u64,
) -> Result<Item, StoreError> {
    let mut item = Item::new();
    item.insert("body".into(), s(body(&pk, value)?));
    item.insert("v".into(), AttributeValue::N(version.to_string()));
    item.insert("pk".into(), s(pk));
    Ok(item)
}

/// A pool's rotation item, its JSON deflated into `bz` as a lead's is. The rotation holds a
/// turn for every member (about 40-60 bytes of JSON each), and it is written whole, in the
/// batch's transaction, once per pool per batch: as text, a pool of 200 took 9 write units (18
/// in the transaction), 1.8 a lead at batch 10; deflated (about an eighth) it takes 2 (4). A
/// pool of thousands also stays far below the 400 KB item limit. Reads take either form
/// ([`read_body`]), so rotations written as text before this are read as they are.
fn rotation_item(state: &PoolState) -> Result<Item, StoreError> {
    let pk = format!("POOL#{}", state.pool);
    let mut item = Item::new();
    item.insert("bz".into(), deflated(&pk, "pool rotation", state)?);
    item.insert("v".into(), AttributeValue::N(state.version.to_string()));
    item.insert("pk".into(), s(pk));
    Ok(item)
}

/// `value`'s JSON, deflated, for the `bz` attribute of item `pk` (a `what`). Refused over
/// [`MAX_INFLATED`], the most [`read_body`] inflates.
fn deflated<T: serde::Serialize>(
    pk: &str,
    what: &'static str,
    value: &T,
) -> Result<AttributeValue, StoreError> {
    let json = body(pk, value)?;
    if json.len() > MAX_INFLATED {
        return Err(StoreError::InvalidArgument {
            what,
            reason: format!(
                "{pk} is {} bytes as JSON, over the {MAX_INFLATED} an item may hold",
                json.len()
            ),
        });
    }
    Ok(AttributeValue::B(Blob::new(
        miniz_oxide::deflate::compress_to_vec(json.as_bytes(), DEFLATE_LEVEL),
    )))
}

/// The record in `item`: deflated JSON in `bz` (leads, rotations), or JSON text in `body`.
fn read_body<T: serde::de::DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    let key = item
        .get("pk")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    let corrupt = |reason: String| StoreError::Corrupt {
        key: key.clone(),
        reason,
    };
    if let Some(packed) = item.get("bz").and_then(|v| v.as_b().ok()) {
        // Bounded as on write (`lead_item`): corrupt data cannot make a read allocate more.
        let json =
            miniz_oxide::inflate::decompress_to_vec_with_limit(packed.as_ref(), MAX_INFLATED)
                .map_err(|e| corrupt(format!("inflate: {e}")))?;
        return serde_json::from_slice(&json).map_err(|e| corrupt(e.to_string()));
    }
    let text = item
        .get("body")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| corrupt("no body".into()))?;
    serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))
}

fn read_version(item: &Item) -> u64 {
    item.get("v")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn read_lead(item: &Item) -> Result<LeadRecord, StoreError> {
    let mut rec: LeadRecord = read_body(item)?;
    rec.version = read_version(item);
    Ok(rec)
}

/// One conditional put of a commit, and the item it stands for if its condition fails.
struct Write {
    item: Item,
    expected: u64,
    stale: Stale,
}

impl Write {
    fn put(&self, table: &str) -> Result<Put, StoreError> {
        let mut put = Put::builder()
            .table_name(table)
            .set_item(Some(self.item.clone()));
        match self.expected {
            0 => put = put.condition_expression("attribute_not_exists(pk)"),
            v => {
                put = put
                    .condition_expression("v = :expected")
                    .expression_attribute_values(":expected", AttributeValue::N(v.to_string()))
            }
        }
        put.build().map_err(build_error)
    }
}

fn commit_writes(commit: &Commit) -> Result<Vec<Write>, StoreError> {
    let mut writes = Vec::with_capacity(commit.len());
    for l in &commit.leads {
        writes.push(Write {
            item: lead_item(&l.item, l.expected_version + 1)?,
            expected: l.expected_version,
            stale: Stale::Lead(l.item.lead.id),
        });
    }
    for r in &commit.reps {
        let mut state = r.item.clone();
        state.version = r.expected_version + 1;
        writes.push(Write {
            item: versioned_item(format!("REP#{}", state.rep), &state, state.version)?,
            expected: r.expected_version,
            stale: Stale::Rep(state.rep.clone()),
        });
    }
    for p in &commit.pools {
        let mut state = p.item.clone();
        state.version = p.expected_version + 1;
        writes.push(Write {
            item: rotation_item(&state)?,
            expected: p.expected_version,
            stale: Stale::Pool(state.pool.clone()),
        });
    }
    Ok(writes)
}

/// The commit's sticky-index entries (contact → owner), each with its assignment time in µs
/// (also stored as `at`, for the newest-wins condition of [`put_sticky`]).
fn sticky_items(commit: &Commit) -> Result<Vec<(Item, i64)>, StoreError> {
    let mut items = Vec::with_capacity(commit.email_owners.len());
    for o in &commit.email_owners {
        let mut item = versioned_item(format!("CONTACT#{}", o.email), o, 1)?;
        let expires = o.at.timestamp() + CONTACT_TTL_DAYS * 86_400;
        item.insert("expires_at".into(), AttributeValue::N(expires.to_string()));
        let at = o.at.timestamp_micros();
        item.insert("at".into(), AttributeValue::N(at.to_string()));
        items.push((item, at));
    }
    Ok(items)
}

impl DynamoStore {
    async fn get(&self, pk: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        Ok(out.item)
    }

    /// The items with these partition keys (strongly consistent), by key: `BatchGetItem` of at
    /// most 100 distinct keys a call (DynamoDB refuses repeats in one request), unprocessed
    /// keys retried with backoff, a bounded number of times.
    async fn batch_get(&self, pks: &[String]) -> Result<HashMap<String, Item>, StoreError> {
        let mut found: HashMap<String, Item> = HashMap::new();
        let mut unique: Vec<&String> = pks.iter().collect();
        unique.sort_unstable();
        unique.dedup();
        for chunk in unique.chunks(100) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|pk| Item::from([("pk".to_owned(), s((*pk).clone()))]))
                .collect();
            let request = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(build_error)?;
            for item in crate::batch_get_items(&self.client, &self.table, request).await? {
                if let Some(pk) = item.get("pk").and_then(|v| v.as_s().ok()) {
                    found.insert(pk.clone(), item);
                }
            }
        }
        Ok(found)
    }

    /// Every lead, newest first: the newest `limit` leads below the cursor are among the newest
    /// `limit` of each status's `by_status` partition, which are queried side by side and
    /// merged. `all_sk` is unique and time-ordered, so one cursor (the last returned lead's
    /// `all_sk`) serves every partition. A page costs one `Query` per status (each reads only
    /// index keys, ~150 bytes an entry) and one `BatchGetItem` of the page's leads.
    async fn list_all(&self, limit: usize, start: Option<Item>) -> Result<LeadPage, StoreError> {
        let below = match &start {
            None => None,
            Some(key) => Some(
                key.get("all_sk")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .ok_or_else(|| StoreError::InvalidArgument {
                        what: "cursor",
                        reason: "not a cursor of the unfiltered listing".into(),
                    })?,
            ),
        };
        let mut queries = tokio::task::JoinSet::new();
        for status in LeadStatus::ALL {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("by_status")
                .key_condition_expression(if below.is_some() {
                    "st_pk = :k AND all_sk < :below"
                } else {
                    "st_pk = :k"
                })
                .expression_attribute_values(":k", s(format!("STATUS#{}", status.as_str())))
                .scan_index_forward(false)
                .limit(i32::try_from(limit).unwrap_or(i32::MAX));
            if let Some(below) = &below {
                q = q.expression_attribute_values(":below", s(below.clone()));
            }
            queries.spawn(async move { (status, q.send().await) });
        }
        // (all_sk, the status it is listed under, the index entry)
        let mut entries: Vec<(String, LeadStatus, Item)> = Vec::new();
        let mut cut = false;
        while let Some(joined) = queries.join_next().await {
            let (status, page) = joined.map_err(|e| StoreError::Unavailable(e.to_string()))?;
            let page = page.map_err(|e| sdk_error("Query", e))?;
            cut |= page.last_evaluated_key.is_some();
            for item in page.items.unwrap_or_default() {
                if let Some(sk) = item.get("all_sk").and_then(|v| v.as_s().ok()) {
                    entries.push((sk.clone(), status, item));
                }
            }
        }
        entries.sort_unstable_by(|a, b| b.0.cmp(&a.0));
        let more = cut || entries.len() > limit;
        entries.truncate(limit);
        let pk_of = |item: &Item| item.get("pk").and_then(|v| v.as_s().ok()).cloned();
        let pks: Vec<String> = entries.iter().filter_map(|(_, _, i)| pk_of(i)).collect();
        let found = self.batch_get(&pks).await?;
        let mut leads = Vec::with_capacity(entries.len());
        for (_, status, item) in &entries {
            if let Some(current) = pk_of(item).and_then(|pk| found.get(&pk)) {
                let rec = read_lead(current)?;
                // The index is eventually consistent: a lead whose status changed since is
                // listed under its current status only.
                if rec.status == *status {
                    leads.push(rec);
                }
            }
        }
        let next = entries.last().filter(|_| more).map(|(sk, _, item)| {
            let mut key = Item::new();
            if let Some(pk) = pk_of(item) {
                key.insert("pk".to_owned(), s(pk));
            }
            key.insert("all_sk".to_owned(), s(sk.clone()));
            encode_cursor(&key)
        });
        Ok(LeadPage { leads, next })
    }

    async fn query_leads(
        &self,
        q: IndexQuery<'_>,
        limit: usize,
        mut start: Option<Item>,
    ) -> Result<(Vec<LeadRecord>, Option<Item>), StoreError> {
        let IndexQuery {
            index,
            key_attr,
            key,
            forward,
            filter,
            until,
            keep,
        } = q;
        let range_attr = INDEXES
            .iter()
            .find(|(n, _, _)| *n == index)
            .map(|(_, _, r)| *r)
            .unwrap_or("all_sk");
        let mut out = Vec::new();
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression(if until.is_some() {
                    "#k = :k AND #r <= :r"
                } else {
                    "#k = :k"
                })
                .expression_attribute_names("#k", key_attr)
                .expression_attribute_values(":k", s(key.clone()))
                .scan_index_forward(forward)
                .limit(i32::try_from((limit - out.len()).max(1)).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take());
            if let Some(until) = &until {
                q = q
                    .expression_attribute_names("#r", range_attr)
                    .expression_attribute_values(":r", s(until.clone()));
            }
            if let Some((expr, values)) = &filter {
                q = q.filter_expression(*expr);
                for (name, value) in values {
                    q = q.expression_attribute_values(*name, s(value.clone()));
                }
            }
            let page = q.send().await.map_err(|e| sdk_error("Query", e))?;
            let items = page.items.unwrap_or_default();
            let last = page.last_evaluated_key;
            // The indexes hold keys (and the few attributes filters need), not the lead: the
            // leads are read from the table, strongly consistent, in one `BatchGetItem`. A lead
            // that changed since the (eventually consistent) index saw it is checked again and
            // skipped if it no longer belongs.
            let pks: Vec<String> = items
                .iter()
                .filter_map(|i| i.get("pk").and_then(|v| v.as_s().ok()).cloned())
                .collect();
            let found = self.batch_get(&pks).await?;
            for (i, item) in items.iter().enumerate() {
                let current = item
                    .get("pk")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|pk| found.get(pk));
                if let Some(current) = current {
                    let rec = read_lead(current)?;
                    if keep(&rec) {
                        out.push(rec);
                    }
                }
                if out.len() == limit {
                    // The cursor is the last returned item's key, not DynamoDB's last evaluated
                    // key, so that nothing between them is skipped.
                    let more = i + 1 < items.len() || last.is_some();
                    let cursor = more.then(|| {
                        ["pk", key_attr, range_attr]
                            .iter()
                            .filter_map(|a| item.get(*a).map(|v| (a.to_string(), v.clone())))
                            .collect::<Item>()
                    });
                    return Ok((out, cursor));
                }
            }
            match last {
                Some(k) => start = Some(k),
                None => return Ok((out, None)),
            }
        }
    }
}

/// A query on one index: the partition key value, the direction, and an optional filter
/// expression with its values.
struct IndexQuery<'a> {
    index: &'a str,
    key_attr: &'a str,
    key: String,
    forward: bool,
    filter: Option<(&'a str, Vec<(&'a str, String)>)>,
    /// Only items whose sort key is at most this.
    until: Option<String>,
    /// Whether a lead read from the table still belongs in the answer.
    keep: &'a (dyn Fn(&LeadRecord) -> bool + Send + Sync),
}

fn encode_cursor(key: &Item) -> String {
    let map: serde_json::Map<String, serde_json::Value> = key
        .iter()
        .filter_map(|(k, v)| {
            v.as_s()
                .ok()
                .map(|s| (k.clone(), serde_json::Value::String(s.clone())))
        })
        .collect();
    serde_json::Value::Object(map)
        .to_string()
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_cursor(cursor: &str) -> Result<Item, StoreError> {
    let bad = || StoreError::InvalidArgument {
        what: "cursor",
        reason: "not a cursor returned by this store".into(),
    };
    if !cursor.len().is_multiple_of(2) || cursor.len() > 4096 {
        return Err(bad());
    }
    let bytes: Option<Vec<u8>> = (0..cursor.len())
        .step_by(2)
        .map(|i| {
            cursor
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    let map: serde_json::Map<String, serde_json::Value> = bytes
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(bad)?;
    if !map.contains_key("pk") {
        return Err(bad());
    }
    map.into_iter()
        .map(|(k, v)| {
            v.as_str()
                .map(|s| (k, AttributeValue::S(s.to_owned())))
                .ok_or_else(bad)
        })
        .collect()
}

#[async_trait]
impl LeadStore for DynamoStore {
    #[instrument(skip_all, err)]
    async fn insert_lead(&self, rec: &LeadRecord) -> Result<Inserted, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(lead_item(rec, 1)?))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Inserted::New),
            Err(e) => match e.into_service_error() {
                PutItemError::ConditionalCheckFailedException(c) => {
                    let existing = match c.item {
                        Some(item) => read_lead(&item)?,
                        // Not every implementation returns the old item; read it.
                        None => match self.get(lead_key(rec.lead.id)).await? {
                            Some(item) => read_lead(&item)?,
                            None => {
                                return Err(StoreError::Unavailable(
                                    "PutItem: condition failed on a missing item".into(),
                                ));
                            }
                        },
                    };
                    Ok(Inserted::Existing(Box::new(existing)))
                }
                other => Err(sdk_error(
                    "PutItem",
                    aws_sdk_dynamodb::error::SdkError::<PutItemError, ()>::service_error(other, ()),
                )),
            },
        }
    }

    #[instrument(skip(self), err)]
    async fn get_lead(&self, id: Uuid) -> Result<Option<LeadRecord>, StoreError> {
        self.get(lead_key(id))
            .await?
            .map(|item| read_lead(&item))
            .transpose()
    }

    /// One `BatchGetItem` per 100 distinct leads.
    #[instrument(skip_all, fields(leads = ids.len()), err)]
    async fn get_leads(&self, ids: &[Uuid]) -> Result<Vec<Option<LeadRecord>>, StoreError> {
        let keys: Vec<String> = ids.iter().map(|id| lead_key(*id)).collect();
        let found = self.batch_get(&keys).await?;
        keys.iter()
            .map(|key| found.get(key).map(read_lead).transpose())
            .collect()
    }

    #[instrument(skip_all, fields(status = ?query.status, limit = query.limit), err)]
    async fn list_leads(&self, query: &LeadQuery) -> Result<LeadPage, StoreError> {
        let limit = match query.limit {
            0 => MAX_PAGE,
            n => n.min(MAX_PAGE),
        };
        let start = query.cursor.as_deref().map(decode_cursor).transpose()?;
        // The most selective index for the first filter; the others become a filter expression.
        let mut filters: Vec<(&str, &str, String)> = Vec::new();
        if let Some(st) = query.status {
            filters.push(("st", ":st", st.as_str().to_owned()));
        }
        if let Some(ow) = &query.owner {
            filters.push(("ow", ":ow", ow.clone()));
        }
        if let Some(po) = &query.pool {
            filters.push(("po", ":po", po.clone()));
        }
        let (index, key_attr, key) = match (&query.owner, &query.pool, query.status) {
            (Some(ow), _, _) => ("by_owner", "ow_pk", format!("OWNER#{ow}")),
            (None, Some(po), _) => ("by_pool", "po_pk", format!("POOL#{po}")),
            (None, None, Some(st)) => ("by_status", "st_pk", format!("STATUS#{}", st.as_str())),
            (None, None, None) => return self.list_all(limit, start).await,
        };
        // The index already selects on one filter; repeating it in the filter expression is
        // harmless and keeps the expression simple.
        let expr = filters
            .iter()
            .map(|(a, p, _)| format!("{a} = {p}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let values: Vec<(&str, String)> = filters.iter().map(|(_, p, v)| (*p, v.clone())).collect();
        let filter = (!expr.is_empty()).then_some((expr.as_str(), values));
        let keep = |rec: &LeadRecord| {
            query.status.is_none_or(|st| rec.status == st)
                && query
                    .owner
                    .as_ref()
                    .is_none_or(|o| rec.owner.as_ref() == Some(o))
                && query
                    .pool
                    .as_ref()
                    .is_none_or(|p| rec.pool.as_ref() == Some(p))
        };
        let q = IndexQuery {
            index,
            key_attr,
            key,
            forward: false,
            filter,
            until: None,
            keep: &keep,
        };
        let (leads, next) = self.query_leads(q, limit, start).await?;
        Ok(LeadPage {
            leads,
            next: next.as_ref().map(encode_cursor),
        })
    }

    #[instrument(skip(self), err)]
    async fn list_waiting(
        &self,
        pool: &str,
        status: LeadStatus,
        limit: usize,
    ) -> Result<Vec<LeadRecord>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let key = format!("WAIT#{pool}#{}", status.as_str());
        let keep = |rec: &LeadRecord| rec.status == status && rec.pool.as_deref() == Some(pool);
        let q = IndexQuery {
            index: "waiting",
            key_attr: "wt_pk",
            key,
            forward: true,
            filter: None,
            until: None,
            keep: &keep,
        };
        Ok(self.query_leads(q, limit, None).await?.0)
    }

    #[instrument(skip(self), err)]
    async fn list_due(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<LeadRecord>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        // `~` sorts after `#` and every digit: all keys of instants up to `before` inclusive.
        let upto = format!("{}~", time_key(before));
        let keep = |rec: &LeadRecord| rec.due.as_ref().is_some_and(|d| d.at <= before);
        let q = IndexQuery {
            index: "due",
            key_attr: "due_shard",
            key: "DUE".to_owned(),
            forward: true,
            filter: None,
            until: Some(upto),
            keep: &keep,
        };
        Ok(self.query_leads(q, limit, None).await?.0)
    }

    #[instrument(skip(self), err)]
    async fn pools_with_waiting(&self) -> Result<Vec<PoolId>, StoreError> {
        let mut pools: Vec<PoolId> = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("unassigned")
                .key_condition_expression("un_pk = :u")
                .expression_attribute_values(":u", s("UNASSIGNED"))
                .projection_expression("po")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            for item in page.items.unwrap_or_default() {
                if let Some(po) = item.get("po").and_then(|v| v.as_s().ok())
                    && !pools.contains(po)
                {
                    pools.push(po.clone());
                }
            }
            match page.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(pools),
            }
        }
    }

    #[instrument(skip_all, err)]
    async fn email_owner(&self, email: &str) -> Result<Option<EmailOwner>, StoreError> {
        self.get(format!("CONTACT#{email}"))
            .await?
            .map(|item| read_body(&item))
            .transpose()
    }

    /// One `BatchGetItem` per 100 distinct keys.
    #[instrument(skip_all, fields(keys = keys.len()), err)]
    async fn email_owners(&self, keys: &[String]) -> Result<Vec<Option<EmailOwner>>, StoreError> {
        let pks: Vec<String> = keys.iter().map(|k| format!("CONTACT#{k}")).collect();
        let found = self.batch_get(&pks).await?;
        pks.iter()
            .map(|pk| found.get(pk).map(read_body).transpose())
            .collect()
    }
}

/// A pool's state from its item, or a fresh state if it was never written.
fn pool_state(item: Option<&Item>, id: &str) -> Result<PoolState, StoreError> {
    match item {
        Some(item) => {
            let mut state: PoolState = read_body(item)?;
            state.version = read_version(item);
            Ok(state)
        }
        None => Ok(PoolState::new(id)),
    }
}

#[async_trait]
impl RoutingStore for DynamoStore {
    #[instrument(skip(self), err)]
    async fn get_reps(&self, ids: &[RepId]) -> Result<Vec<RepState>, StoreError> {
        let keys: Vec<String> = ids.iter().map(|id| format!("REP#{id}")).collect();
        let found = self.batch_get(&keys).await?;
        keys.iter()
            .zip(ids)
            .map(|(key, id)| match found.get(key) {
                Some(item) => {
                    let mut state: RepState = read_body(item)?;
                    state.version = read_version(item);
                    Ok(state)
                }
                None => Ok(RepState::new(id.clone())),
            })
            .collect()
    }

    #[instrument(skip(self), err)]
    async fn get_pool(&self, id: &str) -> Result<PoolState, StoreError> {
        pool_state(self.get(format!("POOL#{id}")).await?.as_ref(), id)
    }

    /// One `BatchGetItem` for all of them (strongly consistent), not a `GetItem` per pool in
    /// turn: a batch that spans pools waits for one round trip.
    #[instrument(skip(self), err)]
    async fn get_pools(&self, ids: &[String]) -> Result<Vec<PoolState>, StoreError> {
        let keys: Vec<String> = ids.iter().map(|id| format!("POOL#{id}")).collect();
        let found = self.batch_get(&keys).await?;
        keys.iter()
            .zip(ids)
            .map(|(key, id)| pool_state(found.get(key), id))
            .collect()
    }

    /// One item: a conditional `PutItem`. More: one `TransactWriteItems` (all or nothing, and
    /// the cancellation reasons say which conditions failed). Then the sticky-index entries,
    /// one conditional `PutItem` each, sent together.
    #[instrument(skip_all, fields(items = commit.len()), err)]
    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError> {
        let writes = commit_writes(commit)?;
        let sticky = sticky_items(commit)?;
        let outcome = self.commit_conditional(&writes).await?;
        // The sticky-index entries (contact → owner) are hints for later leads: written after
        // the commit landed, outside the transaction, where each costs one write unit instead
        // of two. If one fails, the leads are routed and the next lead from the same contact is
        // routed without the hint: logged, not an error.
        if matches!(outcome, CommitOutcome::Committed) && !sticky.is_empty() {
            let mut puts = tokio::task::JoinSet::new();
            for (item, at) in sticky {
                puts.spawn(put_sticky(
                    self.client.clone(),
                    self.table.clone(),
                    item,
                    at,
                ));
            }
            while let Some(result) = puts.join_next().await {
                match result {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "a sticky-index entry was not written")
                    }
                    Err(e) => tracing::warn!(error = %e, "a sticky-index write task failed"),
                }
            }
        }
        Ok(outcome)
    }
}

/// Puts a sticky-index entry unless the entry stored is newer (`at`, the assignment time):
/// entries of concurrent routers, or one delayed by retries, may arrive out of order, and the
/// contact's next lead must go to the owner of their latest lead. An equal `at` is written again
/// (a redelivered commit). Entries written before `at` existed are replaced.
async fn put_sticky(client: Client, table: String, item: Item, at: i64) -> Result<(), StoreError> {
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#at) OR #at <= :at")
        .expression_attribute_names("#at", "at")
        .expression_attribute_values(":at", AttributeValue::N(at.to_string()))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(sdk_error("PutItem", e)),
    }
}

impl DynamoStore {
    /// The conditional writes of a commit, all or nothing.
    async fn commit_conditional(&self, writes: &[Write]) -> Result<CommitOutcome, StoreError> {
        match writes {
            [] => Ok(CommitOutcome::Committed),
            [one] => {
                let put = one.put(&self.table)?;
                let result = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(one.item.clone()))
                    .set_condition_expression(put.condition_expression().map(str::to_owned))
                    .set_expression_attribute_values(put.expression_attribute_values().cloned())
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(CommitOutcome::Committed),
                    Err(e) => match e.into_service_error() {
                        PutItemError::ConditionalCheckFailedException(_) => {
                            Ok(CommitOutcome::Conflict(vec![one.stale.clone()]))
                        }
                        other => Err(sdk_error(
                            "PutItem",
                            aws_sdk_dynamodb::error::SdkError::<PutItemError, ()>::service_error(
                                other,
                                (),
                            ),
                        )),
                    },
                }
            }
            many => {
                let items: Vec<TransactWriteItem> = many
                    .iter()
                    .map(|w| {
                        Ok(TransactWriteItem::builder()
                            .put(w.put(&self.table)?)
                            .build())
                    })
                    .collect::<Result<_, StoreError>>()?;
                let result = self
                    .client
                    .transact_write_items()
                    .set_transact_items(Some(items))
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(CommitOutcome::Committed),
                    Err(e) => {
                        match e.into_service_error() {
                            TransactWriteItemsError::TransactionCanceledException(c) => {
                                let reasons = c.cancellation_reasons();
                                let stale: Vec<Stale> = many
                                    .iter()
                                    .zip(reasons)
                                    .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                                    .map(|(w, _)| w.stale.clone())
                                    .collect();
                                // A conflict with another transaction in flight names no item: retry.
                                Ok(CommitOutcome::Conflict(stale))
                            }
                            other => {
                                Err(
                                    sdk_error(
                                        "TransactWriteItems",
                                        aws_sdk_dynamodb::error::SdkError::<
                                            TransactWriteItemsError,
                                            (),
                                        >::service_error(
                                            other, ()
                                        ),
                                    ),
                                )
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadrouter_lead::Lead;

    #[test]
    fn a_lead_body_that_reads_would_refuse_is_refused_on_write() {
        let mut rec = LeadRecord::received(Lead::default());
        rec.lead.message = Some("x".repeat(MAX_INFLATED));
        // Deflated, this would fit an item by far: the write must refuse it, not the reads.
        match lead_item(&rec, 1) {
            Err(StoreError::InvalidArgument { what, .. }) => assert_eq!(what, "lead record"),
            other => panic!("expected a refusal, got {:?}", other.map(|i| i.len())),
        }
        rec.lead.message = Some("x".repeat(MAX_INFLATED / 2));
        let item = lead_item(&rec, 1).expect("under the limit");
        let back: LeadRecord = read_body(&item).expect("reads back");
        assert_eq!(back.lead.message, rec.lead.message);
    }
}
