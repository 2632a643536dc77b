//! Files and directories that hold directory data are created private (issue 13 item 3):
//! files `0600`, directories `0700`, set explicitly so that the umask does not matter. Used by
//! `store` (the database) and `auth` (the secrets key file); imports nothing of the crate.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub const FILE_MODE: u32 = 0o600;
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and its missing parents, each new one `0700` (existing ones are left alone).
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Creates a new file (failing if it exists) with mode `0600` whatever the umask, for writing.
pub fn create_new(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)?;
    // The umask can only take bits away from 0600, but a umask such as 0277 would leave the
    // owner unable to write: set the mode itself.
    f.set_permissions(Permissions::from_mode(FILE_MODE))?;
    Ok(f)
}

/// Flushes a directory's entries (a created or renamed file in it) to disk.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)?.sync_all()
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The permission bits that let group or others in (`mode & 0o077`), when there are any.
pub fn open_to_others(path: &Path) -> Option<u32> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    Some(mode & 0o077).filter(|m| *m != 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn files_0600_dirs_0700() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("a/b");
        create_dir_all(&d).unwrap();
        for p in [t.path().join("a"), d.clone()] {
            let m = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(m, DIR_MODE, "{}", p.display());
        }
        let f = d.join("f");
        create_new(&f).unwrap();
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            FILE_MODE
        );
        assert_eq!(open_to_others(&f), None);
        assert!(create_new(&f).is_err(), "never replaces a file");
        std::fs::set_permissions(&f, Permissions::from_mode(0o644)).unwrap();
        assert_eq!(open_to_others(&f), Some(0o044));
        sync_dir(&d).unwrap();
        assert_eq!(parent_of(Path::new("x.key")), Path::new("."));
        assert_eq!(parent_of(&f), d.as_path());
    }
}
