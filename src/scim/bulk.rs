//! Bulk requests (RFC 7644 §3.7): parsing, `bulkId` references, and the response message.
//! Execution lives with the handlers; this module only knows the protocol.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::scim::ScimError;

pub const BULK_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// The most operations one bulk request may carry (advertised as `bulk.maxOperations`).
pub const MAX_OPERATIONS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BulkOp {
    pub method: Method,
    pub bulk_id: Option<String>,
    pub version: Option<String>,
    pub path: String,
    pub data: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BulkRequest {
    /// Stop after this many errors (RFC 7644 §3.7.3); None: never stop.
    pub fail_on_errors: Option<usize>,
    pub ops: Vec<BulkOp>,
}

/// Which endpoint an operation addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Users,
    User(String),
    Groups,
    Group(String),
}

fn field<'a>(m: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    m.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

pub fn parse(body: &Value) -> Result<BulkRequest, ScimError> {
    let Value::Object(obj) = body else {
        return Err(ScimError::InvalidSyntax(
            "a bulk request must be a JSON object".into(),
        ));
    };
    let fail_on_errors = match field(obj, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if v >= 1 => Some(v as usize),
            _ => {
                return Err(ScimError::InvalidValue(
                    "'failOnErrors' must be a positive integer".into(),
                ));
            }
        },
        Some(_) => {
            return Err(ScimError::InvalidValue(
                "'failOnErrors' must be a positive integer".into(),
            ));
        }
    };
    let Some(Value::Array(ops)) = field(obj, "Operations") else {
        return Err(ScimError::InvalidSyntax(
            "a bulk request needs an 'Operations' array".into(),
        ));
    };
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::PayloadTooLarge(format!(
            "a bulk request may carry at most {MAX_OPERATIONS} operations; this one has {}",
            ops.len()
        )));
    }
    let mut out = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let Value::Object(op) = op else {
            return Err(ScimError::InvalidSyntax(format!(
                "operation {i} must be an object"
            )));
        };
        let method = match field(op, "method")
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some("POST") => Method::Post,
            Some("PUT") => Method::Put,
            Some("PATCH") => Method::Patch,
            Some("DELETE") => Method::Delete,
            _ => {
                return Err(ScimError::InvalidValue(format!(
                    "operation {i}: 'method' must be POST, PUT, PATCH or DELETE"
                )));
            }
        };
        let path = field(op, "path")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                ScimError::InvalidValue(format!("operation {i} needs a 'path' such as /Users"))
            })?;
        let bulk_id = field(op, "bulkId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if method == Method::Post && bulk_id.is_none() {
            // RFC 7644 §3.7: bulkId is REQUIRED for POST.
            return Err(ScimError::InvalidValue(format!(
                "operation {i}: a POST needs a 'bulkId'"
            )));
        }
        let data = field(op, "data").filter(|v| !v.is_null()).cloned();
        if matches!(method, Method::Post | Method::Put | Method::Patch) && data.is_none() {
            return Err(ScimError::InvalidValue(format!(
                "operation {i}: {} needs 'data'",
                method.as_str()
            )));
        }
        let version = field(op, "version")
            .and_then(Value::as_str)
            .map(str::to_owned);
        out.push(BulkOp {
            method,
            bulk_id,
            version,
            path,
            data,
        });
    }
    let mut seen = std::collections::HashSet::new();
    for op in &out {
        if let Some(b) = &op.bulk_id
            && !seen.insert(b.as_str())
        {
            return Err(ScimError::InvalidValue(format!(
                "bulkId '{b}' is used twice"
            )));
        }
    }
    Ok(BulkRequest {
        fail_on_errors,
        ops: out,
    })
}

/// `/Users`, `/Users/{id}`, `/Groups`, `/Groups/{id}`.
pub fn target(path: &str) -> Result<Target, ScimError> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        [r] if r.eq_ignore_ascii_case("Users") => Ok(Target::Users),
        [r] if r.eq_ignore_ascii_case("Groups") => Ok(Target::Groups),
        [r, id] if r.eq_ignore_ascii_case("Users") && !id.is_empty() => {
            Ok(Target::User((*id).to_owned()))
        }
        [r, id] if r.eq_ignore_ascii_case("Groups") && !id.is_empty() => {
            Ok(Target::Group((*id).to_owned()))
        }
        _ => Err(ScimError::InvalidValue(format!(
            "'{path}' is not /Users, /Users/{{id}}, /Groups or /Groups/{{id}}"
        ))),
    }
}

const PREFIX: &str = "bulkId:";

/// The bulkIds an operation refers to (`"bulkId:qwerty"` strings in its path or data).
pub fn references(op: &BulkOp) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                if let Some(id) = s.strip_prefix(PREFIX) {
                    out.push(id.to_owned());
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(m) => m.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for seg in op.path.split('/') {
        if let Some(id) = seg.strip_prefix(PREFIX) {
            out.push(id.to_owned());
        }
    }
    if let Some(d) = &op.data {
        walk(d, &mut out);
    }
    out
}

/// Replaces `bulkId:x` references with the ids the server assigned.
pub fn substitute(op: &mut BulkOp, ids: &HashMap<String, String>) {
    fn walk(v: &mut Value, ids: &HashMap<String, String>) {
        match v {
            Value::String(s) => {
                if let Some(id) = s.strip_prefix(PREFIX).and_then(|b| ids.get(b)) {
                    *s = id.clone();
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, ids)),
            Value::Object(m) => m.values_mut().for_each(|x| walk(x, ids)),
            _ => {}
        }
    }
    op.path = op
        .path
        .split('/')
        .map(|seg| {
            seg.strip_prefix(PREFIX)
                .and_then(|b| ids.get(b))
                .map_or(seg.to_owned(), Clone::clone)
        })
        .collect::<Vec<_>>()
        .join("/");
    if let Some(d) = &mut op.data {
        walk(d, ids);
    }
}

/// One entry of a BulkResponse.
pub fn op_result(
    op: &BulkOp,
    status: u16,
    location: Option<&str>,
    version: Option<&str>,
    error: Option<&ScimError>,
) -> Value {
    let mut v = json!({"method": op.method.as_str(), "status": status.to_string()});
    if let Some(b) = &op.bulk_id {
        v["bulkId"] = json!(b);
    }
    if let Some(l) = location {
        v["location"] = json!(l);
    }
    if let Some(ver) = version {
        v["version"] = json!(ver);
    }
    if let Some(e) = error {
        v["response"] = e.to_json();
    }
    v
}

pub fn response(results: Vec<Value>) -> Value {
    json!({"schemas": [BULK_RESPONSE_URN], "Operations": results})
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_and_substitutes() {
        let body = json!({"schemas": [BULK_REQUEST_URN], "failOnErrors": 1, "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"userName": "a"}},
            {"method": "post", "path": "/Groups", "bulkId": "g1", "data": {"displayName": "G", "members": [{"value": "bulkId:u1"}]}},
            {"method": "PATCH", "path": "/Groups/bulkId:g1", "data": {"Operations": []}},
        ]});
        let req = parse(&body).unwrap();
        assert_eq!(req.fail_on_errors, Some(1));
        assert_eq!(references(&req.ops[1]), vec!["u1".to_owned()]);
        assert_eq!(references(&req.ops[2]), vec!["g1".to_owned()]);
        let ids = HashMap::from([
            ("u1".to_owned(), "ID1".to_owned()),
            ("g1".to_owned(), "GID".to_owned()),
        ]);
        let mut op = req.ops[1].clone();
        substitute(&mut op, &ids);
        assert_eq!(op.data.unwrap()["members"][0]["value"], "ID1");
        let mut op = req.ops[2].clone();
        substitute(&mut op, &ids);
        assert_eq!(op.path, "/Groups/GID");
        assert_eq!(target("/Groups/GID").unwrap(), Target::Group("GID".into()));
        assert!(target("/Widgets").is_err());
    }

    #[test]
    fn rejects() {
        let too_many: Vec<Value> = (0..=MAX_OPERATIONS)
            .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
            .collect();
        assert_eq!(
            parse(&json!({"Operations": too_many}))
                .unwrap_err()
                .status(),
            413
        );
        assert!(
            parse(&json!({"Operations": [{"method": "POST", "path": "/Users", "data": {}}]}))
                .is_err()
        );
        assert!(parse(&json!({"Operations": [{"method": "GET", "path": "/Users"}]})).is_err());
        assert!(
            parse(&json!({"Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "x", "data": {}},
            {"method": "POST", "path": "/Users", "bulkId": "x", "data": {}}]}))
            .is_err()
        );
    }
}
