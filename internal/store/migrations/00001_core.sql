-- Configuration tables read by the alerter and edited through the control plane.

-- +goose Up
CREATE TABLE IF NOT EXISTS alert_rules (
    id              SERIAL PRIMARY KEY,
    match_string    VARCHAR(255),
    -- OID prefix for oid_prefix rules; a trailing ".*" is not interpreted as a wildcard.
    trap_oid        VARCHAR(255),
    syslog_severity INT,
    match_type      VARCHAR(20)  NOT NULL DEFAULT 'contains',
    -- Lower values win.
    priority        INT          NOT NULL DEFAULT 100,
    prod_handling   VARCHAR(100) NOT NULL,
    dev_handling    VARCHAR(100) NOT NULL,
    team_assignment VARCHAR(100) NOT NULL,
    is_active       BOOLEAN      NOT NULL DEFAULT true,
    CONSTRAINT chk_syslog_severity CHECK (syslog_severity IS NULL OR syslog_severity BETWEEN 0 AND 7),
    CONSTRAINT chk_match_type CHECK (match_type IN ('contains', 'regex', 'oid_prefix')),
    CONSTRAINT chk_match_criteria CHECK (match_string IS NOT NULL OR trap_oid IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS idx_alert_rules_match_type ON alert_rules (match_type);
CREATE INDEX IF NOT EXISTS idx_alert_rules_is_active ON alert_rules (is_active);

-- Hosts listed here are Development; every other host is Production.
CREATE TABLE IF NOT EXISTS development_hosts (
    hostname VARCHAR(255) PRIMARY KEY
);

CREATE TABLE IF NOT EXISTS device_teams (
    hostname        VARCHAR(255) PRIMARY KEY,
    team_assignment VARCHAR(100) NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS device_teams;
DROP TABLE IF EXISTS development_hosts;
DROP TABLE IF EXISTS alert_rules;
