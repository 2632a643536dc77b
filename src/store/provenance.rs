//! Where a user or group comes from: the owning integration's name, and claims (which
//! integration took it over from manual provisioning, and when).

use rusqlite::{OptionalExtension, params};

use crate::store::{StoreError, Tx};

/// A recorded claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub integration_id: String,
    pub integration_name: String,
    pub at: String,
}

/// Users or groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    fn table(self) -> (&'static str, &'static str) {
        match self {
            Kind::User => ("user_claims", "user_seq"),
            Kind::Group => ("group_claims", "group_seq"),
        }
    }
}

pub fn integration_name(tx: &mut Tx<'_>, id: &str) -> Result<Option<String>, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached("SELECT name FROM integrations WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

pub fn record_claim(
    tx: &mut Tx<'_>,
    kind: Kind,
    seq: i64,
    integration_id: &str,
    integration_name: &str,
    at: &str,
) -> Result<(), StoreError> {
    let conn = tx.conn();
    let (table, col) = kind.table();
    conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO {table} ({col}, integration_id, integration_name, at) VALUES (?1, ?2, ?3, ?4)"
    ))?
    .execute(params![seq, integration_id, integration_name, at])?;
    Ok(())
}

pub fn claim(tx: &mut Tx<'_>, kind: Kind, seq: i64) -> Result<Option<Claim>, StoreError> {
    let conn = tx.conn();
    let (table, col) = kind.table();
    Ok(conn
        .prepare_cached(&format!(
            "SELECT integration_id, integration_name, at FROM {table} WHERE {col} = ?1"
        ))?
        .query_row([seq], |r| {
            Ok(Claim {
                integration_id: r.get(0)?,
                integration_name: r.get(1)?,
                at: r.get(2)?,
            })
        })
        .optional()?)
}

/// The claims recorded for each of `seqs` (those without one are absent), in one query.
pub fn claims(tx: &mut Tx<'_>, kind: Kind, seqs: &[i64]) -> Result<Vec<(i64, Claim)>, StoreError> {
    let conn = tx.conn();
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    let (table, col) = kind.table();
    let list = serde_json::to_string(seqs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {col}, integration_id, integration_name, at FROM {table}
         WHERE {col} IN (SELECT value FROM json_each(?1))"
    ))?;
    let rows = stmt
        .query_map([list], |r| {
            Ok((
                r.get(0)?,
                Claim {
                    integration_id: r.get(1)?,
                    integration_name: r.get(2)?,
                    at: r.get(3)?,
                },
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
