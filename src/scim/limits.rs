//! Per-attribute size limits of a resource document (issue 14, item 3): without them a
//! 1,000,000-character `userName` or 20,000 emails on one user are bounded only by the request
//! body limit, and every later read, filter and render pays for them. A document over a limit is
//! refused with `400 invalidValue` naming the attribute (RFC 7644 §3.12).

use serde_json::Value;

use crate::scim::ScimError;
use crate::scim::resource::Document;

/// The limits a document is checked against (`[scim]` in config.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Characters in a name: `userName`, `displayName`, `nickName`, `externalId`, the parts of
    /// `name`, an alias.
    pub name_chars: usize,
    /// Characters in any other string.
    pub string_chars: usize,
    /// Values of a multi-valued attribute (`emails`, `phoneNumbers`, `addresses`…). A group's
    /// `members` are not counted: they are rows, not part of the document.
    pub multi_values: usize,
    /// Aliases of one user (each one is a login name, unique across the appliance).
    pub aliases: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            name_chars: 1024,
            string_chars: 8192,
            multi_values: 100,
            aliases: 100,
        }
    }
}

/// Attributes held to `name_chars`, as paths from the document's top.
const NAMES: &[&str] = &[
    "userName",
    "displayName",
    "nickName",
    "externalId",
    "name.formatted",
    "name.familyName",
    "name.givenName",
    "name.middleName",
    "name.honorificPrefix",
    "name.honorificSuffix",
    "aliases.value",
];

impl Limits {
    /// Checks a normalised document (canonical attribute names; extension attributes under
    /// their schema URN). Multi-valued attributes are counted after normalisation, so for
    /// aliases after repeated ones were dropped.
    pub fn check(&self, doc: &Document) -> Result<(), ScimError> {
        for (key, value) in doc {
            if key.eq_ignore_ascii_case("members") {
                continue;
            }
            match value {
                // An extension: `urn:…:User:department` names its attributes.
                Value::Object(m) if key.starts_with("urn:") => {
                    for (k, v) in m {
                        self.value(&format!("{key}:{k}"), v)?;
                    }
                }
                v => self.value(key, v)?,
            }
        }
        Ok(())
    }

    fn value(&self, path: &str, v: &Value) -> Result<(), ScimError> {
        match v {
            Value::String(s) => {
                let limit = if NAMES.iter().any(|n| n.eq_ignore_ascii_case(path)) {
                    self.name_chars
                } else {
                    self.string_chars
                };
                // Counting stops one past the limit: a huge string costs no more than that.
                if s.chars().take(limit + 1).count() > limit {
                    return Err(ScimError::InvalidValue(format!(
                        "'{path}' is longer than {limit} characters"
                    )));
                }
            }
            Value::Array(items) => {
                let limit = if path.eq_ignore_ascii_case("aliases") {
                    self.aliases
                } else {
                    self.multi_values
                };
                if items.len() > limit {
                    return Err(ScimError::InvalidValue(format!(
                        "'{path}' has {} values; at most {limit} are accepted",
                        items.len()
                    )));
                }
                for item in items {
                    self.value(path, item)?;
                }
            }
            Value::Object(m) => {
                for (k, v) in m {
                    self.value(&format!("{path}.{k}"), v)?;
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::scim::resource::normalize;
    use crate::scim::schema;
    use serde_json::json;

    fn check(l: &Limits, body: Value) -> Result<(), String> {
        let doc = normalize(schema::user(), &body).unwrap();
        l.check(&doc).map_err(|e| match e {
            ScimError::InvalidValue(d) => d,
            other => panic!("{other:?}"),
        })
    }

    #[test]
    fn strings_at_and_over_their_limit() {
        let l = Limits {
            name_chars: 5,
            string_chars: 8,
            multi_values: 2,
            aliases: 1,
        };
        assert!(check(&l, json!({"userName": "abcde", "title": "abcdefgh"})).is_ok());
        // Characters, not bytes.
        assert!(check(&l, json!({"userName": "ééééé"})).is_ok());
        let e = check(&l, json!({"userName": "abcdef"})).unwrap_err();
        assert!(
            e.contains("'userName'") && e.contains("5 characters"),
            "{e}"
        );
        let e = check(
            &l,
            json!({"userName": "a", "name": {"givenName": "abcdef"}}),
        )
        .unwrap_err();
        assert!(e.contains("'name.givenName'"), "{e}");
        let e = check(&l, json!({"userName": "a", "title": "abcdefghi"})).unwrap_err();
        assert!(e.contains("'title'") && e.contains("8 characters"), "{e}");
        let e = check(
            &l,
            json!({"userName": "a", "emails": [{"value": "abcdefghi"}]}),
        )
        .unwrap_err();
        assert!(e.contains("'emails.value'"), "{e}");
        let e = check(
            &l,
            json!({"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "abcdefghi"}}),
        )
        .unwrap_err();
        assert!(
            e.contains("'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department'"),
            "{e}"
        );
    }

    #[test]
    fn values_at_and_over_their_limit() {
        let l = Limits {
            name_chars: 50,
            string_chars: 50,
            multi_values: 2,
            aliases: 1,
        };
        let emails = |n: usize| -> Vec<Value> {
            (0..n)
                .map(|i| json!({"value": format!("{i}@example.com")}))
                .collect()
        };
        assert!(check(&l, json!({"userName": "a", "emails": emails(2)})).is_ok());
        let e = check(&l, json!({"userName": "a", "emails": emails(3)})).unwrap_err();
        assert!(e.contains("'emails'") && e.contains("at most 2"), "{e}");
        assert!(check(&l, json!({"userName": "a", "aliases": [{"value": "b"}]})).is_ok());
        let e = check(
            &l,
            json!({"userName": "a", "aliases": [{"value": "b"}, {"value": "c"}]}),
        )
        .unwrap_err();
        assert!(e.contains("'aliases'") && e.contains("at most 1"), "{e}");
    }
}
