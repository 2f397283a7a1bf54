//! The shared connection, owned by one database thread, and the bridge from async callers to it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use leadrouter_domain::ports::StoreError;
use rusqlite::Connection;
use tokio::sync::{Notify, oneshot};

use crate::error::SqlContext;

/// Work for the database thread: runs with the connection and returns how to answer its
/// caller once the group it ran in is committed (or failed to commit).
type Job = Box<dyn FnOnce(&mut Connection) -> Reply + Send>;
/// Answers a job's caller: with its own result if the group committed (`None`), else with the
/// commit's error.
type Reply = Box<dyn FnOnce(Option<&StoreError>) + Send>;

/// Most jobs committed together. Bounds how long the first job's caller waits for the last.
const MAX_GROUP: usize = 64;

/// One open database file, shared by the store and every queue handed out from it.
///
/// A single connection, owned by a thread of its own that runs callers' operations one after
/// another: SQLite admits one writer at a time anyway, so a pool would only add readers, and
/// every query here is an indexed lookup or a bounded page that takes micro- to milliseconds.
/// One connection also means our own transactions never meet `SQLITE_BUSY`; only other
/// processes on the same file can cause that. One thread rather than a mutex taken on tokio's
/// blocking pool: under load the thread keeps working through its queue instead of the pool's
/// threads taking turns at a lock (that handover was a third of `serve`'s CPU time under load).
///
/// **Group commit.** The thread takes every job waiting (up to [`MAX_GROUP`]) and runs them in
/// one `BEGIN IMMEDIATE` transaction, each job in a savepoint of its own (its writes roll back
/// alone if it fails), and answers the callers only after the `COMMIT`: a caller that got `Ok`
/// has its writes committed, as before, but a burst of 40 sends costs one commit, not 40 (each
/// commit appends every page it changed to the WAL). Jobs therefore open savepoints, never
/// transactions. Alone in the queue, a job is a group of one.
#[derive(Debug)]
pub(crate) struct Db {
    path: PathBuf,
    /// `None` only while dropping (closing it stops the thread).
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    /// Dropping it stops the checkpointer thread.
    stop_checkpoints: Option<mpsc::Sender<()>>,
    checkpointer: Option<JoinHandle<()>>,
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
        let (stop_checkpoints, stop) = mpsc::channel::<()>();
        let ckpt_conn = crate::schema::open_for_checkpoints(path)?;
        let checkpointer = std::thread::Builder::new()
            .name("leadrouter-ckpt".into())
            .spawn(move || checkpoints(&ckpt_conn, &stop))
            .map_err(|e| StoreError::Unavailable(format!("starting the checkpointer: {e}")))?;
        Ok(Db {
            path: path.to_owned(),
            jobs: Some(jobs),
            thread: Some(thread),
            stop_checkpoints: Some(stop_checkpoints),
            checkpointer: Some(checkpointer),
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
            let result = f(conn);
            Box::new(move |commit_error: Option<&StoreError>| {
                let result = match commit_error {
                    None => result,
                    Some(e) => Err(copy_error(e)),
                };
                // The caller may have gone (a cancelled request); the work is done either way.
                let _ = reply.send(result);
            })
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
        drop(self.stop_checkpoints.take());
        if let Some(thread) = self.checkpointer.take()
            && thread.join().is_err()
        {
            tracing::warn!("the checkpointer thread panicked");
        }
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

/// The database thread: runs jobs in arrival order, in groups, until every sender is gone.
fn serve(mut conn: Connection, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        run_group(&mut conn, group);
    }
}

/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// The checkpointer thread: a `PASSIVE` checkpoint every [`CHECKPOINT_EVERY`] until `stop`'s
/// sender is dropped. Passive checkpoints never wait for or block the database thread's
/// transactions (WAL mode); they copy what is committed and leave the rest for the next round,
/// and once everything is copied the writer starts the log from the top again, so it stays at
/// a few megabytes. On the database thread the same work cost ~5 % of its time and, worse,
/// stalled every caller for the duration of a checkpoint and its fsyncs.
fn checkpoints(conn: &Connection, stop: &mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "checkpoint failed; retrying next round");
        }
    }
}

/// Runs `group` in one transaction and answers every caller after the commit.
fn run_group(conn: &mut Connection, group: Vec<Job>) {
    // Without the outer transaction (another process holds the write lock past busy_timeout),
    // each job's savepoint is a transaction of its own: slower, same outcome.
    let grouped = conn
        .prepare_cached("BEGIN IMMEDIATE")
        .and_then(|mut s| s.execute([]))
        .is_ok();
    let mut replies = Vec::with_capacity(group.len());
    for job in group {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(conn))) {
            Ok(reply) if grouped => replies.push(reply),
            Ok(reply) => reply(None),
            // A panicking job's caller gets "database task failed" (its reply was dropped); its
            // savepoint was rolled back while unwinding.
            Err(_) => tracing::warn!("a database job panicked"),
        }
    }
    if !grouped {
        return;
    }
    let committed = if conn.is_autocommit() {
        // A job ended the transaction itself (none should): nothing left to commit.
        Ok(())
    } else {
        conn.prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]))
            .map(drop)
            .ctx("commit")
    };
    match committed {
        Ok(()) => replies.into_iter().for_each(|reply| reply(None)),
        Err(e) => {
            if !conn.is_autocommit()
                && let Err(rollback) = conn.execute_batch("ROLLBACK")
            {
                tracing::warn!(error = %rollback, "rollback after a failed commit failed");
            }
            replies.into_iter().for_each(|reply| reply(Some(&e)));
        }
    }
}

/// A job's savepoint inside its group's transaction, rolled back when dropped uncommitted.
///
/// rusqlite's own `Savepoint` parses its `SAVEPOINT`/`RELEASE` text on every use; these are
/// prepared once per connection (the statement cache), which under load saved ~5 % of the
/// database thread's time. Every job uses the same name: savepoints nest by position, and
/// `RELEASE job` releases the innermost one.
pub(crate) struct Savepoint<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> Savepoint<'c> {
    /// Opens a savepoint on `conn`.
    pub(crate) fn begin(conn: &'c Connection) -> rusqlite::Result<Savepoint<'c>> {
        conn.prepare_cached("SAVEPOINT job")?.execute([])?;
        Ok(Savepoint { conn, open: true })
    }

    /// Keeps the savepoint's writes (they commit with the group).
    pub(crate) fn commit(mut self) -> rusqlite::Result<()> {
        self.conn.prepare_cached("RELEASE job")?.execute([])?;
        self.open = false;
        Ok(())
    }
}

impl std::ops::Deref for Savepoint<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Savepoint<'_> {
    /// Undoes the savepoint's writes: a job that returns early with an error leaves nothing.
    fn drop(&mut self) {
        if self.open {
            let undone = self
                .conn
                .prepare_cached("ROLLBACK TO job")
                .and_then(|mut s| s.execute([]))
                .and_then(|_| self.conn.prepare_cached("RELEASE job"))
                .and_then(|mut s| s.execute([]));
            if let Err(e) = undone {
                tracing::warn!(error = %e, "rolling back a savepoint failed");
            }
        }
    }
}

/// The same failure for another caller of a group whose commit failed.
fn copy_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Throttled(m) => StoreError::Throttled(m.clone()),
        other => StoreError::Unavailable(other.to_string()),
    }
}
