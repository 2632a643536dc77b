-- The email outbox: a message is queued in the same transaction as the change that causes
-- it (a user created by an integration with "Send enrollment emails" on), and a background
-- drainer sends due messages, retrying temporary failures with backoff (issue 7).
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,             -- 'enrollment'
    user_seq        INTEGER REFERENCES users(seq) ON DELETE CASCADE,
    recipient       TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',  -- pending | sent | failed | cancelled
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt    TEXT NOT NULL,             -- RFC 3339 UTC ms: text order is time order
    last_error      TEXT,                      -- the SMTP server's answer or the connection error
    created         TEXT NOT NULL,
    sent            TEXT
) STRICT;
CREATE INDEX outbox_due ON outbox(status, next_attempt);
CREATE INDEX outbox_user ON outbox(user_seq);

-- Enrollment links: one live link per user (a new one replaces the old). Only the SHA-256
-- digest of the link's token is stored. `pending_secret` is the TOTP secret shown on the QR
-- page until the user confirms a code from it.
CREATE TABLE enrollment_links (
    user_seq        INTEGER PRIMARY KEY REFERENCES users(seq) ON DELETE CASCADE,
    token_digest    BLOB NOT NULL UNIQUE,
    expires         TEXT NOT NULL,
    created         TEXT NOT NULL,
    pending_secret  TEXT
) STRICT;

-- Registered TOTP authenticators, one per user. The secret is stored as it is (base32): a
-- verifier needs the secret itself, so the database file is as sensitive as a key.
CREATE TABLE authenticators (
    user_seq        INTEGER PRIMARY KEY REFERENCES users(seq) ON DELETE CASCADE,
    secret          TEXT NOT NULL,
    created         TEXT NOT NULL,
    last_step       INTEGER NOT NULL DEFAULT 0,  -- the last accepted time step: a code is accepted once
    failures        INTEGER NOT NULL DEFAULT 0,  -- wrong codes in a row (/api/v1/verify throttle)
    locked_until    TEXT                         -- no code is checked before this time
) STRICT;
