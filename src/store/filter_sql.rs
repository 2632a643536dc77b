//! Compiles a SCIM filter AST to a parameterised SQL condition over `users u`. No filter text
//! is ever pasted into SQL: every value is a bound parameter.
//!
//! This compiler covers what identity providers filter users on, each through an index:
//! `userName eq` (Unicode case-folded), `externalId eq`, `id eq`, `active eq`,
//! `emails.value eq` / `emails eq`, `emails[type eq "…" and value eq "…"]` (also as Entra's
//! `emails[type eq "work"].value eq "…"`), joined with `and`. Anything else is a 400
//! `invalidFilter` naming what is not supported.

use rusqlite::types::Value as SqlValue;
use serde_json::Value;

use crate::scim::ScimError;
use crate::scim::filter::{AttrPath, CompareOp, Filter};
use crate::store::fold::fold;

/// A compiled condition: SQL text with `?` placeholders, and their values in order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Condition {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

pub fn compile_user_filter(f: &Filter) -> Result<Condition, ScimError> {
    let mut c = Condition::default();
    user_term(f, &mut c)?;
    Ok(c)
}

fn is_core(p: &AttrPath) -> bool {
    p.urn
        .as_deref()
        .is_none_or(|u| u.eq_ignore_ascii_case(crate::scim::schema::USER_URN))
}

fn named(p: &AttrPath, name: &str, sub: Option<&str>) -> bool {
    is_core(p)
        && p.name.eq_ignore_ascii_case(name)
        && match (p.sub.as_deref(), sub) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
}

fn unsupported(what: String) -> ScimError {
    ScimError::InvalidFilter(format!(
        "{what} is not supported in filters on Users; supported: userName eq, externalId eq, id eq, active eq, emails.value eq, emails[type eq \"…\"].value eq, joined with 'and'"
    ))
}

fn string_value<'a>(p: &AttrPath, v: &'a Value) -> Result<&'a str, ScimError> {
    v.as_str().ok_or_else(|| {
        ScimError::InvalidFilter(format!("'{}' must be compared with a string", p.name))
    })
}

fn user_term(f: &Filter, c: &mut Condition) -> Result<(), ScimError> {
    match f {
        Filter::And(parts) => {
            c.sql.push('(');
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    c.sql.push_str(" AND ");
                }
                user_term(part, c)?;
            }
            c.sql.push(')');
            Ok(())
        }
        Filter::Compare(p, CompareOp::Eq, v) => {
            if named(p, "userName", None) {
                c.sql.push_str("u.user_name_folded = ?");
                c.params.push(SqlValue::Text(fold(string_value(p, v)?)));
            } else if named(p, "externalId", None) {
                c.sql.push_str("u.external_id = ?");
                c.params
                    .push(SqlValue::Text(string_value(p, v)?.to_owned()));
            } else if named(p, "id", None) {
                c.sql.push_str("u.id = ?");
                c.params
                    .push(SqlValue::Text(string_value(p, v)?.to_owned()));
            } else if named(p, "active", None) {
                let b = match v {
                    Value::Bool(b) => *b,
                    _ => {
                        return Err(ScimError::InvalidFilter(
                            "'active' must be compared with true or false".into(),
                        ));
                    }
                };
                c.sql.push_str("u.active = ?");
                c.params.push(SqlValue::Integer(i64::from(b)));
            } else if named(p, "emails", Some("value")) || named(p, "emails", None) {
                c.sql.push_str("EXISTS (SELECT 1 FROM user_emails e WHERE e.user_seq = u.seq AND e.value_folded = ?)");
                c.params.push(SqlValue::Text(fold(string_value(p, v)?)));
            } else {
                return Err(unsupported(format!("filtering on '{}'", path_text(p))));
            }
            Ok(())
        }
        Filter::ValuePath { attr, filter } if named(attr, "emails", None) => {
            c.sql
                .push_str("EXISTS (SELECT 1 FROM user_emails e WHERE e.user_seq = u.seq");
            email_terms(filter, c)?;
            c.sql.push(')');
            Ok(())
        }
        Filter::Compare(p, op, _) => Err(unsupported(format!(
            "the operator '{}' on '{}'",
            op_text(*op),
            path_text(p)
        ))),
        Filter::Or(_) => Err(unsupported("'or'".into())),
        Filter::Not(_) => Err(unsupported("'not'".into())),
        Filter::Present(p) => Err(unsupported(format!("'{} pr'", path_text(p)))),
        Filter::ValuePath { attr, .. } => Err(unsupported(format!(
            "a value filter on '{}'",
            path_text(attr)
        ))),
    }
}

fn email_terms(f: &Filter, c: &mut Condition) -> Result<(), ScimError> {
    match f {
        Filter::And(parts) => parts.iter().try_for_each(|p| email_terms(p, c)),
        Filter::Compare(p, CompareOp::Eq, v)
            if p.sub.is_none() && p.name.eq_ignore_ascii_case("value") =>
        {
            c.sql.push_str(" AND e.value_folded = ?");
            c.params.push(SqlValue::Text(fold(string_value(p, v)?)));
            Ok(())
        }
        Filter::Compare(p, CompareOp::Eq, v)
            if p.sub.is_none() && p.name.eq_ignore_ascii_case("type") =>
        {
            c.sql.push_str(" AND e.type_folded = ?");
            c.params.push(SqlValue::Text(fold(string_value(p, v)?)));
            Ok(())
        }
        _ => Err(unsupported(
            "inside emails[…], anything but 'type eq' and 'value eq'".into(),
        )),
    }
}

fn path_text(p: &AttrPath) -> String {
    let mut s = String::new();
    if let Some(u) = &p.urn {
        s.push_str(u);
        s.push(':');
    }
    s.push_str(&p.name);
    if let Some(sub) = &p.sub {
        s.push('.');
        s.push_str(sub);
    }
    s
}

fn op_text(op: CompareOp) -> &'static str {
    match op {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::scim::filter::parse_filter;

    fn c(f: &str) -> Result<Condition, ScimError> {
        compile_user_filter(&parse_filter(f).unwrap())
    }

    #[test]
    fn compiles_idp_filters() {
        let k = c("userName eq \"Test.User@Okta.local\"").unwrap();
        assert_eq!(k.sql, "u.user_name_folded = ?");
        assert_eq!(
            k.params,
            vec![SqlValue::Text("test.user@okta.local".into())]
        );
        let k = c("emails[type eq \"work\"].value eq \"A@X\"").unwrap();
        assert!(k.sql.contains("e.type_folded = ?") && k.sql.contains("e.value_folded = ?"));
        let k = c("externalId eq \"x\" and USERNAME EQ \"y\"").unwrap();
        assert_eq!(k.params.len(), 2);
        assert!(k.sql.starts_with('('));
        for bad in [
            "userName sw \"a\"",
            "title eq \"x\"",
            "userName eq \"a\" or userName eq \"b\"",
            "userName eq 5",
        ] {
            assert_eq!(
                c(bad).unwrap_err().scim_type(),
                Some("invalidFilter"),
                "{bad}"
            );
        }
    }
}
