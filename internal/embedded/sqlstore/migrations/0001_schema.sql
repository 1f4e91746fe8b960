-- The tables of internal/store's PostgreSQL schema (migrations 00001..00006)
-- with the same names, keys and checks. Times are INTEGER microseconds since
-- the Unix epoch in UTC (PostgreSQL's TIMESTAMPTZ precision); VARCHAR limits
-- become CHECKs because SQLite does not enforce declared lengths.

CREATE TABLE alert_rules (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    match_string    TEXT CHECK (match_string IS NULL OR length(match_string) <= 255),
    trap_oid        TEXT CHECK (trap_oid IS NULL OR length(trap_oid) <= 255),
    syslog_severity INTEGER,
    match_type      TEXT    NOT NULL DEFAULT 'contains' CHECK (length(match_type) <= 20),
    priority        INTEGER NOT NULL DEFAULT 100,
    prod_handling   TEXT    NOT NULL CHECK (length(prod_handling) <= 100),
    dev_handling    TEXT    NOT NULL CHECK (length(dev_handling) <= 100),
    team_assignment TEXT    NOT NULL CHECK (length(team_assignment) <= 100),
    is_active       INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    CONSTRAINT chk_syslog_severity CHECK (syslog_severity IS NULL OR syslog_severity BETWEEN 0 AND 7),
    CONSTRAINT chk_match_type CHECK (match_type IN ('contains', 'regex', 'oid_prefix')),
    CONSTRAINT chk_match_criteria CHECK (match_string IS NOT NULL OR trap_oid IS NOT NULL)
);
CREATE INDEX idx_alert_rules_is_active ON alert_rules (is_active);

CREATE TABLE development_hosts (
    hostname TEXT PRIMARY KEY CHECK (length(hostname) <= 255)
);

CREATE TABLE device_teams (
    hostname        TEXT PRIMARY KEY CHECK (length(hostname) <= 255),
    team_assignment TEXT NOT NULL CHECK (length(team_assignment) <= 100)
);

CREATE TABLE event_audit_log (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    event_timestamp   INTEGER NOT NULL,
    hostname          TEXT    NOT NULL CHECK (length(hostname) <= 255),
    matched_rule_id   INTEGER NOT NULL REFERENCES alert_rules (id) ON DELETE RESTRICT,
    handling_decision TEXT    NOT NULL CHECK (length(handling_decision) <= 100),
    forwarded_to_moog INTEGER NOT NULL DEFAULT 0,
    raw_message       TEXT,
    event_id          TEXT    NOT NULL,
    CONSTRAINT uq_event_audit_event UNIQUE (event_id, event_timestamp)
);
CREATE INDEX idx_audit_log_timestamp ON event_audit_log (event_timestamp);
CREATE INDEX idx_audit_log_hostname_timestamp ON event_audit_log (hostname, event_timestamp);
CREATE INDEX idx_audit_log_rule_id ON event_audit_log (matched_rule_id);

CREATE TABLE config_audit_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    changed_at     INTEGER NOT NULL,
    changed_by     TEXT    NOT NULL CHECK (length(changed_by) BETWEEN 1 AND 100),
    operation      TEXT    NOT NULL,
    table_name     TEXT    NOT NULL CHECK (length(table_name) BETWEEN 1 AND 50),
    record_id      INTEGER NOT NULL,
    old_values     TEXT,
    new_values     TEXT,
    reason         TEXT,
    correlation_id TEXT CHECK (correlation_id IS NULL OR length(correlation_id) <= 36),
    CONSTRAINT chk_config_audit_operation CHECK (operation IN ('CREATE', 'UPDATE', 'DELETE'))
);
CREATE INDEX idx_config_audit_log_table_record ON config_audit_log (table_name, record_id);
CREATE INDEX idx_config_audit_log_changed_at ON config_audit_log (changed_at);

-- Durable queues: one table holds every queue's entries in append order.
CREATE TABLE queue_entries (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    queue       TEXT    NOT NULL,
    payload     BLOB    NOT NULL,
    enqueued_at INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    replays     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX idx_queue_entries_queue_seq ON queue_entries (queue, seq);

-- The number of entries of each queue, kept in the transactions that append
-- and delete them, so that a depth check before an append costs one lookup.
CREATE TABLE queue_depths (
    queue TEXT PRIMARY KEY,
    n     INTEGER NOT NULL CHECK (n >= 0)
) WITHOUT ROWID;

-- Dead letters: the typed record of queue.DeadLetter.
CREATE TABLE dead_letters (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    queue      TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    reason     TEXT    NOT NULL,
    error      TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    source_seq INTEGER NOT NULL,
    deliveries INTEGER NOT NULL,
    attempts   INTEGER NOT NULL,
    replays    INTEGER NOT NULL,
    status     INTEGER NOT NULL,
    failed_at  INTEGER NOT NULL
);
CREATE INDEX idx_dead_letters_queue_id ON dead_letters (queue, id);
