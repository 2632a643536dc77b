-- Integrations: one per provisioning client (an Okta app, an Entra enterprise app, ...).
CREATE TABLE integrations (
    id              TEXT PRIMARY KEY,          -- 32 lower-case hex digits: part of the Base URL
    name            TEXT NOT NULL,
    name_folded     TEXT NOT NULL UNIQUE,      -- Unicode case fold of name: names are unique
    kind            TEXT NOT NULL DEFAULT 'scim2',
    token_digest    BLOB NOT NULL,             -- SHA-256 of the API token; the token is never stored
    send_enrollment_emails INTEGER NOT NULL DEFAULT 0,
    include_manual  INTEGER NOT NULL DEFAULT 0,
    read_all_users  INTEGER NOT NULL DEFAULT 0,
    created         TEXT NOT NULL,
    token_created   TEXT NOT NULL,
    token_last_used TEXT
) STRICT;

-- Users: the full SCIM document plus indexed columns for what identity providers filter on.
CREATE TABLE users (
    seq             INTEGER PRIMARY KEY,       -- insertion order: the stable list order
    id              TEXT NOT NULL UNIQUE,
    source          TEXT REFERENCES integrations(id) ON DELETE SET NULL,  -- NULL: manual
    user_name       TEXT NOT NULL,
    user_name_folded TEXT NOT NULL UNIQUE,
    external_id     TEXT,
    active          INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    created         TEXT NOT NULL,             -- RFC 3339, UTC, millisecond precision
    last_modified   TEXT NOT NULL,
    doc             TEXT NOT NULL CHECK (json_valid(doc))
) STRICT;
CREATE INDEX users_external_id ON users(external_id);
CREATE INDEX users_source ON users(source, seq);

-- Email addresses, folded, for `emails.value eq` and `emails[type eq "work"].value eq`.
CREATE TABLE user_emails (
    user_seq        INTEGER NOT NULL REFERENCES users(seq) ON DELETE CASCADE,
    value_folded    TEXT NOT NULL,
    type_folded     TEXT
) STRICT;
CREATE INDEX user_emails_value ON user_emails(value_folded);
CREATE INDEX user_emails_user ON user_emails(user_seq);

-- Every login name (userName and each alias), folded: unique across the appliance.
CREATE TABLE login_names (
    name_folded     TEXT PRIMARY KEY,
    user_seq        INTEGER NOT NULL REFERENCES users(seq) ON DELETE CASCADE,
    is_alias        INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX login_names_user ON login_names(user_seq);
