//! [`DynamoConfigStore`]: versioned routing configs in the same single table as the leads.
//!
//! | item | `pk` | attributes |
//! |---|---|---|
//! | head | `CONFIG#HEAD` | `v`: the current version (number) |
//! | version n | `CONFIG#v#0000000042` | `v`: n, `meta`: `ConfigMeta` as JSON, `format`, `source` |
//!
//! Versions are dense (1..=head), so `history` is one `BatchGetItem` of known keys (projecting
//! away the sources), never a query or scan. The router reads only the head item (a few bytes,
//! one half read unit) to learn whether the config changed.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem};
use leadrouter_domain::config_store::{
    ConfigDoc, ConfigMeta, ConfigStore, MAX_HISTORY, PutOutcome,
};
use leadrouter_domain::ports::StoreError;
use tracing::instrument;

use crate::sdk_error;

type Item = HashMap<String, AttributeValue>;

const HEAD: &str = "CONFIG#HEAD";

/// How often a push is retried when DynamoDB cancels its transaction for a concurrent one
/// (`TransactionConflict`) without the head having moved.
const TRANSACTION_RETRIES: u32 = 5;

fn version_key(version: u64) -> String {
    format!("CONFIG#v#{version:010}")
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Unavailable(format!("request build: {e}"))
}

fn string_attr<'a>(item: &'a Item, key: &str, name: &str) -> Result<&'a str, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| StoreError::Corrupt {
            key: key.to_owned(),
            reason: format!("missing string attribute `{name}`"),
        })
}

fn version_attr(item: &Item, key: &str) -> Result<u64, StoreError> {
    item.get("v")
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Corrupt {
            key: key.to_owned(),
            reason: "missing or non-numeric `v`".into(),
        })
}

fn read_meta(item: &Item) -> Result<ConfigMeta, StoreError> {
    let key = string_attr(item, "config", "pk")?.to_owned();
    let version = version_attr(item, &key)?;
    let mut meta: ConfigMeta =
        serde_json::from_str(string_attr(item, &key, "meta")?).map_err(|e| {
            StoreError::Corrupt {
                key: key.clone(),
                reason: format!("undecodable meta ({e})"),
            }
        })?;
    meta.version = version;
    Ok(meta)
}

/// The `ConfigStore` over one table (the one [`crate::create_table`] or the SAM template makes).
#[derive(Debug, Clone)]
pub struct DynamoConfigStore {
    client: Client,
    table: String,
}

impl DynamoConfigStore {
    /// A config store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> DynamoConfigStore {
        DynamoConfigStore {
            client,
            table: table.into(),
        }
    }

    /// A config store over `table`, with credentials, region and endpoint from the environment
    /// (as the functions and the CLI use it).
    pub async fn from_env(table: impl Into<String>) -> DynamoConfigStore {
        let sdk = crate::sdk::from_env().await;
        DynamoConfigStore::new(Client::new(&sdk), table)
    }

    async fn get_item(
        &self,
        pk: String,
        projection: Option<&str>,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .consistent_read(true)
            .set_projection_expression(projection.map(str::to_owned))
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        Ok(out.item)
    }

    /// The head condition and the new version item, as one transaction.
    fn transaction(
        &self,
        doc: &ConfigDoc,
        expected: Option<u64>,
        version: u64,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut meta = doc.meta.clone();
        meta.version = version;
        let meta = serde_json::to_string(&meta)
            .map_err(|e| StoreError::Unavailable(format!("cannot encode config meta: {e}")))?;
        let mut head = Put::builder()
            .table_name(&self.table)
            .item("pk", s(HEAD))
            .item("v", n(version));
        head = match expected {
            None => head.condition_expression("attribute_not_exists(pk)"),
            Some(v) => head
                .condition_expression("v = :expected")
                .expression_attribute_values(":expected", n(v)),
        };
        let item = Put::builder()
            .table_name(&self.table)
            .item("pk", s(version_key(version)))
            .item("v", n(version))
            .item("meta", s(meta))
            .item("format", s(doc.format.clone()))
            .item("source", s(doc.source.clone()))
            .condition_expression("attribute_not_exists(pk)");
        Ok(vec![
            TransactWriteItem::builder()
                .put(head.build().map_err(build_error)?)
                .build(),
            TransactWriteItem::builder()
                .put(item.build().map_err(build_error)?)
                .build(),
        ])
    }
}

#[async_trait]
impl ConfigStore for DynamoConfigStore {
    /// One `TransactWriteItems` of two puts: the head, conditional on holding `expected_current`,
    /// and the new version's item, conditional on not existing.
    ///
    /// Why a transaction: the condition that makes concurrent pushes safe is on the head, but the
    /// document lives in another item. Written separately, a push that dies between the two
    /// writes leaves either a head naming a missing document (every router would fail to load
    /// it) or an orphan version item that blocks the next push of that number. In one
    /// transaction both land or neither does, and the loser of a race writes nothing.
    #[instrument(skip(self, doc), err)]
    async fn put(
        &self,
        doc: &ConfigDoc,
        expected_current: Option<u64>,
    ) -> Result<PutOutcome, StoreError> {
        doc.check_size()?;
        let version = expected_current
            .unwrap_or(0)
            .checked_add(1)
            .ok_or_else(|| StoreError::Unavailable("config version overflow".into()))?;
        for attempt in 0..=TRANSACTION_RETRIES {
            let items = self.transaction(doc, expected_current, version)?;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(PutOutcome::Stored { version }),
                Err(e) => match e.into_service_error() {
                    TransactWriteItemsError::TransactionCanceledException(_) => {
                        let current = self.current_version().await?;
                        if current != expected_current {
                            return Ok(PutOutcome::Conflict { current });
                        }
                        // Cancelled by a concurrent transaction that did not move the head
                        // (or a condition on a stray version item): try again shortly.
                        tokio::time::sleep(std::time::Duration::from_millis(5 << attempt)).await;
                    }
                    other => {
                        return Err(sdk_error(
                            "TransactWriteItems",
                            aws_sdk_dynamodb::error::SdkError::<TransactWriteItemsError, ()>::service_error(
                                other, (),
                            ),
                        ));
                    }
                },
            }
        }
        Err(StoreError::Throttled(
            "TransactWriteItems: config push kept being cancelled".into(),
        ))
    }

    #[instrument(skip(self), err)]
    async fn current_version(&self) -> Result<Option<u64>, StoreError> {
        match self.get_item(HEAD.to_owned(), Some("v")).await? {
            Some(item) => Ok(Some(version_attr(&item, HEAD)?)),
            None => Ok(None),
        }
    }

    #[instrument(skip(self), err)]
    async fn get(&self, version: u64) -> Result<Option<ConfigDoc>, StoreError> {
        let key = version_key(version);
        let Some(item) = self.get_item(key.clone(), None).await? else {
            return Ok(None);
        };
        Ok(Some(ConfigDoc {
            meta: read_meta(&item)?,
            format: string_attr(&item, &key, "format")?.to_owned(),
            source: string_attr(&item, &key, "source")?.to_owned(),
        }))
    }

    #[instrument(skip(self), err)]
    async fn history(&self, limit: usize) -> Result<Vec<ConfigMeta>, StoreError> {
        let Some(head) = self.current_version().await? else {
            return Ok(Vec::new());
        };
        let limit = if limit == 0 {
            MAX_HISTORY
        } else {
            limit.min(MAX_HISTORY)
        } as u64;
        let oldest = head.saturating_sub(limit - 1).max(1);
        let keys: Vec<Item> = (oldest..=head)
            .map(|v| Item::from([("pk".to_owned(), s(version_key(v)))]))
            .collect();
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .projection_expression("pk, v, #m")
            .expression_attribute_names("#m", "meta")
            .build()
            .map_err(build_error)?;
        let mut found = crate::batch_get_items(&self.client, &self.table, request)
            .await?
            .iter()
            .map(read_meta)
            .collect::<Result<Vec<_>, _>>()?;
        found.sort_by_key(|m| std::cmp::Reverse(m.version));
        Ok(found)
    }
}
