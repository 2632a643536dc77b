//! The single writer: one thread owns the write connection and runs every write job.
//!
//! Group commit (DESIGN.md, *Storage*): the thread takes whatever jobs are waiting, runs them in
//! one transaction with one savepoint each (a failing job rolls back only itself), commits once,
//! and only then replies to each job. Under load, N concurrent writes cost one fsync instead of
//! N; every reply still means "on disk". Because only this connection writes, no request ever
//! waits on SQLite's lock ("database is locked").

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::store::StoreError;

/// The most jobs one transaction takes; bounds the latency a batch adds to its first job.
pub const MAX_BATCH: usize = 256;

/// Delivers a job's outcome once the commit's result is known.
type Deliver = Box<dyn FnOnce(Option<&str>) + Send>;
/// A job: runs inside its savepoint, says whether to keep its work, and returns its delivery.
type Job = Box<dyn FnOnce(&Connection) -> (bool, Deliver) + Send>;

enum Msg {
    Job(Job),
    Stop,
}

/// A handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Msg>,
    stats: Arc<Stats>,
}

/// Counters of the writer: how many transactions committed and how many jobs ran (their ratio
/// is the average group-commit batch), and the change counter (see [`Writer::changes`]).
#[derive(Debug, Default)]
pub struct Stats {
    pub commits: AtomicU64,
    pub jobs: AtomicU64,
    /// Nanoseconds spent running batches, from `BEGIN` to the end of `COMMIT` (the latency a
    /// batch adds to its jobs), for `/metrics`.
    pub batch_nanos: AtomicU64,
    changes: AtomicU64,
}

pub struct WriterThread {
    handle: Option<JoinHandle<()>>,
    tx: mpsc::Sender<Msg>,
    /// The lock on the database's lock file (see `Store::open_then`), released after the
    /// thread has stopped.
    lock: Option<std::fs::File>,
}

impl WriterThread {
    /// Finishes the queued jobs and stops the thread.
    pub fn stop(mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.lock.take();
    }

    /// Keeps `lock` (a locked file) until the thread has stopped.
    pub(crate) fn hold(&mut self, lock: std::fs::File) {
        self.lock = Some(lock);
    }
}

impl Drop for WriterThread {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

pub fn spawn(conn: Connection) -> std::io::Result<(Writer, WriterThread)> {
    let (tx, rx) = mpsc::channel::<Msg>();
    let stats = Arc::new(Stats::default());
    let thread_stats = stats.clone();
    // Every row a job inserts, updates or deletes outside the activity log moves the change
    // counter. SQLite calls the hook for rowid tables only; the two WITHOUT ROWID tables
    // (`login_names`, `group_members`) change only with a row of `users` or `groups`, which
    // is counted.
    let hook_stats = stats.clone();
    conn.update_hook(Some(
        move |_: rusqlite::hooks::Action, _: &str, table: &str, _: i64| {
            if table != "activity" {
                hook_stats.changes.fetch_add(1, Ordering::Relaxed);
            }
        },
    ))
    .map_err(std::io::Error::other)?;
    let handle = std::thread::Builder::new()
        .name("scimgate-writer".into())
        .spawn(move || run(conn, rx, &thread_stats))?;
    Ok((
        Writer {
            tx: tx.clone(),
            stats,
        },
        WriterThread {
            handle: Some(handle),
            tx,
            lock: None,
        },
    ))
}

impl Writer {
    /// A counter that moves whenever the directory's data changes (any table but the activity
    /// log). It moves when a job makes a change and again when that job's batch has committed
    /// (or rolled back), so a reader that reads it, then reads the database, and later finds it
    /// unmoved, knows its read saw the data as it still is.
    pub fn changes(&self) -> u64 {
        self.stats.changes.load(Ordering::Acquire)
    }

    /// (commits, jobs) so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.stats.commits.load(Ordering::Relaxed),
            self.stats.jobs.load(Ordering::Relaxed),
        )
    }

    /// Seconds spent running batches (`BEGIN` to the end of `COMMIT`) so far.
    pub fn batch_seconds(&self) -> f64 {
        self.stats.batch_nanos.load(Ordering::Relaxed) as f64 / 1e9
    }

    /// Runs `f` on the writer thread inside a savepoint of the current batch; resolves after the
    /// batch committed. If `f` fails, its changes are rolled back and its error returned.
    pub(crate) async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
            let keep = result.is_ok();
            let deliver: Deliver = Box::new(move |commit_error| {
                let out = match (result, commit_error) {
                    (Err(e), _) => Err(e),
                    (Ok(_), Some(msg)) => Err(E::from(StoreError::Commit(msg.to_owned()))),
                    (Ok(v), None) => Ok(v),
                };
                let _ = reply.send(out);
            });
            (keep, deliver)
        });
        self.tx
            .send(Msg::Job(job))
            .map_err(|_| E::from(StoreError::WriterGone))?;
        rx.await.map_err(|_| E::from(StoreError::WriterGone))?
    }
}

fn run(conn: Connection, rx: mpsc::Receiver<Msg>, stats: &Stats) {
    let mut stopping = false;
    while !stopping {
        let Ok(first) = rx.recv() else { break };
        let mut batch = Vec::new();
        match first {
            Msg::Job(j) => batch.push(j),
            Msg::Stop => stopping = true,
        }
        // Take what is already waiting: that is the group in group commit.
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Msg::Job(j)) => batch.push(j),
                Ok(Msg::Stop) => stopping = true,
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
            let changes_before = stats.changes.load(Ordering::Relaxed);
            let started = std::time::Instant::now();
            let committed = run_batch(&conn, batch);
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            stats.batch_nanos.fetch_add(nanos, Ordering::Relaxed);
            if committed {
                stats.commits.fetch_add(1, Ordering::Relaxed);
            }
            // A reader that read the counter after a change was made but before it committed
            // read the data without it: the counter moves again now that it is visible.
            if stats.changes.load(Ordering::Relaxed) != changes_before {
                stats.changes.fetch_add(1, Ordering::Release);
            }
        }
    }
    if let Err(e) = conn.execute_batch("PRAGMA optimize") {
        tracing::debug!(error = %e, "PRAGMA optimize at shutdown failed");
    }
}

/// Runs one batch; true if it committed.
fn run_batch(conn: &Connection, batch: Vec<Job>) -> bool {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        let msg = e.to_string();
        tracing::error!(error = %msg, "could not begin a write transaction");
        // Each job still runs outside a transaction would be wrong: fail them all.
        for job in batch {
            // Run nothing; deliver the failure through a job that never touches the database.
            let (_, deliver) = fail_job(job, conn);
            deliver(Some(&msg));
        }
        return false;
    }
    let mut deliveries = Vec::with_capacity(batch.len());
    for job in batch {
        if let Err(e) = exec(conn, "SAVEPOINT job") {
            tracing::error!(error = %e, "could not open a savepoint");
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| job(conn)));
        let keep = match outcome {
            Ok((keep, deliver)) => {
                deliveries.push(deliver);
                keep
            }
            Err(_) => {
                // The job panicked: its reply channel is gone and its caller gets WriterGone.
                tracing::error!("a write job panicked; its changes were rolled back");
                false
            }
        };
        let end = if keep {
            exec(conn, "RELEASE job")
        } else {
            exec(conn, "ROLLBACK TO job").and_then(|()| exec(conn, "RELEASE job"))
        };
        if let Err(e) = end {
            tracing::error!(error = %e, "could not end a savepoint");
        }
    }
    let commit = exec(conn, "COMMIT");
    let error = match commit {
        Ok(()) => None,
        Err(e) => {
            tracing::error!(error = %e, "commit failed; the batch was rolled back");
            let _ = conn.execute_batch("ROLLBACK");
            Some(e.to_string())
        }
    };
    let committed = error.is_none();
    for d in deliveries {
        d(error.as_deref());
    }
    committed
}

/// Runs one transaction-control statement, prepared once per connection (`execute_batch`
/// would parse it again for every job).
fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Runs a job inside a savepoint that is always rolled back, to obtain its delivery when the
/// batch could not start (so the caller gets an error and never an unacknowledged success).
fn fail_job(job: Job, conn: &Connection) -> (bool, Deliver) {
    let _ = conn.execute_batch("SAVEPOINT doomed");
    let out = catch_unwind(AssertUnwindSafe(|| job(conn)));
    let _ = conn.execute_batch("ROLLBACK TO doomed; RELEASE doomed");
    match out {
        Ok(o) => o,
        Err(_) => (false, Box::new(|_| {})),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::Synchronous;

    #[tokio::test(flavor = "current_thread")]
    async fn a_failing_job_rolls_back_only_itself() {
        let (_dir, store, thread) = crate::store::tests::open_temp(Synchronous::Full);
        store
            .write(|c| {
                c.conn()
                    .execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY)")
                    .map_err(StoreError::from)
            })
            .await
            .unwrap();
        let (commits_before, _) = store.writer().stats();
        // A first job holds the writer while the others queue up: they form one batch.
        let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
        let blocker = store.write(move |_c| {
            let _ = hold_rx.recv_timeout(std::time::Duration::from_secs(5));
            Ok::<_, StoreError>(())
        });
        let mut jobs = Vec::new();
        for k in 0..20i64 {
            jobs.push(store.write(move |c| {
                c.conn().execute("INSERT INTO t (k) VALUES (?1)", [k])?;
                if k == 7 {
                    // e.g. a uniqueness conflict found after a first write
                    return Err(StoreError::Conflict {
                        attribute: "k",
                        value: "7".into(),
                    });
                }
                Ok(k)
            }));
        }
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            let _ = hold_tx.send(());
        });
        // `join` polls the blocker first, then each job in order: the queue order is fixed.
        let (b, results) =
            futures_util::future::join(blocker, futures_util::future::join_all(jobs)).await;
        b.unwrap();
        for (k, r) in results.iter().enumerate() {
            if k == 7 {
                assert!(matches!(r, Err(StoreError::Conflict { .. })));
            } else {
                assert_eq!(*r.as_ref().unwrap(), k as i64);
            }
        }
        let rows: Vec<i64> = store
            .read(|c| {
                let mut s = c.conn().prepare("SELECT k FROM t ORDER BY k")?;
                let v = s
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<Vec<i64>, _>>()?;
                Ok::<_, StoreError>(v)
            })
            .await
            .unwrap();
        let expected: Vec<i64> = (0..20).filter(|k| *k != 7).collect();
        assert_eq!(rows, expected);
        // 21 jobs in at most 3 commits: the queued twenty shared one.
        let (commits, jobs) = store.writer().stats();
        assert!(store.writer().batch_seconds() > 0.0);
        assert!(
            commits - commits_before <= 3,
            "{} commits",
            commits - commits_before
        );
        assert!(jobs >= 21);
        drop(store);
        thread.stop();
    }
}
