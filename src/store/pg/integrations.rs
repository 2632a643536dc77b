//! Integrations on PostgreSQL: `store::integrations` with the same rows and answers. The name
//! is unique case-insensitively (`name_folded`, the same `fold` as SQLite's); a concurrent
//! writer that takes the name between the lookup and the insert hits the unique index, which
//! is the same `Conflict`.

use postgres::GenericClient;
use postgres::error::SqlState;

use crate::store::StoreError;
use crate::store::fold::fold;
use crate::store::integrations::IntegrationRow;

const COLUMNS: &str = "id, name, kind, token_digest, send_enrollment_emails, include_manual, read_all_users, created, token_created, token_last_used, previous_token_digest, previous_token_until, token_lifetime_days, group_patch_answer";

fn row(r: &postgres::Row) -> IntegrationRow {
    IntegrationRow {
        id: r.get(0),
        name: r.get(1),
        kind: r.get(2),
        token_digest: r.get(3),
        send_enrollment_emails: r.get(4),
        include_manual: r.get(5),
        read_all_users: r.get(6),
        created: r.get(7),
        token_created: r.get(8),
        token_last_used: r.get(9),
        previous_token_digest: r.get(10),
        previous_token_until: r.get(11),
        token_lifetime_days: r.get(12),
        group_patch_answer: r.get(13),
    }
}

/// As `store::integrations::insert`.
pub fn insert(c: &mut impl GenericClient, i: &IntegrationRow) -> Result<(), StoreError> {
    let folded = fold(&i.name);
    if let Some(existing) = c.query_opt(
        "SELECT name FROM integrations WHERE name_folded = $1",
        &[&folded],
    )? {
        return Err(StoreError::Conflict {
            attribute: "name",
            value: existing.get(0),
        });
    }
    c.execute(
        &format!(
            "INSERT INTO integrations ({COLUMNS}, name_folded)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ),
        &[
            &i.id,
            &i.name,
            &i.kind,
            &i.token_digest,
            &i.send_enrollment_emails,
            &i.include_manual,
            &i.read_all_users,
            &i.created,
            &i.token_created,
            &i.token_last_used,
            &i.previous_token_digest,
            &i.previous_token_until,
            &i.token_lifetime_days,
            &i.group_patch_answer,
            &folded,
        ],
    )
    .map_err(|e| {
        let name_taken = e.code() == Some(&SqlState::UNIQUE_VIOLATION)
            && e.as_db_error()
                .and_then(|d| d.constraint())
                .is_some_and(|c| c.contains("name_folded"));
        if name_taken {
            StoreError::Conflict {
                attribute: "name",
                value: i.name.clone(),
            }
        } else {
            StoreError::Postgres(e)
        }
    })?;
    Ok(())
}

/// As `store::integrations::find`.
pub fn find(c: &mut impl GenericClient, id: &str) -> Result<Option<IntegrationRow>, StoreError> {
    Ok(c.query_opt(
        &format!("SELECT {COLUMNS} FROM integrations WHERE id = $1"),
        &[&id],
    )?
    .as_ref()
    .map(row))
}

/// As `store::integrations::list`: oldest first.
pub fn list(c: &mut impl GenericClient) -> Result<Vec<IntegrationRow>, StoreError> {
    Ok(c.query(
        &format!("SELECT {COLUMNS} FROM integrations ORDER BY created, id"),
        &[],
    )?
    .iter()
    .map(row)
    .collect())
}

/// As `store::integrations::touch`.
pub fn touch(c: &mut impl GenericClient, id: &str, now: &str) -> Result<(), StoreError> {
    c.execute(
        "UPDATE integrations SET token_last_used = $2 WHERE id = $1",
        &[&id, &now],
    )?;
    Ok(())
}

fn counts(c: &mut impl GenericClient, table: &str) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(c.query(
        &format!("SELECT source, count(*) FROM {table} WHERE source IS NOT NULL GROUP BY source"),
        &[],
    )?
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect())
}

/// As `store::integrations::user_counts`.
pub fn user_counts(c: &mut impl GenericClient) -> Result<Vec<(String, i64)>, StoreError> {
    counts(c, "users")
}

/// As `store::integrations::find_by_name`: case-insensitively.
pub fn find_by_name(
    c: &mut impl GenericClient,
    name: &str,
) -> Result<Option<IntegrationRow>, StoreError> {
    Ok(c.query_opt(
        &format!("SELECT {COLUMNS} FROM integrations WHERE name_folded = $1"),
        &[&fold(name)],
    )?
    .as_ref()
    .map(row))
}

/// As `store::integrations::group_counts`.
pub fn group_counts(c: &mut impl GenericClient) -> Result<Vec<(String, i64)>, StoreError> {
    counts(c, "groups")
}

/// As `store::integrations::update_settings`; `NotFound` for an unknown id.
pub fn update_settings(
    c: &mut impl GenericClient,
    id: &str,
    send_enrollment_emails: bool,
    include_manual: bool,
    read_all_users: bool,
    group_patch_answer: &str,
) -> Result<(), StoreError> {
    let n = c.execute(
        "UPDATE integrations SET send_enrollment_emails = $2, include_manual = $3, read_all_users = $4,
                group_patch_answer = $5
         WHERE id = $1",
        &[
            &id,
            &send_enrollment_emails,
            &include_manual,
            &read_all_users,
            &group_patch_answer,
        ],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// As `store::integrations::replace_token`: with `previous_until` the replaced token keeps
/// working until then; either way an older previous token stops now.
pub fn replace_token(
    c: &mut impl GenericClient,
    id: &str,
    digest: &[u8],
    now: &str,
    previous_until: Option<&str>,
) -> Result<(), StoreError> {
    // The right-hand sides read the row as it was before this UPDATE (as in SQLite).
    let n = c.execute(
        "UPDATE integrations SET
                previous_token_digest = CASE WHEN $4::text IS NULL THEN NULL ELSE token_digest END,
                previous_token_until = $4::text, token_digest = $2, token_created = $3,
                token_last_used = NULL
         WHERE id = $1",
        &[&id, &digest, &now, &previous_until],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// As `store::integrations::set_token_lifetime`.
pub fn set_token_lifetime(
    c: &mut impl GenericClient,
    id: &str,
    days: Option<i64>,
) -> Result<(), StoreError> {
    let n = c.execute(
        "UPDATE integrations SET token_lifetime_days = $2 WHERE id = $1",
        &[&id, &days],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// As `store::integrations::delete`: the users and groups stay, manual from now on (the
/// foreign keys' `ON DELETE SET NULL`). Returns how many users it owned.
pub fn delete(c: &mut impl GenericClient, id: &str) -> Result<i64, StoreError> {
    let owned: i64 = c
        .query_one("SELECT count(*) FROM users WHERE source = $1", &[&id])?
        .get(0);
    let n = c.execute("DELETE FROM integrations WHERE id = $1", &[&id])?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(owned)
}

/// As `store::integrations::owned_counts`: (integration name, count) for every integration,
/// then (None, count) for the manual ones.
pub fn owned_counts(
    c: &mut impl GenericClient,
    groups: bool,
) -> Result<Vec<(Option<String>, i64)>, StoreError> {
    let table = if groups { "groups" } else { "users" };
    Ok(c
        .query(
            &format!(
                "WITH c AS (SELECT source, count(*) AS n FROM {table} GROUP BY source) \
                 SELECT i.name, COALESCE(c.n, 0) FROM integrations i LEFT JOIN c ON c.source = i.id \
                 UNION ALL SELECT NULL, COALESCE((SELECT n FROM c WHERE source IS NULL), 0)"
            ),
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}
