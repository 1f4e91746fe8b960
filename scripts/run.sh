#!/usr/bin/env bash
# Runs MUTT on this machine: by default on the embedded store (one data
# directory, nothing else to install or start); with MUTT_DEMO_STORAGE=redis
# on Redis + PostgreSQL, started here when they are not answering. It loads
# a few demo rules, starts every service with `mutt serve`, replays the
# sample events and then keeps a slow stream of them flowing until Ctrl-C,
# which stops everything cleanly (exit 0).
#
# It writes mutt.env, the environment a second shell needs to reach the
# demo (`. ./mutt.env && bin/mutt health`), and prepares a local backup
# identity and root so `bin/mutt backup run && bin/mutt backup verify --deep`
# work at once. Settings, all from the environment:
#
#   ports (default)          SERVER_PORT_INGESTOR (8080), METRICS_PORT_ALERTER (8081),
#                            HEALTH_PORT_ALERTER (8082), METRICS_PORT_MOOG (8083),
#                            HEALTH_PORT_MOOG (8084), METRICS_PORT_REMEDIATION (8086),
#                            HEALTH_PORT_REMEDIATION (8087), SERVER_PORT_WEBUI (8090),
#                            MUTT_FAKE_MOOG_PORT (18080), MUTT_SYSLOG_PORT (5514, UDP and TCP),
#                            MUTT_SNMP_TRAP_PORT (10162, UDP), MUTT_SYSLOG_ADMIN_PORT (8091),
#                            MUTT_SNMP_ADMIN_PORT (8092)
#   MUTT_DEMO_STORAGE        embedded (default) or redis
#   MUTT_DATA_DIR            the embedded data directory (.mutt-demo/data)
#   MUTT_DEMO_DB             demo database of the redis mode (mutt_demo); DATABASE_URL,
#                            REDIS_URL and MUTT_KEY_PREFIX override where that demo lives
#   MUTT_DEMO_DIR            backup identity and backup root (.mutt-demo)
#   MUTT_ENV_FILE            the environment file written (mutt.env)
#   MUTT_BIN                 the mutt binary (bin/mutt, built when missing)
#   MUTT_SAMPLE_DATA         directory of demo_*.json sample files
#   MUTT_DEMO_STREAM_RATE    events/s of the slow stream (20)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh

# The listening ports, in the variables MUTT itself reads, with the
# original's defaults. A block that adds a listener adds its line here.
port_defaults=(
  SERVER_PORT_INGESTOR=8080
  METRICS_PORT_ALERTER=8081
  HEALTH_PORT_ALERTER=8082
  METRICS_PORT_MOOG=8083
  HEALTH_PORT_MOOG=8084
  METRICS_PORT_REMEDIATION=8086
  HEALTH_PORT_REMEDIATION=8087
  SERVER_PORT_WEBUI=8090
  MUTT_FAKE_MOOG_PORT=18080
  MUTT_SYSLOG_PORT=5514
  MUTT_SNMP_TRAP_PORT=10162
  MUTT_SYSLOG_ADMIN_PORT=8091
  MUTT_SNMP_ADMIN_PORT=8092
)

# settings exports what every process of the demo reads.
settings() {
  mutt="${MUTT_BIN:-bin/mutt}"
  db="${MUTT_DEMO_DB:-mutt_demo}"
  demo_dir="${MUTT_DEMO_DIR:-.mutt-demo}"
  env_file="${MUTT_ENV_FILE:-mutt.env}"
  case "$env_file" in /*) env_show="$env_file" ;; *) env_show="./$env_file" ;; esac
  storage="${MUTT_DEMO_STORAGE:-embedded}"
  case "$storage" in
    embedded)
      # Nothing of Redis or PostgreSQL may be set: that is what selects the
      # embedded store.
      unset DATABASE_URL REDIS_URL
      export MUTT_DATA_DIR="${MUTT_DATA_DIR:-${demo_dir}/data}"
      ;;
    redis)
      export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/${db}?sslmode=disable}"
      export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
      ;;
    *)
      echo "make run: MUTT_DEMO_STORAGE must be embedded or redis, got '${storage}'" >&2
      exit 2
      ;;
  esac
  export MUTT_KEY_PREFIX="${MUTT_KEY_PREFIX:-mutt}"
  export LOG_FORMAT="${LOG_FORMAT:-text}"
  local kv name
  for kv in "${port_defaults[@]}"; do
    name="${kv%%=*}"
    export "${name}=${!name:-${kv#*=}}"
  done
  export MUTT_INGEST_URL="http://127.0.0.1:${SERVER_PORT_INGESTOR}"
  # Fresh keys for this run, in the environment only (never on disk or
  # argv); printed once in the banner.
  INGEST_API_KEY="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  WEBUI_API_KEY="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  MOOG_API_KEY="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export INGEST_API_KEY WEBUI_API_KEY MOOG_API_KEY
  export MOOG_WEBHOOK_URL="http://127.0.0.1:${MUTT_FAKE_MOOG_PORT}/events"
}

# check_ports fails at once, naming the variable, when a port is taken.
check_ports() {
  local kv name port
  for kv in "${port_defaults[@]}"; do
    name="${kv%%=*}"
    port="${!name}"
    if (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
      echo "make run: port ${port} (${name}) is taken by another program;" \
        "set ${name} to a free port, e.g. ${name}=$((port + 10000)) make run" >&2
      exit 1
    fi
  done
}

# prepare_database creates and migrates the demo database (redis mode;
# the embedded database creates itself) and loads the demo rules into an
# empty rule set, each change audited.
prepare_database() {
  if [ "$storage" = redis ]; then
    if ! psql -h 127.0.0.1 -U postgres -tAc "select 1 from pg_database where datname='${db}'" | grep -q 1; then
      psql -h 127.0.0.1 -U postgres -qc "create database \"${db}\""
    fi
    "$mutt" migrate
  fi
  echo "loading the demo rules (scripts/demo-rules.json) into an empty rule set"
  "$mutt" rules import --if-empty scripts/demo-rules.json
}

# prepare_backup makes a local age identity and backup root for the demo.
prepare_backup() {
  eval "$("$mutt" backup init --dir "$demo_dir" 2>/dev/null)"
}

# receivers_env switches the syslog and snmptrap roles of `mutt serve` on,
# on the demo's high ports, with a community made for this run.
receivers_env() {
  export SYSLOG_UDP_LISTEN="127.0.0.1:${MUTT_SYSLOG_PORT}"
  export SYSLOG_TCP_LISTEN="127.0.0.1:${MUTT_SYSLOG_PORT}"
  export SYSLOG_ADMIN_LISTEN="127.0.0.1:${MUTT_SYSLOG_ADMIN_PORT}"
  export SNMP_TRAP_LISTEN="127.0.0.1:${MUTT_SNMP_TRAP_PORT}"
  export SNMP_ADMIN_LISTEN="127.0.0.1:${MUTT_SNMP_ADMIN_PORT}"
  SNMP_COMMUNITIES="demo-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export SNMP_COMMUNITIES
}

# receivers_demo sends a few messages with logger and, when net-snmp is
# installed, snmptrap and snmpinform (else `mutt send --trap`).
receivers_demo() {
  local sp="$MUTT_SYSLOG_PORT" tp="$MUTT_SNMP_TRAP_PORT"
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
    rm -rf "$state"
  else
    echo "== snmptrap not installed (apt-get install snmp); sending traps with mutt send"
    SNMP_COMMUNITY="$SNMP_COMMUNITIES" "$mutt" send --trap "127.0.0.1:${tp}" --generate 5 >/dev/null || true
  fi
}

# write_env_file writes what a second shell needs to reach the demo. No
# key and no password goes to disk: the API keys stay in this shell.
write_env_file() {
  local kv name
  umask 077
  {
    echo "# The environment of the MUTT demo (make run), for a second shell:"
    echo "#   . ${env_show} && ${mutt} health"
    if [ "$storage" = redis ]; then
      echo "export DATABASE_URL='$(printf %s "$DATABASE_URL" | sed -E 's#(://[^:/@]+):[^@/]*@#\1@#')'"
      echo "export REDIS_URL='$(printf %s "$REDIS_URL" | sed -E 's#(://[^:/@]*):[^@/]*@#\1@#')'"
    else
      echo "unset DATABASE_URL REDIS_URL"
      echo "export MUTT_DATA_DIR='$(cd "$MUTT_DATA_DIR" && pwd)'"
    fi
    echo "export MUTT_KEY_PREFIX='${MUTT_KEY_PREFIX}'"
    for kv in "${port_defaults[@]}"; do
      name="${kv%%=*}"
      echo "export ${name}=${!name}"
    done
    echo "export MOOG_WEBHOOK_URL='${MOOG_WEBHOOK_URL}' MUTT_INGEST_URL='${MUTT_INGEST_URL}'"
    echo "export MUTT_BACKUP_ROOT='${MUTT_BACKUP_ROOT}'"
    echo "export MUTT_BACKUP_IDENTITY_FILE='${MUTT_BACKUP_IDENTITY_FILE}'"
    echo "export MUTT_BACKUP_RECIPIENTS_FILE='${MUTT_BACKUP_RECIPIENTS_FILE}'"
    echo "export MUTT_BACKUP_PASSPHRASE_FILE="
  } >"$env_file"
  umask 022
}

# start_services runs the Moogsoft stand-in and `mutt serve`, each in a
# session of its own so that Ctrl-C reaches only this script, which then
# stops them in order.
start_services() {
  setsid "$mutt" fake-moog --listen "127.0.0.1:${MUTT_FAKE_MOOG_PORT}" --quiet &
  moog=$!
  setsid "$mutt" serve --no-migrate &
  serve=$!
}

# wait_ready polls every role's /health on its configured port; when
# `mutt serve` exits instead (a port taken, a bad setting), it stops here
# with serve's exit status, serve having said why.
wait_ready() {
  local port
  for port in "$SERVER_PORT_INGESTOR" "$HEALTH_PORT_ALERTER" "$HEALTH_PORT_MOOG" "$HEALTH_PORT_REMEDIATION" "$SERVER_PORT_WEBUI" \
    "$MUTT_SYSLOG_ADMIN_PORT" "$MUTT_SNMP_ADMIN_PORT"; do
    for _ in $(seq 1 300); do
      if ! kill -0 "$serve" 2>/dev/null; then
        local status=0
        wait "$serve" || status=$?
        serve=""
        echo "make run: mutt serve could not start (exit ${status}); see its error above" >&2
        exit 1
      fi
      curl -fsS "http://127.0.0.1:${port}/health" >/dev/null 2>&1 && break
      sleep 0.1
    done
  done
}

# replay_samples sends the sample files once and reports what happened.
replay_samples() {
  local data="${MUTT_SAMPLE_DATA:-../shared/data}"
  [ -d "$data" ] || data=internal/sender/testdata
  samples=("$data"/demo_*.json)
  echo "== replaying ${#samples[@]} sample files"
  "$mutt" send --retimestamp "${samples[@]}"
  # The alerter publishes the ingest queue's length every 250 ms.
  local metrics="http://127.0.0.1:${METRICS_PORT_ALERTER}/metrics"
  for _ in $(seq 1 100); do
    sleep 0.1
    curl -fsS "$metrics" 2>/dev/null | grep -qx 'mutt_alerter_ingest_queue_depth 0' && break
  done
  if [ "$storage" = redis ]; then
    echo "== audit rows by decision"
    psql "$DATABASE_URL" -c 'select handling_decision, forwarded_to_moog, count(*) from event_audit_log group by 1, 2 order by 3 desc'
  else
    echo "== audit rows (GET /api/v2/audit-logs)"
    curl -fsS -H "X-API-KEY: ${WEBUI_API_KEY}" "http://127.0.0.1:${SERVER_PORT_WEBUI}/api/v2/audit-logs?limit=1" |
      grep -o '"total":[0-9]*' || true
  fi
  echo "== alerts received by the local Moogsoft stand-in"
  curl -fsS "http://127.0.0.1:${MUTT_FAKE_MOOG_PORT}/stats" | head -c 400
  echo
  echo "== queues (alerter metrics)"
  curl -fsS "$metrics" | grep -E '^mutt_alerter_(ingest_queue|queue|dlq)_depth ' || true
}

# storage_line says where this demo keeps its data.
storage_line() {
  if [ "$storage" = redis ]; then
    echo "Redis + PostgreSQL: export DATABASE_URL='${DATABASE_URL}' REDIS_URL='${REDIS_URL}'"
  else
    echo "embedded store: export MUTT_DATA_DIR='${MUTT_DATA_DIR}'"
  fi
}

banner() {
  cat <<MSG

MUTT is running:  ingest http://127.0.0.1:${SERVER_PORT_INGESTOR}/api/v2/ingest   alerter metrics :${METRICS_PORT_ALERTER}   forwarder metrics :${METRICS_PORT_MOOG}
                  fake Moogsoft http://127.0.0.1:${MUTT_FAKE_MOOG_PORT}/stats   remediation metrics :${METRICS_PORT_REMEDIATION}
                  syslog udp/tcp 127.0.0.1:${MUTT_SYSLOG_PORT} (health :${MUTT_SYSLOG_ADMIN_PORT})   SNMP traps udp 127.0.0.1:${MUTT_SNMP_TRAP_PORT} (health :${MUTT_SNMP_ADMIN_PORT})
                  dashboard and API http://127.0.0.1:${SERVER_PORT_WEBUI}/  (sign in with this run's key: ${WEBUI_API_KEY})
In a second shell:  . ${env_show}     ($(storage_line))
                    ${mutt} health;  ${mutt} rules test --event '{"hostname":"r1","message":"LINK-DOWN","timestamp":"2026-01-01T00:00:00Z"}'
                    ${mutt} backup run && ${mutt} backup verify --deep
                    export INGEST_API_KEY=${INGEST_API_KEY}   (for ${mutt} send; not written to ${env_file})
A slow stream of sample events keeps flowing (${MUTT_DEMO_STREAM_RATE:-20} events/s). Ctrl-C stops everything.
MSG
}

# stop ends the stream, then MUTT (which finishes its work in hand), then
# the stand-in; it exits 0 when MUTT stopped cleanly.
stop() {
  trap - INT TERM HUP
  local status=0
  [ -n "${stream:-}" ] && kill "$stream" 2>/dev/null || true
  if [ -n "${serve:-}" ]; then
    kill -TERM "$serve" 2>/dev/null || true
    wait "$serve" || status=$?
    serve=""
  fi
  [ -n "${moog:-}" ] && kill "$moog" 2>/dev/null || true
  [ -n "${moog:-}" ] && { wait "$moog" 2>/dev/null || true; }
  moog=""
  [ "$status" -eq 0 ] && echo "MUTT stopped cleanly."
  exit "$status"
}

main() {
  settings
  receivers_env
  check_ports
  [ "$storage" = redis ] && ensure_services
  [ -x "$mutt" ] || make build
  prepare_database
  prepare_backup
  write_env_file
  trap stop INT TERM HUP
  trap '[ -n "${serve:-}${moog:-}" ] && kill ${serve:-} ${moog:-} ${stream:-} 2>/dev/null; true' EXIT
  start_services
  wait_ready
  receivers_demo
  replay_samples
  banner
  "$mutt" send --retimestamp \
    --rate "${MUTT_DEMO_STREAM_RATE:-20}" --batch 10 --repeat 1000 --progress never "${samples[@]}" >/dev/null &
  stream=$!
  local status=0
  wait "$serve" || status=$?
  serve=""
  echo "make run: mutt serve stopped (exit ${status})" >&2
  exit "$status"
}

main "$@"
