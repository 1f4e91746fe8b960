-- The control plane's state in embedded mode: the dynamic config values,
-- the dashboard sessions, the roles' heartbeats and the ingest minute
-- counts. Times are INTEGER microseconds since the Unix epoch (UTC); a
-- minute is INTEGER seconds since the epoch of its start.

-- A deleted value keeps its row with a NULL value, so that the version of
-- its deletion is seen by watchers. version is one counter over the whole
-- table (max + 1 in the writing transaction; writes are serialised), which
-- Watch polls.
CREATE TABLE dynamic_config (
    name    TEXT    PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 255),
    value   TEXT,
    version INTEGER NOT NULL
);
CREATE INDEX idx_dynamic_config_version ON dynamic_config (version);

-- key is the HMAC of the session id (never the cookie's value); identity is
-- name/fingerprint of the key that signed in.
CREATE TABLE web_sessions (
    key        TEXT    PRIMARY KEY,
    identity   TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX idx_web_sessions_expires_at ON web_sessions (expires_at);

-- beat is the JSON the Redis heartbeat key holds.
CREATE TABLE heartbeats (
    role       TEXT    NOT NULL,
    instance   TEXT    NOT NULL,
    beat       TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (role, instance)
);

CREATE TABLE ingest_minutes (
    minute INTEGER PRIMARY KEY,
    events INTEGER NOT NULL CHECK (events >= 0)
);
