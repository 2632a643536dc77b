-- Requests refused before authentication (no token, bad token, unknown Base URL, over a rate
-- limit) are counted, not stored one by one (issue 14 item 2): one row per minute per (Base
-- URL or path, reason, client address), with `refused` the number of requests it stands for
-- (NULL on an ordinary row). `client` is the client address of the request(s) (web::limits).
ALTER TABLE activity ADD COLUMN client TEXT;
ALTER TABLE activity ADD COLUMN refused INTEGER;
