//! The admin-side tables: `admins`, `sessions` and `setup_links`.

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::StoreError;
use crate::store::fold::fold;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub created: String,
    pub last_sign_in: Option<String>,
}

fn admin(r: &rusqlite::Row<'_>) -> rusqlite::Result<AdminRow> {
    Ok(AdminRow {
        id: r.get(0)?,
        username: r.get(1)?,
        password_hash: r.get(2)?,
        created: r.get(3)?,
        last_sign_in: r.get(4)?,
    })
}

const ADMIN_COLUMNS: &str = "id, username, password_hash, created, last_sign_in";

pub fn count(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM admins")?
        .query_row([], |r| r.get(0))?)
}

/// Inserts an administrator; `Conflict` when the (case-folded) username is taken.
pub fn insert(
    conn: &Connection,
    username: &str,
    password_hash: &str,
    now: &str,
) -> Result<i64, StoreError> {
    let folded = fold(username);
    let taken: Option<i64> = conn
        .prepare_cached("SELECT id FROM admins WHERE username_folded = ?1")?
        .query_row([&folded], |r| r.get(0))
        .optional()?;
    if taken.is_some() {
        return Err(StoreError::Conflict {
            attribute: "username",
            value: username.to_owned(),
        });
    }
    conn.prepare_cached(
        "INSERT INTO admins (username, username_folded, password_hash, created) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![username, folded, password_hash, now])?;
    Ok(conn.last_insert_rowid())
}

pub fn find_by_username(conn: &Connection, username: &str) -> Result<Option<AdminRow>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ADMIN_COLUMNS} FROM admins WHERE username_folded = ?1"
        ))?
        .query_row([fold(username)], admin)
        .optional()?)
}

pub fn list(conn: &Connection) -> Result<Vec<AdminRow>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {ADMIN_COLUMNS} FROM admins ORDER BY id"))?;
    let rows = stmt.query_map([], admin)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn record_sign_in(conn: &Connection, id: i64, now: &str) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE admins SET last_sign_in = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    Ok(())
}

/// A session joined with its administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub admin_id: i64,
    pub username: String,
    pub csrf: String,
    pub created: String,
    pub last_seen: String,
    pub expires: String,
}

pub struct NewSession<'a> {
    pub digest: &'a [u8],
    pub admin_id: i64,
    pub csrf: &'a str,
    pub now: &'a str,
    pub expires: &'a str,
}

pub fn insert_session(conn: &Connection, s: NewSession<'_>) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO sessions (digest, admin_id, csrf, created, last_seen, expires) VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
    )?
    .execute(params![s.digest, s.admin_id, s.csrf, s.now, s.expires])?;
    Ok(())
}

pub fn find_session(conn: &Connection, digest: &[u8]) -> Result<Option<SessionRow>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT s.admin_id, a.username, s.csrf, s.created, s.last_seen, s.expires
             FROM sessions s JOIN admins a ON a.id = s.admin_id WHERE s.digest = ?1",
        )?
        .query_row([digest], |r| {
            Ok(SessionRow {
                admin_id: r.get(0)?,
                username: r.get(1)?,
                csrf: r.get(2)?,
                created: r.get(3)?,
                last_seen: r.get(4)?,
                expires: r.get(5)?,
            })
        })
        .optional()?)
}

pub fn touch_session(conn: &Connection, digest: &[u8], now: &str) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE sessions SET last_seen = ?2 WHERE digest = ?1")?
        .execute(params![digest, now])?;
    Ok(())
}

pub fn delete_session(conn: &Connection, digest: &[u8]) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM sessions WHERE digest = ?1")?
        .execute([digest])?;
    Ok(())
}

/// Deletes sessions past their absolute expiry or idle since before `idle_before`.
pub fn delete_expired_sessions(
    conn: &Connection,
    now: &str,
    idle_before: &str,
) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached("DELETE FROM sessions WHERE expires <= ?1 OR last_seen <= ?2")?
        .execute(params![now, idle_before])?)
}

/// Replaces any setup link with this one.
pub fn put_setup_link(conn: &Connection, digest: &[u8], expires: &str) -> Result<(), StoreError> {
    conn.execute("DELETE FROM setup_links", [])?;
    conn.prepare_cached("INSERT INTO setup_links (digest, expires) VALUES (?1, ?2)")?
        .execute(params![digest, expires])?;
    Ok(())
}

/// The expiry of the setup link with this digest, if there is one.
pub fn find_setup_link(conn: &Connection, digest: &[u8]) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT expires FROM setup_links WHERE digest = ?1")?
        .query_row([digest], |r| r.get(0))
        .optional()?)
}

pub fn delete_setup_links(conn: &Connection) -> Result<(), StoreError> {
    conn.execute("DELETE FROM setup_links", [])?;
    Ok(())
}
