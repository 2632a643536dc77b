//! `POST /Bulk` (RFC 7644 §3.7): runs each operation through the same use-cases as the single
//! endpoints, in the order [`bulk::order`] computes once (request order, except that an
//! operation runs after those it refers to), resolving `bulkId` references by map lookup; a
//! reference that cannot be resolved (unknown, failed, or circular) fails with 409.
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

/// Operations run between two yields to the other requests of the HTTP worker.
const YIELD_EVERY: usize = 32;

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
    // Parsing a 1,000-operation body and ordering it is CPU work: off the HTTP worker.
    let (req, order) = web::block(move || {
        let req = bulk::parse(&body.0)?;
        let order = bulk::order(&bulk::dependencies(&req.ops));
        Ok::<_, ScimError>((req, order))
    })
    .await
    .map_err(|e| ScimError::Internal(format!("bulk planning did not finish: {e}")))??;
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut results: Vec<Option<Value>> = vec![None; req.ops.len()];
    let mut errors = 0usize;
    let mut stopped = false;
    for (k, &i) in order.run.iter().enumerate() {
        // Operations that fail before reaching the store do not await anything: yield now
        // and then, so that a long run of them does not hold the HTTP worker (issue 14).
        if k % YIELD_EVERY == YIELD_EVERY - 1 {
            tokio::task::yield_now().await;
        }
        let op = &req.ops[i];
        // Every operation this one refers to has run: a reference missing from `ids` names
        // no operation, or one that failed or created nothing.
        let unresolved = bulk::references(op)
            .into_iter()
            .find(|r| !ids.contains_key(r));
        let result = match unresolved {
            Some(bad) => {
                let e = ScimError::InvalidValue(format!(
                    "bulkId '{bad}' does not name a successful POST in this request"
                ));
                // An unresolved reference conflicts with the rest of the request: 409.
                Err(bulk::op_result(op, 409, None, None, Some(&e)))
            }
            None => {
                let mut op = op.clone();
                bulk::substitute(&mut op, &ids);
                match run(&state, &me, &op).await {
                    Ok((status, new_id, location, version)) => {
                        if let (Some(b), Some(id)) = (&op.bulk_id, new_id) {
                            ids.insert(b.clone(), id);
                        }
                        Ok(bulk::op_result(
                            &op,
                            status,
                            location.as_deref(),
                            version.as_deref(),
                            None,
                        ))
                    }
                    Err(e) => Err(bulk::op_result(&op, e.status(), None, None, Some(&e))),
                }
            }
        };
        results[i] = Some(match result {
            Ok(v) => v,
            Err(v) => {
                errors += 1;
                v
            }
        });
        if req.fail_on_errors.is_some_and(|limit| errors >= limit) {
            stopped = true;
            break;
        }
    }
    if !stopped {
        // Circular references (RFC 7644 §3.7.2): these can never be resolved.
        for &i in &order.blocked {
            let e = ScimError::InvalidValue("circular or unresolvable bulkId reference".into());
            results[i] = Some(bulk::op_result(&req.ops[i], 409, None, None, Some(&e)));
        }
    }
    let done: Vec<Value> = results.into_iter().flatten().collect();
    Ok(respond::json(StatusCode::OK, &bulk::response(done)))
}
