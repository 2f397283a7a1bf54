//! The shared connection, owned by one database thread, and the bridge from async callers to it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use leadrouter_domain::ports::StoreError;
use rusqlite::Connection;
use tokio::sync::{Notify, oneshot};

/// Work for the database thread: runs with the connection and sends its own reply.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// One open database file, shared by the store and every queue handed out from it.
///
/// A single connection, owned by a thread of its own that runs callers' operations one after
/// another: SQLite admits one writer at a time anyway, so a pool would only add readers, and
/// every query here is an indexed lookup or a bounded page that takes micro- to milliseconds.
/// One connection also means our own transactions never meet `SQLITE_BUSY`; only other
/// processes on the same file can cause that. One thread rather than a mutex taken on tokio's
/// blocking pool: under load the thread keeps working through its queue instead of the pool's
/// threads taking turns at a lock (measured: that handover was a third of `serve`'s CPU time).
#[derive(Debug)]
pub(crate) struct Db {
    path: PathBuf,
    /// `None` only while dropping (closing it stops the thread).
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    /// Per queue name: woken on every send (and release/redrive) in this process, so waiting
    /// receivers of any handle on that queue return at once instead of at their next poll.
    notifiers: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Db {
    /// Starts the database thread with `conn`. Fails only if the OS cannot start a thread.
    pub(crate) fn new(path: &Path, conn: Connection) -> Result<Db, StoreError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("leadrouter-db".into())
            .spawn(move || serve(conn, &queue))
            .map_err(|e| StoreError::Unavailable(format!("starting the database thread: {e}")))?;
        Ok(Db {
            path: path.to_owned(),
            jobs: Some(jobs),
            thread: Some(thread),
            notifiers: Mutex::new(HashMap::new()),
        })
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

    /// Runs `f` with the connection on the database thread, so SQLite's file I/O and lock
    /// waits never stall the async runtime's worker threads.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, op: &'static str, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            // The caller may have gone (a cancelled request); the work is done either way.
            let _ = reply.send(f(conn));
        });
        self.jobs
            .as_ref()
            .and_then(|jobs| jobs.send(job).ok())
            .ok_or_else(|| StoreError::Unavailable(format!("{op}: the database is closed")))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable(format!("{op}: database task failed")))?
    }
}

impl Drop for Db {
    /// Closes the queue and waits for the thread to finish what was queued and close the file,
    /// so that the file can be reopened at once (tests do).
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take()
            // The last handle can be dropped by a job on the thread itself: it cannot wait for
            // itself, and it ends on its own once the queue is empty.
            && thread.thread().id() != std::thread::current().id()
            && thread.join().is_err()
        {
            tracing::warn!("the database thread panicked");
        }
    }
}

/// The database thread: runs jobs in arrival order until every sender is gone.
fn serve(mut conn: Connection, queue: &mpsc::Receiver<Job>) {
    for job in queue {
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut conn)));
        // A panicking job's caller gets "database task failed" (its reply was dropped). The
        // connection is still sound (rusqlite rolls back a `Transaction` dropped during
        // unwinding); roll back by hand in case a transaction was left open anyway.
        if ran.is_err()
            && !conn.is_autocommit()
            && let Err(e) = conn.execute_batch("ROLLBACK")
        {
            tracing::warn!(error = %e, "rollback after a panic failed");
        }
    }
}
