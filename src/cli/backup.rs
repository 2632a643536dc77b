//! `scimgate backup`, `check` and `restore` (issue 16 item 1): a consistent copy of the
//! database while `serve` runs, the checks a copy (or the live file) must pass, and putting a
//! copy back in place while nothing serves.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use crate::config::Config;
use crate::store::LockMode;
use crate::store::backup::{self, Inspection};

/// A database file's checks: the store's ([`backup::inspect`]) and the secrets'.
struct Checked {
    inspection: Inspection,
    secrets: Option<crate::directory::secrets::Verified>,
}

impl Checked {
    fn ok(&self) -> bool {
        self.inspection.problems.is_empty()
    }

    fn json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.inspection).unwrap_or_default();
        v["ok"] = json!(self.ok());
        v["secrets"] = json!(self.secrets);
        v
    }

    fn print(&self, heading: &str) {
        let i = &self.inspection;
        println!("{heading} {} ({} bytes)", i.path, i.size_bytes);
        println!(
            "  schema version {} (this binary: {})",
            i.schema_version, i.supported_version
        );
        println!(
            "  {} users, {} groups, {} integrations, {} authenticators",
            i.users, i.groups, i.integrations, i.authenticators
        );
        if let Some(s) = &self.secrets {
            println!(
                "  {} sealed secret(s) open with the secrets key{}",
                s.opened,
                s.key_id
                    .as_deref()
                    .map(|k| format!(" (id {k})"))
                    .unwrap_or_default()
            );
        }
        for n in &i.notes {
            println!("  note: {n}");
        }
        for p in &i.problems {
            println!("  PROBLEM: {p}");
        }
    }
}

/// Runs every check on the file at `path`; the secrets with the configured key file.
fn check_file(config: &Config, path: &Path) -> anyhow::Result<Checked> {
    let mut inspection = backup::inspect(path)?;
    let mut secrets = None;
    if inspection.problems.is_empty() {
        let mut db = backup::open_for_check(path)?;
        match crate::directory::secrets::verify(&mut db, &config.secrets_key_file()) {
            Ok(v) => {
                if v.plaintext > 0 {
                    inspection.notes.push(format!(
                        "{} TOTP secret(s) are not sealed yet (an older version); `scimgate serve` seals them when it starts",
                        v.plaintext
                    ));
                }
                secrets = Some(v);
            }
            Err(e) => inspection.problems.push(format!("secrets: {e}")),
        }
    }
    Ok(Checked {
        inspection,
        secrets,
    })
}

/// `scimgate backup --to FILE`.
pub fn backup(config: &Config, to: &Path, json: bool) -> anyhow::Result<()> {
    let db = &config.database.path;
    anyhow::ensure!(db.is_file(), "no database at {}", db.display());
    anyhow::ensure!(
        !to.exists(),
        "{} exists; a backup never replaces a file",
        to.display()
    );
    // Shared, as `serve` and the other commands: never during `secrets rotate-key`.
    let _lock = backup::lock(db, LockMode::Shared)?;
    backup::copy_to(db, to).with_context(|| format!("backing up {}", db.display()))?;
    let mut checked = check_file(config, to)?;
    let i = &mut checked.inspection;
    if i.problems.is_empty() && i.schema_version != i.supported_version {
        i.problems.push(format!(
            "schema version {} is not this binary's ({}): start `scimgate serve` once to migrate the database, then back up again",
            i.schema_version, i.supported_version
        ));
    }
    if json {
        println!("{}", checked.json());
    } else {
        checked.print("Backed up to");
        if checked.ok() {
            println!(
                "The backup holds neither the secrets key file ({}) nor the TLS private key: keep copies of them apart from it (see docs/operations.md, \"Backups\").",
                config.secrets_key_file().display()
            );
        }
    }
    anyhow::ensure!(
        checked.ok(),
        "the backup {} failed its checks; it is kept for inspection",
        to.display()
    );
    Ok(())
}

/// `scimgate check [--file FILE]`.
pub fn check(config: &Config, file: Option<PathBuf>, json: bool) -> anyhow::Result<()> {
    let (path, _lock) = match file {
        Some(f) => (f, None),
        None => {
            let db = config.database.path.clone();
            anyhow::ensure!(db.is_file(), "no database at {}", db.display());
            let lock = backup::lock(&db, LockMode::Shared)?;
            (db, Some(lock))
        }
    };
    let checked = check_file(config, &path)?;
    if json {
        println!("{}", checked.json());
    } else {
        checked.print("Checked");
        if checked.ok() {
            println!("ok");
        }
    }
    anyhow::ensure!(checked.ok(), "{} failed its checks", path.display());
    Ok(())
}

/// `scimgate restore --from FILE`.
pub fn restore(config: &Config, from: &Path, json: bool) -> anyhow::Result<()> {
    let db = &config.database.path;
    anyhow::ensure!(
        from.is_file(),
        "{} does not exist or is not a file",
        from.display()
    );
    crate::private_fs::create_dir_all(crate::private_fs::parent_of(db))?;
    // Exclusive: refused while `serve` (or any other command) has the database.
    let _lock = backup::lock(db, LockMode::Exclusive)?;
    let checked = check_file(config, from)?;
    if !checked.ok() {
        if json {
            println!("{}", checked.json());
        } else {
            checked.print("Not restored:");
        }
        anyhow::bail!(
            "{} failed its checks; the database was not changed",
            from.display()
        );
    }
    let kept = backup::replace_with(db, from)
        .with_context(|| format!("restoring {} to {}", from.display(), db.display()))?;
    if json {
        let mut v = checked.json();
        v["restored_to"] = json!(db.display().to_string());
        v["previous"] = json!(kept.as_ref().map(|p| p.display().to_string()));
        println!("{v}");
    } else {
        checked.print("Restored");
        println!("  into {}", db.display());
        if let Some(k) = kept {
            println!(
                "The database it replaced is kept as {}; remove it once the restored one serves well.",
                k.display()
            );
        }
    }
    Ok(())
}
