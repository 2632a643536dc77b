-- Secrets sealed at rest (issue 13 item 2). TOTP secrets (`authenticators.secret`) and pending
-- enrollment secrets (`enrollment_links.pending_secret`) are stored as `v1:` + base64url of an
-- XChaCha20-Poly1305 nonce and ciphertext, under a key kept outside the database (the
-- secrets key file). This one-row table records which key sealed them, so that a start with
-- a missing or different key file is refused instead of failing every verification. The
-- plaintext secrets of an older database are sealed at start-up, after this migration,
-- because sealing needs the key, which SQL does not have.
CREATE TABLE secrets_meta (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    key_id      TEXT NOT NULL,
    changed     TEXT NOT NULL
) STRICT;
