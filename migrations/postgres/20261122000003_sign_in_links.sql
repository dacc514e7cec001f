-- The sign-in link in an email carries its own random token, never the code;
-- the challenge keeps only the token's SHA-256.
ALTER TABLE challenges ADD COLUMN link_hash TEXT;
CREATE UNIQUE INDEX challenges_link ON challenges (link_hash);
