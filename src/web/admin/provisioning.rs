//! User Provisioning: the integrations list, Add Provisioning (+), an integration's page with
//! its API token (shown once), Base URL and settings (Save and Deploy), Regenerate token and
//! Delete.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::directory::Error;
use crate::directory::integration::{Integration, MAX_NAME_CHARS, Settings};
use crate::store::activity::ActivityFilter;
use crate::web::AppState;
use crate::web::admin::session::AdminSession;
use crate::web::admin::{
    ActivityView, Chrome, ConfirmPage, Nav, PageError, enc, redirect, render, show_time,
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
        .route("/provisioning/{id}/delete", web::get().to(delete_confirm))
        .route("/provisioning/{id}/delete", web::post().to(delete));
}

struct Row {
    i: Integration,
    created: String,
    token_last_used: String,
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
    let rows = all
        .into_iter()
        .map(|i| {
            let (last_at, last_status) = latest
                .iter()
                .find(|(id, _, _)| id == i.id.as_str())
                .map_or((String::new(), 0), |(_, at, st)| (show_time(at), *st));
            Row {
                created: show_time(&i.created),
                token_last_used: i
                    .token_last_used
                    .as_deref()
                    .map_or_else(|| "never".to_owned(), show_time),
                i,
                last_at,
                last_status,
            }
        })
        .collect();
    let notice = q.deleted.as_ref().map(|name| {
        format!(
            "Provisioning \"{name}\" was deleted. Its {} user(s) are now manually provisioned.",
            q.released.unwrap_or(0)
        )
    });
    render(
        StatusCode::OK,
        &ListPage {
            c: me.chrome(Nav::Provisioning),
            rows,
            notice,
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
}

async fn new_form(me: AdminSession) -> Result<HttpResponse, PageError> {
    render(
        StatusCode::OK,
        &NewPage {
            c: me.chrome(Nav::Provisioning),
            name: String::new(),
            error: None,
            max_name: MAX_NAME_CHARS,
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
}

async fn create(
    state: web::Data<AppState>,
    me: AdminSession,
    form: web::Form<NewForm>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    let error = if form.kind != "scim2" {
        Some("Choose a provisioning type.".to_owned())
    } else {
        match state.directory.create_integration(&form.name).await {
            Ok(created) => {
                tracing::info!(integration = %created.integration.id, name = %created.integration.name, by = %me.session.username, "provisioning created");
                return show_page(
                    &state,
                    &me,
                    created.integration,
                    Some(created.token.expose().to_owned()),
                    Some("Saved and deployed.".to_owned()),
                )
                .await;
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
}

async fn show_page(
    state: &AppState,
    me: &AdminSession,
    i: Integration,
    token: Option<String>,
    notice: Option<String>,
) -> Result<HttpResponse, PageError> {
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
    render(
        StatusCode::OK,
        &ShowPage {
            c: me.chrome(Nav::Provisioning),
            base_url: state.base_url(i.id.as_str()),
            created: show_time(&i.created),
            token_created: show_time(&i.token_created),
            token_last_used: i
                .token_last_used
                .as_deref()
                .map_or_else(|| "never".to_owned(), show_time),
            i,
            token,
            notice,
            recent,
        },
    )
}

#[derive(Deserialize)]
struct ShowQuery {
    saved: Option<String>,
}

async fn show(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
    q: web::Query<ShowQuery>,
) -> Result<HttpResponse, PageError> {
    let i = state.directory.integration(&id).await?;
    let notice = q
        .saved
        .as_ref()
        .map(|_| "Saved and deployed: the settings apply to the next SCIM request.".to_owned());
    show_page(&state, &me, i, None, notice).await
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    csrf: String,
    send_enrollment_emails: Option<String>,
    include_manual: Option<String>,
    read_all_users: Option<String>,
}

async fn save(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
    form: web::Form<SettingsForm>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    let s = Settings {
        send_enrollment_emails: form.send_enrollment_emails.is_some(),
        include_manual: form.include_manual.is_some(),
        read_all_users: form.read_all_users.is_some(),
    };
    state.directory.save_integration_settings(&id, s).await?;
    Ok(redirect(&format!(
        "/admin/provisioning/{}?saved=1",
        enc(&id)
    )))
}

async fn regenerate_confirm(
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
            title: format!("Regenerate the API token of \"{}\"?", i.name),
            lines: vec![
                "The current token stops working immediately: SCIM requests that use it get 401 until you paste the new token into your identity provider.".into(),
                "The new token is shown once, on the next page.".into(),
            ],
            action: format!("/admin/provisioning/{}/regenerate", i.id),
            button: "Regenerate token".into(),
            cancel: format!("/admin/provisioning/{}", i.id),
        },
    )
}

async fn regenerate(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    let token = state.directory.regenerate_token(&id).await?;
    let i = state.directory.integration(&id).await?;
    show_page(
        &state,
        &me,
        i,
        Some(token.expose().to_owned()),
        Some("A new API token was generated; the old one no longer works.".to_owned()),
    )
    .await
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
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
                format!(
                    "Nothing is deleted from the directory: its {} user(s) stay, as manually provisioned users.",
                    i.users_owned
                ),
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
