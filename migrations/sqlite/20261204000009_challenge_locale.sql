-- The language of the page that asked for a code (issue 25): its message
-- is written in it, and a link or "Not you?" page opened elsewhere can
-- follow it. A tag we write ("en", "de", "fr", "es"); rows from before
-- were all English.
ALTER TABLE challenges ADD COLUMN locale TEXT NOT NULL DEFAULT 'en';
