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

-- Each membership as the `value` filters compare (a user id, already in folded form: ids are
-- lower-case), for `members[value eq "…"]` on groups and `groups.value eq "…"` on users.
CREATE VIEW group_member_values AS
    SELECT m.group_seq AS group_seq, m.user_seq AS user_seq, u.id AS value_folded
    FROM group_members m JOIN users u ON u.seq = m.user_seq;
CREATE VIEW user_group_values AS
    SELECT m.user_seq AS user_seq, m.group_seq AS group_seq, g.id AS value_folded
    FROM group_members m JOIN groups g ON g.seq = m.group_seq;
