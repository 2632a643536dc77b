//! Settings: the effective configuration (from `config.toml` and the environment), read-only,
//! with secrets masked; and the administrators.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::config::{Config, ENV_VARS};
use crate::web::AppState;
use crate::web::admin::session::AdminSession;
use crate::web::admin::{Chrome, Nav, PageError, render, show_time};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings", web::get().to(show));
}

/// One configuration key as shown.
pub struct Setting {
    pub key: &'static str,
    pub value: String,
    pub env: &'static str,
}

/// Keys whose values are secrets: shown masked. (None exist yet; SMTP credentials will.)
const SECRET_KEYS: &[&str] = &["smtp.password"];

/// Every configuration key with its effective value, in the order of `ENV_VARS`.
pub fn effective(c: &Config, public_url: &str) -> Vec<Setting> {
    ENV_VARS
        .iter()
        .map(|(env, key)| {
            let value = match *key {
                "server.listen" => c.server.listen.to_string(),
                "server.public_url" if c.server.public_url.is_empty() => {
                    format!("(not set: {public_url})")
                }
                "server.public_url" => c.server.public_url.clone(),
                "server.workers" => match c.server.workers {
                    0 => "0 (one per CPU core)".to_owned(),
                    n => n.to_string(),
                },
                "server.shutdown_timeout_secs" => c.server.shutdown_timeout_secs.to_string(),
                "database.path" => c.database.path.display().to_string(),
                "database.synchronous" => format!("{:?}", c.database.synchronous).to_lowercase(),
                "database.read_connections" => c.database.read_connections.to_string(),
                "scim.max_results" => c.scim.max_results.to_string(),
                "scim.max_body_bytes" => c.scim.max_body_bytes.to_string(),
                "admin.session_idle_minutes" => c.admin.session_idle_minutes.to_string(),
                "admin.session_max_hours" => c.admin.session_max_hours.to_string(),
                "admin.setup_link_minutes" => c.admin.setup_link_minutes.to_string(),
                "activity.retention_days" => c.activity.retention_days.to_string(),
                "activity.max_entries" => c.activity.max_entries.to_string(),
                "log.level" => c.log.level.clone(),
                _ => "(see config.toml)".to_owned(),
            };
            let value = if SECRET_KEYS.contains(key) && !value.is_empty() {
                "••••••••".to_owned()
            } else {
                value
            };
            Setting { key, value, env }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    c: Chrome,
    settings: Vec<Setting>,
    admins: Vec<(String, String, String)>,
    version: &'static str,
}

async fn show(state: web::Data<AppState>, me: AdminSession) -> Result<HttpResponse, PageError> {
    let admins = state
        .directory
        .list_admins()
        .await?
        .into_iter()
        .map(|a| {
            (
                a.username,
                show_time(&a.created),
                a.last_sign_in
                    .as_deref()
                    .map_or_else(|| "never".to_owned(), show_time),
            )
        })
        .collect();
    render(
        StatusCode::OK,
        &SettingsPage {
            c: me.chrome(Nav::Settings),
            settings: effective(&state.config, &state.public_url),
            admins,
            version: env!("CARGO_PKG_VERSION"),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_a_value() {
        for s in effective(&Config::default(), "http://localhost:8080") {
            assert_ne!(s.value, "(see config.toml)", "{} is not shown", s.key);
        }
    }
}
