//! Enrollment links and registered TOTP authenticators on PostgreSQL: `store::enrollment`
//! with the same rows and answers. SQLite's `INSERT OR REPLACE` (which removes every row in
//! the way of any unique constraint, then inserts a fresh row with the columns' defaults) is
//! written out: the row in the way of another unique column is deleted, and the upsert sets
//! every column the fresh row would have.

use postgres::GenericClient;

use crate::store::StoreError;
use crate::store::enrollment::{AuthenticatorRow, LinkRow};

/// As `store::enrollment::issue`: stores a link, replacing (invalidating) any earlier one.
pub fn issue(
    c: &mut impl GenericClient,
    user_seq: i64,
    digest: &[u8],
    expires: &str,
    now: &str,
) -> Result<(), StoreError> {
    // The token digest is unique too: a (vanishingly unlikely) equal digest of another user's
    // link is replaced, as SQLite's OR REPLACE does.
    c.execute(
        "DELETE FROM enrollment_links WHERE token_digest = $1 AND user_seq <> $2",
        &[&digest, &user_seq],
    )?;
    c.execute(
        "INSERT INTO enrollment_links (user_seq, token_digest, expires, created, pending_secret)
         VALUES ($1, $2, $3, $4, NULL)
         ON CONFLICT (user_seq) DO UPDATE SET token_digest = excluded.token_digest,
             expires = excluded.expires, created = excluded.created, pending_secret = NULL",
        &[&user_seq, &digest, &expires, &now],
    )?;
    Ok(())
}

/// As `store::enrollment::find`: the link with this token digest, expired or not.
pub fn find(c: &mut impl GenericClient, digest: &[u8]) -> Result<Option<LinkRow>, StoreError> {
    Ok(c.query_opt(
        "SELECT user_seq, expires, pending_secret FROM enrollment_links WHERE token_digest = $1",
        &[&digest],
    )?
    .map(|r| LinkRow {
        user_seq: r.get(0),
        expires: r.get(1),
        pending_secret: r.get(2),
    }))
}

/// As `store::enrollment::set_pending_secret`.
pub fn set_pending_secret(
    c: &mut impl GenericClient,
    user_seq: i64,
    secret: &str,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE enrollment_links SET pending_secret = $2 WHERE user_seq = $1",
        &[&user_seq, &secret],
    )?;
    Ok(())
}

/// As `store::enrollment::revoke`: whether there was a link.
pub fn revoke(c: &mut impl GenericClient, user_seq: i64) -> Result<bool, StoreError> {
    Ok(c.execute(
        "DELETE FROM enrollment_links WHERE user_seq = $1",
        &[&user_seq],
    )? == 1)
}

/// As `store::enrollment::register`: registers (or replaces) a user's authenticator, with no
/// accepted step, no failures and no lock, as a fresh row.
pub fn register(
    c: &mut impl GenericClient,
    user_seq: i64,
    secret: &str,
    now: &str,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO authenticators (user_seq, secret, created, last_step) VALUES ($1, $2, $3, 0)
         ON CONFLICT (user_seq) DO UPDATE SET secret = excluded.secret, created = excluded.created,
             last_step = 0, failures = 0, locked_until = NULL",
        &[&user_seq, &secret, &now],
    )?;
    Ok(())
}

/// As `store::enrollment::authenticator`: (secret, last accepted step).
pub fn authenticator(
    c: &mut impl GenericClient,
    user_seq: i64,
) -> Result<Option<(String, i64)>, StoreError> {
    Ok(c.query_opt(
        "SELECT secret, last_step FROM authenticators WHERE user_seq = $1",
        &[&user_seq],
    )?
    .map(|r| (r.get(0), r.get(1))))
}

/// As `store::enrollment::mark_step`.
pub fn mark_step(c: &mut impl GenericClient, user_seq: i64, step: u64) -> Result<(), StoreError> {
    c.execute(
        "UPDATE authenticators SET last_step = $2 WHERE user_seq = $1",
        &[&user_seq, &i64::try_from(step).unwrap_or(i64::MAX)],
    )?;
    Ok(())
}

/// As `store::enrollment::authenticator_state`.
pub fn authenticator_state(
    c: &mut impl GenericClient,
    user_seq: i64,
) -> Result<Option<AuthenticatorRow>, StoreError> {
    Ok(c.query_opt(
        "SELECT secret, last_step, failures, locked_until FROM authenticators WHERE user_seq = $1",
        &[&user_seq],
    )?
    .map(|r| AuthenticatorRow {
        secret: r.get(0),
        last_step: r.get(1),
        failures: r.get(2),
        locked_until: r.get(3),
    }))
}

/// As `store::enrollment::record_success`: the step, and no failures.
pub fn record_success(
    c: &mut impl GenericClient,
    user_seq: i64,
    step: u64,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE authenticators SET last_step = $2, failures = 0, locked_until = NULL
         WHERE user_seq = $1",
        &[&user_seq, &i64::try_from(step).unwrap_or(i64::MAX)],
    )?;
    Ok(())
}

/// As `store::enrollment::record_failure`.
pub fn record_failure(
    c: &mut impl GenericClient,
    user_seq: i64,
    failures: i64,
    locked_until: Option<&str>,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE authenticators SET failures = $2, locked_until = $3 WHERE user_seq = $1",
        &[&user_seq, &failures, &locked_until],
    )?;
    Ok(())
}
