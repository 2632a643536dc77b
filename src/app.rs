//! One start-up path, shared by `scimgate serve` and the tests: open the store (migrating it),
//! bind the listener (port 0 allowed) and build the HTTP server. Returns the bound address.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{HttpServer, middleware, web};

use crate::config::Config;
use crate::directory::Directory;
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
    server: Server,
    writer: WriterThread,
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
        let state = web::Data::new(AppState {
            directory: directory.clone(),
            public_url: public_url.clone(),
            caps: Capabilities {
                max_results: config.scim.max_results,
                max_body_bytes: config.scim.max_body_bytes as u64,
                cursor_timeout_secs: crate::directory::cursor::CURSOR_TIMEOUT_SECS,
            },
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
            server,
            writer,
        })
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
            ..
        } = self;
        let result = server.await;
        drop(directory);
        tokio::task::spawn_blocking(move || writer.stop())
            .await
            .map_err(std::io::Error::other)?;
        result
    }
}
