//! The integrations repository.

use rusqlite::{OptionalExtension, params};

use crate::store::fold::fold;
use crate::store::{StoreError, Tx};

/// A stored integration. The token itself is never stored, only its SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub token_digest: Vec<u8>,
    pub send_enrollment_emails: bool,
    pub include_manual: bool,
    pub read_all_users: bool,
    pub created: String,
    pub token_created: String,
    pub token_last_used: Option<String>,
    /// The token replaced by the latest regeneration, while it keeps working (issue 13 item 6).
    pub previous_token_digest: Option<Vec<u8>>,
    pub previous_token_until: Option<String>,
    /// The current token's lifetime, counted from `token_created`; None: it never expires.
    pub token_lifetime_days: Option<i64>,
    /// What a group PATCH answers by default: `no_content` or `resource` (migration 0015).
    pub group_patch_answer: String,
}

const COLUMNS: &str = "id, name, kind, token_digest, send_enrollment_emails, include_manual, read_all_users, created, token_created, token_last_used, previous_token_digest, previous_token_until, token_lifetime_days, group_patch_answer";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IntegrationRow> {
    Ok(IntegrationRow {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: r.get(2)?,
        token_digest: r.get(3)?,
        send_enrollment_emails: r.get(4)?,
        include_manual: r.get(5)?,
        read_all_users: r.get(6)?,
        created: r.get(7)?,
        token_created: r.get(8)?,
        token_last_used: r.get(9)?,
        previous_token_digest: r.get(10)?,
        previous_token_until: r.get(11)?,
        token_lifetime_days: r.get(12)?,
        group_patch_answer: r.get(13)?,
    })
}

pub fn insert(tx: &mut Tx<'_>, i: &IntegrationRow) -> Result<(), StoreError> {
    let conn = tx.conn();
    let taken: Option<String> = conn
        .prepare_cached("SELECT name FROM integrations WHERE name_folded = ?1")?
        .query_row([fold(&i.name)], |r| r.get(0))
        .optional()?;
    if let Some(existing) = taken {
        return Err(StoreError::Conflict {
            attribute: "name",
            value: existing,
        });
    }
    conn.prepare_cached(&format!(
        "INSERT INTO integrations ({COLUMNS}, name_folded) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    ))?
    .execute(params![
        i.id,
        i.name,
        i.kind,
        i.token_digest,
        i.send_enrollment_emails,
        i.include_manual,
        i.read_all_users,
        i.created,
        i.token_created,
        i.token_last_used,
        i.previous_token_digest,
        i.previous_token_until,
        i.token_lifetime_days,
        i.group_patch_answer,
        fold(&i.name)
    ])?;
    Ok(())
}

pub fn find(tx: &mut Tx<'_>, id: &str) -> Result<Option<IntegrationRow>, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM integrations WHERE id = ?1"))?
        .query_row([id], row)
        .optional()?)
}

pub fn list(tx: &mut Tx<'_>) -> Result<Vec<IntegrationRow>, StoreError> {
    let conn = tx.conn();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM integrations ORDER BY created, id"
    ))?;
    let rows = stmt.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Records that the token was used (the directory throttles how often this is called).
pub fn touch(tx: &mut Tx<'_>, id: &str, now: &str) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.prepare_cached("UPDATE integrations SET token_last_used = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    Ok(())
}

/// Counts of users owned by each integration, for listings.
pub fn user_counts(tx: &mut Tx<'_>) -> Result<Vec<(String, i64)>, StoreError> {
    let conn = tx.conn();
    let mut stmt = conn.prepare_cached(
        "SELECT source, count(*) FROM users WHERE source IS NOT NULL GROUP BY source",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn find_by_name(tx: &mut Tx<'_>, name: &str) -> Result<Option<IntegrationRow>, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM integrations WHERE name_folded = ?1"
        ))?
        .query_row([fold(name)], row)
        .optional()?)
}

/// How many groups each integration owns: (integration id, count).
pub fn group_counts(tx: &mut Tx<'_>) -> Result<Vec<(String, i64)>, StoreError> {
    let conn = tx.conn();
    let mut stmt = conn.prepare_cached(
        "SELECT source, count(*) FROM groups WHERE source IS NOT NULL GROUP BY source",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Writes the settings of an integration.
pub fn update_settings(
    tx: &mut Tx<'_>,
    id: &str,
    send_enrollment_emails: bool,
    include_manual: bool,
    read_all_users: bool,
    group_patch_answer: &str,
) -> Result<(), StoreError> {
    let conn = tx.conn();
    let n = conn
        .prepare_cached(
            "UPDATE integrations SET send_enrollment_emails = ?2, include_manual = ?3, read_all_users = ?4, group_patch_answer = ?5 WHERE id = ?1",
        )?
        .execute(params![id, send_enrollment_emails, include_manual, read_all_users, group_patch_answer])?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Replaces the token digest. With `previous_until`, the replaced token moves to the
/// previous-token columns and keeps working until then; without, it stops with this commit.
/// Either way a token replaced earlier (still in its overlap) stops now: one previous token at
/// most.
pub fn replace_token(
    tx: &mut Tx<'_>,
    id: &str,
    digest: &[u8],
    now: &str,
    previous_until: Option<&str>,
) -> Result<(), StoreError> {
    let conn = tx.conn();
    // The right-hand sides read the row as it was before this UPDATE.
    let n = conn
        .prepare_cached(
            "UPDATE integrations SET previous_token_digest = CASE WHEN ?4 IS NULL THEN NULL ELSE token_digest END,
                previous_token_until = ?4, token_digest = ?2, token_created = ?3, token_last_used = NULL
             WHERE id = ?1",
        )?
        .execute(params![id, digest, now, previous_until])?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Sets the current token's lifetime in days (None: never expires).
pub fn set_token_lifetime(tx: &mut Tx<'_>, id: &str, days: Option<i64>) -> Result<(), StoreError> {
    let conn = tx.conn();
    let n = conn
        .prepare_cached("UPDATE integrations SET token_lifetime_days = ?2 WHERE id = ?1")?
        .execute(params![id, days])?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Deletes an integration. Its users stay: `users.source` becomes NULL (manually provisioned)
/// through the foreign key's `ON DELETE SET NULL`. Returns how many users it owned.
pub fn delete(tx: &mut Tx<'_>, id: &str) -> Result<i64, StoreError> {
    let conn = tx.conn();
    let owned: i64 = conn
        .prepare_cached("SELECT count(*) FROM users WHERE source = ?1")?
        .query_row([id], |r| r.get(0))?;
    let n = conn
        .prepare_cached("DELETE FROM integrations WHERE id = ?1")?
        .execute([id])?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(owned)
}

/// Users (`groups == false`) or groups per owner, for `/metrics`: (integration name, count)
/// for every integration (zero included), then (None, count) for the manual ones. One
/// grouped COUNT.
pub fn owned_counts(
    tx: &mut Tx<'_>,
    groups: bool,
) -> Result<Vec<(Option<String>, i64)>, StoreError> {
    let conn = tx.conn();
    let table = if groups { "groups" } else { "users" };
    let mut stmt = conn.prepare_cached(&format!(
        "WITH c AS (SELECT source, count(*) AS n FROM {table} GROUP BY source) \
         SELECT i.name, COALESCE(c.n, 0) FROM integrations i LEFT JOIN c ON c.source = i.id \
         UNION ALL SELECT NULL, COALESCE((SELECT n FROM c WHERE source IS NULL), 0)"
    ))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
