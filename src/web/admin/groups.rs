//! Groups: what identity providers pushed, with their source and members (read-only here: the
//! identity providers are their source of truth), and manually provisioned groups, which can be
//! added and whose members can be added and removed.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::directory::Error;
use crate::directory::groups::Group;
use crate::directory::manage::group_name_error;
use crate::web::AppState;
use crate::web::admin::redirect;
use crate::web::admin::session::AdminSession;
use crate::web::admin::{Chrome, Nav, PageError, Pager, enc, page_param, render, show_time};

const PER_PAGE: u64 = 50;

/// The most members the group page lists.
const MAX_MEMBERS_SHOWN: usize = 1000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/groups", web::get().to(list))
        .route("/groups/new", web::get().to(new_form))
        .route("/groups/new", web::post().to(create))
        .route("/groups/{id}", web::get().to(show))
        .route("/groups/{id}/members", web::post().to(add_member))
        .route("/groups/{id}/members/remove", web::post().to(remove_member));
}

struct GroupView {
    id: String,
    name: String,
    source: String,
    source_id: Option<String>,
    claimed: Option<String>,
    members: i64,
    external_id: String,
    created: String,
    modified: String,
    version: i64,
}

fn view(g: &Group, members: i64) -> GroupView {
    let text = |k: &str| {
        g.doc
            .get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    GroupView {
        id: g.meta.id.clone(),
        name: text("displayName"),
        source: g
            .provenance
            .source
            .as_ref()
            .map_or_else(|| "Manual".to_owned(), |(_, n)| n.clone()),
        source_id: g.provenance.source.as_ref().map(|(id, _)| id.clone()),
        claimed: g
            .provenance
            .claim
            .as_ref()
            .map(|c| format!("claimed by {} on {}", c.integration_name, show_time(&c.at))),
        members,
        external_id: text("externalId"),
        created: show_time(&g.meta.created),
        modified: show_time(&g.meta.last_modified),
        version: g.meta.version,
    }
}

#[derive(Template)]
#[template(path = "admin/groups_list.html")]
struct ListPage {
    c: Chrome,
    q: String,
    groups: Vec<GroupView>,
    pager: Pager,
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    q: String,
    page: Option<u64>,
}

async fn list(
    state: web::Data<AppState>,
    me: AdminSession,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let page = page_param(q.page);
    let text: String = q.q.chars().take(256).collect();
    let (total, groups) = state
        .directory
        .search_groups(text, (page - 1) * PER_PAGE, PER_PAGE)
        .await?;
    let views: Vec<GroupView> = groups.iter().map(|(g, n)| view(g, *n)).collect();
    let pager = Pager::new(
        page,
        PER_PAGE,
        total,
        views.len(),
        format!("q={}&", enc(&q.q)),
    );
    render(
        StatusCode::OK,
        &ListPage {
            c: me.chrome(Nav::Groups),
            q: q.q.clone(),
            groups: views,
            pager,
        },
    )
}

#[derive(Template)]
#[template(path = "admin/group_show.html")]
struct ShowPage {
    c: Chrome,
    g: GroupView,
    /// (user id, display name)
    members: Vec<(String, String)>,
    more: usize,
    /// The add-member field: its value and error.
    login: String,
    login_error: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize)]
struct ShowQuery {
    changed: Option<String>,
}

async fn show(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
    q: web::Query<ShowQuery>,
) -> Result<HttpResponse, PageError> {
    let notice = q.changed.as_deref().map(|c| match c {
        "added" => "The member was added.".to_owned(),
        "removed" => "The member was removed.".to_owned(),
        _ => "The group was added.".to_owned(),
    });
    show_page(
        &state,
        &me,
        &id,
        StatusCode::OK,
        String::new(),
        None,
        notice,
    )
    .await
}

async fn show_page(
    state: &AppState,
    me: &AdminSession,
    id: &str,
    status: StatusCode,
    login: String,
    login_error: Option<String>,
    notice: Option<String>,
) -> Result<HttpResponse, PageError> {
    let g = state.directory.group_for_admin(id).await?;
    let all = g
        .members
        .as_ref()
        .map(|m| m.to_members())
        .unwrap_or_default();
    let count = all.len();
    let members: Vec<(String, String)> = all
        .into_iter()
        .take(MAX_MEMBERS_SHOWN)
        .map(|m| (m.id, m.display))
        .collect();
    render(
        status,
        &ShowPage {
            c: me.chrome(Nav::Groups),
            more: count - members.len(),
            g: view(&g, count as i64),
            members,
            login,
            login_error,
            notice,
        },
    )
}

#[derive(Template)]
#[template(path = "admin/group_new.html")]
struct NewPage {
    c: Chrome,
    name: String,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
struct NewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    display_name: String,
}

async fn new_form(me: AdminSession) -> Result<HttpResponse, PageError> {
    render(
        StatusCode::OK,
        &NewPage {
            c: me.chrome(Nav::Groups),
            name: String::new(),
            error: None,
        },
    )
}

async fn create(
    state: web::Data<AppState>,
    me: AdminSession,
    form: web::Form<NewForm>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    let name = form.display_name.clone();
    let mut error = group_name_error(&name);
    if error.is_none() {
        match state.directory.create_manual_group(&name).await {
            Ok(id) => {
                tracing::info!(group = %id, by = %me.session.username, "manual group added");
                return Ok(redirect(&format!(
                    "/admin/groups/{}?changed=created",
                    enc(&id)
                )));
            }
            Err(Error::Conflict { value, .. }) => {
                error = Some(format!("A group named \"{value}\" already exists."));
            }
            Err(Error::Scim(e)) => error = Some(e.to_string()),
            Err(e) => return Err(e.into()),
        }
    }
    render(
        StatusCode::UNPROCESSABLE_ENTITY,
        &NewPage {
            c: me.chrome(Nav::Groups),
            name,
            error,
        },
    )
}

#[derive(Deserialize)]
struct MemberForm {
    #[serde(default)]
    csrf: String,
    /// Add: a userName or alias.
    #[serde(default)]
    login: String,
    /// Remove: the user's id.
    #[serde(default)]
    user: String,
}

async fn add_member(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
    form: web::Form<MemberForm>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    let login = form.login.trim().to_owned();
    let error = if login.is_empty() {
        Some("Enter a username or an alias.".to_owned())
    } else {
        match state.directory.add_manual_group_member(&id, &login).await {
            Ok(()) => {
                tracing::info!(group = %id, by = %me.session.username, "manual group member added");
                return Ok(redirect(&format!(
                    "/admin/groups/{}?changed=added",
                    enc(&id)
                )));
            }
            Err(Error::Invalid(m)) => Some(m),
            Err(e) => return Err(e.into()),
        }
    };
    show_page(
        &state,
        &me,
        &id,
        StatusCode::UNPROCESSABLE_ENTITY,
        login,
        error,
        None,
    )
    .await
}

async fn remove_member(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
    form: web::Form<MemberForm>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    state
        .directory
        .remove_manual_group_member(&id, &form.user)
        .await?;
    tracing::info!(group = %id, by = %me.session.username, "manual group member removed");
    Ok(redirect(&format!(
        "/admin/groups/{}?changed=removed",
        enc(&id)
    )))
}
