//! `POST /Bulk` (RFC 7644 §3.7): runs each operation through the same use-cases as the single
//! endpoints, in order, resolving `bulkId` references; an operation whose references are not
//! resolved yet waits for a later pass, and one that can never be resolved fails with 409.
//! Operations are not one transaction (the RFC does not ask for it): each commits on its own.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::Value;

use crate::directory::users::IfMatch;
use crate::scim::bulk::{self, BulkOp, Method, Target};
use crate::scim::{ScimError, patch};
use crate::web::AppState;
use crate::web::scim::extract::{Caller, ScimBody};
use crate::web::scim::respond::{self, ApiError};

/// The outcome of one operation: status, new resource id, location, version.
type Outcome = Result<(u16, Option<String>, Option<String>, Option<String>), ScimError>;

async fn run(state: &AppState, me: &Caller, op: &BulkOp) -> Outcome {
    let d = &state.directory;
    let base = state.base_url(me.0.id.as_str());
    let if_match = op.version.as_deref().map(IfMatch::parse);
    let data = op.data.clone().unwrap_or(Value::Null);
    let map = |e: crate::directory::Error| ApiError::from(e).0;
    let loc = |kind: &str, id: &str| Some(format!("{base}/{kind}/{id}"));
    match (op.method, bulk::target(&op.path)?) {
        (Method::Post, Target::Users) => {
            let u = d.create_user(&me.0, &data).await.map_err(map)?;
            Ok((
                201,
                Some(u.meta.id.clone()),
                loc("Users", &u.meta.id),
                Some(u.meta.etag()),
            ))
        }
        (Method::Post, Target::Groups) => {
            let g = d.create_group(&me.0, &data, false).await.map_err(map)?;
            Ok((
                201,
                Some(g.meta.id.clone()),
                loc("Groups", &g.meta.id),
                Some(g.meta.etag()),
            ))
        }
        (Method::Put, Target::User(id)) => {
            let u = d
                .replace_user(&me.0, &id, &data, if_match)
                .await
                .map_err(map)?;
            Ok((200, None, loc("Users", &id), Some(u.meta.etag())))
        }
        (Method::Put, Target::Group(id)) => {
            let g = d
                .replace_group(&me.0, &id, &data, if_match, false)
                .await
                .map_err(map)?;
            Ok((200, None, loc("Groups", &id), Some(g.meta.etag())))
        }
        (Method::Patch, Target::User(id)) => {
            let u = d
                .patch_user(&me.0, &id, patch::parse(&data)?, if_match)
                .await
                .map_err(map)?;
            Ok((200, None, loc("Users", &id), Some(u.meta.etag())))
        }
        (Method::Patch, Target::Group(id)) => {
            let g = d
                .patch_group(&me.0, &id, patch::parse(&data)?, if_match, false)
                .await
                .map_err(map)?;
            Ok((200, None, loc("Groups", &id), Some(g.meta.etag())))
        }
        (Method::Delete, Target::User(id)) => {
            d.delete_user(&me.0, &id, if_match).await.map_err(map)?;
            Ok((204, None, None, None))
        }
        (Method::Delete, Target::Group(id)) => {
            d.delete_group(&me.0, &id, if_match).await.map_err(map)?;
            Ok((204, None, None, None))
        }
        (m, _) => Err(ScimError::InvalidValue(format!(
            "{} is not allowed on '{}'",
            m.as_str(),
            op.path
        ))),
    }
}

pub async fn bulk(
    state: web::Data<AppState>,
    me: Caller,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let req = bulk::parse(&body.0)?;
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut failed_ids: Vec<String> = Vec::new();
    let mut results: Vec<Option<Value>> = vec![None; req.ops.len()];
    let mut errors = 0usize;
    let mut pending: Vec<usize> = (0..req.ops.len()).collect();
    'passes: loop {
        let mut progressed = false;
        let mut still = Vec::new();
        for i in pending {
            let op = &req.ops[i];
            let refs = bulk::references(op);
            if let Some(bad) = refs.iter().find(|r| {
                failed_ids.contains(r)
                    || !req
                        .ops
                        .iter()
                        .any(|o| o.bulk_id.as_deref() == Some(r.as_str()))
            }) {
                let e = ScimError::InvalidValue(format!(
                    "bulkId '{bad}' does not name a successful POST in this request"
                ));
                results[i] = Some(bulk::op_result(op, 409, None, None, Some(&e)));
                if let Some(b) = &op.bulk_id {
                    failed_ids.push(b.clone());
                }
                errors += 1;
                progressed = true;
            } else if refs.iter().any(|r| !ids.contains_key(r)) {
                still.push(i);
                continue;
            } else {
                let mut op = op.clone();
                bulk::substitute(&mut op, &ids);
                match run(&state, &me, &op).await {
                    Ok((status, new_id, location, version)) => {
                        if let (Some(b), Some(id)) = (&op.bulk_id, new_id) {
                            ids.insert(b.clone(), id);
                        }
                        results[i] = Some(bulk::op_result(
                            &op,
                            status,
                            location.as_deref(),
                            version.as_deref(),
                            None,
                        ));
                    }
                    Err(e) => {
                        results[i] = Some(bulk::op_result(&op, e.status(), None, None, Some(&e)));
                        if let Some(b) = &op.bulk_id {
                            failed_ids.push(b.clone());
                        }
                        errors += 1;
                    }
                }
                progressed = true;
            }
            if req.fail_on_errors.is_some_and(|limit| errors >= limit) {
                break 'passes;
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        if !progressed {
            // Circular references (RFC 7644 §3.7.2): what is left cannot be resolved.
            for i in pending {
                let e = ScimError::InvalidValue("circular or unresolvable bulkId reference".into());
                results[i] = Some(bulk::op_result(&req.ops[i], 409, None, None, Some(&e)));
            }
            break;
        }
    }
    let done: Vec<Value> = results.into_iter().flatten().collect();
    Ok(respond::json(StatusCode::OK, &bulk::response(done)))
}
