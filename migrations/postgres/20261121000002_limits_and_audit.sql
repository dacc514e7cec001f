-- Per-destination counters: one row per e-mail address or phone number that
-- was ever sent a code. Every limit is enforced by a single conditional
-- UPDATE on this row, so concurrent requests (from any instance) cannot
-- overshoot it.
CREATE TABLE destinations (
    destination TEXT PRIMARY KEY,
    -- Codes sent in the current hour and day windows.
    hour_start BIGINT NOT NULL DEFAULT 0,
    hour_count BIGINT NOT NULL DEFAULT 0,
    day_start BIGINT NOT NULL DEFAULT 0,
    day_count BIGINT NOT NULL DEFAULT 0,
    -- No new code before this time (the growing cooldown).
    next_send_at BIGINT NOT NULL DEFAULT 0,
    -- Verification attempts in the current hour window, across challenges;
    -- a new code never resets them, a successful sign-in does.
    fail_start BIGINT NOT NULL DEFAULT 0,
    fail_count BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT NOT NULL DEFAULT 0
);

-- One row: SMS sent in the current hour by all instances together.
CREATE TABLE sms_budget (
    id BIGINT PRIMARY KEY,
    hour_start BIGINT NOT NULL,
    hour_count BIGINT NOT NULL
);
INSERT INTO sms_budget (id, hour_start, hour_count) VALUES (1, 0, 0);

-- Security events, for the account's activity list and for investigations.
-- The destination is stored masked (readable) and as a keyed hash (to find
-- every event of one address without keeping the address itself).
CREATE TABLE audit_events (
    seq BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    destination_hash TEXT,
    destination_masked TEXT,
    user_id TEXT,
    ip TEXT,
    user_agent TEXT,
    detail TEXT
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_destination ON audit_events (destination_hash, at);
CREATE INDEX audit_events_user ON audit_events (user_id, at);
