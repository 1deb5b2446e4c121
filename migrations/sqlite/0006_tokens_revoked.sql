-- Eider SQLite schema, version 6: API token revocation.
--
-- tokens_revoked is the time (Unix nanoseconds) up to which every API token
-- issued to the user is void: DELETE /authenticate sets it to now, which
-- logs the user out of every client at once. 0: no revocation.
ALTER TABLE users ADD COLUMN tokens_revoked INTEGER NOT NULL DEFAULT 0;
