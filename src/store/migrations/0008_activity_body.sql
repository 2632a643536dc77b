-- The request body of a SCIM request as the Activity page shows it: JSON with secrets
-- redacted, at most activity.max_body_bytes (NULL: no body, or not kept). `body_note` says why
-- a body is missing or cut; `body_bytes` is the size the client sent.
ALTER TABLE activity ADD COLUMN body TEXT;
ALTER TABLE activity ADD COLUMN body_bytes INTEGER;
ALTER TABLE activity ADD COLUMN body_note TEXT;
