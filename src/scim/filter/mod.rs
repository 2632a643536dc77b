//! The SCIM filter and attribute-path language (RFC 7644 §3.4.2.2 filters, §3.5.2 PATCH paths,
//! §3.10 attribute notation): the lexer, the parser to a normalised AST ([`Filter`],
//! [`PatchPath`]) and the reference evaluator of a filter on a resource's JSON document
//! ([`matches`]). The SQL compiler in `store/` must agree with the evaluator.
//!
//! This module must not import anything from the crate outside `crate::scim` (no actix, no
//! rusqlite): it is pure protocol, tested with tables of cases.

mod eval;
mod lexer;
mod parser;
mod path;

use std::fmt;

pub use eval::{AttrInfo, AttrKind, AttrTypes, matches};
pub use parser::{parse_filter, parse_path};

/// Longest filter or path accepted, in characters.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting accepted: each `(` (including the one after `not`) and each value path `[`
/// opens one level.
pub const MAX_DEPTH: usize = 32;
/// Most comparison (`eq`, `co`, …) and presence (`pr`) terms in one filter.
pub const MAX_TERMS: usize = 200;

/// An attribute path as written, e.g. `name.familyName` or
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`.
/// `urn` is the schema URN prefix if one was written (without the trailing ':'), `name` the
/// top-level attribute, `sub` the sub-attribute. Names keep the case the client wrote; all
/// resolution is case-insensitive (RFC 7644 §3.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path with neither URN nor sub-attribute.
    pub fn simple(name: impl Into<String>) -> Self {
        AttrPath {
            urn: None,
            name: name.into(),
            sub: None,
        }
    }
}

/// Writes the path back in the RFC 7644 §3.10 notation: `urn:…:name.sub`.
impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// The comparison operators of RFC 7644 §3.4.2.2 (Table 3); `pr` is [`Filter::Present`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    /// The operator as written in a filter, lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// The operator named by `word`, case-insensitively (RFC 7644 §3.4.2.2).
    pub fn from_keyword(word: &str) -> Option<Self> {
        const ALL: [CompareOp; 9] = [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ];
        ALL.into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Normalised AST. And/Or hold 2+ children (nested same-kind nodes are flattened).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Present(AttrPath),
    /// value is a JSON string, number, bool or null
    Compare(AttrPath, CompareOp, serde_json::Value),
    /// `emails[type eq "work"]`: `attr` has sub = None; paths inside `filter` are relative to
    /// each element (their `name` is the sub-attribute, urn None, sub None).
    /// Entra's non-RFC `emails[type eq "work"].value eq "x"` is normalised to
    /// ValuePath(emails, And([type eq "work", value eq "x"])); likewise `...].value pr`.
    ValuePath {
        attr: AttrPath,
        filter: Box<Filter>,
    },
}

/// A PATCH path (RFC 7644 §3.5.2 `PATH = attrPath / valuePath [subAttr]`).
///
/// When `filter` is Some, `attr.sub` is None and `sub` holds the trailing `.subAttr` if any;
/// when `filter` is None, `sub` is None and `attr.sub` carries `name.sub`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

/// A syntax error in a filter or path. `position` is the 0-based character offset where the
/// problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at position {position})")]
pub struct FilterError {
    pub position: usize,
    pub message: String,
}

impl FilterError {
    pub fn new(position: usize, message: impl Into<String>) -> Self {
        FilterError {
            position,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn attr_path_display_round_trips_the_notation() {
        let cases = [
            ("userName", AttrPath::simple("userName")),
            (
                "name.familyName",
                AttrPath {
                    urn: None,
                    name: "name".into(),
                    sub: Some("familyName".into()),
                },
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                AttrPath {
                    urn: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".into()),
                    name: "manager".into(),
                    sub: Some("value".into()),
                },
            ),
        ];
        for (text, path) in cases {
            assert_eq!(path.to_string(), text);
            assert_eq!(parse_path(text).unwrap().attr, path, "{text}");
        }
    }

    #[test]
    fn compare_op_keywords_are_case_insensitive() {
        for (word, op) in [
            ("eq", CompareOp::Eq),
            ("NE", CompareOp::Ne),
            ("Co", CompareOp::Co),
            ("sW", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("GT", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("Le", CompareOp::Le),
        ] {
            assert_eq!(CompareOp::from_keyword(word), Some(op));
            assert_eq!(op.to_string(), word.to_ascii_lowercase());
        }
        assert_eq!(CompareOp::from_keyword("pr"), None);
        assert_eq!(CompareOp::from_keyword("equals"), None);
    }

    #[test]
    fn error_display_includes_the_position() {
        let e = FilterError::new(7, "unterminated string");
        assert_eq!(e.to_string(), "unterminated string (at position 7)");
    }
}
