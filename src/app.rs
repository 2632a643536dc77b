//! One start-up path, shared by `scimgate serve` and the tests: open the store (migrating it),
//! bind the listener (port 0 allowed) and build the HTTP server. Returns the bound address.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{HttpServer, middleware, web};

use crate::config::Config;
use crate::directory::Directory;
use crate::directory::activity::{ActivityLog, FLUSH_EVERY, Retention};
use crate::directory::admins::SessionPolicy;
use crate::scim::discovery::Capabilities;
use crate::store::{Store, StoreError, StoreOptions, WriterThread};
use crate::web::AppState;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database {path}: {source}")]
    Store { path: String, source: StoreError },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Options that only the embedding program chooses.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Stop gracefully on SIGINT/SIGTERM (the binary); tests stop through the handle.
    pub handle_signals: bool,
}

/// A built, not yet running, appliance.
pub struct App {
    pub addr: SocketAddr,
    pub public_url: String,
    pub directory: Arc<Directory>,
    pub activity: Arc<ActivityLog>,
    setup_link_ttl: Duration,
    server: Server,
    writer: WriterThread,
    flusher: actix_web::rt::task::JoinHandle<()>,
}

/// Opens the store of `config` (for the CLI and the server alike).
pub fn open_store(config: &Config) -> Result<(Store, WriterThread), StartError> {
    Store::open(&StoreOptions {
        path: config.database.path.clone(),
        synchronous: config.database.synchronous,
        read_connections: config.database.read_connections,
    })
    .map_err(|source| StartError::Store {
        path: config.database.path.display().to_string(),
        source,
    })
}

impl App {
    /// Must be called inside an actix (tokio) runtime.
    pub fn build(config: &Config, opts: RunOptions) -> Result<App, StartError> {
        let (store, writer) = open_store(config)?;
        let directory = Arc::new(Directory::new(store));
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
        }));
        let flusher = {
            let (activity, store) = (activity.clone(), directory.store().clone());
            actix_web::rt::spawn(async move {
                let mut tick = tokio::time::interval(FLUSH_EVERY);
                loop {
                    tick.tick().await;
                    if let Err(e) = activity.flush(&store).await {
                        tracing::warn!(error = %e, "could not write the activity log");
                    }
                }
            })
        };
        let state = web::Data::new(AppState {
            directory: directory.clone(),
            public_url: public_url.clone(),
            caps: Capabilities {
                max_results: config.scim.max_results,
                max_body_bytes: config.scim.max_body_bytes as u64,
            },
            activity: activity.clone(),
            sessions: SessionPolicy {
                idle: Duration::from_secs(config.admin.session_idle_minutes * 60),
                absolute: Duration::from_secs(config.admin.session_max_hours * 3600),
            },
            config: config.clone(),
        });
        let max_body = config.scim.max_body_bytes;
        let mut server = HttpServer::new(move || {
            actix_web::App::new()
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(max_body))
                .wrap(middleware::Compress::default())
                .wrap(middleware::Logger::new("%a \"%r\" %s %b %Dms").log_target("scimgate::http"))
                .configure(crate::web::configure)
        })
        .shutdown_timeout(config.server.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_secs(30));
        if config.server.workers > 0 {
            server = server.workers(config.server.workers);
        }
        if !opts.handle_signals {
            server = server.disable_signals();
        }
        let server = server
            .listen(listener)
            .map_err(|source| StartError::Bind { addr, source })?
            .run();
        Ok(App {
            addr: bound,
            public_url,
            directory,
            activity,
            setup_link_ttl: Duration::from_secs(config.admin.setup_link_minutes * 60),
            server,
            writer,
            flusher,
        })
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
            writer,
            directory,
            activity,
            flusher,
            ..
        } = self;
        let result = server.await;
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
