//! Validation and normalisation of resource documents sent by clients (POST, PUT, and the
//! result of a PATCH), and assembly of the documents returned to them.
//!
//! The stored document keeps core attributes at the top level and extension attributes under
//! their schema URN, with attribute names in the schema's spelling and values as sent
//! (RFC 7643 §2.1: attribute names are case-insensitive; Entra asks that values be stored
//! exactly as sent). `id`, `meta`, `schemas` and read-only attributes are never stored in it.

use serde_json::{Map, Value};

use crate::scim::ScimError;
use crate::scim::filter::AttrKind;
use crate::scim::schema::{Attribute, Mutability, ResourceType};

/// A normalised document: see the module comment.
pub type Document = Map<String, Value>;

/// Validates `input` against `rt` and returns the document to store.
///
/// Leniency, from what identity providers really send (DESIGN.md, *IdP leniency*): unknown
/// attributes are ignored; read-only attributes (`id`, `meta`, `groups`) are ignored
/// (RFC 7644 §3.5.1); `password` is accepted and dropped; `null` means unassigned; booleans may
/// be the strings `"True"`/`"False"` (Entra without its compliance flag, OneLogin templates);
/// the enterprise `manager` may be a bare id string (Entra).
pub fn normalize(rt: &ResourceType, input: &Value) -> Result<Document, ScimError> {
    let Value::Object(obj) = input else {
        return Err(ScimError::InvalidSyntax(
            "the request body must be a JSON object".into(),
        ));
    };
    let mut doc = Document::new();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(ext) = rt.extension(key) {
            match value {
                Value::Null => {}
                Value::Object(ext_obj) => {
                    for (k, v) in ext_obj {
                        if let Some(attr) = ext.attr(k) {
                            put(&mut doc, Some(ext.id), attr, v)?;
                        }
                    }
                }
                _ => {
                    return Err(ScimError::InvalidValue(format!(
                        "'{}' must be an object of extension attributes",
                        ext.id
                    )));
                }
            }
            continue;
        }
        // A fully qualified attribute name, e.g. `urn:…:enterprise:2.0:User:department`.
        let (urn, name) = match rt.split_urn(key) {
            Some((urn, rest)) => (Some(urn), rest),
            None => (None, key.as_str()),
        };
        let Some((schema_id, attr)) = rt.resolve(urn, name) else {
            continue; // unknown attribute: ignored
        };
        let ext = (schema_id != rt.core.id).then_some(schema_id);
        put(&mut doc, ext, attr, value)?;
    }
    for attr in rt.core.attributes.iter().filter(|a| a.required) {
        match doc.get(attr.name) {
            None => {
                return Err(ScimError::InvalidValue(format!(
                    "'{}' is required",
                    attr.name
                )));
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                return Err(ScimError::InvalidValue(format!(
                    "'{}' must not be empty",
                    attr.name
                )));
            }
            Some(_) => {}
        }
    }
    Ok(doc)
}

/// Normalises one attribute value and stores it under its canonical name.
fn put(
    doc: &mut Document,
    ext: Option<&'static str>,
    attr: &Attribute,
    value: &Value,
) -> Result<(), ScimError> {
    if matches!(
        attr.mutability,
        Mutability::ReadOnly | Mutability::WriteOnly
    ) {
        return Ok(());
    }
    let Some(v) = normalize_attr(attr, value, attr.name)? else {
        if let Some(urn) = ext {
            if let Some(Value::Object(m)) = doc.get_mut(urn) {
                m.remove(attr.name);
            }
        } else {
            doc.remove(attr.name);
        }
        return Ok(());
    };
    match ext {
        None => {
            doc.insert(attr.name.to_owned(), v);
        }
        Some(urn) => {
            let slot = doc
                .entry(urn.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = slot {
                m.insert(attr.name.to_owned(), v);
            }
        }
    }
    Ok(())
}

/// Normalises `value` for `attr`; `Ok(None)` means unassigned (null, empty array, empty object).
pub fn normalize_attr(
    attr: &Attribute,
    value: &Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if attr.multi_valued {
        let Value::Array(items) = value else {
            return Err(ScimError::InvalidValue(format!(
                "'{path}' is multi-valued and must be an array"
            )));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = normalize_single(attr, item, path)? {
                out.push(v);
            }
        }
        if attr.kind == AttrKind::Complex {
            // RFC 7643 §2.4: "primary" true appears no more than once.
            let primaries = out
                .iter()
                .filter(|v| v.get("primary") == Some(&Value::Bool(true)))
                .count();
            if primaries > 1 {
                return Err(ScimError::InvalidValue(format!(
                    "at most one value of '{path}' may be primary"
                )));
            }
        }
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    normalize_single(attr, value, path)
}

fn normalize_single(
    attr: &Attribute,
    value: &Value,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if attr.kind != AttrKind::Complex {
        return scalar(attr.kind, value, path).map(Some);
    }
    let obj = match value {
        Value::Object(o) => o,
        // Entra sends the enterprise manager as a bare id (SCIM-SDK #686, scimple #1242).
        Value::String(s) if attr.sub("value").is_some() && attr.name == "manager" => {
            let mut m = Map::new();
            m.insert("value".into(), Value::String(s.clone()));
            return Ok(Some(Value::Object(m)));
        }
        _ => {
            return Err(ScimError::InvalidValue(format!(
                "'{path}' must be an object"
            )));
        }
    };
    let mut out = Map::new();
    for (k, v) in obj {
        let Some(sub) = attr.sub(k) else { continue };
        if matches!(sub.mutability, Mutability::ReadOnly | Mutability::WriteOnly) {
            continue;
        }
        let sub_path = format!("{path}.{}", sub.name);
        if let Some(v) = normalize_single(sub, v, &sub_path)? {
            out.insert(sub.name.to_owned(), v);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

fn scalar(kind: AttrKind, value: &Value, path: &str) -> Result<Value, ScimError> {
    let wrong = |what: &str| {
        ScimError::InvalidValue(format!("'{path}' must be {what}, not {}", describe(value)))
    };
    match kind {
        AttrKind::String | AttrKind::Reference | AttrKind::Binary => match value {
            Value::String(_) => Ok(value.clone()),
            _ => Err(wrong("a string")),
        },
        AttrKind::Boolean => match value {
            Value::Bool(_) => Ok(value.clone()),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(wrong("a boolean")),
        },
        AttrKind::Integer => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(value.clone()),
            _ => Err(wrong("an integer")),
        },
        AttrKind::Decimal => match value {
            Value::Number(_) => Ok(value.clone()),
            _ => Err(wrong("a number")),
        },
        AttrKind::DateTime => match value {
            Value::String(s)
                if time::OffsetDateTime::parse(
                    s,
                    &time::format_description::well_known::Rfc3339,
                )
                .is_ok() =>
            {
                Ok(value.clone())
            }
            _ => Err(wrong("an RFC 3339 date-time string")),
        },
        AttrKind::Complex => Err(wrong("an object")),
    }
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The `schemas` list of a stored document: the core schema, then each extension present.
pub fn schemas_of(rt: &ResourceType, doc: &Document) -> Vec<Value> {
    std::iter::once(rt.core.id)
        .chain(
            rt.extensions
                .iter()
                .map(|(s, _)| s.id)
                .filter(|id| doc.contains_key(*id)),
        )
        .map(|s| Value::String(s.to_owned()))
        .collect()
}

/// A stored document as the store wrote it: the compact JSON text (`serde_json::to_string`) of a
/// [`Document`]. A list page is written out from these texts without parsing them
/// ([`write_resource`]); anything that needs the values parses it ([`DocText::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocText(String);

impl DocText {
    /// Wraps text read from the store's `doc` column.
    pub fn new(text: String) -> Self {
        DocText(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The document, or None when the text is not a JSON object (a corrupt row).
    pub fn parse(&self) -> Option<Document> {
        match serde_json::from_str(&self.0) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        }
    }

    /// Whether the text has `key` as a member name. In compact JSON text a name is the only
    /// place where `"key":` can occur: inside a string every `"` is escaped, and a string value
    /// is followed by `,`, `}` or `]`. A stored document's only objects are its top level,
    /// its extensions and complex attributes with their schema's sub-attribute names.
    fn has_key(&self, key: &str) -> bool {
        let t = self.0.as_bytes();
        let k = key.as_bytes();
        t.windows(k.len() + 3).any(|w| {
            w[0] == b'"' && &w[1..=k.len()] == k && w[k.len() + 1] == b'"' && w[k.len() + 2] == b':'
        })
    }

    /// The members of the top-level object, without its braces; None if the text is not
    /// shaped like one.
    fn members(&self) -> Option<&str> {
        self.0
            .trim()
            .strip_prefix('{')?
            .strip_suffix('}')
            .map(str::trim)
    }
}

/// Writes, as JSON, exactly what `to_resource` returns for `doc` with the attributes of
/// `derived` (computed at read time: a user's `groups`, a group's `members`, the provisioning
/// extension) appended — without parsing the stored text: its members are copied as they are.
/// Returns false, having written nothing, when that cannot be done safely (the text is not an
/// object, or already holds a name of `derived`); the caller then takes the parsing path.
pub fn write_resource(
    out: &mut Vec<u8>,
    rt: &ResourceType,
    meta: &Meta,
    doc: &DocText,
    derived: &[(&str, Value)],
    base_url: &str,
) -> bool {
    let names: Vec<&str> = derived.iter().map(|(k, _)| *k).collect();
    write_resource_with(out, rt, meta, doc, &names, base_url, |out| {
        for (k, v) in derived {
            out.push(b',');
            let _ = serde_json::to_writer(&mut *out, k);
            out.push(b':');
            let _ = serde_json::to_writer(&mut *out, v);
        }
    })
}

/// [`write_resource`] with the derived attributes written by `write_derived`, which appends
/// each as `,"name":value` (a large group's `members` straight from its rows). `derived`
/// names them, in the order written.
pub fn write_resource_with(
    out: &mut Vec<u8>,
    rt: &ResourceType,
    meta: &Meta,
    doc: &DocText,
    derived: &[&str],
    base_url: &str,
    write_derived: impl FnOnce(&mut Vec<u8>),
) -> bool {
    let Some(members) = doc.members() else {
        return false;
    };
    if derived.iter().any(|k| doc.has_key(k)) {
        return false;
    }
    let string = |out: &mut Vec<u8>, s: &str| {
        // Writing JSON into a Vec<u8> cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    };
    out.extend_from_slice(b"{\"schemas\":[");
    string(out, rt.core.id);
    for (ext, _) in &rt.extensions {
        if doc.has_key(ext.id) || derived.contains(&ext.id) {
            out.push(b',');
            string(out, ext.id);
        }
    }
    out.extend_from_slice(b"],\"id\":");
    string(out, &meta.id);
    if !members.is_empty() {
        out.push(b',');
        out.extend_from_slice(members.as_bytes());
    }
    write_derived(out);
    out.extend_from_slice(b",\"meta\":{\"resourceType\":");
    string(out, rt.name);
    out.extend_from_slice(b",\"created\":");
    string(out, &meta.created);
    out.extend_from_slice(b",\"lastModified\":");
    string(out, &meta.last_modified);
    out.extend_from_slice(b",\"location\":");
    string(out, &format!("{base_url}{}/{}", rt.endpoint, meta.id));
    out.extend_from_slice(b",\"version\":");
    string(out, &meta.etag());
    out.extend_from_slice(b"}}");
    true
}

/// Server-maintained metadata of a resource (RFC 7643 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub id: String,
    pub created: String,
    pub last_modified: String,
    pub version: i64,
}

impl Meta {
    /// The weak ETag of this version (RFC 7644 §3.14).
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }
}

/// The full resource as returned: `schemas`, `id`, the document, `meta`.
pub fn to_resource(rt: &ResourceType, meta: &Meta, doc: &Document, base_url: &str) -> Value {
    to_resource_owned(rt, meta, doc.clone(), base_url)
}

/// [`to_resource`] consuming the document: its values move instead of being copied.
pub fn to_resource_owned(rt: &ResourceType, meta: &Meta, doc: Document, base_url: &str) -> Value {
    let mut out = Map::with_capacity(doc.len() + 3);
    out.insert("schemas".into(), Value::Array(schemas_of(rt, &doc)));
    out.insert("id".into(), Value::String(meta.id.clone()));
    for (k, v) in doc {
        out.insert(k, v);
    }
    let mut m = Map::with_capacity(5);
    m.insert("resourceType".into(), Value::String(rt.name.to_owned()));
    m.insert("created".into(), Value::String(meta.created.clone()));
    m.insert(
        "lastModified".into(),
        Value::String(meta.last_modified.clone()),
    );
    m.insert(
        "location".into(),
        Value::String(format!("{base_url}{}/{}", rt.endpoint, meta.id)),
    );
    m.insert("version".into(), Value::String(meta.etag()));
    out.insert("meta".into(), Value::Object(m));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::scim::schema::{self, ENTERPRISE_USER_URN, PROVISIONING_URN as PROVISIONING};
    use serde_json::json;

    #[test]
    fn okta_create_body_normalises() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": true,
            "customThing": 5
        });
        let doc = normalize(schema::user(), &body).unwrap();
        assert_eq!(doc["userName"], "test.user@okta.local");
        assert_eq!(doc["externalId"], "00ujl29u0le5T6Aj10h7");
        assert!(!doc.contains_key("password"));
        assert!(!doc.contains_key("groups"));
        assert!(!doc.contains_key("customThing"));
        assert!(!doc.contains_key("schemas"));
    }

    #[test]
    fn leniency_and_canonical_names() {
        let body = json!({
            "USERNAME": "a", "Active": "False", "id": null,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": "m1", "EmployeeNumber": "7"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D",
            "urn:ietf:params:scim:schemas:core:2.0:User:title": "Boss",
        });
        let doc = normalize(schema::user(), &body).unwrap();
        assert_eq!(doc["userName"], "a");
        assert_eq!(doc["active"], false);
        assert_eq!(doc["title"], "Boss");
        let ext = &doc[ENTERPRISE_USER_URN];
        assert_eq!(ext["manager"], json!({"value": "m1"}));
        assert_eq!(ext["employeeNumber"], "7");
        assert_eq!(ext["department"], "R&D");
    }

    #[test]
    fn errors() {
        let u = schema::user();
        let e = normalize(u, &json!({"name": {"givenName": "x"}})).unwrap_err();
        assert_eq!(e.scim_type(), Some("invalidValue"));
        assert!(e.detail().contains("userName"));
        let e = normalize(u, &json!({"userName": 5})).unwrap_err();
        assert_eq!(e.scim_type(), Some("invalidValue"));
        let e = normalize(u, &json!({"userName": "a", "active": "yes"})).unwrap_err();
        assert!(e.detail().contains("active"));
        let e = normalize(u, &json!({"userName": "a", "emails": {"value": "x"}})).unwrap_err();
        assert!(e.detail().contains("array"));
        let e = normalize(u, &json!({"userName": "a", "emails": [{"value": "x", "primary": true}, {"value": "y", "primary": true}]})).unwrap_err();
        assert!(e.detail().contains("primary"));
        let e = normalize(u, &json!([1])).unwrap_err();
        assert_eq!(e.scim_type(), Some("invalidSyntax"));
    }

    /// The spliced text is the resource `to_resource` builds, member for member and in order.
    #[test]
    fn write_resource_matches_to_resource() {
        let u = schema::user();
        let meta = Meta {
            id: "8c1e\"x".into(),
            created: "2026-01-01T00:00:00.000Z".into(),
            last_modified: "2026-01-02T00:00:00.000Z".into(),
            version: 7,
        };
        let bodies = [
            json!({"userName": "a"}),
            json!({"userName": "b\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":x", "displayName": "groups\":[]",
                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "d", "manager": "m"},
                   "emails": [{"value": "b@x.test", "type": "work", "primary": true}], "active": false}),
        ];
        let derived = [
            ("groups", json!([{"value": "g1", "display": "G"}])),
            (PROVISIONING, json!({"source": {"type": "manual"}})),
        ];
        for body in bodies {
            let doc = normalize(u, &body).unwrap();
            let text = DocText::new(serde_json::to_string(&doc).unwrap());
            for n in 0..=derived.len() {
                let mut full = doc.clone();
                for (k, v) in &derived[..n] {
                    full.insert((*k).to_owned(), v.clone());
                }
                let want = to_resource(u, &meta, &full, "https://h/scim/v2/x");
                let mut out = Vec::new();
                assert!(write_resource(
                    &mut out,
                    u,
                    &meta,
                    &text,
                    &derived[..n],
                    "https://h/scim/v2/x"
                ));
                assert_eq!(String::from_utf8(out).unwrap(), want.to_string());
            }
        }
        // A stored text that already has a derived name, or is not an object, is refused.
        let mut out = Vec::new();
        let text = DocText::new(r#"{"userName":"a","groups":[]}"#.into());
        assert!(!write_resource(&mut out, u, &meta, &text, &derived, "h"));
        assert!(!write_resource(
            &mut out,
            u,
            &meta,
            &DocText::new("[1]".into()),
            &[],
            "h"
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn resource_shape() {
        let u = schema::user();
        let doc = normalize(u, &json!({"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "d"}})).unwrap();
        let meta = Meta {
            id: "i1".into(),
            created: "2026-01-01T00:00:00.000Z".into(),
            last_modified: "2026-01-01T00:00:00.000Z".into(),
            version: 3,
        };
        let r = to_resource(u, &meta, &doc, "https://h/scim/v2/x");
        assert_eq!(r["schemas"], json!([schema::USER_URN, ENTERPRISE_USER_URN]));
        assert_eq!(r["meta"]["location"], "https://h/scim/v2/x/Users/i1");
        assert_eq!(r["meta"]["version"], "W/\"3\"");
    }
}
