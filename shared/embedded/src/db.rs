//! The shared connection and the bridge from async callers to blocking SQLite calls.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use leadrouter_domain::ports::StoreError;
use rusqlite::Connection;
use tokio::sync::Notify;

/// One open database file, shared by the store and every queue handed out from it.
///
/// A single connection behind a mutex: SQLite admits one writer at a time anyway, so a pool
/// would only add readers, and every query here is an indexed lookup or a bounded page that
/// takes micro- to milliseconds. One connection also means our own transactions never meet
/// `SQLITE_BUSY`; only other processes on the same file can cause that.
#[derive(Debug)]
pub(crate) struct Db {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Per queue name: woken on every send (and release/redrive) in this process, so waiting
    /// receivers of any handle on that queue return at once instead of at their next poll.
    notifiers: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Db {
    pub(crate) fn new(path: &Path, conn: Connection) -> Db {
        Db {
            path: path.to_owned(),
            conn: Mutex::new(conn),
            notifiers: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The wake-up signal of queue `name` (created on first use).
    pub(crate) fn notifier(&self, name: &str) -> Arc<Notify> {
        let mut map = self
            .notifiers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.entry(name.to_owned()).or_default().clone()
    }

    /// Runs `f` with the connection on tokio's blocking pool, so SQLite's file I/O and lock
    /// waits never stall the async runtime's worker threads.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, op: &'static str, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let db = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut conn = db.lock();
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("{op}: database task failed: {e}")))?
    }

    /// Locks the connection. A panic while it was held poisons the mutex; the connection itself
    /// is still sound (rusqlite rolls back a `Transaction` when it is dropped during unwinding),
    /// so recover it, and roll back by hand in case a transaction was left open anyway.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        match self.conn.lock() {
            Ok(conn) => conn,
            Err(poisoned) => {
                let conn = poisoned.into_inner();
                self.conn.clear_poison();
                if !conn.is_autocommit()
                    && let Err(e) = conn.execute_batch("ROLLBACK")
                {
                    tracing::warn!(error = %e, "rollback after a panic failed");
                }
                conn
            }
        }
    }
}
