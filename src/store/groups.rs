//! The groups repository: rows of `groups` and the memberships in `group_members`.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use serde_json::Value;

use crate::scim::resource::Document;
use crate::store::filter_sql::{Compiled, Condition};
use crate::store::fold::fold;
use crate::store::listing::{self, ListPage, Paging, Table};
use crate::store::users::Scope;
use crate::store::{StoreError, Tx};

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

pub fn find_by_id(tx: &mut Tx<'_>, id: &str) -> Result<Option<GroupRow>, StoreError> {
    let conn = tx.conn();
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
    tx: &mut Tx<'_>,
    id: &str,
    source: Option<&str>,
    now: &str,
    doc: &Document,
) -> Result<GroupRow, StoreError> {
    let conn = tx.conn();
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
    tx: &mut Tx<'_>,
    old: &GroupRow,
    source: Option<&str>,
    doc: Document,
    now: &str,
) -> Result<GroupRow, StoreError> {
    let conn = tx.conn();
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

pub fn delete(tx: &mut Tx<'_>, seq: i64) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.prepare_cached("DELETE FROM groups WHERE seq = ?1")?
        .execute([seq])?;
    Ok(())
}

/// The users with these ids, in no particular order; unknown ids are absent.
pub fn resolve_users(tx: &mut Tx<'_>, ids: &[String]) -> Result<Vec<MemberCandidate>, StoreError> {
    let conn = tx.conn();
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
pub fn add_members(tx: &mut Tx<'_>, group_seq: i64, users: &[i64]) -> Result<usize, StoreError> {
    let conn = tx.conn();
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
pub fn remove_members(tx: &mut Tx<'_>, group_seq: i64, users: &[i64]) -> Result<usize, StoreError> {
    let conn = tx.conn();
    let mut stmt =
        conn.prepare_cached("DELETE FROM group_members WHERE group_seq = ?1 AND user_seq = ?2")?;
    let mut n = 0;
    for u in users {
        n += stmt.execute(params![group_seq, u])?;
    }
    Ok(n)
}

/// Removes every member; returns how many there were.
pub fn clear_members(tx: &mut Tx<'_>, group_seq: i64) -> Result<usize, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached("DELETE FROM group_members WHERE group_seq = ?1")?
        .execute([group_seq])?)
}

/// Marks a group changed (a membership change): bumps version and lastModified.
pub fn touch(
    tx: &mut Tx<'_>,
    old: &GroupRow,
    source: Option<&str>,
    now: &str,
) -> Result<GroupRow, StoreError> {
    let conn = tx.conn();
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
pub fn members(tx: &mut Tx<'_>, group_seq: i64) -> Result<Vec<Member>, StoreError> {
    let conn = tx.conn();
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

/// A group's members as a response writes them: for each, the user's row number, its id and
/// its display name as a JSON string token (quotes and escapes included), all in one text
/// buffer. Read in one query with no allocation per member ([`member_list`]), so a GET of a
/// group of 10,000 members costs a few milliseconds (issue 17 item 2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberList {
    text: String,
    /// (user seq, start of the id, start of the display token, end of the display token).
    spans: Vec<(i64, u32, u32, u32)>,
}

/// One member of a [`MemberList`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberRef<'a> {
    pub user_seq: i64,
    pub id: &'a str,
    /// The display name as a JSON string token, e.g. `"Ann \"A\" Lee"`.
    pub display_json: &'a str,
}

impl MemberRef<'_> {
    /// The display name, decoded.
    pub fn display(&self) -> String {
        serde_json::from_str(self.display_json).unwrap_or_default()
    }
}

impl MemberList {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = MemberRef<'_>> {
        self.spans
            .iter()
            .map(|&(user_seq, id, display, end)| MemberRef {
                user_seq,
                id: &self.text[id as usize..display as usize],
                display_json: &self.text[display as usize..end as usize],
            })
    }

    /// The members as owned values (the admin pages).
    pub fn to_members(&self) -> Vec<Member> {
        self.iter()
            .map(|m| Member {
                user_seq: m.user_seq,
                id: m.id.to_owned(),
                display: m.display(),
            })
            .collect()
    }

    /// Appends a member: its display name is `display_json` (a JSON string token) when given,
    /// else `user_name`.
    pub fn push(&mut self, user_seq: i64, id: &str, display_json: Option<&str>, user_name: &str) {
        let at = |t: &String| u32::try_from(t.len()).unwrap_or(u32::MAX);
        let id_start = at(&self.text);
        self.text.push_str(id);
        let display_start = at(&self.text);
        match display_json {
            Some(token) => self.text.push_str(token),
            None => {
                // Writing JSON into a String's bytes cannot fail, and leaves valid UTF-8.
                let mut buf = std::mem::take(&mut self.text).into_bytes();
                let _ = serde_json::to_writer(&mut buf, user_name);
                self.text = String::from_utf8(buf).unwrap_or_default();
            }
        }
        self.spans
            .push((user_seq, id_start, display_start, at(&self.text)));
    }
}

/// The raw JSON string token (quotes included) of the top-level member `key` of the JSON
/// object text `text` (compact as the store writes it, or not), when that member is a string.
/// Strings are skipped whole (escapes included), so a `key` inside a value or a nested object
/// (the enterprise `manager`'s `displayName`) is not taken; a string followed by `:` at depth
/// 1 is a member name.
pub fn top_level_string<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => {
                let end = string_end(b, i)?;
                let colon = skip_space(b, end + 1);
                if depth == 1 && &b[i + 1..end] == key.as_bytes() && b.get(colon) == Some(&b':') {
                    let v = skip_space(b, colon + 1);
                    return match b.get(v) {
                        Some(b'"') => Some(&text[v..=string_end(b, v)?]),
                        _ => None,
                    };
                }
                i = end;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The first index from `i` that is not JSON whitespace (the store writes compact text; a
/// document written otherwise is read the same).
fn skip_space(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The index of the quote that closes the string opened at `open`.
fn string_end(b: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Text borrowed from a row (no copy): a column that is not text is a conversion error, as
/// `get::<String>` would give.
fn text<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    r.get_ref(i)?.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// The members of a group, by user creation order, each with its display name: the user's
/// `displayName`, else its userName (as [`members`]). The display name is found in the stored
/// document's text, without SQLite's JSON functions (which parse each document: most of the
/// time of a large group's GET).
pub fn member_list(tx: &mut Tx<'_>, group_seq: i64) -> Result<MemberList, StoreError> {
    let conn = tx.conn();
    let mut stmt = conn.prepare_cached(
        "SELECT u.seq, u.id, u.user_name, u.doc
         FROM group_members m JOIN users u ON u.seq = m.user_seq
         WHERE m.group_seq = ?1 ORDER BY m.user_seq",
    )?;
    let mut rows = stmt.query([group_seq])?;
    let mut out = MemberList::default();
    // Text borrowed from the row (no copy per column): a column that is not text is a
    // conversion error, as `get::<String>` would give.
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let (id, user_name, doc) = (text(r, 1)?, text(r, 2)?, text(r, 3)?);
        out.push(seq, id, top_level_string(doc, "displayName"), user_name);
    }
    Ok(out)
}

pub fn member_count(tx: &mut Tx<'_>, group_seq: i64) -> Result<i64, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached("SELECT count(*) FROM group_members WHERE group_seq = ?1")?
        .query_row([group_seq], |r| r.get(0))?)
}

/// The groups of each of `user_seqs` within `scope`, in one query (a page of a list):
/// (user seq, group id, displayName), by user then group.
pub fn groups_of_users(
    tx: &mut Tx<'_>,
    user_seqs: &[i64],
    scope: &Scope,
) -> Result<Vec<(i64, String, String)>, StoreError> {
    let conn = tx.conn();
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
    tx: &mut Tx<'_>,
    user_seq: i64,
    scope: &Scope,
) -> Result<Vec<(String, String)>, StoreError> {
    let conn = tx.conn();
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
    tx: &mut Tx<'_>,
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
        tx,
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
    tx: &mut Tx<'_>,
    text: &str,
    offset: u64,
    limit: u64,
) -> Result<(u64, Vec<(GroupRow, i64)>), StoreError> {
    let conn = tx.conn();
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn top_level_string_finds_only_the_top_level_member() {
        fn f(t: &str) -> Option<&str> {
            top_level_string(t, "displayName")
        }
        assert_eq!(
            f(r#"{"userName":"a","displayName":"Ann Lee"}"#),
            Some(r#""Ann Lee""#)
        );
        // A nested object's member of the same name comes first: not taken.
        assert_eq!(
            f(r#"{"urn:x":{"manager":{"displayName":"Boss"}},"displayName":"Ann"}"#),
            Some(r#""Ann""#)
        );
        assert_eq!(f(r#"{"urn:x":{"manager":{"displayName":"Boss"}}}"#), None);
        // The name inside a string value, or as a value, is not a member name.
        assert_eq!(
            f(r#"{"title":""displayName":"x"","nickName":"displayName"}"#),
            None
        );
        assert_eq!(f(r#"{"emails":[{"displayName":"in an array"}]}"#), None);
        // Escapes are kept as written: the token is valid JSON as it stands.
        let t = r#"{"displayName":"Ann \"A\" L\u00e9e \\"}"#;
        let token = f(t).unwrap();
        assert_eq!(
            serde_json::from_str::<String>(token).unwrap(),
            "Ann \"A\" L\u{e9}e \\"
        );
        // Not a string, or no such member: None (the caller falls back to the userName).
        assert_eq!(f(r#"{"displayName":null}"#), None);
        assert_eq!(f(r#"{"displayName":12}"#), None);
        assert_eq!(f("{}"), None);
        assert_eq!(f("{ \"displayName\" : \"Spaced\" }"), Some("\"Spaced\""));
        assert_eq!(f(r#"{"displayName":"unterminated"#), None);
    }

    #[test]
    fn member_list_keeps_ids_and_display_tokens() {
        let mut m = MemberList::default();
        m.push(7, "id-7", Some(r#""Ann \"A\"""#), "ann@example.com");
        m.push(9, "id-9", None, "bob\"quote@example.com");
        assert_eq!(m.len(), 2);
        let all: Vec<MemberRef<'_>> = m.iter().collect();
        assert_eq!(all[0].user_seq, 7);
        assert_eq!(all[0].id, "id-7");
        assert_eq!(all[0].display(), "Ann \"A\"");
        assert_eq!(all[1].display_json, r#""bob\"quote@example.com""#);
        assert_eq!(
            m.to_members(),
            vec![
                Member {
                    user_seq: 7,
                    id: "id-7".into(),
                    display: "Ann \"A\"".into()
                },
                Member {
                    user_seq: 9,
                    id: "id-9".into(),
                    display: "bob\"quote@example.com".into()
                },
            ]
        );
    }
}
