//! The sealed secrets' rows and key id on PostgreSQL: `store::secrets` with the same rows and
//! answers. Rows only: sealing and opening belong to the caller, which holds the key.

use postgres::GenericClient;

use crate::store::StoreError;
use crate::store::secrets::{Slot, StoredSecret};

/// As `store::secrets::key_id`.
pub fn key_id(c: &mut impl GenericClient) -> Result<Option<String>, StoreError> {
    Ok(
        c.query_opt("SELECT key_id FROM secrets_meta WHERE id = 1", &[])?
            .map(|r| r.get(0)),
    )
}

/// As `store::secrets::set_key_id`.
pub fn set_key_id(c: &mut impl GenericClient, key_id: &str, now: &str) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO secrets_meta (id, key_id, changed) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET key_id = excluded.key_id, changed = excluded.changed",
        &[&key_id, &now],
    )?;
    Ok(())
}

/// As `store::secrets::all`: every stored secret, sealed or not, by slot.
pub fn all(c: &mut impl GenericClient) -> Result<Vec<StoredSecret>, StoreError> {
    let mut out = Vec::new();
    for (slot, sql) in crate::store::secrets::SECRET_QUERIES {
        for r in c.query(sql, &[])? {
            out.push(StoredSecret {
                slot,
                user_seq: r.get(0),
                user_id: r.get(1),
                value: r.get(2),
            });
        }
    }
    Ok(out)
}

/// As `store::secrets::replace`.
pub fn replace(
    c: &mut impl GenericClient,
    slot: Slot,
    user_seq: i64,
    value: &str,
) -> Result<(), StoreError> {
    let sql = match slot {
        Slot::Authenticator => "UPDATE authenticators SET secret = $2 WHERE user_seq = $1",
        Slot::PendingEnrollment => {
            "UPDATE enrollment_links SET pending_secret = $2 WHERE user_seq = $1"
        }
        Slot::AdminAuthenticator => "UPDATE admins SET totp_secret = $2 WHERE id = $1",
    };
    c.execute(sql, &[&user_seq, &value])?;
    Ok(())
}
