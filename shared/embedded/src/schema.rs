//! Opening the database file: connection settings and schema migrations.
//!
//! The schema version lives in SQLite's `user_version` pragma. [`MIGRATIONS`] holds one script
//! per version; opening applies the missing ones in order, each in its own transaction together
//! with the version bump, so a crash mid-migration leaves the previous version intact.

use std::path::Path;
use std::time::Duration;

use leadrouter_domain::ports::StoreError;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::SqlContext;

/// How long a statement waits for a lock held by another connection (another process on the same
/// file, e.g. an admin tool) before failing with `SQLITE_BUSY` (mapped to `Throttled`).
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Schema scripts; `MIGRATIONS[i]` takes the database from version `i` to `i + 1`.
///
/// Items are stored as JSON blobs (`body`) plus the columns that queries filter or sort on. The
/// blob is the item; the columns are an index of it, rewritten on every write. Times are
/// microseconds since the Unix epoch (UTC) so they sort as integers.
const MIGRATIONS: &[&str] = &[
    // 1: leads, routing state, sticky index, queues.
    r#"
    CREATE TABLE leads (
        id          TEXT PRIMARY KEY,      -- the lead's UUID (hyphenated)
        status      TEXT NOT NULL,         -- LeadStatus wire name
        owner       TEXT,
        pool        TEXT,
        score       REAL,                  -- NULL = no score (sorts last in list_waiting)
        received_at INTEGER NOT NULL,      -- micros
        version     INTEGER NOT NULL,
        body        TEXT NOT NULL          -- LeadRecord as JSON
    );
    -- list_leads: newest first, optionally by one indexed filter (others are checked per row).
    CREATE INDEX leads_by_received ON leads (received_at DESC, id DESC);
    CREATE INDEX leads_by_status   ON leads (status, received_at DESC, id DESC);
    CREATE INDEX leads_by_owner    ON leads (owner,  received_at DESC, id DESC);
    CREATE INDEX leads_by_pool     ON leads (pool,   received_at DESC, id DESC);
    -- list_waiting: a pool's leads in one status, highest score first (NULLs sort last in
    -- DESC order in SQLite), then oldest first.
    CREATE INDEX leads_waiting ON leads (pool, status, score DESC, received_at ASC, id ASC);
    -- pools_with_waiting: only unassigned leads, so it stays small.
    CREATE INDEX leads_unassigned_pools ON leads (pool) WHERE status = 'unassigned';

    CREATE TABLE reps (
        id      TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        body    TEXT NOT NULL                -- RepState as JSON
    );
    CREATE TABLE pools (
        id      TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        body    TEXT NOT NULL                -- PoolState as JSON
    );
    CREATE TABLE email_owners (
        email TEXT PRIMARY KEY,
        body  TEXT NOT NULL                  -- EmailOwner as JSON
    );

    -- Every named queue's messages. A message is visible when visible_at <= now; receiving it
    -- sets visible_at = now + visibility timeout and a fresh receipt.
    CREATE TABLE queue_messages (
        seq           INTEGER PRIMARY KEY,   -- insertion order (tie-break for FIFO-ish order)
        queue         TEXT NOT NULL,
        id            TEXT NOT NULL UNIQUE,  -- the message id, stable across deliveries
        body          TEXT NOT NULL,
        sent_at       INTEGER NOT NULL,      -- micros
        visible_at    INTEGER NOT NULL,      -- micros
        receive_count INTEGER NOT NULL DEFAULT 0,
        receipt       TEXT UNIQUE            -- the current delivery's receipt; NULL before one
    );
    CREATE INDEX queue_messages_visible ON queue_messages (queue, visible_at, seq);

    -- Messages that reached their queue's max_receives, kept for inspection and redrive.
    CREATE TABLE queue_dead_letters (
        seq             INTEGER PRIMARY KEY,
        queue           TEXT NOT NULL,
        id              TEXT NOT NULL UNIQUE,
        body            TEXT NOT NULL,
        sent_at         INTEGER NOT NULL,
        receive_count   INTEGER NOT NULL,
        dead_lettered_at INTEGER NOT NULL
    );
    CREATE INDEX queue_dead_letters_by_queue ON queue_dead_letters (queue, seq);
    "#,
    // 2: SLA deadlines. Leads written before this version have none until their next write.
    r#"
    ALTER TABLE leads ADD COLUMN due_at INTEGER;   -- micros; NULL = no deadline running
    -- list_due: only leads with a deadline, earliest first.
    CREATE INDEX leads_due ON leads (due_at, id) WHERE due_at IS NOT NULL;
    "#,
    // 3: versioned routing configs (ConfigStore). Versions are never updated or deleted.
    r#"
    CREATE TABLE config_versions (
        version INTEGER PRIMARY KEY,         -- 1, 2, 3, ... without gaps
        meta    TEXT NOT NULL,               -- ConfigMeta as JSON
        format  TEXT NOT NULL,               -- toml | json
        source  TEXT NOT NULL                -- the config file's text, as pushed
    );
    -- The current version: one row, moved only together with an insert into config_versions.
    CREATE TABLE config_head (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL
    );
    "#,
    // 4: hourly stats buckets (StatsStore) and the event ids already counted.
    r#"
    CREATE TABLE stats_buckets (
        hour  INTEGER NOT NULL,              -- hours since the Unix epoch (UTC)
        kind  TEXT NOT NULL,                 -- group kind: all | rep | pool | source | rule | pool_rep
        value TEXT NOT NULL,                 -- group value ('' for all)
        name  TEXT NOT NULL,                 -- counter, or speed:bucket
        n     INTEGER NOT NULL,
        PRIMARY KEY (hour, kind, value, name)
    ) WITHOUT ROWID;
    CREATE TABLE stats_seen (
        event_id TEXT PRIMARY KEY,           -- {lead_id}:{version}
        hour     INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX stats_seen_by_hour ON stats_seen (hour);
    "#,
];

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Opens (creating if needed) the database at `path`, configures the connection and brings the
/// schema up to date.
pub(crate) fn open(path: &Path) -> Result<Connection, StoreError> {
    let shown = path.display().to_string();
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ctx(&format!("open {shown}"))?;
    configure(&conn).map_err(|e| prefixed(&shown, e))?;
    migrate(&conn).map_err(|e| prefixed(&shown, e))?;
    Ok(conn)
}

/// A second connection to the (already opened and migrated) file, for the checkpointer
/// thread: it only runs `wal_checkpoint`, so it needs no schema work.
pub(crate) fn open_for_checkpoints(path: &Path) -> Result<Connection, StoreError> {
    let shown = path.display().to_string();
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ctx(&format!("open {shown} for checkpoints"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .ctx("set busy_timeout")
        .map_err(|e| prefixed(&shown, e))?;
    Ok(conn)
}

fn prefixed(path: &str, e: StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(format!("{path}: {m}")),
        StoreError::Throttled(m) => StoreError::Throttled(format!("{path}: {m}")),
        other => other,
    }
}

/// Connection settings. Per connection, so they are set on every open.
fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT).ctx("set busy_timeout")?;
    // WAL: readers never block the writer and a commit is one append to the log.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .ctx("set journal_mode=WAL")?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "cannot use WAL journal mode (got {mode}); is the file on a network filesystem?"
        )));
    }
    // NORMAL in WAL mode: a committed transaction is in the OS's page cache before `commit`
    // returns, so it survives the process crashing or being SIGKILLed, which is what local mode
    // promises (a queued lead is never lost to a restart). Only a power loss or OS crash may lose
    // the last transactions (the WAL is fsynced at checkpoints, not at every commit); FULL would
    // add an fsync per commit, which local mode does not need. Production durability is the AWS
    // deployment's job.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .ctx("set synchronous=NORMAL")?;
    // Each job of a group commit runs in a savepoint, whose undo pages go to a temporary
    // journal: in memory, not a temp file (that file's writes were 8 % of the database
    // thread's time under load).
    conn.pragma_update(None, "temp_store", "MEMORY")
        .ctx("set temp_store=MEMORY")?;
    // The database thread does not checkpoint: `Db`'s checkpointer thread copies the WAL into
    // the database from a connection of its own, so a checkpoint's page copies and fsyncs never
    // stall the jobs. This is only the safety net if that thread falls behind (~400 MB of log).
    conn.pragma_update(None, "wal_autocheckpoint", 100_000)
        .ctx("set wal_autocheckpoint")?;
    // Every statement the adapters run stays prepared: there are ~40, and rusqlite's default
    // cache of 16 evicted and re-parsed them all the time under load.
    conn.set_prepared_statement_cache_capacity(128);
    // 32 MB of page cache (SQLite's default is 2 MB): the hot indexes stay in memory.
    conn.pragma_update(None, "cache_size", -32_768)
        .ctx("set cache_size")?;
    Ok(())
}

/// Applies the migrations the file lacks. Refuses a file written by a newer schema rather than
/// misreading it.
fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let current: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .ctx("read user_version")?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::Unavailable(format!(
            "database schema version {current} is newer than this build's {SCHEMA_VERSION}; \
             upgrade leadrouter"
        )));
    }
    for (from, script) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
        let to = from + 1;
        // IMMEDIATE: take the write lock first, so two processes opening a new file at once
        // cannot both run the same migration.
        let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
            .ctx("begin migration")?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .ctx("read user_version")?;
        if version >= to as i64 {
            continue; // another process migrated meanwhile; dropping `tx` rolls back nothing
        }
        tx.execute_batch(script)
            .ctx(&format!("migrate schema to version {to}"))?;
        tx.pragma_update(None, "user_version", to as i64)
            .ctx("write user_version")?;
        tx.commit().ctx(&format!("commit schema version {to}"))?;
        tracing::info!(version = to, "migrated database schema");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_migrates_and_reopens() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let path = dir.path().join("t.db");
        let conn = open(&path)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .ctx("q")?;
        assert_eq!(version, SCHEMA_VERSION);
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .ctx("q")?;
        assert_eq!(mode, "wal");
        let sync: i64 = conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .ctx("q")?;
        assert_eq!(sync, 1, "synchronous=NORMAL");
        drop(conn);
        // A second open finds the schema current and changes nothing.
        open(&path)?;
        Ok(())
    }

    #[test]
    fn refuses_a_newer_schema() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let path = dir.path().join("t.db");
        open(&path)?
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .ctx("bump")?;
        match open(&path) {
            Err(StoreError::Unavailable(m)) => assert!(m.contains("newer"), "{m}"),
            other => panic!("expected Unavailable, got {:?}", other.map(|_| ())),
        }
        Ok(())
    }
}
