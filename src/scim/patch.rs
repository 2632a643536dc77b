//! The PATCH engine (RFC 7644 §3.5.2): parses a PatchOp message and applies its operations to
//! a stored document, all or nothing. The caller validates the result with
//! [`resource::normalize`](crate::scim::resource::normalize), so type rules live in one place.
//!
//! Dialects handled here, each from a field report (`scim-field-notes.md` §6):
//! - `op` is case-insensitive (Entra sends `Add`, `Replace`, `Remove`);
//! - a path-less value object may use dotted keys (`name.givenName`) and fully qualified
//!   extension keys (`urn:…:enterprise:2.0:User:employeeNumber`), as Entra sends;
//! - a path-less value may carry `id` (Okta's group rename): read-only keys there are ignored;
//! - `remove` of a multi-valued attribute with a value array and no filter removes just those
//!   values (Entra's member removal);
//! - `"True"`/`"False"` strings for booleans are coerced by `normalize`.

use serde_json::{Map, Value};

use crate::scim::ScimError;
use crate::scim::filter::{self, AttrPath, Filter, PatchPath, parse_path};
use crate::scim::resource::Document;
use crate::scim::schema::{self, Attribute, Mutability, ResourceType, Schema};

pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The most operations one PATCH request may carry.
pub const MAX_OPERATIONS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub kind: OpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// Parses a PatchOp message body.
pub fn parse(body: &Value) -> Result<Vec<PatchOp>, ScimError> {
    let Value::Object(obj) = body else {
        return Err(ScimError::InvalidSyntax(
            "a PATCH body must be a JSON object".into(),
        ));
    };
    let ops = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .map(|(_, v)| v)
        .ok_or_else(|| {
            ScimError::InvalidSyntax("a PATCH body needs an 'Operations' array".into())
        })?;
    let Value::Array(ops) = ops else {
        return Err(ScimError::InvalidSyntax(
            "'Operations' must be an array".into(),
        ));
    };
    if ops.is_empty() {
        return Err(ScimError::InvalidSyntax("'Operations' is empty".into()));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::InvalidSyntax(format!(
            "a PATCH request may carry at most {MAX_OPERATIONS} operations"
        )));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_op(i, op))
        .collect()
}

fn parse_op(i: usize, op: &Value) -> Result<PatchOp, ScimError> {
    let Value::Object(op) = op else {
        return Err(ScimError::InvalidSyntax(format!(
            "operation {i} must be an object"
        )));
    };
    let field = |name: &str| {
        op.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let kind = match field("op") {
        Some(Value::String(s)) if s.eq_ignore_ascii_case("add") => OpKind::Add,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("replace") => OpKind::Replace,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("remove") => OpKind::Remove,
        Some(other) => {
            return Err(ScimError::InvalidSyntax(format!(
                "operation {i}: 'op' must be add, replace or remove, not {other}"
            )));
        }
        None => {
            return Err(ScimError::InvalidSyntax(format!(
                "operation {i} has no 'op'"
            )));
        }
    };
    let path = match field("path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(parse_path(s).map_err(|e| {
            ScimError::InvalidPath(format!("operation {i}: invalid path '{s}': {e}"))
        })?),
        Some(_) => {
            return Err(ScimError::InvalidPath(format!(
                "operation {i}: 'path' must be a string"
            )));
        }
    };
    let value = field("value").cloned();
    match kind {
        OpKind::Remove if path.is_none() => {
            // RFC 7644 §3.5.2.2: a remove without a path fails with noTarget.
            return Err(ScimError::NoTarget(format!(
                "operation {i}: 'remove' needs a 'path'"
            )));
        }
        OpKind::Add | OpKind::Replace if value.is_none() => {
            return Err(ScimError::InvalidValue(format!(
                "operation {i}: '{}' needs a 'value'",
                if kind == OpKind::Add {
                    "add"
                } else {
                    "replace"
                }
            )));
        }
        _ => {}
    }
    Ok(PatchOp { kind, path, value })
}

/// Applies `ops` in order to `doc`. On error `doc` may be partly changed: callers apply to a
/// copy and keep the original when this fails (all or nothing, RFC 7644 §3.5.2).
pub fn apply(rt: &ResourceType, doc: &mut Document, ops: &[PatchOp]) -> Result<(), ScimError> {
    for op in ops {
        match &op.path {
            Some(path) => match whole_schema(rt, path)? {
                Some(schema) if schema.id == rt.core.id => {
                    apply_core(rt, doc, op.kind, schema.id, op.value.as_ref())?;
                }
                Some(ext) => apply_extension(rt, doc, op.kind, ext, op.value.as_ref())?,
                None => apply_path(rt, doc, op.kind, path, op.value.as_ref(), true)?,
            },
            None => apply_pathless(rt, doc, op.kind, op.value.as_ref())?,
        }
    }
    Ok(())
}

/// The schema a path names as a whole (`"path": "urn:…:enterprise:2.0:User"`), which the
/// path syntax reads as URN `urn:…:enterprise:2.0` and attribute `User`. A path that names,
/// whole or as a prefix, a schema this server knows but not for `rt` (the enterprise extension
/// on a Group) is `invalidPath` (RFC 7644 §3.5.2: the path does not apply to this resource).
fn whole_schema<'a>(
    rt: &'a ResourceType,
    path: &PatchPath,
) -> Result<Option<&'a Schema>, ScimError> {
    let Some(urn) = path.attr.urn.as_deref() else {
        return Ok(None);
    };
    let whole = (path.filter.is_none() && path.sub.is_none() && path.attr.sub.is_none())
        .then(|| format!("{urn}:{}", path.attr.name));
    let own = |id: &str| {
        std::iter::once(&rt.core)
            .chain(rt.extensions.iter().map(|(s, _)| s))
            .find(|s| s.id.eq_ignore_ascii_case(id))
    };
    if let Some(s) = whole.as_deref().and_then(own) {
        return Ok(Some(s));
    }
    let foreign = schema::resource_types()
        .into_iter()
        .flat_map(|t| std::iter::once(&t.core).chain(t.extensions.iter().map(|(s, _)| s)))
        .find(|s| {
            whole
                .as_deref()
                .is_some_and(|w| s.id.eq_ignore_ascii_case(w))
                || s.id.eq_ignore_ascii_case(urn)
        });
    match foreign {
        Some(s) if own(s.id).is_none() => Err(ScimError::InvalidPath(format!(
            "'{}' is not a schema of the {} resource type",
            s.id, rt.name
        ))),
        _ => Ok(None),
    }
}

/// A path naming the resource's own core schema: add and replace take the value object as a
/// path-less operation would; remove would remove the resource, which PATCH does not do.
fn apply_core(
    rt: &ResourceType,
    doc: &mut Document,
    kind: OpKind,
    urn: &str,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    if kind == OpKind::Remove {
        return Err(ScimError::InvalidPath(format!(
            "'{urn}' is the resource itself; remove its attributes one by one, or DELETE it"
        )));
    }
    apply_pathless(rt, doc, kind, value)
}

/// An operation on a whole extension (issue 15 item 2): `add` merges the value's attributes
/// into the extension object, creating it; `replace` makes the extension exactly the value's
/// writable attributes; `remove` removes it. The extension's `schemas` entry follows from its
/// presence ([`schemas_of`](crate::scim::resource::schemas_of)). An extension whose every
/// attribute is read-only (the provisioning extension) cannot be written: `mutability`.
/// Attributes of the value that are read-only or unknown are ignored, as in a path-less value.
fn apply_extension(
    rt: &ResourceType,
    doc: &mut Document,
    kind: OpKind,
    ext: &Schema,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    if ext
        .attributes
        .iter()
        .all(|a| a.mutability == Mutability::ReadOnly)
    {
        return Err(ScimError::Mutability(format!("'{}' is read-only", ext.id)));
    }
    let obj = match (kind, value) {
        (OpKind::Remove, _) => None,
        (_, Some(Value::Object(obj))) => Some(obj),
        _ => {
            return Err(ScimError::InvalidValue(format!(
                "the value for '{}' must be an object of its attributes",
                ext.id
            )));
        }
    };
    let attr_path = |name: &str| PatchPath {
        attr: AttrPath {
            urn: Some(ext.id.to_owned()),
            name: name.to_owned(),
            sub: None,
        },
        filter: None,
        sub: None,
    };
    if kind != OpKind::Add {
        // Clear what the extension lets a client write; read-only and immutable values stay.
        for a in ext
            .attributes
            .iter()
            .filter(|a| matches!(a.mutability, Mutability::ReadWrite | Mutability::WriteOnly))
        {
            apply_path(rt, doc, OpKind::Remove, &attr_path(a.name), None, false)?;
        }
    }
    for (k, v) in obj.into_iter().flatten() {
        apply_path(rt, doc, OpKind::Add, &attr_path(k), Some(v), false)?;
    }
    // An extension left with nothing in it is not present (and leaves `schemas`).
    let empty = doc
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(ext.id))
        .is_some_and(|(_, v)| v.as_object().is_some_and(Map::is_empty));
    if empty {
        doc.retain(|k, _| !k.eq_ignore_ascii_case(ext.id));
    }
    Ok(())
}

/// A path-less add or replace: each key of the value object is a path of its own.
fn apply_pathless(
    rt: &ResourceType,
    doc: &mut Document,
    kind: OpKind,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let Some(Value::Object(obj)) = value else {
        return Err(ScimError::InvalidValue(
            "an operation without a 'path' needs an object 'value'".into(),
        ));
    };
    for (key, v) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(ext) = rt.extension(key) {
            let Value::Object(ext_obj) = v else {
                return Err(ScimError::InvalidValue(format!(
                    "'{}' must be an object",
                    ext.id
                )));
            };
            for (k, sv) in ext_obj {
                let path = PatchPath {
                    attr: AttrPath {
                        urn: Some(ext.id.to_owned()),
                        name: k.clone(),
                        sub: None,
                    },
                    filter: None,
                    sub: None,
                };
                apply_path(rt, doc, kind, &path, Some(sv), false)?;
            }
            continue;
        }
        let path = parse_path(key)
            .map_err(|e| ScimError::InvalidPath(format!("invalid attribute name '{key}': {e}")))?;
        apply_path(rt, doc, kind, &path, Some(v), false)?;
    }
    Ok(())
}

/// Where an attribute lives: the document itself or an extension object inside it.
fn container<'a>(
    doc: &'a mut Document,
    schema_id: &str,
    rt: &ResourceType,
    create: bool,
) -> Option<&'a mut Map<String, Value>> {
    if schema_id == rt.core.id {
        return Some(doc);
    }
    if !doc.contains_key(schema_id) {
        if !create {
            return None;
        }
        doc.insert(schema_id.to_owned(), Value::Object(Map::new()));
    }
    match doc.get_mut(schema_id) {
        Some(Value::Object(m)) => Some(m),
        _ => None,
    }
}

fn apply_path(
    rt: &ResourceType,
    doc: &mut Document,
    kind: OpKind,
    path: &PatchPath,
    value: Option<&Value>,
    explicit: bool,
) -> Result<(), ScimError> {
    let urn = path
        .attr
        .urn
        .as_deref()
        .filter(|u| !u.eq_ignore_ascii_case(rt.core.id));
    let Some((schema_id, attr)) = rt.resolve(urn, &path.attr.name) else {
        // Unknown attributes are ignored, as on create (DESIGN.md, IdP leniency).
        return Ok(());
    };
    let sub_name = path.attr.sub.as_deref().or(path.sub.as_deref());
    let sub = match sub_name {
        Some(s) => match attr.sub(s) {
            Some(sa) => Some(sa),
            None if attr.kind == filter::AttrKind::Complex => return Ok(()), // unknown sub-attribute
            None => {
                return Err(ScimError::InvalidPath(format!(
                    "'{}' has no sub-attributes",
                    attr.name
                )));
            }
        },
        None => None,
    };
    let target_mutability = sub.map_or(attr.mutability, |s| {
        if attr.mutability == Mutability::ReadOnly {
            attr.mutability
        } else {
            s.mutability
        }
    });
    match target_mutability {
        Mutability::ReadOnly if explicit => {
            return Err(ScimError::Mutability(format!(
                "'{}' is read-only",
                display_path(attr, sub)
            )));
        }
        // Read-only keys in a path-less value (Okta sends `id`) and write-only ones
        // (`password`, never stored) are ignored.
        Mutability::ReadOnly | Mutability::WriteOnly => return Ok(()),
        _ => {}
    }
    if path.filter.is_some() && !attr.multi_valued {
        return Err(ScimError::InvalidPath(format!(
            "a value filter needs a multi-valued attribute; '{}' is single-valued",
            attr.name
        )));
    }
    let Some(holder) = container(doc, schema_id, rt, kind != OpKind::Remove) else {
        return Ok(()); // removing from an extension that is not there
    };
    match (&path.filter, sub) {
        (None, None) => whole(holder, attr, kind, value),
        (None, Some(sa)) => {
            if attr.multi_valued {
                if kind == OpKind::Remove {
                    if let Some(Value::Array(items)) = holder.get_mut(attr.name) {
                        for item in items.iter_mut() {
                            if let Value::Object(m) = item {
                                m.remove(sa.name);
                            }
                        }
                    }
                    return Ok(());
                }
                return Err(ScimError::InvalidPath(format!(
                    "'{}.{}' selects every value of '{}'; use a value filter such as {}[type eq \"work\"].{}",
                    attr.name, sa.name, attr.name, attr.name, sa.name
                )));
            }
            let slot = holder
                .entry(attr.name.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(m) = slot {
                match kind {
                    OpKind::Remove => {
                        m.remove(sa.name);
                    }
                    _ => {
                        m.insert(sa.name.to_owned(), value.cloned().unwrap_or(Value::Null));
                    }
                }
            }
            Ok(())
        }
        (Some(f), sa) => filtered(rt, schema_id, holder, attr, f, sa, kind, value),
    }
}

fn display_path(attr: &Attribute, sub: Option<&Attribute>) -> String {
    match sub {
        Some(s) => format!("{}.{}", attr.name, s.name),
        None => attr.name.to_owned(),
    }
}

/// An operation on a whole attribute.
fn whole(
    holder: &mut Map<String, Value>,
    attr: &Attribute,
    kind: OpKind,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let name = attr.name;
    match kind {
        OpKind::Remove => {
            match (value, attr.multi_valued) {
                // Entra: {"op":"Remove","path":"members","value":[{"value":"id"}]}
                (Some(Value::Array(gone)), true) => {
                    if let Some(Value::Array(items)) = holder.get_mut(name) {
                        items.retain(|item| !gone.iter().any(|g| same_value(attr, item, g)));
                        if items.is_empty() {
                            holder.remove(name);
                        }
                    }
                }
                _ => {
                    holder.remove(name);
                }
            }
            Ok(())
        }
        OpKind::Replace => {
            let v = value.cloned().unwrap_or(Value::Null);
            if attr.multi_valued {
                // RFC 7644 §3.5.2.3: replace of a multi-valued attribute replaces all values;
                // an empty array empties it (Okta's push of an empty group).
                let items = as_array(v);
                if items.is_empty() {
                    holder.remove(name);
                } else {
                    holder.insert(name.to_owned(), Value::Array(items));
                }
            } else if attr.kind == filter::AttrKind::Complex && v.is_object() {
                // Sub-attributes not given are left unchanged (RFC 7644 §3.5.2.3).
                merge_into(holder, name, v);
            } else if v.is_null() {
                holder.remove(name);
            } else {
                holder.insert(name.to_owned(), v);
            }
            Ok(())
        }
        OpKind::Add => {
            let v = value.cloned().unwrap_or(Value::Null);
            if attr.multi_valued {
                // RFC 7644 §3.5.2.1: values are added; one already present is not duplicated.
                let new_items = as_array(v);
                let slot = holder
                    .entry(name.to_owned())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if !slot.is_array() {
                    *slot = Value::Array(Vec::new());
                }
                if let Value::Array(items) = slot {
                    for n in new_items {
                        match items.iter_mut().find(|e| same_value(attr, e, &n)) {
                            Some(existing) => {
                                if let (Value::Object(e), Value::Object(nm)) = (existing, &n) {
                                    for (k, v) in nm {
                                        e.insert(k.clone(), v.clone());
                                    }
                                }
                            }
                            None => items.push(n),
                        }
                    }
                    if items.is_empty() {
                        holder.remove(name);
                    }
                }
            } else if attr.kind == filter::AttrKind::Complex && v.is_object() {
                merge_into(holder, name, v);
            } else if !v.is_null() {
                holder.insert(name.to_owned(), v);
            }
            Ok(())
        }
    }
}

fn as_array(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn merge_into(holder: &mut Map<String, Value>, name: &str, v: Value) {
    let slot = holder
        .entry(name.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let (Value::Object(existing), Value::Object(new)) = (slot, v) {
        for (k, v) in new {
            existing.insert(k, v);
        }
    }
}

/// Two values of a multi-valued attribute are the same when their `value` sub-attributes are
/// equal (by the attribute's caseExact rule), or, without one, when they are equal as JSON.
fn same_value(attr: &Attribute, a: &Value, b: &Value) -> bool {
    let case_exact = attr.sub("value").map_or(attr.case_exact, |s| s.case_exact);
    let key = |v: &Value| -> Option<Value> {
        match v {
            Value::Object(m) => m
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("value"))
                .map(|(_, v)| v.clone()),
            other => Some(other.clone()),
        }
    };
    match (key(a), key(b)) {
        (Some(Value::String(x)), Some(Value::String(y))) if !case_exact => {
            caseless::default_case_fold_str(&x) == caseless::default_case_fold_str(&y)
        }
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// An operation on the values of `attr` selected by `filter` (`emails[type eq "work"].value`).
#[allow(clippy::too_many_arguments)]
fn filtered(
    rt: &ResourceType,
    schema_id: &str,
    holder: &mut Map<String, Value>,
    attr: &Attribute,
    f: &Filter,
    sub: Option<&Attribute>,
    kind: OpKind,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let name = attr.name;
    let urn = (schema_id != rt.core.id).then_some(schema_id);
    let selector = Filter::ValuePath {
        attr: AttrPath {
            urn: urn.map(str::to_owned),
            name: name.to_owned(),
            sub: None,
        },
        filter: Box::new(f.clone()),
    };
    let hit = |item: &Value| -> bool {
        // Evaluate on a one-value resource so the filter sees the element in its place.
        let mut one = Map::new();
        one.insert(name.to_owned(), Value::Array(vec![item.clone()]));
        let probe = match urn {
            Some(u) => {
                let mut outer = Map::new();
                outer.insert(u.to_owned(), Value::Object(one));
                Value::Object(outer)
            }
            None => Value::Object(one),
        };
        filter::matches(&selector, &probe, rt)
    };
    let items = match holder.get_mut(name) {
        Some(Value::Array(items)) => items,
        _ => {
            holder.remove(name);
            holder.insert(name.to_owned(), Value::Array(Vec::new()));
            match holder.get_mut(name) {
                Some(Value::Array(items)) => items,
                _ => return Err(ScimError::Internal("unreachable".into())),
            }
        }
    };
    let matched: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, v)| hit(v))
        .map(|(i, _)| i)
        .collect();
    match kind {
        OpKind::Remove => match sub {
            None => {
                let mut i = 0;
                items.retain(|_| {
                    let keep = !matched.contains(&i);
                    i += 1;
                    keep
                });
            }
            Some(sa) => {
                for &i in &matched {
                    if let Some(Value::Object(m)) = items.get_mut(i) {
                        m.remove(sa.name);
                    }
                }
            }
        },
        OpKind::Add | OpKind::Replace => {
            let v = value.cloned().unwrap_or(Value::Null);
            if matched.is_empty() {
                if kind == OpKind::Replace {
                    if items.is_empty() {
                        holder.remove(name);
                    }
                    // RFC 7644 §3.5.2.3: a value filter that matches nothing is noTarget.
                    return Err(ScimError::NoTarget(format!(
                        "no value of '{name}' matches the filter"
                    )));
                }
                // add: create the value the filter describes (its `eq` terms) with the new data.
                let mut new = Map::new();
                collect_equalities(f, &mut new);
                match sub {
                    Some(sa) => {
                        new.insert(sa.name.to_owned(), v);
                    }
                    None => {
                        if let Value::Object(m) = v {
                            for (k, v) in m {
                                new.insert(k, v);
                            }
                        }
                    }
                }
                // A value without its `value` (`add aliases[type eq "email"].primary` when no
                // alias has that type) would be dropped as incomplete: say so instead of
                // answering 200 for nothing (issue 15 item 2).
                if attr.sub("value").is_some()
                    && !new.keys().any(|k| k.eq_ignore_ascii_case("value"))
                {
                    return Err(ScimError::NoTarget(format!(
                        "no value of '{name}' matches the filter, and the value it would create has no 'value'"
                    )));
                }
                items.push(Value::Object(new));
            } else {
                for &i in &matched {
                    let Some(Value::Object(m)) = items.get_mut(i) else {
                        continue;
                    };
                    match sub {
                        Some(sa) => {
                            m.insert(sa.name.to_owned(), v.clone());
                        }
                        None => match &v {
                            Value::Object(nm) if kind == OpKind::Add => {
                                for (k, v) in nm {
                                    m.insert(k.clone(), v.clone());
                                }
                            }
                            Value::Object(nm) => {
                                *m = nm.clone();
                            }
                            _ => {
                                return Err(ScimError::InvalidValue(format!(
                                    "a value of '{name}' must be an object"
                                )));
                            }
                        },
                    }
                }
            }
        }
    }
    if items.is_empty() {
        holder.remove(name);
    }
    Ok(())
}

/// The `attr eq value` terms of a conjunction, as the new element an `add` creates.
fn collect_equalities(f: &Filter, out: &mut Map<String, Value>) {
    match f {
        Filter::Compare(p, filter::CompareOp::Eq, v) if p.sub.is_none() => {
            out.insert(p.name.clone(), v.clone());
        }
        Filter::And(parts) => parts.iter().for_each(|p| collect_equalities(p, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::scim::resource::normalize;
    use crate::scim::schema::{self, ENTERPRISE_USER_URN};
    use serde_json::json;

    fn run(doc: Value, patch: Value) -> Result<Value, ScimError> {
        let rt = schema::user();
        let mut d = normalize(rt, &doc).unwrap();
        let ops = parse(&patch)?;
        apply(rt, &mut d, &ops)?;
        Ok(Value::Object(normalize(rt, &Value::Object(d))?))
    }

    fn ops(list: Value) -> Value {
        json!({"schemas": [PATCH_OP_URN], "Operations": list})
    }

    fn base() -> Value {
        json!({"userName": "u", "active": true, "name": {"givenName": "G", "familyName": "F"},
               "emails": [{"value": "u@work.example", "type": "work", "primary": true}, {"value": "u@home.example", "type": "home"}]})
    }

    /// Issue 15 item 2: a whole extension as the path.
    #[test]
    fn whole_extension_add_replace_remove() {
        let ext = |d: &Value| d[ENTERPRISE_USER_URN].clone();
        let d = run(
            base(),
            ops(json!([{"op": "add", "path": ENTERPRISE_USER_URN, "value": {"employeeNumber": "42", "costCenter": "cc"}}])),
        )
        .unwrap();
        assert_eq!(ext(&d), json!({"employeeNumber": "42", "costCenter": "cc"}));
        let d = run(
            d,
            ops(json!([{"op": "add", "path": ENTERPRISE_USER_URN, "value": {"department": "D"}}])),
        )
        .unwrap();
        assert_eq!(
            ext(&d),
            json!({"employeeNumber": "42", "costCenter": "cc", "department": "D"})
        );
        let d = run(
            d,
            ops(
                json!([{"op": "replace", "path": ENTERPRISE_USER_URN, "value": {"division": "x"}}]),
            ),
        )
        .unwrap();
        assert_eq!(ext(&d), json!({"division": "x"}));
        let d = run(
            d,
            ops(json!([{"op": "remove", "path": ENTERPRISE_USER_URN}])),
        )
        .unwrap();
        assert!(d.get(ENTERPRISE_USER_URN).is_none());
        let e = run(
            base(),
            ops(json!([{"op": "add", "path": schema::PROVISIONING_URN, "value": {}}])),
        )
        .unwrap_err();
        assert!(matches!(e, ScimError::Mutability(_)), "{e:?}");
        let e = run(
            base(),
            ops(json!([{"op": "add", "path": ENTERPRISE_USER_URN, "value": "42"}])),
        )
        .unwrap_err();
        assert!(matches!(e, ScimError::InvalidValue(_)), "{e:?}");
        // On a Group, the enterprise extension is no schema of the resource type.
        let g = schema::group();
        let mut doc = normalize(g, &json!({"displayName": "G"})).unwrap();
        let op = parse(&ops(
            json!([{"op": "add", "path": ENTERPRISE_USER_URN, "value": {}}]),
        ))
        .unwrap();
        let e = apply(g, &mut doc, &op).unwrap_err();
        assert!(matches!(e, ScimError::InvalidPath(_)), "{e:?}");
    }

    #[test]
    fn okta_deactivate_without_path() {
        let d = run(
            base(),
            ops(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .unwrap();
        assert_eq!(d["active"], false);
        assert_eq!(d["name"]["givenName"], "G");
    }

    #[test]
    fn entra_dialect() {
        let d = run(base(), ops(json!([
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Replace", "path": "name.givenName", "value": "H"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@work.example"},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "boss"},
        ]))).unwrap();
        assert_eq!(d["active"], false);
        assert_eq!(d["name"], json!({"givenName": "H", "familyName": "F"}));
        assert_eq!(d["emails"][0]["value"], "new@work.example");
        assert_eq!(d["emails"][1]["value"], "u@home.example");
        assert_eq!(d[ENTERPRISE_USER_URN]["manager"], json!({"value": "boss"}));
    }

    #[test]
    fn pathless_dotted_and_urn_keys() {
        let d = run(
            base(),
            ops(json!([{"op": "replace", "value": {
                "displayName": "D", "name.givenName": "X",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42",
                "id": "ignored", "password": "pw"
            }}])),
        )
        .unwrap();
        assert_eq!(d["displayName"], "D");
        assert_eq!(d["name"]["givenName"], "X");
        assert_eq!(d["name"]["familyName"], "F");
        assert_eq!(d[ENTERPRISE_USER_URN]["employeeNumber"], "42");
        assert!(d.get("id").is_none() && d.get("password").is_none());
    }

    #[test]
    fn multi_valued_add_replace_remove() {
        let d = run(base(), ops(json!([{"op": "add", "path": "emails", "value": [{"value": "U@HOME.example", "display": "h"}, {"value": "o@x", "type": "other"}]}]))).unwrap();
        assert_eq!(d["emails"].as_array().unwrap().len(), 3);
        assert_eq!(d["emails"][1]["display"], "h");
        let d = run(
            base(),
            ops(json!([{"op": "remove", "path": "emails[type eq \"home\"]"}])),
        )
        .unwrap();
        assert_eq!(d["emails"].as_array().unwrap().len(), 1);
        let d = run(
            base(),
            ops(
                json!([{"op": "remove", "path": "emails", "value": [{"value": "u@home.example"}]}]),
            ),
        )
        .unwrap();
        assert_eq!(d["emails"].as_array().unwrap().len(), 1);
        let d = run(
            base(),
            ops(json!([{"op": "replace", "path": "emails", "value": []}])),
        )
        .unwrap();
        assert!(d.get("emails").is_none());
        let d = run(base(), ops(json!([{"op": "add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1"}]))).unwrap();
        assert_eq!(
            d["phoneNumbers"],
            json!([{"type": "mobile", "value": "+1"}])
        );
        let d = run(
            base(),
            ops(json!([{"op": "remove", "path": "name.familyName"}])),
        )
        .unwrap();
        assert_eq!(d["name"], json!({"givenName": "G"}));
    }

    #[test]
    fn errors() {
        let e = run(
            base(),
            ops(json!([{"op": "replace", "path": "emails[type eq \"fax\"].value", "value": "x"}])),
        )
        .unwrap_err();
        assert_eq!(e.scim_type(), Some("noTarget"));
        let e = run(base(), ops(json!([{"op": "remove"}]))).unwrap_err();
        assert_eq!(e.scim_type(), Some("noTarget"));
        let e = run(
            base(),
            ops(json!([{"op": "replace", "path": "id", "value": "x"}])),
        )
        .unwrap_err();
        assert_eq!(e.scim_type(), Some("mutability"));
        let e = run(
            base(),
            ops(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}])),
        )
        .unwrap_err();
        assert_eq!(e.scim_type(), Some("invalidPath"));
        let e = run(base(), ops(json!([{"op": "move", "path": "active"}]))).unwrap_err();
        assert_eq!(e.scim_type(), Some("invalidSyntax"));
        let e = run(
            base(),
            ops(json!([{"op": "replace", "path": "active", "value": "maybe"}])),
        )
        .unwrap_err();
        assert_eq!(e.scim_type(), Some("invalidValue"));
        let e = run(base(), ops(json!([{"op": "remove", "path": "userName"}]))).unwrap_err();
        assert_eq!(e.scim_type(), Some("invalidValue"));
        let e = run(base(), json!({"Operations": []})).unwrap_err();
        assert_eq!(e.scim_type(), Some("invalidSyntax"));
    }
}
