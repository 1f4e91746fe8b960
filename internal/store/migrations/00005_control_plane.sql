-- Indexes for the control plane's searches.

-- +goose Up
-- GET /api/v1/audit-logs?hostname=… reads one host's newest rows: with this
-- index each partition yields them already ordered (event_timestamp DESC,
-- id DESC), so a page stops after LIMIT rows instead of fetching and
-- sorting every row of the host. Created on the partitioned parent, it is
-- built on every partition and on partitions created later. The build
-- blocks audit inserts while it runs (seconds per million rows).
CREATE INDEX IF NOT EXISTS idx_audit_log_hostname_timestamp
    ON event_audit_log (hostname, event_timestamp DESC, id DESC);

-- +goose Down
DROP INDEX IF EXISTS idx_audit_log_hostname_timestamp;
