-- Email addresses match case-insensitively: Jane@Example.com and
-- jane@example.com are one inbox, so one account and one set of limits.
-- Stored addresses are folded to lower case (LOWER() folds ASCII letters;
-- see README for addresses with other capitals).

-- Two accounts whose addresses differ only in case are one person's: the
-- oldest account stays, the others' sessions move to it, the others go.
UPDATE users SET last_sign_in_at = (
    SELECT MAX(o.last_sign_in_at) FROM users o
    WHERE o.channel = 'email' AND LOWER(o.identifier) = LOWER(users.identifier)
) WHERE channel = 'email';
UPDATE sessions SET user_id = (
    SELECT k.id FROM users k JOIN users u ON LOWER(k.identifier) = LOWER(u.identifier) AND k.channel = u.channel
    WHERE u.id = sessions.user_id
    ORDER BY k.created_at, k.id LIMIT 1
) WHERE user_id IN (SELECT id FROM users WHERE channel = 'email');
DELETE FROM users WHERE channel = 'email' AND EXISTS (
    SELECT 1 FROM users k
    WHERE k.channel = 'email' AND LOWER(k.identifier) = LOWER(users.identifier)
      AND (k.created_at < users.created_at OR (k.created_at = users.created_at AND k.id < users.id))
);
UPDATE users SET identifier = LOWER(identifier) WHERE channel = 'email';

-- At most one open code per address: of open codes that now share an
-- address, only the newest stays usable.
UPDATE challenges SET superseded_at = created_at
WHERE channel = 'email' AND consumed_at IS NULL AND superseded_at IS NULL AND EXISTS (
    SELECT 1 FROM challenges n
    WHERE n.channel = 'email' AND LOWER(n.destination) = LOWER(challenges.destination)
      AND (n.created_at > challenges.created_at OR (n.created_at = challenges.created_at AND n.id > challenges.id))
);
UPDATE challenges SET destination = LOWER(destination) WHERE channel = 'email';
UPDATE outbox SET destination = LOWER(destination) WHERE channel = 'email';

-- Counters of addresses that now collide become one row holding the
-- strictest of each: a later window start and a higher count never loosen
-- a limit.
CREATE TABLE destinations_folded (
    destination TEXT PRIMARY KEY,
    hour_start BIGINT NOT NULL DEFAULT 0,
    hour_count BIGINT NOT NULL DEFAULT 0,
    day_start BIGINT NOT NULL DEFAULT 0,
    day_count BIGINT NOT NULL DEFAULT 0,
    next_send_at BIGINT NOT NULL DEFAULT 0,
    fail_start BIGINT NOT NULL DEFAULT 0,
    fail_count BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT NOT NULL DEFAULT 0
);
INSERT INTO destinations_folded
SELECT LOWER(destination), MAX(hour_start), MAX(hour_count), MAX(day_start), MAX(day_count),
       MAX(next_send_at), MAX(fail_start), MAX(fail_count), MAX(locked_until)
FROM destinations GROUP BY LOWER(destination);
DROP TABLE destinations;
ALTER TABLE destinations_folded RENAME TO destinations;

-- Device cookies: a code asked for from a browser that signed in as the
-- address before belongs to that browser's lane (its device id), counted
-- in a limits row of its own ('device:<id>'); every other code is in the
-- shared lane ''. A new code retires only codes of its own lane.
ALTER TABLE challenges ADD COLUMN lane TEXT NOT NULL DEFAULT '';
-- Browser and OS the code was asked from ("Firefox on Windows"), shown when
-- its sign-in link is opened in another browser. Never the raw User-Agent.
ALTER TABLE challenges ADD COLUMN requested_from TEXT;

-- Text messages asked for per client IP (IPv6: per /64) in the current
-- hour, so that a few addresses cannot spend the global SMS budget.
CREATE TABLE sms_senders (
    ip TEXT PRIMARY KEY,
    hour_start BIGINT NOT NULL,
    hour_count BIGINT NOT NULL
);
