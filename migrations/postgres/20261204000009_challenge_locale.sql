-- The language of the page that asked for a code (issue 25), in which its
-- message was written: a record of what the person was sent. A tag we
-- write ("en", "de", "fr", "es"); rows from before were all English.
ALTER TABLE challenges ADD COLUMN locale TEXT NOT NULL DEFAULT 'en';
