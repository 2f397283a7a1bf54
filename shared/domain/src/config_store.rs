//! Versioned routing configs in the store (issue 4: config in production; issue 7: history, diff,
//! rollback).
//!
//! Every push stores the config's source text as a new, numbered version (1, 2, 3, …, never
//! reused, never rewritten) together with who pushed it, when, why, and its fingerprint (the
//! `version` every decision records, so a decision can be traced to a pushed version). A small
//! "head" item holds the current version number: a warm router checks that cheap item and reads a
//! document only when it changed ([`ConfigWatcher`]). A rollback is a push of an old document
//! with [`ConfigMeta::rolled_back_from`] set.
//!
//! Adapters: `leadrouter-embedded` (SQLite) and `leadrouter-aws` (DynamoDB); both pass
//! `contract::config`.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, Format, RoutingConfig};
use crate::engine::Engine;
use crate::ports::StoreError;

/// Largest config source a store accepts, in bytes. DynamoDB items are at most 400 KB; this
/// leaves room for the metadata attributes. Real configs are a few KB (a 2,000-rep config is
/// about 200 KB).
pub const MAX_SOURCE_BYTES: usize = 380 * 1024;

/// Largest `history` page.
pub const MAX_HISTORY: usize = 100;

/// Who pushed a version, when, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigMeta {
    /// The version number: 1 for the first push, then one more per push, with no gaps.
    pub version: u64,
    /// When it was pushed.
    pub pushed_at: DateTime<Utc>,
    /// Who pushed it (a user or CI job name, as given to the CLI).
    pub pushed_by: String,
    /// The config's fingerprint ([`RoutingConfig::version`]), as recorded in every decision.
    pub hash: String,
    /// Why (`-m`); empty if none was given.
    pub message: String,
    /// For a rollback: the version whose document this one repeats.
    pub rolled_back_from: Option<u64>,
}

/// One stored version: the source text exactly as pushed, its format, and its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigDoc {
    /// Metadata. On [`ConfigStore::put`], `version` is ignored (the store assigns it).
    pub meta: ConfigMeta,
    /// `"toml"` or `"json"`.
    pub format: String,
    /// The config file's text.
    pub source: String,
}

impl ConfigDoc {
    /// Validates `source` with the same code as `leadrouter check` and, only if it is valid,
    /// builds the document to push (version 0 until the store assigns one) with the compiled
    /// config.
    pub fn validated(
        source: String,
        format: Format,
        file: &str,
        pushed_by: impl Into<String>,
        message: impl Into<String>,
        pushed_at: DateTime<Utc>,
    ) -> Result<(ConfigDoc, RoutingConfig), ConfigError> {
        let cfg = RoutingConfig::parse(&source, format, file)?;
        let doc = ConfigDoc {
            meta: ConfigMeta {
                version: 0,
                pushed_at,
                pushed_by: pushed_by.into(),
                hash: cfg.version.clone(),
                message: message.into(),
                rolled_back_from: None,
            },
            format: format_name(format).to_owned(),
            source,
        };
        Ok((doc, cfg))
    }

    /// The format of `source`.
    pub fn source_format(&self) -> Format {
        if self.format.eq_ignore_ascii_case("json") {
            Format::Json
        } else {
            Format::Toml
        }
    }

    /// Parses and validates the stored source (a document stored by an older build may no longer
    /// validate).
    pub fn compile(&self) -> Result<RoutingConfig, ConfigError> {
        let name = format!("config v{}", self.meta.version);
        RoutingConfig::parse(&self.source, self.source_format(), &name)
    }

    /// Checks what every store checks before writing: the size limit.
    pub fn check_size(&self) -> Result<(), StoreError> {
        if self.source.len() > MAX_SOURCE_BYTES {
            return Err(StoreError::InvalidArgument {
                what: "config document",
                reason: format!(
                    "{} bytes is over the {} byte limit (DynamoDB items are at most 400 KB)",
                    self.source.len(),
                    MAX_SOURCE_BYTES
                ),
            });
        }
        Ok(())
    }
}

/// The stored name of a format.
pub fn format_name(format: Format) -> &'static str {
    match format {
        Format::Toml => "toml",
        Format::Json => "json",
    }
}

/// Result of [`ConfigStore::put`]. A lost race is a value, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// The document is stored as this version, which is now current.
    Stored {
        /// The new version number.
        version: u64,
    },
    /// Nothing was written: the current version is not the one the caller expected.
    Conflict {
        /// The current version (`None`: no config stored yet).
        current: Option<u64>,
    },
}

/// Versioned routing configs.
#[async_trait]
pub trait ConfigStore: Send + Sync {
    /// Stores `doc` as version `expected_current + 1` (1 when `expected_current` is `None`) and
    /// makes it current, if and only if the current version is still `expected_current`;
    /// otherwise writes nothing and returns [`PutOutcome::Conflict`]. Two concurrent pushes from
    /// the same base cannot both win, and versions have no gaps. A source over
    /// [`MAX_SOURCE_BYTES`] is [`StoreError::InvalidArgument`].
    async fn put(
        &self,
        doc: &ConfigDoc,
        expected_current: Option<u64>,
    ) -> Result<PutOutcome, StoreError>;
    /// The current version number, from the small head item (cheap: no document is read).
    async fn current_version(&self) -> Result<Option<u64>, StoreError>;
    /// One stored version.
    async fn get(&self, version: u64) -> Result<Option<ConfigDoc>, StoreError>;
    /// The current document.
    async fn current(&self) -> Result<Option<ConfigDoc>, StoreError> {
        match self.current_version().await? {
            Some(v) => self.get(v).await,
            None => Ok(None),
        }
    }
    /// The newest `limit` versions' metadata, newest first (0, or more than [`MAX_HISTORY`],
    /// reads as [`MAX_HISTORY`]).
    async fn history(&self, limit: usize) -> Result<Vec<ConfigMeta>, StoreError>;
}

/// Pushes `doc` on top of whatever is current, retrying (up to `attempts` times) when another
/// push won the race in between. Returns the version stored. For callers that do not care which
/// version they build on (a push of a whole file does not depend on the previous document); a
/// caller that does (a rollback computed from a diff) uses [`ConfigStore::put`] directly.
pub async fn push<S: ConfigStore + ?Sized>(
    store: &S,
    doc: &ConfigDoc,
    attempts: usize,
) -> Result<PutOutcome, StoreError> {
    let mut expected = store.current_version().await?;
    let mut outcome = PutOutcome::Conflict { current: expected };
    for _ in 0..attempts.max(1) {
        outcome = store.put(doc, expected).await?;
        match outcome {
            PutOutcome::Stored { .. } => return Ok(outcome),
            PutOutcome::Conflict { current } => expected = current,
        }
    }
    Ok(outcome)
}

/// Why the watcher could not switch to the stored config.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store holds no config at all.
    #[error("no routing config is stored; push one with `leadrouter config push FILE`")]
    Empty,
    /// The head names a version whose document is missing.
    #[error("config version {0} is current but its document is missing")]
    Missing(u64),
    /// The stored document does not validate (the engine keeps the config it has).
    #[error("config version {version} does not validate: {error}")]
    Invalid {
        /// The version.
        version: u64,
        /// Every problem found.
        error: ConfigError,
    },
}

/// Loads and compiles the current stored config (cold start).
pub async fn load_current<S: ConfigStore + ?Sized>(
    store: &S,
) -> Result<(ConfigMeta, RoutingConfig), WatchError> {
    let version = store.current_version().await?.ok_or(WatchError::Empty)?;
    load_version(store, version).await
}

async fn load_version<S: ConfigStore + ?Sized>(
    store: &S,
    version: u64,
) -> Result<(ConfigMeta, RoutingConfig), WatchError> {
    let doc = store
        .get(version)
        .await?
        .ok_or(WatchError::Missing(version))?;
    let cfg = doc
        .compile()
        .map_err(|error| WatchError::Invalid { version, error })?;
    Ok((doc.meta, cfg))
}

#[derive(Debug)]
struct WatchState {
    /// The version the engine runs (or the last one that failed to load, so a bad document is
    /// not re-read on every check).
    version: Option<u64>,
    /// When the head was last read; `None` = never.
    checked_at: Option<DateTime<Utc>>,
}

/// Keeps a warm function's engine on the current stored config: [`ConfigWatcher::refresh`]
/// reads the head item at most once per `every` (by the engine's clock) and, when the version
/// changed, reads and compiles that document and hands it to [`Engine::set_config`].
pub struct ConfigWatcher {
    store: Arc<dyn ConfigStore>,
    every: chrono::Duration,
    state: Mutex<WatchState>,
}

impl std::fmt::Debug for ConfigWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigWatcher")
            .field("every", &self.every)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl ConfigWatcher {
    /// A watcher for an engine that runs stored version `running` (from [`load_current`]),
    /// checked at `checked_at`.
    pub fn new(
        store: Arc<dyn ConfigStore>,
        every: chrono::Duration,
        running: Option<u64>,
        checked_at: Option<DateTime<Utc>>,
    ) -> ConfigWatcher {
        ConfigWatcher {
            store,
            every,
            state: Mutex::new(WatchState {
                version: running,
                checked_at,
            }),
        }
    }

    /// The stored version the engine runs, as far as this watcher knows.
    pub fn running(&self) -> Option<u64> {
        self.lock().version
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WatchState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks the head if the last check is `every` old (or never happened) and switches the
    /// engine to a changed version. `Ok(Some(v))` when the engine now runs version `v`,
    /// `Ok(None)` when nothing changed or it was not time to check. On an error the engine keeps
    /// its config; a version that failed to validate is not retried until the head moves again.
    pub async fn refresh(&self, engine: &Engine) -> Result<Option<u64>, WatchError> {
        let now = engine.now();
        let running = {
            let mut st = self.lock();
            if st.checked_at.is_some_and(|at| now < at + self.every) {
                return Ok(None);
            }
            st.checked_at = Some(now);
            st.version
        };
        let Some(current) = self.store.current_version().await? else {
            return Ok(None);
        };
        if Some(current) == running {
            return Ok(None);
        }
        match load_version(self.store.as_ref(), current).await {
            Ok((_, cfg)) => {
                engine.set_config(cfg);
                self.lock().version = Some(current);
                Ok(Some(current))
            }
            Err(e @ (WatchError::Invalid { .. } | WatchError::Missing(_))) => {
                // Not retried until the head moves again: the document will not change.
                self.lock().version = Some(current);
                Err(e)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "[[reps]]\nid = \"a\"\n[[pools]]\nid = \"p\"\nmembers = [\"a\"]\nstrategy = \"round_robin\"\n[[rules]]\nname = \"default\"\npool = \"p\"\n";

    #[test]
    fn validated_documents_carry_the_decision_fingerprint() {
        let at = DateTime::UNIX_EPOCH;
        let (doc, cfg) =
            ConfigDoc::validated(CONFIG.into(), Format::Toml, "t", "ada", "m", at).expect("valid");
        assert_eq!(doc.meta.hash, cfg.version);
        assert_eq!(doc.format, "toml");
        assert_eq!(doc.source_format(), Format::Toml);
        assert_eq!(doc.compile().expect("compiles").version, cfg.version);
        assert!(doc.check_size().is_ok());
    }

    #[test]
    fn invalid_sources_make_no_document() {
        let broken = CONFIG.replace("pool = \"p\"", "pool = \"nowhere\"");
        let err = ConfigDoc::validated(broken, Format::Toml, "t", "ada", "", DateTime::UNIX_EPOCH)
            .expect_err("refused");
        assert!(!err.problems.is_empty());
    }

    #[test]
    fn oversized_sources_are_refused() {
        let (mut doc, _) = ConfigDoc::validated(
            CONFIG.into(),
            Format::Toml,
            "t",
            "ada",
            "",
            DateTime::UNIX_EPOCH,
        )
        .expect("valid");
        doc.source.push_str(&"#".repeat(MAX_SOURCE_BYTES));
        assert!(matches!(
            doc.check_size(),
            Err(StoreError::InvalidArgument {
                what: "config document",
                ..
            })
        ));
    }
}
