//! Users: search (userName, alias, email, name), filter by source and status, paging; a user's
//! page; Add user (manually provisioned).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::Value;

use crate::directory::Error;
use crate::directory::integration::Integration;
use crate::directory::manage::{FieldError, ManualUser};
use crate::directory::users::User;
use crate::store::activity::ActivityFilter;
use crate::store::users::{Search, SourceFilter};
use crate::web::AppState;
use crate::web::admin::ConfirmPage;
use crate::web::admin::session::AdminSession;
use crate::web::admin::{
    ActivityView, Chrome, Nav, PageError, Pager, enc, page_param, redirect, render, show_time,
};

/// Users per page.
pub const PER_PAGE: u64 = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::get().to(list))
        .route("/users/new", web::get().to(new_form))
        .route("/users/new", web::post().to(create))
        .route("/users/{id}", web::get().to(show))
        .route("/users/{id}/edit", web::get().to(edit_form))
        .route("/users/{id}/edit", web::post().to(edit))
        .route("/users/{id}/status", web::post().to(set_status))
        .route("/users/{id}/delete", web::get().to(delete_confirm))
        .route("/users/{id}/delete", web::post().to(delete));
}

/// A user as a list row or page shows it.
struct UserView {
    id: String,
    user_name: String,
    name: String,
    email: String,
    aliases: Vec<String>,
    source: String,
    source_id: Option<String>,
    /// "claimed by okta on 2026-11-29 03:10 UTC", when an integration took it over.
    claimed: Option<String>,
    active: bool,
    created: String,
    modified: String,
    version: i64,
}

fn text(doc: &serde_json::Map<String, Value>, path: &[&str]) -> String {
    let mut v: Option<&Value> = doc.get(path[0]);
    for p in &path[1..] {
        v = v.and_then(|x| x.get(p));
    }
    v.and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn view(u: &User, integrations: &[Integration]) -> UserView {
    let d = &u.doc;
    let mut name = text(d, &["displayName"]);
    if name.is_empty() {
        name = text(d, &["name", "formatted"]);
    }
    if name.is_empty() {
        name = format!(
            "{} {}",
            text(d, &["name", "givenName"]),
            text(d, &["name", "familyName"])
        )
        .trim()
        .to_owned();
    }
    let items = |k: &str| -> Vec<String> {
        d.get(k)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("value").and_then(Value::as_str).map(str::to_owned))
            .collect()
    };
    let emails = items("emails");
    let source = match &u.source {
        None => "Manual".to_owned(),
        Some(s) => integrations
            .iter()
            .find(|i| i.id.as_str() == s)
            .map_or_else(|| s.clone(), |i| i.name.clone()),
    };
    UserView {
        id: u.meta.id.clone(),
        user_name: text(d, &["userName"]),
        name,
        email: emails.first().cloned().unwrap_or_default(),
        aliases: items("aliases"),
        source,
        source_id: u.source.clone(),
        claimed: u
            .provenance
            .claim
            .as_ref()
            .map(|c| format!("claimed by {} on {}", c.integration_name, show_time(&c.at))),
        active: d.get("active").and_then(Value::as_bool).unwrap_or(true),
        created: show_time(&u.meta.created),
        modified: show_time(&u.meta.last_modified),
        version: u.meta.version,
    }
}

#[derive(Template)]
#[template(path = "admin/users_list.html")]
struct ListPage {
    c: Chrome,
    q: String,
    source: String,
    status: String,
    integrations: Vec<Integration>,
    users: Vec<UserView>,
    pager: Pager,
    notice: Option<String>,
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    status: String,
    page: Option<u64>,
    deleted: Option<String>,
}

async fn list(
    state: web::Data<AppState>,
    me: AdminSession,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let integrations = state.directory.list_integrations().await?;
    let source = match q.source.as_str() {
        "" => SourceFilter::Any,
        "manual" => SourceFilter::Manual,
        id => SourceFilter::Integration(id.to_owned()),
    };
    let active = match q.status.as_str() {
        "active" => Some(true),
        "inactive" => Some(false),
        _ => None,
    };
    let page = page_param(q.page);
    let search = Search {
        text: q.q.chars().take(256).collect(),
        source,
        active,
    };
    let (total, users) = state
        .directory
        .search_users(search, (page - 1) * PER_PAGE, PER_PAGE)
        .await?;
    let keep = format!(
        "q={}&source={}&status={}&",
        enc(&q.q),
        enc(&q.source),
        enc(&q.status)
    );
    let views: Vec<UserView> = users.iter().map(|u| view(u, &integrations)).collect();
    let pager = Pager::new(page, PER_PAGE, total, views.len(), keep);
    render(
        StatusCode::OK,
        &ListPage {
            c: me.chrome(Nav::Users),
            q: q.q.clone(),
            source: q.source.clone(),
            status: q.status.clone(),
            integrations,
            users: views,
            pager,
            notice: q
                .deleted
                .as_ref()
                .map(|u| format!("User \"{u}\" was deleted.")),
        },
    )
}

#[derive(Template)]
#[template(path = "admin/user_show.html")]
struct ShowPage {
    c: Chrome,
    notice: Option<String>,
    u: UserView,
    json: String,
    activity: Vec<ActivityView>,
    /// An authenticator is registered (enrollment done).
    enrolled: bool,
    /// The user's enrollment emails, newest first.
    emails: Vec<crate::web::admin::outbox::MessageView>,
    /// Why no enrollment email was sent, when none was.
    no_email: Option<String>,
    /// No `[smtp] host`: the user's enrollment email cannot leave.
    smtp_off: bool,
    /// (id, displayName) of the groups the user belongs to.
    groups: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct ShowQuery {
    changed: Option<String>,
    resent: Option<String>,
}

async fn show(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
    q: web::Query<ShowQuery>,
) -> Result<HttpResponse, PageError> {
    let user = state.directory.user_for_admin(&id).await?;
    let groups = state.directory.user_groups_for_admin(&id).await?;
    let integrations = state.directory.list_integrations().await?;
    let json = serde_json::to_string_pretty(&Value::Object(user.doc.clone()))
        .map_err(|e| PageError::Internal(e.to_string()))?;
    let activity = state
        .directory
        .activity(
            ActivityFilter {
                user_id: Some(user.meta.id.clone()),
                ..Default::default()
            },
            0,
            20,
        )
        .await?
        .rows
        .into_iter()
        .map(ActivityView::from)
        .collect();
    let enrolled = state.directory.has_authenticator(&user.meta.id).await?;
    let (emails, no_email) = state.directory.user_email_status(&user.meta.id).await?;
    let emails = emails.iter().map(crate::web::admin::outbox::view).collect();
    let resent = q.resent.as_ref().map(|_| {
        "A new enrollment email is queued; the previous link no longer works once it is sent."
            .to_owned()
    });
    render(
        StatusCode::OK,
        &ShowPage {
            c: me.chrome(Nav::Users),
            notice: resent.or_else(|| {
                q.changed.as_deref().map(|c| match c {
                    "deactivated" => {
                        "The user was deactivated: it can no longer authenticate.".to_owned()
                    }
                    "edited" => "Saved.".to_owned(),
                    "created" => "The user was added as a manually provisioned user.".to_owned(),
                    _ => "The user was reactivated.".to_owned(),
                })
            }),
            enrolled,
            emails,
            no_email,
            smtp_off: state.config.smtp.host.is_empty(),
            u: view(&user, &integrations),
            json,
            activity,
            groups,
        },
    )
}

#[derive(Template)]
#[template(path = "admin/user_new.html")]
struct NewPage {
    c: Chrome,
    f: NewForm,
    errors: Vec<FieldError>,
}

impl NewPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

#[derive(Deserialize, Default)]
struct NewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user_name: String,
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    aliases: String,
}

async fn new_form(me: AdminSession) -> Result<HttpResponse, PageError> {
    render(
        StatusCode::OK,
        &NewPage {
            c: me.chrome(Nav::Users),
            f: NewForm::default(),
            errors: Vec::new(),
        },
    )
}

async fn create(
    state: web::Data<AppState>,
    me: AdminSession,
    form: web::Form<NewForm>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    let f = form.into_inner();
    let user = ManualUser {
        user_name: f.user_name.clone(),
        given_name: f.given_name.clone(),
        family_name: f.family_name.clone(),
        email: f.email.clone(),
        aliases: f
            .aliases
            .lines()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let mut errors = user.validate();
    if errors.is_empty() {
        match state.directory.create_manual_user(&user).await {
            Ok(u) => {
                tracing::info!(user = %u.meta.id, by = %me.session.username, "manual user added");
                // The new user's own page, where enrollment and editing go on.
                return Ok(redirect(&format!(
                    "/admin/users/{}?changed=created",
                    enc(&u.meta.id)
                )));
            }
            Err(Error::Conflict { attribute, value }) => {
                let field = if attribute == "aliases" {
                    "aliases"
                } else {
                    "user_name"
                };
                errors.push((
                    field,
                    format!("\"{value}\" is already the username or an alias of another user."),
                ));
            }
            Err(Error::Scim(e)) => errors.push(("user_name", e.to_string())),
            Err(e) => return Err(e.into()),
        }
    }
    render(
        StatusCode::UNPROCESSABLE_ENTITY,
        &NewPage {
            c: me.chrome(Nav::Users),
            f,
            errors,
        },
    )
}

#[derive(Template)]
#[template(path = "admin/user_edit.html")]
struct EditPage {
    c: Chrome,
    id: String,
    f: NewForm,
    errors: Vec<FieldError>,
}

impl EditPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

/// A manually provisioned user, or 403 for one an integration owns.
async fn manual_user(state: &AppState, id: &str) -> Result<User, PageError> {
    let user = state.directory.user_for_admin(id).await?;
    if user.source.is_some() {
        return Err(Error::Forbidden(
            "This user comes from a provisioning: change it in its identity provider, which is the source of truth."
                .into(),
        )
        .into());
    }
    Ok(user)
}

async fn edit_form(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let user = manual_user(&state, &id).await?;
    let v = view(&user, &[]);
    let f = NewForm {
        csrf: String::new(),
        user_name: v.user_name,
        given_name: text(&user.doc, &["name", "givenName"]),
        family_name: text(&user.doc, &["name", "familyName"]),
        email: v.email,
        aliases: v.aliases.join("\n"),
    };
    render(
        StatusCode::OK,
        &EditPage {
            c: me.chrome(Nav::Users),
            id: user.meta.id,
            f,
            errors: Vec::new(),
        },
    )
}

async fn edit(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
    form: web::Form<NewForm>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    let user = manual_user(&state, &id).await?;
    let mut f = form.into_inner();
    f.user_name = view(&user, &[]).user_name;
    let changed = ManualUser {
        user_name: f.user_name.clone(),
        given_name: f.given_name.clone(),
        family_name: f.family_name.clone(),
        email: f.email.clone(),
        aliases: f
            .aliases
            .lines()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let mut errors = changed.validate();
    if errors.is_empty() {
        match state
            .directory
            .update_manual_user(&user.meta.id, &changed)
            .await
        {
            Ok(u) => {
                tracing::info!(user = %u.meta.id, by = %me.session.username, "manual user edited");
                return Ok(redirect(&format!(
                    "/admin/users/{}?changed=edited",
                    enc(&u.meta.id)
                )));
            }
            Err(Error::Conflict { value, .. }) => errors.push((
                "aliases",
                format!("\"{value}\" is already the username or an alias of another user."),
            )),
            Err(Error::Scim(e)) => errors.push(("aliases", e.to_string())),
            Err(e) => return Err(e.into()),
        }
    }
    render(
        StatusCode::UNPROCESSABLE_ENTITY,
        &EditPage {
            c: me.chrome(Nav::Users),
            id: user.meta.id,
            f,
            errors,
        },
    )
}

#[derive(Deserialize)]
struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    active: String,
}

async fn set_status(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
    form: web::Form<StatusForm>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    let active = form.active == "true";
    state.directory.set_manual_user_active(&id, active).await?;
    Ok(redirect(&format!(
        "/admin/users/{}?changed={}",
        enc(&id),
        if active { "reactivated" } else { "deactivated" }
    )))
}

async fn delete_confirm(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let user = state.directory.user_for_admin(&id).await?;
    let v = view(&user, &[]);
    if v.source_id.is_some() {
        return Err(Error::Forbidden(
            "This user comes from a provisioning: delete it in its identity provider.".into(),
        )
        .into());
    }
    render(
        StatusCode::OK,
        &ConfirmPage {
            c: me.chrome(Nav::Users),
            crumb: ("/admin/users", "Users"),
            title: format!("Delete user \"{}\"?", v.user_name),
            lines: vec![
                "The user, its aliases and its authenticators are removed from the directory. This cannot be undone.".into(),
                "To keep the account but stop it from authenticating, deactivate it instead.".into(),
            ],
            action: format!("/admin/users/{}/delete", enc(&v.id)),
            button: "Delete user".into(),
            cancel: format!("/admin/users/{}", enc(&v.id)),
        },
    )
}

async fn delete(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
    form: web::Form<StatusForm>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    let user = state.directory.user_for_admin(&id).await?;
    state.directory.delete_manual_user(&id).await?;
    tracing::info!(user = %user.meta.id, by = %me.session.username, "manual user deleted");
    let name = view(&user, &[]).user_name;
    Ok(redirect(&format!("/admin/users?deleted={}", enc(&name))))
}
