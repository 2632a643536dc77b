//! Schema migrations, embedded in the binary and applied in order. The version lives in
//! `PRAGMA user_version`; a database newer than this binary is refused rather than guessed at.

use rusqlite::Connection;

use crate::store::StoreError;

/// The migrations, in order; migration N (1-based) brings the schema to version N.
const MIGRATIONS: &[&str] = &[
    include_str!("0001_init.sql"),
    include_str!("0002_query.sql"),
    include_str!("0003_admin.sql"),
    include_str!("0005_groups.sql"),
    include_str!("0006_outbox.sql"),
    include_str!("0007_claims.sql"),
    include_str!("0008_activity_body.sql"),
    include_str!("0009_verifier_keys.sql"),
    include_str!("0010_sealed_secrets.sql"),
    include_str!("0011_admin_second_factor.sql"),
    include_str!("0012_token_rotation.sql"),
    include_str!("0013_refused_requests.sql"),
    include_str!("0014_import_indexes.sql"),
    include_str!("0015_patch_answer.sql"),
];

/// The schema version this binary writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// The schema version of the database (`PRAGMA user_version`): [`LATEST`] once migrated. The
/// health checks read it, which also proves a read works.
pub fn schema_version(tx: &mut crate::store::Tx<'_>) -> Result<i64, StoreError> {
    Ok(tx
        .conn()
        .query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Brings the database to [`LATEST`], each migration in its own transaction. The connection
/// must have scimgate's SQL functions registered (`scim_fold`: migration 0002 backfills with it).
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    // Migrations may fold text as the application does.
    crate::store::fold::register(conn)?;
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > LATEST {
        return Err(StoreError::TooNew {
            found: current,
            supported: LATEST,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied database migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn applies_and_refuses_newer() {
        let mut c = Connection::open_in_memory().unwrap();
        // Migrations may use the SQL functions every connection has (0002 uses scim_fold).
        crate::store::fold::register(&c).unwrap();
        migrate(&mut c).unwrap();
        migrate(&mut c).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, LATEST);
        c.pragma_update(None, "user_version", LATEST + 1).unwrap();
        assert!(matches!(migrate(&mut c), Err(StoreError::TooNew { .. })));
    }

    #[test]
    fn query_migration_backfills_folded_display_names() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::fold::register(&c).unwrap();
        c.execute_batch(MIGRATIONS[0]).unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
        c.execute(
            "INSERT INTO users (id, user_name, user_name_folded, active, version, created, last_modified, doc)
             VALUES ('i', 'a', 'a', 1, 1, 't', 't', '{\"userName\":\"a\",\"displayName\":\"STRASSE\"}')",
            [],
        )
        .unwrap();
        migrate(&mut c).unwrap();
        let folded: String = c
            .query_row("SELECT display_name_folded FROM users", [], |r| r.get(0))
            .unwrap();
        assert_eq!(folded, crate::store::fold::fold("straße"));
    }
}
