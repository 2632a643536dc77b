-- Administrators of the admin pages. Passwords are argon2id PHC strings.
CREATE TABLE admins (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL,
    username_folded TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    created         TEXT NOT NULL,
    last_sign_in    TEXT
) STRICT;

-- The one-time first-admin setup link: only its SHA-256 digest is kept; at most one row.
CREATE TABLE setup_links (
    digest          BLOB PRIMARY KEY,
    expires         TEXT NOT NULL
) STRICT;

-- Admin sessions, server-side. The cookie carries a random token; the row keeps its digest.
CREATE TABLE sessions (
    digest          BLOB PRIMARY KEY,
    admin_id        INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    csrf            TEXT NOT NULL,             -- the per-session form token
    created         TEXT NOT NULL,
    last_seen       TEXT NOT NULL,             -- idle expiry counts from here
    expires         TEXT NOT NULL              -- absolute expiry
) STRICT;
CREATE INDEX sessions_expires ON sessions(expires);

-- One row per SCIM request, for the Activity page. Kept for `activity.retention_days` and at
-- most `activity.max_entries` rows. No foreign key: the history outlives a deleted integration.
CREATE TABLE activity (
    seq             INTEGER PRIMARY KEY,
    at              TEXT NOT NULL,
    integration_id  TEXT,
    integration_name TEXT,
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,
    status          INTEGER NOT NULL,
    latency_ms      INTEGER NOT NULL,
    summary         TEXT NOT NULL,
    user_id         TEXT                       -- the user the request touched, if any
) STRICT;
CREATE INDEX activity_at ON activity(at);
CREATE INDEX activity_user ON activity(user_id) WHERE user_id IS NOT NULL;
CREATE INDEX activity_integration ON activity(integration_id, seq);

-- The Users page's substring search: userName, aliases, emails and names, case-folded, one per
-- line. Maintained with the other derived columns (store/users.rs); filled here for existing users.
ALTER TABLE users ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
UPDATE users SET search_text = scim_fold(concat_ws(char(10),
    user_name,
    (SELECT group_concat(a.value ->> '$.value', char(10)) FROM json_each(doc, '$.aliases') a),
    (SELECT group_concat(e.value ->> '$.value', char(10)) FROM json_each(doc, '$.emails') e),
    doc ->> '$.displayName', doc ->> '$.name.formatted',
    doc ->> '$.name.givenName', doc ->> '$.name.familyName'));
