-- Times are integer milliseconds since the Unix epoch, ids are text: the
-- same queries then run on SQLite and Postgres (BIGINT there).

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    -- Normalised: e-mail with lower-cased domain, phone in E.164.
    identifier TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    created_at BIGINT NOT NULL,
    last_sign_in_at BIGINT NOT NULL
);

CREATE TABLE challenges (
    id TEXT PRIMARY KEY,
    destination TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    -- argon2id PHC string, keyed with the server secret; never the code.
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    consumed_at BIGINT,
    superseded_at BIGINT
);
CREATE INDEX challenges_destination ON challenges (destination, created_at);

CREATE TABLE sessions (
    -- SHA-256 of the cookie's token, hex.
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Development delivery only: what would have been sent.
CREATE TABLE outbox (
    seq BIGSERIAL PRIMARY KEY,
    destination TEXT NOT NULL,
    channel TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    code TEXT NOT NULL,
    sent_at BIGINT NOT NULL
);
