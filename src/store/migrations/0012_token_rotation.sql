-- Token rotation without a gap, and expiry (issue 13, item 6). The current token's issue time
-- is the existing `token_created` column: a lifetime counts from it.
-- The token replaced by the latest regeneration keeps working until `previous_token_until`
-- (both NULL when there is none), so the identity provider can be updated without failed syncs.
ALTER TABLE integrations ADD COLUMN previous_token_digest BLOB;
ALTER TABLE integrations ADD COLUMN previous_token_until TEXT;
-- The current token's lifetime in days; NULL: it never expires.
ALTER TABLE integrations ADD COLUMN token_lifetime_days INTEGER;
