//! Enrollment links and registered TOTP authenticators.

use rusqlite::{OptionalExtension, params};

use crate::store::{StoreError, Tx};

/// A live enrollment link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRow {
    pub user_seq: i64,
    pub expires: String,
    pub pending_secret: Option<String>,
}

/// Stores a link for a user, replacing (and so invalidating) any earlier one.
pub fn issue(
    tx: &mut Tx<'_>,
    user_seq: i64,
    digest: &[u8],
    expires: &str,
    now: &str,
) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.prepare_cached(
        "INSERT OR REPLACE INTO enrollment_links (user_seq, token_digest, expires, created, pending_secret)
         VALUES (?1, ?2, ?3, ?4, NULL)",
    )?
    .execute(params![user_seq, digest, expires, now])?;
    Ok(())
}

/// The link with this token digest, expired or not.
pub fn find(tx: &mut Tx<'_>, digest: &[u8]) -> Result<Option<LinkRow>, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached(
            "SELECT user_seq, expires, pending_secret FROM enrollment_links WHERE token_digest = ?1",
        )?
        .query_row([digest], |r| {
            Ok(LinkRow {
                user_seq: r.get(0)?,
                expires: r.get(1)?,
                pending_secret: r.get(2)?,
            })
        })
        .optional()?)
}

pub fn set_pending_secret(tx: &mut Tx<'_>, user_seq: i64, secret: &str) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.prepare_cached("UPDATE enrollment_links SET pending_secret = ?2 WHERE user_seq = ?1")?
        .execute(params![user_seq, secret])?;
    Ok(())
}

/// Removes a user's link (used, or revoked by a deactivation). Returns whether there was one.
pub fn revoke(tx: &mut Tx<'_>, user_seq: i64) -> Result<bool, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached("DELETE FROM enrollment_links WHERE user_seq = ?1")?
        .execute([user_seq])?
        == 1)
}

/// Registers (or replaces) a user's authenticator.
pub fn register(tx: &mut Tx<'_>, user_seq: i64, secret: &str, now: &str) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.prepare_cached(
        "INSERT OR REPLACE INTO authenticators (user_seq, secret, created, last_step) VALUES (?1, ?2, ?3, 0)",
    )?
    .execute(params![user_seq, secret, now])?;
    Ok(())
}

/// A user's authenticator: (secret, last accepted step).
pub fn authenticator(tx: &mut Tx<'_>, user_seq: i64) -> Result<Option<(String, i64)>, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached("SELECT secret, last_step FROM authenticators WHERE user_seq = ?1")?
        .query_row([user_seq], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Records the last accepted time step (a code is accepted once, RFC 6238 §5.2).
pub fn mark_step(tx: &mut Tx<'_>, user_seq: i64, step: u64) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.prepare_cached("UPDATE authenticators SET last_step = ?2 WHERE user_seq = ?1")?
        .execute(params![user_seq, i64::try_from(step).unwrap_or(i64::MAX)])?;
    Ok(())
}

/// What `/api/v1/verify` needs of an authenticator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorRow {
    pub secret: String,
    pub last_step: i64,
    pub failures: i64,
    pub locked_until: Option<String>,
}

pub fn authenticator_state(
    tx: &mut Tx<'_>,
    user_seq: i64,
) -> Result<Option<AuthenticatorRow>, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached(
            "SELECT secret, last_step, failures, locked_until FROM authenticators WHERE user_seq = ?1",
        )?
        .query_row([user_seq], |r| {
            Ok(AuthenticatorRow {
                secret: r.get(0)?,
                last_step: r.get(1)?,
                failures: r.get(2)?,
                locked_until: r.get(3)?,
            })
        })
        .optional()?)
}

/// Records an accepted code: its step, and no failures.
pub fn record_success(tx: &mut Tx<'_>, user_seq: i64, step: u64) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.prepare_cached(
        "UPDATE authenticators SET last_step = ?2, failures = 0, locked_until = NULL WHERE user_seq = ?1",
    )?
    .execute(params![user_seq, i64::try_from(step).unwrap_or(i64::MAX)])?;
    Ok(())
}

/// Records a wrong code: the failure count, and a lock until `locked_until` when given (which
/// also starts the count again).
pub fn record_failure(
    tx: &mut Tx<'_>,
    user_seq: i64,
    failures: i64,
    locked_until: Option<&str>,
) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.prepare_cached(
        "UPDATE authenticators SET failures = ?2, locked_until = ?3 WHERE user_seq = ?1",
    )?
    .execute(params![user_seq, failures, locked_until])?;
    Ok(())
}
