-- Verifier keys: the credentials of `POST /api/v1/verify` (issue 13 item 1), separate from
-- integration API tokens so that a token pasted into an IdP cannot probe codes. The key itself
-- is never stored, only its SHA-256 digest. Revoking marks the row (`revoked_at`) rather than
-- deleting it, so the database keeps which keys existed and when each was last used; a revoked
-- key never authenticates again, and its name may be given to a new key.
CREATE TABLE verifier_keys (
    id           TEXT PRIMARY KEY,       -- 32 lower-case hex digits
    name         TEXT NOT NULL,
    name_folded  TEXT NOT NULL,          -- Unicode case fold of name
    digest       BLOB NOT NULL UNIQUE,   -- SHA-256 of the key
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
) STRICT;

-- Names are unique among the keys in force, case-insensitively.
CREATE UNIQUE INDEX verifier_keys_active_name ON verifier_keys (name_folded)
    WHERE revoked_at IS NULL;
