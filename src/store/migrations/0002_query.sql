-- The folded displayName, indexed, for `displayName eq` / `sw` and sorting (issue 3).
ALTER TABLE users ADD COLUMN display_name_folded TEXT;
UPDATE users SET display_name_folded = scim_fold(json_extract(doc, '$.displayName'));
CREATE INDEX users_display_name ON users(display_name_folded);
