-- Claims: when an integration took over a manually provisioned user or group (Include
-- Manually Provisioned Users), which one (its name then) and when.
CREATE TABLE user_claims (
    user_seq        INTEGER PRIMARY KEY REFERENCES users(seq) ON DELETE CASCADE,
    integration_id  TEXT NOT NULL,
    integration_name TEXT NOT NULL,
    at              TEXT NOT NULL
) STRICT;
CREATE TABLE group_claims (
    group_seq       INTEGER PRIMARY KEY REFERENCES groups(seq) ON DELETE CASCADE,
    integration_id  TEXT NOT NULL,
    integration_name TEXT NOT NULL,
    at              TEXT NOT NULL
) STRICT;
