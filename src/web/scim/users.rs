//! `/Users` handlers.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::directory::users::User;
use crate::scim::list::{list_response, parse_query};
use crate::scim::patch;
use crate::scim::project::Projection;
use crate::scim::resource::to_resource;
use crate::scim::schema;
use crate::web::AppState;
use crate::web::scim::activity::note;
use crate::web::scim::extract::{Caller, ScimBody, if_match, query};
use crate::web::scim::respond::{self, ApiError};

type Result<T> = std::result::Result<T, ApiError>;

fn projection(req: &HttpRequest) -> Result<Projection> {
    let q = query(req)?;
    let get = |n: &str| {
        q.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    };
    Ok(Projection::parse(
        schema::user(),
        get("attributes"),
        get("excludedAttributes"),
    )?)
}

fn render(
    state: &AppState,
    me: &Caller,
    user: &User,
    p: &Projection,
    status: StatusCode,
) -> HttpResponse {
    let rt = schema::user();
    let body = p.apply(
        rt,
        to_resource(rt, &user.meta, &user.doc, &state.base_url(me.0.id.as_str())),
    );
    respond::resource(status, &body, &user.meta.etag())
}

pub async fn list(
    state: web::Data<AppState>,
    me: Caller,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let rt = schema::user();
    let q = parse_query(rt, &query(&req)?, state.caps.max_results)?;
    let page = state.directory.list_users(&me.0, &q).await?;
    let filter = query(&req)?
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("filter"))
        .map(|(_, v)| v);
    let base = state.base_url(me.0.id.as_str());
    let resources = page
        .users
        .iter()
        .map(|u| {
            q.projection
                .apply(rt, to_resource(rt, &u.meta, &u.doc, &base))
        })
        .collect();
    let mut res = respond::json(
        StatusCode::OK,
        &list_response(page.total, page.start_index, resources),
    );
    let shown = page.users.len();
    let summary = match filter {
        Some(f) => format!(
            "listed users where {f}: {} match, {shown} returned",
            page.total
        ),
        None => format!("listed users: {} in all, {shown} returned", page.total),
    };
    note(&mut res, summary, None);
    Ok(res)
}

fn user_name(u: &User) -> &str {
    u.doc
        .get("userName")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
}

pub async fn create(
    state: web::Data<AppState>,
    me: Caller,
    req: HttpRequest,
    body: ScimBody,
) -> Result<HttpResponse> {
    let p = projection(&req)?;
    let user = state.directory.create_user(&me.0, &body.0).await?;
    let mut res = render(&state, &me, &user, &p, StatusCode::CREATED);
    note(
        &mut res,
        format!("created user {}", user_name(&user)),
        Some(&user.meta.id),
    );
    Ok(res)
}

pub async fn get(
    state: web::Data<AppState>,
    me: Caller,
    req: HttpRequest,
    id: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let p = projection(&req)?;
    let user = state.directory.get_user(&me.0, &id.1).await?;
    let mut res = render(&state, &me, &user, &p, StatusCode::OK);
    note(
        &mut res,
        format!("read user {}", user_name(&user)),
        Some(&user.meta.id),
    );
    Ok(res)
}

pub async fn replace(
    state: web::Data<AppState>,
    me: Caller,
    req: HttpRequest,
    id: web::Path<(String, String)>,
    body: ScimBody,
) -> Result<HttpResponse> {
    let p = projection(&req)?;
    let user = state
        .directory
        .replace_user(&me.0, &id.1, &body.0, if_match(&req))
        .await?;
    let mut res = render(&state, &me, &user, &p, StatusCode::OK);
    note(
        &mut res,
        format!(
            "replaced user {} (now version {})",
            user_name(&user),
            user.meta.version
        ),
        Some(&user.meta.id),
    );
    Ok(res)
}

pub async fn patch(
    state: web::Data<AppState>,
    me: Caller,
    req: HttpRequest,
    id: web::Path<(String, String)>,
    body: ScimBody,
) -> Result<HttpResponse> {
    let p = projection(&req)?;
    let ops = patch::parse(&body.0)?;
    let n = ops.len();
    let before = state.directory.get_user(&me.0, &id.1).await.ok();
    let user = state
        .directory
        .patch_user(&me.0, &id.1, ops, if_match(&req))
        .await?;
    let mut res = render(&state, &me, &user, &p, StatusCode::OK);
    let active = |u: &User| u.doc.get("active").and_then(serde_json::Value::as_bool) != Some(false);
    let summary = match before.as_ref().map(active) {
        Some(true) if !active(&user) => format!("deactivated user {}", user_name(&user)),
        Some(false) if active(&user) => format!("reactivated user {}", user_name(&user)),
        _ if before
            .as_ref()
            .is_some_and(|b| b.meta.version == user.meta.version) =>
        {
            format!("patched user {}: no change", user_name(&user))
        }
        _ => format!("patched user {} ({n} operation(s))", user_name(&user)),
    };
    note(&mut res, summary, Some(&user.meta.id));
    Ok(res)
}

pub async fn delete(
    state: web::Data<AppState>,
    me: Caller,
    req: HttpRequest,
    id: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    state
        .directory
        .delete_user(&me.0, &id.1, if_match(&req))
        .await?;
    let mut res = HttpResponse::NoContent().finish();
    note(&mut res, format!("deleted user {}", id.1), Some(&id.1));
    Ok(res)
}
