//! Splits a filter or PATCH path into tokens, each with its character position.
//!
//! Attribute paths and keywords are both lexed as [`Tok::Word`]; the parser tells them apart by
//! where they stand (an attribute may legitimately be called `type` or `value`). String values
//! follow JSON (RFC 8259 §7) and numbers follow JSON (RFC 8259 §6), as RFC 7644 §3.4.2.2
//! requires of comparison values.

use std::fmt;

use serde_json::Number;

use super::FilterError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// An attribute path or a keyword: an ASCII letter or `$`, then letters, digits and
    /// `-` `_` `:` `.` `$` (the characters of ATTRNAME, sub-attributes and schema URNs).
    Word(String),
    /// A JSON string, unescaped.
    Str(String),
    /// A JSON number.
    Num(Number),
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A `.` standing alone, as in `emails[type eq "work"].value`.
    Dot,
    Eof,
}

/// Describes the token for error messages: `'userName'`, `"bjensen"`, `')'`, `end of input`.
impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Word(w) => write!(f, "'{w}'"),
            Tok::Str(s) => write!(f, "{}", serde_json::Value::from(s.as_str())),
            Tok::Num(n) => write!(f, "{n}"),
            Tok::LParen => f.write_str("'('"),
            Tok::RParen => f.write_str("')'"),
            Tok::LBracket => f.write_str("'['"),
            Tok::RBracket => f.write_str("']'"),
            Tok::Dot => f.write_str("'.'"),
            Tok::Eof => f.write_str("end of input"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    /// Character offset of the token's first character.
    pub pos: usize,
}

/// The tokens of `input`, always ending with [`Tok::Eof`] positioned at the end of the input.
pub(crate) fn tokenize(input: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = input.chars().collect();
    let mut lexer = Lexer {
        chars: &chars,
        i: 0,
    };
    let mut out = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let done = token.tok == Tok::Eof;
        out.push(token);
        if done {
            return Ok(out);
        }
    }
}

/// The first character of an attribute path or keyword.
fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '$'
}

/// A character that may continue an attribute path: nameChar (RFC 7643 §2.1), the `.` of a
/// sub-attribute, the `:` of a schema URN, and the `$` of `$ref`.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | '$')
}

struct Lexer<'a> {
    chars: &'a [char],
    i: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.i + offset).copied()
    }

    fn next_token(&mut self) -> Result<Token, FilterError> {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
        let pos = self.i;
        let Some(c) = self.peek() else {
            return Ok(Token { tok: Tok::Eof, pos });
        };
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            '.' => Some(Tok::Dot),
            _ => None,
        };
        let tok = if let Some(tok) = single {
            self.i += 1;
            tok
        } else if c == '"' {
            Tok::Str(self.string()?)
        } else if c.is_ascii_digit() || c == '-' {
            Tok::Num(self.number()?)
        } else if is_word_start(c) {
            let start = self.i;
            while self.peek().is_some_and(is_word_char) {
                self.i += 1;
            }
            Tok::Word(self.chars[start..self.i].iter().collect())
        } else if c == '\'' {
            return Err(FilterError::new(
                pos,
                "strings must be in double quotes (\"…\")",
            ));
        } else {
            return Err(FilterError::new(pos, format!("unexpected character '{c}'")));
        };
        Ok(Token { tok, pos })
    }

    /// A JSON string starting at the opening quote.
    fn string(&mut self) -> Result<String, FilterError> {
        let start = self.i;
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(FilterError::new(start, "unterminated string"));
            };
            let at = self.i;
            self.i += 1;
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let Some(e) = self.peek() else {
                        return Err(FilterError::new(start, "unterminated string"));
                    };
                    self.i += 1;
                    match e {
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        '/' => out.push('/'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'u' => out.push(self.unicode_escape(at)?),
                        other => {
                            return Err(FilterError::new(
                                at,
                                format!("invalid escape '\\{other}' in string"),
                            ));
                        }
                    }
                }
                // JSON forbids raw control characters; a filter arriving in a URL query could
                // only carry them percent-encoded on purpose, so tolerate them (IdP leniency).
                other => out.push(other),
            }
        }
    }

    /// The character of a `\uXXXX` escape whose backslash is at `at` (the `u` is consumed),
    /// combining a UTF-16 surrogate pair written as two escapes (RFC 8259 §7).
    fn unicode_escape(&mut self, at: usize) -> Result<char, FilterError> {
        let high = self.hex4(at)?;
        if (0xDC00..=0xDFFF).contains(&high) {
            return Err(FilterError::new(at, "unpaired low surrogate in \\u escape"));
        }
        if !(0xD800..=0xDBFF).contains(&high) {
            return char::from_u32(high).ok_or_else(|| FilterError::new(at, "invalid \\u escape"));
        }
        let low_at = self.i;
        if self.peek() != Some('\\') || self.peek_at(1) != Some('u') {
            return Err(FilterError::new(
                at,
                "unpaired high surrogate in \\u escape",
            ));
        }
        self.i += 2;
        let low = self.hex4(low_at)?;
        if !(0xDC00..=0xDFFF).contains(&low) {
            return Err(FilterError::new(
                at,
                "unpaired high surrogate in \\u escape",
            ));
        }
        let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
        char::from_u32(code).ok_or_else(|| FilterError::new(at, "invalid \\u escape"))
    }

    /// Four hex digits after `\u` (the escape's backslash is at `at`).
    fn hex4(&mut self, at: usize) -> Result<u32, FilterError> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self.peek().and_then(|c| c.to_digit(16)).ok_or_else(|| {
                FilterError::new(at, "\\u must be followed by four hexadecimal digits")
            })?;
            code = code * 16 + digit;
            self.i += 1;
        }
        Ok(code)
    }

    /// A JSON number: `-? int frac? exp?`.
    fn number(&mut self) -> Result<Number, FilterError> {
        let start = self.i;
        let invalid = |lexer: &Self| {
            // Report the whole run of number-ish characters, e.g. '12ab' or '-'.
            let mut end = lexer.i;
            while lexer
                .chars
                .get(end)
                .is_some_and(|&c| is_word_char(c) || c == '+')
            {
                end += 1;
            }
            let text: String = lexer.chars[start..end.max(start + 1)].iter().collect();
            FilterError::new(start, format!("invalid number '{text}'"))
        };
        if self.peek() == Some('-') {
            self.i += 1;
        }
        if !self.digits() {
            return Err(invalid(self));
        }
        if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
            self.digits();
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            self.i += 1;
            if matches!(self.peek(), Some('+' | '-')) {
                self.i += 1;
            }
            if !self.digits() {
                return Err(invalid(self));
            }
        }
        // A number must end at a delimiter: `12ab`, `1.` and `1.2.3` are not numbers.
        if self.peek().is_some_and(is_word_char) {
            return Err(invalid(self));
        }
        let text: String = self.chars[start..self.i].iter().collect();
        // serde_json applies the remaining JSON rules (no leading zeros, range).
        serde_json::from_str::<Number>(&text)
            .map_err(|_| FilterError::new(start, format!("invalid number '{text}'")))
    }

    /// Consumes a run of ASCII digits; false if there was none.
    fn digits(&mut self) -> bool {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        self.i > start
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn toks(input: &str) -> Vec<(Tok, usize)> {
        tokenize(input)
            .unwrap()
            .into_iter()
            .map(|t| (t.tok, t.pos))
            .collect()
    }

    fn word(w: &str) -> Tok {
        Tok::Word(w.to_owned())
    }

    fn num(text: &str) -> Tok {
        Tok::Num(serde_json::from_str(text).unwrap())
    }

    #[test]
    fn tokens_and_positions() {
        let cases: Vec<(&str, Vec<(Tok, usize)>)> = vec![
            ("", vec![(Tok::Eof, 0)]),
            ("   \t\n", vec![(Tok::Eof, 5)]),
            (
                r#"userName eq "bjensen""#,
                vec![
                    (word("userName"), 0),
                    (word("eq"), 9),
                    (Tok::Str("bjensen".into()), 12),
                    (Tok::Eof, 21),
                ],
            ),
            (
                "title pr",
                vec![(word("title"), 0), (word("pr"), 6), (Tok::Eof, 8)],
            ),
            (
                r#"emails[type eq "work"].value"#,
                vec![
                    (word("emails"), 0),
                    (Tok::LBracket, 6),
                    (word("type"), 7),
                    (word("eq"), 12),
                    (Tok::Str("work".into()), 15),
                    (Tok::RBracket, 21),
                    (Tok::Dot, 22),
                    (word("value"), 23),
                    (Tok::Eof, 28),
                ],
            ),
            (
                "not(a pr)",
                vec![
                    (word("not"), 0),
                    (Tok::LParen, 3),
                    (word("a"), 4),
                    (word("pr"), 6),
                    (Tok::RParen, 8),
                    (Tok::Eof, 9),
                ],
            ),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
                vec![
                    (
                        word("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName"),
                        0,
                    ),
                    (Tok::Eof, 57),
                ],
            ),
            (
                "members.$ref",
                vec![(word("members.$ref"), 0), (Tok::Eof, 12)],
            ),
            ("a-b_c9", vec![(word("a-b_c9"), 0), (Tok::Eof, 6)]),
            // Positions count characters, not bytes.
            (
                r#""é" x"#,
                vec![(Tok::Str("é".into()), 0), (word("x"), 4), (Tok::Eof, 5)],
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(toks(input), expected, "{input}");
        }
    }

    #[test]
    fn numbers() {
        for text in [
            "0",
            "7",
            "-3",
            "10",
            "1.5",
            "-0.25",
            "1e3",
            "1E-3",
            "2.5e+10",
            "12345678901234567890",
        ] {
            assert_eq!(
                toks(text),
                vec![(num(text), 0), (Tok::Eof, text.chars().count())],
                "{text}"
            );
        }
        // A number ends at a delimiter.
        assert_eq!(
            toks("(1)"),
            vec![
                (Tok::LParen, 0),
                (num("1"), 1),
                (Tok::RParen, 2),
                (Tok::Eof, 3)
            ]
        );
        assert_eq!(
            toks("1]"),
            vec![(num("1"), 0), (Tok::RBracket, 1), (Tok::Eof, 2)]
        );
    }

    #[test]
    fn strings_and_escapes() {
        let cases = [
            (r#""""#, ""),
            (r#""O'Malley""#, "O'Malley"),
            (r#""a\"b""#, "a\"b"),
            (r#""a\\b""#, "a\\b"),
            (r#""a\/b""#, "a/b"),
            (r#""\b\f\n\r\t""#, "\u{8}\u{c}\n\r\t"),
            (r#""\u00e9""#, "é"),
            (r#""\u00C9COLE""#, "ÉCOLE"),
            (r#""\ud83d\ude00""#, "😀"),
            (r#""\uD83D\uDE00!""#, "😀!"),
            (r#""straße 😀""#, "straße 😀"),
            (r#""a b""#, "a b"),
            (r#""(and) [or] not""#, "(and) [or] not"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                toks(input),
                vec![
                    (Tok::Str(expected.into()), 0),
                    (Tok::Eof, input.chars().count())
                ],
                "{input}"
            );
        }
    }

    #[test]
    fn errors_with_positions() {
        let cases = [
            (r#"userName eq "bjensen"#, 12, "unterminated string"),
            (r#"a eq "x\"#, 5, "unterminated string"),
            (r#"a eq "x\q""#, 7, "invalid escape '\\q' in string"),
            (
                r#"a eq "\u12""#,
                6,
                "\\u must be followed by four hexadecimal digits",
            ),
            (
                r#"a eq "\u12g4""#,
                6,
                "\\u must be followed by four hexadecimal digits",
            ),
            (
                r#"a eq "\ud83d""#,
                6,
                "unpaired high surrogate in \\u escape",
            ),
            (
                r#"a eq "\ud83d\u0041""#,
                6,
                "unpaired high surrogate in \\u escape",
            ),
            (
                r#"a eq "\ude00""#,
                6,
                "unpaired low surrogate in \\u escape",
            ),
            ("a eq 'x'", 5, "strings must be in double quotes (\"…\")"),
            ("a eq #", 5, "unexpected character '#'"),
            ("a eq 1 & b", 7, "unexpected character '&'"),
            ("a eq 01", 5, "invalid number '01'"),
            ("a eq 12ab", 5, "invalid number '12ab'"),
            ("a eq 1.", 5, "invalid number '1.'"),
            ("a eq 1.2.3", 5, "invalid number '1.2.3'"),
            ("a eq 1e", 5, "invalid number '1e'"),
            ("a eq -", 5, "invalid number '-'"),
            ("a eq -x", 5, "invalid number '-x'"),
            ("a eq 1e999", 5, "invalid number '1e999'"),
            ("é eq 1", 0, "unexpected character 'é'"),
        ];
        for (input, position, message) in cases {
            let err = tokenize(input).unwrap_err();
            assert_eq!(err, FilterError::new(position, message), "{input}");
        }
    }

    #[test]
    fn token_descriptions() {
        assert_eq!(word("and").to_string(), "'and'");
        assert_eq!(Tok::Str("a\"b".into()).to_string(), r#""a\"b""#);
        assert_eq!(num("1.5").to_string(), "1.5");
        assert_eq!(Tok::RParen.to_string(), "')'");
        assert_eq!(Tok::Eof.to_string(), "end of input");
    }
}
