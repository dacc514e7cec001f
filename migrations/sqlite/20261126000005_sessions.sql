-- Sessions people can see and end. `id` is the public handle a page uses
-- to name a session (never the token or its hash); `last_seen_at` drives
-- the idle timeout (refreshed at most hourly); `ip` and `browser` ("Firefox
-- on Windows", never the raw User-Agent) are what the account page shows.
-- Sessions that exist already count as seen now: the upgrade does not sign
-- out everybody who has not visited in the last idle period.
-- `id` stays nullable (SQLite can't add a NOT NULL column to a table with
-- rows); every insert names it.
ALTER TABLE sessions ADD COLUMN id TEXT;
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN ip TEXT;
ALTER TABLE sessions ADD COLUMN browser TEXT;
UPDATE sessions SET id = lower(hex(randomblob(16))), last_seen_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER);
CREATE UNIQUE INDEX sessions_id ON sessions (id);
