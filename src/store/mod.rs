//! SQLite storage: the one file, its migrations, the single writer thread with group commit,
//! the read-only connection pool, the repositories and the filter-to-SQL compiler.
//! Imports `crate::scim` (for the filter AST and schema) and `crate::private_fs` (files created
//! `0600`), nothing above it (`directory`, `web`, `auth` are callers, never callees).
//!
//! The boundary callers see (issue 18 item 2): work runs in a closure handed a [`Tx`] (by
//! [`Store::write`], [`Store::read`], [`Store::read_now`], or [`Direct`] outside the writer and
//! the pool), and reads and writes rows only through the repository functions, which take
//! that `&mut Tx`. Values that cross it are plain Rust or store-owned types ([`SqlValue`]);
//! no caller names `rusqlite`.

pub mod activity;
pub mod admins;
pub mod backup;
pub mod enrollment;
mod error;
pub mod filter_sql;
pub mod fold;
pub mod groups;
pub mod integrations;
pub mod listing;
pub mod migrations;
pub mod outbox;
pub mod pg;
pub mod provenance;
pub mod secrets;
pub mod users;
mod value;
pub mod verifier_keys;
pub mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};

pub use error::StoreError;
pub use value::SqlValue;
pub use writer::{Writer, WriterThread};

/// The database as one piece of work sees it: the closures of [`Store::write`],
/// [`Store::read`] and [`Store::read_now`] (and of [`Direct`]) receive it, and every
/// repository function takes it as `&mut Tx`. Callers cannot reach the engine through it;
/// only `store` can.
///
/// On SQLite it is a reference to the connection the work runs on, already inside the
/// writer's savepoint for this job or the reader's snapshot: wrapping it costs nothing, and
/// the connection's prepared-statement cache serves every repository call. It is handed out
/// as `&mut` (not `&`) because an engine whose transaction object must be borrowed mutably to
/// run a statement fits behind the same signatures.
pub struct Tx<'a> {
    conn: &'a Connection,
}

impl<'a> Tx<'a> {
    /// Work on `conn`, which the caller has put inside the transaction the work belongs to.
    pub(crate) fn sqlite(conn: &'a Connection) -> Tx<'a> {
        Tx { conn }
    }

    /// The SQLite connection, for the repository functions.
    pub(crate) fn conn(&self) -> &'a Connection {
        self.conn
    }
}

/// A connection one caller uses alone, outside the writer thread and the read pool: the
/// write connection while [`Store::open_then`] prepares it (before the writer takes it), or a
/// file opened for checks ([`backup::open_for_check`]). Its work runs in transactions it
/// opens itself: [`Direct::read`] and [`Direct::immediate`].
pub struct Direct {
    conn: Connection,
}

impl Direct {
    pub(crate) fn new(conn: Connection) -> Direct {
        Direct { conn }
    }

    /// Runs the reads `f` in one read transaction, as [`Store::read`] does.
    pub fn read<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        E: From<StoreError>,
        F: FnOnce(&mut Tx<'_>) -> Result<T, E>,
    {
        snapshot(&self.conn, f)
    }

    /// Runs `f` in one `IMMEDIATE` transaction (the write lock taken at its start), committed
    /// when `f` succeeds and rolled back when it fails.
    pub fn immediate<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        E: From<StoreError>,
        F: FnOnce(&mut Tx<'_>) -> Result<T, E>,
    {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| E::from(StoreError::from(e)))?;
        let out = f(&mut Tx::sqlite(&tx))?;
        tx.commit().map_err(|e| E::from(StoreError::from(e)))?;
        Ok(out)
    }

    /// Makes every later commit on this connection durable before it returns
    /// (`PRAGMA synchronous = FULL`), whatever the configured [`Synchronous`].
    pub fn sync_full(&mut self) -> Result<(), StoreError> {
        Ok(self.conn.pragma_update(None, "synchronous", "FULL")?)
    }

    /// Rewrites the file without free pages and empties the WAL (`VACUUM`, then a truncating
    /// checkpoint), so that deleted or replaced content does not linger on disk.
    pub fn compact(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("VACUUM")?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}

#[cfg(test)]
impl Direct {
    /// Opens (creating) the file at `path` and migrates it, for tests of code that works on a
    /// [`Direct`].
    pub(crate) fn open_migrated(path: &Path) -> Result<Direct, StoreError> {
        let mut conn = Connection::open(path)?;
        migrations::migrate(&mut conn)?;
        Ok(Direct::new(conn))
    }

    /// Runs `sql` as it is: tests set up rows no repository function writes that way.
    pub(crate) fn execute_batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.conn.execute_batch(sql)?)
    }
}

/// How SQLite syncs to disk (`PRAGMA synchronous`). `Full` makes every acknowledged commit
/// survive power loss; `Normal` in WAL mode can lose the last commits on power loss (never on
/// a process crash) and is faster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Full,
    Normal,
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub path: PathBuf,
    pub synchronous: Synchronous,
    pub read_connections: u32,
}

/// The database: a writer handle and a pool of read-only connections.
#[derive(Clone)]
pub struct Store {
    writer: Writer,
    readers: r2d2::Pool<SqliteConnectionManager>,
    /// A connection of its own that only asks `PRAGMA data_version` (see [`Store::data_version`]).
    watch: std::sync::Arc<std::sync::Mutex<Connection>>,
}

pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const STATEMENT_CACHE: usize = 256;

fn configure(conn: &Connection, sync: Synchronous) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // rusqlite keeps 16 prepared statements per connection by default; the writer alone runs
    // more distinct ones than that (each repository's inserts, updates and deletes, the
    // activity log, the savepoints), and a filter's SQL has one text per filter shape. An
    // evicted statement is parsed and planned again on its next use.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // The query planner stability guarantee: plans do not depend on the values bound to
    // parameters. Without it, this SQLite (built with STAT4) recompiles a cached statement on
    // every execution whose LIMIT, OFFSET or indexed-column parameter changed — most of the
    // cost of an `eq` filter. Plans are steered with `+column` where it matters instead.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Deleted and overwritten content is zeroed, not left in free pages: an old TOTP secret
    // (sealed or, before sealing, plaintext) does not linger in the file (issue 13 item 2).
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.pragma_update(
        None,
        "synchronous",
        match sync {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        },
    )?;
    fold::register(conn)?;
    filter_sql::register(conn)
}

/// How [`Store::open_then`] takes the lock file `<database>.lock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Serving and the operator commands: any number at once.
    Shared,
    /// `secrets rotate-key`: alone, so that no running server keeps using the old key.
    Exclusive,
}

/// `<database>.lock` beside the database: holds nothing, only locked (see [`LockMode`]).
pub fn lock_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

pub(crate) fn take_lock(db: &Path, mode: LockMode) -> Result<std::fs::File, StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = lock_path(db);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(crate::private_fs::FILE_MODE)
        .open(&path)
        .map_err(|e| StoreError::Task(format!("cannot open {}: {e}", path.display())))?;
    let taken = match mode {
        LockMode::Shared => file.try_lock_shared(),
        LockMode::Exclusive => file.try_lock(),
    };
    match taken {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked(match mode {
            LockMode::Shared => format!(
                "{} is locked by `scimgate secrets rotate-key`; wait for it to finish",
                db.display()
            ),
            LockMode::Exclusive => format!(
                "{} is in use (a running `scimgate serve` or another scimgate command holds {}); stop it first",
                db.display(),
                path.display()
            ),
        })),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Task(format!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}

/// Creates the database file `0600` before SQLite does (SQLite gives its `-wal` and `-shm`
/// files the database's mode), or warns when an existing one is open to group or others
/// (issue 13 item 3).
fn create_private_or_warn(db: &Path) -> Result<(), StoreError> {
    match crate::private_fs::create_new(db) {
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(StoreError::Task(format!(
                "cannot create {}: {e}",
                db.display()
            )));
        }
    }
    let mut open: Vec<String> = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let p = PathBuf::from(p);
        if crate::private_fs::open_to_others(&p).is_some() {
            open.push(p.display().to_string());
        }
    }
    if !open.is_empty() {
        tracing::warn!(
            "the database {} can be read by group or others, and it holds the directory; run: chmod 600 {}",
            db.display(),
            open.join(" ")
        );
    }
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the database, applies migrations and starts the writer.
    pub fn open(opts: &StoreOptions) -> Result<(Store, WriterThread), StoreError> {
        Self::open_then(opts, LockMode::Shared, |_| Ok::<_, StoreError>(()))
            .map(|(store, thread, ())| (store, thread))
    }

    /// Opens the database as [`Store::open`] does, holding its lock file in `lock` mode until
    /// the writer stops, and runs `prepare` on the write connection (as a [`Direct`]) after
    /// the migrations and before anything else uses it. When `prepare` fails, nothing else happens (no writer,
    /// no readers) and its error is returned.
    pub fn open_then<T, E, F>(
        opts: &StoreOptions,
        lock: LockMode,
        prepare: F,
    ) -> Result<(Store, WriterThread, T), E>
    where
        E: From<StoreError>,
        F: FnOnce(&mut Direct) -> Result<T, E>,
    {
        let dir = crate::private_fs::parent_of(&opts.path);
        crate::private_fs::create_dir_all(dir).map_err(|e| {
            StoreError::Task(format!(
                "cannot create the directory {}: {e}",
                dir.display()
            ))
        })?;
        let lock = take_lock(&opts.path, lock)?;
        create_private_or_warn(&opts.path)?;
        let mut conn = Connection::open_with_flags(
            &opts.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(StoreError::from)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(StoreError::from)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Task(format!(
                "{} cannot use WAL mode (got '{mode}'); put the database on a local filesystem",
                opts.path.display()
            ))
            .into());
        }
        configure(&conn, opts.synchronous).map_err(StoreError::from)?;
        migrations::migrate(&mut conn)?;
        let mut direct = Direct::new(conn);
        let prepared = prepare(&mut direct)?;
        let conn = direct.conn;

        let sync = opts.synchronous;
        let manager = SqliteConnectionManager::file(&opts.path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(move |c| {
                configure(c, sync)?;
                // Readers never write: a bug that tries fails loudly instead of racing the writer.
                c.pragma_update(None, "query_only", "ON")
            });
        let readers = r2d2::Pool::builder()
            .max_size(opts.read_connections.max(1))
            // r2d2 would otherwise prepare and run a statement on every checkout to test the
            // connection; a local SQLite file does not drop connections.
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            .map_err(StoreError::from)?;
        let watch = Connection::open_with_flags(
            &opts.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|c| {
            c.busy_timeout(BUSY_TIMEOUT)?;
            c.pragma_update(None, "query_only", "ON")?;
            Ok(c)
        })
        .map_err(StoreError::from)?;
        let watch = std::sync::Arc::new(std::sync::Mutex::new(watch));
        let (writer, mut thread) = writer::spawn(conn)
            .map_err(|e| StoreError::Task(format!("cannot start the writer thread: {e}")))?;
        thread.hold(lock);
        Ok((
            Store {
                writer,
                readers,
                watch,
            },
            thread,
            prepared,
        ))
    }

    /// The writer's change counter ([`Writer::changes`]): read before a read starts; while it
    /// has not moved, that read's results still hold.
    pub fn changes(&self) -> u64 {
        self.writer.changes()
    }

    /// SQLite's `PRAGMA data_version` on one connection kept for asking only this: it changes
    /// whenever any other connection commits — this process's writer, or another process on
    /// the same file (the `scimgate` operator commands while `serve` runs). Two equal answers
    /// mean nothing was committed in between, so what was read before the first still holds.
    /// It reads a counter from the WAL index in shared memory, a few microseconds, on the
    /// calling thread.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        let conn = self.watch.lock().unwrap_or_else(|p| p.into_inner());
        conn.prepare_cached("PRAGMA data_version")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(StoreError::from)
    }

    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// Runs `f` on the writer (see [`Writer::write`]).
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
    {
        self.writer.write(|conn| f(&mut Tx::sqlite(conn))).await
    }

    /// Runs a read that costs about as much as handing it to another thread would — a lookup
    /// through an index, a few rows — right here on the calling (async) thread, with an idle
    /// read-only connection; when none is idle, exactly as [`Store::read`]. Two thread
    /// hand-offs (and their wake-ups) are a large part of such a request's cost on a small
    /// machine. Anything that may scan belongs in [`Store::read`].
    pub async fn read_now<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
    {
        match self.readers.try_get() {
            Some(conn) => snapshot(&conn, f),
            None => self.read(f).await,
        }
    }

    /// Runs `f` on a read-only connection, on a blocking thread off the async workers.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
    {
        let pool = self.readers.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let conn = pool.get().map_err(|e| E::from(StoreError::Pool(e)))?;
            snapshot(&conn, f)
        })
        .await;
        match joined {
            Ok(r) => r,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(E::from(StoreError::Task(e.to_string()))),
        }
    }
}

/// Runs a read in one read transaction. Every statement of the read sees the same snapshot (a
/// user and its groups, a page and its count agree with each other), and SQLite takes and
/// releases its WAL read lock once for the read instead of once per statement: each costs
/// `fcntl` calls on the database and its `-shm` file, about a tenth of a GET by id when its
/// three statements each took their own.
fn snapshot<T, E, F>(conn: &Connection, f: F) -> Result<T, E>
where
    E: From<StoreError>,
    F: FnOnce(&mut Tx<'_>) -> Result<T, E>,
{
    // A connection is never returned to the pool inside a transaction (see `EndRead`); should
    // one be, its stale snapshot ends here rather than being read from.
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    conn.prepare_cached("BEGIN")
        .and_then(|mut s| s.execute([]))
        .map_err(|e| E::from(StoreError::from(e)))?;
    let _end = EndRead(conn);
    f(&mut Tx::sqlite(conn))
}

/// Ends the read transaction of [`snapshot`], also when the read fails or panics.
struct EndRead<'a>(&'a Connection);

impl Drop for EndRead<'_> {
    fn drop(&mut self) {
        let ended = self
            .0
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]));
        if let Err(e) = ended {
            tracing::warn!(error = %e, "ending a read transaction failed; rolling it back");
            let _ = self.0.execute_batch("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A fresh database in a temporary directory, with one read connection.
    pub(crate) fn open_temp(sync: Synchronous) -> (tempfile::TempDir, Store, WriterThread) {
        let dir = tempfile::tempdir().unwrap();
        let (store, thread) = Store::open(&StoreOptions {
            path: dir.path().join("t.db"),
            synchronous: sync,
            read_connections: 1,
        })
        .unwrap();
        (dir, store, thread)
    }

    fn count(tx: &mut Tx<'_>) -> Result<i64, StoreError> {
        Ok(tx
            .conn()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)
    }

    /// `data_version` moves on every commit, by this process's writer or by another connection
    /// to the file (another process), and stays while nothing is committed (issue 15 item 3).
    #[tokio::test(flavor = "current_thread")]
    async fn data_version_moves_on_any_commit() {
        let (dir, store, thread) = open_temp(Synchronous::Normal);
        let v0 = store.data_version().unwrap();
        assert_eq!(store.data_version().unwrap(), v0);
        store
            .write(|c| Ok::<_, StoreError>(c.conn().execute_batch("CREATE TABLE t (k INTEGER)")?))
            .await
            .unwrap();
        let v1 = store.data_version().unwrap();
        assert_ne!(v1, v0);
        assert_eq!(store.data_version().unwrap(), v1);
        let other = Connection::open(dir.path().join("t.db")).unwrap();
        other.execute("INSERT INTO t VALUES (1)", []).unwrap();
        let v2 = store.data_version().unwrap();
        assert_ne!(v2, v1);
        assert_eq!(store.data_version().unwrap(), v2);
        drop(store);
        thread.stop();
    }

    /// A read runs in one transaction, which ends however the read ends: the next read on the
    /// same (only) connection sees what was written in between.
    #[tokio::test(flavor = "current_thread")]
    async fn reads_are_snapshots_that_always_end() {
        let (_dir, store, thread) = open_temp(Synchronous::Normal);
        let insert = |store: &Store| {
            let store = store.clone();
            async move {
                store
                    .write(|c| {
                        Ok::<_, StoreError>(c.conn().execute("INSERT INTO t DEFAULT VALUES", [])?)
                    })
                    .await
                    .unwrap();
            }
        };
        store
            .write(|c| {
                Ok::<_, StoreError>(
                    c.conn()
                        .execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY)")?,
                )
            })
            .await
            .unwrap();
        // Inside a read, a transaction is open (and the statements share its snapshot).
        let in_tx = store
            .read(|c| Ok::<_, StoreError>(!c.conn().is_autocommit()))
            .await
            .unwrap();
        assert!(in_tx);
        insert(&store).await;
        assert_eq!(store.read(count).await.unwrap(), 1);
        // A read that fails ends its transaction too.
        let failed: Result<(), StoreError> = store
            .read(|c| {
                count(c)?;
                Err(StoreError::Task("the read failed".into()))
            })
            .await;
        assert!(failed.is_err());
        insert(&store).await;
        assert_eq!(store.read_now(count).await.unwrap(), 2);
        // So does one that panics.
        let panicked = std::panic::AssertUnwindSafe(store.read(|c| -> Result<(), StoreError> {
            count(c)?;
            panic!("a bug in a read");
        }));
        assert!(
            futures_util::FutureExt::catch_unwind(panicked)
                .await
                .is_err()
        );
        insert(&store).await;
        assert_eq!(store.read_now(count).await.unwrap(), 3);
        drop(store);
        thread.stop();
    }

    /// The change counter moves with the directory's tables, not with the activity log.
    #[tokio::test(flavor = "current_thread")]
    async fn changes_count_data_not_activity() {
        let (_dir, store, thread) = open_temp(Synchronous::Normal);
        let before = store.changes();
        store
            .write(|c| {
                Ok::<_, StoreError>(c.conn().execute(
                    "INSERT INTO activity (at, method, path, status, latency_ms, summary) VALUES ('2026-01-01T00:00:00Z', 'GET', '/x', 200, 1, 's')",
                    [],
                )?)
            })
            .await
            .unwrap();
        assert_eq!(store.changes(), before);
        store
            .write(|c| {
                Ok::<_, StoreError>(c.conn().execute(
                    "INSERT INTO integrations (id, name, name_folded, kind, token_digest, created, token_created) VALUES ('i1', 'Okta', 'okta', 'scim2', X'00', 'now', 'now')",
                    [],
                )?)
            })
            .await
            .unwrap();
        assert!(store.changes() > before);
        drop(store);
        thread.stop();
    }
}
