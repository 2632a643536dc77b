//! The PostgreSQL dialect of the store (issue 18), NOT YET SELECTABLE: no setting, flag or
//! page chooses it; it is built and tested against a real PostgreSQL while the engine is
//! completed piece by piece. It owns the PostgreSQL schema (its own migrations, the same
//! tables and meaning as SQLite's, jsonb for documents) and a twin of every repository
//! function of the SQLite store (same name, arguments and result; the first argument a
//! `postgres` client), each tested to answer as SQLite does (tests/it/pg_repos.rs,
//! `appliance_tests`). Not yet done: `store::Tx` has no PostgreSQL variant to dispatch to
//! them, so the appliance cannot run on PostgreSQL.
//! Rows are derived from documents by the same Rust code as SQLite's (`store::users::derive`,
//! `store::fold`), so folded columns agree between the engines byte for byte. The filter
//! compiler's PostgreSQL output is `store::filter_sql` with `Dialect::Postgres`.
//!
//! Imports `crate::scim` and the rest of `crate::store`; nothing above the store.

pub mod activity;
pub mod admins;
pub mod copy;
pub mod enrollment;
pub mod groups;
pub mod integrations;
pub mod listing;
pub mod outbox;
pub mod provenance;
pub mod secrets;
pub mod users;
pub mod verifier_keys;

use postgres::GenericClient;

use crate::store::StoreError;
use crate::store::fold::fold;

/// The migrations, in order; migration N (1-based) brings the schema to version N.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_appliance.sql"),
    include_str!("migrations/0003_outbox_lease.sql"),
];

/// The schema version this binary writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// The advisory lock that serialises migrations when several appliances start together
/// (issue 18 item 4): "scimgate" in ASCII.
const MIGRATION_LOCK: i64 = 0x7363_696d_6761_7465;

/// Brings the database to [`LATEST`] in one transaction, holding the migration advisory lock,
/// so that of several nodes starting together one migrates and the others then find the
/// schema current. A database newer than this binary is refused.
pub fn migrate(client: &mut impl GenericClient) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS scimgate_schema (version BIGINT NOT NULL)")?;
    let current: i64 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM scimgate_schema", &[])?
        .get(0);
    if current > LATEST {
        return Err(StoreError::TooNew {
            found: current,
            supported: LATEST,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.batch_execute(sql)?;
        let version = (i + 1) as i64;
        if version == 1 {
            fill_case_fold(&mut tx)?;
        }
        tx.execute("DELETE FROM scimgate_schema", &[])?;
        tx.execute(
            "INSERT INTO scimgate_schema (version) VALUES ($1)",
            &[&version],
        )?;
        tracing::info!(version, "applied PostgreSQL migration");
    }
    tx.commit()?;
    Ok(())
}

/// Fills `scim_case_fold` (migration 1): every code point whose fold (`store::fold`, the
/// Unicode tables SQLite's `scim_fold` uses) is not itself, about 1,500 rows.
fn fill_case_fold(tx: &mut impl GenericClient) -> Result<(), StoreError> {
    let (mut from, mut to) = (Vec::new(), Vec::new());
    for c in (0..=0x10_FFFF).filter_map(char::from_u32) {
        let s = c.to_string();
        let f = fold(&s);
        if f != s {
            from.push(s);
            to.push(f);
        }
    }
    tx.execute(
        "INSERT INTO scim_case_fold (ch, folded) SELECT * FROM unnest($1::text[], $2::text[])",
        &[&from, &to],
    )?;
    Ok(())
}

#[cfg(test)]
mod appliance_tests;

/// The private test cluster (`tests/it/support/postgres.rs`), shared with the unit tests.
#[cfg(test)]
#[path = "../../../tests/it/support/postgres.rs"]
pub(crate) mod test_cluster;
