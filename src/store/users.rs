//! The users repository: rows of `users`, with the derived index tables `user_emails` and
//! `login_names` kept in step with each document.
//!
//! Login names (the userName and every alias) are unique across the appliance, compared
//! folded. A userName is held by the unique index on `users.user_name_folded`, an alias by the
//! primary key of `login_names`; each new name is looked up in both before it is written
//! (issue 17 item 3: `login_names` no longer repeats every userName, which cost each created
//! user two more index entries, one of them at a random page).

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use serde_json::Value;

use crate::scim::resource::{DocText, Document};
use crate::store::filter_sql::{Compiled, Condition};
use crate::store::fold::fold;
pub use crate::store::listing::Paging;
use crate::store::listing::{self, ListPage, Table};
use crate::store::{StoreError, Tx};

/// A stored user; its document parsed, or as the stored text (a list page).
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow<D = Document> {
    pub seq: i64,
    pub id: String,
    /// The owning integration; None for a manually provisioned user.
    pub source: Option<String>,
    pub version: i64,
    pub created: String,
    pub last_modified: String,
    pub doc: D,
}

/// Which users a query may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Users owned by this integration.
    Source(String),
    /// Users owned by this integration, and manual users.
    SourceOrManual(String),
    /// Every user.
    All,
}

const COLUMNS: &str = "u.seq, u.id, u.source, u.version, u.created, u.last_modified, u.doc";

/// The columns of [`COLUMNS`], in order.
type RawUser = (i64, String, Option<String>, i64, String, String, String);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawUser> {
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

fn to_user(raw: RawUser) -> Result<UserRow, StoreError> {
    to_user_text(raw).parse()
}

fn to_user_text(raw: RawUser) -> UserRow<DocText> {
    let (seq, id, source, version, created, last_modified, doc) = raw;
    UserRow {
        seq,
        id,
        source,
        version,
        created,
        last_modified,
        doc: DocText::new(doc),
    }
}

impl UserRow<DocText> {
    /// The row with its document parsed.
    pub fn parse(self) -> Result<UserRow, StoreError> {
        let Some(doc) = self.doc.parse() else {
            return Err(StoreError::Corrupt(format!(
                "user {} has a document that is not a JSON object",
                self.id
            )));
        };
        Ok(UserRow {
            seq: self.seq,
            id: self.id,
            source: self.source,
            version: self.version,
            created: self.created,
            last_modified: self.last_modified,
            doc,
        })
    }
}

pub fn find_by_seq(tx: &mut Tx<'_>, seq: i64) -> Result<Option<UserRow>, StoreError> {
    let conn = tx.conn();
    let raw = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users u WHERE u.seq = ?1"))?
        .query_row([seq], row)
        .optional()?;
    raw.map(to_user).transpose()
}

/// The user whose userName or one of whose aliases is `name` (compared folded, as the
/// uniqueness rule compares them): the one resolver for login names (verify, admin search).
pub fn find_by_login(tx: &mut Tx<'_>, name: &str) -> Result<Option<UserRow>, StoreError> {
    let Some(seq) = seq_by_login(tx, name.trim())? else {
        return Ok(None);
    };
    find_by_seq(tx, seq)
}

pub fn find_by_id(tx: &mut Tx<'_>, id: &str) -> Result<Option<UserRow>, StoreError> {
    find_by_id_text(tx, id)?.map(UserRow::parse).transpose()
}

/// [`find_by_id`] with the document left as its stored text (a SCIM read writes it out as it
/// is).
pub fn find_by_id_text(tx: &mut Tx<'_>, id: &str) -> Result<Option<UserRow<DocText>>, StoreError> {
    let conn = tx.conn();
    let raw = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users u WHERE u.id = ?1"))?
        .query_row([id], row)
        .optional()?;
    Ok(raw.map(to_user_text))
}

/// Columns derived from a document for indexing (shared with the PostgreSQL dialect,
/// `store::pg::users`, so both engines fold and index alike).
pub(crate) struct Derived {
    pub(crate) user_name: String,
    pub(crate) external_id: Option<String>,
    pub(crate) display_name_folded: Option<String>,
    pub(crate) active: bool,
    pub(crate) emails: Vec<(String, Option<String>)>,
    /// Folded login names: the userName first, then aliases.
    pub(crate) names: Vec<(String, bool)>,
    /// What the admin search looks in (see [`search_text`]).
    pub(crate) search: String,
}

/// The admin pages' search text: userName, aliases, emails and names, folded, one per line
/// (the same as migration 0003 computes for existing rows).
fn search_text(doc: &Document) -> String {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let values = |k: &str| -> Vec<String> {
        doc.get(k)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| s(e.get("value")))
            .collect()
    };
    let name = doc.get("name");
    let parts: Vec<String> = [s(doc.get("userName"))]
        .into_iter()
        .flatten()
        .chain(values("aliases"))
        .chain(values("emails"))
        .chain(
            [
                s(doc.get("displayName")),
                s(name.and_then(|n| n.get("formatted"))),
                s(name.and_then(|n| n.get("givenName"))),
                s(name.and_then(|n| n.get("familyName"))),
            ]
            .into_iter()
            .flatten(),
        )
        .collect();
    fold(&parts.join("\n"))
}

pub(crate) fn derive(doc: &Document) -> Result<Derived, StoreError> {
    let user_name = doc
        .get("userName")
        .and_then(Value::as_str)
        .ok_or_else(|| StoreError::Corrupt("a user document without userName".into()))?
        .to_owned();
    let external_id = doc
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let display_name_folded = doc.get("displayName").and_then(Value::as_str).map(fold);
    // A user without `active` is active: the MFA service lets them authenticate.
    let active = doc.get("active").and_then(Value::as_bool).unwrap_or(true);
    let items = |name: &str| -> Vec<Value> {
        doc.get(name)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let emails = items("emails")
        .iter()
        .filter_map(|e| {
            let v = e.get("value")?.as_str()?;
            Some((fold(v), e.get("type").and_then(Value::as_str).map(fold)))
        })
        .collect();
    let mut names = vec![(fold(&user_name), false)];
    for a in items("aliases") {
        if let Some(v) = a.get("value").and_then(Value::as_str) {
            let f = fold(v);
            if !names.iter().any(|(n, _)| *n == f) {
                names.push((f, true));
            }
        }
    }
    Ok(Derived {
        search: search_text(doc),
        user_name,
        external_id,
        display_name_folded,
        active,
        emails,
        names,
    })
}

/// Writes the derived rows of user `seq`, checking login-name uniqueness across the appliance.
fn write_derived(
    conn: &Connection,
    seq: i64,
    d: &Derived,
    doc: &Document,
) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM user_emails WHERE user_seq = ?1")?
        .execute([seq])?;
    conn.prepare_cached("DELETE FROM login_names WHERE user_seq = ?1")?
        .execute([seq])?;
    let mut ins = conn.prepare_cached(
        "INSERT INTO user_emails (user_seq, value_folded, type_folded) VALUES (?1, ?2, ?3)",
    )?;
    for (v, t) in &d.emails {
        ins.execute(params![seq, v, t])?;
    }
    let mut put = conn.prepare_cached(
        "INSERT INTO login_names (name_folded, user_seq, is_alias) VALUES (?1, ?2, 1)",
    )?;
    for (name, is_alias) in &d.names {
        if taken_by_another(conn, name, seq)? {
            let value = if *is_alias {
                original_alias(doc, name)
            } else {
                d.user_name.clone()
            };
            return Err(StoreError::Conflict {
                attribute: if *is_alias { "aliases" } else { "userName" },
                value,
            });
        }
        // The userName is held by `users.user_name_folded`.
        if *is_alias {
            put.execute(params![name, seq])?;
        }
    }
    Ok(())
}

/// Whether a user other than `seq` holds the folded login name `folded`, as userName or alias.
fn taken_by_another(conn: &Connection, folded: &str, seq: i64) -> Result<bool, StoreError> {
    let user_name: Option<i64> = conn
        .prepare_cached("SELECT seq FROM users WHERE user_name_folded = ?1 AND seq != ?2")?
        .query_row(params![folded, seq], |r| r.get(0))
        .optional()?;
    if user_name.is_some() {
        return Ok(true);
    }
    let alias: Option<i64> = conn
        .prepare_cached(
            "SELECT user_seq FROM login_names WHERE name_folded = ?1 AND user_seq != ?2",
        )?
        .query_row(params![folded, seq], |r| r.get(0))
        .optional()?;
    Ok(alias.is_some())
}

pub(crate) fn original_alias(doc: &Document, folded: &str) -> String {
    doc.get("aliases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("value").and_then(Value::as_str))
        .find(|v| fold(v) == folded)
        .unwrap_or(folded)
        .to_owned()
}

pub struct NewUser<'a> {
    pub id: &'a str,
    pub source: Option<&'a str>,
    pub now: &'a str,
    pub doc: &'a Document,
}

/// The user holding this login name (userName or alias, compared folded), if any.
pub fn seq_by_login(tx: &mut Tx<'_>, name: &str) -> Result<Option<i64>, StoreError> {
    let conn = tx.conn();
    seq_by_folded_login(conn, &fold(name))
}

/// [`seq_by_login`] for a name already folded: the user whose userName it is, else the user
/// with it as an alias.
fn seq_by_folded_login(conn: &Connection, folded: &str) -> Result<Option<i64>, StoreError> {
    let by_user_name: Option<i64> = conn
        .prepare_cached("SELECT seq FROM users WHERE user_name_folded = ?1")?
        .query_row([folded], |r| r.get(0))
        .optional()?;
    if by_user_name.is_some() {
        return Ok(by_user_name);
    }
    Ok(conn
        .prepare_cached("SELECT user_seq FROM login_names WHERE name_folded = ?1")?
        .query_row([folded], |r| r.get(0))
        .optional()?)
}

/// Inserts a user at version 1; fails with `Conflict` if its userName or an alias is taken.
pub fn insert(tx: &mut Tx<'_>, u: NewUser<'_>) -> Result<UserRow, StoreError> {
    let conn = tx.conn();
    let d = derive(u.doc)?;
    let doc_text = serde_json::to_string(u.doc).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    if seq_by_folded_login(conn, &d.names[0].0)?.is_some() {
        return Err(StoreError::Conflict {
            attribute: "userName",
            value: d.user_name,
        });
    }
    conn.prepare_cached(
        "INSERT INTO users (id, source, user_name, user_name_folded, external_id, active, version, created, last_modified, doc, display_name_folded, search_text)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![u.id, u.source, d.user_name, d.names[0].0, d.external_id, d.active, u.now, doc_text, d.display_name_folded, d.search])?;
    let seq = conn.last_insert_rowid();
    write_derived(conn, seq, &d, u.doc)?;
    Ok(UserRow {
        seq,
        id: u.id.to_owned(),
        source: u.source.map(str::to_owned),
        version: 1,
        created: u.now.to_owned(),
        last_modified: u.now.to_owned(),
        doc: u.doc.clone(),
    })
}

/// Replaces the document (and source) of an existing user and bumps its version.
pub fn update(
    tx: &mut Tx<'_>,
    old: &UserRow,
    source: Option<&str>,
    doc: Document,
    now: &str,
) -> Result<UserRow, StoreError> {
    let conn = tx.conn();
    let d = derive(&doc)?;
    let doc_text = serde_json::to_string(&doc).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let version = old.version + 1;
    conn.prepare_cached(
        "UPDATE users SET source = ?2, user_name = ?3, user_name_folded = ?4, external_id = ?5, active = ?6,
                version = ?7, last_modified = ?8, doc = ?9, display_name_folded = ?10, search_text = ?11
         WHERE seq = ?1",
    )?
    .execute(params![old.seq, source, d.user_name, d.names[0].0, d.external_id, d.active, version, now, doc_text, d.display_name_folded, d.search])
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Conflict { attribute: "userName", value: d.user_name.clone() }
        }
        e => StoreError::Sqlite(e),
    })?;
    // Most replaces (Okta's PUT, a PATCH of the title or `active`) leave the login names and
    // emails as they were: their rows and indexes need not be rewritten. They derive from
    // these attributes alone (see `derive`), so equal attributes mean equal rows.
    if ["userName", "aliases", "emails"]
        .iter()
        .any(|k| old.doc.get(*k) != doc.get(*k))
    {
        write_derived(conn, old.seq, &d, &doc)?;
    }
    if member_display(&old.doc) != member_display(&doc) {
        touch_groups_of(conn, old.seq)?;
    }
    Ok(UserRow {
        seq: old.seq,
        id: old.id.clone(),
        source: source.map(str::to_owned),
        version,
        created: old.created.clone(),
        last_modified: now.to_owned(),
        doc,
    })
}

/// The name a group shows for this user as a member (`store::groups::member_list`): its
/// `displayName` when that is a string, else its userName.
fn member_display(doc: &Document) -> Option<&Value> {
    match doc.get("displayName") {
        Some(v @ Value::String(_)) => Some(v),
        _ => doc.get("userName"),
    }
}

/// Bumps the version (the ETag) of every group `user_seq` is a member of, when a change to
/// the user changes those groups' representation: a member's `display`, or the member itself
/// on delete. RFC 7644 §3.14: the version changes whenever the resource's representation
/// does; the large groups' answer cache (`web::scim::group_cache`) relies on it. Their
/// `lastModified` stays: the groups' own attributes did not change.
fn touch_groups_of(conn: &Connection, user_seq: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE groups SET version = version + 1
         WHERE seq IN (SELECT group_seq FROM group_members WHERE user_seq = ?1)",
    )?
    .execute([user_seq])?;
    Ok(())
}

/// Deletes a user; its memberships go with it (`ON DELETE CASCADE`), and its groups' versions
/// move ([`touch_groups_of`]).
pub fn delete(tx: &mut Tx<'_>, seq: i64) -> Result<(), StoreError> {
    let conn = tx.conn();
    touch_groups_of(conn, seq)?;
    conn.prepare_cached("DELETE FROM users WHERE seq = ?1")?
        .execute([seq])?;
    Ok(())
}

/// The condition of `scope`, appending its parameter to `c`. With a filter or a sort,
/// `+u.source` keeps SQLite from choosing the scope's index over the filter's or the sort's
/// (`externalId eq` would otherwise read every user of the integration, since `users_source`
/// looks as selective to the planner as `users_external_id`; `sortBy=userName` would sort the
/// whole scope for every page instead of reading `user_name_folded` in order).
pub(crate) fn scope_condition(scope: &Scope, filtered: bool, c: &mut Condition) -> Option<String> {
    let col = if filtered { "+u.source" } else { "u.source" };
    match scope {
        Scope::Source(s) => {
            let p = c.param(SqlValue::Text(s.clone()));
            Some(format!("{col} = {p}"))
        }
        Scope::SourceOrManual(s) => {
            let p = c.param(SqlValue::Text(s.clone()));
            Some(format!("({col} = {p} OR u.source IS NULL)"))
        }
        Scope::All => None,
    }
}

/// A page of users in scope matching the compiled filter, in the compiled sort order (ties
/// and unsorted lists in insertion order, `seq`), with the total count (see
/// [`listing::page`]). Each document is left as its stored text: a SCIM list page writes it
/// out as it is (`scim::resource::write_resource`) instead of parsing and serialising it again.
pub fn list(
    tx: &mut Tx<'_>,
    scope: &Scope,
    q: &Compiled,
    paging: &Paging,
    limit: u64,
) -> Result<ListPage<UserRow<DocText>>, StoreError> {
    let table = Table {
        from: "users u",
        columns: COLUMNS,
        seq: "u.seq",
    };
    let scope =
        |c: &mut Condition| scope_condition(scope, q.filter.is_some() || q.sort.is_some(), c);
    listing::page(tx, &table, q, scope, paging, limit, |r| {
        Ok(to_user_text(row(r)?))
    })
}

/// Who provisioned the users an admin search asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceFilter {
    Any,
    Manual,
    Integration(String),
}

/// An administrator's search of the directory (the Users page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// Case-insensitive substring of the userName, an alias, an email, the display name or the
    /// formatted/given/family name. Empty: every user.
    pub text: String,
    pub source: SourceFilter,
    /// `Some(true)`: active users only; `Some(false)`: deactivated only.
    pub active: Option<bool>,
}

/// A page of users matching `s`, newest first, with the total count. The substring search
/// scans the folded `search_text` column; the source and status filters use indexed columns.
pub fn search(
    tx: &mut Tx<'_>,
    s: &Search,
    offset: u64,
    limit: u64,
) -> Result<(u64, Vec<UserRow>), StoreError> {
    let conn = tx.conn();
    // Every parameter is numbered explicitly (`?N` = params[N-1]).
    let mut conds = vec!["1".to_owned()];
    let mut all: Vec<SqlValue> = Vec::new();
    let mut bind = |v: SqlValue| {
        all.push(v);
        all.len()
    };
    match &s.source {
        SourceFilter::Any => {}
        SourceFilter::Manual => conds.push("u.source IS NULL".into()),
        SourceFilter::Integration(id) => {
            let n = bind(SqlValue::Text(id.clone()));
            conds.push(format!("u.source = ?{n}"));
        }
    }
    if let Some(a) = s.active {
        let n = bind(SqlValue::Integer(i64::from(a)));
        conds.push(format!("u.active = ?{n}"));
    }
    let text = s.text.trim();
    if !text.is_empty() {
        let n = bind(SqlValue::Text(fold(text)));
        conds.push(format!("instr(u.search_text, ?{n}) > 0"));
    }
    let wherec = conds.join(" AND ");
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM users u WHERE {wherec}"))?
        .query_row(params_from_iter(all.iter()), |r| r.get(0))?;
    let n = all.len();
    all.push(SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    all.push(SqlValue::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users u WHERE {wherec} ORDER BY u.seq DESC LIMIT ?{} OFFSET ?{}",
        n + 1,
        n + 2
    ))?;
    let raw = stmt
        .query_map(params_from_iter(all.iter()), row)?
        .collect::<Result<Vec<_>, _>>()?;
    let rows = raw
        .into_iter()
        .map(to_user)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((total.max(0) as u64, rows))
}
