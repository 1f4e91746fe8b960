-- Counters of unhandled events per host and message signature, the SQLite
-- form of the alerter's Redis keys <prefix>:<host>:<signature> and their
-- ":triggered" twins. A counter counts from the first event of a window of
-- `expiry`; when it reaches the threshold a meta-alert is sent and the key
-- stays triggered (counting nothing) for another `expiry`.
CREATE TABLE unhandled_counters (
    key             TEXT    PRIMARY KEY,
    n               INTEGER NOT NULL CHECK (n >= 0),
    expires_at      INTEGER NOT NULL, -- end of the counting window, µs
    triggered_until INTEGER NOT NULL  -- end of the triggered period, µs (0: not triggered)
) WITHOUT ROWID;
