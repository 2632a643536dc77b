//! The outbox on PostgreSQL: `store::outbox` with the same rows and answers, plus the claim
//! that lets every appliance sharing the database drain it (issue 18 item 4): [`claim`] takes
//! the due messages with `FOR UPDATE SKIP LOCKED` and marks them `claimed_until` a lease's
//! end (migration 0003), so two nodes never take the same message, and a message claimed by a
//! node that died is taken again once the lease has run out. Recording the attempt
//! ([`mark_sent`], [`mark_retry`], [`mark_failed`]) or re-queueing ends the claim.
//!
//! Delivery stays at least once, as on SQLite: a node that dies between the mail server's
//! `250` and its commit of "sent" leaves the message to be sent again after the lease. The
//! lease must outlast one attempt (link, render, SMTP timeout), or a slow node's message is
//! taken again while it is still being sent: [`lease_for`] gives one.

use std::time::Duration;

use postgres::GenericClient;

use crate::store::StoreError;
use crate::store::outbox::OutboxRow;

const COLUMNS: &str = "o.id, o.kind, o.user_seq, u.id, o.recipient, o.status, o.attempts, o.next_attempt, o.last_error, o.created, o.sent";

fn row(r: &postgres::Row) -> OutboxRow {
    OutboxRow {
        id: r.get(0),
        kind: r.get(1),
        user_seq: r.get(2),
        user_id: r.get(3),
        recipient: r.get(4),
        status: r.get(5),
        attempts: r.get(6),
        next_attempt: r.get(7),
        last_error: r.get(8),
        created: r.get(9),
        sent: r.get(10),
    }
}

/// How long a claim holds: twice the SMTP timeout plus a minute for issuing the link and
/// recording the outcome, so that a live node finishes its attempt well inside its lease.
pub fn lease_for(smtp_timeout: Duration) -> Duration {
    smtp_timeout.saturating_mul(2) + Duration::from_secs(60)
}

/// As `store::outbox::insert`: queues a message, due now; returns its id.
pub fn insert(
    c: &mut impl GenericClient,
    kind: &str,
    user_seq: Option<i64>,
    recipient: &str,
    now: &str,
) -> Result<i64, StoreError> {
    Ok(c.query_one(
        "INSERT INTO outbox (kind, user_seq, recipient, next_attempt, created)
         VALUES ($1, $2, $3, $4, $4) RETURNING id",
        &[&kind, &user_seq, &recipient, &now],
    )?
    .get(0))
}

/// As `store::outbox::due`: pending messages due at `now`, oldest first, leaving out those
/// another node holds under a lease that has not run out (none on a database that only
/// SQLite's way of draining wrote). A read: it claims nothing, [`claim`] does.
pub fn due(
    c: &mut impl GenericClient,
    now: &str,
    limit: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    Ok(c.query(
        &format!(
            "SELECT {COLUMNS} FROM outbox o LEFT JOIN users u ON u.seq = o.user_seq
                 WHERE o.status = 'pending' AND o.next_attempt <= $1
                   AND (o.claimed_until IS NULL OR o.claimed_until <= $1)
                 ORDER BY o.next_attempt, o.id LIMIT $2"
        ),
        &[&now, &limit],
    )?
    .iter()
    .map(row)
    .collect())
}

/// Claims up to `limit` messages due at `now` (pending, `next_attempt <= now`, no claim or
/// one that ran out by `now`), oldest first, until `lease_until`, and returns them. Rows that
/// another transaction is claiming are skipped (`SKIP LOCKED`), not waited for; a row whose
/// claim another node committed since this statement's snapshot is re-checked when locked and
/// left out. Commit the claim before sending, so that other nodes see it. Run it at READ
/// COMMITTED (PostgreSQL's default): under REPEATABLE READ or SERIALIZABLE that re-check is a
/// serialization failure instead of a skipped row.
pub fn claim(
    c: &mut impl GenericClient,
    now: &str,
    lease_until: &str,
    limit: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    Ok(c.query(
        &format!(
            "WITH picked AS (
                     SELECT id FROM outbox
                     WHERE status = 'pending' AND next_attempt <= $1
                       AND (claimed_until IS NULL OR claimed_until <= $1)
                     ORDER BY next_attempt, id LIMIT $3
                     FOR UPDATE SKIP LOCKED),
                 claimed AS (
                     UPDATE outbox SET claimed_until = $2 FROM picked WHERE outbox.id = picked.id
                     RETURNING outbox.*)
                 SELECT {COLUMNS} FROM claimed o LEFT JOIN users u ON u.seq = o.user_seq
                 ORDER BY o.next_attempt, o.id"
        ),
        &[&now, &lease_until, &limit],
    )?
    .iter()
    .map(row)
    .collect())
}

/// As `store::outbox::find`.
pub fn find(c: &mut impl GenericClient, id: i64) -> Result<Option<OutboxRow>, StoreError> {
    Ok(c.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM outbox o LEFT JOIN users u ON u.seq = o.user_seq WHERE o.id = $1"
        ),
        &[&id],
    )?
    .as_ref()
    .map(row))
}

/// As `store::outbox::list`: the newest first, at most `limit`, only `status` when given.
pub fn list(
    c: &mut impl GenericClient,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    Ok(c.query(
        &format!(
            "SELECT {COLUMNS} FROM outbox o LEFT JOIN users u ON u.seq = o.user_seq
                 WHERE $1::text IS NULL OR o.status = $1::text ORDER BY o.id DESC LIMIT $2"
        ),
        &[&status, &limit],
    )?
    .iter()
    .map(row)
    .collect())
}

/// As `store::outbox::of_user`: newest first.
pub fn of_user(c: &mut impl GenericClient, user_seq: i64) -> Result<Vec<OutboxRow>, StoreError> {
    Ok(c.query(
        &format!(
            "SELECT {COLUMNS} FROM outbox o LEFT JOIN users u ON u.seq = o.user_seq
                 WHERE o.user_seq = $1 ORDER BY o.id DESC"
        ),
        &[&user_seq],
    )?
    .iter()
    .map(row)
    .collect())
}

/// As `store::outbox::mark_sent`; ends the claim.
pub fn mark_sent(c: &mut impl GenericClient, id: i64, now: &str) -> Result<(), StoreError> {
    c.execute(
        "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent = $2, last_error = NULL,
                next_attempt = $2, claimed_until = NULL
         WHERE id = $1 AND status = 'pending'",
        &[&id, &now],
    )?;
    Ok(())
}

/// As `store::outbox::mark_retry`: another attempt at `next_attempt`; ends the claim.
pub fn mark_retry(
    c: &mut impl GenericClient,
    id: i64,
    next_attempt: &str,
    error: &str,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt = $2, last_error = $3,
                claimed_until = NULL
         WHERE id = $1 AND status = 'pending'",
        &[&id, &next_attempt, &error],
    )?;
    Ok(())
}

/// As `store::outbox::mark_failed`; ends the claim.
pub fn mark_failed(c: &mut impl GenericClient, id: i64, error: &str) -> Result<(), StoreError> {
    c.execute(
        "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = $2,
                claimed_until = NULL
         WHERE id = $1 AND status = 'pending'",
        &[&id, &error],
    )?;
    Ok(())
}

/// As `store::outbox::requeue`: a failed or cancelled message due now with a fresh attempt
/// budget and no claim; whether one was re-queued.
pub fn requeue(c: &mut impl GenericClient, id: i64, now: &str) -> Result<bool, StoreError> {
    Ok(c.execute(
        "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt = $2, claimed_until = NULL
         WHERE id = $1 AND status IN ('failed', 'cancelled')",
        &[&id, &now],
    )? == 1)
}

/// As `store::outbox::cancel_pending_of_user`.
pub fn cancel_pending_of_user(
    c: &mut impl GenericClient,
    user_seq: i64,
) -> Result<usize, StoreError> {
    Ok(c.execute(
        "UPDATE outbox SET status = 'cancelled', last_error = 'cancelled: the user was deactivated',
                claimed_until = NULL
         WHERE user_seq = $1 AND status = 'pending'",
        &[&user_seq],
    )? as usize)
}

/// As `store::outbox::counts`: (pending, sent, failed).
pub fn counts(c: &mut impl GenericClient) -> Result<(i64, i64, i64), StoreError> {
    let r = c.query_one(
        "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'sent'),
                count(*) FILTER (WHERE status = 'failed')
         FROM outbox",
        &[],
    )?;
    Ok((r.get(0), r.get(1), r.get(2)))
}

/// As `store::outbox::stats`: (pending, sent, failed, `created` of the oldest pending).
pub fn stats(c: &mut impl GenericClient) -> Result<(i64, i64, i64, Option<String>), StoreError> {
    let r = c.query_one(
        "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'sent'),
                count(*) FILTER (WHERE status = 'failed'), min(created) FILTER (WHERE status = 'pending')
         FROM outbox",
        &[],
    )?;
    Ok((r.get(0), r.get(1), r.get(2), r.get(3)))
}
