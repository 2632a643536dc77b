//! User Provisioning: the integrations list, Add Provisioning (+), an integration's page with
//! its API token (shown once), Base URL and settings (Save and Deploy), the token's lifetime,
//! Regenerate token (with an overlap for the old token) and Delete. Tokens that expire within
//! 14 days are announced on the list and on the integration's page (issue 13 item 6).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::directory::Error;
use crate::directory::integration::{Integration, MAX_NAME_CHARS, PatchAnswer, Settings};
use crate::directory::rotation::{
    self, DEFAULT_OVERLAP, LIFETIME_CHOICES_DAYS, OVERLAP_CHOICES_HOURS, Target, TokenLifetime,
};
use crate::store::activity::ActivityFilter;
use crate::web::AppState;
use crate::web::admin::session::AdminSession;
use crate::web::admin::{
    ActivityView, Chrome, ConfirmPage, CsrfOnly, Nav, PageError, enc, redirect, render, show_time,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/provisioning", web::get().to(list))
        .route("/provisioning/new", web::get().to(new_form))
        .route("/provisioning/new", web::post().to(create))
        .route("/provisioning/{id}", web::get().to(show))
        .route("/provisioning/{id}/settings", web::post().to(save))
        .route(
            "/provisioning/{id}/regenerate",
            web::get().to(regenerate_confirm),
        )
        .route("/provisioning/{id}/regenerate", web::post().to(regenerate))
        .route("/provisioning/{id}/lifetime", web::post().to(set_lifetime))
        .route("/provisioning/{id}/delete", web::get().to(delete_confirm))
        .route("/provisioning/{id}/delete", web::post().to(delete));
}

struct Row {
    i: Integration,
    token_last_used: String,
    /// When the token expires ("never"), and whether that is within the warning period.
    token_expires: String,
    expiry_close: bool,
    /// The time of its latest SCIM request, empty if none.
    last_at: String,
    last_status: i64,
}

#[derive(Template)]
#[template(path = "admin/provisioning_list.html")]
struct ListPage {
    c: Chrome,
    rows: Vec<Row>,
    notice: Option<String>,
    /// Tokens expiring within 14 days, or expired: (integration id, text).
    warnings: Vec<(String, String)>,
}

/// The banner text for a token that expires soon or has expired.
fn expiry_banner(i: &Integration, w: &rotation::ExpiryWarning) -> String {
    if w.expired {
        format!(
            "The API token of \"{}\" expired on {}: its SCIM requests get 401. Regenerate the token and paste the new one into the identity provider.",
            i.name,
            show_time(&w.at)
        )
    } else {
        let left = match w.days_left {
            0 => "in less than a day".to_owned(),
            1 => "in 1 day".to_owned(),
            n => format!("in {n} days"),
        };
        format!(
            "The API token of \"{}\" expires on {} ({left}). Regenerate it (the old token can keep working for a while) and paste the new one into the identity provider before then.",
            i.name,
            show_time(&w.at)
        )
    }
}

/// "never" or the shown time.
fn show_expiry(i: &Integration) -> String {
    i.token_expires
        .as_deref()
        .map_or_else(|| "never".to_owned(), show_time)
}

#[derive(Deserialize)]
struct ListQuery {
    deleted: Option<String>,
    released: Option<i64>,
}

async fn list(
    state: web::Data<AppState>,
    me: AdminSession,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let all = state.directory.list_integrations().await?;
    let latest = state.directory.latest_requests().await?;
    let now = state.directory.clock().now();
    let mut warnings = Vec::new();
    let rows = all
        .into_iter()
        .map(|i| {
            let warning = rotation::expiry_warning(&i, now);
            if let Some(w) = &warning {
                warnings.push((i.id.as_str().to_owned(), expiry_banner(&i, w)));
            }
            let (last_at, last_status) = latest
                .iter()
                .find(|(id, _, _)| id == i.id.as_str())
                .map_or((String::new(), 0), |(_, at, st)| (show_time(at), *st));
            Row {
                token_last_used: super::show_last_used(
                    i.token_last_used.as_deref(),
                    time::OffsetDateTime::now_utc(),
                ),
                token_expires: show_expiry(&i),
                expiry_close: warning.is_some(),
                i,
                last_at,
                last_status,
            }
        })
        .collect();
    let notice = q
        .deleted
        .as_ref()
        .map(|name| match q.released.unwrap_or(0) {
            0 => format!("Provisioning \"{name}\" was deleted; it owned no users."),
            1 => format!(
                "Provisioning \"{name}\" was deleted. Its one user is now manually provisioned."
            ),
            n => format!(
                "Provisioning \"{name}\" was deleted. Its {n} users are now manually provisioned."
            ),
        });
    render(
        StatusCode::OK,
        &ListPage {
            c: me.chrome(Nav::Provisioning),
            rows,
            notice,
            warnings,
        },
    )
}

#[derive(Template)]
#[template(path = "admin/provisioning_new.html")]
struct NewPage {
    c: Chrome,
    name: String,
    error: Option<String>,
    max_name: usize,
    lifetime: LifetimeField,
}

/// The token lifetime select: the choices (code, label), the one selected, its error.
struct LifetimeField {
    choices: Vec<(String, String)>,
    selected: String,
    error: Option<String>,
}

impl LifetimeField {
    fn new(selected: String, error: Option<String>) -> LifetimeField {
        let mut choices = vec![("never".to_owned(), "Never expires".to_owned())];
        for d in LIFETIME_CHOICES_DAYS {
            choices.push((format!("{d}d"), format!("{d} days")));
        }
        LifetimeField {
            choices,
            selected,
            error,
        }
    }
}

async fn new_form(me: AdminSession) -> Result<HttpResponse, PageError> {
    render(
        StatusCode::OK,
        &NewPage {
            c: me.chrome(Nav::Provisioning),
            name: String::new(),
            error: None,
            max_name: MAX_NAME_CHARS,
            lifetime: LifetimeField::new(TokenLifetime::NEVER.code(), None),
        },
    )
}

#[derive(Deserialize)]
struct NewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    /// Absent: never (the default of the form).
    token_lifetime: Option<String>,
}

async fn create(
    state: web::Data<AppState>,
    me: AdminSession,
    form: web::Form<NewForm>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    let lifetime_code = form
        .token_lifetime
        .clone()
        .unwrap_or_else(|| TokenLifetime::NEVER.code());
    let lifetime = TokenLifetime::parse(&lifetime_code);
    let error = if form.kind != "scim2" {
        Some("Choose a provisioning type.".to_owned())
    } else if lifetime.is_err() {
        None
    } else {
        let lifetime = lifetime.clone().unwrap_or_default();
        match state
            .directory
            .create_integration_with(&form.name, lifetime)
            .await
        {
            Ok(created) => {
                tracing::info!(integration = %created.integration.id, name = %created.integration.name, by = %me.session.username, "provisioning created");
                // POST → redirect → GET: a reload of the page that shows the token must not
                // post the form again (it would say the name is taken).
                let id = created.integration.id.as_str().to_owned();
                state.token_reveal.put(&me.cookie, &id, created.token);
                return Ok(redirect(&format!("/admin/provisioning/{id}?created=1")));
            }
            Err(Error::Invalid(m)) => Some(sentence(&m)),
            Err(e) => return Err(e.into()),
        }
    };
    render(
        StatusCode::UNPROCESSABLE_ENTITY,
        &NewPage {
            c: me.chrome(Nav::Provisioning),
            name: form.name.clone(),
            error,
            max_name: MAX_NAME_CHARS,
            lifetime: LifetimeField::new(lifetime_code, lifetime.err().map(|m| sentence(&m))),
        },
    )
}

/// "the name must …" → "The name must ….".
pub(super) fn sentence(m: &str) -> String {
    let mut c = m.chars();
    let first = c
        .next()
        .map(|f| f.to_uppercase().collect::<String>())
        .unwrap_or_default();
    format!("{first}{}.", c.as_str())
}

#[derive(Template)]
#[template(path = "admin/provisioning_show.html")]
struct ShowPage {
    c: Chrome,
    i: Integration,
    base_url: String,
    token: Option<String>,
    notice: Option<String>,
    recent: Vec<ActivityView>,
    created: String,
    token_created: String,
    token_last_used: String,
    /// When the current token expires ("never").
    token_expires: String,
    /// When the replaced token stops working, while it still works.
    previous_until: Option<String>,
    /// The 14-day (or expired) banner.
    warning: Option<String>,
    lifetime: LifetimeField,
    /// No `[smtp] host`: enrollment emails are queued, not sent (said beside the setting).
    smtp_off: bool,
    /// The *PATCH answer* choices: (code, label), in the order offered.
    patch_answers: Vec<(&'static str, &'static str)>,
    /// A refused *PATCH answer* value, said beside the field.
    patch_answer_error: Option<String>,
}

async fn show_page(
    state: &AppState,
    me: &AdminSession,
    i: Integration,
    token: Option<String>,
    notice: Option<String>,
) -> Result<HttpResponse, PageError> {
    let lifetime = LifetimeField::new(i.token_lifetime.code(), None);
    let fields = Fields {
        lifetime,
        patch_answer_error: None,
    };
    show_page_full(state, me, i, token, notice, fields, StatusCode::OK).await
}

/// The page again with the lifetime field's error.
async fn show_page_with(
    state: &AppState,
    me: &AdminSession,
    i: Integration,
    lifetime: LifetimeField,
) -> Result<HttpResponse, PageError> {
    show_page_full(
        state,
        me,
        i,
        None,
        None,
        Fields {
            lifetime,
            patch_answer_error: None,
        },
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// The page's fields that can come back with an error: the token lifetime and the PATCH answer.
struct Fields {
    lifetime: LifetimeField,
    patch_answer_error: Option<String>,
}

async fn show_page_full(
    state: &AppState,
    me: &AdminSession,
    i: Integration,
    token: Option<String>,
    notice: Option<String>,
    fields: Fields,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let Fields {
        lifetime,
        patch_answer_error,
    } = fields;
    let recent = state
        .directory
        .activity(
            ActivityFilter {
                integration_id: Some(i.id.as_str().to_owned()),
                ..Default::default()
            },
            0,
            10,
        )
        .await?
        .rows
        .into_iter()
        .map(ActivityView::from)
        .collect();
    let now = state.directory.clock().now();
    render(
        status,
        &ShowPage {
            c: me.chrome(Nav::Provisioning),
            base_url: state.base_url(i.id.as_str()),
            created: show_time(&i.created),
            token_created: show_time(&i.token_created),
            token_last_used: super::show_last_used(
                i.token_last_used.as_deref(),
                time::OffsetDateTime::now_utc(),
            ),
            token_expires: show_expiry(&i),
            previous_until: rotation::previous_token_active(&i, now).map(show_time),
            warning: rotation::expiry_warning(&i, now).map(|w| expiry_banner(&i, &w)),
            lifetime,
            smtp_off: state.config.smtp.host.is_empty(),
            patch_answers: PatchAnswer::ALL
                .iter()
                .map(|a| (a.code(), a.label()))
                .collect(),
            patch_answer_error,
            i,
            token,
            notice,
            recent,
        },
    )
}

#[derive(Deserialize)]
struct ShowQuery {
    created: Option<String>,
    saved: Option<String>,
    regenerated: Option<String>,
    lifetime: Option<String>,
}

async fn show(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
    q: web::Query<ShowQuery>,
) -> Result<HttpResponse, PageError> {
    let i = state.directory.integration(&id).await?;
    // A token made by this session's last POST, shown this once.
    let token = state
        .token_reveal
        .take(&me.cookie, Some(i.id.as_str()))
        .map(|(_, t)| t.expose().to_owned());
    let notice = if q.created.is_some() {
        Some(match &token {
            Some(_) => "Saved and deployed: copy the API token below.".to_owned(),
            None => {
                "The API token was shown once and is not shown again. Lost it? Regenerate it below."
                    .to_owned()
            }
        })
    } else if q.regenerated.is_some() {
        Some(match (&token, &i.previous_token_until) {
            // The Connection card says until when the previous token works.
            (Some(_), Some(_)) => {
                "A new API token was generated: copy it below.".to_owned()
            }
            (Some(_), None) => {
                "A new API token was generated; the previous one no longer works.".to_owned()
            }
            (None, _) => {
                "The new API token was shown once and is not shown again. Lost it? Regenerate it below.".to_owned()
            }
        })
    } else if q.lifetime.is_some() {
        Some(format!(
            "Token lifetime set to {}, counted from when the current token was issued ({}).",
            i.token_lifetime.label(),
            show_time(&i.token_created)
        ))
    } else {
        q.saved
            .as_ref()
            .map(|_| "Saved and deployed: the settings apply to the next SCIM request.".to_owned())
    };
    show_page(&state, &me, i, token, notice).await
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    csrf: String,
    send_enrollment_emails: Option<String>,
    include_manual: Option<String>,
    read_all_users: Option<String>,
    /// Absent (a form from before the setting existed): the current value stays.
    group_patch_answer: Option<String>,
}

async fn save(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
    form: web::Form<SettingsForm>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    let group_patch_answer = match form.group_patch_answer.as_deref() {
        None => {
            state
                .directory
                .integration(&id)
                .await?
                .settings
                .group_patch_answer
        }
        Some(code) => match PatchAnswer::parse(code) {
            Some(a) => a,
            None => {
                let i = state.directory.integration(&id).await?;
                let lifetime = LifetimeField::new(i.token_lifetime.code(), None);
                let error = format!(
                    "'{code}' is not a PATCH answer: choose {} or {}.",
                    PatchAnswer::NoContent.label(),
                    PatchAnswer::Resource.label()
                );
                return show_page_full(
                    &state,
                    &me,
                    i,
                    None,
                    None,
                    Fields {
                        lifetime,
                        patch_answer_error: Some(error),
                    },
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
        },
    };
    let s = Settings {
        send_enrollment_emails: form.send_enrollment_emails.is_some(),
        include_manual: form.include_manual.is_some(),
        read_all_users: form.read_all_users.is_some(),
        group_patch_answer,
    };
    state.directory.save_integration_settings(&id, s).await?;
    Ok(redirect(&format!(
        "/admin/provisioning/{}?saved=1",
        enc(&id)
    )))
}

#[derive(Template)]
#[template(path = "admin/provisioning_regenerate.html")]
struct RegeneratePage {
    c: Chrome,
    i: Integration,
    /// (value, label), in the order offered.
    choices: Vec<(String, String)>,
    selected: String,
    error: Option<String>,
    /// When a token replaced earlier still works: it stops now, whatever is chosen.
    previous_until: Option<String>,
}

fn overlap_code(hours: u64) -> String {
    if hours == 0 {
        "0".to_owned()
    } else {
        format!("{hours}h")
    }
}

fn regenerate_page(
    state: &AppState,
    me: &AdminSession,
    i: Integration,
    selected: String,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let choices = OVERLAP_CHOICES_HOURS
        .iter()
        .map(|&h| {
            let label = match h {
                0 => "None: the old token stops working at once".to_owned(),
                1 => "1 hour".to_owned(),
                h => format!("{h} hours"),
            };
            (overlap_code(h), label)
        })
        .collect();
    let now = state.directory.clock().now();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &RegeneratePage {
            c: me.chrome(Nav::Provisioning),
            previous_until: rotation::previous_token_active(&i, now).map(show_time),
            i,
            choices,
            selected,
            error,
        },
    )
}

async fn regenerate_confirm(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let i = state.directory.integration(&id).await?;
    let default = overlap_code(DEFAULT_OVERLAP.as_secs() / 3600);
    regenerate_page(&state, &me, i, default, None)
}

#[derive(Deserialize)]
struct RegenerateForm {
    #[serde(default)]
    csrf: String,
    /// `0`, `1h`, `24h`, `72h`; absent: the default (24 hours).
    keep_old_for: Option<String>,
}

/// Makes the token, leaves it for the next GET of the page and redirects there, so that a
/// reload neither shows it again nor makes another.
async fn regenerate(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
    form: web::Form<RegenerateForm>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    let keep = match form.keep_old_for.as_deref() {
        None => Ok(DEFAULT_OVERLAP),
        Some(v) => rotation::parse_overlap(v),
    };
    let keep = match keep {
        Ok(k) => k,
        Err(m) => {
            let i = state.directory.integration(&id).await?;
            let selected = form.keep_old_for.clone().unwrap_or_default();
            return regenerate_page(&state, &me, i, selected, Some(sentence(&m)));
        }
    };
    let r = state
        .directory
        .regenerate_token(Target::Id(&id), keep)
        .await?;
    tracing::info!(integration = %r.integration.id, by = %me.session.username, "API token regenerated");
    state
        .token_reveal
        .put(&me.cookie, r.integration.id.as_str(), r.token);
    Ok(redirect(&format!(
        "/admin/provisioning/{}?regenerated=1",
        r.integration.id
    )))
}

#[derive(Deserialize)]
struct LifetimeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token_lifetime: String,
}

async fn set_lifetime(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
    form: web::Form<LifetimeForm>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    let lifetime = match TokenLifetime::parse(&form.token_lifetime) {
        Ok(l) => l,
        Err(m) => {
            let i = state.directory.integration(&id).await?;
            let mut page_lifetime = LifetimeField::new(form.token_lifetime.clone(), None);
            page_lifetime.error = Some(sentence(&m));
            return show_page_with(&state, &me, i, page_lifetime).await;
        }
    };
    let i = state
        .directory
        .set_token_lifetime(Target::Id(&id), lifetime)
        .await?;
    tracing::info!(integration = %i.id, by = %me.session.username, lifetime = %lifetime.code(), "token lifetime set");
    Ok(redirect(&format!(
        "/admin/provisioning/{}?lifetime=1",
        i.id
    )))
}

async fn delete_confirm(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let i = state.directory.integration(&id).await?;
    render(
        StatusCode::OK,
        &ConfirmPage {
            c: me.chrome(Nav::Provisioning),
            crumb: ("/admin/provisioning", "User Provisioning"),
            title: format!("Delete provisioning \"{}\"?", i.name),
            lines: vec![
                "Its Base URL and API token stop working immediately.".into(),
                match i.users_owned {
                    0 => "Nothing is deleted from the directory; this provisioning owns no users.".to_owned(),
                    1 => "Nothing is deleted from the directory: its one user stays, as a manually provisioned user.".to_owned(),
                    n => format!("Nothing is deleted from the directory: its {n} users stay, as manually provisioned users."),
                },
            ],
            action: format!("/admin/provisioning/{}/delete", i.id),
            button: "Delete provisioning".into(),
            cancel: format!("/admin/provisioning/{}", i.id),
        },
    )
}

async fn delete(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    let i = state.directory.integration(&id).await?;
    let released = state.directory.delete_integration(&id).await?;
    tracing::info!(integration = %i.id, by = %me.session.username, "provisioning deleted");
    Ok(redirect(&format!(
        "/admin/provisioning?deleted={}&released={released}",
        enc(&i.name)
    )))
}
