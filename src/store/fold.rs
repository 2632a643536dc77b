//! Unicode case folding for case-insensitive comparisons (RFC 7643 §2.2 caseExact=false):
//! full default case folding, not SQLite's ASCII-only NOCASE, so that `STRASSE` matches
//! `straße` and `ÉCOLE` matches `école`. Registered in SQLite as `scim_fold(text)`.

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

pub fn fold(s: &str) -> String {
    // Full case folding maps ASCII exactly as ASCII lowercasing does (A–Z to a–z, nothing else
    // changes), and most names are ASCII: a hundred times cheaper than the Unicode tables.
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    caseless::default_case_fold_str(s)
}

/// Registers `scim_fold` on a connection (used by compiled filters on JSON attributes).
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "scim_fold",
        1,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        // Text folds; anything else (NULL, numbers from a JSON value) is NULL.
        |ctx| {
            Ok(match ctx.get_raw(0) {
                rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t).ok().map(fold),
                _ => None,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_beyond_ascii() {
        assert_eq!(fold("STRASSE"), fold("straße"));
        assert_eq!(fold("ÉCOLE"), fold("école"));
        assert_eq!(fold("Test.User@Okta.Local"), "test.user@okta.local");
        // The ASCII fast path agrees with the Unicode tables on every ASCII character.
        let ascii: String = (0u8..128).map(char::from).collect();
        assert_eq!(fold(&ascii), caseless::default_case_fold_str(&ascii));
        // Non-ASCII that folds to ASCII still goes through the tables (KELVIN SIGN → k).
        assert_eq!(fold("\u{212A}ELVIN"), "kelvin");
    }
}
