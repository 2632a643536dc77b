//! HTTP, with actix-web only: extractors, the SCIM handlers and the operational endpoints.
//! Thin: parse the request, call `directory`, render. No SQL, no database crate and no protocol
//! rules here; errors of every layer become HTTP responses in `scim::respond` alone for the
//! SCIM API, and in `enroll` (pages) and `verify` (JSON) for their own endpoints.

pub mod access_log;
pub mod admin;
pub mod assets;
pub mod compress;
pub mod enroll;
pub mod https;
pub mod limits;
pub mod metrics;
pub mod observe;
pub mod ops;
pub mod request_id;
pub mod scim;
pub mod verify;

use std::sync::Arc;

use actix_web::web;

use crate::config::Config;
use crate::directory::Directory;
use crate::directory::activity::ActivityLog;
use crate::directory::admins::SessionPolicy;
use crate::scim::discovery::Capabilities;
use crate::tls::Tls;

/// What every handler can reach.
pub struct AppState {
    pub directory: Arc<Directory>,
    /// The public URL, without a trailing slash.
    pub public_url: String,
    pub caps: Capabilities,
    /// The served certificate when the appliance does TLS itself: `status()` for the
    /// Settings page, `reload()` for its Reload button (blocking: call it in `web::block`).
    pub tls: Option<Arc<Tls>>,
    /// Browsers reach us over HTTPS (TLS here, or an https public URL): see [`Self::is_https`].
    pub https: bool,
    /// Where SCIM requests are recorded for the Activity page.
    pub activity: Arc<ActivityLog>,
    /// Admin session lifetimes.
    pub sessions: SessionPolicy,
    /// The effective configuration, for the Settings page.
    pub config: Config,
    /// New verifier keys waiting to be shown once on the Settings page (scope: the key's name).
    pub key_reveals: admin::reveal::Reveal<crate::auth::ApiToken>,
    /// New API tokens waiting to be shown once (scope: the integration's id).
    pub token_reveal: admin::reveal::Reveal<crate::auth::ApiToken>,
    /// Freshly issued recovery codes of an administrator, waiting to be shown once.
    pub recovery_reveal: admin::reveal::Reveal<Vec<crate::auth::recovery::RecoveryCode>>,
    /// The outcome of a Settings action (TLS reload, test email), shown once on the page the
    /// POST redirects to: (succeeded, message, the address typed).
    pub settings_outcome: admin::reveal::Reveal<(bool, String, String)>,
    /// Rate limits and the client address (`web::limits`).
    pub limits: Arc<limits::Limits>,
    /// Large groups' answers, kept while their version holds (`scim::group_cache`).
    pub group_answers: scim::group_cache::GroupAnswers,
    /// True while the email drainer task runs; `None` when `[smtp]` is not configured (no
    /// drainer). Read by `/readyz`.
    pub outbox_alive: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// The outcome of the last scheduled backup (`[backup]`), for the Settings page.
    pub last_backup: Arc<std::sync::Mutex<Option<crate::store::backup::LastBackup>>>,
    /// The Prometheus metrics (`web::metrics`), counted whether or not `metrics.listen` is set.
    pub metrics: Arc<metrics::Metrics>,
}

impl AppState {
    /// Whether clients reach the appliance over HTTPS, so cookies must be `Secure`.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The Base URL of an integration: `{public_url}/scim/v2/{integration_id}`.
    pub fn base_url(&self, integration_id: &str) -> String {
        format!("{}/scim/v2/{integration_id}", self.public_url)
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    ops::configure(cfg);
    scim::configure(cfg);
    enroll::configure(cfg);
    verify::configure(cfg);
    assets::configure(cfg);
    admin::configure(cfg);
    // Anything else: the admin pages' friendly 404 (with a request id).
    cfg.default_service(web::to(admin::not_found));
}
