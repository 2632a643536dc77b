//! The groups repository: rows of `groups` and the memberships in `group_members`.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use serde_json::Value;

use crate::scim::resource::Document;
use crate::store::StoreError;
use crate::store::filter_sql::{Compiled, Condition};
use crate::store::fold::fold;
use crate::store::listing::{self, ListPage, Paging, Table};
use crate::store::users::Scope;

/// A stored group (its members are in `group_members`).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    pub seq: i64,
    pub id: String,
    pub source: Option<String>,
    pub version: i64,
    pub created: String,
    pub last_modified: String,
    pub doc: Document,
}

/// A member as returned: the user's id and the name to display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_seq: i64,
    pub id: String,
    pub display: String,
}

/// A user that may become a member: its row number and owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberCandidate {
    pub seq: i64,
    pub id: String,
    pub source: Option<String>,
}

const COLUMNS: &str = "g.seq, g.id, g.source, g.version, g.created, g.last_modified, g.doc";

type RawGroup = (i64, String, Option<String>, i64, String, String, String);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawGroup> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn to_group(raw: RawGroup) -> Result<GroupRow, StoreError> {
    let (seq, id, source, version, created, last_modified, doc) = raw;
    let doc = match serde_json::from_str(&doc) {
        Ok(Value::Object(m)) => m,
        _ => {
            return Err(StoreError::Corrupt(format!(
                "group {id} has a document that is not a JSON object"
            )));
        }
    };
    Ok(GroupRow {
        seq,
        id,
        source,
        version,
        created,
        last_modified,
        doc,
    })
}

/// The scope as a condition on `groups g`.
pub fn scope_condition(scope: &Scope) -> Condition {
    match scope {
        Scope::Source(s) => Condition {
            sql: "g.source = ?".into(),
            params: vec![SqlValue::Text(s.clone())],
        },
        Scope::SourceOrManual(s) => Condition {
            sql: "(g.source = ? OR g.source IS NULL)".into(),
            params: vec![SqlValue::Text(s.clone())],
        },
        Scope::All => Condition {
            sql: "1".into(),
            params: Vec::new(),
        },
    }
}

pub fn find_by_id(conn: &Connection, id: &str) -> Result<Option<GroupRow>, StoreError> {
    let raw = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM groups g WHERE g.id = ?1"))?
        .query_row([id], row)
        .optional()?;
    raw.map(to_group).transpose()
}

fn display_name(doc: &Document) -> Result<String, StoreError> {
    doc.get("displayName")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| StoreError::Corrupt("a group document without displayName".into()))
}

fn check_name(conn: &Connection, name: &str, except_seq: Option<i64>) -> Result<(), StoreError> {
    let taken: Option<i64> = conn
        .prepare_cached("SELECT seq FROM groups WHERE display_name_folded = ?1")?
        .query_row([fold(name)], |r| r.get(0))
        .optional()?;
    match taken {
        Some(s) if Some(s) != except_seq => Err(StoreError::Conflict {
            attribute: "displayName",
            value: name.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Inserts a group (no members) at version 1.
pub fn insert(
    conn: &Connection,
    id: &str,
    source: Option<&str>,
    now: &str,
    doc: &Document,
) -> Result<GroupRow, StoreError> {
    let name = display_name(doc)?;
    check_name(conn, &name, None)?;
    let text = serde_json::to_string(doc).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let external_id = doc.get("externalId").and_then(Value::as_str);
    conn.prepare_cached(
        "INSERT INTO groups (id, source, display_name, display_name_folded, external_id, version, created, last_modified, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6, ?7)",
    )?
    .execute(params![id, source, name, fold(&name), external_id, now, text])?;
    Ok(GroupRow {
        seq: conn.last_insert_rowid(),
        id: id.to_owned(),
        source: source.map(str::to_owned),
        version: 1,
        created: now.to_owned(),
        last_modified: now.to_owned(),
        doc: doc.clone(),
    })
}

/// Writes a new document and source, and bumps the version.
pub fn update(
    conn: &Connection,
    old: &GroupRow,
    source: Option<&str>,
    doc: Document,
    now: &str,
) -> Result<GroupRow, StoreError> {
    let name = display_name(&doc)?;
    check_name(conn, &name, Some(old.seq))?;
    let text = serde_json::to_string(&doc).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let external_id = doc.get("externalId").and_then(Value::as_str);
    conn.prepare_cached(
        "UPDATE groups SET source = ?2, display_name = ?3, display_name_folded = ?4, external_id = ?5,
                version = version + 1, last_modified = ?6, doc = ?7
         WHERE seq = ?1",
    )?
    .execute(params![old.seq, source, name, fold(&name), external_id, now, text])?;
    Ok(GroupRow {
        seq: old.seq,
        id: old.id.clone(),
        source: source.map(str::to_owned),
        version: old.version + 1,
        created: old.created.clone(),
        last_modified: now.to_owned(),
        doc,
    })
}

pub fn delete(conn: &Connection, seq: i64) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM groups WHERE seq = ?1")?
        .execute([seq])?;
    Ok(())
}

/// The users with these ids, in no particular order; unknown ids are absent.
pub fn resolve_users(
    conn: &Connection,
    ids: &[String],
) -> Result<Vec<MemberCandidate>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT seq, id, source FROM users WHERE id = ?1")?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(c) = stmt
            .query_row([id], |r| {
                Ok(MemberCandidate {
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    source: r.get(2)?,
                })
            })
            .optional()?
        {
            out.push(c);
        }
    }
    Ok(out)
}

/// Adds members; returns how many were not members already.
pub fn add_members(conn: &Connection, group_seq: i64, users: &[i64]) -> Result<usize, StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO group_members (group_seq, user_seq) VALUES (?1, ?2)",
    )?;
    let mut n = 0;
    for u in users {
        n += stmt.execute(params![group_seq, u])?;
    }
    Ok(n)
}

/// Removes members; returns how many were members.
pub fn remove_members(
    conn: &Connection,
    group_seq: i64,
    users: &[i64],
) -> Result<usize, StoreError> {
    let mut stmt =
        conn.prepare_cached("DELETE FROM group_members WHERE group_seq = ?1 AND user_seq = ?2")?;
    let mut n = 0;
    for u in users {
        n += stmt.execute(params![group_seq, u])?;
    }
    Ok(n)
}

/// Removes every member; returns how many there were.
pub fn clear_members(conn: &Connection, group_seq: i64) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached("DELETE FROM group_members WHERE group_seq = ?1")?
        .execute([group_seq])?)
}

/// Marks a group changed (a membership change): bumps version and lastModified.
pub fn touch(
    conn: &Connection,
    old: &GroupRow,
    source: Option<&str>,
    now: &str,
) -> Result<GroupRow, StoreError> {
    conn.prepare_cached(
        "UPDATE groups SET source = ?2, version = version + 1, last_modified = ?3 WHERE seq = ?1",
    )?
    .execute(params![old.seq, source, now])?;
    Ok(GroupRow {
        source: source.map(str::to_owned),
        version: old.version + 1,
        last_modified: now.to_owned(),
        ..old.clone()
    })
}

/// The members of a group, in the order they were added... by user creation order.
pub fn members(conn: &Connection, group_seq: i64) -> Result<Vec<Member>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.seq, u.id, coalesce(u.doc ->> '$.displayName', u.user_name)
         FROM group_members m JOIN users u ON u.seq = m.user_seq
         WHERE m.group_seq = ?1 ORDER BY m.user_seq",
    )?;
    let rows = stmt
        .query_map([group_seq], |r| {
            Ok(Member {
                user_seq: r.get(0)?,
                id: r.get(1)?,
                display: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn member_count(conn: &Connection, group_seq: i64) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM group_members WHERE group_seq = ?1")?
        .query_row([group_seq], |r| r.get(0))?)
}

/// The groups of each of `user_seqs` within `scope`, in one query (a page of a list):
/// (user seq, group id, displayName), by user then group.
pub fn groups_of_users(
    conn: &Connection,
    user_seqs: &[i64],
    scope: &Scope,
) -> Result<Vec<(i64, String, String)>, StoreError> {
    if user_seqs.is_empty() {
        return Ok(Vec::new());
    }
    let sc = scope_condition(scope);
    // The seqs travel as one JSON array, so the statement text (and its cache entry) is the
    // same whatever the page size.
    let seqs = serde_json::to_string(user_seqs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut params: Vec<SqlValue> = vec![SqlValue::Text(seqs)];
    params.extend(sc.params);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT m.user_seq, g.id, g.display_name FROM group_members m JOIN groups g ON g.seq = m.group_seq
         WHERE m.user_seq IN (SELECT value FROM json_each(?)) AND {} ORDER BY m.user_seq, g.seq",
        sc.sql
    ))?;
    let rows = stmt
        .query_map(params_from_iter(params.iter()), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The groups a user belongs to (directly) within `scope`: (group id, displayName).
pub fn groups_of_user(
    conn: &Connection,
    user_seq: i64,
    scope: &Scope,
) -> Result<Vec<(String, String)>, StoreError> {
    let sc = scope_condition(scope);
    let mut params: Vec<SqlValue> = vec![SqlValue::Integer(user_seq)];
    params.extend(sc.params);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT g.id, g.display_name FROM group_members m JOIN groups g ON g.seq = m.group_seq
         WHERE m.user_seq = ? AND {} ORDER BY g.seq",
        sc.sql
    ))?;
    let rows = stmt
        .query_map(params_from_iter(params.iter()), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The condition of `scope` on `groups g`, appending its parameter to `c`; `+g.source` when a
/// filter or sort is present, so the planner uses their indexes (see `users::scope_condition`).
fn scope_sql(scope: &Scope, filtered: bool, c: &mut Condition) -> Option<String> {
    let col = if filtered { "+g.source" } else { "g.source" };
    match scope {
        Scope::Source(s) => {
            let p = c.param(SqlValue::Text(s.clone()));
            Some(format!("{col} = {p}"))
        }
        Scope::SourceOrManual(s) => {
            let p = c.param(SqlValue::Text(s.clone()));
            Some(format!("({col} = {p} OR g.source IS NULL)"))
        }
        Scope::All => None,
    }
}

/// A page of groups in scope matching the compiled filter (see [`listing::page`]).
pub fn list(
    conn: &Connection,
    scope: &Scope,
    q: &Compiled,
    paging: &Paging,
    limit: u64,
) -> Result<ListPage<GroupRow>, StoreError> {
    let table = Table {
        from: "groups g",
        columns: COLUMNS,
        seq: "g.seq",
    };
    let filtered = q.filter.is_some() || q.sort.is_some();
    listing::page(
        conn,
        &table,
        q,
        |c| scope_sql(scope, filtered, c),
        paging,
        limit,
        |r| to_group(row(r).map_err(StoreError::from)?),
    )
}

/// The admin Groups page: groups whose displayName contains `text` (case-folded; empty: all),
/// newest first, with their member counts; and the total.
pub fn search(
    conn: &Connection,
    text: &str,
    offset: u64,
    limit: u64,
) -> Result<(u64, Vec<(GroupRow, i64)>), StoreError> {
    let needle = fold(text.trim());
    let total: i64 = conn
        .prepare_cached("SELECT count(*) FROM groups g WHERE instr(g.display_name_folded, ?1) > 0")?
        .query_row([&needle], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS}, (SELECT count(*) FROM group_members m WHERE m.group_seq = g.seq)
         FROM groups g WHERE instr(g.display_name_folded, ?1) > 0 ORDER BY g.seq DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let raw = stmt
        .query_map(
            params![
                needle,
                i64::try_from(limit).unwrap_or(i64::MAX),
                i64::try_from(offset).unwrap_or(i64::MAX)
            ],
            |r| Ok((row(r)?, r.get::<_, i64>(7)?)),
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(raw.len());
    for (g, n) in raw {
        out.push((to_group(g)?, n));
    }
    Ok((total.max(0) as u64, out))
}
