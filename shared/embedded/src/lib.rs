//! leadrouter's embedded adapters: the storage and queue ports on one SQLite file, for local
//! mode (`leadrouter serve`).
//!
//! | module | holds |
//! |---|---|
//! | `schema` | opening the file: WAL, `synchronous=NORMAL`, `busy_timeout`, in-memory temp store, a safety-net checkpoint interval (the checkpointer thread in `db` does the work), page cache, migrations (`user_version`) |
//! | `db` | the shared connection, owned by one database thread that group-commits the jobs waiting for it, a checkpointer thread that copies the WAL into the file beside it, and the bridge every async method goes through |
//! | [`store`] | [`EmbeddedStore`]: `LeadStore` + `RoutingStore` (items as JSON plus indexed columns; `commit` as one savepoint of a group-committed transaction) |
//! | [`queue`] | [`EmbeddedQueue`]: the `Queue` port with SQS semantics (visibility timeout, receipts, receive count, dead-letter table, redrive) |
//! | [`config_store`] | the `ConfigStore` port: versioned routing configs (`config_versions` rows and a `config_head` row, moved in one transaction) |
//! | [`stats`] | the `StatsStore` port: hourly counters and speed histograms (`stats_buckets`), each event counted once (`stats_seen`) |
//! | `error` | SQLite and decoding failures as `StoreError` (`SQLITE_BUSY` → `Throttled`, bad JSON → `Corrupt`) |
//!
//! ```no_run
//! # use std::{path::Path, time::Duration};
//! # use leadrouter_embedded::{EmbeddedStore, QueueConfig};
//! # fn main() -> Result<(), leadrouter_domain::ports::StoreError> {
//! let store = EmbeddedStore::open(Path::new("data/leadrouter.db"))?;
//! let intake = store.queue("intake", QueueConfig { visibility_timeout: Duration::from_secs(30), max_receives: 5 });
//! # Ok(()) }
//! ```
//!
//! Both pass the domain's contract suite (`leadrouter_domain::contract`), the same one the
//! DynamoDB/SQS adapters must pass; this crate's tests run it.

pub mod config_store;
mod db;
mod error;
pub mod queue;
mod schema;
pub mod stats;
pub mod store;

pub use queue::{DeadLetter, EmbeddedQueue, QueueConfig, QueueDepth};
pub use store::{EmbeddedStore, MAX_PAGE};
