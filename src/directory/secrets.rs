//! TOTP secrets sealed at rest (issue 13 item 2): at start-up, check that the key file holds
//! the key the database's secrets are sealed with (or create one for a database that has
//! none), seal the plaintext secrets an older version left, and `secrets rotate-key`.
//!
//! Key file states a crash during `rotate-key` can leave, and what start-up does with them
//! (the database records the id of the key its secrets are sealed with, and the new key is
//! written to `<key_file>.new` before the one transaction that re-seals):
//! - the database has the old id: the key file is still right; a stale `.new` is ignored
//!   (and replaced by the next rotation);
//! - the database has the new id, the key file is the old key or missing: `.new` is the key;
//!   start-up finishes the rotation (old key to `.old`, `.new` to the key file) and says so.

use std::path::{Path, PathBuf};

use crate::auth::keyfile::{self, KeyFileError};
use crate::auth::seal::{self, SecretsKey, purpose};
use crate::private_fs;
use crate::store::secrets::{self, Slot, StoredSecret};
use crate::store::{Direct, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "the database's TOTP secrets are sealed with key {key_id}, but the secrets key file {key_file} does not exist. \
         Restore that file from your backup, or point secrets.key_file (SCIMGATE_SECRETS_KEY_FILE) at it, then start again. \
         Nothing was changed. (If the key is lost for good, the only way on is a new database: every user enrolls again.)"
    )]
    KeyMissing { key_file: PathBuf, key_id: String },
    #[error(
        "the secrets key file {key_file} holds key {found}, but the database's TOTP secrets are sealed with key {key_id}. \
         Restore the right key file (after `scimgate secrets rotate-key`, the previous key is {key_file}.old), \
         or point secrets.key_file (SCIMGATE_SECRETS_KEY_FILE) at it, then start again. Nothing was changed."
    )]
    WrongKey {
        key_file: PathBuf,
        found: String,
        key_id: String,
    },
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    #[error("{0}")]
    Rotate(String),
    #[error("{what} of user {user_id} does not open with the secrets key: {source}")]
    Open {
        what: &'static str,
        user_id: String,
        source: seal::SealError,
    },
    #[error("cannot seal a secret: {0}")]
    Seal(seal::SealError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The associated data of a stored secret: its purpose and the user's id.
pub fn row_aad(slot: Slot, user_id: &str) -> Vec<u8> {
    seal::aad(
        match slot {
            Slot::Authenticator => purpose::TOTP,
            Slot::PendingEnrollment => purpose::ENROLL_PENDING,
            Slot::AdminAuthenticator => purpose::ADMIN_TOTP,
        },
        user_id,
    )
}

fn what(slot: Slot) -> &'static str {
    match slot {
        Slot::Authenticator => "the TOTP secret",
        Slot::PendingEnrollment => "the pending enrollment secret",
        Slot::AdminAuthenticator => "an administrator's TOTP secret",
    }
}

fn sibling(key_file: &Path, suffix: &str) -> PathBuf {
    let mut p = key_file.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// `<key_file>.old`: the previous key after a rotation (for backups made before it).
pub fn old_key_path(key_file: &Path) -> PathBuf {
    sibling(key_file, ".old")
}

/// `<key_file>.new`: the next key while a rotation runs.
pub fn new_key_path(key_file: &Path) -> PathBuf {
    sibling(key_file, ".new")
}

/// What [`unlock`] did besides checking the key.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unlocked {
    pub key_created: bool,
    pub rotation_finished: bool,
    /// Plaintext secrets (from a version before sealing) sealed now.
    pub sealed_plaintext: usize,
}

/// Start-up: the key the database's secrets are sealed with, from `key_file`. Refuses, changing
/// nothing, when the database records a key id (or holds sealed secrets) and the key file is
/// missing or holds another key; creates the key file only for a database that has neither.
/// Then seals any plaintext secret in one transaction, and removes the plaintext from free
/// pages and the WAL.
pub fn unlock(db: &mut Direct, key_file: &Path) -> Result<(SecretsKey, Unlocked), SecretsError> {
    let mut done = Unlocked::default();
    let (recorded, stored) =
        db.read(|tx| Ok::<_, SecretsError>((secrets::key_id(tx)?, secrets::all(tx)?)))?;
    let any_sealed = stored.iter().any(|s| seal::is_sealed(&s.value));
    let key = match (keyfile::load(key_file)?, &recorded) {
        (Some(k), Some(id)) if k.id() == *id => k,
        (found, Some(id)) => {
            if let Some(k) = finish_rotation(key_file, id)? {
                done.rotation_finished = true;
                k
            } else if let Some(k) = found {
                return Err(SecretsError::WrongKey {
                    key_file: key_file.to_owned(),
                    found: k.id(),
                    key_id: id.clone(),
                });
            } else {
                return Err(SecretsError::KeyMissing {
                    key_file: key_file.to_owned(),
                    key_id: id.clone(),
                });
            }
        }
        (Some(k), None) => k,
        (None, None) if any_sealed => {
            return Err(SecretsError::KeyMissing {
                key_file: key_file.to_owned(),
                key_id: "(not recorded)".into(),
            });
        }
        (None, None) => {
            let k = keyfile::generate(key_file)?;
            tracing::info!(key_file = %key_file.display(), key_id = %k.id(), "created the secrets key file; back it up apart from the database");
            done.key_created = true;
            k
        }
    };
    // A key that was not recorded (a database sealed by hand?) must still open what is sealed.
    let unopenable = stored
        .iter()
        .find(|s| seal::is_sealed(&s.value))
        .is_some_and(|s| key.open(&s.value, &row_aad(s.slot, &s.user_id)).is_err());
    if recorded.is_none() && unopenable {
        return Err(SecretsError::WrongKey {
            key_file: key_file.to_owned(),
            found: key.id(),
            key_id: "(not recorded)".into(),
        });
    }
    let plaintext: Vec<&StoredSecret> = stored
        .iter()
        .filter(|s| !seal::is_sealed(&s.value))
        .collect();
    if recorded.as_deref() != Some(key.id().as_str()) || !plaintext.is_empty() {
        db.immediate(|tx| {
            for s in &plaintext {
                let sealed = key
                    .seal(s.value.as_bytes(), &row_aad(s.slot, &s.user_id))
                    .map_err(SecretsError::Seal)?;
                secrets::replace(tx, s.slot, s.user_seq, &sealed)?;
            }
            secrets::set_key_id(tx, &key.id(), &super::now())?;
            Ok::<_, SecretsError>(())
        })?;
    }
    if !plaintext.is_empty() {
        // The replaced plaintext must not linger in free pages or the WAL (`secure_delete`
        // zeroes what is deleted from now on).
        db.compact()?;
        done.sealed_plaintext = plaintext.len();
        tracing::info!(
            count = plaintext.len(),
            "sealed the plaintext TOTP secrets of an older version with the secrets key"
        );
    }
    Ok((key, done))
}

/// What [`verify`] found: how many sealed secrets opened, and how many are still plaintext
/// (left by a version before sealing; `serve` seals them when it starts).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Verified {
    pub key_id: Option<String>,
    pub opened: usize,
    pub plaintext: usize,
}

/// `scimgate check` and `restore`: every sealed secret of the database opens with the key in
/// `key_file`, and the database records that key. Reads only: creates no key file and does not
/// finish an interrupted rotation (a key in `<key_file>.new` is accepted when it is the
/// recorded one, as start-up would take it).
pub fn verify(db: &mut Direct, key_file: &Path) -> Result<Verified, SecretsError> {
    let (recorded, stored) =
        db.read(|tx| Ok::<_, SecretsError>((secrets::key_id(tx)?, secrets::all(tx)?)))?;
    let sealed: Vec<&StoredSecret> = stored
        .iter()
        .filter(|s| seal::is_sealed(&s.value))
        .collect();
    let mut out = Verified {
        key_id: recorded.clone(),
        opened: 0,
        plaintext: stored.len() - sealed.len(),
    };
    if recorded.is_none() && sealed.is_empty() {
        return Ok(out);
    }
    let pending = keyfile::load(&new_key_path(key_file))?
        .filter(|k| recorded.as_deref() == Some(k.id().as_str()));
    let key = match (pending, keyfile::load(key_file)?) {
        (Some(k), _) => k,
        (None, Some(k)) => k,
        (None, None) => {
            return Err(SecretsError::KeyMissing {
                key_file: key_file.to_owned(),
                key_id: recorded.unwrap_or_else(|| "(not recorded)".into()),
            });
        }
    };
    if let Some(id) = &recorded
        && *id != key.id()
    {
        return Err(SecretsError::WrongKey {
            key_file: key_file.to_owned(),
            found: key.id(),
            key_id: id.clone(),
        });
    }
    for s in sealed {
        key.open(&s.value, &row_aad(s.slot, &s.user_id))
            .map_err(|source| SecretsError::Open {
                what: what(s.slot),
                user_id: s.user_id.clone(),
                source,
            })?;
        out.opened += 1;
    }
    Ok(out)
}

/// The end of a rotation a crash interrupted: when `<key_file>.new` holds the recorded key,
/// it becomes the key file (the current one, if any, becomes `.old`).
fn finish_rotation(key_file: &Path, recorded: &str) -> Result<Option<SecretsKey>, SecretsError> {
    let new_path = new_key_path(key_file);
    let Some(k) = keyfile::load(&new_path)? else {
        return Ok(None);
    };
    if k.id() != recorded {
        return Ok(None);
    }
    let io = |e: std::io::Error| {
        SecretsError::Rotate(format!("finishing the interrupted key rotation: {e}"))
    };
    if key_file.exists() {
        let old = old_key_path(key_file);
        if old.exists() {
            return Err(SecretsError::Rotate(format!(
                "an interrupted `secrets rotate-key` left the database's key in {}; {} and {} also exist. \
                 Move {} aside, then start again",
                new_path.display(),
                key_file.display(),
                old.display(),
                old.display()
            )));
        }
        std::fs::rename(key_file, &old).map_err(io)?;
    }
    std::fs::rename(&new_path, key_file).map_err(io)?;
    private_fs::sync_dir(private_fs::parent_of(key_file)).map_err(io)?;
    tracing::warn!(
        key_file = %key_file.display(),
        "finished an interrupted `secrets rotate-key`: the new key is now the key file"
    );
    Ok(Some(k))
}

/// What [`rotate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    pub old_id: String,
    pub new_id: String,
    pub resealed: usize,
    pub old_key_file: PathBuf,
}

/// `secrets rotate-key`: writes a new key to `<key_file>.new`, re-seals every secret under it
/// and records its id in one transaction (synced), then renames the key file to `.old` and
/// `.new` to the key file. A crash at any step leaves a state [`unlock`] starts from. The
/// caller holds the database's lock file exclusively (no server runs with the old key).
pub fn rotate(
    db: &mut Direct,
    key_file: &Path,
    current: &SecretsKey,
) -> Result<Rotated, SecretsError> {
    let old_path = old_key_path(key_file);
    if old_path.exists() {
        return Err(SecretsError::Rotate(format!(
            "{} exists (the key before the last rotation, needed only to restore backups made before it). \
             Move it somewhere safe or remove it, then rotate again",
            old_path.display()
        )));
    }
    let new_path = new_key_path(key_file);
    // A `.new` here is from a rotation that stopped before its commit (else `unlock` would
    // have made it the key file): it seals nothing.
    if new_path.exists() {
        std::fs::remove_file(&new_path).map_err(|e| {
            SecretsError::Rotate(format!(
                "cannot remove the stale {}: {e}",
                new_path.display()
            ))
        })?;
    }
    let new = keyfile::generate(&new_path)?;
    // The commit must be on disk before the key files are renamed.
    db.sync_full()?;
    let resealed = db.immediate(|tx| {
        let stored = secrets::all(tx)?;
        for s in &stored {
            let aad = row_aad(s.slot, &s.user_id);
            let plain = current
                .open(&s.value, &aad)
                .map_err(|source| SecretsError::Open {
                    what: what(s.slot),
                    user_id: s.user_id.clone(),
                    source,
                })?;
            let sealed = new.seal(&plain, &aad).map_err(SecretsError::Seal)?;
            secrets::replace(tx, s.slot, s.user_seq, &sealed)?;
        }
        secrets::set_key_id(tx, &new.id(), &super::now())?;
        Ok::<_, SecretsError>(stored.len())
    })?;
    let io = |step: &str, e: std::io::Error| {
        SecretsError::Rotate(format!(
            "the secrets are re-sealed under the new key, which is in {}, but {step} failed: {e}. \
             Starting scimgate finishes the rotation",
            new_path.display()
        ))
    };
    std::fs::rename(key_file, &old_path).map_err(|e| io("keeping the old key file", e))?;
    std::fs::rename(&new_path, key_file).map_err(|e| io("installing the new key file", e))?;
    private_fs::sync_dir(private_fs::parent_of(key_file))
        .map_err(|e| io("syncing the key file's directory", e))?;
    // The secrets sealed with the old key must not linger in free pages or the WAL.
    db.compact()?;
    Ok(Rotated {
        old_id: current.id(),
        new_id: new.id(),
        resealed,
        old_key_file: old_path,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A migrated database with one user and a plaintext authenticator, as an older version
    /// left it.
    fn db(dir: &Path) -> Direct {
        let mut c = Direct::open_migrated(&dir.join("t.db")).unwrap();
        c.execute_batch(
            "INSERT INTO users (id, user_name, user_name_folded, active, version, created, last_modified, doc)
             VALUES ('u1', 'ann', 'ann', 1, 1, 't', 't', '{\"userName\":\"ann\"}');
             INSERT INTO authenticators (user_seq, secret, created) SELECT seq, 'JBSWY3DPEHPK3PXP', 't' FROM users;",
        )
        .unwrap();
        c
    }

    /// The one authenticator's stored secret.
    fn stored(c: &mut Direct) -> String {
        let all = c.read(secrets::all).unwrap();
        let mut authenticators = all.into_iter().filter(|s| s.slot == Slot::Authenticator);
        let one = authenticators.next().unwrap();
        assert!(authenticators.next().is_none());
        one.value
    }

    fn key_id(c: &mut Direct) -> Option<String> {
        c.read(secrets::key_id).unwrap()
    }

    fn set_key_id(c: &mut Direct, id: &str) {
        c.immediate(|tx| secrets::set_key_id(tx, id, "t")).unwrap();
    }

    #[test]
    fn first_start_creates_the_key_and_seals_plaintext() {
        let t = tempfile::tempdir().unwrap();
        let mut c = db(t.path());
        let kf = t.path().join("k/scimgate.key");
        let (key, done) = unlock(&mut c, &kf).unwrap();
        assert!(done.key_created);
        assert_eq!(done.sealed_plaintext, 1);
        assert_eq!(key_id(&mut c), Some(key.id()));
        let s = stored(&mut c);
        assert!(seal::is_sealed(&s), "{s}");
        let aad = row_aad(Slot::Authenticator, "u1");
        assert_eq!(key.open_str(&s, &aad).unwrap(), "JBSWY3DPEHPK3PXP");
        // Again: nothing to do, the same key.
        let (again, done) = unlock(&mut c, &kf).unwrap();
        assert_eq!((again.id(), done), (key.id(), Unlocked::default()));
        assert_eq!(stored(&mut c), s);
    }

    #[test]
    fn a_missing_or_wrong_key_is_refused_and_changes_nothing() {
        let t = tempfile::tempdir().unwrap();
        let mut c = db(t.path());
        let kf = t.path().join("scimgate.key");
        let (key, _) = unlock(&mut c, &kf).unwrap();
        let before = stored(&mut c);
        std::fs::rename(&kf, t.path().join("elsewhere")).unwrap();
        let e = unlock(&mut c, &kf).unwrap_err();
        assert!(matches!(e, SecretsError::KeyMissing { .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.contains(&kf.display().to_string()) && msg.contains("secrets.key_file"));
        assert!(
            !kf.exists(),
            "no new key is made for a database that has one"
        );
        keyfile::generate(&kf).unwrap();
        let e = unlock(&mut c, &kf).unwrap_err();
        assert!(matches!(e, SecretsError::WrongKey { .. }), "{e}");
        assert!(e.to_string().contains(&key.id()));
        assert_eq!(stored(&mut c), before);
        assert_eq!(key_id(&mut c), Some(key.id()));
    }

    #[test]
    fn rotation_reseals_and_a_crash_after_its_commit_is_finished_at_start() {
        let t = tempfile::tempdir().unwrap();
        let mut c = db(t.path());
        let kf = t.path().join("scimgate.key");
        let (k1, _) = unlock(&mut c, &kf).unwrap();
        let r = rotate(&mut c, &kf, &k1).unwrap();
        assert_eq!((r.old_id.as_str(), r.resealed), (k1.id().as_str(), 1));
        let k2 = keyfile::load(&kf).unwrap().unwrap();
        assert_eq!(k2.id(), r.new_id);
        assert_eq!(
            keyfile::load(&old_key_path(&kf)).unwrap().unwrap().id(),
            k1.id()
        );
        let aad = row_aad(Slot::Authenticator, "u1");
        assert_eq!(
            k2.open_str(&stored(&mut c), &aad).unwrap(),
            "JBSWY3DPEHPK3PXP"
        );
        // With a .old in place, another rotation asks for it to be moved first.
        assert!(matches!(
            rotate(&mut c, &kf, &k2),
            Err(SecretsError::Rotate(_))
        ));
        std::fs::remove_file(old_key_path(&kf)).unwrap();

        // A crash after the commit, before the renames: the database has the new id, the key
        // file is the old key, .new the new one. Start-up finishes the rotation.
        let k3 = SecretsKey::generate().unwrap();
        keyfile::create(&new_key_path(&kf), &k3).unwrap();
        set_key_id(&mut c, &k3.id());
        let (k, done) = unlock(&mut c, &kf).unwrap();
        assert!(done.rotation_finished);
        assert_eq!(k.id(), k3.id());
        assert_eq!(keyfile::load(&kf).unwrap().unwrap().id(), k3.id());
        assert_eq!(
            keyfile::load(&old_key_path(&kf)).unwrap().unwrap().id(),
            k2.id()
        );
        assert!(!new_key_path(&kf).exists());

        // A crash between the two renames: no key file, .new is the key.
        std::fs::remove_file(old_key_path(&kf)).unwrap();
        let k4 = SecretsKey::generate().unwrap();
        keyfile::create(&new_key_path(&kf), &k4).unwrap();
        set_key_id(&mut c, &k4.id());
        std::fs::rename(&kf, old_key_path(&kf)).unwrap();
        let (k, done) = unlock(&mut c, &kf).unwrap();
        assert!(done.rotation_finished);
        assert_eq!(k.id(), k4.id());

        // A crash before the commit: a stale .new is ignored, the key file is still right.
        std::fs::remove_file(old_key_path(&kf)).unwrap();
        keyfile::generate(&new_key_path(&kf)).unwrap();
        let (k, done) = unlock(&mut c, &kf).unwrap();
        assert_eq!((k.id(), done.rotation_finished), (k4.id(), false));
    }
}
