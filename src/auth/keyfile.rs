//! The secrets key file (issue 13 item 2): the [`SecretsKey`] that seals TOTP secrets lives
//! outside the database, so that the database alone, or a backup of it, gives no second
//! factor away. Text: a comment line, then the 256-bit key in base64url. Created `0600` with
//! `create_new` (never replacing a file), then the file and its directory are synced.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::auth::seal::SecretsKey;
use crate::private_fs;

const HEADER: &str = "# scimgate secrets key: seals the TOTP secrets in the database. Keep it, and back it up apart from the database.";

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read the secrets key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the secrets key file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a scimgate secrets key file ({problem}); it must hold one line of 43 base64url characters (256 bits)"
    )]
    Format { path: PathBuf, problem: String },
    #[error("cannot make a secrets key: {0}")]
    Random(String),
}

/// The key in `path`; `None` when there is no such file.
pub fn load(path: &Path) -> Result<Option<SecretsKey>, KeyFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(KeyFileError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let format = |problem: &str| KeyFileError::Format {
        path: path.to_owned(),
        problem: problem.to_owned(),
    };
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let [line] = lines.as_slice() else {
        return Err(format(&format!("{} key lines", lines.len())));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(line)
        .map_err(|_| format("not base64url"))?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| format(&format!("{} bytes, not 32", b.len())))?;
    if let Some(bits) = private_fs::open_to_others(path) {
        tracing::warn!(
            "the secrets key file {} can be read by group or others (mode bits {bits:03o}); run: chmod 600 {}",
            path.display(),
            path.display()
        );
    }
    Ok(Some(SecretsKey::from_bytes(key)))
}

/// Writes `key` to a new file `path` (`0600`; an existing file is an error, never replaced),
/// creating its directory (`0700`) if needed, and syncs the file and the directory.
pub fn create(path: &Path, key: &SecretsKey) -> Result<(), KeyFileError> {
    let write = |source| KeyFileError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = private_fs::parent_of(path);
    private_fs::create_dir_all(dir).map_err(write)?;
    let mut f = private_fs::create_new(path).map_err(write)?;
    let text = format!("{HEADER}\n{}\n", URL_SAFE_NO_PAD.encode(key.expose()));
    f.write_all(text.as_bytes()).map_err(write)?;
    f.sync_all().map_err(write)?;
    drop(f);
    private_fs::sync_dir(dir).map_err(write)
}

/// Makes a new key from the operating system's generator and writes it to `path` as
/// [`create`] does.
pub fn generate(path: &Path) -> Result<SecretsKey, KeyFileError> {
    let key = SecretsKey::generate().map_err(|e| KeyFileError::Random(e.to_string()))?;
    create(path, &key)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn created_private_and_loaded_back() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("keys/scimgate.key");
        assert!(load(&p).unwrap().is_none());
        let k = generate(&p).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load(&p).unwrap().unwrap().id(), k.id());
        // Never replaced.
        assert!(matches!(
            create(&p, &SecretsKey::generate().unwrap()),
            Err(KeyFileError::Write { .. })
        ));
        assert_eq!(load(&p).unwrap().unwrap().id(), k.id());
    }

    #[test]
    fn a_wrong_file_is_refused_naming_it() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("bad.key");
        for text in ["", "# only a comment\n", "abc\n", "a\nb\n", &"A".repeat(44)] {
            std::fs::write(&p, text).unwrap();
            let e = load(&p).unwrap_err();
            assert!(matches!(e, KeyFileError::Format { .. }), "{text:?}: {e}");
            assert!(e.to_string().contains(&p.display().to_string()), "{e}");
        }
        std::fs::write(&p, format!("{}\n", "A".repeat(43))).unwrap();
        assert!(load(&p).unwrap().is_some());
    }
}
