//! `/Users` handlers.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::directory::PatchAnswer;
use crate::directory::users::User;
use crate::scim::list::{ListBody, ListQuery, Paging, parse_query, search_params};
use crate::scim::patch;
use crate::scim::project::Projection;
use crate::scim::schema;
use crate::web::AppState;
use crate::web::scim::activity::note;
use crate::web::scim::extract::{Caller, ScimBody, if_match, none_match, patch_answer, query};
use crate::web::scim::render;
use crate::web::scim::respond::{self, ApiError};

type Result<T> = std::result::Result<T, ApiError>;

pub(super) fn projection(
    req: &HttpRequest,
    rt: &crate::scim::schema::ResourceType,
) -> Result<Projection> {
    let q = query(req)?;
    let get = |n: &str| {
        q.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    };
    Ok(Projection::parse(
        rt,
        get("attributes"),
        get("excludedAttributes"),
    )?)
}

fn one(
    state: &AppState,
    me: &Caller,
    user: &User,
    p: &Projection,
    status: StatusCode,
) -> HttpResponse {
    let body = render::user(&state.base_url(me.0.id.as_str()), user, p);
    respond::resource(status, &body, &user.meta.etag())
}

pub async fn list(
    state: web::Data<AppState>,
    me: Caller,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let q = parse_query(schema::user(), &query(&req)?, state.caps.max_results)?;
    run_list(&state, &me, &q).await
}

/// `POST /Users/.search` (RFC 7644 §3.4.3): the query in a SearchRequest body.
pub async fn search(
    state: web::Data<AppState>,
    me: Caller,
    body: ScimBody,
) -> Result<HttpResponse> {
    let q = parse_query(
        schema::user(),
        &search_params(&body.0)?,
        state.caps.max_results,
    )?;
    run_list(&state, &me, &q).await
}

async fn run_list(state: &AppState, me: &Caller, q: &ListQuery) -> Result<HttpResponse> {
    let base = state.base_url(me.0.id.as_str());
    let page = state.directory.list_users(&me.0, q, &base).await?;
    let mut body = ListBody::new();
    render::users_into(&mut body, &base, &page.users, &q.projection)?;
    let body = match q.paging {
        Paging::Index(_) => body.index(page.total, page.start_index),
        Paging::Cursor(_) => body.cursor(page.total, page.next_cursor.as_deref()),
    };
    let mut res = respond::json_bytes(StatusCode::OK, body);
    let shown = page.users.len();
    let summary = match &q.filter_text {
        Some(f) => format!(
            "listed users where {f}: {} match, {shown} returned",
            page.total
        ),
        None => format!("listed users: {} in all, {shown} returned", page.total),
    };
    note(&mut res, summary, None);
    Ok(res)
}

pub async fn create(
    state: web::Data<AppState>,
    me: Caller,
    req: HttpRequest,
    body: ScimBody,
) -> Result<HttpResponse> {
    let p = projection(&req, schema::user())?;
    let user = state.directory.create_user(&me.0, &body.0).await?;
    let mut res = one(&state, &me, &user, &p, StatusCode::CREATED);
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
    let p = projection(&req, schema::user())?;
    let user = state.directory.get_user(&me.0, &id.1).await?;
    let etag = user.meta.etag();
    if none_match(&req, &etag) {
        return Ok(respond::not_modified(&etag));
    }
    let mut body = Vec::with_capacity(user.doc.as_str().len() + 512);
    render::user_text(&mut body, &state.base_url(me.0.id.as_str()), &user, &p)?;
    let mut res = respond::resource_bytes(StatusCode::OK, body, &etag);
    note(
        &mut res,
        format!("read user {}", user.user_name()),
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
    let p = projection(&req, schema::user())?;
    let user = state
        .directory
        .replace_user(&me.0, &id.1, &body.0, if_match(&req))
        .await?;
    let mut res = one(&state, &me, &user, &p, StatusCode::OK);
    let summary = format!(
        "replaced user {} (version {})",
        user_name(&user),
        user.meta.version
    );
    note(&mut res, summary, Some(&user.meta.id));
    Ok(res)
}

pub async fn patch(
    state: web::Data<AppState>,
    me: Caller,
    req: HttpRequest,
    id: web::Path<(String, String)>,
    body: ScimBody,
) -> Result<HttpResponse> {
    let p = projection(&req, schema::user())?;
    let ops = patch::parse(&body.0)?;
    let n = ops.len();
    // Okta deactivates and reactivates with a PATCH of `active` alone: say which it was.
    let touches_active = ops.iter().any(|op| match (&op.path, &op.value) {
        (Some(p), _) => p.attr.name.eq_ignore_ascii_case("active"),
        (None, Some(serde_json::Value::Object(m))) => {
            m.keys().any(|k| k.eq_ignore_ascii_case("active"))
        }
        _ => false,
    });
    // A user PATCH answers with the user unless the request asks otherwise: Okta's SCIM 2.0
    // reference shows PATCH deactivate answered with 200 and the user (docs/api.md).
    let answer = patch_answer(&req, PatchAnswer::Resource)?;
    let user = state
        .directory
        .patch_user(&me.0, &id.1, ops, if_match(&req))
        .await?;
    let mut res = match answer {
        PatchAnswer::NoContent => respond::no_content(&user.meta.etag()),
        PatchAnswer::Resource => one(&state, &me, &user, &p, StatusCode::OK),
    };
    let active = user.doc.get("active").and_then(serde_json::Value::as_bool) != Some(false);
    let summary = match (touches_active, n, active) {
        (true, 1, false) => format!("deactivated user {}", user_name(&user)),
        (true, 1, true) => format!("reactivated user {}", user_name(&user)),
        _ => format!(
            "patched user {} ({n} operation(s), version {})",
            user_name(&user),
            user.meta.version
        ),
    };
    let summary = format!("{summary}{}", claim_note(&user, &me));
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

/// For the Activity page: this write claimed the user from manual provisioning.
fn claim_note(u: &User, me: &Caller) -> &'static str {
    match &u.provenance.claim {
        Some(c) if c.integration_id == me.0.id.as_str() && c.at == u.meta.last_modified => {
            " — claimed it from manual provisioning"
        }
        _ => "",
    }
}

fn user_name(u: &User) -> &str {
    u.doc
        .get("userName")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
}
