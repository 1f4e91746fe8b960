#!/usr/bin/env bash
# Runs MUTT's benchmarks on this machine, as recorded in docs/BENCHMARKS.md:
#   1. `mutt bench all`: batched ingest, single-event ingest, the alerter
#      drain, forwarder delivery and end-to-end latency, in-process against
#      the local Redis and PostgreSQL (and a fake Moogsoft on a loopback
#      port), with a CPU profile of each timed part (and `go tool pprof -top`
#      of it);
#   2. the ceilings of this machine's servers in the same run:
#      redis-benchmark (SET, GET, XADD; no pipelining and 16-deep) and
#      pgbench (scale 10, 4 clients, simple-update, 15 s);
#   3. the Go micro-benchmarks of the rule engine, the event model and the
#      audit insert;
#   4. the control plane and backups at 1,000,000 audit rows: `mutt bench
#      backup` (backup run, quick and deep verify, full restore) and `mutt
#      bench api` (rules and audit-log endpoints, p50/p95/p99, query plans).
# Everything it creates is named mutt_bench_* and removed at the end. Output
# goes to the terminal and to artifacts/bench-<time>/. Takes about 7 minutes.
#
# Environment: REDIS_URL and DATABASE_URL (an admin database where scratch
# databases may be created) override the local defaults; MUTT_BENCH_ARGS adds
# flags to `mutt bench all`; MUTT_BENCH_SKIP_CEILINGS=1 and
# MUTT_BENCH_SKIP_MICRO=1 skip parts 2 and 3, MUTT_BENCH_SKIP_1M=1 part 4;
# MUTT_BENCH_ROWS sets its audit rows (default 1000000).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh
ensure_services

export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
out="artifacts/bench-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
exec > >(tee "$out/bench.log") 2>&1

# Always rebuild: a bin/mutt left from an older tree would measure old code.
make build
suffix="$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
stream="mutt_bench_ceiling_${suffix}"
pgdb="mutt_bench_pgbench_${suffix}"
base="${DATABASE_URL%%\?*}"
query=""
[ "$base" != "$DATABASE_URL" ] && query="?${DATABASE_URL#*\?}"
pgurl="${base%/*}/${pgdb}${query}"

cleanup() {
  redis-cli -u "$REDIS_URL" unlink "$stream" >/dev/null 2>&1 || true
  psql "$DATABASE_URL" -qXc "drop database if exists ${pgdb} with (force)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

section() { printf '\n== %s\n' "$*"; }

section "machine"
echo "nproc:      $(nproc)"
echo "cpu:        $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "kernel:     $(uname -sr)"
echo "go:         $(go version | cut -d' ' -f3-)"
echo "redis:      $(redis-cli -u "$REDIS_URL" info server | tr -d '\r' | grep '^redis_version:' | cut -d: -f2)"
echo "postgresql: $(psql "$DATABASE_URL" -tAXc 'show server_version')"
echo "mutt:       $(bin/mutt version)"
echo "load:       $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) before the run"

section "mutt bench all"
# shellcheck disable=SC2086 # MUTT_BENCH_ARGS is a list of flags
bin/mutt bench all --profile-dir "$out" --json-file "$out/results.json" ${MUTT_BENCH_ARGS:-}
for p in "$out"/*.cpu.pprof; do
  [ -e "$p" ] || continue
  section "CPU profile $(basename "$p" .cpu.pprof) (go tool pprof -top, flat)"
  go tool pprof -top -nodecount=30 "$p" 2>/dev/null | sed -n '1,40p'
done

if [ "${MUTT_BENCH_SKIP_CEILINGS:-0}" != 1 ]; then
  section "Redis ceiling: redis-benchmark, 50 clients, 200,000 requests each"
  # redis-benchmark redraws a progress line with carriage returns; keep the
  # final figures only.
  rb() {
    redis-benchmark -u "$REDIS_URL" -q -n 200000 "$@" | tr '\r' '\n' | grep 'requests per second' |
      sed -E 's/^ *XADD [^ ]+ \* e [^:]+:/XADD <stream> * e <360-byte payload>:/; s/^ +//'
  }
  for pipe in 1 16; do
    echo "-- pipeline $pipe (-P $pipe)"
    rb -P "$pipe" -t set,get
    # A stream entry like a queued event: field e, a 360-byte payload.
    rb -P "$pipe" XADD "$stream" '*' e "$(head -c 270 /dev/urandom | base64 -w0)"
    redis-cli -u "$REDIS_URL" unlink "$stream" >/dev/null
  done

  section "PostgreSQL ceiling: pgbench -s 10, -c 4 -j 2 -T 15 -N (simple-update)"
  psql "$DATABASE_URL" -qXc "create database ${pgdb}"
  pgbench -i -s 10 -q "$pgurl" 2>&1 | tail -1
  pgbench -c 4 -j 2 -T 15 -N "$pgurl" 2>&1 | grep -E '^(number of transactions actually processed|latency average|tps)'
  psql "$DATABASE_URL" -qXc "drop database ${pgdb} with (force)"
fi

if [ "${MUTT_BENCH_SKIP_MICRO:-0}" != 1 ]; then
  section "Go micro-benchmarks: rules, event, store"
  MUTT_TEST_DATABASE_URL="$DATABASE_URL" MUTT_TEST_REDIS_URL="$REDIS_URL" \
    go test -run '^$' -bench . -benchmem -count 1 ./internal/rules/ ./internal/event/ ./internal/store/ |
    grep -E '^(Benchmark|ok|FAIL|goos|cpu)'
fi

if [ "${MUTT_BENCH_SKIP_1M:-0}" != 1 ]; then
  rows="${MUTT_BENCH_ROWS:-1000000}"
  section "mutt bench backup --rows $rows"
  bin/mutt bench backup --rows "$rows" --json-file "$out/backup.json"
  section "mutt bench api --rows $rows"
  bin/mutt bench api --rows "$rows" --json-file "$out/api.json"
fi

section "done"
echo "results, profiles and this log: $out/"
