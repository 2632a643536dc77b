-- Administrators' own second factor (issue 13 item 5): a TOTP authenticator per administrator,
-- the last time step accepted (a code is accepted once, RFC 6238 §5.2), and one-time recovery
-- codes kept only as argon2 digests.
ALTER TABLE admins ADD COLUMN totp_secret TEXT;          -- as stored by the directory layer
ALTER TABLE admins ADD COLUMN totp_last_step INTEGER;    -- the last accepted time step
ALTER TABLE admins ADD COLUMN totp_registered_at TEXT;

CREATE TABLE admin_recovery_codes (
    id              INTEGER PRIMARY KEY,
    admin_id        INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    digest          TEXT NOT NULL,              -- argon2id PHC string of the code
    created         TEXT NOT NULL
) STRICT;
CREATE INDEX admin_recovery_codes_admin ON admin_recovery_codes(admin_id);

-- A session whose password step passed and whose second factor is still awaited grants no
-- admin page; it lives minutes, and is replaced by a new session (new cookie) once the code is
-- given.
ALTER TABLE sessions ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
