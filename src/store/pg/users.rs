//! Users on PostgreSQL: `users` rows with the derived `user_emails` and `login_names` rows,
//! as `store::users` writes them on SQLite (the same `derive`: folded names, emails, search
//! text). Login names are unique across userNames and aliases: each new name is looked up in
//! both tables, and the unique indexes refuse what a concurrent writer took in between (a
//! unique violation is a `Conflict`, as on SQLite).
//!
//! Documents are `jsonb`: they come back equal as JSON values to what was written, with their
//! members in jsonb's order (shorter names first) rather than the order they were written in,
//! and a list page's [`DocText`] is that value written compactly by `serde_json`.

use postgres::GenericClient;
use postgres::error::SqlState;
use rusqlite::types::Value as SqlParam;
use serde_json::Value;

use crate::scim::resource::{DocText, Document};
use crate::store::StoreError;
use crate::store::filter_sql::Compiled;
use crate::store::fold::fold;
use crate::store::listing::{ListPage, Paging, Table};
use crate::store::pg::listing::{self, PgCondition};
use crate::store::users::{
    Derived, NewUser, Scope, Search, SourceFilter, UserRow, derive, original_alias,
};

const COLUMNS: &str = "u.seq, u.id, u.source, u.version, u.created, u.last_modified, u.doc";

/// A row of [`COLUMNS`] with its document as compact JSON text.
fn to_user_text(r: &postgres::Row) -> Result<UserRow<DocText>, StoreError> {
    let doc: Value = r.try_get(6)?;
    let text = serde_json::to_string(&doc).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(UserRow {
        seq: r.try_get(0)?,
        id: r.try_get(1)?,
        source: r.try_get(2)?,
        version: r.try_get(3)?,
        created: r.try_get(4)?,
        last_modified: r.try_get(5)?,
        doc: DocText::new(text),
    })
}

/// A row of [`COLUMNS`] with its document parsed.
fn to_user(r: &postgres::Row) -> Result<UserRow, StoreError> {
    let id: String = r.try_get(1)?;
    let Value::Object(doc) = r.try_get::<_, Value>(6)? else {
        return Err(StoreError::Corrupt(format!(
            "user {id} has a document that is not a JSON object"
        )));
    };
    Ok(UserRow {
        seq: r.try_get(0)?,
        id,
        source: r.try_get(2)?,
        version: r.try_get(3)?,
        created: r.try_get(4)?,
        last_modified: r.try_get(5)?,
        doc,
    })
}

pub fn find_by_seq(c: &mut impl GenericClient, seq: i64) -> Result<Option<UserRow>, StoreError> {
    c.query_opt(
        &format!("SELECT {COLUMNS} FROM users u WHERE u.seq = $1"),
        &[&seq],
    )?
    .as_ref()
    .map(to_user)
    .transpose()
}

/// The user whose userName or one of whose aliases is `name`, compared folded.
pub fn find_by_login(
    c: &mut impl GenericClient,
    name: &str,
) -> Result<Option<UserRow>, StoreError> {
    let Some(seq) = seq_by_login(c, name.trim())? else {
        return Ok(None);
    };
    find_by_seq(c, seq)
}

pub fn find_by_id(c: &mut impl GenericClient, id: &str) -> Result<Option<UserRow>, StoreError> {
    c.query_opt(
        &format!("SELECT {COLUMNS} FROM users u WHERE u.id = $1"),
        &[&id],
    )?
    .as_ref()
    .map(to_user)
    .transpose()
}

/// [`find_by_id`] with the document as text (see the module documentation for its form).
pub fn find_by_id_text(
    c: &mut impl GenericClient,
    id: &str,
) -> Result<Option<UserRow<DocText>>, StoreError> {
    c.query_opt(
        &format!("SELECT {COLUMNS} FROM users u WHERE u.id = $1"),
        &[&id],
    )?
    .as_ref()
    .map(to_user_text)
    .transpose()
}

/// The user holding this login name (userName or alias, compared folded), if any: the user
/// whose userName it is, else the user with it as an alias.
pub fn seq_by_login(c: &mut impl GenericClient, name: &str) -> Result<Option<i64>, StoreError> {
    let folded = fold(name);
    if let Some(r) = c.query_opt(
        "SELECT seq FROM users WHERE user_name_folded = $1",
        &[&folded],
    )? {
        return Ok(Some(r.try_get(0)?));
    }
    Ok(c.query_opt(
        "SELECT user_seq FROM login_names WHERE name_folded = $1",
        &[&folded],
    )?
    .map(|r| r.try_get(0))
    .transpose()?)
}

fn conflict(d: &Derived, e: postgres::Error) -> StoreError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        StoreError::Conflict {
            attribute: "userName",
            value: d.user_name.clone(),
        }
    } else {
        StoreError::Postgres(e)
    }
}

/// Whether a user other than `seq` holds the folded login name, as userName or alias.
fn taken_by_another(
    c: &mut impl GenericClient,
    folded: &str,
    seq: i64,
) -> Result<bool, StoreError> {
    let row = c.query_opt(
        "SELECT 1 FROM users WHERE user_name_folded = $1 AND seq <> $2
         UNION ALL SELECT 1 FROM login_names WHERE name_folded = $1 AND user_seq <> $2 LIMIT 1",
        &[&folded, &seq],
    )?;
    Ok(row.is_some())
}

fn write_derived(
    c: &mut impl GenericClient,
    seq: i64,
    d: &Derived,
    doc: &Document,
) -> Result<(), StoreError> {
    c.execute("DELETE FROM user_emails WHERE user_seq = $1", &[&seq])?;
    c.execute("DELETE FROM login_names WHERE user_seq = $1", &[&seq])?;
    for (v, t) in &d.emails {
        c.execute(
            "INSERT INTO user_emails (user_seq, value_folded, type_folded) VALUES ($1, $2, $3)",
            &[&seq, v, t],
        )?;
    }
    for (name, is_alias) in &d.names {
        let refused = || StoreError::Conflict {
            attribute: if *is_alias { "aliases" } else { "userName" },
            value: if *is_alias {
                original_alias(doc, name)
            } else {
                d.user_name.clone()
            },
        };
        if taken_by_another(c, name, seq)? {
            return Err(refused());
        }
        if *is_alias {
            c.execute(
                "INSERT INTO login_names (name_folded, user_seq, is_alias) VALUES ($1, $2, TRUE)",
                &[name, &seq],
            )
            .map_err(|e| match conflict(d, e) {
                StoreError::Conflict { .. } => refused(),
                e => e,
            })?;
        }
    }
    Ok(())
}

/// Inserts a user at version 1; `Conflict` if its userName or an alias is taken. Run it in a
/// transaction (the user row and its derived rows are one write).
pub fn insert(c: &mut impl GenericClient, u: NewUser<'_>) -> Result<UserRow, StoreError> {
    let d = derive(u.doc)?;
    if taken_by_another(c, &d.names[0].0, -1)? {
        return Err(StoreError::Conflict {
            attribute: "userName",
            value: d.user_name,
        });
    }
    let doc = Value::Object(u.doc.clone());
    let seq: i64 = c
        .query_one(
            "INSERT INTO users (id, source, user_name, user_name_folded, external_id, active, version,
                                created, last_modified, doc, display_name_folded, search_text)
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7, $8, $9, $10) RETURNING seq",
            &[
                &u.id,
                &u.source,
                &d.user_name,
                &d.names[0].0,
                &d.external_id,
                &d.active,
                &u.now,
                &doc,
                &d.display_name_folded,
                &d.search,
            ],
        )
        .map_err(|e| conflict(&d, e))?
        .get(0);
    write_derived(c, seq, &d, u.doc)?;
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
    c: &mut impl GenericClient,
    old: &UserRow,
    source: Option<&str>,
    doc: Document,
    now: &str,
) -> Result<UserRow, StoreError> {
    let d = derive(&doc)?;
    let version = old.version + 1;
    let json = Value::Object(doc.clone());
    c.execute(
        "UPDATE users SET source = $2, user_name = $3, user_name_folded = $4, external_id = $5,
                active = $6, version = $7, last_modified = $8, doc = $9, display_name_folded = $10,
                search_text = $11
         WHERE seq = $1",
        &[
            &old.seq,
            &source,
            &d.user_name,
            &d.names[0].0,
            &d.external_id,
            &d.active,
            &version,
            &now,
            &json,
            &d.display_name_folded,
            &d.search,
        ],
    )
    .map_err(|e| conflict(&d, e))?;
    if ["userName", "aliases", "emails"]
        .iter()
        .any(|k| old.doc.get(*k) != doc.get(*k))
    {
        write_derived(c, old.seq, &d, &doc)?;
    }
    if member_display(&old.doc) != member_display(&doc) {
        touch_groups_of(c, old.seq)?;
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

/// The name a group shows for this user as a member: its `displayName` when that is a string,
/// else its userName (as `store::users`).
fn member_display(doc: &Document) -> Option<&Value> {
    match doc.get("displayName") {
        Some(v @ Value::String(_)) => Some(v),
        _ => doc.get("userName"),
    }
}

/// Bumps the version of every group `user_seq` is a member of, as `store::users` does when a
/// member's `display` changes or the member goes (RFC 7644 §3.14); `lastModified` stays.
fn touch_groups_of(c: &mut impl GenericClient, user_seq: i64) -> Result<(), StoreError> {
    c.execute(
        "UPDATE groups SET version = version + 1
         WHERE seq IN (SELECT group_seq FROM group_members WHERE user_seq = $1)",
        &[&user_seq],
    )?;
    Ok(())
}

/// Deletes a user; its memberships go with it (`ON DELETE CASCADE`), and its groups' versions
/// move.
pub fn delete(c: &mut impl GenericClient, seq: i64) -> Result<(), StoreError> {
    touch_groups_of(c, seq)?;
    c.execute("DELETE FROM users WHERE seq = $1", &[&seq])?;
    Ok(())
}

/// The condition of `scope` on `users u` (PostgreSQL's planner needs no steering away from the
/// scope's index, which SQLite's `+u.source` gives).
pub(crate) fn scope_condition(scope: &Scope, p: &mut PgCondition) -> Option<String> {
    match scope {
        Scope::Source(s) => {
            let n = p.param(SqlParam::Text(s.clone()));
            Some(format!("u.source = {n}"))
        }
        Scope::SourceOrManual(s) => {
            let n = p.param(SqlParam::Text(s.clone()));
            Some(format!("(u.source = {n} OR u.source IS NULL)"))
        }
        Scope::All => None,
    }
}

/// A page of users in scope matching the compiled filter (compiled with
/// `Dialect::Postgres`), as `store::users::list`.
pub fn list(
    c: &mut impl GenericClient,
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
    listing::page(
        c,
        &table,
        q,
        |p| scope_condition(scope, p),
        paging,
        limit,
        to_user_text,
    )
}

/// A page of users matching an administrator's search, newest first, with the total count,
/// as `store::users::search`.
pub fn search(
    c: &mut impl GenericClient,
    s: &Search,
    offset: u64,
    limit: u64,
) -> Result<(u64, Vec<UserRow>), StoreError> {
    let mut p = PgCondition::default();
    let mut conds = vec!["TRUE".to_owned()];
    match &s.source {
        SourceFilter::Any => {}
        SourceFilter::Manual => conds.push("u.source IS NULL".into()),
        SourceFilter::Integration(id) => {
            let n = p.param(SqlParam::Text(id.clone()));
            conds.push(format!("u.source = {n}"));
        }
    }
    if let Some(a) = s.active {
        let n = p.param(SqlParam::Integer(i64::from(a)));
        conds.push(format!("u.active = ({n} <> 0)"));
    }
    let text = s.text.trim();
    if !text.is_empty() {
        let n = p.param(SqlParam::Text(fold(text)));
        conds.push(format!("strpos(u.search_text, {n}) > 0"));
    }
    let wherec = conds.join(" AND ");
    let total: i64 = listing::query(
        c,
        &format!("SELECT count(*) FROM users u WHERE {wherec}"),
        &p.params,
    )?
    .first()
    .map(|r| r.try_get(0))
    .transpose()?
    .unwrap_or(0);
    let l = p.param(SqlParam::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    let o = p.param(SqlParam::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
    let rows = listing::query(
        c,
        &format!(
            "SELECT {COLUMNS} FROM users u WHERE {wherec} ORDER BY u.seq DESC LIMIT {l} OFFSET {o}"
        ),
        &p.params,
    )?
    .iter()
    .map(to_user)
    .collect::<Result<Vec<_>, _>>()?;
    Ok((total.max(0) as u64, rows))
}
