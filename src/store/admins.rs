//! The admin-side tables: `admins` (with each administrator's second factor), `sessions`,
//! `admin_recovery_codes` and `setup_links`.

use rusqlite::{OptionalExtension, params};

use crate::store::fold::fold;
use crate::store::{StoreError, Tx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub created: String,
    pub last_sign_in: Option<String>,
    /// An authenticator is registered (the second factor).
    pub second_factor: bool,
}

fn admin(r: &rusqlite::Row<'_>) -> rusqlite::Result<AdminRow> {
    Ok(AdminRow {
        id: r.get(0)?,
        username: r.get(1)?,
        password_hash: r.get(2)?,
        created: r.get(3)?,
        last_sign_in: r.get(4)?,
        second_factor: r.get(5)?,
    })
}

const ADMIN_COLUMNS: &str =
    "id, username, password_hash, created, last_sign_in, totp_secret IS NOT NULL";

pub fn count(tx: &mut Tx<'_>) -> Result<i64, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached("SELECT count(*) FROM admins")?
        .query_row([], |r| r.get(0))?)
}

/// Inserts an administrator; `Conflict` when the (case-folded) username is taken.
pub fn insert(
    tx: &mut Tx<'_>,
    username: &str,
    password_hash: &str,
    now: &str,
) -> Result<i64, StoreError> {
    let conn = tx.conn();
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

pub fn find_by_username(tx: &mut Tx<'_>, username: &str) -> Result<Option<AdminRow>, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ADMIN_COLUMNS} FROM admins WHERE username_folded = ?1"
        ))?
        .query_row([fold(username)], admin)
        .optional()?)
}

pub fn list(tx: &mut Tx<'_>) -> Result<Vec<AdminRow>, StoreError> {
    let conn = tx.conn();
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {ADMIN_COLUMNS} FROM admins ORDER BY id"))?;
    let rows = stmt.query_map([], admin)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn record_sign_in(tx: &mut Tx<'_>, id: i64, now: &str) -> Result<(), StoreError> {
    let conn = tx.conn();
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
    /// The password step passed, the second factor is awaited.
    pub pending: bool,
    /// The administrator has a registered authenticator.
    pub has_second_factor: bool,
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
    pub pending: bool,
}

pub fn insert_session(tx: &mut Tx<'_>, s: NewSession<'_>) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.prepare_cached(
        "INSERT INTO sessions (digest, admin_id, csrf, created, last_seen, expires, pending) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)",
    )?
    .execute(params![s.digest, s.admin_id, s.csrf, s.now, s.expires, s.pending])?;
    Ok(())
}

pub fn find_session(tx: &mut Tx<'_>, digest: &[u8]) -> Result<Option<SessionRow>, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached(
            "SELECT s.admin_id, a.username, s.csrf, s.created, s.last_seen, s.expires,
                    s.pending, a.totp_secret IS NOT NULL
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
                pending: r.get(6)?,
                has_second_factor: r.get(7)?,
            })
        })
        .optional()?)
}

pub fn touch_session(tx: &mut Tx<'_>, digest: &[u8], now: &str) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.prepare_cached("UPDATE sessions SET last_seen = ?2 WHERE digest = ?1")?
        .execute(params![digest, now])?;
    Ok(())
}

pub fn delete_session(tx: &mut Tx<'_>, digest: &[u8]) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.prepare_cached("DELETE FROM sessions WHERE digest = ?1")?
        .execute([digest])?;
    Ok(())
}

/// Deletes sessions past their absolute expiry or idle since before `idle_before`.
pub fn delete_expired_sessions(
    tx: &mut Tx<'_>,
    now: &str,
    idle_before: &str,
) -> Result<usize, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached("DELETE FROM sessions WHERE expires <= ?1 OR last_seen <= ?2")?
        .execute(params![now, idle_before])?)
}

/// Replaces any setup link with this one.
pub fn put_setup_link(tx: &mut Tx<'_>, digest: &[u8], expires: &str) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.execute("DELETE FROM setup_links", [])?;
    conn.prepare_cached("INSERT INTO setup_links (digest, expires) VALUES (?1, ?2)")?
        .execute(params![digest, expires])?;
    Ok(())
}

/// The expiry of the setup link with this digest, if there is one.
pub fn find_setup_link(tx: &mut Tx<'_>, digest: &[u8]) -> Result<Option<String>, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached("SELECT expires FROM setup_links WHERE digest = ?1")?
        .query_row([digest], |r| r.get(0))
        .optional()?)
}

pub fn delete_setup_links(tx: &mut Tx<'_>) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.execute("DELETE FROM setup_links", [])?;
    Ok(())
}

/// Ends every session of an administrator; returns how many there were.
pub fn delete_sessions_of(tx: &mut Tx<'_>, admin_id: i64) -> Result<usize, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached("DELETE FROM sessions WHERE admin_id = ?1")?
        .execute([admin_id])?)
}

/// An administrator's second factor as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SecondFactorRow {
    /// The stored TOTP secret (as the directory layer wrote it), if one is registered.
    pub secret: Option<String>,
    pub last_step: Option<i64>,
    pub registered_at: Option<String>,
    pub recovery_codes_left: i64,
}

impl std::fmt::Debug for SecondFactorRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactorRow")
            .field("registered", &self.secret.is_some())
            .field("last_step", &self.last_step)
            .field("registered_at", &self.registered_at)
            .field("recovery_codes_left", &self.recovery_codes_left)
            .finish()
    }
}

pub fn second_factor(
    tx: &mut Tx<'_>,
    admin_id: i64,
) -> Result<Option<SecondFactorRow>, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached(
            "SELECT totp_secret, totp_last_step, totp_registered_at,
                    (SELECT count(*) FROM admin_recovery_codes r WHERE r.admin_id = a.id)
             FROM admins a WHERE id = ?1",
        )?
        .query_row([admin_id], |r| {
            Ok(SecondFactorRow {
                secret: r.get(0)?,
                last_step: r.get(1)?,
                registered_at: r.get(2)?,
                recovery_codes_left: r.get(3)?,
            })
        })
        .optional()?)
}

/// Registers (or replaces) an administrator's authenticator, accepting `step` as used, and
/// replaces the recovery codes with `digests`.
pub fn set_second_factor(
    tx: &mut Tx<'_>,
    admin_id: i64,
    stored_secret: &str,
    step: i64,
    now: &str,
    digests: &[String],
) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.prepare_cached(
        "UPDATE admins SET totp_secret = ?2, totp_last_step = ?3, totp_registered_at = ?4 WHERE id = ?1",
    )?
    .execute(params![admin_id, stored_secret, step, now])?;
    replace_recovery_codes(tx, admin_id, digests, now)
}

/// Removes an administrator's authenticator and recovery codes. Returns whether an
/// authenticator was registered and how many recovery codes were removed.
pub fn clear_second_factor(tx: &mut Tx<'_>, admin_id: i64) -> Result<(bool, usize), StoreError> {
    let conn = tx.conn();
    let had = conn
        .prepare_cached(
            "UPDATE admins SET totp_secret = NULL, totp_last_step = NULL, totp_registered_at = NULL
             WHERE id = ?1 AND totp_secret IS NOT NULL",
        )?
        .execute([admin_id])?
        > 0;
    let codes = conn
        .prepare_cached("DELETE FROM admin_recovery_codes WHERE admin_id = ?1")?
        .execute([admin_id])?;
    Ok((had, codes))
}

/// Records `step` as the last accepted time step, unless a step at or after it was already
/// accepted (then returns false: the code was used before).
pub fn advance_step(tx: &mut Tx<'_>, admin_id: i64, step: i64) -> Result<bool, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached(
            "UPDATE admins SET totp_last_step = ?2
             WHERE id = ?1 AND totp_secret IS NOT NULL
               AND (totp_last_step IS NULL OR totp_last_step < ?2)",
        )?
        .execute(params![admin_id, step])?
        == 1)
}

/// The digests of an administrator's unused recovery codes, with their row ids.
pub fn recovery_codes(tx: &mut Tx<'_>, admin_id: i64) -> Result<Vec<(i64, String)>, StoreError> {
    let conn = tx.conn();
    let mut stmt = conn.prepare_cached(
        "SELECT id, digest FROM admin_recovery_codes WHERE admin_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([admin_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Uses up a recovery code; false if it was used meanwhile.
pub fn use_recovery_code(tx: &mut Tx<'_>, id: i64) -> Result<bool, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .prepare_cached("DELETE FROM admin_recovery_codes WHERE id = ?1")?
        .execute([id])?
        == 1)
}

pub fn replace_recovery_codes(
    tx: &mut Tx<'_>,
    admin_id: i64,
    digests: &[String],
    now: &str,
) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.prepare_cached("DELETE FROM admin_recovery_codes WHERE admin_id = ?1")?
        .execute([admin_id])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO admin_recovery_codes (admin_id, digest, created) VALUES (?1, ?2, ?3)",
    )?;
    for d in digests {
        insert.execute(params![admin_id, d, now])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::Tx;
    use rusqlite::Connection;

    fn db() -> (Connection, i64) {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::migrations::migrate(&mut c).unwrap();
        let id = insert(
            &mut Tx::sqlite(&c),
            "Ann",
            "$argon2id$x",
            "2026-01-01T00:00:00.000Z",
        )
        .unwrap();
        (c, id)
    }

    #[test]
    fn a_time_step_and_a_recovery_code_are_accepted_once() {
        let (c, id) = db();
        let tx = &mut Tx::sqlite(&c);
        // No authenticator: nothing to advance.
        assert!(!advance_step(tx, id, 5).unwrap());
        let digests = vec!["d1".to_owned(), "d2".to_owned()];
        set_second_factor(tx, id, "SECRET", 10, "now", &digests).unwrap();
        let f = second_factor(tx, id).unwrap().unwrap();
        assert_eq!(f.secret.as_deref(), Some("SECRET"));
        assert_eq!(f.recovery_codes_left, 2);
        assert!(!format!("{f:?}").contains("SECRET"));
        assert!(!advance_step(tx, id, 10).unwrap(), "the registration step");
        assert!(!advance_step(tx, id, 9).unwrap(), "an earlier step");
        assert!(advance_step(tx, id, 11).unwrap());
        assert!(!advance_step(tx, id, 11).unwrap(), "the same step again");
        let codes = recovery_codes(tx, id).unwrap();
        assert!(use_recovery_code(tx, codes[0].0).unwrap());
        assert!(!use_recovery_code(tx, codes[0].0).unwrap());
        assert_eq!(
            second_factor(tx, id).unwrap().unwrap().recovery_codes_left,
            1
        );
        assert!(find_by_username(tx, "ann").unwrap().unwrap().second_factor);

        // Reset: both gone, sessions ended.
        insert_session(
            tx,
            NewSession {
                digest: b"d",
                admin_id: id,
                csrf: "x",
                now: "now",
                expires: "later",
                pending: true,
            },
        )
        .unwrap();
        assert!(find_session(tx, b"d").unwrap().unwrap().pending);
        assert_eq!(clear_second_factor(tx, id).unwrap(), (true, 1));
        assert_eq!(clear_second_factor(tx, id).unwrap(), (false, 0));
        assert_eq!(delete_sessions_of(tx, id).unwrap(), 1);
        assert!(!find_by_username(tx, "ann").unwrap().unwrap().second_factor);
    }
}
