//! The discovery documents (RFC 7644 §4, RFC 7643 §5–§7): `/ServiceProviderConfig`,
//! `/ResourceTypes`, `/Schemas`. Built from the schema model so they describe exactly what the
//! server does.

use serde_json::{Value, json};

use crate::scim::bulk::MAX_OPERATIONS as MAX_BULK_OPERATIONS;
use crate::scim::list::list_response;
use crate::scim::schema::{self, Schema};

/// What the server supports, for `/ServiceProviderConfig`.
#[derive(Debug, Clone, Copy)]
pub struct Capabilities {
    pub max_results: u64,
    pub max_body_bytes: u64,
    /// How long a list cursor stays valid (RFC 9865 `cursorTimeout`).
    pub cursor_timeout_secs: i64,
}

pub fn service_provider_config(base_url: &str, caps: Capabilities) -> Value {
    json!({
        "schemas": [schema::SERVICE_PROVIDER_CONFIG_URN],
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": MAX_BULK_OPERATIONS, "maxPayloadSize": caps.max_body_bytes},
        "filter": {"supported": true, "maxResults": caps.max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        // RFC 9865 §5: both paging styles; index paging unless a `cursor` is sent.
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": caps.max_results,
            "maxPageSize": caps.max_results,
            "cursorTimeout": caps.cursor_timeout_secs,
        },
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "API token",
            "description": "The integration's API token in the Authorization header, as 'Bearer <token>' or the bare token.",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base_url}/ServiceProviderConfig"),
        },
    })
}

/// Every schema served, each once (an extension may serve several resource types): each
/// resource type's core schema and extensions, then the discovery documents' own schemas.
pub fn schemas() -> Vec<&'static Schema> {
    let mut out: Vec<&'static Schema> = Vec::new();
    for s in schema::resource_types()
        .into_iter()
        .flat_map(|rt| std::iter::once(&rt.core).chain(rt.extensions.iter().map(|(s, _)| s)))
        .chain(schema::discovery_schemas())
    {
        if !out.iter().any(|o| o.id == s.id) {
            out.push(s);
        }
    }
    out
}

pub fn schemas_list(base_url: &str) -> Value {
    let all: Vec<Value> = schemas().iter().map(|s| s.to_json(base_url)).collect();
    list_response(all.len() as u64, 1, all)
}

pub fn schema_by_id(base_url: &str, id: &str) -> Option<Value> {
    schemas()
        .into_iter()
        .find(|s| s.id.eq_ignore_ascii_case(id))
        .map(|s| s.to_json(base_url))
}

pub fn resource_types_list(base_url: &str) -> Value {
    let all: Vec<Value> = schema::resource_types()
        .iter()
        .map(|rt| rt.to_json(base_url))
        .collect();
    list_response(all.len() as u64, 1, all)
}

pub fn resource_type_by_name(base_url: &str, name: &str) -> Option<Value> {
    schema::resource_types()
        .into_iter()
        .find(|rt| rt.name.eq_ignore_ascii_case(name))
        .map(|rt| rt.to_json(base_url))
}
