-- Groups: the SCIM document without its members, plus indexed columns.
CREATE TABLE groups (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    source          TEXT REFERENCES integrations(id) ON DELETE SET NULL,  -- NULL: manual
    display_name    TEXT NOT NULL,
    display_name_folded TEXT NOT NULL UNIQUE,  -- displayName is unique (Entra requires it)
    external_id     TEXT,
    version         INTEGER NOT NULL,
    created         TEXT NOT NULL,
    last_modified   TEXT NOT NULL,
    doc             TEXT NOT NULL CHECK (json_valid(doc))
) STRICT;
CREATE INDEX groups_external_id ON groups(external_id);
CREATE INDEX groups_source ON groups(source, seq);

-- Memberships: a row per (group, user). Members live here, not in the document, so that a
-- group of 100,000 members changes by a row, not by rewriting a document.
CREATE TABLE group_members (
    group_seq       INTEGER NOT NULL REFERENCES groups(seq) ON DELETE CASCADE,
    user_seq        INTEGER NOT NULL REFERENCES users(seq) ON DELETE CASCADE,
    PRIMARY KEY (group_seq, user_seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX group_members_user ON group_members(user_seq, group_seq);
