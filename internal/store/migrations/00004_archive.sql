-- Long-term home of event audit rows past their active retention, and a view
-- over the audit partitions for operators.

-- +goose Up
CREATE TABLE IF NOT EXISTS event_audit_log_archive (
    id                           BIGSERIAL PRIMARY KEY,
    event_timestamp              TIMESTAMPTZ  NOT NULL,
    hostname                     VARCHAR(255) NOT NULL,
    -- No foreign key: archived rows outlive the rules they matched.
    matched_rule_id              INT          NOT NULL,
    handling_decision            VARCHAR(100) NOT NULL,
    forwarded_to_moog            BOOLEAN      NOT NULL DEFAULT false,
    raw_message                  TEXT,
    archived_at                  TIMESTAMPTZ  NOT NULL DEFAULT NOW(),
    archived_from_partition      VARCHAR(50),
    original_id                  BIGINT,
    original_partition_timestamp TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS idx_audit_archive_timestamp ON event_audit_log_archive (event_timestamp);
CREATE INDEX IF NOT EXISTS idx_audit_archive_hostname ON event_audit_log_archive (hostname);
CREATE INDEX IF NOT EXISTS idx_audit_archive_archived_at ON event_audit_log_archive (archived_at);
CREATE INDEX IF NOT EXISTS idx_audit_archive_rule_id ON event_audit_log_archive (matched_rule_id);

-- Newest monthly partition first; the default partition comes last. The row
-- count is the planner's estimate, 0 until the partition is first analysed.
CREATE OR REPLACE VIEW partition_health_summary AS
SELECT
    c.relname::TEXT                                   AS partition_name,
    pg_get_expr(c.relpartbound, c.oid)                AS partition_range,
    pg_size_pretty(pg_total_relation_size(c.oid))     AS partition_size,
    GREATEST(c.reltuples, 0)::BIGINT                  AS row_count_estimate
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'event_audit_log'::regclass
ORDER BY (c.relname = 'event_audit_log_default'), c.relname DESC;

-- +goose Down
DROP VIEW IF EXISTS partition_health_summary;
DROP TABLE IF EXISTS event_audit_log_archive;
