//! Groups on PostgreSQL: `groups` rows and the memberships in `group_members`, as
//! `store::groups` keeps them on SQLite, with the same names, arguments and results (the first
//! argument a PostgreSQL client or transaction). A folded displayName is unique: looked up
//! before it is written, and held by the unique index on `display_name_folded` against a
//! concurrent writer (a violation is the same `Conflict`).
//!
//! Documents come back with their members in jsonb's order (see `store::pg::users`).

use postgres::GenericClient;
use postgres::error::SqlState;
use rusqlite::types::Value as SqlParam;
use serde_json::Value;

use crate::scim::resource::Document;
use crate::store::StoreError;
use crate::store::filter_sql::Compiled;
use crate::store::fold::fold;
use crate::store::groups::{GroupRow, Member, MemberCandidate, MemberList};
use crate::store::listing::{ListPage, Paging, Table};
use crate::store::pg::listing::{self, PgCondition};
use crate::store::users::Scope;

const COLUMNS: &str = "g.seq, g.id, g.source, g.version, g.created, g.last_modified, g.doc";

/// The unique index that holds a folded displayName (`groups.display_name_folded UNIQUE`).
const NAME_INDEX: &str = "groups_display_name_folded_key";

fn to_group(r: &postgres::Row) -> Result<GroupRow, StoreError> {
    let id: String = r.try_get(1)?;
    let Value::Object(doc) = r.try_get::<_, Value>(6)? else {
        return Err(StoreError::Corrupt(format!(
            "group {id} has a document that is not a JSON object"
        )));
    };
    Ok(GroupRow {
        seq: r.try_get(0)?,
        id,
        source: r.try_get(2)?,
        version: r.try_get(3)?,
        created: r.try_get(4)?,
        last_modified: r.try_get(5)?,
        doc,
    })
}

/// The condition of `scope` on `groups g`, adding its parameter to `p`. (SQLite's
/// `store::groups::scope_condition` builds a condition with `?` placeholders; PostgreSQL's are
/// numbered, so the condition is written where its position is known.)
fn scope_sql(scope: &Scope, p: &mut PgCondition) -> Option<String> {
    match scope {
        Scope::Source(s) => {
            let n = p.param(SqlParam::Text(s.clone()));
            Some(format!("g.source = {n}"))
        }
        Scope::SourceOrManual(s) => {
            let n = p.param(SqlParam::Text(s.clone()));
            Some(format!("(g.source = {n} OR g.source IS NULL)"))
        }
        Scope::All => None,
    }
}

pub fn find_by_id(c: &mut impl GenericClient, id: &str) -> Result<Option<GroupRow>, StoreError> {
    c.query_opt(
        &format!("SELECT {COLUMNS} FROM groups g WHERE g.id = $1"),
        &[&id],
    )?
    .as_ref()
    .map(to_group)
    .transpose()
}

fn display_name(doc: &Document) -> Result<String, StoreError> {
    doc.get("displayName")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| StoreError::Corrupt("a group document without displayName".into()))
}

fn taken(name: &str) -> StoreError {
    StoreError::Conflict {
        attribute: "displayName",
        value: name.to_owned(),
    }
}

fn check_name(
    c: &mut impl GenericClient,
    name: &str,
    except_seq: Option<i64>,
) -> Result<(), StoreError> {
    let seq: Option<i64> = c
        .query_opt(
            "SELECT seq FROM groups WHERE display_name_folded = $1",
            &[&fold(name)],
        )?
        .map(|r| r.try_get(0))
        .transpose()?;
    match seq {
        Some(s) if Some(s) != except_seq => Err(taken(name)),
        _ => Ok(()),
    }
}

/// A unique violation of the displayName index (a concurrent writer took the name after
/// [`check_name`] looked) is the same `Conflict`.
fn name_conflict(name: &str, e: postgres::Error) -> StoreError {
    let on_name = e.code() == Some(&SqlState::UNIQUE_VIOLATION)
        && e.as_db_error().and_then(|d| d.constraint()) == Some(NAME_INDEX);
    if on_name {
        taken(name)
    } else {
        StoreError::Postgres(e)
    }
}

/// Inserts a group (no members) at version 1.
pub fn insert(
    c: &mut impl GenericClient,
    id: &str,
    source: Option<&str>,
    now: &str,
    doc: &Document,
) -> Result<GroupRow, StoreError> {
    let name = display_name(doc)?;
    check_name(c, &name, None)?;
    let json = Value::Object(doc.clone());
    let external_id = doc.get("externalId").and_then(Value::as_str);
    let seq: i64 = c
        .query_one(
            "INSERT INTO groups (id, source, display_name, display_name_folded, external_id, version,
                                 created, last_modified, doc)
             VALUES ($1, $2, $3, $4, $5, 1, $6, $6, $7) RETURNING seq",
            &[&id, &source, &name, &fold(&name), &external_id, &now, &json],
        )
        .map_err(|e| name_conflict(&name, e))?
        .try_get(0)?;
    Ok(GroupRow {
        seq,
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
    c: &mut impl GenericClient,
    old: &GroupRow,
    source: Option<&str>,
    doc: Document,
    now: &str,
) -> Result<GroupRow, StoreError> {
    let name = display_name(&doc)?;
    check_name(c, &name, Some(old.seq))?;
    let json = Value::Object(doc.clone());
    let external_id = doc.get("externalId").and_then(Value::as_str);
    c.execute(
        "UPDATE groups SET source = $2, display_name = $3, display_name_folded = $4, external_id = $5,
                version = version + 1, last_modified = $6, doc = $7
         WHERE seq = $1",
        &[
            &old.seq,
            &source,
            &name,
            &fold(&name),
            &external_id,
            &now,
            &json,
        ],
    )
    .map_err(|e| name_conflict(&name, e))?;
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

pub fn delete(c: &mut impl GenericClient, seq: i64) -> Result<(), StoreError> {
    c.execute("DELETE FROM groups WHERE seq = $1", &[&seq])?;
    Ok(())
}

/// The users with these ids; unknown ids are absent. In the order of `ids` (a repeated id
/// repeats its user), as SQLite's one lookup per id gives them.
pub fn resolve_users(
    c: &mut impl GenericClient,
    ids: &[String],
) -> Result<Vec<MemberCandidate>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    c.query(
        "SELECT u.seq, u.id, u.source FROM unnest($1::text[]) WITH ORDINALITY AS i(id, n)
         JOIN users u ON u.id = i.id ORDER BY i.n",
        &[&ids],
    )?
    .iter()
    .map(|r| {
        Ok(MemberCandidate {
            seq: r.try_get(0)?,
            id: r.try_get(1)?,
            source: r.try_get(2)?,
        })
    })
    .collect()
}

/// Adds members; returns how many were not members already.
pub fn add_members(
    c: &mut impl GenericClient,
    group_seq: i64,
    users: &[i64],
) -> Result<usize, StoreError> {
    if users.is_empty() {
        return Ok(0);
    }
    let n = c.execute(
        "INSERT INTO group_members (group_seq, user_seq)
         SELECT DISTINCT $1::bigint, u FROM unnest($2::bigint[]) AS t(u)
         ON CONFLICT DO NOTHING",
        &[&group_seq, &users],
    )?;
    Ok(n as usize)
}

/// Removes members; returns how many were members.
pub fn remove_members(
    c: &mut impl GenericClient,
    group_seq: i64,
    users: &[i64],
) -> Result<usize, StoreError> {
    if users.is_empty() {
        return Ok(0);
    }
    let n = c.execute(
        "DELETE FROM group_members WHERE group_seq = $1 AND user_seq = ANY($2::bigint[])",
        &[&group_seq, &users],
    )?;
    Ok(n as usize)
}

/// Removes every member; returns how many there were.
pub fn clear_members(c: &mut impl GenericClient, group_seq: i64) -> Result<usize, StoreError> {
    let n = c.execute(
        "DELETE FROM group_members WHERE group_seq = $1",
        &[&group_seq],
    )?;
    Ok(n as usize)
}

/// Marks a group changed (a membership change): bumps version and lastModified.
pub fn touch(
    c: &mut impl GenericClient,
    old: &GroupRow,
    source: Option<&str>,
    now: &str,
) -> Result<GroupRow, StoreError> {
    c.execute(
        "UPDATE groups SET source = $2, version = version + 1, last_modified = $3 WHERE seq = $1",
        &[&old.seq, &source, &now],
    )?;
    Ok(GroupRow {
        source: source.map(str::to_owned),
        version: old.version + 1,
        last_modified: now.to_owned(),
        ..old.clone()
    })
}

/// The members of a group by user creation order, each displayed as its `displayName`
/// (`->>`: the text of any JSON scalar there, as SQLite's `->>` gives), else its userName.
pub fn members(c: &mut impl GenericClient, group_seq: i64) -> Result<Vec<Member>, StoreError> {
    c.query(
        "SELECT u.seq, u.id, COALESCE(u.doc ->> 'displayName', u.user_name)
         FROM group_members m JOIN users u ON u.seq = m.user_seq
         WHERE m.group_seq = $1 ORDER BY m.user_seq",
        &[&group_seq],
    )?
    .iter()
    .map(|r| {
        Ok(Member {
            user_seq: r.try_get(0)?,
            id: r.try_get(1)?,
            display: r.try_get(2)?,
        })
    })
    .collect()
}

/// The members of a group as a response writes them, by user creation order: the
/// `displayName` when it is a string, else the userName, each written as a JSON string token
/// by `serde_json` (as SQLite's stored text has it, the store writing documents with
/// `serde_json`).
pub fn member_list(c: &mut impl GenericClient, group_seq: i64) -> Result<MemberList, StoreError> {
    let rows = c.query(
        "SELECT u.seq, u.id, u.user_name,
                CASE WHEN jsonb_typeof(u.doc -> 'displayName') = 'string' THEN u.doc ->> 'displayName' END
         FROM group_members m JOIN users u ON u.seq = m.user_seq
         WHERE m.group_seq = $1 ORDER BY m.user_seq",
        &[&group_seq],
    )?;
    let mut out = MemberList::default();
    for r in &rows {
        let seq: i64 = r.try_get(0)?;
        let id: &str = r.try_get(1)?;
        let user_name: &str = r.try_get(2)?;
        let display: Option<&str> = r.try_get(3)?;
        out.push(seq, id, None, display.unwrap_or(user_name));
    }
    Ok(out)
}

pub fn member_count(c: &mut impl GenericClient, group_seq: i64) -> Result<i64, StoreError> {
    Ok(c.query_one(
        "SELECT count(*) FROM group_members WHERE group_seq = $1",
        &[&group_seq],
    )?
    .try_get(0)?)
}

/// The condition of `scope` on `groups g` as the second parameter (`$2`) of a statement whose
/// first is the user(s), and that parameter's value.
fn scope_second(scope: &Scope) -> (&'static str, Option<&str>) {
    match scope {
        Scope::Source(s) => ("g.source = $2", Some(s)),
        Scope::SourceOrManual(s) => ("(g.source = $2 OR g.source IS NULL)", Some(s)),
        Scope::All => ("TRUE", None),
    }
}

/// The groups of each of `user_seqs` within `scope`, in one query: (user seq, group id,
/// displayName), by user then group.
pub fn groups_of_users(
    c: &mut impl GenericClient,
    user_seqs: &[i64],
    scope: &Scope,
) -> Result<Vec<(i64, String, String)>, StoreError> {
    if user_seqs.is_empty() {
        return Ok(Vec::new());
    }
    let (cond, source) = scope_second(scope);
    let sql = format!(
        "SELECT m.user_seq, g.id, g.display_name FROM group_members m JOIN groups g ON g.seq = m.group_seq
         WHERE m.user_seq = ANY($1::bigint[]) AND {cond} ORDER BY m.user_seq, g.seq"
    );
    let rows = match source {
        Some(s) => c.query(&sql, &[&user_seqs, &s])?,
        None => c.query(&sql, &[&user_seqs])?,
    };
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

/// The groups a user belongs to (directly) within `scope`: (group id, displayName), by group.
pub fn groups_of_user(
    c: &mut impl GenericClient,
    user_seq: i64,
    scope: &Scope,
) -> Result<Vec<(String, String)>, StoreError> {
    let (cond, source) = scope_second(scope);
    let sql = format!(
        "SELECT g.id, g.display_name FROM group_members m JOIN groups g ON g.seq = m.group_seq
         WHERE m.user_seq = $1 AND {cond} ORDER BY g.seq"
    );
    let rows = match source {
        Some(s) => c.query(&sql, &[&user_seq, &s])?,
        None => c.query(&sql, &[&user_seq])?,
    };
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// A page of groups in scope matching the compiled filter (compiled with
/// `Dialect::Postgres`), as `store::groups::list`.
pub fn list(
    c: &mut impl GenericClient,
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
    listing::page(
        c,
        &table,
        q,
        |p| scope_sql(scope, p),
        paging,
        limit,
        to_group,
    )
}

/// The admin Groups page: groups whose displayName contains `text` (case-folded; empty: all),
/// newest first, with their member counts; and the total.
pub fn search(
    c: &mut impl GenericClient,
    text: &str,
    offset: u64,
    limit: u64,
) -> Result<(u64, Vec<(GroupRow, i64)>), StoreError> {
    let needle = fold(text.trim());
    let total: i64 = c
        .query_one(
            "SELECT count(*) FROM groups g WHERE strpos(g.display_name_folded, $1) > 0",
            &[&needle],
        )?
        .try_get(0)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let rows = c.query(
        &format!(
            "SELECT {COLUMNS}, (SELECT count(*) FROM group_members m WHERE m.group_seq = g.seq)
             FROM groups g WHERE strpos(g.display_name_folded, $1) > 0
             ORDER BY g.seq DESC LIMIT $2 OFFSET $3"
        ),
        &[&needle, &limit, &offset],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push((to_group(r)?, r.try_get::<_, i64>(7)?));
    }
    Ok((total.max(0) as u64, out))
}
