-- The event audit log: one row per handled event, partitioned by month of the
-- device's timestamp. event_id (the ingest-assigned _event_id) together with
-- the partition key makes a redelivered event's second write a no-op.

-- +goose Up
CREATE TABLE IF NOT EXISTS event_audit_log (
    id                BIGSERIAL    NOT NULL,
    event_timestamp   TIMESTAMPTZ  NOT NULL,
    hostname          VARCHAR(255) NOT NULL,
    matched_rule_id   INT          NOT NULL,
    handling_decision VARCHAR(100) NOT NULL,
    forwarded_to_moog BOOLEAN      NOT NULL DEFAULT false,
    raw_message       TEXT,
    -- Last so that the original columns keep their positions.
    event_id          UUID         NOT NULL,
    CONSTRAINT event_audit_log_pkey PRIMARY KEY (id, event_timestamp),
    CONSTRAINT uq_event_audit_event UNIQUE (event_id, event_timestamp),
    CONSTRAINT fk_event_audit_matched_rule FOREIGN KEY (matched_rule_id)
        REFERENCES alert_rules (id) ON DELETE RESTRICT
) PARTITION BY RANGE (event_timestamp);

CREATE INDEX IF NOT EXISTS idx_audit_log_timestamp ON event_audit_log (event_timestamp);
CREATE INDEX IF NOT EXISTS idx_audit_log_hostname ON event_audit_log (hostname);
CREATE INDEX IF NOT EXISTS idx_audit_log_rule_id ON event_audit_log (matched_rule_id);

-- Catches events whose month has no partition (skewed device clocks, months
-- not yet created) so that no event is ever rejected for its timestamp.
CREATE TABLE IF NOT EXISTS event_audit_log_default PARTITION OF event_audit_log DEFAULT;

-- create_monthly_partition creates event_audit_log_YYYY_MM for the month
-- containing start_date. Bounds are written with an explicit UTC offset so they
-- do not depend on the session time zone.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION create_monthly_partition(start_date DATE)
RETURNS VOID
LANGUAGE plpgsql
AS $$
DECLARE
    month_start DATE := date_trunc('month', start_date)::DATE;
    month_end   DATE := (date_trunc('month', start_date) + INTERVAL '1 month')::DATE;
    part_name   TEXT := 'event_audit_log_' || to_char(month_start, 'YYYY_MM');
BEGIN
    EXECUTE format(
        'CREATE TABLE IF NOT EXISTS %I PARTITION OF event_audit_log FOR VALUES FROM (%L) TO (%L)',
        part_name,
        to_char(month_start, 'YYYY-MM-DD') || ' 00:00:00+00',
        to_char(month_end, 'YYYY-MM-DD') || ' 00:00:00+00');
    RAISE NOTICE 'partition % ready for [%, %)', part_name, month_start, month_end;
END;
$$;
-- +goose StatementEnd

-- drop_old_partitions drops every monthly partition whose whole month ended at
-- least retention_months calendar months before the start of the current UTC
-- month, and returns the names it dropped. Only names of the form
-- event_audit_log_YYYY_MM are considered, so the default partition and
-- anything named otherwise are never dropped.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION drop_old_partitions(retention_months INT)
RETURNS SETOF TEXT
LANGUAGE plpgsql
AS $$
DECLARE
    cutoff     DATE;
    part       RECORD;
    part_month DATE;
BEGIN
    IF retention_months IS NULL OR retention_months < 0 THEN
        RAISE EXCEPTION 'retention_months must be zero or more, got %', retention_months;
    END IF;
    cutoff := (date_trunc('month', (now() AT TIME ZONE 'UTC')) - make_interval(months => retention_months))::DATE;
    FOR part IN
        SELECT c.relname::TEXT AS name
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'event_audit_log'::regclass
          AND c.relname ~ '^event_audit_log_[0-9]{4}_[0-9]{2}$'
        ORDER BY c.relname
    LOOP
        BEGIN
            part_month := to_date(right(part.name, 7), 'YYYY_MM');
        EXCEPTION WHEN OTHERS THEN
            CONTINUE;
        END;
        IF part_month + INTERVAL '1 month' <= cutoff THEN
            EXECUTE format('DROP TABLE %I', part.name);
            RAISE NOTICE 'dropped partition %', part.name;
            RETURN NEXT part.name;
        END IF;
    END LOOP;
END;
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION IF EXISTS drop_old_partitions(INT);
DROP FUNCTION IF EXISTS create_monthly_partition(DATE);
DROP TABLE IF EXISTS event_audit_log;
