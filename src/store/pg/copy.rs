//! Moving an appliance (issue 18 item 6): copies a SQLite database into an empty PostgreSQL
//! database, every row of every table, in ONE PostgreSQL transaction, so that a failed or
//! interrupted copy leaves the target as it was.
//!
//! The steps, in the PostgreSQL transaction:
//! 1. the target must be empty: a database holding tables that scimgate did not create, or
//!    scimgate tables with rows, is refused ([`StoreError::Copy`] names what is there);
//! 2. [`super::migrate`] brings it to the current schema (under the migration advisory lock,
//!    held until the copy commits, so that a second copy or a starting node waits for it);
//! 3. the SQLite file is opened read-only and read in one read transaction: one snapshot, so a
//!    `scimgate serve` still writing to it does not tear the copy (writes after the snapshot
//!    are not copied);
//! 4. each table in [`TABLES`] is streamed with `COPY … FROM STDIN (FORMAT binary)` in an order
//!    that respects the foreign keys, values typed as the PostgreSQL schema types them
//!    (0/1 flags as booleans, JSON text as jsonb, blobs as bytea); the identity columns are set
//!    past the largest copied id, as SQLite would give the next row the largest id plus one;
//! 5. the rows of each table are counted in PostgreSQL and compared with SQLite's count and
//!    with what `COPY` reported, and only then the transaction commits.
//!
//! Rows are copied as they are, derived columns included (folded names, emails and aliases,
//! search text): both engines compute them with the same Rust code (`store::users::derive`,
//! `store::fold`), so they mean the same. Sealed TOTP secrets are copied sealed: the nodes on
//! PostgreSQL need the same secrets key file (`secrets_meta.key_id` names it).
//!
//! The SQLite database must be at this binary's schema version (any scimgate command opening it
//! upgrades it), and its tables and columns must be exactly those listed here: anything else
//! (a table or column added by a later migration and not listed) is refused rather than
//! silently left behind.

use std::collections::BTreeSet;
use std::path::Path;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::store::StoreError;

/// How a SQLite column's values are written to PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// TEXT -> text.
    Text,
    /// INTEGER -> bigint.
    Int,
    /// INTEGER 0 or 1 -> boolean.
    Bool,
    /// BLOB -> bytea.
    Bytes,
    /// TEXT holding a JSON document -> jsonb.
    Json,
}

use Kind::{Bool, Bytes, Int, Json, Text};

impl Kind {
    fn pg_type(self) -> Type {
        match self {
            Text => Type::TEXT,
            Int => Type::INT8,
            Bool => Type::BOOL,
            Bytes => Type::BYTEA,
            Json => Type::JSONB,
        }
    }
}

/// A table copied from SQLite to the PostgreSQL table of the same name.
#[derive(Debug)]
struct Table {
    name: &'static str,
    /// Every column of the SQLite table, with the PostgreSQL column of the same name.
    columns: &'static [(&'static str, Kind)],
    /// The identity column (SQLite's `INTEGER PRIMARY KEY` row id), set past the copied ids.
    identity: Option<&'static str>,
}

/// The tables copied, parents before children: each table's foreign keys are checked as its
/// `COPY` ends, against the tables copied before it.
const TABLES: &[Table] = &[
    Table {
        name: "integrations",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("name_folded", Text),
            ("kind", Text),
            ("token_digest", Bytes),
            ("send_enrollment_emails", Bool),
            ("include_manual", Bool),
            ("read_all_users", Bool),
            ("created", Text),
            ("token_created", Text),
            ("token_last_used", Text),
            ("previous_token_digest", Bytes),
            ("previous_token_until", Text),
            ("token_lifetime_days", Int),
            ("group_patch_answer", Text),
        ],
        identity: None,
    },
    Table {
        name: "users",
        columns: &[
            ("seq", Int),
            ("id", Text),
            ("source", Text),
            ("user_name", Text),
            ("user_name_folded", Text),
            ("external_id", Text),
            ("active", Bool),
            ("version", Int),
            ("created", Text),
            ("last_modified", Text),
            ("doc", Json),
            ("display_name_folded", Text),
            ("search_text", Text),
        ],
        identity: Some("seq"),
    },
    Table {
        name: "user_emails",
        columns: &[
            ("user_seq", Int),
            ("value_folded", Text),
            ("type_folded", Text),
        ],
        identity: None,
    },
    Table {
        name: "login_names",
        columns: &[("name_folded", Text), ("user_seq", Int), ("is_alias", Bool)],
        identity: None,
    },
    Table {
        name: "groups",
        columns: &[
            ("seq", Int),
            ("id", Text),
            ("source", Text),
            ("display_name", Text),
            ("display_name_folded", Text),
            ("external_id", Text),
            ("version", Int),
            ("created", Text),
            ("last_modified", Text),
            ("doc", Json),
        ],
        identity: Some("seq"),
    },
    Table {
        name: "group_members",
        columns: &[("group_seq", Int), ("user_seq", Int)],
        identity: None,
    },
    Table {
        name: "user_claims",
        columns: &[
            ("user_seq", Int),
            ("integration_id", Text),
            ("integration_name", Text),
            ("at", Text),
        ],
        identity: None,
    },
    Table {
        name: "group_claims",
        columns: &[
            ("group_seq", Int),
            ("integration_id", Text),
            ("integration_name", Text),
            ("at", Text),
        ],
        identity: None,
    },
    Table {
        name: "admins",
        columns: &[
            ("id", Int),
            ("username", Text),
            ("username_folded", Text),
            ("password_hash", Text),
            ("created", Text),
            ("last_sign_in", Text),
            ("totp_secret", Text),
            ("totp_last_step", Int),
            ("totp_registered_at", Text),
        ],
        identity: Some("id"),
    },
    Table {
        name: "admin_recovery_codes",
        columns: &[
            ("id", Int),
            ("admin_id", Int),
            ("digest", Text),
            ("created", Text),
        ],
        identity: Some("id"),
    },
    Table {
        name: "sessions",
        columns: &[
            ("digest", Bytes),
            ("admin_id", Int),
            ("csrf", Text),
            ("created", Text),
            ("last_seen", Text),
            ("expires", Text),
            ("pending", Bool),
        ],
        identity: None,
    },
    Table {
        name: "setup_links",
        columns: &[("digest", Bytes), ("expires", Text)],
        identity: None,
    },
    Table {
        name: "activity",
        columns: &[
            ("seq", Int),
            ("at", Text),
            ("integration_id", Text),
            ("integration_name", Text),
            ("method", Text),
            ("path", Text),
            ("status", Int),
            ("latency_ms", Int),
            ("summary", Text),
            ("user_id", Text),
            ("body", Text),
            ("body_bytes", Int),
            ("body_note", Text),
            ("client", Text),
            ("refused", Int),
        ],
        identity: Some("seq"),
    },
    Table {
        name: "outbox",
        columns: &[
            ("id", Int),
            ("kind", Text),
            ("user_seq", Int),
            ("recipient", Text),
            ("status", Text),
            ("attempts", Int),
            ("next_attempt", Text),
            ("last_error", Text),
            ("created", Text),
            ("sent", Text),
        ],
        identity: Some("id"),
    },
    Table {
        name: "enrollment_links",
        columns: &[
            ("user_seq", Int),
            ("token_digest", Bytes),
            ("expires", Text),
            ("created", Text),
            ("pending_secret", Text),
        ],
        identity: None,
    },
    Table {
        name: "authenticators",
        columns: &[
            ("user_seq", Int),
            ("secret", Text),
            ("created", Text),
            ("last_step", Int),
            ("failures", Int),
            ("locked_until", Text),
        ],
        identity: None,
    },
    Table {
        name: "verifier_keys",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("name_folded", Text),
            ("digest", Bytes),
            ("created_at", Text),
            ("last_used_at", Text),
            ("revoked_at", Text),
        ],
        identity: None,
    },
    Table {
        name: "secrets_meta",
        columns: &[("id", Int), ("key_id", Text), ("changed", Text)],
        identity: None,
    },
];

/// SQLite tables deliberately not copied, with the reason. SQLite keeps its schema version in
/// `PRAGMA user_version`, not in a table; PostgreSQL's is written by [`super::migrate`].
pub const NOT_COPIED: &[(&str, &str)] = &[
    (
        "sqlite_stat1",
        "SQLite's query planner statistics (`PRAGMA optimize`); PostgreSQL gathers its own",
    ),
    (
        "sqlite_stat4",
        "SQLite's query planner statistics (`PRAGMA optimize`); PostgreSQL gathers its own",
    ),
    (
        "sqlite_sequence",
        "SQLite's AUTOINCREMENT counters; scimgate's tables use none (the identity columns are set past the copied ids instead)",
    ),
];

/// PostgreSQL tables that no SQLite table fills, with the reason.
pub const PG_ONLY: &[(&str, &str)] = &[
    (
        "scimgate_schema",
        "the schema version, written by `store::pg::migrate` (SQLite keeps it in `PRAGMA user_version`)",
    ),
    (
        "scim_case_fold",
        "the Unicode case folding table of `scim_fold()`, filled by `store::pg::migrate` (SQLite registers `scim_fold` from Rust)",
    ),
];

/// PostgreSQL columns of copied tables that no SQLite column fills (a copy leaves them at
/// their default), with the reason: (table, column, reason).
pub const PG_ONLY_COLUMNS: &[(&str, &str, &str)] = &[(
    "outbox",
    "claimed_until",
    "the lease of the node sending the message when several drain one database (migration 0003, `store::pg::outbox::claim`); a copied message is unclaimed",
)];

/// The names of the SQLite tables copied, in copy order.
pub fn copied_tables() -> impl Iterator<Item = &'static str> {
    TABLES.iter().map(|t| t.name)
}

/// What a copy moved: the rows of each table, verified equal in SQLite's snapshot and in
/// PostgreSQL before the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// (table, rows), in copy order.
    pub tables: Vec<(&'static str, u64)>,
}

impl CopyReport {
    /// The rows copied into `table`; None for a table that is not copied.
    pub fn rows(&self, table: &str) -> Option<u64> {
        self.tables
            .iter()
            .find(|(t, _)| *t == table)
            .map(|(_, n)| *n)
    }
}

/// Copies the SQLite database at `sqlite` into the empty PostgreSQL database `pg` (see the
/// module documentation). On any error nothing is committed.
pub fn copy(sqlite: &Path, pg: &mut postgres::Client) -> Result<CopyReport, StoreError> {
    let source = open_source(sqlite)?;
    let mut tx = pg.transaction()?;
    refuse_foreign_tables(&mut tx)?;
    super::migrate(&mut tx)?;
    refuse_rows(&mut tx)?;

    // One read transaction: every count and row below comes from the same snapshot.
    source.execute_batch("BEGIN")?;
    let result = (|| {
        check_source_schema(&source)?;
        let mut report = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            let expected = sqlite_count(&source, table.name)?;
            let written = copy_table(&source, &mut tx, table)?;
            set_identity(&mut tx, table)?;
            let found: i64 = tx
                .query_one(&format!("SELECT count(*) FROM {}", table.name), &[])?
                .get(0);
            if written != expected || u64::try_from(found).ok() != Some(expected) {
                return Err(StoreError::Copy(format!(
                    "{}: {expected} rows in SQLite, {written} copied, {found} in PostgreSQL",
                    table.name
                )));
            }
            tracing::info!(table = table.name, rows = expected, "copied to PostgreSQL");
            report.push((table.name, expected));
        }
        Ok(report)
    })();
    // Ends the read; a read-only transaction has nothing to keep.
    let _ = source.execute_batch("ROLLBACK");
    let tables = result?;
    tx.commit()?;
    Ok(CopyReport { tables })
}

/// The SQLite database, read-only, at this binary's schema version.
fn open_source(path: &Path) -> Result<Connection, StoreError> {
    if !path.is_file() {
        return Err(StoreError::Copy(format!(
            "no SQLite database at {}",
            path.display()
        )));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(crate::store::BUSY_TIMEOUT)?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let latest = crate::store::migrations::LATEST;
    if version > latest {
        return Err(StoreError::TooNew {
            found: version,
            supported: latest,
        });
    }
    if version < latest {
        return Err(StoreError::Copy(format!(
            "{} is at schema version {version}, this binary's is {latest}: run this scimgate once on it (e.g. `scimgate serve`), which upgrades it, then copy",
            path.display()
        )));
    }
    Ok(conn)
}

/// Every SQLite table is copied or listed in [`NOT_COPIED`], and every copied table has
/// exactly the columns listed: otherwise data would be left behind without a word.
fn check_source_schema(source: &Connection) -> Result<(), StoreError> {
    let mut stmt = source.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?;
    let tables: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let unknown: Vec<&str> = tables
        .iter()
        .map(String::as_str)
        .filter(|t| !copied_tables().any(|c| c == *t) && !NOT_COPIED.iter().any(|(n, _)| n == t))
        .collect();
    if !unknown.is_empty() {
        return Err(StoreError::Copy(format!(
            "the SQLite database has tables this binary does not know how to copy: {}",
            unknown.join(", ")
        )));
    }
    for table in TABLES {
        let mut stmt = source.prepare("SELECT name FROM pragma_table_info(?1)")?;
        let found: BTreeSet<String> = stmt
            .query_map([table.name], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let listed: BTreeSet<String> = table.columns.iter().map(|(c, _)| (*c).to_owned()).collect();
        if found != listed {
            let missing: Vec<&String> = listed.difference(&found).collect();
            let extra: Vec<&String> = found.difference(&listed).collect();
            return Err(StoreError::Copy(format!(
                "the SQLite table {} does not have the columns this binary copies (missing: {missing:?}, unknown: {extra:?})",
                table.name
            )));
        }
    }
    Ok(())
}

/// A database that holds relations but no scimgate schema belongs to something else.
fn refuse_foreign_tables(tx: &mut postgres::Transaction<'_>) -> Result<(), StoreError> {
    let ours: bool = tx
        .query_one("SELECT to_regclass('scimgate_schema') IS NOT NULL", &[])?
        .get(0);
    if ours {
        return Ok(());
    }
    let names: Vec<String> = tx
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
             ORDER BY 1",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    Err(StoreError::Copy(format!(
        "the PostgreSQL database is not empty: it holds tables that are not scimgate's ({}); copy into a new, empty database",
        names.join(", ")
    )))
}

/// After migrating: every table except the schema's own ([`PG_ONLY`]) must be empty.
fn refuse_rows(tx: &mut postgres::Transaction<'_>) -> Result<(), StoreError> {
    let tables: Vec<String> = tx
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
             ORDER BY 1",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut held = Vec::new();
    for t in tables
        .iter()
        .filter(|t| !PG_ONLY.iter().any(|(n, _)| n == t))
    {
        let n: i64 = tx
            .query_one(
                &format!("SELECT count(*) FROM \"{}\"", t.replace('"', "\"\"")),
                &[],
            )?
            .get(0);
        if n > 0 {
            held.push(format!("{t} ({n} rows)"));
        }
    }
    if held.is_empty() {
        return Ok(());
    }
    Err(StoreError::Copy(format!(
        "the PostgreSQL database is not empty: it already holds {}; copy into a new, empty database",
        held.join(", ")
    )))
}

fn sqlite_count(source: &Connection, table: &str) -> Result<u64, StoreError> {
    let n: i64 = source.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{table}: row count {n}")))
}

/// Streams the rows of `table` with binary COPY; returns the number of rows written.
fn copy_table(
    source: &Connection,
    tx: &mut postgres::Transaction<'_>,
    table: &Table,
) -> Result<u64, StoreError> {
    let names: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
    let list = names.join(", ");
    let types: Vec<Type> = table.columns.iter().map(|(_, k)| k.pg_type()).collect();
    let sink = tx.copy_in(&format!(
        "COPY {} ({list}) FROM STDIN (FORMAT binary)",
        table.name
    ))?;
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    let mut stmt = source.prepare(&format!("SELECT {list} FROM {}", table.name))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(table.columns.len());
        for (i, (column, kind)) in table.columns.iter().enumerate() {
            values.push(convert(table.name, column, *kind, row.get_ref(i)?)?);
        }
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
        writer.write(&refs)?;
    }
    Ok(writer.finish()?)
}

/// One SQLite value as the PostgreSQL column's type. The SQLite tables are STRICT, so a value
/// of another type than its column's is corruption, reported with where it is.
fn convert(
    table: &str,
    column: &str,
    kind: Kind,
    value: ValueRef<'_>,
) -> Result<Box<dyn ToSql + Sync>, StoreError> {
    let bad = |why: &str| StoreError::Corrupt(format!("{table}.{column}: {why}"));
    let text = |bytes: &[u8]| -> Result<String, StoreError> {
        let s = std::str::from_utf8(bytes).map_err(|_| bad("text that is not UTF-8"))?;
        // PostgreSQL's text and jsonb cannot hold U+0000.
        if s.contains('\0') {
            return Err(bad(
                "text with a NUL character, which PostgreSQL cannot store",
            ));
        }
        Ok(s.to_owned())
    };
    Ok(match (kind, value) {
        (Text, ValueRef::Null) => Box::new(None::<String>),
        (Int, ValueRef::Null) => Box::new(None::<i64>),
        (Bool, ValueRef::Null) => Box::new(None::<bool>),
        (Bytes, ValueRef::Null) => Box::new(None::<Vec<u8>>),
        (Json, ValueRef::Null) => Box::new(None::<serde_json::Value>),
        (Text, ValueRef::Text(t)) => Box::new(text(t)?),
        (Int, ValueRef::Integer(i)) => Box::new(i),
        (Bool, ValueRef::Integer(0)) => Box::new(false),
        (Bool, ValueRef::Integer(1)) => Box::new(true),
        (Bytes, ValueRef::Blob(b)) => Box::new(b.to_vec()),
        (Json, ValueRef::Text(t)) => {
            let doc: serde_json::Value =
                serde_json::from_str(&text(t)?).map_err(|e| bad(&format!("invalid JSON: {e}")))?;
            Box::new(doc)
        }
        (kind, value) => {
            return Err(bad(&format!(
                "a {:?} value where {kind:?} was expected",
                value.data_type()
            )));
        }
    })
}

/// Sets the identity column's sequence so that the next row gets the largest copied id plus
/// one, as SQLite's next row id would be.
fn set_identity(tx: &mut postgres::Transaction<'_>, table: &Table) -> Result<(), StoreError> {
    let Some(column) = table.identity else {
        return Ok(());
    };
    tx.execute(
        &format!(
            "SELECT setval(pg_get_serial_sequence('{t}', '{column}'), m)
             FROM (SELECT max({column}) AS m FROM {t}) x WHERE m IS NOT NULL",
            t = table.name
        ),
        &[],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A fresh SQLite database at this binary's schema: every table is accounted for, and
    /// every copied table's columns are exactly the listed ones.
    #[test]
    fn every_sqlite_table_is_copied_or_listed() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::migrations::migrate(&mut c).unwrap();
        // The planner statistics tables exist once `PRAGMA optimize` / ANALYZE ran.
        c.execute_batch("ANALYZE").unwrap();
        check_source_schema(&c).unwrap();
        // And nothing listed is missing from the schema (a stale list would hide a rename).
        for table in TABLES {
            let n: i64 = c
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                    [table.name],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, 1, "{}", table.name);
        }
        // A table added without being listed is refused.
        c.execute_batch("CREATE TABLE later (k INTEGER)").unwrap();
        let err = check_source_schema(&c).unwrap_err().to_string();
        assert!(err.contains("later"), "{err}");
        // So is a column added to a copied table.
        c.execute_batch("DROP TABLE later; ALTER TABLE outbox ADD COLUMN lease TEXT")
            .unwrap();
        let err = check_source_schema(&c).unwrap_err().to_string();
        assert!(err.contains("outbox") && err.contains("lease"), "{err}");
    }

    #[test]
    fn values_are_converted_as_the_column_types_them() {
        assert!(convert("t", "c", Bool, ValueRef::Integer(2)).is_err());
        assert!(convert("t", "c", Int, ValueRef::Text(b"1")).is_err());
        assert!(convert("t", "c", Json, ValueRef::Text(b"{")).is_err());
        assert!(convert("t", "c", Text, ValueRef::Text(b"a\0b")).is_err());
        assert!(convert("t", "c", Text, ValueRef::Text(b"ok")).is_ok());
        assert!(convert("t", "c", Bytes, ValueRef::Null).is_ok());
    }

    /// The PostgreSQL schema has a table for every copied one, with the same columns, and
    /// no table that is neither copied nor listed in [`PG_ONLY`].
    #[test]
    fn every_postgres_table_is_filled_or_listed() {
        let Some(db) = super::super::test_cluster::database("copy_schema") else {
            return;
        };
        let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
        super::super::migrate(&mut c).unwrap();
        let rows = c
            .query(
                "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
                 WHERE table_schema = current_schema()
                   AND table_name IN (SELECT tablename FROM pg_tables WHERE schemaname = current_schema())",
                &[],
            )
            .unwrap();
        let mut pg: std::collections::BTreeMap<String, BTreeSet<(String, String)>> =
            Default::default();
        for r in rows {
            pg.entry(r.get(0)).or_default().insert((r.get(1), r.get(2)));
        }
        for (table, column, _) in PG_ONLY_COLUMNS {
            let columns = pg.get_mut(*table).unwrap();
            assert!(
                columns.remove(&((*column).to_owned(), "text".to_owned())),
                "{table}.{column}"
            );
        }
        for table in TABLES {
            let listed: BTreeSet<(String, String)> = table
                .columns
                .iter()
                .map(|(c, k)| {
                    let t = match k {
                        Text => "text",
                        Int => "bigint",
                        Bool => "boolean",
                        Bytes => "bytea",
                        Json => "jsonb",
                    };
                    ((*c).to_owned(), t.to_owned())
                })
                .collect();
            assert_eq!(pg.remove(table.name), Some(listed), "{}", table.name);
        }
        for (t, _) in PG_ONLY {
            assert!(pg.remove(*t).is_some(), "{t}");
        }
        assert!(
            pg.is_empty(),
            "PostgreSQL tables neither copied nor listed: {pg:?}"
        );
    }
}
