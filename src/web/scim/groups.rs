//! `/Groups` handlers. Members are read only when the response returns them, so
//! `excludedAttributes=members` (as Entra asks) stays fast on large groups.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentEncoding, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::directory::PatchAnswer;
use crate::directory::groups::Group;
use crate::scim::list::{ListBody, ListQuery, Paging, parse_query, search_params};
use crate::scim::patch::{self, OpKind, PatchOp};
use crate::scim::project::Projection;
use crate::scim::{ScimError, schema};
use crate::web::AppState;
use crate::web::scim::activity::note;
use crate::web::scim::extract::{Caller, ScimBody, if_match, none_match, patch_answer, query};
use crate::web::scim::respond::{self, ApiError};
use crate::web::scim::users::projection;
use crate::web::scim::{group_cache, render};

type Result<T> = std::result::Result<T, ApiError>;

/// Renders on the blocking pool: a group of 10,000 members is 1.3 MB written in several
/// milliseconds (`render::group_into`), which must not hold an HTTP worker while other
/// integrations wait (issue 14, item 3).
async fn one(
    state: &AppState,
    me: &Caller,
    g: Group,
    p: Projection,
    status: StatusCode,
) -> Result<HttpResponse> {
    let base = state.base_url(me.0.id.as_str());
    let etag = g.meta.etag();
    let location = format!("{base}/Groups/{}", g.meta.id);
    let body = off_worker(move || {
        let mut out = Vec::new();
        render::group_into(&mut out, &base, &g, &p).map(|()| out)
    })
    .await??;
    let mut res = respond::resource_bytes(status, body, &etag);
    if status == StatusCode::CREATED
        && let Ok(loc) = HeaderValue::from_str(&location)
    {
        res.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(res)
}

/// Runs CPU work (rendering) on the blocking pool.
async fn off_worker<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    web::block(work)
        .await
        .map_err(|e| ScimError::Internal(format!("rendering did not finish: {e}")).into())
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
    let (projection, paging) = (q.projection.clone(), q.paging.clone());
    let body = off_worker(move || {
        let mut body = ListBody::new();
        for g in &page.groups {
            body.push_with(|out| render::group_into(out, &base, g, &projection))?;
        }
        Ok::<_, ScimError>(match paging {
            Paging::Index(_) => body.index(page.total, page.start_index),
            Paging::Cursor(_) => body.cursor(page.total, page.next_cursor.as_deref()),
        })
    })
    .await??;
    Ok(respond::json_bytes(StatusCode::OK, body))
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
    let name = group_name(&g);
    let mut res = one(&state, &me, g, p, StatusCode::CREATED).await?;
    note(&mut res, format!("created group {name}"), None);
    Ok(res)
}

pub async fn get(
    state: web::Data<AppState>,
    me: Caller,
    req: HttpRequest,
    id: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let p = projection(&req, schema::group())?;
    if !p.is_identity() {
        let g = state
            .directory
            .get_group(&me.0, &id.1, p.returns("members"))
            .await?;
        if none_match(&req, &g.meta.etag()) {
            return Ok(respond::not_modified(&g.meta.etag()));
        }
        return one(&state, &me, g, p, StatusCode::OK).await;
    }
    // The whole group: a large one's answer is kept (`group_cache`). For a group known to
    // be large, its version and provenance are read first, without the members, and the
    // members only when the kept answer is stale; any other group is read and rendered as it
    // always was, in one read.
    let base = state.base_url(me.0.id.as_str());
    let coding = group_cache::coding(&req);
    let key = group_cache::Key {
        group_id: id.1.clone(),
        base: base.clone(),
    };
    let stamp = |g: &Group| group_cache::Stamp {
        version: g.meta.version,
        provenance: render::provenance(&g.provenance).to_string(),
    };
    // Held while rendering: of several requests that find a large group's answer stale at
    // once, one renders it and the others, when their turn comes, find it kept (32 requests
    // arriving together would otherwise each render it).
    let mut _turn = None;
    if state.group_answers.known(&key) {
        let head = state.directory.get_group(&me.0, &id.1, false).await?;
        let etag = head.meta.etag();
        if none_match(&req, &etag) {
            return Ok(respond::not_modified(&etag));
        }
        if let Some(res) = kept(&state, &key, &stamp(&head), coding, &etag).await? {
            return Ok(res);
        }
        _turn = Some(state.group_answers.turn(&key).await);
        if let Some(res) = kept(&state, &key, &stamp(&head), coding, &etag).await? {
            return Ok(res);
        }
    }
    // With the members, in one snapshot: the answer is kept under this read's version.
    let g = state.directory.get_group(&me.0, &id.1, true).await?;
    let (etag, stamp) = (g.meta.etag(), stamp(&g));
    if none_match(&req, &etag) {
        return Ok(respond::not_modified(&etag));
    }
    let (plain, gz) = off_worker(move || {
        let mut out = Vec::new();
        render::group_into(&mut out, &base, &g, &p)?;
        let gz = (coding == group_cache::Coding::Gzip && out.len() >= group_cache::MIN_BYTES)
            .then(|| group_cache::gzip(&out));
        Ok::<_, ScimError>((Bytes::from(out), gz))
    })
    .await??;
    state
        .group_answers
        .put(key, stamp, plain.clone(), gz.clone());
    Ok(match gz {
        Some(gz) => respond::kept_resource(gz, Some(ContentEncoding::Gzip), &etag),
        None => respond::kept_resource(plain, None, &etag),
    })
}

/// The kept answer for `key` at `stamp`, gzipping it first when the client takes gzip and the
/// entry has no gzip yet.
async fn kept(
    state: &AppState,
    key: &group_cache::Key,
    stamp: &group_cache::Stamp,
    coding: group_cache::Coding,
    etag: &str,
) -> Result<Option<HttpResponse>> {
    let kept = match state.group_answers.get(key, stamp, coding) {
        Some(Ok(kept)) => kept,
        Some(Err(plain)) => {
            let gz = off_worker(move || group_cache::gzip(&plain)).await?;
            state.group_answers.add_gzip(key, stamp, gz.clone());
            group_cache::Kept {
                body: gz,
                encoding: Some(ContentEncoding::Gzip),
            }
        }
        None => return Ok(None),
    };
    Ok(Some(respond::kept_resource(kept.body, kept.encoding, etag)))
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
    let name = group_name(&g);
    let mut res = one(&state, &me, g, p, StatusCode::OK).await?;
    note(&mut res, format!("replaced group {name}"), None);
    Ok(res)
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
    let changes = Changes::of(&ops);
    // 204 unless the request or the integration's *PATCH answer* setting asks for the group:
    // a membership change then costs the same whatever the group's size (issue 17 item 2).
    let answer = patch_answer(&req, me.0.settings.group_patch_answer)?;
    let resource = answer == PatchAnswer::Resource;
    let g = state
        .directory
        .patch_group(
            &me.0,
            &id.1,
            ops,
            if_match(&req),
            resource && p.returns("members"),
        )
        .await?;
    let name = group_name(&g);
    let mut res = if resource {
        one(&state, &me, g, p, StatusCode::OK).await?
    } else {
        respond::no_content(&g.meta.etag())
    };
    note(&mut res, changes.summary(&name), None);
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
        .delete_group(&me.0, &id.1, if_match(&req))
        .await?;
    let mut res = HttpResponse::NoContent().finish();
    note(&mut res, format!("deleted group {}", id.1), None);
    Ok(res)
}

fn group_name(g: &Group) -> String {
    g.doc
        .get("displayName")
        .and_then(serde_json::Value::as_str)
        .unwrap_or(&g.meta.id)
        .to_owned()
}

/// What a group PATCH asked for, counted from its operations (no extra read): members named
/// for adding or removing, whether all members were removed or replaced, and a rename. The
/// counts are of members named in the request; one already in (or not in) the group is counted
/// too, since the PATCH is idempotent for it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Changes {
    added: usize,
    removed: usize,
    removed_all: bool,
    /// `replace members`: the number of members set.
    replaced: Option<usize>,
    renamed: bool,
    other: usize,
}

fn is_members(name: &str) -> bool {
    name.eq_ignore_ascii_case("members")
}

fn count(v: Option<&serde_json::Value>) -> usize {
    match v {
        Some(serde_json::Value::Array(a)) => a.len(),
        Some(serde_json::Value::Null) | None => 0,
        Some(_) => 1,
    }
}

impl Changes {
    fn of(ops: &[PatchOp]) -> Changes {
        let mut c = Changes::default();
        for op in ops {
            match (&op.path, &op.value) {
                (Some(p), v) if is_members(&p.attr.name) => match op.kind {
                    OpKind::Add => c.added += count(v.as_ref()),
                    // `members[value eq "x"]` names one member; `members` with a value
                    // names those (Entra); `members` alone removes all (RFC 7644 §3.5.2.2).
                    OpKind::Remove if p.filter.is_some() => c.removed += 1,
                    OpKind::Remove if count(v.as_ref()) > 0 => c.removed += count(v.as_ref()),
                    OpKind::Remove => c.removed_all = true,
                    OpKind::Replace => c.replaced = Some(count(v.as_ref())),
                },
                (Some(p), _) if p.attr.name.eq_ignore_ascii_case("displayName") => c.renamed = true,
                (None, Some(serde_json::Value::Object(m))) => {
                    for (k, v) in m {
                        if is_members(k) {
                            match op.kind {
                                OpKind::Replace => c.replaced = Some(count(Some(v))),
                                _ => c.added += count(Some(v)),
                            }
                        } else if k.eq_ignore_ascii_case("displayName") {
                            c.renamed = true;
                        } else if !k.eq_ignore_ascii_case("id") {
                            // Okta repeats the id beside the new displayName.
                            c.other += 1;
                        }
                    }
                }
                _ => c.other += 1,
            }
        }
        c
    }

    fn summary(&self, name: &str) -> String {
        let plural = |n: usize| if n == 1 { "member" } else { "members" };
        let mut parts = Vec::new();
        if self.renamed {
            parts.push(format!("renamed group to {name}"));
        }
        if let Some(n) = self.replaced {
            parts.push(format!("set {n} {} of {name}", plural(n)));
        }
        if self.added > 0 {
            let n = self.added;
            parts.push(format!("added {n} {} to {name}", plural(n)));
        }
        if self.removed_all {
            parts.push(format!("removed all members from {name}"));
        }
        if self.removed > 0 {
            let n = self.removed;
            parts.push(format!("removed {n} {} from {name}", plural(n)));
        }
        if self.other > 0 || parts.is_empty() {
            parts.push(format!("patched group {name}"));
        }
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn summary(body: serde_json::Value) -> String {
        let mut body = body;
        body["schemas"] = serde_json::json!([patch::PATCH_OP_URN]);
        Changes::of(&patch::parse(&body).unwrap()).summary("Eng")
    }

    #[test]
    fn counts_membership_changes_from_the_operations() {
        assert_eq!(
            summary(serde_json::json!({"Operations": [
                {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}, {"value": "c"}]}
            ]})),
            "added 3 members to Eng"
        );
        assert_eq!(
            summary(serde_json::json!({"Operations": [
                {"op": "remove", "path": "members[value eq \"a\"]"}
            ]})),
            "removed 1 member from Eng"
        );
        assert_eq!(
            summary(serde_json::json!({"Operations": [
                {"op": "replace", "value": {"id": "x", "displayName": "Eng"}}
            ]})),
            "renamed group to Eng"
        );
        assert_eq!(
            summary(serde_json::json!({"Operations": [
                {"op": "replace", "path": "displayName", "value": "Eng"}
            ]})),
            "renamed group to Eng"
        );
        assert_eq!(
            summary(serde_json::json!({"Operations": [
                {"op": "remove", "path": "members"}
            ]})),
            "removed all members from Eng"
        );
    }
}
