-- The (hostname) index of migration 1 is a prefix of migration 5's
-- (hostname, event_timestamp DESC, id DESC): every lookup by host, the
-- capped counts included, can use the newer one. Keeping both made every
-- audit insert maintain one more B-tree, which cost the alerter's audit
-- write about a third of its throughput (docs/BENCHMARKS.md).

-- +goose Up
DROP INDEX IF EXISTS idx_audit_log_hostname;

-- +goose Down
CREATE INDEX IF NOT EXISTS idx_audit_log_hostname ON event_audit_log (hostname);
