//! List queries (RFC 7644 §3.4.2): the query parameters of `GET /Users` (filter, sortBy and
//! sortOrder, index or RFC 9865 cursor paging, projection), the same members in a `.search`
//! body (§3.4.3), and the ListResponse message.

use serde_json::{Value, json};

use crate::scim::ScimError;
use crate::scim::filter::{self, AttrPath, Filter};
use crate::scim::project::Projection;
use crate::scim::schema::ResourceType;

pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The `.search` request message (RFC 7644 §3.4.3).
pub const SEARCH_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// How a list is paged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paging {
    /// RFC 7644 §3.4.2.4: 1-based `startIndex` (values below 1 are read as 1).
    Index(u64),
    /// RFC 9865: `cursor` empty (None: the first page) or a `nextCursor` value.
    Cursor(Option<String>),
}

/// A parsed list query.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// `sortBy` (RFC 7644 §3.4.2.3) and whether `sortOrder` is descending.
    pub sort: Option<(AttrPath, bool)>,
    pub paging: Paging,
    /// At most the server's page size; 0 asks for the total only.
    pub count: u64,
    pub projection: Projection,
    /// What a cursor is bound to: the filter and sort as sent. A cursor used with another
    /// query is refused (RFC 9865 §4 `invalidCursor`).
    pub fingerprint: String,
    /// The filter as sent, for logs and the Activity page.
    pub filter_text: Option<String>,
}

impl ListQuery {
    /// 1-based start index for index paging; 1 for cursor paging.
    pub fn start_index(&self) -> u64 {
        match self.paging {
            Paging::Index(i) => i,
            Paging::Cursor(_) => 1,
        }
    }
}

/// Reads the query parameters (names case-insensitive) of a list request. `max_results` is the
/// server's page size: the default and the ceiling of `count` (advertised in
/// `/ServiceProviderConfig` as `filter.maxResults` and `pagination.maxPageSize`).
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
    let start_index = int("startIndex")?;
    let paging = match (get("cursor"), start_index) {
        (Some(_), Some(_)) => {
            return Err(ScimError::InvalidValue(
                "use either 'startIndex' (index paging) or 'cursor' (cursor paging), not both"
                    .into(),
            ));
        }
        (Some(c), None) if c.trim().is_empty() => Paging::Cursor(None),
        (Some(c), None) => Paging::Cursor(Some(c.trim().to_owned())),
        (None, s) => Paging::Index(s.unwrap_or(1).max(1) as u64),
    };
    // RFC 7644 §3.4.2.4: a negative count is read as 0; above the maximum, the maximum.
    let count = int("count")?.map_or(max_results, |c| (c.max(0) as u64).min(max_results));
    let filter_text = get("filter").map(str::trim).filter(|f| !f.is_empty());
    let filter = filter_text
        .map(|f| {
            filter::parse_filter(f)
                .map_err(|e| ScimError::InvalidFilter(format!("invalid filter: {e}")))
        })
        .transpose()?;
    let sort_text = get("sortBy").map(str::trim).filter(|s| !s.is_empty());
    let descending = match get("sortOrder").map(str::trim) {
        None | Some("") => false,
        Some(o) if o.eq_ignore_ascii_case("ascending") => false,
        Some(o) if o.eq_ignore_ascii_case("descending") => true,
        Some(o) => {
            return Err(ScimError::InvalidValue(format!(
                "'sortOrder' must be 'ascending' or 'descending', not '{o}'"
            )));
        }
    };
    let sort = sort_text
        .map(|s| {
            let p = filter::parse_path(s)
                .map_err(|e| ScimError::InvalidValue(format!("invalid sortBy: {e}")))?;
            if p.filter.is_some() {
                return Err(ScimError::InvalidValue(
                    "sortBy must be an attribute path, without a value filter".into(),
                ));
            }
            Ok((p.attr, descending))
        })
        .transpose()?;
    let projection = Projection::parse(rt, get("attributes"), get("excludedAttributes"))?;
    let fingerprint = format!(
        "{}\u{0}{}\u{0}{}",
        filter_text.unwrap_or_default(),
        sort_text.unwrap_or_default(),
        if sort.is_some() && descending {
            "d"
        } else {
            "a"
        }
    );
    Ok(ListQuery {
        filter,
        sort,
        paging,
        count,
        projection,
        fingerprint,
        filter_text: filter_text.map(str::to_owned),
    })
}

/// The members of a `.search` request body (RFC 7644 §3.4.3) as query parameters:
/// `attributes`/`excludedAttributes` arrays become comma-separated lists, numbers text.
pub fn search_params(body: &Value) -> Result<Vec<(String, String)>, ScimError> {
    let Value::Object(obj) = body else {
        return Err(ScimError::InvalidSyntax(
            "a .search body must be a JSON object (a SearchRequest)".into(),
        ));
    };
    if let Some(schemas) = obj.get("schemas") {
        let ok = schemas.as_array().is_some_and(|a| {
            a.iter().any(|s| {
                s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(SEARCH_REQUEST_URN))
            })
        });
        if !ok {
            return Err(ScimError::InvalidSyntax(format!(
                "a .search body's 'schemas' must contain {SEARCH_REQUEST_URN}"
            )));
        }
    }
    let mut out = Vec::new();
    for (k, v) in obj {
        if k.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let text = match v {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Array(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for i in items {
                    match i.as_str() {
                        Some(s) => parts.push(s.to_owned()),
                        None => {
                            return Err(ScimError::InvalidSyntax(format!(
                                "'{k}' must be an array of attribute names"
                            )));
                        }
                    }
                }
                parts.join(",")
            }
            _ => {
                return Err(ScimError::InvalidSyntax(format!(
                    "'{k}' has a value of the wrong type"
                )));
            }
        };
        out.push((k.clone(), text));
    }
    Ok(out)
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

/// A ListResponse written straight to JSON text: resources are appended one by one (a stored
/// document spliced in, or a value serialised), then [`ListBody::index`] or
/// [`ListBody::cursor`] wraps them in the message. An index page's message is the one
/// [`list_response`] builds, member for member.
#[derive(Debug, Default)]
pub struct ListBody {
    resources: Vec<u8>,
    count: usize,
}

impl ListBody {
    pub fn new() -> Self {
        ListBody::default()
    }

    /// Appends the resource `write` writes; when `write` fails, whatever it wrote is taken
    /// back and nothing is appended.
    pub fn push_with<E>(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mark = self.resources.len();
        if self.count > 0 {
            self.resources.push(b',');
        }
        match write(&mut self.resources) {
            Ok(()) => {
                self.count += 1;
                Ok(())
            }
            Err(e) => {
                self.resources.truncate(mark);
                Err(e)
            }
        }
    }

    pub fn push(&mut self, resource: &Value) {
        // Serialising a `Value` into a Vec<u8> cannot fail.
        let _ = self.push_with(|out| serde_json::to_writer(out, resource));
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The message of an index-paged list.
    pub fn index(self, total: u64, start_index: u64) -> Vec<u8> {
        let head = json!({
            "schemas": [LIST_RESPONSE_URN],
            "totalResults": total,
            "startIndex": start_index,
            "itemsPerPage": self.count,
        });
        self.wrap(&head)
    }

    /// The message of a cursor-paged list (RFC 9865 §3): no `startIndex`; `nextCursor` when
    /// another page follows.
    pub fn cursor(self, total: u64, next: Option<&str>) -> Vec<u8> {
        let mut head = json!({
            "schemas": [LIST_RESPONSE_URN],
            "totalResults": total,
            "itemsPerPage": self.count,
        });
        if let Some(n) = next {
            head["nextCursor"] = Value::String(n.to_owned());
        }
        self.wrap(&head)
    }

    /// `head`'s members, then `"Resources"`.
    fn wrap(self, head: &Value) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.resources.len() + 160);
        // Writing JSON into a Vec<u8> cannot fail.
        let _ = serde_json::to_writer(&mut out, head);
        out.pop(); // the closing brace
        out.extend_from_slice(b",\"Resources\":[");
        out.extend_from_slice(&self.resources);
        out.extend_from_slice(b"]}");
        out
    }
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
        assert_eq!((l.start_index(), l.count), (1, 100));
        let l = q(&[("startIndex", "0"), ("count", "-5")]).unwrap();
        assert_eq!((l.start_index(), l.count), (1, 0));
        let l = q(&[("STARTINDEX", "101"), ("count", "1000")]).unwrap();
        assert_eq!((l.start_index(), l.count), (101, 100));
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

    #[test]
    fn sort_and_cursor_parameters() {
        let l = q(&[("sortBy", "name.familyName"), ("sortOrder", "DESCENDING")]).unwrap();
        let (p, desc) = l.sort.unwrap();
        assert_eq!(p.to_string(), "name.familyName");
        assert!(desc);
        assert!(q(&[("sortOrder", "descending")]).unwrap().sort.is_none());
        for bad in [
            vec![("sortBy", "emails[type eq \"work\"]")],
            vec![("sortBy", "userName"), ("sortOrder", "up")],
            vec![("cursor", ""), ("startIndex", "1")],
        ] {
            assert_eq!(
                q(&bad).unwrap_err().scim_type(),
                Some("invalidValue"),
                "{bad:?}"
            );
        }
        assert_eq!(q(&[("cursor", "")]).unwrap().paging, Paging::Cursor(None));
        assert_eq!(
            q(&[("cursor", "abc")]).unwrap().paging,
            Paging::Cursor(Some("abc".into()))
        );
        // The fingerprint binds a cursor to the filter and the sort.
        let a = q(&[("filter", "userName pr")]).unwrap().fingerprint;
        let b = q(&[("filter", "userName pr"), ("sortBy", "userName")])
            .unwrap()
            .fingerprint;
        assert_ne!(a, b);
    }

    #[test]
    fn search_bodies_become_parameters() {
        let p = search_params(&json!({
            "schemas": [SEARCH_REQUEST_URN],
            "attributes": ["userName", "emails"],
            "filter": "userName pr",
            "startIndex": 2,
            "count": 10,
            "excludedAttributes": null
        }))
        .unwrap();
        let l = parse_query(schema::user(), &p, 100).unwrap();
        assert_eq!((l.start_index(), l.count), (2, 10));
        assert!(l.filter.is_some());
        assert!(search_params(&json!([])).is_err());
        assert!(search_params(&json!({"schemas": ["urn:x"]})).is_err());
        assert!(search_params(&json!({"attributes": [1]})).is_err());
        assert!(search_params(&json!({"count": true})).is_err());
    }

    /// The written message is the one the `Value` builders make, with or without resources,
    /// and a resource that could not be written leaves no trace.
    #[test]
    fn list_body_matches_the_value_messages() {
        let rs = [json!({"id": "a", "x": [1, "\u{e9}\""]}), json!({"id": "b"})];
        for n in 0..=rs.len() {
            let body = || {
                let mut b = ListBody::new();
                assert!(
                    b.push_with(|out| {
                        out.extend_from_slice(b"half");
                        Err("cannot")
                    })
                    .is_err()
                );
                for r in &rs[..n] {
                    b.push(r);
                }
                assert_eq!(b.len(), n);
                b
            };
            let text = String::from_utf8(body().index(9, 3)).unwrap();
            assert_eq!(text, list_response(9, 3, rs[..n].to_vec()).to_string());
            for next in [None, Some("c1")] {
                let text = String::from_utf8(body().cursor(9, next)).unwrap();
                let mut want = json!({
                    "schemas": [LIST_RESPONSE_URN],
                    "totalResults": 9,
                    "itemsPerPage": n,
                });
                if let Some(c) = next {
                    want["nextCursor"] = json!(c);
                }
                want["Resources"] = json!(rs[..n]);
                assert_eq!(text, want.to_string());
            }
        }
    }
}
