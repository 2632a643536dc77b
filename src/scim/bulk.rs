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

/// For each operation, the operations it refers to: indices of the operations that declare
/// the bulkIds in its path or data, found by one map lookup each. A reference to a bulkId no
/// operation declares is left out here; execution reports it (it cannot resolve).
pub fn dependencies(ops: &[BulkOp]) -> Vec<Vec<usize>> {
    let by_id: HashMap<&str, usize> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| op.bulk_id.as_deref().map(|b| (b, i)))
        .collect();
    ops.iter()
        .map(|op| {
            let mut deps: Vec<usize> = references(op)
                .iter()
                .filter_map(|r| by_id.get(r.as_str()).copied())
                .collect();
            deps.sort_unstable();
            deps.dedup();
            deps
        })
        .collect()
}

/// The order [`order`] found: `run` lists operations so that each comes after every operation
/// it depends on; `blocked` lists those in a reference cycle or depending on one (ascending).
/// Together they hold every index once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Order {
    pub run: Vec<usize>,
    pub blocked: Vec<usize>,
}

/// Kahn's topological sort over `deps` (`deps[i]`: the operations operation `i` refers to), in
/// O(operations + references). RFC 7644 §3.7.2: the server processes operations so that
/// references resolve, whatever their order in the request. Operations that are ready run in
/// request order; one that waits runs once the operations it refers to have run. What is left
/// when nothing is ready is a cycle, or waits on one (§3.7.3: those fail). Indices out of range
/// are ignored.
pub fn order(deps: &[Vec<usize>]) -> Order {
    let n = deps.len();
    let mut waiting_on = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, ds) in deps.iter().enumerate() {
        let mut seen: Vec<usize> = ds.iter().copied().filter(|&d| d < n).collect();
        seen.sort_unstable();
        seen.dedup();
        waiting_on[i] = seen.len();
        for d in seen {
            dependents[d].push(i);
        }
    }
    let mut ready: std::collections::VecDeque<usize> =
        (0..n).filter(|&i| waiting_on[i] == 0).collect();
    let mut run = Vec::with_capacity(n);
    while let Some(i) = ready.pop_front() {
        run.push(i);
        for &j in &dependents[i] {
            waiting_on[j] -= 1;
            if waiting_on[j] == 0 {
                ready.push_back(j);
            }
        }
    }
    let blocked = (0..n).filter(|&i| waiting_on[i] > 0).collect();
    Order { run, blocked }
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

    fn is_valid(deps: &[Vec<usize>], o: &Order) {
        let mut pos = vec![None; deps.len()];
        for (k, &i) in o.run.iter().enumerate() {
            assert!(pos[i].is_none(), "{i} runs twice");
            pos[i] = Some(k);
        }
        for &i in &o.blocked {
            assert!(pos[i].is_none(), "{i} both runs and is blocked");
        }
        assert_eq!(o.run.len() + o.blocked.len(), deps.len());
        for &i in &o.run {
            for &d in &deps[i] {
                assert!(pos[d] < pos[i], "{i} runs before {d}, which it refers to");
            }
        }
    }

    #[test]
    fn order_puts_references_first() {
        // No references: request order.
        let deps = vec![vec![], vec![], vec![]];
        assert_eq!(order(&deps).run, [0, 1, 2]);
        // A chain pointing forward (the issue 14 Bulk): 0 -> 1 -> ... -> 999.
        let chain: Vec<Vec<usize>> = (0..1000)
            .map(|i| if i < 999 { vec![i + 1] } else { vec![] })
            .collect();
        let o = order(&chain);
        assert_eq!(o.run, (0..1000).rev().collect::<Vec<_>>());
        assert!(o.blocked.is_empty());
        // Ready operations keep request order; a waiting one follows what it waits on.
        let deps = vec![vec![3], vec![], vec![0], vec![]];
        let o = order(&deps);
        is_valid(&deps, &o);
        assert_eq!(o.run, [1, 3, 0, 2]);
        // Duplicate and out-of-range references change nothing.
        let deps = vec![vec![1, 1, 7], vec![]];
        assert_eq!(order(&deps).run, [1, 0]);
    }

    #[test]
    fn order_blocks_cycles_and_what_waits_on_them() {
        // 1 <-> 2 is a cycle, 3 waits on it, 0 and 4 are free, 5 refers to itself.
        let deps = vec![vec![], vec![2], vec![1], vec![2], vec![0], vec![5]];
        let o = order(&deps);
        is_valid(&deps, &o);
        assert_eq!(o.run, [0, 4]);
        assert_eq!(o.blocked, [1, 2, 3, 5]);
        // A long reversed cycle: everything blocked, in linear time.
        let ring: Vec<Vec<usize>> = (0..1000).map(|i| vec![(i + 1) % 1000]).collect();
        assert_eq!(order(&ring).blocked.len(), 1000);
    }

    #[test]
    fn dependencies_by_bulk_id() {
        let body = json!({"Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G", "members": [{"value": "bulkId:u"}, {"value": "bulkId:u"}, {"value": "bulkId:nobody"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "a"}},
            {"method": "PATCH", "path": "/Groups/bulkId:g", "data": {"Operations": []}},
        ]});
        let req = parse(&body).unwrap();
        assert_eq!(dependencies(&req.ops), vec![vec![1], vec![], vec![0]]);
        assert_eq!(order(&dependencies(&req.ops)).run, [1, 0, 2]);
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

/// Issue 14 item 5: [`order`] on generated dependency graphs (any shape: chains, diamonds,
/// self-references, cycles, references out of range) terminates, runs every operation after
/// what it refers to, and blocks exactly the operations that a cycle holds up.
#[cfg(test)]
mod props {
    use super::order;
    use crate::proptest_config as config;
    use proptest::prelude::*;

    /// Up to 60 operations, each referring to up to 4 indices (some out of range).
    fn graphs() -> impl Strategy<Value = Vec<Vec<usize>>> {
        (1usize..60).prop_flat_map(|n| {
            proptest::collection::vec(proptest::collection::vec(0..n + 3, 0..4), n)
        })
    }

    /// The operations that can never run, by a slow fixed point: an operation can run when
    /// everything it refers to (in range) can.
    fn model_blocked(deps: &[Vec<usize>]) -> Vec<usize> {
        let n = deps.len();
        let mut can = vec![false; n];
        loop {
            let mut moved = false;
            for i in 0..n {
                if !can[i] && deps[i].iter().all(|&d| d >= n || can[d]) {
                    can[i] = true;
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        (0..n).filter(|&i| !can[i]).collect()
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn order_respects_dependencies_and_reports_cycles(deps in graphs()) {
            let o = order(&deps);
            let n = deps.len();
            // Every operation once, in `run` or in `blocked`.
            let mut all: Vec<usize> = o.run.iter().chain(&o.blocked).copied().collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..n).collect::<Vec<_>>());
            // Each operation that runs comes after every operation it refers to.
            let mut at = vec![usize::MAX; n];
            for (pos, &i) in o.run.iter().enumerate() {
                at[i] = pos;
            }
            for &i in &o.run {
                for &d in deps[i].iter().filter(|&&d| d < n) {
                    prop_assert!(at[d] < at[i], "{} runs before {}, which it needs", i, d);
                }
            }
            // Blocked: exactly the operations held up by a cycle (ascending).
            prop_assert_eq!(&o.blocked, &model_blocked(&deps));
            let cyclic = deps.iter().enumerate().any(|(i, ds)| ds.contains(&i))
                || !model_blocked(&deps).is_empty();
            prop_assert_eq!(o.blocked.is_empty(), !cyclic);
        }
    }
}
