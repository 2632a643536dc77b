//! The verifier keys repository (`verifier_keys`, migration 0009): keys of `/api/v1/verify`,
//! stored as SHA-256 digests. Revoked rows stay, marked with `revoked_at`.

use rusqlite::{OptionalExtension, params};

use crate::store::fold::fold;
use crate::store::{StoreError, Tx};

/// A stored verifier key, without its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKeyRow {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

const COLUMNS: &str = "id, name, created_at, last_used_at, revoked_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VerifierKeyRow> {
    Ok(VerifierKeyRow {
        id: r.get(0)?,
        name: r.get(1)?,
        created_at: r.get(2)?,
        last_used_at: r.get(3)?,
        revoked_at: r.get(4)?,
    })
}

/// Adds a key. A key in force with the same name (case-insensitively) is a `Conflict`.
pub fn insert(tx: &mut Tx<'_>, key: &VerifierKeyRow, digest: &[u8]) -> Result<(), StoreError> {
    let conn = tx.conn();
    if let Some(existing) = find_by_name(tx, &key.name)? {
        return Err(StoreError::Conflict {
            attribute: "name",
            value: existing.name,
        });
    }
    conn.prepare_cached(
        "INSERT INTO verifier_keys (id, name, name_folded, digest, created_at, last_used_at, revoked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        key.id,
        key.name,
        fold(&key.name),
        digest,
        key.created_at,
        key.last_used_at,
        key.revoked_at
    ])?;
    Ok(())
}

/// The keys in force, oldest first.
pub fn list_active(tx: &mut Tx<'_>) -> Result<Vec<VerifierKeyRow>, StoreError> {
    let conn = tx.conn();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM verifier_keys WHERE revoked_at IS NULL ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The key in force named `name` (case-insensitively).
pub fn find_by_name(tx: &mut Tx<'_>, name: &str) -> Result<Option<VerifierKeyRow>, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM verifier_keys WHERE name_folded = ?1 AND revoked_at IS NULL"
        ))?
        .query_row([fold(name)], row)
        .optional()?)
}

/// The key in force with this id.
pub fn find(tx: &mut Tx<'_>, id: &str) -> Result<Option<VerifierKeyRow>, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM verifier_keys WHERE id = ?1 AND revoked_at IS NULL"
        ))?
        .query_row([id], row)
        .optional()?)
}

/// The key in force whose digest is `digest` (a lookup in the unique index), with the stored
/// digest for the caller's constant-time comparison.
pub fn find_by_digest(
    tx: &mut Tx<'_>,
    digest: &[u8],
) -> Result<Option<(VerifierKeyRow, Vec<u8>)>, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS}, digest FROM verifier_keys WHERE digest = ?1 AND revoked_at IS NULL"
        ))?
        .query_row([digest], |r| Ok((row(r)?, r.get(5)?)))
        .optional()?)
}

/// Records that the key was used (the directory throttles how often this is called).
pub fn touch(tx: &mut Tx<'_>, id: &str, now: &str) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.prepare_cached("UPDATE verifier_keys SET last_used_at = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    Ok(())
}

/// Revokes the key in force with this id: it stops authenticating with this commit.
pub fn revoke(tx: &mut Tx<'_>, id: &str, now: &str) -> Result<(), StoreError> {
    let conn = tx.conn();
    let n = conn
        .prepare_cached(
            "UPDATE verifier_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        )?
        .execute(params![id, now])?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::Tx;
    use rusqlite::Connection;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::migrations::migrate(&mut c).unwrap();
        c
    }

    fn key(id: &str, name: &str) -> VerifierKeyRow {
        VerifierKeyRow {
            id: id.into(),
            name: name.into(),
            created_at: "2026-01-01T00:00:00.000Z".into(),
            last_used_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn names_are_unique_among_keys_in_force() {
        let c = db();
        let tx = &mut Tx::sqlite(&c);
        insert(tx, &key("a", "MFA"), &[1; 32]).unwrap();
        let dup = insert(tx, &key("b", "mfa"), &[2; 32]);
        assert!(
            matches!(dup, Err(StoreError::Conflict { ref value, .. }) if value == "MFA"),
            "{dup:?}"
        );
        assert_eq!(find_by_digest(tx, &[1; 32]).unwrap().unwrap().0.id, "a");
        revoke(tx, "a", "2026-01-02T00:00:00.000Z").unwrap();
        assert!(find_by_digest(tx, &[1; 32]).unwrap().is_none());
        assert!(matches!(
            revoke(tx, "a", "2026-01-02T00:00:00.000Z"),
            Err(StoreError::NotFound)
        ));
        // The name of a revoked key can be reused.
        insert(tx, &key("b", "mfa"), &[2; 32]).unwrap();
        let all = list_active(tx).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].name, "mfa");
        touch(tx, "b", "2026-01-03T00:00:00.000Z").unwrap();
        assert_eq!(
            find(tx, "b").unwrap().unwrap().last_used_at.as_deref(),
            Some("2026-01-03T00:00:00.000Z")
        );
    }
}
