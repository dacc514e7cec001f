-- Passkeys (WebAuthn credentials). `passkey` is webauthn-rs's Passkey as
-- JSON (public key, counter, backup state); `credential_id` (base64url) is
-- unique across accounts, so one authenticator's credential can never sign
-- in to two. `user_handle` is what the authenticator keeps to name the
-- account (a UUID derived from the user id, never the address).
-- `counter` mirrors the JSON's signature counter so that a use can be
-- recorded only when the counter moved on (a cloned authenticator's older
-- counter loses atomically).
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_handle TEXT NOT NULL,
    credential_id TEXT NOT NULL UNIQUE,
    passkey TEXT NOT NULL,
    counter BIGINT NOT NULL DEFAULT 0,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- A WebAuthn ceremony between its start and its finish: the state
-- webauthn-rs needs to check the browser's answer (the challenge among it).
-- Found by the SHA-256 of the HttpOnly cookie's token, taken (deleted) by
-- the finish, so it is used at most once; expires after five minutes and is
-- purged with the rest.
CREATE TABLE ceremonies (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('sign_in', 'add', 'confirm')),
    user_id TEXT,
    session_id TEXT,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX ceremonies_expiry ON ceremonies (expires_at);

-- When the session last proved who it is (signed in, or confirmed with a
-- passkey or a new code): removing a passkey, adding one or ending other
-- sessions needs a proof in the last five minutes. Existing sessions have
-- none.
ALTER TABLE sessions ADD COLUMN proved_at BIGINT NOT NULL DEFAULT 0;
