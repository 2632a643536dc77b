-- The PostgreSQL dialect of the rest of SQLite's schema (issue 18 items 4 and 6): what SQLite's
-- migrations 0003 (admins, setup link, sessions, activity), 0006 (outbox, enrollment links,
-- authenticators), 0008 (activity bodies), 0009 (verifier keys), 0010 (sealed secrets' key id),
-- 0011 (administrators' second factor), 0012 (token rotation and expiry), 0013 (refused-request
-- counts) and 0015 (the group PATCH answer) hold, with the same tables, columns and meaning, so
-- that `store::pg::copy` moves every row of a SQLite directory without translating it.
-- Types: SQLite INTEGER is BIGINT (the repositories read i64 on both engines), 0/1 flags are
-- BOOLEAN, BLOB is BYTEA, and times stay text in SQLite's format (RFC 3339, UTC, millisecond
-- precision), compared in the "C" collation so that text order is time order as in SQLite.
-- SQLite's `INTEGER PRIMARY KEY` row ids (a new row gets the largest id plus one) are identity
-- columns; `copy` sets each identity past the largest id it copied.

-- Integrations: the previous token kept working until `previous_token_until` after a
-- regeneration, the current token's lifetime (NULL: it never expires) and what a successful
-- group PATCH answers (RFC 7644 §3.5.2 allows 204).
ALTER TABLE integrations
    ADD COLUMN previous_token_digest BYTEA,
    ADD COLUMN previous_token_until  TEXT COLLATE "C",
    ADD COLUMN token_lifetime_days   BIGINT,
    ADD COLUMN group_patch_answer    TEXT NOT NULL DEFAULT 'no_content'
        CHECK (group_patch_answer IN ('no_content', 'resource'));

-- Administrators of the admin pages. Passwords and recovery codes are argon2id PHC strings.
CREATE TABLE admins (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username        TEXT NOT NULL,
    username_folded TEXT COLLATE "C" NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    created         TEXT COLLATE "C" NOT NULL,
    last_sign_in    TEXT COLLATE "C",
    totp_secret     TEXT,                      -- as stored by the directory layer (sealed)
    totp_last_step  BIGINT,                    -- the last accepted time step (RFC 6238 §5.2)
    totp_registered_at TEXT COLLATE "C"
);

CREATE TABLE admin_recovery_codes (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    admin_id        BIGINT NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    digest          TEXT NOT NULL,
    created         TEXT COLLATE "C" NOT NULL
);
CREATE INDEX admin_recovery_codes_admin ON admin_recovery_codes(admin_id);

-- The one-time first-admin setup link: only its SHA-256 digest is kept; at most one row.
CREATE TABLE setup_links (
    digest          BYTEA PRIMARY KEY,
    expires         TEXT COLLATE "C" NOT NULL
);

-- Admin sessions, server-side, so that a sign-in holds on every node (issue 18 item 4). The
-- cookie carries a random token; the row keeps its digest. `pending`: the password step passed
-- and the second factor is still awaited.
CREATE TABLE sessions (
    digest          BYTEA PRIMARY KEY,
    admin_id        BIGINT NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    csrf            TEXT NOT NULL,
    created         TEXT COLLATE "C" NOT NULL,
    last_seen       TEXT COLLATE "C" NOT NULL,
    expires         TEXT COLLATE "C" NOT NULL,
    pending         BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX sessions_expires ON sessions(expires);

-- One row per SCIM request for the Activity page, or one row per minute per (Base URL or path,
-- reason, client) standing for `refused` requests refused before authentication (NULL on an
-- ordinary row). No foreign key: the history outlives a deleted integration. `body` is text,
-- not jsonb: it may be cut at activity.max_body_bytes (`body_note` says so).
CREATE TABLE activity (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              TEXT COLLATE "C" NOT NULL,
    integration_id  TEXT COLLATE "C",
    integration_name TEXT,
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,
    status          BIGINT NOT NULL,
    latency_ms      BIGINT NOT NULL,
    summary         TEXT NOT NULL,
    user_id         TEXT COLLATE "C",
    body            TEXT,
    body_bytes      BIGINT,
    body_note       TEXT,
    client          TEXT,
    refused         BIGINT
);
CREATE INDEX activity_at ON activity(at);
CREATE INDEX activity_user ON activity(user_id) WHERE user_id IS NOT NULL;
CREATE INDEX activity_integration ON activity(integration_id, seq);

-- The email outbox, written in the same transaction as the change that causes it (issue 7).
CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            TEXT NOT NULL,             -- 'enrollment'
    user_seq        BIGINT REFERENCES users(seq) ON DELETE CASCADE,
    recipient       TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',  -- pending | sent | failed | cancelled
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt    TEXT COLLATE "C" NOT NULL,
    last_error      TEXT,
    created         TEXT COLLATE "C" NOT NULL,
    sent            TEXT COLLATE "C"
);
CREATE INDEX outbox_due ON outbox(status, next_attempt);
CREATE INDEX outbox_user ON outbox(user_seq);

-- Enrollment links: one live link per user; only the SHA-256 digest of the link's token.
-- `pending_secret` is the sealed TOTP secret shown until the user confirms a code from it.
CREATE TABLE enrollment_links (
    user_seq        BIGINT PRIMARY KEY REFERENCES users(seq) ON DELETE CASCADE,
    token_digest    BYTEA NOT NULL UNIQUE,
    expires         TEXT COLLATE "C" NOT NULL,
    created         TEXT COLLATE "C" NOT NULL,
    pending_secret  TEXT
);

-- Registered TOTP authenticators, one per user, the secret sealed (`secrets_meta`).
CREATE TABLE authenticators (
    user_seq        BIGINT PRIMARY KEY REFERENCES users(seq) ON DELETE CASCADE,
    secret          TEXT NOT NULL,
    created         TEXT COLLATE "C" NOT NULL,
    last_step       BIGINT NOT NULL DEFAULT 0, -- a code is accepted once
    failures        BIGINT NOT NULL DEFAULT 0, -- wrong codes in a row (/api/v1/verify throttle)
    locked_until    TEXT COLLATE "C"
);

-- Verifier keys of `POST /api/v1/verify` (issue 13 item 1): the SHA-256 digest only; a revoked
-- key keeps its row. Names are unique among the keys in force, case-insensitively.
CREATE TABLE verifier_keys (
    id              TEXT COLLATE "C" PRIMARY KEY,
    name            TEXT NOT NULL,
    name_folded     TEXT COLLATE "C" NOT NULL,
    digest          BYTEA NOT NULL UNIQUE,
    created_at      TEXT COLLATE "C" NOT NULL,
    last_used_at    TEXT COLLATE "C",
    revoked_at      TEXT COLLATE "C"
);
CREATE UNIQUE INDEX verifier_keys_active_name ON verifier_keys (name_folded)
    WHERE revoked_at IS NULL;

-- Which key (the secrets key file, outside the database) sealed the TOTP secrets: one row.
CREATE TABLE secrets_meta (
    id              BIGINT PRIMARY KEY CHECK (id = 1),
    key_id          TEXT NOT NULL,
    changed         TEXT COLLATE "C" NOT NULL
);
