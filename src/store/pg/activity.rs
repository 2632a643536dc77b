//! The `activity` table on PostgreSQL: `store::activity` with the same rows and answers, and
//! the lock that lets scheduled work (activity retention, backups where they apply) run on
//! one appliance at a time when several share the database (issue 18 item 4).
//!
//! Pruning itself is harmless on several nodes at once (each deletes what is old; a row
//! another node deleted first is not counted twice), but it is wasted work: a scheduler takes
//! [`try_scheduled_lock`] in the pruning transaction and skips the run when another node holds
//! it.

use postgres::GenericClient;
use postgres::types::ToSql;

use crate::store::StoreError;
use crate::store::activity::{ActivityFilter, ActivityRow, Resource};

/// Takes the transaction-scoped advisory lock named `name` if no other session holds it
/// (`pg_try_advisory_xact_lock`): true when taken (kept until this transaction ends), false at
/// once when another node's transaction holds it, never waiting. Each name is its own lock;
/// the key is derived from the name with a fixed hash (FNV-1a, 64 bits), the same on every
/// node and every build. Run it inside a transaction: outside one the lock ends with the
/// statement.
pub fn try_scheduled_lock(c: &mut impl GenericClient, name: &str) -> Result<bool, StoreError> {
    Ok(
        c.query_one("SELECT pg_try_advisory_xact_lock($1)", &[&lock_key(name)])?
            .get(0),
    )
}

/// The advisory lock key of a scheduled job: FNV-1a of "scimgate scheduled: " and the name,
/// as i64 (PostgreSQL's bigint). Distinct from the migration lock's key.
fn lock_key(name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "scimgate scheduled: ".bytes().chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

/// As `store::activity::insert`: returns the row's `seq`.
pub fn insert(c: &mut impl GenericClient, a: &ActivityRow) -> Result<i64, StoreError> {
    Ok(c.query_one(
        "INSERT INTO activity (at, integration_id, integration_name, method, path, status, latency_ms,
                               summary, user_id, body, body_bytes, body_note, client, refused)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING seq",
        &[
            &a.at,
            &a.integration_id,
            &a.integration_name,
            &a.method,
            &a.path,
            &a.status,
            &a.latency_ms,
            &a.summary,
            &a.user_id,
            &a.body,
            &a.body_bytes,
            &a.body_note,
            &a.client,
            &a.refused,
        ],
    )?
    .get(0))
}

/// As `store::activity::update_refused`: false when the row is gone (pruned).
pub fn update_refused(
    c: &mut impl GenericClient,
    seq: i64,
    refused: i64,
    status: i64,
    summary: &str,
) -> Result<bool, StoreError> {
    Ok(c.execute(
        "UPDATE activity SET refused = $2, status = $3, summary = $4
         WHERE seq = $1 AND refused IS NOT NULL",
        &[&seq, &refused, &status, &summary],
    )? == 1)
}

/// As `store::activity::prune`: deletes rows older than `before` and all but the newest
/// `keep` rows. SQLite counts back `keep` from the largest `seq`, its row ids having no gaps;
/// PostgreSQL's identity leaves gaps (a rolled-back insert uses a number), so the cut is the
/// `seq` of the (`keep` + 1)-th newest row: the same rows where there are no gaps, and exactly
/// `keep` rows kept where there are.
pub fn prune(c: &mut impl GenericClient, before: &str, keep: i64) -> Result<usize, StoreError> {
    let old = c.execute("DELETE FROM activity WHERE at < $1", &[&before])?;
    let over = c.execute(
        "DELETE FROM activity
         WHERE seq <= (SELECT seq FROM activity ORDER BY seq DESC OFFSET greatest($1::bigint, 0) LIMIT 1)",
        &[&keep],
    )?;
    Ok((old + over) as usize)
}

/// As `store::activity::list`: a page, newest first, with the total count.
pub fn list(
    c: &mut impl GenericClient,
    f: &ActivityFilter,
    offset: u64,
    limit: u64,
) -> Result<(u64, Vec<ActivityRow>), StoreError> {
    let mut conds = vec!["TRUE".to_owned()];
    let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    if let Some(i) = &f.integration_id {
        params.push(Box::new(i.clone()));
        conds.push(format!("integration_id = ${}", params.len()));
    }
    if let Some(u) = &f.user_id {
        params.push(Box::new(u.clone()));
        conds.push(format!("user_id = ${}", params.len()));
    }
    if f.errors_only {
        conds.push("status >= 400".into());
    }
    if let Some(class) = f.status_class {
        params.push(Box::new(i64::from(class)));
        conds.push(format!("status / 100 = ${}", params.len()));
    }
    // SQLite's LIKE ignores ASCII case, as the routes do; ILIKE is PostgreSQL's.
    const USERS: &str = "(path ILIKE '/Users' OR path ILIKE '/Users/%' OR path ILIKE '/Users?%')";
    const GROUPS: &str =
        "(path ILIKE '/Groups' OR path ILIKE '/Groups/%' OR path ILIKE '/Groups?%')";
    match f.resource {
        Some(Resource::Users) => conds.push(USERS.into()),
        Some(Resource::Groups) => conds.push(GROUPS.into()),
        Some(Resource::Other) => conds.push(format!("NOT {USERS} AND NOT {GROUPS}")),
        None => {}
    }
    let wherec = conds.join(" AND ");
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
    let total: i64 = c
        .query_one(
            &format!("SELECT count(*) FROM activity WHERE {wherec}"),
            &refs,
        )?
        .get(0);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let mut refs = refs;
    refs.push(&limit);
    refs.push(&offset);
    let n = refs.len();
    let rows = c
        .query(
            &format!(
                "SELECT seq, at, integration_id, integration_name, method, path, status, latency_ms,
                        summary, user_id, NULL::text, body_bytes, NULL::text, client, refused
                 FROM activity WHERE {wherec} ORDER BY seq DESC LIMIT ${} OFFSET ${n}",
                n - 1
            ),
            &refs,
        )?
        .iter()
        .map(decode)
        .collect();
    Ok((total.max(0) as u64, rows))
}

/// A row of the 15 columns `list` and `get` select, in table order.
fn decode(r: &postgres::Row) -> ActivityRow {
    ActivityRow {
        seq: r.get(0),
        at: r.get(1),
        integration_id: r.get(2),
        integration_name: r.get(3),
        method: r.get(4),
        path: r.get(5),
        status: r.get(6),
        latency_ms: r.get(7),
        summary: r.get(8),
        user_id: r.get(9),
        body: r.get(10),
        body_bytes: r.get(11),
        body_note: r.get(12),
        client: r.get(13),
        refused: r.get(14),
    }
}

/// As `store::activity::get`: one request with its body.
pub fn get(c: &mut impl GenericClient, seq: i64) -> Result<Option<ActivityRow>, StoreError> {
    Ok(c.query_opt(
        "SELECT seq, at, integration_id, integration_name, method, path, status, latency_ms,
                    summary, user_id, body, body_bytes, body_note, client, refused
             FROM activity WHERE seq = $1",
        &[&seq],
    )?
    .as_ref()
    .map(decode))
}

/// As `store::activity::latest_per_integration`: (integration id, time, status).
pub fn latest_per_integration(
    c: &mut impl GenericClient,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    Ok(c.query(
        "SELECT a.integration_id, a.at, a.status FROM activity a
             JOIN (SELECT integration_id, max(seq) AS seq FROM activity
                   WHERE integration_id IS NOT NULL GROUP BY integration_id) m ON m.seq = a.seq",
        &[],
    )?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect())
}
