-- The email outbox: a message is queued in the same transaction as the change that causes
-- it (a user created by an integration with "Send enrollment emails" on), and a background
-- drainer sends due messages, retrying temporary failures with backoff (issue 7).
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,             -- 'enrollment' | 'test'
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
