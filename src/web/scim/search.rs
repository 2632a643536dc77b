//! `POST /.search` at the Base URL root (RFC 7644 §3.4.3): one query over every resource type
//! the server serves (`schema::resource_types()`). The results are the matches of each type in
//! turn, in that order (each sorted by `sortBy` if given and if the type has that attribute); `totalResults` is their sum and
//! `startIndex`/`count` page through the concatenation. Cursor paging is per resource
//! endpoint: a `cursor` here is a 400.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::scim::ScimError;
use crate::scim::list::{ListBody, Paging, parse_query, search_params};
use crate::scim::schema;
use crate::web::AppState;
use crate::web::scim::extract::{Caller, ScimBody};
use crate::web::scim::render;
use crate::web::scim::respond::{self, ApiError};

pub async fn root(
    state: web::Data<AppState>,
    me: Caller,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let params = search_params(&body.0)?;
    let base = state.base_url(me.0.id.as_str());
    let mut body = ListBody::new();
    let mut total = 0u64;
    let mut start_index = 1;
    for rt in schema::resource_types() {
        let mut q = parse_query(rt, &params, state.caps.max_results)?;
        let Paging::Index(start) = q.paging else {
            return Err(ScimError::InvalidValue(
                "cursor paging is available on each resource endpoint (e.g. /Users), not on the root .search; use startIndex here".into(),
            )
            .into());
        };
        start_index = start;
        // A sortBy attribute another type does not have sorts nothing there: that type's
        // matches come in creation order (RFC 7644 §3.4.3 leaves mixed types to the server).
        if let Some((p, _)) = &q.sort
            && rt.resolve(p.urn.as_deref(), &p.name).is_none()
        {
            q.sort = None;
        }
        // Skip what earlier types already covered; fill what is left of the page.
        let skip = (start - 1).saturating_sub(total);
        let room = q.count.saturating_sub(body.len() as u64);
        q.paging = Paging::Index(skip + 1);
        q.count = room;
        match rt.name {
            "User" => {
                let page = state.directory.list_users(&me.0, &q, &base).await?;
                total += page.total;
                render::users_into(&mut body, &base, &page.users, &q.projection)?;
            }
            "Group" => {
                let with_members = q.projection.returns("members");
                let page = state
                    .directory
                    .list_groups(&me.0, &q, &base, with_members)
                    .await?;
                total += page.total;
                for g in &page.groups {
                    body.push(&render::group(&base, g, &q.projection));
                }
            }
            other => {
                return Err(ScimError::Internal(format!(
                    "the root .search does not know how to list {other} resources"
                ))
                .into());
            }
        }
    }
    Ok(respond::json_bytes(
        StatusCode::OK,
        body.index(total, start_index),
    ))
}
