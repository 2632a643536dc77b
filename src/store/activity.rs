//! The `activity` table: one row per SCIM request, pruned by age and count.

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter};

use crate::store::{StoreError, Tx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityRow {
    pub seq: i64,
    pub at: String,
    pub integration_id: Option<String>,
    pub integration_name: Option<String>,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub latency_ms: i64,
    pub summary: String,
    pub user_id: Option<String>,
    /// The request body with secrets redacted (see `scim::redact`), possibly cut; only
    /// [`get`] loads it.
    pub body: Option<String>,
    /// The size of the body the client sent, in bytes.
    pub body_bytes: Option<i64>,
    /// Why the body is missing or cut, for the page.
    pub body_note: Option<String>,
    /// The client address (`web::limits`).
    pub client: Option<String>,
    /// On a row that counts requests refused before authentication: how many.
    pub refused: Option<i64>,
}

/// Inserts a row; returns its `seq`.
pub fn insert(tx: &mut Tx<'_>, a: &ActivityRow) -> Result<i64, StoreError> {
    let conn = tx.conn();
    conn.prepare_cached(
        "INSERT INTO activity (at, integration_id, integration_name, method, path, status, latency_ms, summary, user_id, body, body_bytes, body_note, client, refused)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        a.at,
        a.integration_id,
        a.integration_name,
        a.method,
        a.path,
        a.status,
        a.latency_ms,
        a.summary,
        a.user_id,
        a.body,
        a.body_bytes,
        a.body_note,
        a.client,
        a.refused
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Updates the count of an aggregated row of refused requests; false when the row is gone
/// (pruned), so the caller inserts it again.
pub fn update_refused(
    tx: &mut Tx<'_>,
    seq: i64,
    refused: i64,
    status: i64,
    summary: &str,
) -> Result<bool, StoreError> {
    let conn = tx.conn();
    let n = conn
        .prepare_cached(
            "UPDATE activity SET refused = ?2, status = ?3, summary = ?4
             WHERE seq = ?1 AND refused IS NOT NULL",
        )?
        .execute(params![seq, refused, status, summary])?;
    Ok(n == 1)
}

/// Deletes rows older than `before` and all but the newest `keep` rows.
pub fn prune(tx: &mut Tx<'_>, before: &str, keep: i64) -> Result<usize, StoreError> {
    let conn = tx.conn();
    let old = conn
        .prepare_cached("DELETE FROM activity WHERE at < ?1")?
        .execute([before])?;
    let over = conn
        .prepare_cached("DELETE FROM activity WHERE seq <= (SELECT max(seq) FROM activity) - ?1")?
        .execute([keep])?;
    Ok(old + over)
}

/// What the Activity page filters on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityFilter {
    pub integration_id: Option<String>,
    pub user_id: Option<String>,
    /// Only responses with status >= 400.
    pub errors_only: bool,
    /// Only responses of this status class (2 for 2xx, 4 for 4xx, 5 for 5xx).
    pub status_class: Option<u16>,
    /// Only requests on this kind of resource.
    pub resource: Option<Resource>,
}

/// The resource a request addressed, from its path below the Base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Users,
    Groups,
    /// Everything else: discovery endpoints, `/Bulk`, unknown paths.
    Other,
}

/// A page of activity, newest first, with the total count.
pub fn list(
    tx: &mut Tx<'_>,
    f: &ActivityFilter,
    offset: u64,
    limit: u64,
) -> Result<(u64, Vec<ActivityRow>), StoreError> {
    let conn = tx.conn();
    let mut conds = vec!["1".to_owned()];
    let mut params: Vec<SqlValue> = Vec::new();
    if let Some(i) = &f.integration_id {
        conds.push("integration_id = ?".into());
        params.push(SqlValue::Text(i.clone()));
    }
    if let Some(u) = &f.user_id {
        conds.push("user_id = ?".into());
        params.push(SqlValue::Text(u.clone()));
    }
    if f.errors_only {
        conds.push("status >= 400".into());
    }
    if let Some(class) = f.status_class {
        conds.push("status / 100 = ?".into());
        params.push(SqlValue::Integer(i64::from(class)));
    }
    // Paths are recorded below the Base URL (`/Users/…`); LIKE is ASCII case-insensitive,
    // as the routes are.
    const USERS: &str = "(path LIKE '/Users' OR path LIKE '/Users/%' OR path LIKE '/Users?%')";
    const GROUPS: &str = "(path LIKE '/Groups' OR path LIKE '/Groups/%' OR path LIKE '/Groups?%')";
    match f.resource {
        Some(Resource::Users) => conds.push(USERS.into()),
        Some(Resource::Groups) => conds.push(GROUPS.into()),
        Some(Resource::Other) => conds.push(format!("NOT {USERS} AND NOT {GROUPS}")),
        None => {}
    }
    let wherec = conds.join(" AND ");
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM activity WHERE {wherec}"))?
        .query_row(params_from_iter(params.iter()), |r| r.get(0))?;
    params.push(SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    params.push(SqlValue::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT seq, at, integration_id, integration_name, method, path, status, latency_ms, summary, user_id,
                NULL, body_bytes, NULL, client, refused
         FROM activity WHERE {wherec} ORDER BY seq DESC LIMIT ? OFFSET ?"
    ))?;
    let rows = stmt
        .query_map(params_from_iter(params.iter()), decode)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((total.max(0) as u64, rows))
}

/// A row of the 15 columns `list` and `get` select, in table order.
fn decode(r: &rusqlite::Row<'_>) -> rusqlite::Result<ActivityRow> {
    Ok(ActivityRow {
        seq: r.get(0)?,
        at: r.get(1)?,
        integration_id: r.get(2)?,
        integration_name: r.get(3)?,
        method: r.get(4)?,
        path: r.get(5)?,
        status: r.get(6)?,
        latency_ms: r.get(7)?,
        summary: r.get(8)?,
        user_id: r.get(9)?,
        body: r.get(10)?,
        body_bytes: r.get(11)?,
        body_note: r.get(12)?,
        client: r.get(13)?,
        refused: r.get(14)?,
    })
}

/// One request with its body.
pub fn get(tx: &mut Tx<'_>, seq: i64) -> Result<Option<ActivityRow>, StoreError> {
    let conn = tx.conn();
    let mut stmt = conn.prepare_cached(
        "SELECT seq, at, integration_id, integration_name, method, path, status, latency_ms, summary, user_id, body, body_bytes, body_note, client, refused
         FROM activity WHERE seq = ?1",
    )?;
    let mut rows = stmt.query_map([seq], decode)?;
    Ok(rows.next().transpose()?)
}

/// The latest request of each integration: (integration id, time, status).
pub fn latest_per_integration(tx: &mut Tx<'_>) -> Result<Vec<(String, String, i64)>, StoreError> {
    let conn = tx.conn();
    let mut stmt = conn.prepare_cached(
        "SELECT a.integration_id, a.at, a.status FROM activity a
         JOIN (SELECT integration_id, max(seq) AS seq FROM activity
               WHERE integration_id IS NOT NULL GROUP BY integration_id) m ON m.seq = a.seq",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
