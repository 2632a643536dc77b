//! One start-up path, shared by `scimgate serve` and the tests: open the store (migrating it),
//! load the TLS certificate if configured, bind the listeners (port 0 allowed) and build the
//! HTTP server. Returns the bound addresses.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{HttpServer, middleware, web};

use crate::auth::seal::SecretsKey;
use crate::config::Config;
use crate::directory::Directory;
use crate::directory::activity::{ActivityLog, FLUSH_EVERY, Retention};
use crate::directory::admins::SessionPolicy;
use crate::directory::outbox::Delivery;
use crate::directory::secrets::SecretsError;
use crate::scim::discovery::Capabilities;
use crate::store::backup::LastBackup;
use crate::store::{Direct, LockMode, Store, StoreError, StoreOptions, WriterThread};
use crate::tls::{Tls, TlsError};
use crate::web::AppState;
use crate::web::https::{self, HttpsPolicy};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database {path}: {source}")]
    Store { path: String, source: StoreError },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailConfigError),
    /// The secrets key file is missing, wrong or unreadable; the database was not changed.
    #[error(transparent)]
    Secrets(SecretsError),
}

/// Options that only the embedding program chooses.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Stop gracefully on SIGINT/SIGTERM and reload the TLS certificate on SIGHUP (the
    /// binary); tests stop through the handle and reload through [`App::tls`].
    pub handle_signals: bool,
}

/// A built, not yet running, appliance.
pub struct App {
    /// The main listener: HTTPS when TLS is configured, plain HTTP otherwise.
    pub addr: SocketAddr,
    /// The plain-HTTP listener that only redirects to HTTPS (`tls.redirect_listen`).
    pub redirect_addr: Option<SocketAddr>,
    /// The `/metrics` listener (`metrics.listen`), when configured.
    pub metrics_addr: Option<SocketAddr>,
    /// The served certificate (reload, status), when TLS is configured.
    pub tls: Option<Arc<Tls>>,
    pub public_url: String,
    pub directory: Arc<Directory>,
    pub activity: Arc<ActivityLog>,
    setup_link_ttl: Duration,
    server: Server,
    /// The `/metrics` server: stopped when the main server stops.
    metrics_server: Option<Server>,
    writer: WriterThread,
    flusher: actix_web::rt::task::JoinHandle<()>,
    /// The email drainer, when `[smtp]` is configured: told to stop, then awaited, before the
    /// writer stops.
    drainer: Option<(
        tokio::sync::watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
    )>,
    /// The scheduled backups (`[backup] dir`), when on.
    backups: Option<tokio::task::JoinHandle<()>>,
}

fn store_options(config: &Config) -> StoreOptions {
    StoreOptions {
        path: config.database.path.clone(),
        synchronous: config.database.synchronous,
        read_connections: config.database.read_connections,
    }
}

/// Opens the database of `config` with its lock file in `lock` mode, checks the secrets key
/// against it (creating the key only for a database without sealed secrets; refusing, with
/// nothing changed, on a missing or wrong key), then runs `then` on the write connection (a
/// [`Direct`], before the writer takes it) with the key.
pub fn open_with_key<T>(
    config: &Config,
    lock: LockMode,
    then: impl FnOnce(&mut Direct, &SecretsKey) -> Result<T, SecretsError>,
) -> Result<(Store, WriterThread, SecretsKey, T), StartError> {
    let key_file = config.secrets_key_file();
    Store::open_then(&store_options(config), lock, |db| {
        let (key, _) = crate::directory::secrets::unlock(db, &key_file)?;
        let t = then(db, &key)?;
        Ok((key, t))
    })
    .map(|(store, writer, (key, t))| (store, writer, key, t))
    .map_err(|e| match e {
        SecretsError::Store(source) => StartError::Store {
            path: config.database.path.display().to_string(),
            source,
        },
        e => StartError::Secrets(e),
    })
}

/// Opens the directory of `config` (for the CLI and the server alike): the database, migrated,
/// with its secrets key checked (see [`open_with_key`]).
pub fn open_directory(config: &Config) -> Result<(Directory, WriterThread), StartError> {
    let (store, writer, key, ()) = open_with_key(config, LockMode::Shared, |_, _| Ok(()))?;
    Ok((Directory::new(store, key), writer))
}

impl App {
    /// Must be called inside an actix (tokio) runtime.
    pub fn build(config: &Config, opts: RunOptions) -> Result<App, StartError> {
        // Certificate problems are reported before the database is touched.
        let tls = if config.tls.enabled() {
            Some(Tls::load(&config.tls.certificate, &config.tls.private_key)?)
        } else {
            None
        };
        let mailer = crate::mail::Mailer::from_config(
            &config.smtp,
            // Only the host matters here (Message-IDs), so the configured address will do.
            &config.public_url_for(config.server.listen),
        )?;
        let (directory, writer) = open_directory(config)?;
        let directory = Arc::new(directory.with_limits(config.scim.limits()));
        let addr = config.server.listen;
        let listener =
            TcpListener::bind(addr).map_err(|source| StartError::Bind { addr, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let public_url = config.public_url_for(bound);
        let activity = Arc::new(ActivityLog::new(Retention {
            days: config.activity.retention_days,
            max_entries: config.activity.max_entries,
            max_body_bytes: config.activity.max_body_bytes,
        }));
        let limits = Arc::new(crate::web::limits::Limits::new(
            &config.limits,
            &config.server.trusted_proxies,
        ));
        let flusher = {
            let (activity, store) = (activity.clone(), directory.store().clone());
            let limits = limits.clone();
            actix_web::rt::spawn(async move {
                let mut tick = tokio::time::interval(FLUSH_EVERY);
                for n in 0u64.. {
                    tick.tick().await;
                    // Buckets that are full again are forgotten, so a flood from many
                    // addresses leaves nothing behind.
                    if n % 60 == 59 {
                        limits.retain_recent();
                    }
                    if let Err(e) = activity.flush(&store).await {
                        tracing::warn!(error = %e, "could not write the activity log");
                    }
                }
            })
        };
        let outbox_alive = mailer
            .as_ref()
            .map(|_| Arc::new(std::sync::atomic::AtomicBool::new(true)));
        let last_backup = Arc::<std::sync::Mutex<Option<LastBackup>>>::default();
        let backups = (!config.backup.dir.as_os_str().is_empty()).then(|| {
            actix_web::rt::spawn(backup_on_schedule(
                config.database.path.clone(),
                config.backup.dir.clone(),
                Duration::from_secs(config.backup.interval_hours * 3600),
                config.backup.keep as usize,
                last_backup.clone(),
            ))
        });
        let metrics = Arc::new(crate::web::metrics::Metrics::new(
            directory.clone(),
            tls.is_some(),
        ));
        let state = web::Data::new(AppState {
            directory: directory.clone(),
            public_url: public_url.clone(),
            caps: Capabilities {
                max_results: config.scim.max_results,
                max_body_bytes: config.scim.max_body_bytes as u64,
                cursor_timeout_secs: crate::directory::cursor::CURSOR_TIMEOUT_SECS,
            },
            tls: tls.clone(),
            https: config.is_https(),
            activity: activity.clone(),
            sessions: SessionPolicy {
                idle: Duration::from_secs(config.admin.session_idle_minutes * 60),
                absolute: Duration::from_secs(config.admin.session_max_hours * 3600),
            },
            config: config.clone(),
            key_reveals: Default::default(),
            token_reveal: Default::default(),
            recovery_reveal: Default::default(),
            settings_outcome: Default::default(),
            limits,
            group_answers: Default::default(),
            outbox_alive: outbox_alive.clone(),
            last_backup: last_backup.clone(),
            metrics: metrics.clone(),
        });
        let https_policy = tls.as_ref().map(|_| {
            web::Data::new(HttpsPolicy {
                public_url: (!config.server.public_url.is_empty())
                    .then(|| config.server.public_url.clone()),
                tls_port: bound.port(),
            })
        });
        let max_body = config.scim.max_body_bytes;
        let mut server = HttpServer::new(move || {
            let mut app = actix_web::App::new()
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(max_body));
            if let Some(p) = &https_policy {
                app = app.app_data(p.clone());
            }
            app.wrap(middleware::from_fn(crate::web::compress::skip_small))
                .wrap(middleware::Compress::default())
                .wrap(middleware::from_fn(crate::web::compress::unmark))
                .wrap(middleware::from_fn(https::enforce))
                .wrap(middleware::from_fn(crate::web::observe::observe))
                .configure(crate::web::configure)
        })
        .on_connect(https::on_connect)
        // A compressed answer (Okta sends `Accept-Encoding: gzip,deflate`) is written in
        // chunks; with Nagle's algorithm the last small write waited for the client's delayed
        // ACK, about 40 ms per request (issue 17: `userName eq` p95 48 ms in the benchmark).
        .tcp_nodelay(true)
        .shutdown_timeout(config.server.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_secs(30));
        if config.server.workers > 0 {
            server = server.workers(config.server.workers);
        }
        if !opts.handle_signals {
            server = server.disable_signals();
        }
        let mut redirect_addr = None;
        let server = match &tls {
            Some(tls) => {
                let mut server = server
                    .listen_rustls_0_23(listener, tls.server_config()?)
                    .map_err(|source| StartError::Bind { addr, source })?;
                if let Some(raddr) = config.tls.redirect_listen {
                    let bind_err = |source| StartError::Bind {
                        addr: raddr,
                        source,
                    };
                    let l = TcpListener::bind(raddr).map_err(bind_err)?;
                    redirect_addr = Some(l.local_addr().map_err(bind_err)?);
                    server = server.listen(l).map_err(bind_err)?;
                }
                server
            }
            None => server
                .listen(listener)
                .map_err(|source| StartError::Bind { addr, source })?,
        }
        .run();
        let (metrics_server, metrics_addr) = match config.metrics.listen {
            Some(maddr) => {
                let (server, bound) = metrics_server(
                    maddr,
                    crate::web::metrics::Scrape {
                        metrics,
                        directory: directory.clone(),
                        tls: tls.clone(),
                        last_backup: last_backup.clone(),
                    },
                )?;
                (Some(server), Some(bound))
            }
            None => (None, None),
        };
        if opts.handle_signals {
            actix_web::rt::spawn(reload_on_sighup(tls.clone()));
        }
        if let Some(tls) = &tls {
            actix_web::rt::spawn(daily_expiry_check(tls.clone()));
        }
        let drainer = match mailer {
            Some(mailer) => {
                let delivery = Delivery {
                    max_attempts: config.enrollment.max_send_attempts,
                    retry_base: Duration::from_secs(config.enrollment.retry_base_secs),
                    public_url: public_url.clone(),
                    link_lifetime: Duration::from_secs(
                        config.enrollment.link_lifetime_hours * 3600,
                    ),
                };
                let (stop, stopped) = tokio::sync::watch::channel(false);
                // Cleared when the task ends however it ends (a panic unwinds through it).
                let alive = ClearOnDrop(outbox_alive.clone().unwrap_or_default());
                let drain = drain_mail(directory.clone(), mailer, delivery, stopped);
                let task = actix_web::rt::spawn(async move {
                    let _alive = alive;
                    drain.await;
                });
                Some((stop, task))
            }
            None => {
                tracing::info!("smtp.host is not set: enrollment emails are queued, not sent");
                None
            }
        };
        Ok(App {
            addr: bound,
            redirect_addr,
            metrics_addr,
            tls,
            public_url,
            directory,
            activity,
            setup_link_ttl: Duration::from_secs(config.admin.setup_link_minutes * 60),
            server,
            metrics_server,
            writer,
            flusher,
            drainer,
            backups,
        })
    }

    /// Re-reads the certificate and key (what SIGHUP does); `None` without TLS.
    pub fn tls(&self) -> Option<&Arc<Tls>> {
        self.tls.as_ref()
    }

    /// While no administrator exists: a fresh one-time link that creates the first one (older
    /// links stop working). `scimgate serve` logs it at start-up.
    pub async fn first_admin_link(&self) -> Result<Option<String>, crate::directory::Error> {
        Ok(self
            .directory
            .new_setup_link(self.setup_link_ttl)
            .await?
            .map(|secret| format!("{}/admin/setup/{secret}", self.public_url)))
    }

    /// How long the setup link stays valid.
    pub fn setup_link_ttl(&self) -> Duration {
        self.setup_link_ttl
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (signal or handle), lets in-flight requests finish, then stops the
    /// writer after its queued jobs are committed.
    pub async fn run(self) -> std::io::Result<()> {
        let App {
            server,
            metrics_server,
            writer,
            directory,
            activity,
            flusher,
            drainer,
            backups,
            ..
        } = self;
        // The metrics server runs beside the main one and stops with it.
        let metrics_handle = metrics_server.map(|m| {
            let handle = m.handle();
            (handle, actix_web::rt::spawn(m))
        });
        let result = server.await;
        if let Some(b) = backups {
            b.abort();
        }
        if let Some((handle, task)) = metrics_handle {
            handle.stop(false).await;
            let _ = task.await;
        }
        if let Some((stop, task)) = drainer {
            let _ = stop.send(true);
            let _ = task.await;
        }
        flusher.abort();
        if let Err(e) = activity.flush(directory.store()).await {
            tracing::warn!(error = %e, "could not write the last activity entries");
        }
        drop(directory);
        tokio::task::spawn_blocking(move || writer.stop())
            .await
            .map_err(std::io::Error::other)?;
        result
    }
}

/// The `/metrics` server on its own listener: one worker, plain HTTP, no signals (the main
/// server's shutdown stops it, in [`App::run`]).
fn metrics_server(
    addr: SocketAddr,
    scrape: crate::web::metrics::Scrape,
) -> Result<(Server, SocketAddr), StartError> {
    let bind_err = |source| StartError::Bind { addr, source };
    let listener = TcpListener::bind(addr).map_err(bind_err)?;
    let bound = listener.local_addr().map_err(bind_err)?;
    let scrape = web::Data::new(scrape);
    let server = HttpServer::new(move || {
        actix_web::App::new()
            .app_data(scrape.clone())
            .configure(crate::web::metrics::configure_metrics_listener)
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(5)
    .listen(listener)
    .map_err(bind_err)?
    .run();
    Ok((server, bound))
}

/// How often the drainer looks for due retries when nothing wakes it.
const MAIL_POLL: Duration = Duration::from_secs(15);

/// Sends queued emails until told to stop: a pass whenever a message is queued (the directory
/// wakes it) or every [`MAIL_POLL`] for retries that fall due. A stop during a pass abandons
/// it; a message whose send was interrupted is sent again after the restart (at least once).
/// `[backup]`: a backup at start, then one every `every`, each checked, rotating to `keep`.
async fn backup_on_schedule(
    db: std::path::PathBuf,
    dir: std::path::PathBuf,
    every: Duration,
    keep: usize,
    last: Arc<std::sync::Mutex<Option<LastBackup>>>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stamp_format =
        time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    loop {
        tick.tick().await;
        let stamp = time::OffsetDateTime::now_utc()
            .format(&stamp_format)
            .unwrap_or_else(|_| "unknown".to_owned());
        let (db, dir) = (db.clone(), dir.clone());
        let done = tokio::task::spawn_blocking(move || {
            crate::store::backup::scheduled(&db, &dir, &stamp, keep)
        })
        .await;
        let (ok, message) = match done {
            Ok(Ok(i)) => {
                tracing::info!(file = %i.path, bytes = i.size_bytes, "scheduled backup done");
                (
                    true,
                    format!(
                        // The pages say "provisioning", never "integration" (browser test).
                        "{} ({} bytes): {} users, {} groups, {} authenticators.",
                        i.path, i.size_bytes, i.users, i.groups, i.authenticators
                    ),
                )
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "scheduled backup failed");
                (false, e.to_string())
            }
            Err(e) => {
                tracing::error!(error = %e, "scheduled backup failed");
                (false, e.to_string())
            }
        };
        *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(LastBackup {
            at: crate::directory::now(),
            ok,
            message,
        });
    }
}

/// Sets the flag to false when dropped: the email drainer's "alive" for `/readyz`.
struct ClearOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Release);
    }
}

async fn drain_mail(
    directory: Arc<Directory>,
    mailer: crate::mail::Mailer,
    delivery: Delivery,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    tracing::info!(server = %mailer.server(), "sending enrollment emails");
    loop {
        let full = tokio::select! {
            _ = stop.changed() => return,
            r = directory.drain_once(&mailer, &delivery) => match r {
                Ok(r) => r.attempted() as i64 >= crate::directory::outbox::DRAIN_BATCH,
                Err(crate::directory::Error::Unavailable) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "the email drainer could not read the outbox");
                    false
                }
            },
        };
        if full {
            continue;
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = directory.mail_queued(MAIL_POLL) => {}
        }
    }
}

/// SIGHUP re-reads the TLS certificate and key; a bad file keeps the old one (logged).
async fn reload_on_sighup(tls: Option<Arc<Tls>>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; certificate reload needs a restart");
            return;
        }
    };
    while hup.recv().await.is_some() {
        let Some(tls) = tls.clone() else {
            tracing::info!("SIGHUP: no [tls] configured, nothing to reload");
            continue;
        };
        tracing::info!(
            certificate = %tls.certificate_path().display(),
            "SIGHUP: reloading the TLS certificate"
        );
        // The outcome is logged by reload() itself.
        let _ = tokio::task::spawn_blocking(move || tls.reload()).await;
    }
}

/// Logs the expiry warning once a day while the server runs, so a certificate that enters
/// its last 30 days without a restart is still noticed.
async fn daily_expiry_check(tls: Arc<Tls>) {
    let mut tick = tokio::time::interval(Duration::from_secs(24 * 60 * 60));
    tick.tick().await; // the first tick is immediate; load() has just logged
    loop {
        tick.tick().await;
        tls.log_expiry_warning();
    }
}
