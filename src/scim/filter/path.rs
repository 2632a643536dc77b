//! Splits one lexed word into an [`AttrPath`] (RFC 7644 §3.10:
//! `[urn ":"] attrName ["." subAttr]`).

use super::{AttrPath, FilterError};

/// The path written as `word`, which starts at character `pos` of the input.
///
/// A word starting with `urn:` carries a schema URN: everything up to the last `:` (URNs contain
/// `.` and digits, as in `…:enterprise:2.0:User`, attribute names never contain `:`).
pub(crate) fn attr_path(word: &str, pos: usize) -> Result<AttrPath, FilterError> {
    // Offsets below are byte offsets into `word`; the lexer only puts ASCII into words, but
    // convert anyway so that positions stay character offsets.
    let at = |byte: usize| pos + word.get(..byte).map_or(byte, |s| s.chars().count());

    let (urn, rest, rest_at) = match word.get(..4) {
        Some(prefix) if prefix.eq_ignore_ascii_case("urn:") => {
            let colon = word.rfind(':').unwrap_or(3);
            let urn = &word[..colon];
            if !urn.contains(':') {
                return Err(FilterError::new(
                    pos,
                    format!("incomplete schema URN in '{word}'; expected urn:…:attributeName"),
                ));
            }
            (Some(urn.to_owned()), &word[colon + 1..], colon + 1)
        }
        _ => {
            if let Some(colon) = word.find(':') {
                return Err(FilterError::new(
                    at(colon),
                    format!(
                        "unexpected ':' in '{word}'; only a schema URN prefix (urn:…) may contain ':'"
                    ),
                ));
            }
            (None, word, 0)
        }
    };
    if rest.is_empty() {
        return Err(FilterError::new(
            at(rest_at),
            format!("missing attribute name after the schema URN in '{word}'"),
        ));
    }

    let (name, sub) = match rest.split_once('.') {
        None => (rest, None),
        Some((name, sub)) => {
            let sub_at = rest_at + name.len() + 1;
            if let Some(dot) = sub.find('.') {
                return Err(FilterError::new(
                    at(sub_at + dot),
                    format!(
                        "too many '.' in '{word}'; a path is attribute or attribute.subAttribute"
                    ),
                ));
            }
            (name, Some((sub, sub_at)))
        }
    };
    check_name(name, at(rest_at), word)?;
    if let Some((sub, sub_at)) = sub {
        check_name(sub, at(sub_at), word)?;
    }
    Ok(AttrPath {
        urn,
        name: name.to_owned(),
        sub: sub.map(|(s, _)| s.to_owned()),
    })
}

/// A lone sub-attribute name, as after `emails[type eq "work"].` (starting at `pos`).
pub(crate) fn sub_attr(word: &str, pos: usize) -> Result<String, FilterError> {
    if let Some(i) = word.find(['.', ':']) {
        return Err(FilterError::new(
            pos + word[..i].chars().count(),
            format!("expected a sub-attribute name after ']', found '{word}'"),
        ));
    }
    check_name(word, pos, word)?;
    Ok(word.to_owned())
}

/// ATTRNAME = ALPHA *(nameChar) (RFC 7643 §2.1), or `$ref` (RFC 7643 §2.4). The lexer has
/// already limited the characters to nameChar plus `$`.
fn check_name(name: &str, pos: usize, word: &str) -> Result<(), FilterError> {
    if name.is_empty() {
        return Err(FilterError::new(
            pos,
            format!("empty attribute name in '{word}'"),
        ));
    }
    if name.eq_ignore_ascii_case("$ref") {
        return Ok(());
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(FilterError::new(
            pos,
            format!("attribute name '{name}' must start with a letter"),
        ));
    }
    if let Some(i) = name.find('$') {
        return Err(FilterError::new(
            pos + i,
            format!("unexpected '$' in attribute name '{name}'"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    fn p(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: urn.map(str::to_owned),
            name: name.to_owned(),
            sub: sub.map(str::to_owned),
        }
    }

    #[test]
    fn splits_paths() {
        let cases = [
            ("userName".to_owned(), p(None, "userName", None)),
            ("name.familyName".to_owned(), p(None, "name", Some("familyName"))),
            ("members.$ref".to_owned(), p(None, "members", Some("$ref"))),
            ("x-custom_1".to_owned(), p(None, "x-custom_1", None)),
            (format!("{CORE_USER}:userName"), p(Some(CORE_USER), "userName", None)),
            (format!("{CORE_USER}:name.givenName"), p(Some(CORE_USER), "name", Some("givenName"))),
            (format!("{ENTERPRISE}:employeeNumber"), p(Some(ENTERPRISE), "employeeNumber", None)),
            (format!("{ENTERPRISE}:manager.value"), p(Some(ENTERPRISE), "manager", Some("value"))),
            // The URN keeps the case the client wrote.
            (
                "URN:IETF:params:scim:schemas:extension:enterprise:2.0:User:Manager.Value".to_owned(),
                p(Some("URN:IETF:params:scim:schemas:extension:enterprise:2.0:User"), "Manager", Some("Value")),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:customAttribute".to_owned(),
                p(Some("urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"), "customAttribute", None),
            ),
        ];
        for (word, expected) in cases {
            assert_eq!(attr_path(&word, 0).unwrap(), expected, "{word}");
        }
    }

    #[test]
    fn rejects_malformed_paths() {
        let cases = [
            (
                "a.b.c",
                10,
                13,
                "too many '.' in 'a.b.c'; a path is attribute or attribute.subAttribute",
            ),
            ("name.", 10, 15, "empty attribute name in 'name.'"),
            (
                "a..b",
                10,
                12,
                "too many '.' in 'a..b'; a path is attribute or attribute.subAttribute",
            ),
            (
                "name.1x",
                10,
                15,
                "attribute name '1x' must start with a letter",
            ),
            ("na$me", 10, 12, "unexpected '$' in attribute name 'na$me'"),
            (
                "$foo",
                10,
                10,
                "attribute name '$foo' must start with a letter",
            ),
            (
                "foo:bar",
                10,
                13,
                "unexpected ':' in 'foo:bar'; only a schema URN prefix (urn:…) may contain ':'",
            ),
            (
                "urn:",
                10,
                10,
                "incomplete schema URN in 'urn:'; expected urn:…:attributeName",
            ),
            (
                "urn:foo",
                10,
                10,
                "incomplete schema URN in 'urn:foo'; expected urn:…:attributeName",
            ),
            (
                "urn:a:b:",
                10,
                18,
                "missing attribute name after the schema URN in 'urn:a:b:'",
            ),
            ("urn:a:b:.x", 10, 18, "empty attribute name in 'urn:a:b:.x'"),
        ];
        for (word, pos, position, message) in cases {
            assert_eq!(
                attr_path(word, pos).unwrap_err(),
                FilterError::new(position, message),
                "{word}"
            );
        }
    }

    #[test]
    fn sub_attributes() {
        assert_eq!(sub_attr("value", 3).unwrap(), "value");
        assert_eq!(sub_attr("$ref", 3).unwrap(), "$ref");
        assert_eq!(
            sub_attr("value.x", 3).unwrap_err(),
            FilterError::new(
                8,
                "expected a sub-attribute name after ']', found 'value.x'"
            )
        );
        assert_eq!(
            sub_attr("a:b", 3).unwrap_err(),
            FilterError::new(4, "expected a sub-attribute name after ']', found 'a:b'")
        );
    }
}
