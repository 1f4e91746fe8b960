#!/usr/bin/env bash
# Runs MUTT on this machine: starts local PostgreSQL and Redis if needed,
# creates the demo database with a few rules, starts every service with
# `mutt serve`, replays the sample events and then keeps a slow stream of
# them flowing until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh
ensure_services

db="${MUTT_DEMO_DB:-mutt_demo}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/${db}?sslmode=disable}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export LOG_FORMAT="${LOG_FORMAT:-text}"
# A fresh key for this run, in the environment only (never on disk or argv).
INGEST_API_KEY="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export INGEST_API_KEY
# The dashboard's sign-in key for this run; printed once below so you can
# sign in at http://127.0.0.1:8090/.
WEBUI_API_KEY="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export WEBUI_API_KEY

data="${MUTT_SAMPLE_DATA:-../shared/data}"
[ -d "$data" ] || data=internal/sender/testdata
samples=("$data"/demo_*.json)

[ -x bin/mutt ] || make build
if ! psql -h 127.0.0.1 -U postgres -tAc "select 1 from pg_database where datname='${db}'" | grep -q 1; then
  psql -h 127.0.0.1 -U postgres -qc "create database ${db}"
fi
bin/mutt migrate
if [ "$(psql "$DATABASE_URL" -tAc 'select count(*) from alert_rules')" = "0" ]; then
  echo "loading the demo rules (scripts/demo-rules.sql)"
  psql "$DATABASE_URL" -q -f scripts/demo-rules.sql
fi

# A local stand-in for Moogsoft that prints what it receives.
MOOG_API_KEY="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export MOOG_API_KEY
moog_port="${MUTT_FAKE_MOOG_PORT:-18080}"
export MOOG_WEBHOOK_URL="http://127.0.0.1:${moog_port}/events"
# --- Native receivers (syslog and SNMP traps) on high ports ---------------
# receivers_env switches the syslog and snmptrap roles on for `mutt serve`;
# receivers_demo sends a few messages with logger and, when net-snmp is
# installed, snmptrap and snmpinform.
receivers_env() {
  export SYSLOG_UDP_LISTEN="127.0.0.1:${MUTT_SYSLOG_PORT:-5514}"
  export SYSLOG_TCP_LISTEN="127.0.0.1:${MUTT_SYSLOG_PORT:-5514}"
  export SNMP_TRAP_LISTEN="127.0.0.1:${MUTT_SNMP_TRAP_PORT:-10162}"
  SNMP_COMMUNITIES="demo-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export SNMP_COMMUNITIES
}
receivers_demo() {
  local sp="${MUTT_SYSLOG_PORT:-5514}" tp="${MUTT_SNMP_TRAP_PORT:-10162}"
  echo "== syslog to 127.0.0.1:${sp} (UDP and TCP) with logger"
  logger --server 127.0.0.1 --port "$sp" --udp --rfc3164 -p local7.err -t demo-router \
    "%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down" || true
  logger --server 127.0.0.1 --port "$sp" --tcp --rfc5424 -p local7.crit -t demo-router \
    "%LINEPROTO-5-UPDOWN: Line protocol on Interface GigabitEthernet0/1, changed state to down" || true
  if command -v snmptrap >/dev/null; then
    echo "== SNMP linkDown trap and an inform to 127.0.0.1:${tp}"
    local state; state="$(mktemp -d)"; mkdir -p "$state/cert_indexes"
    SNMP_PERSISTENT_DIR="$state" MIBS= snmptrap -v 2c -c "$SNMP_COMMUNITIES" "127.0.0.1:${tp}" '' \
      1.3.6.1.6.3.1.1.5.3 1.3.6.1.2.1.2.2.1.1.2 i 2 1.3.6.1.2.1.2.2.1.8.2 i 2 || true
    SNMP_PERSISTENT_DIR="$state" MIBS= snmpinform -v 2c -c "$SNMP_COMMUNITIES" "127.0.0.1:${tp}" '' \
      1.3.6.1.6.3.1.1.5.4 1.3.6.1.2.1.2.2.1.1.2 i 2 || true
  else
    echo "== snmptrap not installed (apt-get install snmp); sending the trap with mutt send"
    SNMP_COMMUNITY="$SNMP_COMMUNITIES" bin/mutt send --trap "127.0.0.1:${tp}" --generate 5 >/dev/null || true
  fi
  echo "receivers: syslog udp/tcp 127.0.0.1:${sp}, SNMP traps udp 127.0.0.1:${tp}, health :8091 and :8092"
}
# --------------------------------------------------------------------------
receivers_env
bin/mutt fake-moog --listen "127.0.0.1:${moog_port}" --quiet &
moog=$!
bin/mutt serve --no-migrate &
serve=$!
trap 'kill $serve $moog 2>/dev/null; wait $serve $moog 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 100); do
  curl -fsS http://127.0.0.1:8082/health >/dev/null 2>&1 && break
  sleep 0.1
done

echo "== replaying ${#samples[@]} sample files"
bin/mutt send --retimestamp "${samples[@]}"
receivers_demo
sleep 2
echo "== audit rows by decision"
psql "$DATABASE_URL" -c 'select handling_decision, forwarded_to_moog, count(*) from event_audit_log group by 1, 2 order by 3 desc'
echo "== alerts received by the local Moogsoft stand-in"
curl -fsS "http://127.0.0.1:${moog_port}/stats" | head -c 400; echo
echo "== queues"
for q in ingest_queue alert_queue dlq:alerter dlq:moog dlq:dead; do
  printf '%-20s %s\n' "mutt:$q" "$(redis-cli -u "$REDIS_URL" xlen "mutt:$q")"
done
cat <<MSG

MUTT is running:  ingest http://127.0.0.1:8080/api/v2/ingest   alerter metrics :8081   forwarder metrics :8083
                  fake Moogsoft http://127.0.0.1:${moog_port}/stats   remediation metrics :8086
                  dashboard and API http://127.0.0.1:8090/  (sign in with this run's key: ${WEBUI_API_KEY})
A slow stream of sample events keeps flowing (20 events/s). Ctrl-C stops everything.
MSG
bin/mutt send --retimestamp --rate 20 --batch 10 --repeat 1000 --progress never "${samples[@]}" >/dev/null &
wait $serve
