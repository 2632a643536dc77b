//! Verifier keys on PostgreSQL: `store::verifier_keys` with the same rows and answers. Names
//! are unique among the keys in force (the partial unique index `verifier_keys_active_name`):
//! a concurrent insert of the same name is the same `Conflict`.

use postgres::GenericClient;
use postgres::error::SqlState;

use crate::store::StoreError;
use crate::store::fold::fold;
use crate::store::verifier_keys::VerifierKeyRow;

const COLUMNS: &str = "id, name, created_at, last_used_at, revoked_at";

fn row(r: &postgres::Row) -> VerifierKeyRow {
    VerifierKeyRow {
        id: r.get(0),
        name: r.get(1),
        created_at: r.get(2),
        last_used_at: r.get(3),
        revoked_at: r.get(4),
    }
}

/// As `store::verifier_keys::insert`: a key in force with the same name (case-insensitively)
/// is a `Conflict`.
pub fn insert(
    c: &mut impl GenericClient,
    key: &VerifierKeyRow,
    digest: &[u8],
) -> Result<(), StoreError> {
    if let Some(existing) = find_by_name(c, &key.name)? {
        return Err(StoreError::Conflict {
            attribute: "name",
            value: existing.name,
        });
    }
    c.execute(
        "INSERT INTO verifier_keys (id, name, name_folded, digest, created_at, last_used_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &key.id,
            &key.name,
            &fold(&key.name),
            &digest,
            &key.created_at,
            &key.last_used_at,
            &key.revoked_at,
        ],
    )
    .map_err(|e| {
        let name_taken = e.code() == Some(&SqlState::UNIQUE_VIOLATION)
            && e.as_db_error().and_then(|d| d.constraint()) == Some("verifier_keys_active_name");
        if name_taken {
            StoreError::Conflict {
                attribute: "name",
                value: key.name.clone(),
            }
        } else {
            StoreError::Postgres(e)
        }
    })?;
    Ok(())
}

/// As `store::verifier_keys::list_active`: the keys in force, oldest first.
pub fn list_active(c: &mut impl GenericClient) -> Result<Vec<VerifierKeyRow>, StoreError> {
    Ok(c.query(
        &format!(
            "SELECT {COLUMNS} FROM verifier_keys WHERE revoked_at IS NULL ORDER BY created_at, id"
        ),
        &[],
    )?
    .iter()
    .map(row)
    .collect())
}

/// As `store::verifier_keys::find_by_name`: the key in force, case-insensitively.
pub fn find_by_name(
    c: &mut impl GenericClient,
    name: &str,
) -> Result<Option<VerifierKeyRow>, StoreError> {
    Ok(c.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM verifier_keys WHERE name_folded = $1 AND revoked_at IS NULL"
        ),
        &[&fold(name)],
    )?
    .as_ref()
    .map(row))
}

/// As `store::verifier_keys::find`: the key in force with this id.
pub fn find(c: &mut impl GenericClient, id: &str) -> Result<Option<VerifierKeyRow>, StoreError> {
    Ok(c.query_opt(
        &format!("SELECT {COLUMNS} FROM verifier_keys WHERE id = $1 AND revoked_at IS NULL"),
        &[&id],
    )?
    .as_ref()
    .map(row))
}

/// As `store::verifier_keys::find_by_digest`: the key in force, with the stored digest for
/// the caller's constant-time comparison.
pub fn find_by_digest(
    c: &mut impl GenericClient,
    digest: &[u8],
) -> Result<Option<(VerifierKeyRow, Vec<u8>)>, StoreError> {
    Ok(c.query_opt(
        &format!(
            "SELECT {COLUMNS}, digest FROM verifier_keys WHERE digest = $1 AND revoked_at IS NULL"
        ),
        &[&digest],
    )?
    .map(|r| (row(&r), r.get(5))))
}

/// As `store::verifier_keys::touch`.
pub fn touch(c: &mut impl GenericClient, id: &str, now: &str) -> Result<(), StoreError> {
    c.execute(
        "UPDATE verifier_keys SET last_used_at = $2 WHERE id = $1",
        &[&id, &now],
    )?;
    Ok(())
}

/// As `store::verifier_keys::revoke`: `NotFound` unless a key in force has this id.
pub fn revoke(c: &mut impl GenericClient, id: &str, now: &str) -> Result<(), StoreError> {
    let n = c.execute(
        "UPDATE verifier_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        &[&id, &now],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
