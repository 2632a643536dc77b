//! Test harness: `TestApp::spawn()` runs the appliance in-process (the same `App::build` as
//! `scimgate serve`), on 127.0.0.1:0, with a fresh database in a temporary directory.

pub mod admin;
pub mod postgres;
pub mod props;
pub mod smtp;

use std::path::PathBuf;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use awc::http::StatusCode;
use scimgate::app::{App, RunOptions};
use scimgate::config::Config;
use serde_json::Value;

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

pub struct TestApp {
    /// Kept so the temporary directory lives as long as the app.
    _dir: tempfile::TempDir,
    pub config: Config,
    pub base_url: String,
    pub token: String,
    pub integration_id: String,
    pub addr: std::net::SocketAddr,
    /// The redirect-only listener and the served certificate, when the config has `[tls]`.
    pub redirect_addr: Option<std::net::SocketAddr>,
    pub tls: Option<std::sync::Arc<scimgate::tls::Tls>>,
    /// The `/metrics` listener, when the config sets `metrics.listen`.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// The first-admin setup link printed at start-up.
    pub setup_link: Option<String>,
    /// The running appliance's directory, for set-ups the SCIM API cannot make (manual users,
    /// settings), as the admin pages and the CLI make them.
    pub directory: std::sync::Arc<scimgate::directory::Directory>,
    handle: ServerHandle,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub client: awc::Client,
}

pub fn config_in(dir: &std::path::Path) -> Config {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.server.workers = 2;
    config.server.shutdown_timeout_secs = 5;
    config.database.path = dir.join("scimgate.db");
    config.log.level = "warn".into();
    // Tests about other pages sign in with a password alone; tests/it/admin_mfa.rs turns the
    // installation default (true) back on.
    config.admin.require_second_factor = false;
    // Tests that send requests as fast as they can (PATCH tables, property tests) are not about
    // the per-integration rate limit; tests/it/limits.rs sets the limits it tests.
    config.limits.scim_per_second = 1_000_000;
    config.limits.scim_burst = 1_000_000;
    config
}

fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .connector(awc::Connector::new().limit(256))
        .finish()
}

impl TestApp {
    /// A running appliance with one integration, "okta".
    pub async fn spawn() -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        Self::spawn_with(dir, config).await
    }

    pub async fn spawn_with(dir: tempfile::TempDir, config: Config) -> TestApp {
        let app = App::build(
            &config,
            RunOptions {
                handle_signals: false,
            },
        )
        .unwrap();
        let setup_link = app.first_admin_link().await.unwrap();
        let created = app.directory.create_integration("okta").await.unwrap();
        let base_url = format!("{}/scim/v2/{}", app.public_url, created.integration.id);
        let (addr, handle) = (app.addr, app.handle());
        let (redirect_addr, tls) = (app.redirect_addr, app.tls.clone());
        let metrics_addr = app.metrics_addr;
        let directory = app.directory.clone();
        let task = tokio::task::spawn_local(app.run());
        TestApp {
            _dir: dir,
            config,
            base_url,
            token: created.token.expose().to_owned(),
            integration_id: created.integration.id.as_str().to_owned(),
            addr,
            redirect_addr,
            tls,
            metrics_addr,
            setup_link,
            directory,
            handle,
            task: Some(task),
            client: client(),
        }
    }

    /// Another integration on the same appliance: (base URL, token).
    pub async fn second_integration(&self, name: &str) -> (String, String) {
        // Created through the CLI's code path on the same database file, as an operator would.
        let (dir, writer) = scimgate::app::open_directory(&self.config).unwrap();
        let c = dir.create_integration(name).await.unwrap();
        drop(dir);
        tokio::task::spawn_blocking(move || writer.stop())
            .await
            .unwrap();
        (
            format!(
                "http://localhost:{}/scim/v2/{}",
                self.addr.port(),
                c.integration.id
            ),
            c.token.expose().to_owned(),
        )
    }

    /// Stops the server gracefully and waits for the writer to finish.
    pub async fn stop(&mut self) {
        self.handle.stop(true).await;
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }

    /// Stops and starts the appliance on the same database file (a new port).
    pub async fn restart(&mut self) {
        self.stop().await;
        let app = App::build(
            &self.config,
            RunOptions {
                handle_signals: false,
            },
        )
        .unwrap();
        self.base_url = format!("{}/scim/v2/{}", app.public_url, self.integration_id);
        self.addr = app.addr;
        self.redirect_addr = app.redirect_addr;
        self.metrics_addr = app.metrics_addr;
        self.tls = app.tls.clone();
        self.directory = app.directory.clone();
        self.handle = app.handle();
        self.task = Some(tokio::task::spawn_local(app.run()));
    }

    pub fn db_path(&self) -> PathBuf {
        self.config.database.path.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub async fn get(&self, path: &str) -> Resp {
        send(
            self.client
                .get(self.url(path))
                .insert_header(("Authorization", format!("Bearer {}", self.token))),
            None,
        )
        .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        send(
            self.client
                .post(self.url(path))
                .insert_header(("Authorization", format!("Bearer {}", self.token))),
            Some(body),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        send(
            self.client
                .put(self.url(path))
                .insert_header(("Authorization", format!("Bearer {}", self.token))),
            Some(body),
        )
        .await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        send(
            self.client
                .patch(self.url(path))
                .insert_header(("Authorization", format!("Bearer {}", self.token))),
            Some(body),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        send(
            self.client
                .delete(self.url(path))
                .insert_header(("Authorization", format!("Bearer {}", self.token))),
            None,
        )
        .await
    }

    /// Creates a user as Okta does and returns its resource.
    pub async fn create_user(&self, user_name: &str) -> Value {
        let r = self.post("/Users", &okta_user(user_name)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Do not leave a server running; the writer stops when the task's app is dropped.
        drop(self.handle.stop(false));
    }
}

/// A response: status, headers, JSON body (Null when empty).
pub struct Resp {
    pub status: StatusCode,
    pub headers: awc::http::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Asserts this is a SCIM error with `status` (and `scim_type`, if given).
    pub fn assert_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/scim+json")
        );
        assert_eq!(self.body["schemas"][0], ERROR_URN, "{}", self.body);
        assert_eq!(self.body["status"], status.to_string(), "{}", self.body);
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{}",
            self.body
        );
        assert_eq!(
            self.body.get("scimType").and_then(Value::as_str),
            scim_type,
            "{}",
            self.body
        );
    }
}

pub async fn send(req: awc::ClientRequest, body: Option<&Value>) -> Resp {
    let req = req.insert_header(("Accept", "application/scim+json"));
    let mut res = match body {
        Some(b) => req
            .insert_header(("Content-Type", "application/scim+json; charset=utf-8"))
            .send_body(b.to_string())
            .await
            .unwrap(),
        None => req.send().await.unwrap(),
    };
    let bytes = res.body().limit(64 * 1024 * 1024).await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    Resp {
        status: res.status(),
        headers: res.headers().clone(),
        body,
    }
}

/// The body Okta sends to create a user (scim-field-notes.md §1.2).
pub fn okta_user(user_name: &str) -> Value {
    serde_json::json!({
        "schemas": [USER_URN],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": format!("00u{}", user_name.len()),
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

/// Percent-encodes a filter for a query string.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
