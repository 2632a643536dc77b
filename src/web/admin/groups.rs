//! Groups: what identity providers pushed, with their source and members. Read-only here:
//! groups come from the identity providers, which are their source of truth.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::directory::groups::Group;
use crate::web::AppState;
use crate::web::admin::session::AdminSession;
use crate::web::admin::{Chrome, Nav, PageError, Pager, enc, page_param, render, show_time};

const PER_PAGE: u64 = 50;

/// The most members the group page lists.
const MAX_MEMBERS_SHOWN: usize = 1000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/groups", web::get().to(list))
        .route("/groups/{id}", web::get().to(show));
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
}

async fn show(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let g = state.directory.group_for_admin(&id).await?;
    let all = g.members.clone().unwrap_or_default();
    let count = all.len();
    let members: Vec<(String, String)> = all
        .into_iter()
        .take(MAX_MEMBERS_SHOWN)
        .map(|m| (m.id, m.display))
        .collect();
    render(
        StatusCode::OK,
        &ShowPage {
            c: me.chrome(Nav::Groups),
            more: count - members.len(),
            g: view(&g, count as i64),
            members,
        },
    )
}
