//! Paged, filtered, sorted lists on PostgreSQL: `store::listing::page` in the PostgreSQL
//! dialect, around a [`Compiled`] filter and sort from `filter_sql` with `Dialect::Postgres`.
//! The same total, ORDER BY (no data last ascending, first descending, RFC 7644 §3.4.2.3; the
//! `seq` tie-breaker), offset paging (RFC 7644 §3.4.2.4) and keyset paging (RFC 9865 cursors),
//! and the same rules for when the total is counted, so that a page equals SQLite's for the
//! same rows and query.
//!
//! Parameters are bound by value with their type stated (`$N::text`, `$N::bigint`,
//! `$N::float8`, as the compiler writes its own), in one round trip (an unnamed statement):
//! a parameter the SQL does not refer to (a branch the compiler folded to FALSE) still has a
//! type.

use postgres::GenericClient;
use postgres::types::{ToSql, Type};
use rusqlite::types::Value;

use crate::store::filter_sql::Compiled;
use crate::store::listing::{ListPage, Paging, Position, Table, after_position, order_by};
use crate::store::{SqlValue, StoreError};

/// SQL conditions with `$N::type` placeholders and their values (`params[i]` is `$i+1`), in
/// the compiler's convention.
#[derive(Debug, Default, Clone)]
pub(crate) struct PgCondition {
    pub(crate) params: Vec<Value>,
}

impl PgCondition {
    /// Adds a parameter and returns its placeholder, typed by the value.
    pub(crate) fn param(&mut self, v: Value) -> String {
        let cast = pg_type(&v).name().to_owned();
        self.params.push(v);
        format!("${}::{cast}", self.params.len())
    }
}

/// The PostgreSQL type a value is bound as.
fn pg_type(v: &Value) -> Type {
    match v {
        Value::Integer(_) => Type::INT8,
        Value::Real(_) => Type::FLOAT8,
        Value::Blob(_) => Type::BYTEA,
        Value::Null | Value::Text(_) => Type::TEXT,
    }
}

/// A value as a PostgreSQL parameter of [`pg_type`].
fn boxed(v: &Value) -> Box<dyn ToSql + Sync> {
    match v {
        Value::Null => Box::new(None::<String>),
        Value::Integer(i) => Box::new(*i),
        Value::Real(f) => Box::new(*f),
        Value::Text(t) => Box::new(t.clone()),
        Value::Blob(b) => Box::new(b.clone()),
    }
}

/// Runs `sql` with `params` (every one typed by its value, `$N` is `params[N-1]`).
pub(crate) fn query(
    c: &mut impl GenericClient,
    sql: &str,
    params: &[Value],
) -> Result<Vec<postgres::Row>, StoreError> {
    let values: Vec<Box<dyn ToSql + Sync>> = params.iter().map(boxed).collect();
    let typed: Vec<(&(dyn ToSql + Sync), Type)> = values
        .iter()
        .zip(params)
        .map(|(b, v)| (&**b as &(dyn ToSql + Sync), pg_type(v)))
        .collect();
    Ok(c.query_typed(sql, &typed)?)
}

/// A sort key as read from a row: text, a number, a boolean column (as SQLite's 0/1) or NULL.
///
/// Deviation from SQLite: a sort by a boolean attribute read from the document (`active`) has
/// the JSON text `true`/`false` as its key (the compiler's PostgreSQL key reads JSON as text),
/// where SQLite's `json_extract` gives 1/0. The order is the same (`false` before `true`), and
/// the key is only ever bound again on the engine that read it (a cursor's position), where
/// `$N::text` compares with the same expression; the rows of every page are equal.
fn key_value(r: &postgres::Row, i: usize) -> Result<SqlValue, StoreError> {
    let ty = r.columns()[i].type_().clone();
    Ok(if ty == Type::FLOAT8 {
        r.try_get::<_, Option<f64>>(i)?
            .map_or(SqlValue::Null, SqlValue::Real)
    } else if ty == Type::INT8 {
        r.try_get::<_, Option<i64>>(i)?
            .map_or(SqlValue::Null, SqlValue::Integer)
    } else if ty == Type::INT4 {
        r.try_get::<_, Option<i32>>(i)?
            .map_or(SqlValue::Null, |n| SqlValue::Integer(i64::from(n)))
    } else if ty == Type::BOOL {
        r.try_get::<_, Option<bool>>(i)?
            .map_or(SqlValue::Null, |b| SqlValue::Integer(i64::from(b)))
    } else {
        r.try_get::<_, Option<String>>(i)?
            .map_or(SqlValue::Null, SqlValue::Text)
    })
}

/// `store::listing::page` on PostgreSQL: a page of `t` matching the compiled filter (in the
/// PostgreSQL dialect) and the scope condition (which `scope` writes, adding its parameters),
/// in the compiled sort order; ties and unsorted lists in `seq` order. `decode` reads one row
/// of `t.columns` (from index 0).
pub(crate) fn page<C: GenericClient, T>(
    c: &mut C,
    t: &Table,
    q: &Compiled,
    scope: impl FnOnce(&mut PgCondition) -> Option<String>,
    paging: &Paging,
    limit: u64,
    mut decode: impl FnMut(&postgres::Row) -> Result<T, StoreError>,
) -> Result<ListPage<T>, StoreError> {
    let mut p = PgCondition {
        params: q.params.clone(),
    };
    let mut wherec: Vec<String> = Vec::new();
    if let Some(f) = &q.filter {
        wherec.push(f.clone());
    }
    if let Some(sql) = scope(&mut p) {
        wherec.push(sql);
    }
    let base_where = if wherec.is_empty() {
        "TRUE".to_owned()
    } else {
        wherec.join(" AND ")
    };
    let count_sql = format!("SELECT count(*) FROM {} WHERE {base_where}", t.from);
    let count_params = p.params.clone();
    let count = |c: &mut C| -> Result<u64, StoreError> {
        let n: i64 = query(c, &count_sql, &count_params)?
            .first()
            .map(|r| r.try_get(0))
            .transpose()?
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
        page.total = count(c)?;
        return Ok(page);
    }
    let key = q
        .sort
        .as_ref()
        .map_or("NULL::text".to_owned(), |k| k.expr.clone());
    let order = order_by(q.sort.as_ref(), &key, t.seq);
    // One more than the page, to know whether another page follows.
    let one_more = Value::Integer(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX));
    let mut page_where = base_where;
    let tail = match paging {
        Paging::Offset(offset) => {
            let l = p.param(one_more);
            let o = p.param(Value::Integer(i64::try_from(*offset).unwrap_or(i64::MAX)));
            format!(" LIMIT {l} OFFSET {o}")
        }
        Paging::After(after) => {
            if let Some(pos) = after {
                let cond = after_position(q.sort.as_ref(), &key, t.seq, pos, &mut |v| p.param(v));
                page_where = format!("{page_where} AND {cond}");
            }
            let l = p.param(one_more);
            format!(" LIMIT {l}")
        }
    };
    let n = t.columns.split(',').count();
    let sql = format!(
        "SELECT {}, ({key}), {} FROM {} WHERE {page_where} ORDER BY {order}{tail}",
        t.columns, t.seq, t.from
    );
    let mut i = 0u64;
    for r in query(c, &sql, &p.params)? {
        if i >= limit {
            page.more = true;
            break;
        }
        i += 1;
        let key = key_value(&r, n)?;
        let seq: i64 = r.try_get(n + 1)?;
        page.rows.push(decode(&r)?);
        page.last = Some((key, seq));
    }
    // When the page alone tells the total, as on SQLite (see `store::listing::page`).
    page.total = match paging {
        Paging::Offset(o) if !page.more && (i > 0 || *o == 0) => o + i,
        Paging::After(None) if !page.more => i,
        Paging::After(Some(Position {
            total: Some(total), ..
        })) => *total,
        _ => count(c)?,
    };
    Ok(page)
}
