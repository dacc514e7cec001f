-- Approving a sign-in from another device, and "Not you?" (issue 23).
--
-- `pair_number`: the two-digit number the waiting code page and the link's
-- page both show, so a person approves only the request in front of them.
-- `requested_ip`: where the code was asked for, shown on both pages.
-- `approved_at`: the link was used on another device to approve; the
-- browser that asked (its pending cookie names the challenge) may then open
-- the session, once. The code and the link stop working at that moment.
-- `report_hash`: SHA-256 of the "Not you?" link's token in the message;
-- `reported_at`: when it was pressed (once).
ALTER TABLE challenges ADD COLUMN pair_number BIGINT NOT NULL DEFAULT 0;
ALTER TABLE challenges ADD COLUMN requested_ip TEXT;
ALTER TABLE challenges ADD COLUMN approved_at BIGINT;
ALTER TABLE challenges ADD COLUMN report_hash TEXT;
ALTER TABLE challenges ADD COLUMN reported_at BIGINT;
CREATE UNIQUE INDEX challenges_report ON challenges (report_hash);
-- The send allowance key of the destination (an email without its plus
-- tag): a report ends every open code to the same inbox.
ALTER TABLE challenges ADD COLUMN allowance TEXT NOT NULL DEFAULT '';
CREATE INDEX challenges_allowance ON challenges (allowance);

-- The challenge a session was opened by (none for a passkey): a report of
-- a code that was already used ends the session it opened.
ALTER TABLE sessions ADD COLUMN opened_by TEXT;
CREATE INDEX sessions_opened_by ON sessions (opened_by);

-- An address whose owner said "that wasn't me": until `reported_until`, its send
-- allowance is halved and only browsers that have signed in to it before
-- get codes. Keyed like the send allowance (an email without its plus tag).
CREATE TABLE reported_addresses (
    allowance TEXT PRIMARY KEY,
    reported_until BIGINT NOT NULL
);
