//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which attributes of a
//! resource are returned. `id` and `schemas` are always returned (RFC 7643 §7, `returned`).

use serde_json::{Map, Value};

use crate::scim::ScimError;
use crate::scim::schema::ResourceType;

/// A parsed projection: attribute paths as (schema URN or None, name, sub), lower-cased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    include: Vec<(Option<String>, String, Option<String>)>,
    exclude: Vec<(Option<String>, String, Option<String>)>,
}

impl Projection {
    pub fn parse(
        rt: &ResourceType,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Self, ScimError> {
        let list = |s: Option<&str>| -> Result<Vec<_>, ScimError> {
            let Some(s) = s else { return Ok(Vec::new()) };
            s.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| split(rt, p))
                .collect()
        };
        Ok(Projection {
            include: list(attributes)?,
            exclude: list(excluded)?,
        })
    }

    /// Whether a top-level core attribute (`members`, `groups` …) is returned, so that callers
    /// can skip reading what would be projected away.
    pub fn returns(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        let included = self.include.is_empty()
            || self
                .include
                .iter()
                .any(|(u, n, _)| u.is_none() && *n == name);
        let excluded = self
            .exclude
            .iter()
            .any(|(u, n, s)| u.is_none() && *n == name && s.is_none());
        included && !excluded
    }

    pub fn is_identity(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Applies the projection to a full resource as returned by `to_resource`.
    pub fn apply(&self, rt: &ResourceType, resource: Value) -> Value {
        if self.is_identity() {
            return resource;
        }
        let Value::Object(mut obj) = resource else {
            return resource;
        };
        if !self.include.is_empty() {
            let mut out = Map::new();
            for (k, v) in obj {
                if k == "id" || k == "schemas" {
                    out.insert(k, v);
                    continue;
                }
                if let Some(ext) = rt.extension(&k) {
                    let Value::Object(inner) = v else { continue };
                    let kept = keep(&self.include, Some(&ext.id.to_ascii_lowercase()), inner);
                    if !kept.is_empty() {
                        out.insert(k, Value::Object(kept));
                    }
                    continue;
                }
                let mut single = Map::new();
                single.insert(k, v);
                out.extend(keep(&self.include, None, single));
            }
            obj = out;
        }
        for (urn, name, sub) in &self.exclude {
            if urn.is_none() && (name == "id" || name == "schemas") {
                continue;
            }
            let holder = match urn {
                None => Some(&mut obj),
                Some(u) => obj
                    .iter_mut()
                    .find(|(k, _)| k.eq_ignore_ascii_case(u))
                    .and_then(|(_, v)| v.as_object_mut()),
            };
            let Some(holder) = holder else { continue };
            let Some(key) = holder
                .keys()
                .find(|k| k.eq_ignore_ascii_case(name))
                .cloned()
            else {
                continue;
            };
            match sub {
                None => {
                    holder.remove(&key);
                }
                Some(s) => match holder.get_mut(&key) {
                    Some(Value::Object(m)) => remove_ci(m, s),
                    Some(Value::Array(items)) => {
                        for item in items {
                            if let Value::Object(m) = item {
                                remove_ci(m, s);
                            }
                        }
                    }
                    _ => {}
                },
            }
        }
        // Drop extension objects emptied by exclusion, and their schema URNs.
        let urns: Vec<String> = rt.extensions.iter().map(|(s, _)| s.id.to_owned()).collect();
        for u in &urns {
            if matches!(obj.get(u), Some(Value::Object(m)) if m.is_empty()) {
                obj.remove(u);
            }
        }
        let ext_present: Vec<Value> = urns
            .iter()
            .filter(|u| obj.contains_key(u.as_str()))
            .map(|u| Value::String(u.clone()))
            .collect();
        if let Some(Value::Array(schemas)) = obj.get_mut("schemas") {
            schemas.retain(|s| s.as_str().is_some_and(|s| !urns.iter().any(|u| u == s)));
            schemas.extend(ext_present);
        }
        Value::Object(obj)
    }
}

fn remove_ci(m: &mut Map<String, Value>, name: &str) {
    if let Some(k) = m.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned() {
        m.remove(&k);
    }
}

/// Keeps the entries of `m` (the attributes of one schema) that `include` names.
fn keep(
    include: &[(Option<String>, String, Option<String>)],
    urn: Option<&str>,
    m: Map<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in m {
        let lk = k.to_ascii_lowercase();
        let wanted: Vec<&Option<String>> = include
            .iter()
            .filter(|(u, n, _)| u.as_deref().is_none_or(|u| Some(u) == urn) && *n == lk)
            .map(|(_, _, s)| s)
            .collect();
        if wanted.is_empty() {
            continue;
        }
        if wanted.iter().any(|s| s.is_none()) {
            out.insert(k, v);
            continue;
        }
        let subs: Vec<&str> = wanted.iter().filter_map(|s| s.as_deref()).collect();
        let pick = |o: &Map<String, Value>| -> Map<String, Value> {
            o.iter()
                .filter(|(sk, _)| subs.iter().any(|s| sk.eq_ignore_ascii_case(s)))
                .map(|(a, b)| (a.clone(), b.clone()))
                .collect()
        };
        match v {
            Value::Object(o) => {
                let p = pick(&o);
                if !p.is_empty() {
                    out.insert(k, Value::Object(p));
                }
            }
            Value::Array(items) => {
                let items: Vec<Value> = items
                    .iter()
                    .filter_map(|i| i.as_object().map(|o| Value::Object(pick(o))))
                    .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
                    .collect();
                if !items.is_empty() {
                    out.insert(k, Value::Array(items));
                }
            }
            _ => {}
        }
    }
    out
}

/// `urn:…:User:name.givenName` → (Some(urn), "name", Some("givenname")), lower-cased.
fn split(
    rt: &ResourceType,
    path: &str,
) -> Result<(Option<String>, String, Option<String>), ScimError> {
    let (urn, rest) = match rt.split_urn(path) {
        Some((u, rest)) => ((u != rt.core.id).then(|| u.to_ascii_lowercase()), rest),
        None if rt.extension(path).is_some() => {
            return Err(ScimError::InvalidValue(format!(
                "'{path}' names a schema, not an attribute"
            )));
        }
        None => (None, path),
    };
    let mut parts = rest.splitn(2, '.');
    let name = parts.next().unwrap_or_default().to_ascii_lowercase();
    let sub = parts.next().map(str::to_ascii_lowercase);
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
    };
    if !valid(&name) || sub.as_deref().is_some_and(|s| !valid(s)) {
        return Err(ScimError::InvalidValue(format!(
            "'{path}' is not an attribute path"
        )));
    }
    Ok((urn, name, sub))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::scim::schema::{self, ENTERPRISE_USER_URN};
    use serde_json::json;

    fn user() -> Value {
        json!({"schemas": [schema::USER_URN, ENTERPRISE_USER_URN], "id": "1", "userName": "u",
               "name": {"givenName": "G", "familyName": "F"},
               "emails": [{"value": "a@x", "type": "work"}],
               ENTERPRISE_USER_URN: {"department": "D", "employeeNumber": "7"},
               "meta": {"resourceType": "User"}})
    }

    #[test]
    fn include_and_exclude() {
        let rt = schema::user();
        let p = Projection::parse(rt, Some("userName,name.givenName,emails.value"), None).unwrap();
        let r = p.apply(rt, user());
        assert_eq!(
            r,
            json!({"schemas": [schema::USER_URN], "id": "1", "userName": "u", "name": {"givenName": "G"}, "emails": [{"value": "a@x"}]})
        );
        let p = Projection::parse(
            rt,
            None,
            Some("emails,id,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
        )
        .unwrap();
        let r = p.apply(rt, user());
        assert!(r.get("emails").is_none());
        assert_eq!(r["id"], "1");
        assert_eq!(r[ENTERPRISE_USER_URN], json!({"employeeNumber": "7"}));
        let p = Projection::parse(
            rt,
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
            None,
        )
        .unwrap();
        let r = p.apply(rt, user());
        assert_eq!(r[ENTERPRISE_USER_URN], json!({"department": "D"}));
        assert_eq!(r["schemas"], json!([schema::USER_URN, ENTERPRISE_USER_URN]));
        assert!(Projection::parse(rt, Some("a b"), None).is_err());
    }
}
