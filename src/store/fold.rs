//! Unicode case folding for case-insensitive comparisons (RFC 7643 §2.2 caseExact=false):
//! full default case folding, not SQLite's ASCII-only NOCASE, so that `STRASSE` matches
//! `straße` and `ÉCOLE` matches `école`. Registered in SQLite as `scim_fold(text)`.

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

pub fn fold(s: &str) -> String {
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
    }
}
