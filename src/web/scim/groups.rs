//! `/Groups` handlers. Members are read only when the response returns them, so
//! `excludedAttributes=members` (as Entra asks) stays fast on large groups.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::directory::groups::Group;
use crate::scim::list::{
    ListQuery, Paging, cursor_list_response, list_response, parse_query, search_params,
};
use crate::scim::patch;
use crate::scim::project::Projection;
use crate::scim::schema;
use crate::web::AppState;
use crate::web::scim::extract::{Caller, ScimBody, if_match, none_match, prefers_minimal, query};
use crate::web::scim::render;
use crate::web::scim::respond::{self, ApiError};
use crate::web::scim::users::projection;

type Result<T> = std::result::Result<T, ApiError>;

fn one(
    state: &AppState,
    me: &Caller,
    g: &Group,
    p: &Projection,
    status: StatusCode,
) -> HttpResponse {
    let body = render::group(&state.base_url(me.0.id.as_str()), g, p);
    respond::resource(status, &body, &g.meta.etag())
}

pub async fn list(
    state: web::Data<AppState>,
    me: Caller,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let q = parse_query(schema::group(), &query(&req)?, state.caps.max_results)?;
    run_list(&state, &me, &q).await
}

/// `POST /Groups/.search` (RFC 7644 §3.4.3): the query in a SearchRequest body.
pub async fn search(
    state: web::Data<AppState>,
    me: Caller,
    body: ScimBody,
) -> Result<HttpResponse> {
    let q = parse_query(
        schema::group(),
        &search_params(&body.0)?,
        state.caps.max_results,
    )?;
    run_list(&state, &me, &q).await
}

async fn run_list(state: &AppState, me: &Caller, q: &ListQuery) -> Result<HttpResponse> {
    let base = state.base_url(me.0.id.as_str());
    let page = state
        .directory
        .list_groups(&me.0, q, &base, q.projection.returns("members"))
        .await?;
    let resources = page
        .groups
        .iter()
        .map(|g| render::group(&base, g, &q.projection))
        .collect();
    let body = match q.paging {
        Paging::Index(_) => list_response(page.total, page.start_index, resources),
        Paging::Cursor(_) => {
            cursor_list_response(page.total, page.next_cursor.as_deref(), resources)
        }
    };
    Ok(respond::json(StatusCode::OK, &body))
}

pub async fn create(
    state: web::Data<AppState>,
    me: Caller,
    req: HttpRequest,
    body: ScimBody,
) -> Result<HttpResponse> {
    let p = projection(&req, schema::group())?;
    let g = state
        .directory
        .create_group(&me.0, &body.0, p.returns("members"))
        .await?;
    Ok(one(&state, &me, &g, &p, StatusCode::CREATED))
}

pub async fn get(
    state: web::Data<AppState>,
    me: Caller,
    req: HttpRequest,
    id: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let p = projection(&req, schema::group())?;
    let g = state
        .directory
        .get_group(&me.0, &id.1, p.returns("members"))
        .await?;
    if none_match(&req, &g.meta.etag()) {
        return Ok(respond::not_modified(&g.meta.etag()));
    }
    Ok(one(&state, &me, &g, &p, StatusCode::OK))
}

pub async fn replace(
    state: web::Data<AppState>,
    me: Caller,
    req: HttpRequest,
    id: web::Path<(String, String)>,
    body: ScimBody,
) -> Result<HttpResponse> {
    let p = projection(&req, schema::group())?;
    let g = state
        .directory
        .replace_group(&me.0, &id.1, &body.0, if_match(&req), p.returns("members"))
        .await?;
    Ok(one(&state, &me, &g, &p, StatusCode::OK))
}

pub async fn patch(
    state: web::Data<AppState>,
    me: Caller,
    req: HttpRequest,
    id: web::Path<(String, String)>,
    body: ScimBody,
) -> Result<HttpResponse> {
    let p = projection(&req, schema::group())?;
    let ops = patch::parse(&body.0)?;
    let minimal = prefers_minimal(&req);
    let g = state
        .directory
        .patch_group(
            &me.0,
            &id.1,
            ops,
            if_match(&req),
            !minimal && p.returns("members"),
        )
        .await?;
    if minimal {
        return Ok(respond::no_content(&g.meta.etag()));
    }
    Ok(one(&state, &me, &g, &p, StatusCode::OK))
}

pub async fn delete(
    state: web::Data<AppState>,
    me: Caller,
    req: HttpRequest,
    id: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    state
        .directory
        .delete_group(&me.0, &id.1, if_match(&req))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
