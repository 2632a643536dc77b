//! Recursive-descent parser for filters (RFC 7644 §3.4.2.2) and PATCH paths (RFC 7644 §3.5.2).
//!
//! ```text
//! filter    = or
//! or        = and *("or" and)                 ; "and" binds tighter than "or"
//! and       = term *("and" term)
//! term      = "not" "(" filter ")" / "(" filter ")" / attrExp
//! attrExp   = attrPath "pr" / attrPath compareOp value
//!           / attrPath "[" valFilter "]" ["." subAttr ("pr" / compareOp value)]
//! valFilter = filter whose paths are bare sub-attribute names, without value paths
//! path      = attrPath / attrPath "[" valFilter "]" ["." subAttr]
//! ```
//!
//! The `"." subAttr compareOp value` after a value path is Microsoft Entra's extension; it is
//! folded into the value filter. Keywords and operators are case-insensitive.

use serde_json::Value;

use super::lexer::{Tok, Token, tokenize};
use super::path::{attr_path, sub_attr};
use super::{
    AttrPath, CompareOp, Filter, FilterError, MAX_DEPTH, MAX_FILTER_LEN, MAX_TERMS, PatchPath,
};

/// Parses a `filter` query parameter (or `.search` body member) into the normalised AST.
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    let mut parser = Parser::new(input, "filter")?;
    if parser.peek().tok == Tok::Eof {
        return Err(FilterError::new(parser.peek().pos, "empty filter"));
    }
    let filter = parser.or()?;
    let next = parser.peek();
    match &next.tok {
        Tok::Eof => Ok(filter),
        Tok::RParen | Tok::RBracket => Err(FilterError::new(
            next.pos,
            format!("unexpected {}", next.tok),
        )),
        other => Err(FilterError::new(
            next.pos,
            format!("expected 'and' or 'or', found {other}"),
        )),
    }
}

/// Parses a PATCH operation's `path` (RFC 7644 §3.5.2).
pub fn parse_path(input: &str) -> Result<PatchPath, FilterError> {
    let mut parser = Parser::new(input, "path")?;
    let first = parser.advance();
    let (word, pos) = match first.tok {
        Tok::Word(w) => (w, first.pos),
        Tok::Eof => return Err(FilterError::new(first.pos, "empty path")),
        other => {
            return Err(FilterError::new(
                first.pos,
                format!("expected an attribute path, found {other}"),
            ));
        }
    };
    let attr = attr_path(&word, pos)?;
    let mut patch = PatchPath {
        attr,
        filter: None,
        sub: None,
    };
    if parser.peek().tok == Tok::LBracket {
        check_value_path_attr(&patch.attr, &word, pos)?;
        patch.filter = Some(parser.value_filter(&word)?);
        if parser.peek().tok == Tok::Dot {
            parser.advance();
            patch.sub = Some(parser.sub_attr_after_bracket()?.0);
        }
    }
    let next = parser.peek();
    match &next.tok {
        Tok::Eof => Ok(patch),
        other => Err(FilterError::new(
            next.pos,
            format!("unexpected {other} after the path '{}'", input.trim()),
        )),
    }
}

/// A value path applies to a top-level attribute: `name.x[…]` has nothing to filter.
fn check_value_path_attr(attr: &AttrPath, word: &str, pos: usize) -> Result<(), FilterError> {
    if attr.sub.is_some() {
        return Err(FilterError::new(
            pos,
            format!("'[' must follow an attribute, not the sub-attribute path '{word}'"),
        ));
    }
    Ok(())
}

/// Joins `items` into an And or Or node, flattening children of the same kind (so the AST has
/// one canonical shape for `a and (b and c)` and `(a and b) and c`).
fn join(items: Vec<Filter>, or: bool) -> Filter {
    let mut flat = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Filter::Or(children) if or => flat.extend(children),
            Filter::And(children) if !or => flat.extend(children),
            other => flat.push(other),
        }
    }
    if flat.len() == 1
        && let Some(only) = flat.pop()
    {
        return only;
    }
    if or {
        Filter::Or(flat)
    } else {
        Filter::And(flat)
    }
}

/// A comparison value: a JSON string, number, `true`, `false` or `null` (RFC 7644 §3.4.2.2).
fn as_value(tok: &Tok) -> Option<Value> {
    match tok {
        Tok::Str(s) => Some(Value::String(s.clone())),
        Tok::Num(n) => Some(Value::Number(n.clone())),
        Tok::Word(w) if w.eq_ignore_ascii_case("true") => Some(Value::Bool(true)),
        Tok::Word(w) if w.eq_ignore_ascii_case("false") => Some(Value::Bool(false)),
        Tok::Word(w) if w.eq_ignore_ascii_case("null") => Some(Value::Null),
        _ => None,
    }
}

fn is_keyword(tok: &Tok, keyword: &str) -> bool {
    matches!(tok, Tok::Word(w) if w.eq_ignore_ascii_case(keyword))
}

struct Parser {
    tokens: Vec<Token>,
    i: usize,
    /// Returned by `peek` past the end; `tokenize` ends every list with one too.
    eof: Token,
    depth: usize,
    terms: usize,
    /// The attribute whose value filter is being parsed (`emails` in `emails[…]`), as written.
    in_value_filter: Option<String>,
}

impl Parser {
    fn new(input: &str, what: &str) -> Result<Self, FilterError> {
        // RFC 7644 §3.4.2.2 sets no limit; these keep the work per request bounded.
        if input.chars().count() > MAX_FILTER_LEN {
            return Err(FilterError::new(
                MAX_FILTER_LEN,
                format!("{what} exceeds {MAX_FILTER_LEN} characters"),
            ));
        }
        let tokens = tokenize(input)?;
        let end = input.chars().count();
        Ok(Parser {
            tokens,
            i: 0,
            eof: Token {
                tok: Tok::Eof,
                pos: end,
            },
            depth: 0,
            terms: 0,
            in_value_filter: None,
        })
    }

    fn peek(&self) -> &Token {
        self.tokens.get(self.i).unwrap_or(&self.eof)
    }

    fn peek_second(&self) -> &Token {
        self.tokens.get(self.i + 1).unwrap_or(&self.eof)
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.i < self.tokens.len() {
            self.i += 1;
        }
        token
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = is_keyword(&self.peek().tok, keyword);
        if found {
            self.advance();
        }
        found
    }

    /// Enters one level of `(` or `[` opened at `pos`.
    fn enter(&mut self, pos: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::new(
                pos,
                format!("filter nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    /// Counts one comparison or presence term starting at `pos`.
    fn count_term(&mut self, pos: usize) -> Result<(), FilterError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(FilterError::new(
                pos,
                format!("filter has more than {MAX_TERMS} terms"),
            ));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut items = vec![self.and()?];
        while self.eat_keyword("or") {
            items.push(self.and()?);
        }
        Ok(join(items, true))
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut items = vec![self.term()?];
        while self.eat_keyword("and") {
            items.push(self.term()?);
        }
        Ok(join(items, false))
    }

    fn term(&mut self) -> Result<Filter, FilterError> {
        let next = self.peek().clone();
        match &next.tok {
            Tok::LParen => self.group(),
            // RFC 7644 §3.4.2.2: `not` applies to a parenthesised filter only.
            Tok::Word(w) if w.eq_ignore_ascii_case("not") => {
                if self.peek_second().tok != Tok::LParen {
                    let after = self.peek_second();
                    return Err(FilterError::new(
                        after.pos,
                        format!("expected '(' after 'not', found {}", after.tok),
                    ));
                }
                self.advance();
                Ok(Filter::Not(Box::new(self.group()?)))
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or") => {
                Err(FilterError::new(
                    next.pos,
                    format!("expected an attribute path, '(' or 'not', found '{w}'"),
                ))
            }
            Tok::Word(w) => {
                let w = w.clone();
                self.advance();
                self.attr_exp(&w, next.pos)
            }
            Tok::RParen | Tok::RBracket => Err(FilterError::new(
                next.pos,
                format!("unexpected {}", next.tok),
            )),
            Tok::Eof => Err(FilterError::new(
                next.pos,
                "unexpected end of filter; expected an attribute path, '(' or 'not'",
            )),
            other => Err(FilterError::new(
                next.pos,
                format!("expected an attribute path, '(' or 'not', found {other}"),
            )),
        }
    }

    /// `"(" filter ")"`, at the `(`.
    fn group(&mut self) -> Result<Filter, FilterError> {
        let open = self.advance().pos;
        self.enter(open)?;
        let inner = self.or()?;
        let close = self.advance();
        if close.tok != Tok::RParen {
            return Err(FilterError::new(
                close.pos,
                format!(
                    "expected ')' to close the '(' at position {open}, found {}",
                    close.tok
                ),
            ));
        }
        self.depth -= 1;
        Ok(inner)
    }

    /// `"[" valFilter "]"`, at the `[`, for the attribute written as `word`.
    fn value_filter(&mut self, word: &str) -> Result<Filter, FilterError> {
        let open = self.advance().pos;
        if let Some(outer) = &self.in_value_filter {
            return Err(FilterError::new(
                open,
                format!("value filters cannot be nested (inside '{outer}[…]')"),
            ));
        }
        self.enter(open)?;
        self.in_value_filter = Some(word.to_owned());
        if self.peek().tok == Tok::RBracket {
            return Err(FilterError::new(
                self.peek().pos,
                format!("empty value filter '{word}[]'"),
            ));
        }
        let inner = self.or()?;
        let close = self.advance();
        if close.tok != Tok::RBracket {
            return Err(FilterError::new(
                close.pos,
                format!(
                    "expected ']' to close the '[' at position {open}, found {}",
                    close.tok
                ),
            ));
        }
        self.in_value_filter = None;
        self.depth -= 1;
        Ok(inner)
    }

    /// The `subAttr` after `].`; returns it with its position.
    fn sub_attr_after_bracket(&mut self) -> Result<(String, usize), FilterError> {
        let next = self.advance();
        match next.tok {
            Tok::Word(w) => Ok((sub_attr(&w, next.pos)?, next.pos)),
            other => Err(FilterError::new(
                next.pos,
                format!("expected a sub-attribute name after '.', found {other}"),
            )),
        }
    }

    /// An attribute expression whose path `word` (at `pos`) has been consumed.
    fn attr_exp(&mut self, word: &str, pos: usize) -> Result<Filter, FilterError> {
        let path = attr_path(word, pos)?;
        if let Some(outer) = &self.in_value_filter
            && (path.urn.is_some() || path.sub.is_some())
        {
            return Err(FilterError::new(
                pos,
                format!(
                    "inside '{outer}[…]' name a sub-attribute of '{outer}' without '.' or a schema URN, found '{word}'"
                ),
            ));
        }
        if self.peek().tok != Tok::LBracket {
            return self.operation(path, word, pos);
        }

        check_value_path_attr(&path, word, pos)?;
        let mut filter = self.value_filter(word)?;
        // Entra: `emails[type eq "work"].value eq "x"` means the element whose type is work
        // has that value; fold the trailing comparison into the value filter.
        if self.peek().tok == Tok::Dot {
            self.advance();
            let (sub, sub_pos) = self.sub_attr_after_bracket()?;
            let shown = format!("{word}[…].{sub}");
            let extra = self.operation(AttrPath::simple(sub), &shown, sub_pos)?;
            filter = join(vec![filter, extra], false);
        }
        Ok(Filter::ValuePath {
            attr: path,
            filter: Box::new(filter),
        })
    }

    /// `"pr"` or `compareOp value` after `path` (written as `shown`, starting at `pos`).
    fn operation(
        &mut self,
        path: AttrPath,
        shown: &str,
        pos: usize,
    ) -> Result<Filter, FilterError> {
        let op_token = self.advance();
        let Tok::Word(op_word) = &op_token.tok else {
            let found = match op_token.tok {
                Tok::Eof => String::new(),
                other => format!(", found {other}"),
            };
            return Err(FilterError::new(
                op_token.pos,
                format!("expected a comparison operator after '{shown}'{found}"),
            ));
        };
        if op_word.eq_ignore_ascii_case("pr") {
            if as_value(&self.peek().tok).is_some() {
                return Err(FilterError::new(self.peek().pos, "'pr' takes no value"));
            }
            self.count_term(pos)?;
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_keyword(op_word) else {
            return Err(FilterError::new(
                op_token.pos,
                format!(
                    "expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after '{shown}', found '{op_word}'"
                ),
            ));
        };
        let value_token = self.advance();
        let Some(value) = as_value(&value_token.tok) else {
            let found = match value_token.tok {
                Tok::Eof => String::new(),
                other => format!(", found {other}"),
            };
            return Err(FilterError::new(
                value_token.pos,
                format!(
                    "expected a value (a string, number, true, false or null) after '{op}'{found}"
                ),
            ));
        };
        self.count_term(pos)?;
        Ok(Filter::Compare(path, op, value))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    fn p(name: &str) -> AttrPath {
        match name.split_once('.') {
            Some((n, s)) => AttrPath {
                urn: None,
                name: n.into(),
                sub: Some(s.into()),
            },
            None => AttrPath::simple(name),
        }
    }

    fn urn_p(urn: &str, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: Some(urn.into()),
            name: name.into(),
            sub: sub.map(Into::into),
        }
    }

    fn cmp(path: &str, op: CompareOp, value: Value) -> Filter {
        Filter::Compare(p(path), op, value)
    }

    fn pr(path: &str) -> Filter {
        Filter::Present(p(path))
    }

    fn vp(attr: &str, filter: Filter) -> Filter {
        Filter::ValuePath {
            attr: p(attr),
            filter: Box::new(filter),
        }
    }

    fn not(f: Filter) -> Filter {
        Filter::Not(Box::new(f))
    }

    use CompareOp::*;
    use Filter::{And, Or};

    /// Every example filter of RFC 7644 §3.4.2.2 (Figure 2 and around).
    #[test]
    fn rfc7644_examples() {
        let cases: Vec<(&str, Filter)> = vec![
            (
                r#"userName eq "bjensen""#,
                cmp("userName", Eq, json!("bjensen")),
            ),
            (
                r#"name.familyName co "O'Malley""#,
                cmp("name.familyName", Co, json!("O'Malley")),
            ),
            (r#"userName sw "J""#, cmp("userName", Sw, json!("J"))),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
                Filter::Compare(urn_p(CORE_USER, "userName", None), Sw, json!("J")),
            ),
            ("title pr", pr("title")),
            (
                r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", Gt, json!("2011-05-13T04:42:34Z")),
            ),
            (
                r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", Ge, json!("2011-05-13T04:42:34Z")),
            ),
            (
                r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", Lt, json!("2011-05-13T04:42:34Z")),
            ),
            (
                r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", Le, json!("2011-05-13T04:42:34Z")),
            ),
            (
                r#"title pr and userType eq "Employee""#,
                And(vec![pr("title"), cmp("userType", Eq, json!("Employee"))]),
            ),
            (
                r#"title pr or userType eq "Intern""#,
                Or(vec![pr("title"), cmp("userType", Eq, json!("Intern"))]),
            ),
            (
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                cmp("schemas", Eq, json!(ENTERPRISE)),
            ),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                And(vec![
                    cmp("userType", Eq, json!("Employee")),
                    Or(vec![
                        cmp("emails", Co, json!("example.com")),
                        cmp("emails.value", Co, json!("example.org")),
                    ]),
                ]),
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                And(vec![
                    cmp("userType", Ne, json!("Employee")),
                    not(Or(vec![
                        cmp("emails", Co, json!("example.com")),
                        cmp("emails.value", Co, json!("example.org")),
                    ])),
                ]),
            ),
            (
                r#"userType eq "Employee" and (emails.type eq "work")"#,
                And(vec![
                    cmp("userType", Eq, json!("Employee")),
                    cmp("emails.type", Eq, json!("work")),
                ]),
            ),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                And(vec![
                    cmp("userType", Eq, json!("Employee")),
                    vp(
                        "emails",
                        And(vec![
                            cmp("type", Eq, json!("work")),
                            cmp("value", Co, json!("@example.com")),
                        ]),
                    ),
                ]),
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                Or(vec![
                    vp(
                        "emails",
                        And(vec![
                            cmp("type", Eq, json!("work")),
                            cmp("value", Co, json!("@example.com")),
                        ]),
                    ),
                    vp(
                        "ims",
                        And(vec![
                            cmp("type", Eq, json!("xmpp")),
                            cmp("value", Co, json!("@foo.com")),
                        ]),
                    ),
                ]),
            ),
            // §3.4.2.2 also shows filters on Group members and the enterprise extension.
            (
                r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
                vp(
                    "members",
                    cmp("value", Eq, json!("2819c223-7f76-453a-919d-413861904646")),
                ),
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
                Filter::Compare(
                    urn_p(ENTERPRISE, "employeeNumber", None),
                    Eq,
                    json!("701984"),
                ),
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
                Filter::Compare(
                    urn_p(ENTERPRISE, "manager", Some("value")),
                    Eq,
                    json!("26118915-6090-4610-87e4-49d8ca9f808d"),
                ),
            ),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "Barbara""#,
                Filter::Compare(
                    urn_p(CORE_USER, "name", Some("givenName")),
                    Eq,
                    json!("Barbara"),
                ),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_filter(input).unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn precedence_grouping_and_flattening() {
        let (a, b, c, d) = (
            || cmp("a", Eq, json!(1)),
            || cmp("b", Eq, json!(2)),
            || cmp("c", Eq, json!(3)),
            || cmp("d", Eq, json!(4)),
        );
        let cases: Vec<(&str, Filter)> = vec![
            (
                "a eq 1 or b eq 2 and c eq 3",
                Or(vec![a(), And(vec![b(), c()])]),
            ),
            (
                "a eq 1 and b eq 2 or c eq 3",
                Or(vec![And(vec![a(), b()]), c()]),
            ),
            (
                "(a eq 1 or b eq 2) and c eq 3",
                And(vec![Or(vec![a(), b()]), c()]),
            ),
            ("a eq 1 and b eq 2 and c eq 3", And(vec![a(), b(), c()])),
            ("a eq 1 and (b eq 2 and c eq 3)", And(vec![a(), b(), c()])),
            (
                "(a eq 1 and b eq 2) and (c eq 3 and d eq 4)",
                And(vec![a(), b(), c(), d()]),
            ),
            (
                "a eq 1 or (b eq 2 or (c eq 3 or d eq 4))",
                Or(vec![a(), b(), c(), d()]),
            ),
            (
                "a eq 1 or b eq 2 and c eq 3 or d eq 4",
                Or(vec![a(), And(vec![b(), c()]), d()]),
            ),
            ("((a eq 1))", a()),
            ("not (a eq 1)", not(a())),
            ("not(a eq 1)", not(a())),
            ("NOT (a eq 1) and b eq 2", And(vec![not(a()), b()])),
            ("not (not (a eq 1))", not(not(a()))),
            ("not (a eq 1 and b eq 2)", not(And(vec![a(), b()]))),
            ("not (a eq 1) or not (b eq 2)", Or(vec![not(a()), not(b())])),
            ("  a eq 1\n\tor\r\nb eq 2  ", Or(vec![a(), b()])),
            ("(a eq 1)or(b eq 2)", Or(vec![a(), b()])),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_filter(input).unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn keywords_are_case_insensitive() {
        let cases: Vec<(&str, Filter)> = vec![
            (r#"userName EQ "x""#, cmp("userName", Eq, json!("x"))),
            (r#"userName Eq "x""#, cmp("userName", Eq, json!("x"))),
            ("title PR", pr("title")),
            (
                r#"title pr AND userName Sw "J" OR nickName NE "b""#,
                Or(vec![
                    And(vec![pr("title"), cmp("userName", Sw, json!("J"))]),
                    cmp("nickName", Ne, json!("b")),
                ]),
            ),
            ("active eq TRUE", cmp("active", Eq, json!(true))),
            ("active eq False", cmp("active", Eq, json!(false))),
            ("title eq NULL", cmp("title", Eq, Value::Null)),
            ("Not (title pr)", not(pr("title"))),
            // Attribute names keep the case the client wrote.
            (r#"USERNAME eq "x""#, cmp("USERNAME", Eq, json!("x"))),
            // Words that are keywords elsewhere are attribute names in attribute position.
            (
                r#"emails[type eq "work" and value pr]"#,
                vp(
                    "emails",
                    And(vec![cmp("type", Eq, json!("work")), pr("value")]),
                ),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_filter(input).unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn every_operator_and_value_kind() {
        for op in ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"] {
            let expected = CompareOp::from_keyword(op).unwrap();
            assert_eq!(
                parse_filter(&format!(r#"x {op} "v""#)).unwrap(),
                cmp("x", expected, json!("v"))
            );
        }
        let values: Vec<(&str, Value)> = vec![
            ("0", json!(0)),
            ("42", json!(42)),
            ("-7", json!(-7)),
            ("1.5", json!(1.5)),
            ("-0.001", json!(-0.001)),
            ("1e3", json!(1000.0)),
            ("2.5E-2", json!(0.025)),
            ("18446744073709551615", json!(u64::MAX)),
            ("true", json!(true)),
            ("false", json!(false)),
            ("null", Value::Null),
            (r#""""#, json!("")),
            (r#""tab\there""#, json!("tab\there")),
            (
                r#""quote \" backslash \\ slash \/""#,
                json!("quote \" backslash \\ slash /"),
            ),
            (r#""\u00e9cole""#, json!("école")),
            (r#""\uD83D\uDE00""#, json!("😀")),
            (r#""straße""#, json!("straße")),
            (r#""日本語""#, json!("日本語")),
            (r#""a and b or not (c)""#, json!("a and b or not (c)")),
        ];
        for (text, value) in values {
            assert_eq!(
                parse_filter(&format!("x eq {text}")).unwrap(),
                cmp("x", Eq, value),
                "{text}"
            );
        }
    }

    #[test]
    fn value_paths_and_entra_dialect() {
        let work = || cmp("type", Eq, json!("work"));
        let cases: Vec<(&str, Filter)> = vec![
            (r#"emails[type eq "work"]"#, vp("emails", work())),
            (r#"emails[ type eq "work" ]"#, vp("emails", work())),
            (r#"emails[not (type eq "work")]"#, vp("emails", not(work()))),
            (
                r#"emails[type eq "work" or (primary eq true)]"#,
                vp("emails", Or(vec![work(), cmp("primary", Eq, json!(true))])),
            ),
            // Entra's non-RFC form, folded into the value filter.
            (
                r#"emails[type eq "work"].value eq "x@example.com""#,
                vp(
                    "emails",
                    And(vec![work(), cmp("value", Eq, json!("x@example.com"))]),
                ),
            ),
            (
                r#"emails[type eq "work"].value pr"#,
                vp("emails", And(vec![work(), pr("value")])),
            ),
            (
                r#"emails[type eq "work" and primary eq true].value EQ "x""#,
                vp(
                    "emails",
                    And(vec![
                        work(),
                        cmp("primary", Eq, json!(true)),
                        cmp("value", Eq, json!("x")),
                    ]),
                ),
            ),
            (
                r#"emails[type eq "work" or type eq "home"].value eq "x""#,
                vp(
                    "emails",
                    And(vec![
                        Or(vec![work(), cmp("type", Eq, json!("home"))]),
                        cmp("value", Eq, json!("x")),
                    ]),
                ),
            ),
            (
                r#"addresses[type eq "work"].locality eq "Hollywood" and userName sw "b""#,
                And(vec![
                    vp(
                        "addresses",
                        And(vec![work(), cmp("locality", Eq, json!("Hollywood"))]),
                    ),
                    cmp("userName", Sw, json!("b")),
                ]),
            ),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]"#,
                Filter::ValuePath {
                    attr: urn_p(CORE_USER, "emails", None),
                    filter: Box::new(work()),
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_filter(input).unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn syntax_errors_with_positions() {
        let cases: Vec<(&str, usize, &str)> = vec![
            ("", 0, "empty filter"),
            ("   ", 3, "empty filter"),
            (
                "userName",
                8,
                "expected a comparison operator after 'userName'",
            ),
            (
                r#"userName is "x""#,
                9,
                "expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after 'userName', found 'is'",
            ),
            (
                r#"userName "x""#,
                9,
                r#"expected a comparison operator after 'userName', found "x""#,
            ),
            (
                "userName eq",
                11,
                "expected a value (a string, number, true, false or null) after 'eq'",
            ),
            (
                "userName eq bjensen",
                12,
                "expected a value (a string, number, true, false or null) after 'eq', found 'bjensen'",
            ),
            (
                "userName eq (",
                12,
                "expected a value (a string, number, true, false or null) after 'eq', found '('",
            ),
            (r#"title pr "x""#, 9, "'pr' takes no value"),
            ("title pr true", 9, "'pr' takes no value"),
            ("title pr 1", 9, "'pr' takes no value"),
            (r#"userName eq "bjensen"#, 12, "unterminated string"),
            (r#"userName eq "x")"#, 15, "unexpected ')'"),
            (r#")"#, 0, "unexpected ')'"),
            (r#"()"#, 1, "unexpected ')'"),
            (r#"a eq 1 ]"#, 7, "unexpected ']'"),
            (r#"a eq 1 b eq 2"#, 7, "expected 'and' or 'or', found 'b'"),
            (r#"a eq 1 "x""#, 7, r#"expected 'and' or 'or', found "x""#),
            (
                r#"a eq 1 and"#,
                10,
                "unexpected end of filter; expected an attribute path, '(' or 'not'",
            ),
            (
                r#"a eq 1 or or b pr"#,
                10,
                "expected an attribute path, '(' or 'not', found 'or'",
            ),
            (
                r#"and a pr"#,
                0,
                "expected an attribute path, '(' or 'not', found 'and'",
            ),
            (
                r#"a eq 1 and "x""#,
                11,
                r#"expected an attribute path, '(' or 'not', found "x""#,
            ),
            (
                r#"(a eq 1"#,
                7,
                "expected ')' to close the '(' at position 0, found end of input",
            ),
            (
                r#"(a eq 1 b pr)"#,
                8,
                "expected ')' to close the '(' at position 0, found 'b'",
            ),
            (r#"not a eq 1"#, 4, "expected '(' after 'not', found 'a'"),
            (r#"not"#, 3, "expected '(' after 'not', found end of input"),
            (
                r#"emails[type eq "work""#,
                21,
                "expected ']' to close the '[' at position 6, found end of input",
            ),
            (
                r#"emails[type eq "work")"#,
                21,
                "expected ']' to close the '[' at position 6, found ')'",
            ),
            (r#"emails[]"#, 7, "empty value filter 'emails[]'"),
            (
                r#"emails[x[y eq 1]]"#,
                8,
                "value filters cannot be nested (inside 'emails[…]')",
            ),
            (
                r#"emails[(x[y eq 1])]"#,
                9,
                "value filters cannot be nested (inside 'emails[…]')",
            ),
            (
                r#"emails[emails.type eq "work"]"#,
                7,
                "inside 'emails[…]' name a sub-attribute of 'emails' without '.' or a schema URN, found 'emails.type'",
            ),
            (
                r#"name.x[a eq 1]"#,
                0,
                "'[' must follow an attribute, not the sub-attribute path 'name.x'",
            ),
            (
                r#"emails[type eq "work"]."#,
                23,
                "expected a sub-attribute name after '.', found end of input",
            ),
            (
                r#"emails[type eq "work"].value"#,
                28,
                "expected a comparison operator after 'emails[…].value'",
            ),
            (
                r#"emails[type eq "work"].value.x eq 1"#,
                28,
                "expected a sub-attribute name after ']', found 'value.x'",
            ),
            (
                r#"emails[type eq "work"].value pr 1"#,
                32,
                "'pr' takes no value",
            ),
            (
                r#"a.b.c eq 1"#,
                3,
                "too many '.' in 'a.b.c'; a path is attribute or attribute.subAttribute",
            ),
            (
                r#"1 eq 1"#,
                0,
                "expected an attribute path, '(' or 'not', found 1",
            ),
            (
                r#".a eq 1"#,
                0,
                "expected an attribute path, '(' or 'not', found '.'",
            ),
            (
                r#"userName eq 'x'"#,
                12,
                "strings must be in double quotes (\"…\")",
            ),
            (r#"userName == "x""#, 9, "unexpected character '='"),
            (
                r#"a eq "x\u00""#,
                7,
                "\\u must be followed by four hexadecimal digits",
            ),
            (
                r#""é" eq 1"#,
                0,
                r#"expected an attribute path, '(' or 'not', found "é""#,
            ),
            // Positions are character offsets: the 'é' is one character.
            (r#"a eq "é" b"#, 9, "expected 'and' or 'or', found 'b'"),
        ];
        for (input, position, message) in cases {
            assert_eq!(
                parse_filter(input),
                Err(FilterError::new(position, message)),
                "{input}"
            );
        }
    }

    #[test]
    fn length_limit() {
        let pad = MAX_FILTER_LEN - r#"a eq """#.len();
        let at_limit = format!(r#"a eq "{}""#, "x".repeat(pad));
        assert_eq!(at_limit.chars().count(), MAX_FILTER_LEN);
        assert!(parse_filter(&at_limit).is_ok());
        let over = format!(r#"a eq "{}""#, "x".repeat(pad + 1));
        assert_eq!(
            parse_filter(&over),
            Err(FilterError::new(
                MAX_FILTER_LEN,
                "filter exceeds 4096 characters"
            ))
        );
        // Characters, not bytes: 4096 two-byte characters are within the limit.
        let wide = format!(r#"a eq "{}""#, "é".repeat(pad));
        assert!(parse_filter(&wide).is_ok());
        assert_eq!(
            parse_path(&"a".repeat(MAX_FILTER_LEN + 1)),
            Err(FilterError::new(
                MAX_FILTER_LEN,
                "path exceeds 4096 characters"
            ))
        );
    }

    #[test]
    fn depth_limit() {
        let nested = |n: usize| format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(parse_filter(&nested(MAX_DEPTH)).unwrap(), pr("a"));
        assert_eq!(
            parse_filter(&nested(MAX_DEPTH + 1)),
            Err(FilterError::new(
                MAX_DEPTH,
                "filter nests deeper than 32 levels"
            ))
        );
        // `not (` opens one level.
        let nots = |n: usize| format!("{}a pr{}", "not (".repeat(n), ")".repeat(n));
        assert!(parse_filter(&nots(MAX_DEPTH)).is_ok());
        assert_eq!(
            parse_filter(&nots(MAX_DEPTH + 1)),
            Err(FilterError::new(
                5 * MAX_DEPTH + 4,
                "filter nests deeper than 32 levels"
            ))
        );
        // A value path's '[' opens one level too.
        let in_brackets = |n: usize| format!("{}e[a pr]{}", "(".repeat(n), ")".repeat(n));
        assert!(parse_filter(&in_brackets(MAX_DEPTH - 1)).is_ok());
        assert_eq!(
            parse_filter(&in_brackets(MAX_DEPTH)),
            Err(FilterError::new(
                MAX_DEPTH + 1,
                "filter nests deeper than 32 levels"
            ))
        );
        // Deep input far beyond the limit fails cleanly rather than overflowing the stack.
        let deep = "(".repeat(MAX_FILTER_LEN);
        assert_eq!(parse_filter(&deep).unwrap_err().position, MAX_DEPTH);
    }

    #[test]
    fn term_limit() {
        let terms = |n: usize| vec!["a pr"; n].join(" or ");
        match parse_filter(&terms(MAX_TERMS)).unwrap() {
            Or(items) => assert_eq!(items.len(), MAX_TERMS),
            other => panic!("{other:?}"),
        }
        // The 201st term starts at 8 * 200.
        assert_eq!(
            parse_filter(&terms(MAX_TERMS + 1)),
            Err(FilterError::new(
                8 * MAX_TERMS,
                "filter has more than 200 terms"
            ))
        );
        // Terms inside value paths count too.
        let in_vp = format!("e[{}]", terms(MAX_TERMS + 1));
        assert_eq!(
            parse_filter(&in_vp).unwrap_err().message,
            "filter has more than 200 terms"
        );
    }

    #[test]
    fn patch_paths() {
        let work = || cmp("type", Eq, json!("work"));
        let cases: Vec<(&str, PatchPath)> = vec![
            (
                "active",
                PatchPath {
                    attr: p("active"),
                    filter: None,
                    sub: None,
                },
            ),
            (
                "name.givenName",
                PatchPath {
                    attr: p("name.givenName"),
                    filter: None,
                    sub: None,
                },
            ),
            (
                " name.givenName ",
                PatchPath {
                    attr: p("name.givenName"),
                    filter: None,
                    sub: None,
                },
            ),
            (
                "members",
                PatchPath {
                    attr: p("members"),
                    filter: None,
                    sub: None,
                },
            ),
            (
                r#"members[value eq "2819c223"]"#,
                PatchPath {
                    attr: p("members"),
                    filter: Some(cmp("value", Eq, json!("2819c223"))),
                    sub: None,
                },
            ),
            (
                r#"emails[type eq "work"].value"#,
                PatchPath {
                    attr: p("emails"),
                    filter: Some(work()),
                    sub: Some("value".into()),
                },
            ),
            (
                r#"addresses[type eq "work"].locality"#,
                PatchPath {
                    attr: p("addresses"),
                    filter: Some(work()),
                    sub: Some("locality".into()),
                },
            ),
            (
                r#"emails[type eq "work" and primary eq true]"#,
                PatchPath {
                    attr: p("emails"),
                    filter: Some(And(vec![work(), cmp("primary", Eq, json!(true))])),
                    sub: None,
                },
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                PatchPath {
                    attr: urn_p(ENTERPRISE, "manager", None),
                    filter: None,
                    sub: None,
                },
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                PatchPath {
                    attr: urn_p(ENTERPRISE, "manager", Some("value")),
                    filter: None,
                    sub: None,
                },
            ),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"].value"#,
                PatchPath {
                    attr: urn_p(CORE_USER, "emails", None),
                    filter: Some(work()),
                    sub: Some("value".into()),
                },
            ),
            (
                "members.$ref",
                PatchPath {
                    attr: p("members.$ref"),
                    filter: None,
                    sub: None,
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_path(input).unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn patch_path_errors() {
        let cases: Vec<(&str, usize, &str)> = vec![
            ("", 0, "empty path"),
            ("  ", 2, "empty path"),
            ("[type eq 1]", 0, "expected an attribute path, found '['"),
            (
                r#""emails""#,
                0,
                r#"expected an attribute path, found "emails""#,
            ),
            ("emails pr", 7, "unexpected 'pr' after the path 'emails pr'"),
            (
                "name givenName",
                5,
                "unexpected 'givenName' after the path 'name givenName'",
            ),
            (
                "a.b.c",
                3,
                "too many '.' in 'a.b.c'; a path is attribute or attribute.subAttribute",
            ),
            (
                r#"emails[type eq "work""#,
                21,
                "expected ']' to close the '[' at position 6, found end of input",
            ),
            (
                r#"emails[type eq "work"]."#,
                23,
                "expected a sub-attribute name after '.', found end of input",
            ),
            (
                r#"emails[type eq "work"].value.x"#,
                28,
                "expected a sub-attribute name after ']', found 'value.x'",
            ),
            (
                r#"emails[type eq "work"] x"#,
                23,
                r#"unexpected 'x' after the path 'emails[type eq "work"] x'"#,
            ),
            (
                r#"emails[type eq "work"].value eq "x""#,
                29,
                r#"unexpected 'eq' after the path 'emails[type eq "work"].value eq "x"'"#,
            ),
            (
                r#"emails[type eq "work"][value pr]"#,
                22,
                r#"unexpected '[' after the path 'emails[type eq "work"][value pr]'"#,
            ),
            (
                r#"emails[x[y eq 1]]"#,
                8,
                "value filters cannot be nested (inside 'emails[…]')",
            ),
            (
                r#"name.givenName[x eq 1]"#,
                0,
                "'[' must follow an attribute, not the sub-attribute path 'name.givenName'",
            ),
            ("emails[]", 7, "empty value filter 'emails[]'"),
            (
                "urn:a:b:",
                8,
                "missing attribute name after the schema URN in 'urn:a:b:'",
            ),
        ];
        for (input, position, message) in cases {
            assert_eq!(
                parse_path(input),
                Err(FilterError::new(position, message)),
                "{input}"
            );
        }
    }
}
