//! Users on PostgreSQL: `users` rows with the derived `user_emails` and `login_names` rows,
//! as `store::users` writes them on SQLite (the same `derive`: folded names, emails, search
//! text). Login names are unique across userNames and aliases: each new name is looked up in
//! both tables, and the unique indexes refuse what a concurrent writer took in between (a
//! unique violation is a `Conflict`, as on SQLite).

use postgres::GenericClient;
use postgres::error::SqlState;
use serde_json::Value;

use crate::scim::resource::Document;
use crate::store::StoreError;
use crate::store::users::{Derived, NewUser, UserRow, derive, original_alias};

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
