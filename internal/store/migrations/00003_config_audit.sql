-- Who changed which configuration record, when, and from what to what.

-- +goose Up
CREATE TABLE IF NOT EXISTS config_audit_log (
    id             BIGSERIAL PRIMARY KEY,
    changed_at     TIMESTAMPTZ  NOT NULL DEFAULT NOW(),
    changed_by     VARCHAR(100) NOT NULL,
    operation      VARCHAR(10)  NOT NULL,
    table_name     VARCHAR(50)  NOT NULL,
    record_id      INTEGER      NOT NULL,
    -- NULL for CREATE.
    old_values     JSONB,
    -- NULL for DELETE.
    new_values     JSONB,
    reason         TEXT,
    correlation_id VARCHAR(36),
    CONSTRAINT chk_config_audit_operation CHECK (operation IN ('CREATE', 'UPDATE', 'DELETE'))
);
CREATE INDEX IF NOT EXISTS idx_config_audit_log_table_record ON config_audit_log (table_name, record_id);
CREATE INDEX IF NOT EXISTS idx_config_audit_log_changed_at ON config_audit_log (changed_at DESC);
CREATE INDEX IF NOT EXISTS idx_config_audit_log_changed_by ON config_audit_log (changed_by);
CREATE INDEX IF NOT EXISTS idx_config_audit_log_correlation_id ON config_audit_log (correlation_id)
    WHERE correlation_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_config_audit_log_old_values_gin ON config_audit_log USING GIN (old_values);
CREATE INDEX IF NOT EXISTS idx_config_audit_log_new_values_gin ON config_audit_log USING GIN (new_values);

-- +goose Down
DROP TABLE IF EXISTS config_audit_log;
