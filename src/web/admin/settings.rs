//! Settings: the effective configuration (from `config.toml` and the environment), read-only,
//! with secrets masked; the administrators; and the verifier keys (their card and routes are in
//! `verifier_keys`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::config::{Config, ENV_VARS};
use crate::web::AppState;
use crate::web::admin::session::AdminSession;
use crate::web::admin::verifier_keys::{CardInput, CardQuery, VerifierCard, card};
use crate::web::admin::{Chrome, CsrfOnly, Nav, PageError, redirect, render, show_time};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings", web::get().to(show))
        .route("/settings/tls/reload", web::post().to(reload_tls))
        .route("/settings/test-email", web::post().to(test_email));
}

/// The served certificate, as the Settings page shows it.
pub struct TlsView {
    pub subject: String,
    pub issuer: String,
    pub names: String,
    pub not_after: String,
    pub days_left: i64,
    pub fingerprint: String,
    pub self_signed: bool,
    pub certificate: String,
    pub loaded_at: String,
    /// Expiry within 30 days, or already expired (the same text the log shows).
    pub warning: Option<String>,
}

fn tls_view(state: &AppState) -> Option<TlsView> {
    let tls = state.tls.as_ref()?;
    let st = tls.status();
    let now = time::OffsetDateTime::now_utc();
    let fmt = |t: time::OffsetDateTime| show_time(&crate::directory::format_time(t));
    Some(TlsView {
        subject: st.subject.clone(),
        issuer: st.issuer.clone(),
        names: st.names.join(", "),
        not_after: fmt(st.not_after),
        days_left: st.days_left(now),
        fingerprint: st.sha256_fingerprint.clone(),
        self_signed: st.self_signed,
        certificate: st.certificate.display().to_string(),
        loaded_at: fmt(st.loaded_at),
        warning: st.expiry_warning(now),
    })
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
                "server.trusted_proxies" if c.server.trusted_proxies.is_empty() => {
                    "(none: the TCP peer is the client; X-Forwarded-For is ignored)".to_owned()
                }
                "server.trusted_proxies" => c
                    .server
                    .trusted_proxies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                "database.path" => c.database.path.display().to_string(),
                "database.synchronous" => format!("{:?}", c.database.synchronous).to_lowercase(),
                "database.read_connections" => c.database.read_connections.to_string(),
                "scim.max_results" => c.scim.max_results.to_string(),
                "scim.max_body_bytes" => c.scim.max_body_bytes.to_string(),
                "scim.max_name_chars" => c.scim.max_name_chars.to_string(),
                "scim.max_string_chars" => c.scim.max_string_chars.to_string(),
                "scim.max_multi_values" => c.scim.max_multi_values.to_string(),
                "scim.max_aliases" => c.scim.max_aliases.to_string(),
                "admin.session_idle_minutes" => c.admin.session_idle_minutes.to_string(),
                "admin.session_max_hours" => c.admin.session_max_hours.to_string(),
                "admin.setup_link_minutes" => c.admin.setup_link_minutes.to_string(),
                "admin.require_second_factor" => c.admin.require_second_factor.to_string(),
                "activity.retention_days" => c.activity.retention_days.to_string(),
                "activity.max_entries" => c.activity.max_entries.to_string(),
                "activity.max_body_bytes" => c.activity.max_body_bytes.to_string(),
                "log.level" => c.log.level.clone(),
                "log.format" => format!("{:?}", c.log.format).to_lowercase(),
                "smtp.host" if c.smtp.host.is_empty() => "(not set: no emails are sent)".to_owned(),
                "smtp.host" => c.smtp.host.clone(),
                "smtp.port" => c.smtp.port.to_string(),
                "smtp.tls" => format!("{:?}", c.smtp.tls).to_lowercase(),
                "smtp.username" if c.smtp.username.is_empty() => {
                    "(none: no authentication)".to_owned()
                }
                "smtp.username" => c.smtp.username.clone(),
                "smtp.password" if c.smtp.password.is_empty() => "(not set)".to_owned(),
                "smtp.password" => c.smtp.password.clone(),
                "smtp.password_file" if c.smtp.password_file.as_os_str().is_empty() => {
                    "(not set)".to_owned()
                }
                "smtp.password_file" => c.smtp.password_file.display().to_string(),
                "smtp.from" => c.smtp.from.clone(),
                "smtp.timeout_secs" => c.smtp.timeout_secs.to_string(),
                "enrollment.link_lifetime_hours" => c.enrollment.link_lifetime_hours.to_string(),
                "enrollment.max_send_attempts" => c.enrollment.max_send_attempts.to_string(),
                "enrollment.retry_base_secs" => c.enrollment.retry_base_secs.to_string(),
                "secrets.key_file" if c.secrets.key_file.as_os_str().is_empty() => format!(
                    "(not set: {}, beside the database)",
                    c.secrets_key_file().display()
                ),
                "secrets.key_file" => c.secrets.key_file.display().to_string(),
                "backup.dir" if c.backup.dir.as_os_str().is_empty() => {
                    "(not set: no scheduled backups)".to_owned()
                }
                "backup.dir" => c.backup.dir.display().to_string(),
                "backup.interval_hours" => c.backup.interval_hours.to_string(),
                "backup.keep" => c.backup.keep.to_string(),
                "tls.certificate" if c.tls.certificate.as_os_str().is_empty() => {
                    "(not set: plain HTTP)".to_owned()
                }
                "tls.certificate" => c.tls.certificate.display().to_string(),
                "tls.private_key" if c.tls.private_key.as_os_str().is_empty() => {
                    "(not set)".to_owned()
                }
                "tls.private_key" => c.tls.private_key.display().to_string(),
                "tls.redirect_listen" => c
                    .tls
                    .redirect_listen
                    .map_or_else(|| "(none)".to_owned(), |a| a.to_string()),
                "metrics.listen" => c.metrics.listen.map_or_else(
                    || "(none: no /metrics)".to_owned(),
                    |a| format!("http://{a}/metrics"),
                ),
                "limits.scim_per_second" => {
                    format!("{} per provisioning", c.limits.scim_per_second)
                }
                "limits.scim_burst" => c.limits.scim_burst.to_string(),
                "limits.auth_failures_per_minute" => format!(
                    "{} per client address and surface",
                    c.limits.auth_failures_per_minute
                ),
                "limits.auth_failures_burst" => c.limits.auth_failures_burst.to_string(),
                "limits.verify_per_key_per_second" => {
                    c.limits.verify_per_key_per_second.to_string()
                }
                "limits.verify_per_key_burst" => c.limits.verify_per_key_burst.to_string(),
                "limits.verify_per_user_per_second" => {
                    c.limits.verify_per_user_per_second.to_string()
                }
                "limits.verify_per_user_burst" => c.limits.verify_per_user_burst.to_string(),
                _ => "(see config.toml)".to_owned(),
            };
            let value = if SECRET_KEYS.contains(key) && !value.is_empty() && value != "(not set)" {
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
    admins: Vec<(String, String, String, &'static str)>,
    version: &'static str,
    tls: Option<TlsView>,
    /// The outcome of a certificate reload or a test email just asked for: (ok, message).
    reloaded: Option<(bool, String)>,
    /// Whether `[smtp]` is configured (the test-email form is shown).
    smtp: bool,
    /// The address last typed into the test-email form.
    test_to: String,
    /// The verifier keys card.
    vk: VerifierCard,
    /// `backup.dir`, when scheduled backups are on, and the last one's outcome.
    backup_dir: Option<String>,
    c_interval: u64,
    c_keep: u32,
    last_backup: Option<crate::store::backup::LastBackup>,
}

async fn show(
    state: web::Data<AppState>,
    me: AdminSession,
    q: web::Query<CardQuery>,
) -> Result<HttpResponse, PageError> {
    let input = q.input(&state, &me);
    let (outcome, to) = match state.settings_outcome.take(&me.cookie, Some("settings")) {
        Some((_, (ok, message, to))) => (Some((ok, message)), to),
        None => (None, String::new()),
    };
    page_with(&state, &me, outcome, to, input, StatusCode::OK).await
}

/// Reload the certificate and key from disk, as SIGHUP does: new connections get the new
/// certificate; a bad file keeps the current one and the page says why.
async fn reload_tls(
    state: web::Data<AppState>,
    me: AdminSession,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    let outcome = match state.tls.clone() {
        None => (
            false,
            "This appliance does not serve TLS itself: set [tls] in config.toml.".to_owned(),
        ),
        Some(tls) => match web::block(move || tls.reload()).await {
            Ok(Ok(st)) => {
                tracing::info!(admin = %me.session.username, "TLS certificate reloaded from the Settings page");
                (
                    true,
                    format!(
                        "Reloaded: {} (expires {}).",
                        st.subject,
                        show_time(&crate::directory::format_time(st.not_after))
                    ),
                )
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "TLS reload from the Settings page failed; the previous certificate stays");
                (
                    false,
                    format!("Not reloaded; the previous certificate stays in service: {e}"),
                )
            }
            Err(e) => (false, format!("Not reloaded: {e}")),
        },
    };
    Ok(done(&state, &me, outcome, String::new()))
}

/// POST → redirect → GET: the outcome waits for this session's next view of the page, so a
/// reload neither reloads the certificate nor sends another email.
fn done(state: &AppState, me: &AdminSession, outcome: (bool, String), to: String) -> HttpResponse {
    state
        .settings_outcome
        .put(&me.cookie, "settings", (outcome.0, outcome.1, to));
    redirect("/admin/settings#result")
}

#[derive(serde::Deserialize)]
struct TestEmailForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    to: String,
}

/// Send test email: through the configured SMTP server now, reporting the server's answer
/// (or its refusal) on the page.
async fn test_email(
    state: web::Data<AppState>,
    me: AdminSession,
    form: web::Form<TestEmailForm>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    let to = form.to.trim().to_owned();
    let looks_like_address = to
        .split_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
        && !to.contains(char::is_whitespace);
    if !looks_like_address {
        // Nothing was done: the form again, with what was typed.
        return page_with(
            &state,
            &me,
            Some((false, format!("\"{to}\" is not an email address."))),
            to,
            CardInput::default(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let outcome = {
        match crate::mail::Mailer::from_config(&state.config.smtp, &state.public_url) {
            Ok(None) => (
                false,
                "No SMTP server is configured: set [smtp] host in config.toml.".to_owned(),
            ),
            Err(e) => (false, format!("The [smtp] settings are not usable: {e}")),
            Ok(Some(mailer)) => {
                match crate::directory::outbox::send_test_email(&mailer, &to, &state.public_url)
                    .await
                {
                    Ok(answer) => {
                        tracing::info!(admin = %me.session.username, %to, "test email sent from the Settings page");
                        (
                            true,
                            format!(
                                "Sent to {to} through {}. The server answered: {answer}",
                                mailer.server()
                            ),
                        )
                    }
                    Err(e) => (false, format!("Not sent through {}: {e}", mailer.server())),
                }
            }
        }
    };
    Ok(done(&state, &me, outcome, to))
}

pub(super) async fn page_with(
    state: &AppState,
    me: &AdminSession,
    reloaded: Option<(bool, String)>,
    test_to: String,
    vk: CardInput,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let vk = card(state, vk).await?;
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
                if a.second_factor {
                    "authenticator"
                } else {
                    "none"
                },
            )
        })
        .collect();
    render(
        status,
        &SettingsPage {
            c: me.chrome(Nav::Settings),
            settings: effective(&state.config, &state.public_url),
            admins,
            version: env!("CARGO_PKG_VERSION"),
            tls: tls_view(state),
            reloaded,
            smtp: !state.config.smtp.host.is_empty(),
            test_to,
            vk,
            backup_dir: (!state.config.backup.dir.as_os_str().is_empty())
                .then(|| state.config.backup.dir.display().to_string()),
            c_interval: state.config.backup.interval_hours,
            c_keep: state.config.backup.keep,
            last_backup: state
                .last_backup
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .map(|mut b| {
                    b.at = show_time(&b.at);
                    b
                }),
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
