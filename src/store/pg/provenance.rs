//! Provenance on PostgreSQL: the owning integration's name, and claims (which integration took
//! a user or group over from manual provisioning, and when), as `store::provenance` keeps them
//! on SQLite.

use postgres::GenericClient;

use crate::store::StoreError;
use crate::store::provenance::{Claim, Kind};

/// The claims table of `kind` and its owner column.
fn table(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::User => ("user_claims", "user_seq"),
        Kind::Group => ("group_claims", "group_seq"),
    }
}

pub fn integration_name(
    c: &mut impl GenericClient,
    id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(
        c.query_opt("SELECT name FROM integrations WHERE id = $1", &[&id])?
            .map(|r| r.try_get(0))
            .transpose()?,
    )
}

/// Records a claim, replacing the one recorded before (SQLite's `INSERT OR REPLACE`).
pub fn record_claim(
    c: &mut impl GenericClient,
    kind: Kind,
    seq: i64,
    integration_id: &str,
    integration_name: &str,
    at: &str,
) -> Result<(), StoreError> {
    let (table, col) = table(kind);
    c.execute(
        &format!(
            "INSERT INTO {table} ({col}, integration_id, integration_name, at) VALUES ($1, $2, $3, $4)
             ON CONFLICT ({col}) DO UPDATE SET integration_id = EXCLUDED.integration_id,
                 integration_name = EXCLUDED.integration_name, at = EXCLUDED.at"
        ),
        &[&seq, &integration_id, &integration_name, &at],
    )?;
    Ok(())
}

fn to_claim(r: &postgres::Row, from: usize) -> Result<Claim, StoreError> {
    Ok(Claim {
        integration_id: r.try_get(from)?,
        integration_name: r.try_get(from + 1)?,
        at: r.try_get(from + 2)?,
    })
}

pub fn claim(
    c: &mut impl GenericClient,
    kind: Kind,
    seq: i64,
) -> Result<Option<Claim>, StoreError> {
    let (table, col) = table(kind);
    c.query_opt(
        &format!("SELECT integration_id, integration_name, at FROM {table} WHERE {col} = $1"),
        &[&seq],
    )?
    .map(|r| to_claim(&r, 0))
    .transpose()
}

/// The claims recorded for each of `seqs` (those without one are absent), in one query, by
/// seq, each once (as SQLite's `IN` over the list gives them).
pub fn claims(
    c: &mut impl GenericClient,
    kind: Kind,
    seqs: &[i64],
) -> Result<Vec<(i64, Claim)>, StoreError> {
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    let (table, col) = table(kind);
    c.query(
        &format!(
            "SELECT t.{col}, t.integration_id, t.integration_name, t.at
             FROM (SELECT DISTINCT s FROM unnest($1::bigint[]) AS i(s)) i JOIN {table} t ON t.{col} = i.s
             ORDER BY t.{col}"
        ),
        &[&seqs],
    )?
    .iter()
    .map(|r| Ok((r.try_get(0)?, to_claim(r, 1)?)))
    .collect()
}
