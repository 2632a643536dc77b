//! Browser-test harness: the appliance in-process on port 0 with a temporary database, Debian's
//! chromedriver on a free port, and headless chromium with a fresh profile.
//!
//! When chromedriver is missing the tests fail if `CI=true` and are skipped (with a message)
//! otherwise. Install: `apt-get install chromium chromium-driver`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use fantoccini::{Client, ClientBuilder, Locator};
use scimgate::app::{App, RunOptions};
use scimgate::config::Config;
use serde_json::json;

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The running appliance.
pub struct Appliance {
    _dir: tempfile::TempDir,
    /// What the browser uses: `http://127.0.0.1:PORT`.
    pub public_url: String,
    /// `server.public_url` as the appliance derives it (`http://localhost:PORT`): Base URLs use it.
    pub configured_url: String,
    pub setup_link: String,
    pub directory: std::sync::Arc<scimgate::directory::Directory>,
    handle: ServerHandle,
}

impl Appliance {
    pub async fn start() -> Appliance {
        Self::start_with(|_| {}).await
    }

    /// Started with a configuration adjusted by `configure` (e.g. `[smtp]`).
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Appliance {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        config.server.workers = 2;
        config.database.path = dir.path().join("scimgate.db");
        config.log.level = "warn".into();
        // Browser tests of other pages sign in with a password alone; the second-factor test
        // turns the installation default (true) back on in `configure`.
        config.admin.require_second_factor = false;
        configure(&mut config);
        let app = App::build(
            &config,
            RunOptions {
                handle_signals: false,
            },
        )
        .unwrap();
        // The browser reaches the server by the address it is bound to.
        let public_url = format!("http://127.0.0.1:{}", app.addr.port());
        let link = app.first_admin_link().await.unwrap().expect("a setup link");
        let setup_link = link.replace(&app.public_url, &public_url);
        let (configured_url, handle) = (app.public_url.clone(), app.handle());
        let directory = app.directory.clone();
        actix_web::rt::spawn(app.run());
        Appliance {
            _dir: dir,
            public_url,
            configured_url,
            setup_link,
            directory,
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }
}

impl Drop for Appliance {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// chromedriver, started on a free port and stopped (by its own pid) on drop.
pub struct Driver {
    child: Child,
    pub port: u16,
    profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn status_ready(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body.contains("\"ready\":true") || body.contains("\"ready\": true")
}

impl Driver {
    /// Starts chromedriver; `None` (test skipped) when it is not installed outside CI.
    pub fn start() -> Option<Driver> {
        if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true");
            assert!(
                !ci,
                "CI=true but {CHROMEDRIVER} or {CHROMIUM} is missing: apt-get install chromium chromium-driver"
            );
            eprintln!(
                "SKIPPED: {CHROMEDRIVER} or {CHROMIUM} missing (apt-get install chromium chromium-driver)"
            );
            return None;
        }
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver = Driver {
            child,
            port,
            profile: tempfile::tempdir().unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !status_ready(port) {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(driver)
    }

    /// A new headless chromium session; `javascript: false` turns scripts off.
    pub async fn browser(&self, javascript: bool) -> Client {
        let profile: PathBuf = self
            .profile
            .path()
            .join(if javascript { "js" } else { "nojs" });
        let mut opts = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        });
        if !javascript {
            opts["prefs"] = json!({"profile.managed_default_content_settings.javascript": 2});
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), opts);
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a chromium session")
    }
}

/// Where screenshots go: `docs/screenshots/` with `UPDATE_SCREENSHOTS=1` (then commit them),
/// otherwise `target/screenshots/` so that a test run leaves the repository clean.
pub fn screenshot_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = if std::env::var("UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        root.join("docs/screenshots")
    } else {
        root.join("target/screenshots")
    };
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

/// Fills a field (clearing it first).
pub async fn fill(c: &Client, id: &str, value: &str) {
    let e = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"));
    e.clear().await.unwrap();
    e.send_keys(value).await.unwrap();
}

pub async fn click(c: &Client, id: &str) {
    click_at(c, Locator::Id(id)).await;
}

/// Clicks the element `at` finds, waiting (up to 10 s) for it to appear.
pub async fn click_at(c: &Client, at: Locator<'_>) {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(at)
        .await
        .unwrap_or_else(|e| panic!("{at:?}: {e}"))
        .click()
        .await
        .unwrap();
}

/// The text of the first element matching `css`, waiting (up to 10 s) for it to appear: a
/// click returns before the page it loads is there.
pub async fn text(c: &Client, css: &str) -> String {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

/// The value of input `id`, waiting (up to 10 s) for it to appear.
pub async fn value(c: &Client, id: &str) -> String {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

pub async fn path(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_owned()
}

/// Waits (up to 10 s) until the page's path is `want`: a click returns before the navigation
/// it starts has finished.
pub async fn expect_path(c: &Client, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let p = path(c).await;
        if p == want {
            return;
        }
        assert!(Instant::now() < deadline, "still on {p}, expected {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (up to 10 s) for an element matching `css` whose text contains `needle`; returns the
/// text. Use after a click that navigates, instead of reading the old page.
pub async fn wait_text(c: &Client, css: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
            && t.contains(needle)
        {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "no {css} containing {needle:?} on {}",
            path(c).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (up to 10 s) until the URL's query contains `needle`.
pub async fn expect_query(c: &Client, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !c
        .current_url()
        .await
        .unwrap()
        .query()
        .is_some_and(|q| q.contains(needle))
    {
        assert!(Instant::now() < deadline, "the URL never had {needle}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
