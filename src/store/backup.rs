//! Online backup, inspection and restore of the database file (issue 16 item 1).
//!
//! The copy is made with `VACUUM INTO` (SQLite 3.27+, no rusqlite feature needed): one read
//! transaction on the live file, so it is a consistent snapshot while `serve` keeps writing,
//! and it holds every commit made before it began. The copy is a fresh, compacted file
//! without the free pages `secure_delete` zeroed.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::store::{LockMode, StoreError, migrations};

/// What [`inspect`] found in a database file.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Inspection {
    pub path: String,
    pub size_bytes: u64,
    pub schema_version: i64,
    pub supported_version: i64,
    pub users: i64,
    pub groups: i64,
    pub integrations: i64,
    pub authenticators: i64,
    /// Problems that make the file unusable by this binary; empty when it is sound.
    pub problems: Vec<String>,
    /// Facts worth saying that are not problems (an older schema `serve` migrates).
    pub notes: Vec<String>,
}

/// `<db>-wal`, `<db>-shm`, `<db>.before-restore`…
pub fn sibling(db: &Path, suffix: &str) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// Takes `<db>.lock` in `mode` and keeps it while the returned file lives.
pub fn lock(db: &Path, mode: LockMode) -> Result<std::fs::File, StoreError> {
    crate::store::take_lock(db, mode)
}

fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    if !path.is_file() {
        return Err(StoreError::Task(format!(
            "{} does not exist",
            path.display()
        )));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(crate::store::BUSY_TIMEOUT)?;
    crate::store::fold::register(&conn)?;
    crate::store::filter_sql::register(&conn)?;
    Ok(conn)
}

/// Copies the database `db` (which may be in use by `serve`) to the new file `to`, created
/// `0600`; an existing `to` is refused, never replaced. The caller holds the shared lock.
pub fn copy_to(db: &Path, to: &Path) -> Result<(), StoreError> {
    let conn = open_read_only(db)?;
    crate::private_fs::create_new(to).map_err(|e| {
        StoreError::Task(if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!("{} exists; a backup never replaces a file", to.display())
        } else {
            format!("cannot create {}: {e}", to.display())
        })
    })?;
    // VACUUM INTO accepts an existing empty file: the one just made 0600.
    let target = to.to_string_lossy().into_owned();
    if let Err(e) = conn.execute("VACUUM INTO ?1", [&target]) {
        let _ = std::fs::remove_file(to);
        return Err(e.into());
    }
    // The copy keeps the live file's WAL mode in its header; a rollback-journal file is one
    // self-contained file (no `-wal`/`-shm` appear beside it when it is checked). `serve`
    // turns WAL back on when it opens a restored file.
    Connection::open(to)
        .and_then(|c| c.query_row("PRAGMA journal_mode=DELETE", [], |_| Ok(())))
        .map_err(|e| {
            let _ = std::fs::remove_file(to);
            StoreError::from(e)
        })?;
    std::fs::File::open(to)
        .and_then(|f| f.sync_all())
        .and_then(|()| crate::private_fs::sync_dir(crate::private_fs::parent_of(to)))
        .map_err(|e| StoreError::Task(format!("cannot sync {}: {e}", to.display())))
}

/// Checks the database file at `path` without changing it: `integrity_check`,
/// `foreign_key_check`, the schema version against this binary's, and counts its records.
pub fn inspect(path: &Path) -> Result<Inspection, StoreError> {
    let conn = open_read_only(path)?;
    let mut out = Inspection {
        path: path.display().to_string(),
        size_bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        supported_version: migrations::LATEST,
        ..Inspection::default()
    };
    // A file that is not SQLite at all fails here, with SQLite's own words.
    let integrity: Result<Vec<String>, rusqlite::Error> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect());
    match integrity {
        Ok(rows) if rows.len() == 1 && rows[0] == "ok" => {}
        Ok(rows) => out.problems.extend(
            rows.into_iter()
                .take(10)
                .map(|r| format!("integrity_check: {r}")),
        ),
        Err(e) => {
            out.problems.push(format!("not a readable database: {e}"));
            return Ok(out);
        }
    }
    let fk: Result<Vec<(String, i64, String)>, rusqlite::Error> =
        conn.prepare("PRAGMA foreign_key_check").and_then(|mut s| {
            s.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                    r.get(2)?,
                ))
            })?
            .collect()
        });
    match fk {
        Ok(rows) => out
            .problems
            .extend(rows.into_iter().take(10).map(|(t, row, parent)| {
                format!("foreign_key_check: row {row} of {t} points to a missing {parent} row")
            })),
        Err(e) => out.problems.push(format!("foreign_key_check failed: {e}")),
    }
    out.schema_version = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if out.schema_version > migrations::LATEST {
        out.problems.push(format!(
            "schema version {} is newer than this binary's ({}); use the scimgate that wrote it",
            out.schema_version,
            migrations::LATEST
        ));
        return Ok(out);
    }
    if out.schema_version == 0 {
        out.problems
            .push("schema version 0: not a scimgate database".to_owned());
        return Ok(out);
    }
    if out.schema_version < migrations::LATEST {
        out.notes.push(format!(
            "schema version {} is older than this binary's ({}); `scimgate serve` migrates it when it starts",
            out.schema_version,
            migrations::LATEST
        ));
    }
    let count = |table: &str| -> Result<i64, StoreError> {
        Ok(conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
    };
    out.users = count("users")?;
    out.groups = count("groups")?;
    out.integrations = count("integrations")?;
    out.authenticators = count("authenticators")?;
    Ok(out)
}

/// Opens `path` read-only for a caller's own checks (the secrets, in `directory`).
pub fn open_for_check(path: &Path) -> Result<crate::store::Direct, StoreError> {
    open_read_only(path).map(crate::store::Direct::new)
}

/// Replaces the database `db` with the file `from`. The caller holds the exclusive lock and has
/// checked `from`. The replaced database (its WAL folded in first) is kept as
/// `<db>.before-restore`, which must not exist yet; its `-wal` and `-shm` are removed so that
/// SQLite never applies them to the restored file. Returns the kept file's path, when there was
/// a database to keep.
pub fn replace_with(db: &Path, from: &Path) -> Result<Option<PathBuf>, StoreError> {
    let task = |what: &str, p: &Path, e: std::io::Error| {
        StoreError::Task(format!("cannot {what} {}: {e}", p.display()))
    };
    let kept = sibling(db, ".before-restore");
    if kept.exists() {
        return Err(StoreError::Task(format!(
            "{} exists (from an earlier restore); move it away first",
            kept.display()
        )));
    }
    // Into a temporary file beside the database, then renamed: never half a database in place.
    let tmp = sibling(db, ".restoring");
    let _ = std::fs::remove_file(&tmp);
    {
        let mut out = crate::private_fs::create_new(&tmp).map_err(|e| task("create", &tmp, e))?;
        let mut src = std::fs::File::open(from).map_err(|e| task("read", from, e))?;
        std::io::copy(&mut src, &mut out).map_err(|e| task("write", &tmp, e))?;
        out.sync_all().map_err(|e| task("sync", &tmp, e))?;
    }
    let had_db = db.exists();
    if had_db {
        // Fold the old WAL into the file, so `.before-restore` alone is the whole database.
        let conn = Connection::open(db)?;
        conn.busy_timeout(crate::store::BUSY_TIMEOUT)?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        drop(conn);
        std::fs::rename(db, &kept).map_err(|e| task("rename", db, e))?;
    }
    for suffix in ["-wal", "-shm", "-journal"] {
        let p = sibling(db, suffix);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(task("remove", &p, e)),
        }
    }
    std::fs::rename(&tmp, db).map_err(|e| task("rename", &tmp, e))?;
    crate::private_fs::sync_dir(crate::private_fs::parent_of(db))
        .map_err(|e| task("sync the directory of", db, e))?;
    Ok(had_db.then_some(kept))
}

/// The outcome of the last scheduled backup, for the Settings page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastBackup {
    /// When it finished (RFC 3339, UTC).
    pub at: String,
    pub ok: bool,
    /// The file and its counts, or what went wrong.
    pub message: String,
}

const SCHEDULED_PREFIX: &str = "scimgate-";
const SCHEDULED_SUFFIX: &str = ".db";

/// A scheduled backup of `db` into `dir` (created `0700`) as `scimgate-<stamp>.db`, checked as
/// `scimgate backup` checks; after a good one, only the newest `keep` scheduled backups stay
/// (the names sort by time). A failed backup is kept for inspection and removes nothing.
pub fn scheduled(
    db: &Path,
    dir: &Path,
    stamp: &str,
    keep: usize,
) -> Result<Inspection, StoreError> {
    crate::private_fs::create_dir_all(dir).map_err(|e| {
        StoreError::Task(format!(
            "cannot create the directory {}: {e}",
            dir.display()
        ))
    })?;
    let to = dir.join(format!("{SCHEDULED_PREFIX}{stamp}{SCHEDULED_SUFFIX}"));
    copy_to(db, &to)?;
    let inspection = inspect(&to)?;
    if !inspection.problems.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "the backup {} failed its checks: {}",
            to.display(),
            inspection.problems.join("; ")
        )));
    }
    rotate(dir, keep)?;
    Ok(inspection)
}

/// Removes all but the newest `keep` files named `scimgate-*.db` in `dir`; returns how many.
pub fn rotate(dir: &Path, keep: usize) -> Result<usize, StoreError> {
    let io = |e: std::io::Error| StoreError::Task(format!("cannot list {}: {e}", dir.display()));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(SCHEDULED_PREFIX) && n.ends_with(SCHEDULED_SUFFIX))
        .collect();
    names.sort();
    let excess = names.len().saturating_sub(keep);
    for n in &names[..excess] {
        let p = dir.join(n);
        std::fs::remove_file(&p)
            .map_err(|e| StoreError::Task(format!("cannot remove {}: {e}", p.display())))?;
    }
    Ok(excess)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rotation_keeps_the_newest_and_nothing_else_is_touched() {
        let t = tempfile::tempdir().unwrap();
        for n in [
            "scimgate-20260101T000000Z.db",
            "scimgate-20260103T000000Z.db",
            "scimgate-20260102T000000Z.db",
            "scimgate-20251231T000000Z.db",
            "other.db",
            "scimgate-notes.txt",
        ] {
            std::fs::write(t.path().join(n), b"x").unwrap();
        }
        assert_eq!(rotate(t.path(), 2).unwrap(), 2);
        let mut left: Vec<String> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "other.db",
                "scimgate-20260102T000000Z.db",
                "scimgate-20260103T000000Z.db",
                "scimgate-notes.txt"
            ]
        );
        assert_eq!(rotate(t.path(), 2).unwrap(), 0);
    }
}
