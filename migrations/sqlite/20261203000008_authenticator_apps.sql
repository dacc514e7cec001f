-- Authenticator apps (TOTP, RFC 6238) and backup codes, a second step a
-- person may turn on (issue 23, item 3).
--
-- `secret`: the TOTP secret sealed with AES-256-GCM under a key from the
-- configuration (PASSCODE_TOTP_KEY), never the code-hash secret; written
-- as "v1.<key id>.<nonce and ciphertext, base64url>", the account's id as
-- associated data, so a row copied to another account does not open. The
-- key id says which key sealed it, for rotation.
-- `enabled_at`: NULL while being set up (the app scanned, no code typed
-- yet): such a row asks nothing at sign-in and is purged after a day.
-- `last_step`: the last 30-second step a code was accepted for; a code of
-- that step or an earlier one is refused (RFC 6238 section 5.2), decided
-- by one conditional UPDATE, so two requests with one code get one yes.
-- `setup_session`: the session that started the set-up; only it sees the
-- secret and turns it on. `enabled_by`: the challenge that opened that
-- session, so "Not you?" on its message turns off an app an intruder
-- turned on (else the intruder's app would keep the owner out).
-- `hour_start`, `hour_count`: answers checked against the app in the last
-- hour, on every path, counted before each check (whatever instance).
CREATE TABLE authenticators (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    enabled_at BIGINT,
    last_step BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    setup_session TEXT,
    enabled_by TEXT,
    hour_start BIGINT NOT NULL DEFAULT 0,
    hour_count BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX authenticators_enabled_by ON authenticators (enabled_by);

-- Ten single-use backup codes per account, shown once; stored as
-- HMAC-SHA256 under a key derived from the server secret (50 random bits
-- each, so a keyed hash is enough; a leaked table cannot be tried offline
-- without the secret). Used by one conditional UPDATE.
CREATE TABLE backup_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- A sign-in between its first step (a code, a link or an approval, whose
-- challenge is consumed) and the authenticator code: found by the SHA-256
-- of an HttpOnly cookie's token. `failures` is raised before each answer is
-- checked (reserved, as a code's attempts are), and the row dies at five,
-- at `expires_at`, or when the answer is right (deleted as the session
-- opens, in one transaction). `challenge_id` becomes the session's
-- `opened_by`, so "Not you?" still ends what the code opened.
CREATE TABLE second_steps (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    destination TEXT NOT NULL,
    challenge_id TEXT,
    method TEXT NOT NULL,
    failures BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX second_steps_expiry ON second_steps (expires_at);
CREATE INDEX second_steps_challenge ON second_steps (challenge_id);
