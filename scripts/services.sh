#!/usr/bin/env bash
# Starts the local PostgreSQL and Redis that MUTT's run and test commands use,
# when they are not already answering. Sourced by scripts/run.sh and
# scripts/test.sh.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

# ensure_test_tools installs what the tests drive besides the two servers:
# Chromium for the dashboard's browser test, promtool and a Prometheus for
# the alert rules and the dashboard, Alertmanager for the alerts that must
# fire, systemd-analyze for the unit files, and the real senders of the
# syslog and SNMP receivers' tests: logger, rsyslog with its TLS driver,
# net-snmp's snmptrap/snmpinform, and redis-sentinel for the failover test.
ensure_test_tools() {
  local missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v logger >/dev/null || missing+=(util-linux)
  command -v rsyslogd >/dev/null || missing+=(rsyslog)
  ls /usr/lib/*/rsyslog/lmnsd_gtls.so >/dev/null 2>&1 || missing+=(rsyslog-gnutls)
  command -v snmptrap >/dev/null || missing+=(snmp)
  command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
  command -v systemd-analyze >/dev/null || missing+=(systemd)
  command -v redis-sentinel >/dev/null || missing+=(redis-sentinel)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_services() {
  if ! command -v psql >/dev/null || ! command -v redis-server >/dev/null; then
    echo "installing postgresql-client and redis-server" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client redis-server >/dev/null
  fi
  if ! pg_up; then
    echo "starting PostgreSQL" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  fi
  if ! redis_up; then
    echo "starting Redis" >&2
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
  fi
  for _ in $(seq 1 100); do
    if pg_up && redis_up; then return 0; fi
    sleep 0.2
  done
  echo "PostgreSQL or Redis did not come up on 127.0.0.1" >&2
  return 1
}
