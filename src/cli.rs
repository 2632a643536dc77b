//! The command line: `serve`, and the operator commands that script what the admin pages do.
//! Reaches the database only through `directory` and `store` (it imports no database crate).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::json;

use crate::app::{App, RunOptions, open_directory};
use crate::config::Config;
use crate::directory::PatchAnswer;
use crate::directory::rotation::{Target, TokenLifetime, parse_overlap};

mod backup;
mod verifier_keys;

#[derive(Debug, Parser)]
#[command(
    name = "scimgate",
    version,
    about = "A SCIM 2.0 user directory for a multi-factor authentication service: identity providers (Okta, Entra ID, …) provision users into it."
)]
pub struct Cli {
    /// Configuration file [default: config.toml in the working directory, if present]
    #[arg(long, global = true, env = "SCIMGATE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the appliance: the SCIM API, the admin pages (/admin), the enrollment pages,
    /// /api/v1/verify and the email outbox. Prints a one-time setup link while no
    /// administrator exists.
    Serve,
    /// Manage provisioning integrations.
    #[command(subcommand)]
    Integration(IntegrationCommand),
    /// Manage users by hand (manually provisioned users, as Add user in the pages).
    #[command(subcommand)]
    User(UserCommand),
    /// TLS certificates for serving HTTPS (the [tls] section of the configuration).
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Manage administrators of the admin pages.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Email: check the [smtp] settings.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Manage verifier keys, the credentials of POST /api/v1/verify (the MFA service's).
    #[command(subcommand)]
    VerifierKey(verifier_keys::VerifierKeyCommand),
    /// The key that seals TOTP secrets in the database (secrets.key_file).
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Copy the database to a new file (0600) while `serve` runs, then check the copy. The
    /// copy holds neither the secrets key file nor the TLS private key: keep those apart.
    Backup {
        /// The file to write; an existing file is refused.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        /// Print the checks and counts as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Verify a database: integrity, foreign keys, schema version, and that every sealed
    /// secret opens with the configured secrets key. Exits non-zero on any problem.
    Check {
        /// The file to check [default: database.path]
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Print the checks and counts as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace the database with a backup, after checking it (with the configured secrets
    /// key). Refused while `scimgate serve` runs; the replaced database is kept as
    /// <database>.before-restore.
    Restore {
        /// The backup to restore.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// Print the checks and counts as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Re-seal every TOTP secret under a new key, in one transaction, and keep the previous
    /// key file as <key_file>.old (for restoring backups made before). Stop `scimgate serve`
    /// first: it refuses to run while anything else has the database open.
    RotateKey {
        /// Print {"old_key_id","new_key_id","resealed","key_file","old_key_file"} as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Send a test email now through [smtp] and print the SMTP server's answer.
    Test {
        /// The address to send it to.
        #[arg(long, value_name = "ADDR")]
        to: String,
    },
}

/// `204` (or `no_content`) or `200` (or `resource`).
fn parse_patch_answer(s: &str) -> Result<PatchAnswer, String> {
    match s.trim() {
        "204" => Ok(PatchAnswer::NoContent),
        "200" => Ok(PatchAnswer::Resource),
        other => PatchAnswer::parse(other).ok_or_else(|| {
            format!("'{other}' is not a PATCH answer: use 204 (no content) or 200 (the group)")
        }),
    }
}

/// `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

impl From<OnOff> for bool {
    fn from(v: OnOff) -> bool {
        v == OnOff::On
    }
}

#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Write a self-signed certificate and key for trying HTTPS out. Identity providers refuse
    /// it: Okta and Entra need a certificate from a public CA (see docs/operations.md, "HTTPS").
    SelfSigned {
        /// A DNS name or IP address the certificate is for; repeat for more. The first is
        /// also the subject's common name.
        #[arg(long = "host", value_name = "NAME", required = true)]
        hosts: Vec<String>,
        /// Certificate file to write [default: tls.certificate, else cert.pem]
        #[arg(long, value_name = "FILE")]
        cert: Option<PathBuf>,
        /// Private key file to write, mode 0600 [default: tls.private_key, else key.pem]
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Days the certificate is valid (1 to 3650).
        #[arg(long, default_value_t = 90)]
        days: u32,
        /// Replace existing files (each is written to a temporary file and renamed).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an administrator. The password is read from the terminal (asked twice, not
    /// echoed) or, when standard input is not a terminal, from its first line; never from
    /// the command line.
    Create {
        #[arg(long)]
        username: String,
    },
    /// Remove an administrator's authenticator and recovery codes (a lost phone) and end their
    /// sessions. With `admin.require_second_factor` they register a new one at next sign-in.
    ResetSecondFactor {
        #[arg(long)]
        username: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a manually provisioned user (no provisioning integration owns it).
    Add {
        /// The login name, usually an email address; unique across the directory.
        #[arg(long)]
        user_name: String,
        #[arg(long, default_value = "")]
        email: String,
        #[arg(long, default_value = "")]
        given_name: String,
        #[arg(long, default_value = "")]
        family_name: String,
        /// A second login name; repeat for more.
        #[arg(long = "alias", value_name = "ALIAS")]
        aliases: Vec<String>,
        /// Print the created user as JSON (its SCIM document).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum IntegrationCommand {
    /// Create an integration and print its Base URL and API token (shown this once).
    Create {
        /// A unique name, e.g. "okta".
        #[arg(long)]
        name: String,
        /// How long the API token (and each regenerated one) works: never, 90d, 180d or 365d.
        #[arg(long, value_name = "never|90d|180d|365d", value_parser = TokenLifetime::parse, default_value = "never")]
        token_lifetime: TokenLifetime,
        /// Print {"name","id","base_url","token","token_expires"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace an integration's API token and print the new one (shown this once). The old
    /// token keeps working for the overlap, so the identity provider can be updated without
    /// failed syncs; a token replaced earlier and still in its overlap stops now.
    Regenerate {
        /// The integration's name (or id).
        name: String,
        /// How long the old token keeps working: 0 (it stops at once), or hours or days such
        /// as 1h, 24h, 72h, 3d (at most 7 days).
        #[arg(long, value_name = "DUR", value_parser = parse_overlap, default_value = "24h")]
        keep_old_for: std::time::Duration,
        /// Print {"name","id","token","previous_token_valid_until"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List integrations (never their tokens).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change an integration's settings; the ones not given keep their values. They apply
    /// from the integration's next request.
    Set {
        /// The integration's name (or id).
        name: String,
        /// Send an enrollment email to each active user with an email address that this
        /// integration creates.
        #[arg(long, value_enum, value_name = "on|off")]
        send_enrollment_emails: Option<OnOff>,
        /// Let the integration see, and take over, manually provisioned users.
        #[arg(long, value_enum, value_name = "on|off")]
        include_manual_users: Option<OnOff>,
        /// Let the integration read every user, whoever provisioned it.
        #[arg(long, value_enum, value_name = "on|off")]
        read_all_users: Option<OnOff>,
        /// What a group PATCH answers when the request does not ask for one (no
        /// `attributes`, no `Prefer: return=`): 204 (no content, the default) or 200 (the group).
        #[arg(long, value_name = "204|200", value_parser = parse_patch_answer)]
        group_patch_answer: Option<PatchAnswer>,
        /// The API token's lifetime, counted from when the current token was issued (so a
        /// shorter one can end it at once): never, 90d, 180d or 365d.
        #[arg(long, value_name = "never|90d|180d|365d", value_parser = TokenLifetime::parse)]
        token_lifetime: Option<TokenLifetime>,
        /// Print the integration's settings as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    Config::load(cli.config.as_deref(), &env).context("invalid configuration")
}

pub fn init_logging(config: &Config) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // The re-levelling layer goes on top in both formats (see `log_levels`).
    let installed = match config.log.format {
        crate::config::LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .finish()
            .with(crate::log_levels::ClientFaultsBelowError)
            .try_init(),
        // One object a line, the event's fields beside `timestamp`, `level`, `target` and
        // `message` (flattened), and the fields of the request span (`web::observe`: its
        // `request_id`) under `span` on every line written while a request is handled.
        crate::config::LogFormat::Json => builder
            .json()
            .with_ansi(false)
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .finish()
            .with(crate::log_levels::ClientFaultsBelowError)
            .try_init(),
    };
    if installed.is_ok() {
        crate::log_levels::ClientFaultsBelowError::register_callsite();
    }
}

pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => serve(&config).await,
        Command::Integration(cmd) => integration(&config, cmd).await,
        Command::User(cmd) => user(&config, cmd).await,
        Command::Tls(cmd) => tls(&config, cmd),
        Command::Admin(cmd) => admin(&config, cmd).await,
        Command::Mail(cmd) => mail(&config, cmd).await,
        Command::VerifierKey(cmd) => verifier_keys::run(&config, cmd).await,
        Command::Secrets(cmd) => secrets(&config, cmd).await,
        Command::Backup { to, json } => backup::backup(&config, &to, json),
        Command::Check { file, json } => backup::check(&config, file, json),
        Command::Restore { from, json } => backup::restore(&config, &from, json),
    }
}

/// Reads a password: from the terminal without echo (asked twice), or the first line of stdin.
fn read_password() -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let echo = |on: bool| {
        let _ = std::process::Command::new("stty")
            .arg(if on { "echo" } else { "-echo" })
            .stdin(std::process::Stdio::inherit())
            .status();
    };
    let ask = |prompt: &str| -> anyhow::Result<String> {
        eprint!("{prompt}");
        std::io::stderr().flush()?;
        echo(false);
        let mut line = String::new();
        let r = stdin.lock().read_line(&mut line);
        echo(true);
        eprintln!();
        r?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    };
    let first = ask("Password: ")?;
    let second = ask("Repeat the password: ")?;
    anyhow::ensure!(first == second, "the two passwords differ");
    Ok(first)
}

async fn admin(config: &Config, cmd: AdminCommand) -> anyhow::Result<()> {
    let username = match cmd {
        AdminCommand::Create { username } => username,
        AdminCommand::ResetSecondFactor { username } => {
            return reset_second_factor(config, &username).await;
        }
    };
    let password = read_password()?;
    let (directory, writer) = open_directory(config)?;
    let out = directory
        .create_admin(&username, &password)
        .await
        .map_err(|e| match e {
            crate::directory::Error::Conflict { value, .. } => {
                anyhow::anyhow!("an administrator named '{value}' already exists")
            }
            e => anyhow::anyhow!("{e}"),
        });
    drop(directory);
    tokio::task::spawn_blocking(move || writer.stop()).await?;
    out?;
    println!(
        "Created administrator \"{}\". Sign in at {}/admin/login",
        username.trim(),
        config.public_url_for(config.server.listen)
    );
    Ok(())
}

async fn reset_second_factor(config: &Config, username: &str) -> anyhow::Result<()> {
    let (directory, writer) = open_directory(config)?;
    let out = directory
        .reset_second_factor(username)
        .await
        .map_err(|e| match e {
            crate::directory::Error::NotFound => {
                anyhow::anyhow!("no administrator is named '{}'", username.trim())
            }
            e => anyhow::anyhow!("{e}"),
        });
    drop(directory);
    tokio::task::spawn_blocking(move || writer.stop()).await?;
    let r = out?;
    if r.had_authenticator {
        println!(
            "Removed the authenticator of administrator \"{}\" and {} unused recovery code(s); ended {} session(s).",
            r.username, r.recovery_codes_removed, r.sessions_ended
        );
    } else {
        println!(
            "Administrator \"{}\" had no authenticator; removed {} recovery code(s) and ended {} session(s).",
            r.username, r.recovery_codes_removed, r.sessions_ended
        );
    }
    if config.admin.require_second_factor {
        println!("They register a new authenticator after their next sign-in with the password.");
    }
    Ok(())
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    let app = App::build(
        config,
        RunOptions {
            handle_signals: true,
        },
    )?;
    let scheme = if app.tls.is_some() { "https" } else { "http" };
    tracing::info!(
        database = %config.database.path.display(),
        public_url = %app.public_url,
        "scimgate listening on {scheme}://{}",
        app.addr
    );
    if let Some(r) = app.redirect_addr {
        tracing::info!("redirecting plain HTTP on http://{r} to HTTPS");
    }
    if let Some(m) = app.metrics_addr {
        tracing::info!("Prometheus metrics on http://{m}/metrics");
    }
    if let Some(tls) = &app.tls {
        let host = public_url_host(&app.public_url);
        let status = tls.status();
        if !config.server.public_url.is_empty() && !status.covers(host) {
            tracing::warn!(
                names = %status.names.join(","),
                "the TLS certificate is not valid for {host} (the host of server.public_url): clients will refuse it"
            );
        }
    }
    match app.first_admin_link().await {
        Ok(Some(link)) => tracing::warn!(
            "no administrator yet: open this one-time link to create the first one (valid {} minutes; \
             `scimgate admin create --username NAME` works too): {link}",
            app.setup_link_ttl().as_secs() / 60
        ),
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "could not create the first-admin setup link"),
    }
    if config.server.public_url.is_empty() {
        tracing::warn!(
            "server.public_url is not set: Base URLs use {}; set it to the URL your identity provider reaches",
            app.public_url
        );
    }
    app.run().await?;
    tracing::info!("scimgate stopped");
    Ok(())
}

async fn user(config: &Config, cmd: UserCommand) -> anyhow::Result<()> {
    let UserCommand::Add {
        user_name,
        email,
        given_name,
        family_name,
        aliases,
        json,
    } = cmd;
    let u = crate::directory::manage::ManualUser {
        user_name,
        given_name,
        family_name,
        email,
        aliases,
    };
    let problems = u.validate();
    if !problems.is_empty() {
        let text: Vec<String> = problems
            .iter()
            .map(|(f, m)| format!("--{}: {m}", f.replace('_', "-")))
            .collect();
        anyhow::bail!("{}", text.join("; "));
    }
    let (directory, writer) = open_directory(config)?;
    let directory = Arc::new(directory);
    let out = match directory.create_manual_user(&u).await {
        Ok(user) => {
            let public_url = config.public_url_for(config.server.listen);
            if json {
                let mut doc = serde_json::Value::Object(user.doc.clone());
                doc["id"] = json!(user.meta.id);
                println!("{doc}");
            } else {
                println!(
                    "Created manually provisioned user \"{}\" (id {}).",
                    u.user_name.trim(),
                    user.meta.id
                );
                println!("See it at {public_url}/admin/users/{}", user.meta.id);
            }
            Ok(())
        }
        Err(crate::directory::Error::Conflict { attribute, value }) => Err(anyhow::anyhow!(
            "{attribute} '{value}' is already the userName or an alias of another user"
        )),
        Err(e) => Err(anyhow::anyhow!("{e}")),
    };
    drop(directory);
    tokio::task::spawn_blocking(move || writer.stop()).await?;
    out
}

async fn integration(config: &Config, cmd: IntegrationCommand) -> anyhow::Result<()> {
    let (directory, writer) = open_directory(config)?;
    let directory = Arc::new(directory);
    let public_url = config.public_url_for(config.server.listen);
    let out = match cmd {
        IntegrationCommand::Create {
            name,
            token_lifetime,
            json,
        } => {
            let created = directory
                .create_integration_with(&name, token_lifetime)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let i = &created.integration;
            let base_url = format!("{public_url}/scim/v2/{}", i.id);
            if json {
                println!(
                    "{}",
                    json!({"name": i.name, "id": i.id.as_str(), "base_url": base_url, "token": created.token.expose(), "token_expires": i.token_expires})
                );
            } else {
                println!("Created integration \"{}\" (id {}).\n", i.name, i.id);
                println!("  Base URL:   {base_url}");
                println!("  API token:  {}", created.token.expose());
                println!(
                    "  Expires:    {}\n",
                    i.token_expires.as_deref().unwrap_or("never")
                );
                println!(
                    "The token is shown only this once: paste both into your identity provider now"
                );
                println!(
                    "(Okta: the app's Provisioning tab > Integration > SCIM connector base URL, and the"
                );
                println!("Authorization header as \"Bearer <token>\").");
            }
            Ok(())
        }
        IntegrationCommand::Regenerate {
            name,
            keep_old_for,
            json,
        } => directory
            .regenerate_token(Target::NameOrId(&name), keep_old_for)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .map(|r| {
                let i = &r.integration;
                if json {
                    println!(
                        "{}",
                        json!({"name": i.name, "id": i.id.as_str(), "token": r.token.expose(),
                            "previous_token_valid_until": r.previous_valid_until})
                    );
                } else {
                    println!("New API token for \"{}\" (id {}):\n", i.name, i.id);
                    println!("  API token:  {}", r.token.expose());
                    println!(
                        "  Expires:    {}\n",
                        i.token_expires.as_deref().unwrap_or("never")
                    );
                    match &r.previous_valid_until {
                        Some(until) => println!(
                            "The previous token keeps working until {until}: paste the new one into your identity provider before then."
                        ),
                        None => println!(
                            "The previous token no longer works: paste the new one into your identity provider now."
                        ),
                    }
                    println!("The token is shown only this once.");
                }
            }),
        IntegrationCommand::List { json } => {
            let all = directory
                .list_integrations()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                let items: Vec<_> = all
                    .iter()
                    .map(|i| json!({
                        "name": i.name, "id": i.id.as_str(),
                        "base_url": format!("{public_url}/scim/v2/{}", i.id),
                        "created": i.created, "token_last_used": i.token_last_used, "users": i.users_owned,
                        "token_lifetime": i.token_lifetime.code(), "token_expires": i.token_expires,
                        "previous_token_valid_until": i.previous_token_until,
                    }))
                    .collect();
                println!("{}", serde_json::Value::Array(items));
            } else if all.is_empty() {
                println!(
                    "No integrations yet. Create one with: scimgate integration create --name okta"
                );
            } else {
                println!(
                    "{:<24} {:<34} {:>7}  {:<25} {:<25} BASE URL",
                    "NAME", "ID", "USERS", "TOKEN LAST USED", "TOKEN EXPIRES"
                );
                for i in &all {
                    println!(
                        "{:<24} {:<34} {:>7}  {:<25} {:<25} {public_url}/scim/v2/{}",
                        i.name,
                        i.id,
                        i.users_owned,
                        i.token_last_used.as_deref().unwrap_or("never"),
                        i.token_expires.as_deref().unwrap_or("never"),
                        i.id
                    );
                }
            }
            Ok(())
        }
        IntegrationCommand::Set {
            name,
            send_enrollment_emails,
            include_manual_users,
            read_all_users,
            group_patch_answer,
            token_lifetime,
            json,
        } => {
            let change = crate::directory::SettingsChange {
                send_enrollment_emails: send_enrollment_emails.map(bool::from),
                include_manual: include_manual_users.map(bool::from),
                read_all_users: read_all_users.map(bool::from),
                group_patch_answer,
            };
            let mut i = directory
                .update_settings(&name, change)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"));
            if let (Ok(set), Some(lifetime)) = (&i, token_lifetime) {
                let id = set.id.as_str().to_owned();
                i = directory
                    .set_token_lifetime(Target::Id(&id), lifetime)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"));
            }
            match i {
                Ok(i) => {
                    let s = i.settings;
                    if json {
                        println!(
                            "{}",
                            json!({"name": i.name, "id": i.id.as_str(),
                                "send_enrollment_emails": s.send_enrollment_emails,
                                "include_manual_users": s.include_manual,
                                "read_all_users": s.read_all_users,
                                "group_patch_answer": s.group_patch_answer.code(),
                                "token_lifetime": i.token_lifetime.code(),
                                "token_expires": i.token_expires})
                        );
                    } else {
                        let on = |b: bool| if b { "on" } else { "off" };
                        println!("Integration \"{}\" (id {}):", i.name, i.id);
                        for (label, value) in [
                            ("Send enrollment emails:", s.send_enrollment_emails),
                            ("Include manually provisioned users:", s.include_manual),
                            ("Read all users:", s.read_all_users),
                        ] {
                            println!("  {label:<36}{}", on(value));
                        }
                        println!(
                            "  {:<36}{}",
                            "Group PATCH answer:",
                            s.group_patch_answer.label()
                        );
                        println!(
                            "  {:<36}{} (expires: {})",
                            "Token lifetime:",
                            i.token_lifetime.label(),
                            i.token_expires.as_deref().unwrap_or("never")
                        );
                    }
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
    };
    // A running server sees the change from the next request sent after this returns.
    directory.settle().await;
    drop(directory);
    tokio::task::spawn_blocking(move || writer.stop()).await?;
    out
}

async fn secrets(config: &Config, cmd: SecretsCommand) -> anyhow::Result<()> {
    let SecretsCommand::RotateKey { json } = cmd;
    let key_file = config.secrets_key_file();
    // Exclusive: no server (or other command) keeps sealing with the old key meanwhile.
    let (store, writer, _, rotated) =
        crate::app::open_with_key(config, crate::store::LockMode::Exclusive, |db, key| {
            crate::directory::secrets::rotate(db, &key_file, key)
        })?;
    drop(store);
    tokio::task::spawn_blocking(move || writer.stop()).await?;
    if json {
        println!(
            "{}",
            json!({
                "old_key_id": rotated.old_id,
                "new_key_id": rotated.new_id,
                "resealed": rotated.resealed,
                "key_file": key_file.display().to_string(),
                "old_key_file": rotated.old_key_file.display().to_string(),
            })
        );
    } else {
        println!(
            "Re-sealed {} secret(s) under a new key (id {}, was {}) in {}.",
            rotated.resealed,
            rotated.new_id,
            rotated.old_id,
            config.database.path.display()
        );
        println!("The new key is in {}.", key_file.display());
        println!(
            "The previous key is kept in {}: it opens only backups made before this rotation. \
             Back up the new key file, then remove {} when those backups no longer matter.",
            rotated.old_key_file.display(),
            rotated.old_key_file.display()
        );
    }
    Ok(())
}

async fn mail(config: &Config, cmd: MailCommand) -> anyhow::Result<()> {
    match cmd {
        MailCommand::Test { to } => {
            let public_url = config.public_url_for(config.server.listen);
            let mailer =
                crate::mail::Mailer::from_config(&config.smtp, &public_url)?.ok_or_else(|| {
                    anyhow::anyhow!("smtp.host is not set: configure [smtp] first (see docs/operations.md, \"Enrollment emails\")")
                })?;
            match crate::directory::outbox::send_test_email(&mailer, &to, &public_url).await {
                Ok(answer) => {
                    println!(
                        "Sent to {to} through {}. The server answered: {answer}",
                        mailer.server()
                    );
                    Ok(())
                }
                Err(e) => Err(anyhow::anyhow!("not sent through {}: {e}", mailer.server())),
            }
        }
    }
}

fn tls(config: &Config, cmd: TlsCommand) -> anyhow::Result<()> {
    match cmd {
        TlsCommand::SelfSigned {
            hosts,
            cert,
            key,
            days,
            force,
        } => {
            let or_default = |given: Option<PathBuf>, configured: &std::path::Path, dflt: &str| {
                given.unwrap_or_else(|| {
                    if configured.as_os_str().is_empty() {
                        PathBuf::from(dflt)
                    } else {
                        configured.to_owned()
                    }
                })
            };
            let cert = or_default(cert, &config.tls.certificate, "cert.pem");
            let key = or_default(key, &config.tls.private_key, "key.pem");
            if !force {
                for p in [&cert, &key] {
                    anyhow::ensure!(
                        !p.exists(),
                        "{} exists; use --force to replace it",
                        p.display()
                    );
                }
            }
            let (cert_pem, key_pem) = crate::tls::self_signed::generate(&hosts, days)?;
            // The key first: a reload between the two renames sees a mismatch and keeps the
            // old pair, never a new certificate with the old key.
            crate::tls::self_signed::write_file(&key, &key_pem, 0o600, force)
                .with_context(|| format!("writing {}", key.display()))?;
            crate::tls::self_signed::write_file(&cert, &cert_pem, 0o644, force)
                .with_context(|| format!("writing {}", cert.display()))?;
            println!(
                "Wrote a self-signed certificate for {} (valid {days} days) to {} and its private key to {}.\n",
                hosts.join(", "),
                cert.display(),
                key.display()
            );
            println!("For trying HTTPS out only: Okta and Entra refuse self-signed certificates.");
            println!(
                "curl trusts it with --cacert {}. To serve it, put this in config.toml:\n",
                cert.display()
            );
            println!("[tls]");
            println!("certificate = {:?}", cert.display().to_string());
            println!("private_key = {:?}", key.display().to_string());
            Ok(())
        }
    }
}

/// `mfa.example.com` of `https://mfa.example.com:8443/x`.
fn public_url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    if authority.starts_with('[') {
        authority.split(']').next().map_or(authority, |h| &h[1..])
    } else {
        authority.split(':').next().unwrap_or(authority)
    }
}
