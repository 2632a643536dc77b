//! Errors of the storage layer.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique value is taken; `attribute` names it (userName, aliases, name …).
    #[error("{attribute} '{value}' is already taken")]
    Conflict {
        attribute: &'static str,
        value: String,
    },
    #[error(
        "the database schema is version {found}, newer than this binary supports ({supported}); upgrade scimgate"
    )]
    TooNew { found: i64, supported: i64 },
    #[error("the database writer has stopped")]
    WriterGone,
    #[error("committing the transaction failed: {0}")]
    Commit(String),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL (issue 18; the engine is not selectable yet).
    #[error("database error: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("database connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    /// Another process holds the database's lock file in a way that excludes this one.
    #[error("{0}")]
    Locked(String),
    /// `store::pg::copy` refused or failed to copy a SQLite database into PostgreSQL: the
    /// message says why (what the target already holds, a schema it does not know, counts
    /// that differ).
    #[error("copy to PostgreSQL: {0}")]
    Copy(String),
    #[error("a database task failed: {0}")]
    Task(String),
}
