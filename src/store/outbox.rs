//! The outbox repository: queued emails and their delivery state.

use rusqlite::{OptionalExtension, params};

use crate::store::{StoreError, Tx};

/// A queued email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub user_seq: Option<i64>,
    /// The user's id, when the message is about a user.
    pub user_id: Option<String>,
    pub recipient: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt: String,
    pub last_error: Option<String>,
    pub created: String,
    pub sent: Option<String>,
}

const COLUMNS: &str = "o.id, o.kind, o.user_seq, u.id, o.recipient, o.status, o.attempts, o.next_attempt, o.last_error, o.created, o.sent";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        user_seq: r.get(2)?,
        user_id: r.get(3)?,
        recipient: r.get(4)?,
        status: r.get(5)?,
        attempts: r.get(6)?,
        next_attempt: r.get(7)?,
        last_error: r.get(8)?,
        created: r.get(9)?,
        sent: r.get(10)?,
    })
}

/// Queues a message, due now.
pub fn insert(
    tx: &mut Tx<'_>,
    kind: &str,
    user_seq: Option<i64>,
    recipient: &str,
    now: &str,
) -> Result<i64, StoreError> {
    let conn = tx.conn();
    conn.prepare_cached(
        "INSERT INTO outbox (kind, user_seq, recipient, next_attempt, created) VALUES (?1, ?2, ?3, ?4, ?4)",
    )?
    .execute(params![kind, user_seq, recipient, now])?;
    Ok(conn.last_insert_rowid())
}

/// Pending messages due at `now`, oldest first.
pub fn due(tx: &mut Tx<'_>, now: &str, limit: i64) -> Result<Vec<OutboxRow>, StoreError> {
    let conn = tx.conn();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbox o LEFT JOIN users u ON u.seq = o.user_seq
         WHERE o.status = 'pending' AND o.next_attempt <= ?1 ORDER BY o.next_attempt, o.id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![now, limit], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn find(tx: &mut Tx<'_>, id: i64) -> Result<Option<OutboxRow>, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox o LEFT JOIN users u ON u.seq = o.user_seq WHERE o.id = ?1"
        ))?
        .query_row([id], row)
        .optional()?)
}

/// The newest messages first, at most `limit`; only those with `status` when given.
pub fn list(
    tx: &mut Tx<'_>,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    let conn = tx.conn();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbox o LEFT JOIN users u ON u.seq = o.user_seq
         WHERE ?1 IS NULL OR o.status = ?1 ORDER BY o.id DESC LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![status, limit], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The messages about one user, newest first.
pub fn of_user(tx: &mut Tx<'_>, user_seq: i64) -> Result<Vec<OutboxRow>, StoreError> {
    let conn = tx.conn();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM outbox o LEFT JOIN users u ON u.seq = o.user_seq
         WHERE o.user_seq = ?1 ORDER BY o.id DESC"
    ))?;
    let rows = stmt.query_map([user_seq], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Records a delivery the server accepted.
pub fn mark_sent(tx: &mut Tx<'_>, id: i64, now: &str) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.prepare_cached(
        "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent = ?2, last_error = NULL, next_attempt = ?2
         WHERE id = ?1 AND status = 'pending'",
    )?
    .execute(params![id, now])?;
    Ok(())
}

/// Records a temporary failure: another attempt at `next_attempt`.
pub fn mark_retry(
    tx: &mut Tx<'_>,
    id: i64,
    next_attempt: &str,
    error: &str,
) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.prepare_cached(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?2, last_error = ?3
         WHERE id = ?1 AND status = 'pending'",
    )?
    .execute(params![id, next_attempt, error])?;
    Ok(())
}

/// Records a permanent failure (or the last allowed attempt).
pub fn mark_failed(tx: &mut Tx<'_>, id: i64, error: &str) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.prepare_cached(
        "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2
         WHERE id = ?1 AND status = 'pending'",
    )?
    .execute(params![id, error])?;
    Ok(())
}

/// Puts a failed (or cancelled) message back in the queue, due now, with a fresh attempt
/// budget. Returns whether a message was re-queued.
pub fn requeue(tx: &mut Tx<'_>, id: i64, now: &str) -> Result<bool, StoreError> {
    let conn = tx.conn();
    let n = conn
        .prepare_cached(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt = ?2
             WHERE id = ?1 AND status IN ('failed', 'cancelled')",
        )?
        .execute(params![id, now])?;
    Ok(n == 1)
}

/// Cancels the pending messages about a user (deactivated: no enrollment email any more).
pub fn cancel_pending_of_user(tx: &mut Tx<'_>, user_seq: i64) -> Result<usize, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached(
            "UPDATE outbox SET status = 'cancelled', last_error = 'cancelled: the user was deactivated'
             WHERE user_seq = ?1 AND status = 'pending'",
        )?
        .execute([user_seq])?)
}

/// Counts by status: (pending, sent, failed).
pub fn counts(tx: &mut Tx<'_>) -> Result<(i64, i64, i64), StoreError> {
    let conn = tx.conn();
    Ok(conn.query_row(
        "SELECT COALESCE(SUM(status = 'pending'), 0), COALESCE(SUM(status = 'sent'), 0), COALESCE(SUM(status = 'failed'), 0) FROM outbox",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?)
}

/// The outbox at a glance, in one read for `/metrics`: (pending, sent, failed, `created` of
/// the oldest pending message).
pub fn stats(tx: &mut Tx<'_>) -> Result<(i64, i64, i64, Option<String>), StoreError> {
    let conn = tx.conn();
    Ok(conn.query_row(
        "SELECT COALESCE(SUM(status = 'pending'), 0), COALESCE(SUM(status = 'sent'), 0), COALESCE(SUM(status = 'failed'), 0), MIN(CASE WHEN status = 'pending' THEN created END) FROM outbox",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?)
}
