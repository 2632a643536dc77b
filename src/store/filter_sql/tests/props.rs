//! Property tests of the filter parser and the filter-to-SQL compiler (issue 14 item 5), on the
//! differential test's users and vocabulary: no input makes the parser or the compiler panic,
//! every filter that compiles runs in SQLite, and on generated well-formed filters the SQL
//! selects exactly the users the evaluator (`scim::filter::matches`) matches.
//! `SCIMGATE_PROPTEST_CASES` sets the number of cases (default 256).

use std::cell::Cell;

use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};

use super::*;
use crate::scim::filter::parse_path;

use crate::proptest_config as config;

/// A filter term from the differential test's generator (a comparison, a presence test or a
/// value path), chosen by a seed.
fn term() -> impl Strategy<Value = String> {
    any::<u64>().prop_map(|seed| {
        let mut r = StdRng::seed_from_u64(seed);
        if maybe(&mut r, 0.2) {
            random_value_path(&mut r)
        } else {
            let p = random_path(&mut r);
            random_term(&mut r, p)
        }
    })
}

/// Well-formed filters: terms combined with `and`, `or`, `not (…)` and parentheses, up to four
/// levels deep; shrinking removes whole branches.
fn well_formed() -> impl Strategy<Value = String> {
    term().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                inner.clone(),
                prop::sample::select(vec!["and", "AND", "And"])
            )
                .prop_map(|(a, b, and)| format!("{a} {and} {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} or {b}")),
            inner.clone().prop_map(|a| format!("not ({a})")),
            inner.prop_map(|a| format!("({a})")),
        ]
    })
}

/// Pieces of filter syntax, right and wrong, for inputs near the grammar.
const TOKENS: &[&str] = &[
    "userName",
    "emails",
    "emails.value",
    "name.givenName",
    "meta.created",
    "meta.lastModified",
    "urn:ietf:params:scim:schemas:core:2.0:User:",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "groups",
    "x",
    "[",
    "]",
    "(",
    ")",
    ".",
    ":",
    "eq",
    "ne",
    "co",
    "sw",
    "ew",
    "pr",
    "gt",
    "ge",
    "lt",
    "le",
    "and",
    "or",
    "not",
    "\"bjensen\"",
    "\"",
    "\"\\",
    "\"\\u00e9\"",
    "\"\\ud800\"",
    "true",
    "false",
    "null",
    "1",
    "-0.5e300",
    "1e999",
    "\"2011-05-13T04:42:34Z\"",
    "\"2011-13-45T99:99:99Z\"",
    "Straße",
    "😀",
    "\u{0}",
    "\t",
];

/// A sequence of [`TOKENS`], with or without spaces between them.
fn token_soup() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(TOKENS), 0..24),
        any::<bool>(),
    )
        .prop_map(|(tokens, spaced)| tokens.join(if spaced { " " } else { "" }))
}

/// Any text: arbitrary Unicode, and sequences near the grammar.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), token_soup(), well_formed()]
}

/// The users the SQL and the evaluator must agree on.
struct Fixture {
    conn: Connection,
    resources: Vec<(String, Value)>,
}

impl Fixture {
    fn new() -> Fixture {
        let conn = db();
        let resources = population(&conn, None, &mut StdRng::seed_from_u64(14));
        Fixture { conn, resources }
    }

    /// Compiles `filter`, runs it, and checks it selects what the evaluator matches. Refusals
    /// by the compiler must be SCIM `invalidFilter` errors.
    fn check(&self, text: &str, filter: &Filter) -> Result<(), TestCaseError> {
        let cond = match compile_filter(users_map(), LOCATION, filter) {
            Ok(c) => c,
            Err(e) => {
                prop_assert_eq!(e.scim_type(), Some("invalidFilter"), "{}: {}", text, e);
                return Ok(());
            }
        };
        let got = select(&self.conn, &cond);
        let want: BTreeSet<String> = self
            .resources
            .iter()
            .filter(|(_, res)| matches(filter, res, schema::user()))
            .map(|(id, _)| id.clone())
            .collect();
        prop_assert_eq!(
            &got,
            &want,
            "{}\n  sql: {}\n  params: {:?}",
            text,
            cond.sql,
            cond.params
        );
        Ok(())
    }
}

/// No text makes the parser or the compiler panic; a filter that parses either compiles to SQL
/// that selects what the evaluator matches, or is refused as `invalidFilter`. PATCH paths go
/// through the same lexer, so `parse_path` gets the same inputs.
#[test]
fn any_text_is_parsed_compiled_and_run_without_panic() {
    let fixture = Fixture::new();
    TestRunner::new(config())
        .run(&any_text(), |text| {
            let _ = parse_path(&text);
            if let Ok(filter) = parse_filter(&text) {
                fixture.check(&text, &filter)?;
            }
            Ok(())
        })
        .unwrap();
}

/// On generated well-formed filters, the parser accepts them and the SQL agrees with the
/// evaluator.
#[test]
fn sql_agrees_with_the_evaluator_on_generated_filters() {
    let fixture = Fixture::new();
    let (tried, parsed) = (Cell::new(0u32), Cell::new(0u32));
    TestRunner::new(config())
        .run(&well_formed(), |text| {
            tried.set(tried.get() + 1);
            // The generator's vocabulary includes a few paths the parser refuses (as the
            // differential test's does): those are syntax errors, counted below.
            let Ok(filter) = parse_filter(&text) else {
                return Ok(());
            };
            parsed.set(parsed.get() + 1);
            fixture.check(&text, &filter)
        })
        .unwrap();
    assert!(
        parsed.get() * 10 >= tried.get() * 8,
        "only {} of {} generated filters parsed",
        parsed.get(),
        tried.get()
    );
}
