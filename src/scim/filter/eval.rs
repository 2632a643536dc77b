//! The reference evaluator: does a resource's JSON document match a filter?
//!
//! This is the semantics of RFC 7644 §3.4.2.2 as scimgate implements it; the SQL compiler in
//! `store/` must agree with it case for case. The choices the RFC leaves open:
//!
//! - **Multi-valued attributes** match if ANY value matches. A comparison on a multi-valued
//!   complex attribute without a sub-attribute (`emails co "x"`) compares each element's
//!   `value` sub-attribute; on a multi-valued simple attribute, each element itself.
//! - **`ne` is exactly `not eq`**: `A ne v` ≡ NOT (`A eq v`). So an absent attribute is "not
//!   equal" to every value (`title ne "x"` matches a user without a title), and a multi-valued
//!   attribute is `ne v` only if NO value equals `v`.
//! - **`null`**: `A eq null` ≡ NOT (`A pr`) and `A ne null` ≡ `A pr`; any other operator with
//!   `null` is false.
//! - **`pr`** (RFC 7643 §2.5 "unassigned"): present means not null, not an empty string, not an
//!   empty array and not an object without a present member; an array is present if any of its
//!   elements is.
//! - **Types** come from [`AttrTypes`]; an unknown attribute is a case-insensitive String.
//!   A value of the wrong JSON type on either side never matches (so `ne` matches), and so do
//!   operators that mean nothing for the type (`gt` on a boolean, `co` on a number, anything
//!   but `eq` on binary, anything on a complex value). Evaluation never fails.
//! - **Strings** compare after Unicode default case folding unless `caseExact` (RFC 7643
//!   §2.3.1); `gt`/`ge`/`lt`/`le` order the (folded) strings by code point.
//! - **DateTime** values compare as instants when both sides parse as RFC 3339, and as
//!   strings otherwise. **Integer/Decimal** compare numerically (as f64).
//!
//! Attribute lookup is case-insensitive (RFC 7644 §3.10). A URN of the core namespace
//! (`urn:ietf:params:scim:schemas:core:2.0:…`) resolves to the top level of the document, any
//! other URN to the object under that (extension) key. A path without a URN resolves to the
//! top level, or, when the top level has no such key, to the first extension object that has
//! it (matching [`AttrTypes`], where no URN means "the core schema or any extension").

use std::cmp::Ordering;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{AttrPath, CompareOp, Filter};

/// The SCIM data types of RFC 7643 §2.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKind {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Reference,
    Binary,
    Complex,
}

/// What the schema says about one attribute or sub-attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttrInfo {
    pub kind: AttrKind,
    pub case_exact: bool,
    pub multi_valued: bool,
}

/// The schema: resolve (urn, name, sub) case-insensitively; urn None means "the core schema or
/// any extension that has it". Returns None for unknown attributes.
pub trait AttrTypes {
    fn attr(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> Option<AttrInfo>;
}

/// How an attribute the schema does not know is compared.
const UNKNOWN: AttrInfo = AttrInfo {
    kind: AttrKind::String,
    case_exact: false,
    multi_valued: false,
};

/// The prefix of the core schema URNs (RFC 7643 §3.3, §8.7.1): their attributes sit at the top
/// level of a resource.
const CORE_URN_PREFIX: &str = "urn:ietf:params:scim:schemas:core:2.0:";

/// Whether `resource` (a SCIM resource as returned to clients) matches `filter`.
pub fn matches(filter: &Filter, resource: &Value, types: &dyn AttrTypes) -> bool {
    Scope::Resource(resource).eval(filter, types)
}

/// Where the paths of a filter are resolved.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// The whole resource.
    Resource(&'a Value),
    /// One element of the multi-valued attribute `attr`, inside `attr[…]`; paths name its
    /// sub-attributes (`value` names the element itself when it is not an object).
    Element { attr: &'a AttrPath, elem: &'a Value },
}

/// A value to compare, with the type that governs the comparison.
struct Leaf<'a> {
    value: &'a Value,
    info: AttrInfo,
}

impl<'a> Scope<'a> {
    fn eval(self, filter: &'a Filter, types: &dyn AttrTypes) -> bool {
        match filter {
            Filter::And(items) => items.iter().all(|f| self.eval(f, types)),
            Filter::Or(items) => items.iter().any(|f| self.eval(f, types)),
            Filter::Not(inner) => !self.eval(inner, types),
            Filter::Present(path) => self.present(path),
            Filter::Compare(path, op, value) => self.compare(path, *op, value, types),
            Filter::ValuePath { attr, filter } => match self {
                Scope::Resource(resource) => elements(resource, attr)
                    .into_iter()
                    .any(|elem| Scope::Element { attr, elem }.eval(filter, types)),
                // The parser rejects nested value paths; were one built by hand, it names
                // nothing inside an element.
                Scope::Element { .. } => false,
            },
        }
    }

    /// The values `path` names, before multi-valued attributes are expanded.
    fn lookup(self, path: &AttrPath) -> Vec<&'a Value> {
        match self {
            Scope::Resource(resource) => lookup(resource, path),
            Scope::Element { elem, .. } => element_member(elem, &path.name).into_iter().collect(),
        }
    }

    fn present(self, path: &AttrPath) -> bool {
        self.lookup(path).into_iter().any(is_present)
    }

    fn compare(self, path: &AttrPath, op: CompareOp, value: &Value, types: &dyn AttrTypes) -> bool {
        // `eq null` / `ne null` are the only meaningful uses of null: (not) present.
        if value.is_null() {
            return match op {
                CompareOp::Eq => !self.present(path),
                CompareOp::Ne => self.present(path),
                _ => false,
            };
        }
        // `ne` is `not eq`, on absent and multi-valued attributes too (see the module doc).
        if op == CompareOp::Ne {
            return !self.compare(path, CompareOp::Eq, value, types);
        }
        self.leaves(path, types)
            .iter()
            .any(|leaf| compare_one(leaf.value, op, value, leaf.info))
    }

    /// The single values to compare for `path`, each with its type.
    fn leaves(self, path: &AttrPath, types: &dyn AttrTypes) -> Vec<Leaf<'a>> {
        let urn = path.urn.as_deref();
        let mut out = Vec::new();
        match self {
            Scope::Resource(resource) => {
                let info = types
                    .attr(urn, &path.name, path.sub.as_deref())
                    .unwrap_or(UNKNOWN);
                // `emails co "x"` compares each element's `value` (RFC 7644 §3.4.2.2).
                let value_info = match path.sub {
                    None => types
                        .attr(urn, &path.name, Some("value"))
                        .unwrap_or(UNKNOWN),
                    Some(_) => info,
                };
                for v in lookup(resource, path) {
                    let Value::Array(items) = v else {
                        out.push(Leaf { value: v, info });
                        continue;
                    };
                    for item in items {
                        match item {
                            Value::Object(obj) if path.sub.is_none() => {
                                out.extend(get_ci(obj, "value").map(|value| Leaf {
                                    value,
                                    info: value_info,
                                }))
                            }
                            _ => out.push(Leaf { value: item, info }),
                        }
                    }
                }
            }
            Scope::Element { attr, elem } => {
                let a_urn = attr.urn.as_deref();
                let info = match elem {
                    Value::Object(_) => types.attr(a_urn, &attr.name, Some(&path.name)),
                    // `value` of a simple element is the element, typed as the attribute.
                    _ => types.attr(a_urn, &attr.name, None),
                }
                .unwrap_or(UNKNOWN);
                match element_member(elem, &path.name) {
                    Some(Value::Array(items)) => {
                        out.extend(items.iter().map(|value| Leaf { value, info }))
                    }
                    Some(value) => out.push(Leaf { value, info }),
                    None => {}
                }
            }
        }
        out
    }
}

/// `name` inside one element of a value path: the member of an object element, or a simple
/// element itself when asked for `value`.
fn element_member<'a>(elem: &'a Value, name: &str) -> Option<&'a Value> {
    match elem {
        Value::Object(obj) => get_ci(obj, name),
        Value::Null => None,
        other if name.eq_ignore_ascii_case("value") => Some(other),
        _ => None,
    }
}

/// The member `key` of `obj`, matching the key case-insensitively (RFC 7644 §3.10); an exact
/// match wins.
fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn get_ci_value<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_object().and_then(|obj| get_ci(obj, key))
}

fn is_core_urn(urn: &str) -> bool {
    urn.get(..CORE_URN_PREFIX.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(CORE_URN_PREFIX))
}

/// The top-level attribute of `path` (ignoring its sub-attribute).
fn top_value<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let obj = resource.as_object()?;
    match path.urn.as_deref() {
        Some(urn) if is_core_urn(urn) => get_ci(obj, &path.name),
        Some(urn) => get_ci(obj, urn).and_then(|ext| get_ci_value(ext, &path.name)),
        None => get_ci(obj, &path.name).or_else(|| {
            obj.iter()
                .filter(|(k, _)| k.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")))
                .find_map(|(_, ext)| get_ci_value(ext, &path.name))
        }),
    }
}

/// The values `path` names in `resource`: the attribute itself, or its sub-attribute in the
/// attribute's object or in each element of its array.
fn lookup<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let Some(top) = top_value(resource, path) else {
        return Vec::new();
    };
    match path.sub.as_deref() {
        None => vec![top],
        Some(sub) => match top {
            Value::Array(items) => items
                .iter()
                .filter_map(|item| get_ci_value(item, sub))
                .collect(),
            other => get_ci_value(other, sub).into_iter().collect(),
        },
    }
}

/// The elements a value path `attr[…]` filters: each element of a multi-valued attribute, or
/// the single value of a single-valued one (e.g. `name[givenName eq "x"]`).
fn elements<'a>(resource: &'a Value, attr: &AttrPath) -> Vec<&'a Value> {
    let mut out = Vec::new();
    for v in lookup(resource, attr) {
        match v {
            Value::Array(items) => out.extend(items.iter().filter(|i| !i.is_null())),
            Value::Null => {}
            other => out.push(other),
        }
    }
    out
}

/// RFC 7643 §2.5: null, "" and [] are unassigned; an object or array is present if some
/// member or element is.
fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(obj) => obj.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// One attribute value `attr` against the filter's `value` (never null here).
fn compare_one(attr: &Value, op: CompareOp, value: &Value, info: AttrInfo) -> bool {
    match info.kind {
        AttrKind::String | AttrKind::Reference => match (attr, value) {
            (Value::String(a), Value::String(b)) => compare_strings(a, op, b, info.case_exact),
            _ => false,
        },
        AttrKind::Binary => match (attr, value) {
            (Value::String(a), Value::String(b)) => {
                matches!(op, CompareOp::Eq | CompareOp::Ne)
                    && compare_strings(a, op, b, info.case_exact)
            }
            _ => false,
        },
        AttrKind::Boolean => match (attr, value, op) {
            (Value::Bool(a), Value::Bool(b), CompareOp::Eq) => a == b,
            (Value::Bool(a), Value::Bool(b), CompareOp::Ne) => a != b,
            _ => false,
        },
        AttrKind::Integer | AttrKind::Decimal => match (attr.as_f64(), value.as_f64()) {
            (Some(a), Some(b)) => a
                .partial_cmp(&b)
                .is_some_and(|ord| ordering_matches(ord, op)),
            _ => false,
        },
        AttrKind::DateTime => match (attr, value) {
            (Value::String(a), Value::String(b)) => match (parse_instant(a), parse_instant(b)) {
                (Some(x), Some(y))
                    if !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) =>
                {
                    ordering_matches(x.cmp(&y), op)
                }
                _ => compare_strings(a, op, b, info.case_exact),
            },
            _ => false,
        },
        AttrKind::Complex => false,
    }
}

fn parse_instant(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Whether `ord` (attribute value against filter value) satisfies an ordering operator;
/// false for the substring operators.
fn ordering_matches(ord: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => ord.is_eq(),
        CompareOp::Ne => ord.is_ne(),
        CompareOp::Gt => ord.is_gt(),
        CompareOp::Ge => ord.is_ge(),
        CompareOp::Lt => ord.is_lt(),
        CompareOp::Le => ord.is_le(),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn compare_strings(a: &str, op: CompareOp, b: &str, case_exact: bool) -> bool {
    if case_exact {
        string_op(a, op, b)
    } else {
        string_op(
            &caseless::default_case_fold_str(a),
            op,
            &caseless::default_case_fold_str(b),
        )
    }
}

fn string_op(a: &str, op: CompareOp, b: &str) -> bool {
    match op {
        CompareOp::Co => a.contains(b),
        CompareOp::Sw => a.starts_with(b),
        CompareOp::Ew => a.ends_with(b),
        _ => ordering_matches(a.cmp(b), op),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;
    use crate::scim::filter::parse_filter;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    /// A small User schema (RFC 7643 §4.1, §4.3) plus a multi-valued integer and decimal.
    struct TestSchema;

    fn info(kind: AttrKind, case_exact: bool, multi_valued: bool) -> AttrInfo {
        AttrInfo {
            kind,
            case_exact,
            multi_valued,
        }
    }

    impl AttrTypes for TestSchema {
        fn attr(&self, urn: Option<&str>, name: &str, sub: Option<&str>) -> Option<AttrInfo> {
            use AttrKind::*;
            let name = name.to_ascii_lowercase();
            let sub = sub.map(str::to_ascii_lowercase);
            let enterprise = match urn {
                None => None,
                Some(u) if u.eq_ignore_ascii_case(ENTERPRISE) => Some(true),
                Some(u) if is_core_urn(u) => Some(false),
                Some(_) => return None,
            };
            let top = match (enterprise, name.as_str()) {
                (None | Some(false), "id") => info(String, true, false),
                (None | Some(false), "externalid") => info(String, true, false),
                (None | Some(false), "username") => info(String, false, false),
                (None | Some(false), "title") => info(String, false, false),
                (None | Some(false), "usertype") => info(String, false, false),
                (None | Some(false), "nickname") => info(String, false, false),
                (None | Some(false), "active") => info(Boolean, false, false),
                (None | Some(false), "name") => info(Complex, false, false),
                (None | Some(false), "meta") => info(Complex, false, false),
                (None | Some(false), "emails") => info(Complex, false, true),
                (None | Some(false), "addresses") => info(Complex, false, true),
                (None | Some(false), "schemas") => info(Reference, true, true),
                (None | Some(false), "x509certificates") => info(Complex, false, true),
                (None | Some(false), "luckynumbers") => info(Integer, false, true),
                (None | Some(false), "height") => info(Decimal, false, false),
                (None | Some(true), "employeenumber") => info(String, false, false),
                (None | Some(true), "manager") => info(Complex, false, false),
                _ => return None,
            };
            let Some(sub) = sub else { return Some(top) };
            let sub_info = match (name.as_str(), sub.as_str()) {
                ("name", "familyname" | "givenname" | "formatted") => info(String, false, false),
                ("meta", "created" | "lastmodified") => info(DateTime, false, false),
                ("meta", "resourcetype") => info(String, true, false),
                ("meta", "version") => info(String, true, false),
                ("emails" | "addresses", "type" | "value" | "locality") => {
                    info(String, false, false)
                }
                ("emails", "primary") => info(Boolean, false, false),
                ("x509certificates", "value") => info(Binary, true, false),
                ("manager", "value") => info(String, true, false),
                ("manager", "displayname") => info(String, false, false),
                _ => return None,
            };
            Some(AttrInfo {
                multi_valued: top.multi_valued || sub_info.multi_valued,
                ..sub_info
            })
        }
    }

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "Bjensen-EXT",
            "userName": "Bjensen@Example.com",
            "name": {"familyName": "Straße", "givenName": "Barbara", "formatted": "Ms. Barbara J Jensen, III"},
            "nickName": "ÉCOLE",
            "title": "",
            "userType": "Employee",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "addresses": [],
            "x509Certificates": [{"value": "TUlJRG"}],
            "luckyNumbers": [3, 7, 42],
            "height": 1.75,
            "phoneNumbers": null,
            "photos": [],
            "unknownThing": "Hello",
            "meta": {
                "resourceType": "User",
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34Z",
                "version": "W/\"3694e05e9dff591\""
            },
            ENTERPRISE: {
                "employeeNumber": "701984",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
            }
        })
    }

    fn check(cases: &[(&str, bool)]) {
        let user = user();
        for (filter, expected) in cases {
            let parsed = parse_filter(filter).unwrap();
            assert_eq!(matches(&parsed, &user, &TestSchema), *expected, "{filter}");
        }
    }

    #[test]
    fn string_operators() {
        check(&[
            (r#"userName eq "bjensen@example.com""#, true),
            (r#"userName eq "bjensen""#, false),
            (r#"userName ne "bjensen""#, true),
            (r#"userName ne "BJENSEN@EXAMPLE.COM""#, false),
            (r#"userName co "JENSEN@""#, true),
            (r#"userName co "jensen@x""#, false),
            (r#"userName sw "bj""#, true),
            (r#"userName sw "jensen""#, false),
            (r#"userName ew ".COM""#, true),
            (r#"userName ew "example""#, false),
            (r#"userName gt "a""#, true),
            (r#"userName gt "bjensen@example.com""#, false),
            (r#"userName ge "BJENSEN@example.com""#, true),
            (r#"userName lt "c""#, true),
            (r#"userName lt "bjensen""#, false),
            (r#"userName le "bjensen@example.com""#, true),
            (r#"userName le "a""#, false),
            (r#"userName sw """#, true),
            (r#"name.familyName eq "straße""#, true),
            (r#"name.givenName co "arb""#, true),
            // Attribute names are case-insensitive (RFC 7644 §3.10).
            (r#"USERNAME eq "bjensen@example.com""#, true),
            (r#"Name.FamilyName eq "straße""#, true),
            // A string attribute never equals a value of another JSON type.
            ("userName eq 1", false),
            ("userName eq true", false),
            ("userName ne 1", true),
        ]);
    }

    #[test]
    fn unicode_case_folding() {
        check(&[
            // Full case folding: "ß" folds to "ss" (RFC 7643 §2.3.1, caseExact false).
            (r#"name.familyName eq "STRASSE""#, true),
            (r#"name.familyName eq "strasse""#, true),
            (r#"name.familyName co "SS""#, true),
            (r#"nickName eq "école""#, true),
            (r#"nickName eq "ecole""#, false),
            (r#"nickName sw "éC""#, true),
        ]);
    }

    #[test]
    fn case_exact_attributes() {
        check(&[
            (r#"id eq "2819c223-7f76-453a-919d-413861904646""#, true),
            (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
            (r#"externalId eq "Bjensen-EXT""#, true),
            (r#"externalId eq "bjensen-ext""#, false),
            (r#"externalId sw "Bjensen""#, true),
            (r#"externalId sw "bjensen""#, false),
            (r#"meta.resourceType eq "User""#, true),
            (r#"meta.resourceType eq "user""#, false),
            (
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                true,
            ),
            (
                r#"schemas eq "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER""#,
                false,
            ),
        ]);
    }

    #[test]
    fn unknown_attributes_are_case_insensitive_strings() {
        check(&[
            (r#"unknownThing eq "HELLO""#, true),
            (r#"unknownthing co "ell""#, true),
            (r#"unknownThing pr"#, true),
            (r#"noSuchThing eq "x""#, false),
            (r#"noSuchThing ne "x""#, true),
            (r#"noSuchThing pr"#, false),
            (r#"name.noSuchSub eq "x""#, false),
        ]);
    }

    #[test]
    fn multi_valued_any_match() {
        check(&[
            (r#"emails co "example.com""#, true),
            (r#"emails eq "babs@jensen.org""#, true),
            (r#"emails eq "BABS@JENSEN.ORG""#, true),
            (r#"emails eq "nobody@example.com""#, false),
            (r#"emails.value co "jensen.org""#, true),
            (r#"emails.value ew ".net""#, false),
            (r#"emails.type eq "work""#, true),
            (r#"emails.type eq "home""#, true),
            (r#"emails.type eq "other""#, false),
            // `ne` is `not eq`: true only if no value equals.
            (r#"emails.type ne "work""#, false),
            (r#"emails.type ne "other""#, true),
            (r#"emails ne "babs@jensen.org""#, false),
            // Simple multi-valued attributes compare each element.
            ("luckyNumbers eq 7", true),
            ("luckyNumbers gt 40", true),
            ("luckyNumbers gt 42", false),
            ("luckyNumbers lt 3", false),
            ("luckyNumbers ne 7", false),
            ("luckyNumbers ne 8", true),
            // RFC 7644 §3.4.2.2 examples.
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                true,
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                false,
            ),
            (
                r#"userType eq "Employee" and (emails.type eq "work")"#,
                true,
            ),
        ]);
    }

    #[test]
    fn presence() {
        check(&[
            ("userName pr", true),
            ("title pr", false),        // ""
            ("addresses pr", false),    // []
            ("photos pr", false),       // []
            ("phoneNumbers pr", false), // null
            ("nickName pr", true),
            ("active pr", true),
            ("height pr", true),
            ("name pr", true),
            ("name.givenName pr", true),
            ("name.middleName pr", false),
            ("emails pr", true),
            ("emails.value pr", true),
            ("emails.primary pr", true),
            ("emails.display pr", false),
            ("addresses.locality pr", false),
            ("meta.created pr", true),
            ("not (title pr)", true),
        ]);
        let types = TestSchema;
        let with =
            |doc: Value| matches(&parse_filter("x pr").unwrap(), &json!({ "x": doc }), &types);
        assert!(!with(json!({})), "an empty object is not present");
        assert!(
            !with(json!({"a": null, "b": ""})),
            "an object of unassigned members"
        );
        assert!(
            !with(json!([null, "", {}])),
            "an array of unassigned elements"
        );
        assert!(with(json!([null, {"value": "a"}])));
        assert!(with(json!(false)), "false is a value");
        assert!(with(json!(0)), "0 is a value");
    }

    #[test]
    fn null_means_absent() {
        check(&[
            ("title eq null", true),
            ("title ne null", false),
            ("userName eq null", false),
            ("userName ne null", true),
            ("phoneNumbers eq null", true),
            ("noSuchThing eq null", true),
            ("userName gt null", false),
            ("userName co null", false),
        ]);
    }

    #[test]
    fn absent_attributes() {
        // An absent attribute matches no comparison except `ne` (`not eq`).
        let ops = ["eq", "co", "sw", "ew", "gt", "ge", "lt", "le"];
        let user = user();
        for op in ops {
            let f = parse_filter(&format!(r#"nickname2 {op} "a""#)).unwrap();
            assert!(!matches(&f, &user, &TestSchema), "{op}");
        }
        check(&[
            (r#"nickname2 ne "a""#, true),
            (r#"name.middleName ne "a""#, true),
            (r#"addresses.type ne "work""#, true),
            (r#"addresses[type eq "work"]"#, false),
            (r#"not (addresses[type eq "work"])"#, true),
        ]);
    }

    #[test]
    fn booleans() {
        check(&[
            ("active eq true", true),
            ("active eq false", false),
            ("active ne false", true),
            ("active ne true", false),
            ("active eq TRUE", true),
            // Ordering and substring operators mean nothing for booleans.
            ("active gt false", false),
            ("active ge true", false),
            ("active co true", false),
            // A string is not a boolean.
            (r#"active eq "true""#, false),
            ("emails.primary eq true", true),
            ("emails.primary eq false", false),
        ]);
    }

    #[test]
    fn numbers() {
        check(&[
            ("height eq 1.75", true),
            ("height eq 175e-2", true),
            ("height gt 1.7", true),
            ("height ge 1.75", true),
            ("height lt 2", true),
            ("height le 1", false),
            ("height ne 1.75", false),
            ("luckyNumbers eq 3.0", true),
            (r#"height eq "1.75""#, false),
            ("height co 1", false),
            ("height sw 1", false),
            ("luckyNumbers ew 2", false),
        ]);
    }

    #[test]
    fn date_times() {
        check(&[
            (r#"meta.lastModified gt "2011-05-13T04:42:33Z""#, true),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
            (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
            (r#"meta.lastModified eq "2011-05-13T04:42:34Z""#, true),
            // Instants, not strings: the same moment in another offset, with fractions.
            (r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
            (r#"meta.lastModified eq "2011-05-13T04:42:34.000Z""#, true),
            (r#"meta.lastModified gt "2011-05-13T05:00:00+01:00""#, true),
            (r#"meta.lastModified lt "2011-05-13T00:00:00-05:00""#, true),
            (r#"meta.created lt "2011-01-01T00:00:00Z""#, true),
            (r#"meta.created gt "2011-01-01T00:00:00Z""#, false),
            // Unparseable: string comparison.
            (r#"meta.lastModified gt "2011""#, true),
            (r#"meta.lastModified lt "2012""#, true),
            (r#"meta.lastModified sw "2011-05""#, true),
            (r#"meta.lastModified co "T04:42""#, true),
            (r#"meta.lastModified ne "yesterday""#, true),
            (r#"meta.lastModified gt 2011"#, false),
        ]);
    }

    #[test]
    fn binary_and_complex() {
        check(&[
            (r#"x509Certificates.value eq "TUlJRG""#, true),
            (r#"x509Certificates.value eq "tulJrg""#, false),
            (r#"x509Certificates eq "TUlJRG""#, true),
            (r#"x509Certificates.value sw "TU""#, false),
            (r#"x509Certificates.value gt "A""#, false),
            (r#"x509Certificates.value pr"#, true),
            // A single-valued complex attribute compared directly matches nothing.
            (r#"name eq "Barbara""#, false),
            (r#"name co "Barbara""#, false),
            (r#"name ne "Barbara""#, true),
            (r#"meta eq "User""#, false),
        ]);
    }

    #[test]
    fn not_and_or() {
        check(&[
            (r#"not (userName eq "bjensen@example.com")"#, false),
            (r#"not (userName eq "nobody")"#, true),
            (r#"not (not (active eq true))"#, true),
            (r#"userName sw "b" and active eq true and title pr"#, false),
            (r#"userName sw "b" and active eq true or title pr"#, true),
            (
                r#"title pr or userName eq "x" or nickName eq "école""#,
                true,
            ),
            (
                r#"title pr or (userName eq "x" and nickName eq "école")"#,
                false,
            ),
        ]);
    }

    #[test]
    fn value_paths() {
        check(&[
            (r#"emails[type eq "work"]"#, true),
            (r#"emails[type eq "WORK"]"#, true),
            (
                r#"emails[type eq "work" and value co "@example.com"]"#,
                true,
            ),
            // The same element must satisfy the whole inner filter.
            (r#"emails[type eq "work" and value co "jensen.org"]"#, false),
            (r#"emails[type eq "home" and value co "jensen.org"]"#, true),
            (r#"emails[type eq "work" and primary eq true]"#, true),
            (r#"emails[type eq "home" and primary eq true]"#, false),
            (r#"emails[not (primary pr)]"#, true),
            (r#"emails[primary ne true]"#, true),
            (r#"emails[display pr]"#, false),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                true,
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                true,
            ),
            (r#"ims[type eq "xmpp"]"#, false),
            // Entra's `].value eq` form.
            (
                r#"emails[type eq "work"].value eq "bjensen@example.com""#,
                true,
            ),
            (
                r#"emails[type eq "work"].value eq "babs@jensen.org""#,
                false,
            ),
            (r#"emails[type eq "home"].value pr"#, true),
            // A simple multi-valued attribute: `value` is the element.
            (
                r#"schemas[value eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]"#,
                true,
            ),
            (
                r#"schemas[value sw "urn:ietf:params:scim:schemas:core"]"#,
                true,
            ),
            (r#"schemas[value eq "urn:other"]"#, false),
            ("luckyNumbers[value gt 40]", true),
            ("luckyNumbers[value gt 42]", false),
            ("luckyNumbers[type pr]", false),
            // A single-valued complex attribute is one element.
            (
                r#"name[givenName eq "barbara" and familyName eq "STRASSE"]"#,
                true,
            ),
            (r#"addresses[type eq "work"]"#, false),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]"#,
                true,
            ),
        ]);
    }

    #[test]
    fn urns_and_extensions() {
        check(&[
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "B""#,
                true,
            ),
            (
                r#"URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:USERNAME sw "B""#,
                true,
            ),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "Barbara""#,
                true,
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
                true,
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:EMPLOYEENUMBER eq "701984""#,
                true,
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
                true,
            ),
            // manager.value is caseExact in the test schema.
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87E4-49D8CA9F808D""#,
                false,
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName co "smith""#,
                true,
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr"#,
                true,
            ),
            // Without a URN, an attribute absent from the top level is found in an extension.
            (r#"employeeNumber eq "701984""#, true),
            (r#"manager.value pr"#, true),
            // The extension's attributes are not at the top level, nor core ones in it.
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:employeeNumber pr"#,
                false,
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName pr"#,
                false,
            ),
            (r#"urn:example:other:2.0:User:employeeNumber pr"#, false),
        ]);
    }

    #[test]
    fn non_object_resources_match_nothing_but_negations() {
        let f = parse_filter(r#"userName eq "x""#).unwrap();
        assert!(!matches(&f, &json!(null), &TestSchema));
        assert!(!matches(&f, &json!([1, 2]), &TestSchema));
        let f = parse_filter(r#"userName ne "x""#).unwrap();
        assert!(matches(&f, &json!("str"), &TestSchema));
    }

    #[test]
    fn hand_built_nested_value_path_is_false() {
        let inner = Filter::ValuePath {
            attr: AttrPath::simple("type"),
            filter: Box::new(Filter::Present(AttrPath::simple("value"))),
        };
        let f = Filter::ValuePath {
            attr: AttrPath::simple("emails"),
            filter: Box::new(inner),
        };
        assert!(!matches(&f, &user(), &TestSchema));
    }
}
