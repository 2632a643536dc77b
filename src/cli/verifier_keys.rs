//! `scimgate verifier-key create|list|revoke`: the keys of `POST /api/v1/verify`, as the
//! Settings page manages them. Opens the database directly, as the `integration` commands do;
//! a running `serve` sees a new or revoked key on its next verify request.

use std::sync::Arc;

use clap::Subcommand;
use serde_json::json;

use crate::app::open_directory;
use crate::config::Config;
use crate::directory::Directory;

#[derive(Debug, Subcommand)]
pub enum VerifierKeyCommand {
    /// Create a verifier key and print it (shown this once; only its digest is stored).
    Create {
        /// A unique name, e.g. "mfa" (1 to 64 characters).
        #[arg(long)]
        name: String,
        /// Print {"name","id","key"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the keys in force: name, id, created, last used (never the keys).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: requests that present it get 401 from now on.
    Revoke {
        /// The key's name.
        name: String,
    },
}

pub async fn run(config: &Config, cmd: VerifierKeyCommand) -> anyhow::Result<()> {
    let (directory, writer) = open_directory(config)?;
    let directory = Arc::new(directory);
    let out = command(
        &directory,
        cmd,
        &config.public_url_for(config.server.listen),
    )
    .await;
    drop(directory);
    tokio::task::spawn_blocking(move || writer.stop()).await?;
    out
}

async fn command(
    directory: &Directory,
    cmd: VerifierKeyCommand,
    public_url: &str,
) -> anyhow::Result<()> {
    match cmd {
        VerifierKeyCommand::Create { name, json } => {
            let created = directory
                .create_verifier_key(&name)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let k = &created.key;
            tracing::info!(verifier_key = %k.id, name = %k.name, "verifier key created with the CLI");
            if json {
                println!(
                    "{}",
                    json!({"name": k.name, "id": k.id.as_str(), "key": created.secret.expose()})
                );
            } else {
                println!("Created verifier key \"{}\" (id {}).\n", k.name, k.id);
                println!("  Key:  {}\n", created.secret.expose());
                println!(
                    "The key is shown only this once and cannot be shown again: copy it into the"
                );
                println!("MFA service's configuration now. It calls {public_url}/api/v1/verify");
                println!("with the header \"Authorization: Bearer <key>\".");
            }
            Ok(())
        }
        VerifierKeyCommand::List { json } => {
            let all = directory
                .list_verifier_keys()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                let items: Vec<_> = all
                    .iter()
                    .map(|k| {
                        json!({"name": k.name, "id": k.id.as_str(),
                            "created": k.created, "last_used": k.last_used})
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(items));
            } else if all.is_empty() {
                println!(
                    "No verifier keys yet. Create one with: scimgate verifier-key create --name mfa"
                );
            } else {
                println!("{:<24} {:<34} {:<25} LAST USED", "NAME", "ID", "CREATED");
                for k in &all {
                    println!(
                        "{:<24} {:<34} {:<25} {}",
                        k.name,
                        k.id,
                        k.created,
                        k.last_used.as_deref().unwrap_or("never")
                    );
                }
            }
            Ok(())
        }
        VerifierKeyCommand::Revoke { name } => {
            let k = directory
                .revoke_verifier_key(&name)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            tracing::info!(verifier_key = %k.id, name = %k.name, "verifier key revoked with the CLI");
            println!(
                "Revoked verifier key \"{}\" (id {}): requests that present it get 401 from now on.",
                k.name, k.id
            );
            Ok(())
        }
    }
}
