-- The PostgreSQL dialect of SQLite's migrations 0001, 0002, 0003 (search_text), 0005 and 0007,
-- for what users, groups and the filter compiler need (issue 18). Same tables, columns and
-- meaning; jsonb where SQLite keeps JSON text. Folded columns hold the Unicode case fold of
-- `store::fold`, computed in Rust when a row is written (PostgreSQL 15 has no full case
-- folding), exactly as the SQLite store writes them. Text columns compared by the filter
-- compiler use the "C" collation: code-point order, as SQLite's BINARY compares UTF-8.

CREATE TABLE integrations (
    id              TEXT COLLATE "C" PRIMARY KEY,
    name            TEXT NOT NULL,
    name_folded     TEXT COLLATE "C" NOT NULL UNIQUE,
    kind            TEXT NOT NULL DEFAULT 'scim2',
    token_digest    BYTEA NOT NULL,
    send_enrollment_emails BOOLEAN NOT NULL DEFAULT FALSE,
    include_manual  BOOLEAN NOT NULL DEFAULT FALSE,
    read_all_users  BOOLEAN NOT NULL DEFAULT FALSE,
    created         TEXT NOT NULL,
    token_created   TEXT NOT NULL,
    token_last_used TEXT
);

-- Users: the full SCIM document plus indexed columns for what identity providers filter on.
CREATE TABLE users (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- the stable list order
    id              TEXT COLLATE "C" NOT NULL UNIQUE,
    source          TEXT COLLATE "C" REFERENCES integrations(id) ON DELETE SET NULL,
    user_name       TEXT NOT NULL,
    user_name_folded TEXT COLLATE "C" NOT NULL UNIQUE,
    display_name_folded TEXT COLLATE "C",
    external_id     TEXT COLLATE "C",
    active          BOOLEAN NOT NULL,
    version         BIGINT NOT NULL,
    created         TEXT COLLATE "C" NOT NULL,   -- RFC 3339, UTC, millisecond precision
    last_modified   TEXT COLLATE "C" NOT NULL,
    doc             JSONB NOT NULL CHECK (jsonb_typeof(doc) = 'object'),
    search_text     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX users_external_id ON users(external_id);
CREATE INDEX users_source ON users(source, seq);
CREATE INDEX users_display_name ON users(display_name_folded);

-- Email addresses, folded, for `emails.value eq` and `emails[type eq "work"].value eq`.
CREATE TABLE user_emails (
    user_seq        BIGINT NOT NULL REFERENCES users(seq) ON DELETE CASCADE,
    value_folded    TEXT COLLATE "C" NOT NULL,
    type_folded     TEXT COLLATE "C"
);
CREATE INDEX user_emails_value ON user_emails(value_folded);
CREATE INDEX user_emails_user ON user_emails(user_seq);

-- Aliases, folded: an alias is unique across the appliance; a userName is held by
-- `users.user_name_folded` (SQLite's migration 0014 made the same split).
CREATE TABLE login_names (
    name_folded     TEXT COLLATE "C" PRIMARY KEY,
    user_seq        BIGINT NOT NULL REFERENCES users(seq) ON DELETE CASCADE,
    is_alias        BOOLEAN NOT NULL
);
CREATE INDEX login_names_user ON login_names(user_seq);

-- Groups: the SCIM document without its members, plus indexed columns.
CREATE TABLE groups (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT COLLATE "C" NOT NULL UNIQUE,
    source          TEXT COLLATE "C" REFERENCES integrations(id) ON DELETE SET NULL,
    display_name    TEXT NOT NULL,
    display_name_folded TEXT COLLATE "C" NOT NULL UNIQUE,
    external_id     TEXT COLLATE "C",
    version         BIGINT NOT NULL,
    created         TEXT COLLATE "C" NOT NULL,
    last_modified   TEXT COLLATE "C" NOT NULL,
    doc             JSONB NOT NULL CHECK (jsonb_typeof(doc) = 'object')
);
CREATE INDEX groups_external_id ON groups(external_id);
CREATE INDEX groups_source ON groups(source, seq);

CREATE TABLE group_members (
    group_seq       BIGINT NOT NULL REFERENCES groups(seq) ON DELETE CASCADE,
    user_seq        BIGINT NOT NULL REFERENCES users(seq) ON DELETE CASCADE,
    PRIMARY KEY (group_seq, user_seq)
);
CREATE INDEX group_members_user ON group_members(user_seq, group_seq);

-- Each membership as the `value` filters compare (ids are lower-case: already folded).
CREATE VIEW group_member_values AS
    SELECT m.group_seq AS group_seq, m.user_seq AS user_seq, u.id AS value_folded
    FROM group_members m JOIN users u ON u.seq = m.user_seq;
CREATE VIEW user_group_values AS
    SELECT m.user_seq AS user_seq, m.group_seq AS group_seq, g.id AS value_folded
    FROM group_members m JOIN groups g ON g.seq = m.group_seq;

CREATE TABLE user_claims (
    user_seq        BIGINT PRIMARY KEY REFERENCES users(seq) ON DELETE CASCADE,
    integration_id  TEXT NOT NULL,
    integration_name TEXT NOT NULL,
    at              TEXT NOT NULL
);
CREATE TABLE group_claims (
    group_seq       BIGINT PRIMARY KEY REFERENCES groups(seq) ON DELETE CASCADE,
    integration_id  TEXT NOT NULL,
    integration_name TEXT NOT NULL,
    at              TEXT NOT NULL
);

-- Unicode full case folding as `store::fold` does it (RFC 7643 §2.2 caseExact=false), for the
-- filter compiler's comparisons on attributes that have no folded column (SQLite registers
-- `scim_fold` from Rust; PostgreSQL 15 has no full case folding). Folding is a mapping of each
-- code point on its own, so a table of the code points whose fold differs, filled by the binary
-- from the same Unicode tables (`store::pg::migrate`), gives the same result.
CREATE TABLE scim_case_fold (
    ch              TEXT COLLATE "C" PRIMARY KEY,
    folded          TEXT COLLATE "C" NOT NULL
);
CREATE FUNCTION scim_fold(t TEXT) RETURNS TEXT
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        -- ASCII folds as ASCII lowercasing (the fast path of store::fold).
        WHEN t !~ '[^\x01-\x7f]' THEN translate(t, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
        ELSE (SELECT COALESCE(string_agg(COALESCE(f.folded, c.ch), '' ORDER BY c.i), '')
              FROM regexp_split_to_table(t, '') WITH ORDINALITY AS c(ch, i)
              LEFT JOIN scim_case_fold f ON f.ch = c.ch)
    END
$$;

-- `scim_instant(text)`, as `store::filter_sql::instant_key` (SQLite registers it from Rust):
-- an RFC 3339 date-time as a fixed-width text whose order is the order of the instants
-- (seconds since 1970 plus 10^12, 13 digits, a dot, 9 digits of nanoseconds), or NULL if the
-- text is not an RFC 3339 date-time.
CREATE FUNCTION scim_instant(t TEXT) RETURNS TEXT
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    m TEXT[];
    ts TIMESTAMPTZ;
BEGIN
    m := regexp_match(t, '^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$');
    IF m IS NULL THEN
        RETURN NULL;
    END IF;
    BEGIN
        ts := (m[1] || ' ' || m[2] || CASE WHEN upper(m[4]) = 'Z' THEN '+00:00' ELSE m[4] END)::timestamptz;
    EXCEPTION WHEN others THEN
        RETURN NULL;
    END;
    RETURN lpad((extract(epoch FROM ts)::bigint + 1000000000000)::text, 13, '0') || '.'
        || rpad(COALESCE(substr(m[3], 2), ''), 9, '0');
END
$$;
