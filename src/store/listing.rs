//! Paged, filtered, sorted lists of any resource table: the SQL around a
//! [`Compiled`](crate::store::filter_sql::Compiled) filter and sort — the total for
//! `totalResults`, the ORDER BY with the `seq` tie-breaker, and offset (RFC 7644 §3.4.2.4) or
//! keyset (RFC 9865 cursor) paging. Repositories (`users`, and `groups` after it) supply their
//! table, columns, scope condition and row decoder.

use rusqlite::Connection;
use rusqlite::types::Value;

use crate::store::filter_sql::{Compiled, Condition, SortKey};
use crate::store::{SqlValue, StoreError, Tx};

/// The table a list reads.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// `FROM` clause with the alias the [`TableMap`](crate::store::filter_sql::TableMap) uses,
    /// e.g. `users u`.
    pub from: &'static str,
    /// The selected columns, comma-separated, as the row decoder reads them (from index 0).
    pub columns: &'static str,
    /// The insertion-order column (`INTEGER PRIMARY KEY`): tie-breaker and cursor position.
    pub seq: &'static str,
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Paging {
    /// Skip `offset` users (0-based; RFC 7644 §3.4.2.4 `startIndex` - 1).
    Offset(u64),
    /// The first page (None) or the users after a cursor position (RFC 9865 cursors).
    After(Option<Position>),
}

/// Where a cursor page starts: after the resource with this sort key and `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    pub key: SqlValue,
    pub seq: i64,
    /// The total the walk's first page counted, when known: later pages report it instead of
    /// counting every match again (on a million users the count costs more than the page).
    pub total: Option<u64>,
}

/// A page: the total in scope matching the filter, the rows, and the position of the last
/// one (sort key, seq) with whether more follow.
#[derive(Debug, Clone)]
pub struct ListPage<T> {
    pub total: u64,
    pub rows: Vec<T>,
    pub last: Option<(SqlValue, i64)>,
    pub more: bool,
}

fn bind(stmt: &mut rusqlite::CachedStatement<'_>, params: &[Value]) -> Result<(), StoreError> {
    for i in 1..=stmt.parameter_count() {
        let v = params
            .get(i - 1)
            .ok_or_else(|| StoreError::Corrupt(format!("query parameter ?{i} has no value")))?;
        stmt.raw_bind_parameter(i, v)?;
    }
    Ok(())
}

/// Runs `sql`, binding exactly the placeholders it uses from `params` (`?N` is `params[N-1]`).
pub(crate) fn query<T>(
    conn: &Connection,
    sql: &str,
    params: &[Value],
    mut f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, params)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(f(r)?);
    }
    Ok(out)
}

/// A page of `t` matching the compiled filter and the scope condition (which `scope` writes,
/// adding its parameters), in the compiled sort order; ties and unsorted lists in `seq`
/// order. `decode` reads one row of `t.columns`.
///
/// Offset paging costs O(offset); keyset paging seeks to its position (through the primary
/// key when unsorted, through the key's index when it has one), so each page costs the same.
pub(crate) fn page<T>(
    tx: &mut Tx<'_>,
    t: &Table,
    q: &Compiled,
    scope: impl FnOnce(&mut Condition) -> Option<String>,
    paging: &Paging,
    limit: u64,
    mut decode: impl FnMut(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<ListPage<T>, StoreError> {
    let conn = tx.conn();
    let mut c = Condition {
        sql: String::new(),
        params: q.params.clone(),
    };
    let mut wherec: Vec<String> = Vec::new();
    if let Some(f) = &q.filter {
        wherec.push(f.clone());
    }
    if let Some(sql) = scope(&mut c) {
        wherec.push(sql);
    }
    let base_where = if wherec.is_empty() {
        "1".to_owned()
    } else {
        wherec.join(" AND ")
    };
    // The total is counted only when the page cannot tell it (see below).
    let count_sql = format!("SELECT count(*) FROM {} WHERE {base_where}", t.from);
    let count_params = c.params.clone();
    let count = || -> Result<u64, StoreError> {
        let n: i64 = query(conn, &count_sql, &count_params, |r| r.get(0))?
            .into_iter()
            .next()
            .unwrap_or(0);
        Ok(n.max(0) as u64)
    };
    let mut page = ListPage {
        total: 0,
        rows: Vec::new(),
        last: None,
        more: false,
    };
    if limit == 0 {
        page.total = count()?;
        return Ok(page);
    }
    let key = q
        .sort
        .as_ref()
        .map_or("NULL".to_owned(), |k| k.expr.clone());
    let order = order_by(q.sort.as_ref(), &key, t.seq);
    let mut page_where = base_where;
    let tail: String;
    match paging {
        Paging::Offset(offset) => {
            // One more than the page, to know whether another page follows.
            let l = c.param(Value::Integer(
                i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX),
            ));
            let o = c.param(Value::Integer(i64::try_from(*offset).unwrap_or(i64::MAX)));
            tail = format!(" LIMIT {l} OFFSET {o}");
        }
        Paging::After(after) => {
            if let Some(pos) = after {
                let cond = after_position(q.sort.as_ref(), &key, t.seq, pos, &mut |v| c.param(v));
                page_where = format!("{page_where} AND {cond}");
            }
            // One more than the page, to know whether another page follows.
            let l = c.param(Value::Integer(
                i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX),
            ));
            tail = format!(" LIMIT {l}");
        }
    }
    let n = t.columns.split(',').count();
    let sql = format!(
        "SELECT {}, ({key}), {} FROM {} WHERE {page_where} ORDER BY {order}{tail}",
        t.columns, t.seq, t.from
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    bind(&mut stmt, &c.params)?;
    let mut rows = stmt.raw_query();
    let mut i = 0u64;
    while let Some(r) = rows.next()? {
        if i >= limit {
            page.more = true;
            break;
        }
        i += 1;
        let key: SqlValue = r.get(n)?;
        let seq: i64 = r.get(n + 1)?;
        page.rows.push(decode(r)?);
        page.last = Some((key, seq));
    }
    drop(rows);
    drop(stmt);
    // A page that starts at the beginning and holds everything that matches is the total by
    // itself (the IdPs' `eq` filters: 0 or 1 users), as is a last page reached by offset; only
    // other pages pay for counting every match.
    page.total = match paging {
        Paging::Offset(o) if !page.more && (i > 0 || *o == 0) => o + i,
        Paging::After(None) if !page.more => i,
        Paging::After(Some(Position {
            total: Some(total), ..
        })) => *total,
        _ => count()?,
    };
    Ok(page)
}

/// The `ORDER BY` of a page: the sort key (no data last ascending and first descending, RFC
/// 7644 §3.4.2.3), then the row number; the same for both engines.
pub(crate) fn order_by(sort: Option<&SortKey>, key: &str, seq: &str) -> String {
    match sort {
        None => seq.to_owned(),
        Some(k) => {
            let dir = if k.descending { "DESC" } else { "ASC" };
            let nulls = if k.nullable {
                format!("({key}) IS NULL {dir}, ")
            } else {
                String::new()
            };
            format!("{nulls}({key}) {dir}, {seq}")
        }
    }
}

/// The condition for the rows after `pos` in [`order_by`]'s order (a cursor's page), its
/// values added through `param` (each engine numbers its placeholders its own way).
pub(crate) fn after_position(
    sort: Option<&SortKey>,
    key: &str,
    seq: &str,
    pos: &Position,
    param: &mut dyn FnMut(Value) -> String,
) -> String {
    let s = param(Value::Integer(pos.seq));
    let Some(k) = sort else {
        return format!("{seq} > {s}");
    };
    let (cmp, null_after, null_k0_rest) = if k.descending {
        ("<", false, true)
    } else {
        (">", true, false)
    };
    if pos.key == SqlValue::Null {
        // After a row without data: the rest of those, then (descending) every row with data.
        let rest = if null_k0_rest {
            format!(" OR ({key}) IS NOT NULL")
        } else {
            String::new()
        };
        format!("((({key}) IS NULL AND {seq} > {s}){rest})")
    } else {
        let p = param(pos.key.clone().into());
        let nulls = if null_after && k.nullable {
            format!(" OR ({key}) IS NULL")
        } else {
            String::new()
        };
        // `k >= p AND (…)` rather than `k > p OR …`: an index on the key can seek to the
        // position.
        let eq_or = if k.descending { "<=" } else { ">=" };
        format!("((({key}) {eq_or} {p} AND (({key}) {cmp} {p} OR {seq} > {s})){nulls})")
    }
}
