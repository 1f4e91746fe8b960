-- Where a dead letter was before it reached the queue it came from: a dead
-- letter moved from a dead-letter queue to the dead queue names that queue
-- as its source and keeps the work queue it first failed from here, as a
-- Redis entry keeps it in origin and origin_id.
ALTER TABLE dead_letters ADD COLUMN origin TEXT NOT NULL DEFAULT '';
ALTER TABLE dead_letters ADD COLUMN origin_seq INTEGER NOT NULL DEFAULT 0;
