//! The admin-side tables on PostgreSQL (`admins`, `sessions`, `admin_recovery_codes`,
//! `setup_links`): `store::admins` with the same rows and answers. Sessions and the setup link
//! live in the database, so a sign-in made on one appliance holds on every other one sharing
//! the database (issue 18 item 4).

use postgres::GenericClient;
use postgres::error::SqlState;

use crate::store::StoreError;
use crate::store::admins::{AdminRow, NewSession, SecondFactorRow, SessionRow};
use crate::store::fold::fold;

const ADMIN_COLUMNS: &str =
    "id, username, password_hash, created, last_sign_in, totp_secret IS NOT NULL";

fn admin(r: &postgres::Row) -> AdminRow {
    AdminRow {
        id: r.get(0),
        username: r.get(1),
        password_hash: r.get(2),
        created: r.get(3),
        last_sign_in: r.get(4),
        second_factor: r.get(5),
    }
}

/// As `store::admins::count`.
pub fn count(c: &mut impl GenericClient) -> Result<i64, StoreError> {
    Ok(c.query_one("SELECT count(*) FROM admins", &[])?.get(0))
}

/// As `store::admins::insert`: `Conflict` when the (case-folded) username is taken, also by
/// a concurrent insert (the unique index on `username_folded`).
pub fn insert(
    c: &mut impl GenericClient,
    username: &str,
    password_hash: &str,
    now: &str,
) -> Result<i64, StoreError> {
    let folded = fold(username);
    let conflict = || StoreError::Conflict {
        attribute: "username",
        value: username.to_owned(),
    };
    if c.query_opt(
        "SELECT id FROM admins WHERE username_folded = $1",
        &[&folded],
    )?
    .is_some()
    {
        return Err(conflict());
    }
    let row = c
        .query_one(
            "INSERT INTO admins (username, username_folded, password_hash, created)
             VALUES ($1, $2, $3, $4) RETURNING id",
            &[&username, &folded, &password_hash, &now],
        )
        .map_err(|e| {
            if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                conflict()
            } else {
                StoreError::Postgres(e)
            }
        })?;
    Ok(row.get(0))
}

/// As `store::admins::find_by_username`: case-insensitively.
pub fn find_by_username(
    c: &mut impl GenericClient,
    username: &str,
) -> Result<Option<AdminRow>, StoreError> {
    Ok(c.query_opt(
        &format!("SELECT {ADMIN_COLUMNS} FROM admins WHERE username_folded = $1"),
        &[&fold(username)],
    )?
    .as_ref()
    .map(admin))
}

/// As `store::admins::list`.
pub fn list(c: &mut impl GenericClient) -> Result<Vec<AdminRow>, StoreError> {
    Ok(c.query(
        &format!("SELECT {ADMIN_COLUMNS} FROM admins ORDER BY id"),
        &[],
    )?
    .iter()
    .map(admin)
    .collect())
}

/// As `store::admins::record_sign_in`.
pub fn record_sign_in(c: &mut impl GenericClient, id: i64, now: &str) -> Result<(), StoreError> {
    c.execute(
        "UPDATE admins SET last_sign_in = $2 WHERE id = $1",
        &[&id, &now],
    )?;
    Ok(())
}

/// As `store::admins::insert_session`.
pub fn insert_session(c: &mut impl GenericClient, s: NewSession<'_>) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO sessions (digest, admin_id, csrf, created, last_seen, expires, pending)
         VALUES ($1, $2, $3, $4, $4, $5, $6)",
        &[
            &s.digest,
            &s.admin_id,
            &s.csrf,
            &s.now,
            &s.expires,
            &s.pending,
        ],
    )?;
    Ok(())
}

/// As `store::admins::find_session`: the session joined with its administrator.
pub fn find_session(
    c: &mut impl GenericClient,
    digest: &[u8],
) -> Result<Option<SessionRow>, StoreError> {
    Ok(c.query_opt(
        "SELECT s.admin_id, a.username, s.csrf, s.created, s.last_seen, s.expires,
                    s.pending, a.totp_secret IS NOT NULL
             FROM sessions s JOIN admins a ON a.id = s.admin_id WHERE s.digest = $1",
        &[&digest],
    )?
    .map(|r| SessionRow {
        admin_id: r.get(0),
        username: r.get(1),
        csrf: r.get(2),
        created: r.get(3),
        last_seen: r.get(4),
        expires: r.get(5),
        pending: r.get(6),
        has_second_factor: r.get(7),
    }))
}

/// As `store::admins::touch_session`.
pub fn touch_session(
    c: &mut impl GenericClient,
    digest: &[u8],
    now: &str,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE sessions SET last_seen = $2 WHERE digest = $1",
        &[&digest, &now],
    )?;
    Ok(())
}

/// As `store::admins::delete_session`.
pub fn delete_session(c: &mut impl GenericClient, digest: &[u8]) -> Result<(), StoreError> {
    c.execute("DELETE FROM sessions WHERE digest = $1", &[&digest])?;
    Ok(())
}

/// As `store::admins::delete_expired_sessions`. Harmless when several nodes run it at once:
/// a row deleted by one is not counted by the other.
pub fn delete_expired_sessions(
    c: &mut impl GenericClient,
    now: &str,
    idle_before: &str,
) -> Result<usize, StoreError> {
    Ok(c.execute(
        "DELETE FROM sessions WHERE expires <= $1 OR last_seen <= $2",
        &[&now, &idle_before],
    )? as usize)
}

/// The advisory lock that serialises [`put_setup_link`] across nodes: "setuplnk" in ASCII.
const SETUP_LINK_LOCK: i64 = 0x7365_7475_706c_6e6b;

/// As `store::admins::put_setup_link`: replaces any setup link with this one. Two nodes
/// putting a link at once would each delete the other's (uncommitted, so invisible) row and
/// leave two; the transaction's advisory lock makes the second wait for the first, so one row
/// stays, as on SQLite's single writer. Run it in a transaction (as every write job is):
/// outside one the lock ends with its statement.
pub fn put_setup_link(
    c: &mut impl GenericClient,
    digest: &[u8],
    expires: &str,
) -> Result<(), StoreError> {
    c.execute("SELECT pg_advisory_xact_lock($1)", &[&SETUP_LINK_LOCK])?;
    c.execute("DELETE FROM setup_links", &[])?;
    c.execute(
        "INSERT INTO setup_links (digest, expires) VALUES ($1, $2)",
        &[&digest, &expires],
    )?;
    Ok(())
}

/// As `store::admins::find_setup_link`: the expiry of the link with this digest.
pub fn find_setup_link(
    c: &mut impl GenericClient,
    digest: &[u8],
) -> Result<Option<String>, StoreError> {
    Ok(c.query_opt(
        "SELECT expires FROM setup_links WHERE digest = $1",
        &[&digest],
    )?
    .map(|r| r.get(0)))
}

/// As `store::admins::delete_setup_links`.
pub fn delete_setup_links(c: &mut impl GenericClient) -> Result<(), StoreError> {
    c.execute("DELETE FROM setup_links", &[])?;
    Ok(())
}

/// As `store::admins::delete_sessions_of`: how many sessions were ended.
pub fn delete_sessions_of(c: &mut impl GenericClient, admin_id: i64) -> Result<usize, StoreError> {
    Ok(c.execute("DELETE FROM sessions WHERE admin_id = $1", &[&admin_id])? as usize)
}

/// As `store::admins::second_factor`.
pub fn second_factor(
    c: &mut impl GenericClient,
    admin_id: i64,
) -> Result<Option<SecondFactorRow>, StoreError> {
    Ok(c.query_opt(
        "SELECT totp_secret, totp_last_step, totp_registered_at,
                    (SELECT count(*) FROM admin_recovery_codes r WHERE r.admin_id = a.id)
             FROM admins a WHERE id = $1",
        &[&admin_id],
    )?
    .map(|r| SecondFactorRow {
        secret: r.get(0),
        last_step: r.get(1),
        registered_at: r.get(2),
        recovery_codes_left: r.get(3),
    }))
}

/// As `store::admins::set_second_factor`: registers (or replaces) the authenticator with
/// `step` accepted, and replaces the recovery codes.
pub fn set_second_factor(
    c: &mut impl GenericClient,
    admin_id: i64,
    stored_secret: &str,
    step: i64,
    now: &str,
    digests: &[String],
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE admins SET totp_secret = $2, totp_last_step = $3, totp_registered_at = $4
         WHERE id = $1",
        &[&admin_id, &stored_secret, &step, &now],
    )?;
    replace_recovery_codes(c, admin_id, digests, now)
}

/// As `store::admins::clear_second_factor`: (an authenticator was registered, recovery codes
/// removed).
pub fn clear_second_factor(
    c: &mut impl GenericClient,
    admin_id: i64,
) -> Result<(bool, usize), StoreError> {
    let had = c.execute(
        "UPDATE admins SET totp_secret = NULL, totp_last_step = NULL, totp_registered_at = NULL
         WHERE id = $1 AND totp_secret IS NOT NULL",
        &[&admin_id],
    )? > 0;
    let codes = c.execute(
        "DELETE FROM admin_recovery_codes WHERE admin_id = $1",
        &[&admin_id],
    )?;
    Ok((had, codes as usize))
}

/// As `store::admins::advance_step`: false when a step at or after `step` was accepted
/// already. One conditional UPDATE, so of two nodes accepting the same code at once one wins
/// (the second waits for the first's row lock, then finds the step taken).
pub fn advance_step(
    c: &mut impl GenericClient,
    admin_id: i64,
    step: i64,
) -> Result<bool, StoreError> {
    Ok(c.execute(
        "UPDATE admins SET totp_last_step = $2
         WHERE id = $1 AND totp_secret IS NOT NULL
           AND (totp_last_step IS NULL OR totp_last_step < $2)",
        &[&admin_id, &step],
    )? == 1)
}

/// As `store::admins::recovery_codes`: (row id, digest) of the unused codes.
pub fn recovery_codes(
    c: &mut impl GenericClient,
    admin_id: i64,
) -> Result<Vec<(i64, String)>, StoreError> {
    Ok(c.query(
        "SELECT id, digest FROM admin_recovery_codes WHERE admin_id = $1 ORDER BY id",
        &[&admin_id],
    )?
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect())
}

/// As `store::admins::use_recovery_code`: false if it was used meanwhile (by this node or
/// another: the DELETE removes it once).
pub fn use_recovery_code(c: &mut impl GenericClient, id: i64) -> Result<bool, StoreError> {
    Ok(c.execute("DELETE FROM admin_recovery_codes WHERE id = $1", &[&id])? == 1)
}

/// As `store::admins::replace_recovery_codes`.
pub fn replace_recovery_codes(
    c: &mut impl GenericClient,
    admin_id: i64,
    digests: &[String],
    now: &str,
) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM admin_recovery_codes WHERE admin_id = $1",
        &[&admin_id],
    )?;
    for d in digests {
        c.execute(
            "INSERT INTO admin_recovery_codes (admin_id, digest, created) VALUES ($1, $2, $3)",
            &[&admin_id, d, &now],
        )?;
    }
    Ok(())
}
