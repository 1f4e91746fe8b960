-- The forwarder's retry schedule: alerts waiting for their next delivery
-- attempt (a retryable failure, the rate limit, an open breaker), with the
-- counters that travel with them, moved back to their queue once due. The
-- Redis equivalent is the sorted set under mutt:retry:moog.
CREATE TABLE scheduled_entries (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule TEXT    NOT NULL,
    payload  BLOB    NOT NULL,
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    replays  INTEGER NOT NULL CHECK (replays >= 0),
    due_at   INTEGER NOT NULL
);
CREATE INDEX idx_scheduled_entries_due ON scheduled_entries (schedule, due_at, id);
