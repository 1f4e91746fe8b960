-- Demo rule set for `make run`: a few rules that match the sample events in
-- ../shared/data, so handled events, alerts and meta-alerts all show up.
-- Idempotent: the run script loads it into an empty demo database only.
INSERT INTO alert_rules (match_string, trap_oid, syslog_severity, match_type, priority, prod_handling, dev_handling, team_assignment)
VALUES
  ('LINEPROTO-5-UPDOWN', NULL, NULL, 'contains', 10, 'Page_and_ticket', 'Ticket_only', 'NetOps'),
  ('%PIX-1-', NULL, NULL, 'contains', 15, 'Page_only', 'Ignore', 'Security'),
  ('(?:CRITICAL|FATAL)', NULL, NULL, 'regex', 20, 'Page_and_ticket', 'Ticket_only', 'NETO'),
  (NULL, '1.3.6.1.6.3.1.1.5.3', NULL, 'oid_prefix', 5, 'Page_and_ticket', 'Ticket_only', 'NetOps'),
  (NULL, '.1.3.6.1.6.3.1.1.5.4', NULL, 'oid_prefix', 6, 'Ticket_only', 'Ignore', 'NetOps'),
  ('error', NULL, 3, 'contains', 50, 'Ticket_only', 'Ignore', 'SysAdmin'),
  ('DHCPACK', NULL, NULL, 'contains', 90, 'Log_only', 'Log_only', 'NETO');
INSERT INTO development_hosts (hostname) VALUES ('dev-router1'), ('test-switch1'), ('qa-firewall1');
INSERT INTO device_teams (hostname, team_assignment) VALUES
  ('wan-router-04.wan.example.com', 'NetOps'), ('radius-server-09.auth.example.com', 'Security');
