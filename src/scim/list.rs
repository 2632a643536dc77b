//! List queries (RFC 7644 §3.4.2): the query parameters of `GET /Users` and the ListResponse
//! message.

use serde_json::{Value, json};

use crate::scim::ScimError;
use crate::scim::filter::{self, Filter};
use crate::scim::project::Projection;
use crate::scim::schema::ResourceType;

pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A parsed list query.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// 1-based (RFC 7644 §3.4.2.4); values below 1 are read as 1.
    pub start_index: u64,
    /// At most the server's page size; 0 asks for the total only.
    pub count: u64,
    pub projection: Projection,
}

/// Reads the query parameters (names case-insensitive) of a list request. `max_results` is the
/// server's page size: the default and the ceiling of `count` (advertised in
/// `/ServiceProviderConfig` as `filter.maxResults`).
pub fn parse_query(
    rt: &ResourceType,
    params: &[(String, String)],
    max_results: u64,
) -> Result<ListQuery, ScimError> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let int = |name: &str| -> Result<Option<i64>, ScimError> {
        match get(name) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
                ScimError::InvalidValue(format!("'{name}' must be an integer, not '{v}'"))
            }),
        }
    };
    let start_index = int("startIndex")?.unwrap_or(1).max(1) as u64;
    // RFC 7644 §3.4.2.4: a negative count is read as 0; above the maximum, the maximum.
    let count = int("count")?.map_or(max_results, |c| (c.max(0) as u64).min(max_results));
    let filter = match get("filter") {
        None => None,
        Some(f) if f.trim().is_empty() => None,
        Some(f) => Some(
            filter::parse_filter(f)
                .map_err(|e| ScimError::InvalidFilter(format!("invalid filter: {e}")))?,
        ),
    };
    let projection = Projection::parse(rt, get("attributes"), get("excludedAttributes"))?;
    Ok(ListQuery {
        filter,
        start_index,
        count,
        projection,
    })
}

/// The ListResponse message; `itemsPerPage` is what this page holds (Okta rejects a server
/// that echoes the requested count: ory/polis #4054).
pub fn list_response(total: u64, start_index: u64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::scim::schema;

    fn q(pairs: &[(&str, &str)]) -> Result<ListQuery, ScimError> {
        let v: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        parse_query(schema::user(), &v, 100)
    }

    #[test]
    fn paging_rules() {
        let l = q(&[]).unwrap();
        assert_eq!((l.start_index, l.count), (1, 100));
        let l = q(&[("startIndex", "0"), ("count", "-5")]).unwrap();
        assert_eq!((l.start_index, l.count), (1, 0));
        let l = q(&[("STARTINDEX", "101"), ("count", "1000")]).unwrap();
        assert_eq!((l.start_index, l.count), (101, 100));
        assert_eq!(
            q(&[("count", "ten")]).unwrap_err().scim_type(),
            Some("invalidValue")
        );
        assert_eq!(
            q(&[("filter", "userName eq")]).unwrap_err().scim_type(),
            Some("invalidFilter")
        );
        assert!(
            q(&[("filter", "userName eq \"a\"")])
                .unwrap()
                .filter
                .is_some()
        );
    }
}
