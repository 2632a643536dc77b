//! Request bodies as the Activity page keeps them: secrets replaced by `"[redacted]"`, cut to a
//! size limit. A body that is not JSON cannot be searched for secrets and is not kept at all.
//!
//! What counts as a secret: any member whose name (compared without case, after a schema URN
//! prefix such as `urn:ietf:params:scim:schemas:core:2.0:User:`) contains `password`, `secret`
//! or `token` — RFC 7643 §4.1.1's `password`, and the tokens or client secrets some IdPs put in
//! extensions — and the `value` of a PATCH operation (RFC 7644 §3.5.2) whose `path` names such
//! an attribute (`{"op":"replace","path":"password","value":"…"}`, as Okta and Entra send a
//! password change).

use serde_json::Value;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// A body as kept: the redacted JSON text (compact), possibly cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// The redacted body; `cut` when only the first `max` bytes of it were kept.
    Json { text: String, cut: bool },
    /// The body was not valid JSON: nothing of it is kept.
    NotJson,
}

/// Redacts `body` and keeps at most `max` bytes of the result (on a character boundary).
pub fn keep(body: &[u8], max: usize) -> Kept {
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
        return Kept::NotJson;
    };
    redact(&mut v);
    let mut text = v.to_string();
    let cut = text.len() > max;
    if cut {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    Kept::Json { text, cut }
}

/// Whether an attribute name or path names a secret.
pub fn is_secret(name: &str) -> bool {
    // `urn:…:User:password` → `password`; `members[value eq "x"].display` is not a secret.
    let last = name.rsplit(':').next().unwrap_or(name);
    let last = last.to_ascii_lowercase();
    ["password", "secret", "token"]
        .iter()
        .any(|s| last.contains(s))
}

/// Replaces every secret in `v` (see the module comment).
pub fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let patch_secret = map
                .iter()
                .any(|(k, p)| k.eq_ignore_ascii_case("path") && p.as_str().is_some_and(is_secret));
            for (k, child) in map.iter_mut() {
                if is_secret(k) || (patch_secret && k.eq_ignore_ascii_case("value")) {
                    *child = Value::String(REDACTED.to_owned());
                } else {
                    redact(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn kept(v: Value) -> Value {
        match keep(v.to_string().as_bytes(), 1 << 20) {
            Kept::Json { text, cut } => {
                assert!(!cut);
                serde_json::from_str(&text).unwrap()
            }
            Kept::NotJson => panic!("not json"),
        }
    }

    #[test]
    fn okta_create_keeps_everything_but_the_password() {
        let out = kept(json!({
            "userName": "a@example.com",
            "password": "hunter2",
            "name": {"givenName": "A"},
            "emails": [{"value": "a@example.com", "type": "work"}]
        }));
        assert_eq!(out["password"], REDACTED);
        assert_eq!(out["userName"], "a@example.com");
        assert_eq!(out["emails"][0]["value"], "a@example.com");
    }

    #[test]
    fn patch_operations_naming_the_password_lose_their_value() {
        let out = kept(json!({"Operations": [
            {"op": "replace", "path": "password", "value": "s3cret"},
            {"op": "Replace", "Path": "urn:ietf:params:scim:schemas:core:2.0:User:PASSWORD", "Value": "x"},
            {"op": "replace", "value": {"password": "y", "active": false}},
            {"op": "replace", "path": "active", "value": false}
        ]}));
        assert_eq!(out["Operations"][0]["value"], REDACTED);
        assert_eq!(out["Operations"][0]["path"], "password");
        assert_eq!(out["Operations"][1]["Value"], REDACTED);
        assert_eq!(out["Operations"][2]["value"]["password"], REDACTED);
        assert_eq!(out["Operations"][2]["value"]["active"], false);
        assert_eq!(out["Operations"][3]["value"], false);
    }

    #[test]
    fn bulk_data_urn_keys_and_tokens_are_redacted() {
        let out = kept(json!({"Operations": [{"method": "POST", "data": {
            "userName": "b",
            "urn:ietf:params:scim:schemas:core:2.0:User:password": "p",
            "urn:example:ext": {"apiToken": "t", "clientSecret": "c", "title": "T"}
        }}]}));
        let data = &out["Operations"][0]["data"];
        assert_eq!(
            data["urn:ietf:params:scim:schemas:core:2.0:User:password"],
            REDACTED
        );
        assert_eq!(data["urn:example:ext"]["apiToken"], REDACTED);
        assert_eq!(data["urn:example:ext"]["clientSecret"], REDACTED);
        assert_eq!(data["urn:example:ext"]["title"], "T");
        assert_eq!(data["userName"], "b");
    }

    #[test]
    fn long_bodies_are_cut_on_a_character_boundary_and_bad_json_is_not_kept() {
        let body = json!({"displayName": "é".repeat(100)}).to_string();
        match keep(body.as_bytes(), 20) {
            Kept::Json { text, cut } => {
                assert!(cut);
                assert!(text.len() <= 20 && text.starts_with("{\"displayName\":\"é"));
            }
            Kept::NotJson => panic!(),
        }
        assert_eq!(keep(b"{\"password\": \"x\"", 100), Kept::NotJson);
        assert!(!is_secret("members[value eq \"x\"].display"));
        assert!(is_secret("urn:x:User:password"));
    }
}
