//! The secrets sealed at rest and the id of the key that sealed them (`secrets_meta`): the
//! TOTP secret of each registered authenticator, the pending secret of each enrollment link,
//! and each administrator's own TOTP secret. Rows only: sealing and opening belong to the caller, which holds the key.

use rusqlite::{OptionalExtension, params};

use crate::store::{StoreError, Tx};

/// Which column a secret lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// `authenticators.secret`
    Authenticator,
    /// `enrollment_links.pending_secret`
    PendingEnrollment,
    /// `admins.totp_secret`: an administrator's own authenticator. Its row is the admin's id
    /// (in `user_seq` and, as text, `user_id`).
    AdminAuthenticator,
}

/// One stored secret, with the identity of its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSecret {
    pub slot: Slot,
    pub user_seq: i64,
    /// The user's SCIM id (stable for the user's life): the row's identity for sealing.
    pub user_id: String,
    pub value: String,
}

/// The id of the key the secrets are sealed with, once one has been recorded.
pub fn key_id(tx: &mut Tx<'_>) -> Result<Option<String>, StoreError> {
    let conn = tx.conn();
    Ok(conn
        .query_row("SELECT key_id FROM secrets_meta WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?)
}

pub fn set_key_id(tx: &mut Tx<'_>, key_id: &str, now: &str) -> Result<(), StoreError> {
    let conn = tx.conn();
    conn.execute(
        "INSERT INTO secrets_meta (id, key_id, changed) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET key_id = excluded.key_id, changed = excluded.changed",
        params![key_id, now],
    )?;
    Ok(())
}

/// Where each slot's secrets are: (slot, owner seq, owner id, secret), the same SQL on both
/// engines.
pub(crate) const SECRET_QUERIES: [(Slot, &str); 3] = [
    (
        Slot::Authenticator,
        "SELECT a.user_seq, u.id, a.secret FROM authenticators a JOIN users u ON u.seq = a.user_seq",
    ),
    (
        Slot::PendingEnrollment,
        "SELECT l.user_seq, u.id, l.pending_secret FROM enrollment_links l JOIN users u ON u.seq = l.user_seq
         WHERE l.pending_secret IS NOT NULL",
    ),
    (
        Slot::AdminAuthenticator,
        "SELECT id, CAST(id AS TEXT), totp_secret FROM admins WHERE totp_secret IS NOT NULL",
    ),
];

/// Every stored secret, sealed or not.
pub fn all(tx: &mut Tx<'_>) -> Result<Vec<StoredSecret>, StoreError> {
    let conn = tx.conn();
    let mut out = Vec::new();
    for (slot, sql) in SECRET_QUERIES {
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map([], |r| {
            Ok(StoredSecret {
                slot,
                user_seq: r.get(0)?,
                user_id: r.get(1)?,
                value: r.get(2)?,
            })
        })?;
        for row in rows {
            out.push(row?);
        }
    }
    Ok(out)
}

/// Replaces one stored secret.
pub fn replace(tx: &mut Tx<'_>, slot: Slot, user_seq: i64, value: &str) -> Result<(), StoreError> {
    let conn = tx.conn();
    let sql = match slot {
        Slot::Authenticator => "UPDATE authenticators SET secret = ?2 WHERE user_seq = ?1",
        Slot::PendingEnrollment => {
            "UPDATE enrollment_links SET pending_secret = ?2 WHERE user_seq = ?1"
        }
        Slot::AdminAuthenticator => "UPDATE admins SET totp_secret = ?2 WHERE id = ?1",
    };
    conn.execute(sql, params![user_seq, value])?;
    Ok(())
}
