#!/usr/bin/env bash
# Point-in-time recovery of MUTT beside pgBackRest, in one run, as recorded
# in docs/BENCHMARKS.md ("Point-in-time recovery: MUTT beside pgBackRest"):
#   1. a private PostgreSQL 15 cluster (initdb, a free port, a temp dir) whose
#      archive_command runs both `mutt backup wal-push` and `pgbackrest
#      archive-push`, so both tools archive the same WAL;
#   2. the MUTT schema (`mutt migrate`) and 1,000,000 audit rows;
#   3. one base backup with each tool, timed;
#   4. a steady stream of audit inserts for the WAL window (1,000 rows a
#      second), then the target time T, a marker row after T, and the
#      archive caught up; the source cluster is stopped;
#   5. a restore to T with each tool into a new data directory and port,
#      timed end to end until the server answers promoted (the RTO); both
#      must hold the same rows, every row before T and not the marker;
#   6. one summary table (and JSON with PITR_BENCH_JSON=path).
#
# Needs root (the server runs as the postgres OS user), PostgreSQL 15's
# server package and Go; installs the Debian package pgbackrest when missing.
# Both tools compress with zstd (pgBackRest falls back to lz4, then gz, when
# its build lacks zstd; the table says which) and encrypt: age X25519 for
# MUTT, AES-256-CBC for pgBackRest.
#
# Environment: PITR_BENCH_WAL_SECONDS (default 600) is the WAL window,
# PITR_BENCH_ROWS (default 1000000) the base rows, PITR_BENCH_RATE (default
# 1000) the rows per second of the window, PITR_BENCH_JSON a file for the
# summary, PITR_BENCH_KEEP=1 keeps the temp dir, MUTT_BACKUP_PG_BIN the
# PostgreSQL bin directory (default /usr/lib/postgresql/15/bin).
set -Eeuo pipefail
cd "$(dirname "$0")/.."

wal_seconds="${PITR_BENCH_WAL_SECONDS:-600}"
rows="${PITR_BENCH_ROWS:-1000000}"
rate="${PITR_BENCH_RATE:-1000}"
json_out="${PITR_BENCH_JSON:-}"
pgbin="${MUTT_BACKUP_PG_BIN:-/usr/lib/postgresql/15/bin}"
step="setup"

die() { echo "bench-pitr: FAILED at step '$step': $*" >&2; exit 1; }
trap 'rc=$?; [ "$rc" -ne 0 ] && echo "bench-pitr: FAILED at step '"'"'$step'"'"' (exit $rc)" >&2' ERR
section() { step="$*"; printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
bytes() { du -sb "$1" | cut -f1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
as_pg() { runuser -u postgres -- "$@"; }

[ "$(id -u)" -eq 0 ] || die "run as root (the private cluster runs as the postgres OS user)"
id postgres >/dev/null 2>&1 || die "the postgres OS user is missing (install postgresql-15)"
[ -x "$pgbin/initdb" ] || die "$pgbin/initdb not found: install postgresql-15 or set MUTT_BACKUP_PG_BIN"
case "$wal_seconds$rows$rate" in *[!0-9]*) die "PITR_BENCH_WAL_SECONDS, PITR_BENCH_ROWS and PITR_BENCH_RATE must be whole numbers" ;; esac
if ! command -v pgbackrest >/dev/null; then
  section "installing pgbackrest"
  apt-get install -y pgbackrest >/dev/null || { apt-get update >/dev/null && apt-get install -y pgbackrest >/dev/null; } ||
    die "apt-get install pgbackrest failed"
fi

section "build"
tmp="$(mktemp -d /tmp/mutt-bench-pitr-XXXXXX)"
chmod 0755 "$tmp"
logs="$tmp/logs"
sock="$tmp/sock"
install -d -o postgres -g postgres -m 0755 "$logs" "$sock"
src="$tmp/src" mutt_restored="$tmp/restored-mutt" br_restored="$tmp/restored-pgbackrest"
cleanup() {
  for d in "$src" "$mutt_restored" "$br_restored"; do
    [ -f "$d/postmaster.pid" ] && as_pg "$pgbin/pg_ctl" stop -D "$d" -m immediate -w >/dev/null 2>&1 || true
  done
  if [ "${PITR_BENCH_KEEP:-}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# The binary lives in the temp dir: the server's OS user runs it.
CGO_ENABLED=0 go build -trimpath -o "$tmp/mutt" ./cmd/mutt || die "go build ./cmd/mutt"
mutt="$tmp/mutt"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port="$(free_port)"
url() { echo "postgres://postgres@127.0.0.1:$1/${2:-mutt}?sslmode=disable"; }
q() { psql "$(url "$1" "${3:-mutt}")" -qtAX -v ON_ERROR_STOP=1 -c "$2"; }

section "backup roots"
eval "$("$mutt" backup init --dir "$tmp/mutt-backup")" || die "mutt backup init"
# The server's OS user runs wal-push: it needs the recipients and the root;
# the identity stays readable by root alone.
chmod 0755 "$tmp/mutt-backup"
chown -R postgres: "$MUTT_BACKUP_ROOT"
export MUTT_BACKUP_PG_BIN="$pgbin" MUTT_BACKUP_REMOTES="" MUTT_BACKUP_METRICS_FILE="$tmp/mutt_backup.prom"
export DATABASE_URL; DATABASE_URL="$(url "$port")"
# The configuration wants both stores named; the base profile reads only
# PostgreSQL.
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
br="$tmp/pgbackrest"
mkdir -p "$br/repo" "$br/lock" "$br/log"
chown -R postgres: "$br"
# The first of zst, lz4, gz this pgBackRest build takes: an option it
# lacks fails at parsing, before the (missing) repository is opened.
compress=""
for c in zst lz4 gz; do
  if ! pgbackrest --stanza=probe --compress-type="$c" --pg1-path="$tmp/none" --repo1-path="$tmp/none" \
    --lock-path="$tmp/none" --log-level-file=off --repo1-retention-full=1 backup 2>&1 | grep -qi "compress"; then
    compress="$c"; break
  fi
done
[ -n "$compress" ] || die "no pgBackRest compression type among zst, lz4, gz"
cat >"$br/pgbackrest.conf" <<EOF
[global]
repo1-path=$br/repo
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=mutt-bench-pitr-passphrase-only
compress-type=$compress
lock-path=$br/lock
log-path=$br/log
log-level-console=warn
log-level-file=off
start-fast=y
repo1-retention-full=2

[bench]
pg1-path=$src
pg1-port=$port
pg1-socket-path=$sock
EOF
chmod 0644 "$br/pgbackrest.conf"
pgbr() { as_pg pgbackrest --config="$br/pgbackrest.conf" --stanza=bench "$@"; }

# wait_archived: switches to a new WAL segment and waits until the one
# switched from is archived (by both tools: one archive_command).
wait_archived() {
  local lsn seg deadline=$(( $(date +%s) + 600 ))
  lsn="$(q "$port" "SELECT pg_switch_wal()" postgres)"
  seg="$(q "$port" "SELECT pg_walfile_name('$lsn')" postgres)"
  until [ "$(q "$port" "SELECT coalesce(last_archived_wal >= '$seg', false) FROM pg_stat_archiver" postgres)" = t ]; do
    [ "$(date +%s)" -lt "$deadline" ] ||
      die "WAL $seg not archived within 600 s: $(q "$port" 'SELECT * FROM pg_stat_archiver' postgres); $(tail -n 5 "$logs/src.log")"
    [ "$(q "$port" "SELECT failed_count FROM pg_stat_archiver" postgres)" -lt 3 ] ||
      die "archive_command fails: $(grep -v '^20' "$logs/src.log" | tail -n 3)"
    sleep 0.5
  done
  echo "archived up to $seg"
}

section "private cluster on port $port"
install -d -o postgres -g postgres -m 0700 "$src"
as_pg "$pgbin/initdb" -D "$src" --auth=trust -U postgres --no-sync >/dev/null || die "initdb"
cat >>"$src/postgresql.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sock'
fsync = off
wal_level = replica
archive_mode = on
archive_timeout = 10s
archive_command = '$mutt backup wal-push --root $MUTT_BACKUP_ROOT --recipients-file $MUTT_BACKUP_RECIPIENTS_FILE %p && pgbackrest --config=$br/pgbackrest.conf --stanza=bench archive-push %p'
EOF
# Without the identity in its environment: wal-push needs only the
# recipients, and the identity is root's alone.
env -u MUTT_BACKUP_IDENTITY_FILE runuser -u postgres -- "$pgbin/pg_ctl" start -D "$src" -l "$logs/src.log" -w >/dev/null || die "pg_ctl start (see $logs/src.log)"
pgbr stanza-create || die "pgbackrest stanza-create"
wait_archived
pgversion="$(q "$port" 'show server_version' postgres)"

section "schema and $rows audit rows"
q "$port" "CREATE DATABASE mutt" postgres
"$mutt" migrate || die "mutt migrate"
q "$port" "INSERT INTO alert_rules (match_string, priority, prod_handling, dev_handling, team_assignment) VALUES ('link down', 10, 'Page_and_ticket', 'Ignore', 'netops')"
# Audit rows are partitioned by month: every timestamp is now(), in the
# current month's partition, which the migration creates.
insert_sql() {
  echo "INSERT INTO event_audit_log (event_timestamp, hostname, matched_rule_id, handling_decision, forwarded_to_moog, raw_message, event_id)
SELECT now(), 'router-' || (g % 500), (SELECT min(id) FROM alert_rules), 'Page_and_ticket', false, 'link down on port ' || g, gen_random_uuid()
FROM generate_series($1::int, $2::int) g"
}
t0="$(now)"
for ((from = 1; from <= rows; from += 100000)); do
  to=$((from + 99999)); [ "$to" -gt "$rows" ] && to="$rows"
  q "$port" "$(insert_sql "$from" "$to")" || die "inserting audit rows $from..$to"
done
echo "loaded $rows rows in $(since "$t0") s; database $(mib "$(q "$port" "SELECT pg_database_size('mutt')")") MiB"
q "$port" "CHECKPOINT"
# Both bases start with the archive caught up, so neither backup waits for
# the other tool's share of the load's WAL.
wait_archived

section "base backups"
t0="$(now)"
"$mutt" backup run --profile base --no-sync >"$tmp/mutt-base.log" 2>&1 || { cat "$tmp/mutt-base.log"; die "mutt backup run --profile base"; }
mutt_base_s="$(since "$t0")"
echo "mutt backup run --profile base: $mutt_base_s s"
t0="$(now)"
pgbr --type=full backup || die "pgbackrest backup --type=full"
br_base_s="$(since "$t0")"
echo "pgbackrest backup --type=full: $br_base_s s"
mutt_base_bytes="$(bytes "$MUTT_BACKUP_ROOT/pgbase")"
br_base_bytes="$(bytes "$br/repo/backup")"
mutt_wal0="$(bytes "$MUTT_BACKUP_ROOT/wal")" br_wal0="$(bytes "$br/repo/archive")"

section "WAL window: $wal_seconds s at $rate rows/s"
next="$rows"
start="$(date +%s)"
for ((i = 0; i < wal_seconds; i++)); do
  q "$port" "$(insert_sql $((next + 1)) $((next + rate)))" || die "window insert at second $i"
  next=$((next + rate))
  # Pace to one batch a second from the start of the window.
  wait_s="$(awk -v s="$start" -v i="$i" -v n="$(now)" 'BEGIN { w = s + i + 1 - n; printf "%.3f", (w > 0 ? w : 0) }')"
  sleep "$wait_s"
done
# T to the millisecond, rounded up past the last commit: pgBackRest takes
# no finer time. The same instant in each tool's format.
t_ms="(date_trunc('milliseconds', clock_timestamp()) + interval '1 millisecond') AT TIME ZONE 'UTC'"
IFS='|' read -r target br_target < <(q "$port" "SELECT to_char(t, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), to_char(t, 'YYYY-MM-DD HH24:MI:SS.MS+00') FROM (SELECT $t_ms AS t) x")
[ -n "$br_target" ] || die "reading the target time"
want="$(q "$port" "SELECT count(*) FROM event_audit_log")"
# A commit after T, which neither restore may bring back: recovery needs a
# record past the target to stop at it.
q "$port" "CREATE TABLE pitr_bench_after_target (at timestamptz); INSERT INTO pitr_bench_after_target VALUES (clock_timestamp())"
echo "T = $target, $want rows before it"
wait_archived
failed="$(q "$port" "SELECT failed_count FROM pg_stat_archiver")"
[ "$failed" = 0 ] || echo "note: archive_command failed $failed times (retried by PostgreSQL): $(tail -n 3 "$logs/src.log")"
as_pg "$pgbin/pg_ctl" stop -D "$src" -m fast -w >/dev/null || die "stopping the source cluster"
mutt_wal_bytes=$(( $(bytes "$MUTT_BACKUP_ROOT/wal") - mutt_wal0 ))
br_wal_bytes=$(( $(bytes "$br/repo/archive") - br_wal0 ))
mutt_wal_files="$(find "$MUTT_BACKUP_ROOT/wal" -name '*.zst.age' | wc -l)"

# wait_promoted PORT: until the server on PORT answers and is out of recovery.
wait_promoted() {
  local deadline=$(( $(date +%s) + 1800 ))
  until [ "$(q "$1" "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ]; do
    [ "$(date +%s)" -lt "$deadline" ] || die "the restored server on port $1 was not promoted within 1800 s"
    sleep 0.1
  done
}
check_restored() {
  local n marker
  n="$(q "$1" "SELECT count(*) FROM event_audit_log")" || die "counting rows on port $1"
  marker="$(q "$1" "SELECT to_regclass('pitr_bench_after_target') IS NOT NULL")"
  [ "$n" = "$want" ] || die "$2 restored $n rows, want $want"
  [ "$marker" = f ] || die "$2 restored the commit made after T"
  echo "$n"
}

section "restore to T with mutt"
mport="$(free_port)"
t0="$(now)"
"$mutt" restore postgres --to-time "$target" --target-datadir "$mutt_restored" --port "$mport" >"$tmp/mutt-restore.log" 2>&1 ||
  { cat "$tmp/mutt-restore.log"; die "mutt restore postgres --to-time $target"; }
wait_promoted "$mport"
mutt_rto_s="$(since "$t0")"
mutt_rows="$(check_restored "$mport" mutt)"
echo "mutt: RTO $mutt_rto_s s, $mutt_rows rows"
as_pg "$pgbin/pg_ctl" stop -D "$mutt_restored" -m fast -w >/dev/null || die "stopping mutt's restored cluster"

section "restore to T with pgbackrest"
bport="$(free_port)"
t0="$(now)"
install -d -o postgres -g postgres -m 0700 "$br_restored"
pgbr --type=time "--target=$br_target" --target-action=promote --pg1-path="$br_restored" restore || die "pgbackrest restore --type=time"
# The restored postgresql.conf is the source's: another port, no archiving
# into the repositories it came from (as mutt's restore sets it).
printf "\nport = %s\nunix_socket_directories = '%s'\narchive_mode = off\n" "$bport" "$br_restored" >>"$br_restored/postgresql.auto.conf"
as_pg "$pgbin/pg_ctl" start -D "$br_restored" -l "$logs/restored-pgbackrest.log" -w -t 1800 >/dev/null ||
  { tail -n 20 "$logs/restored-pgbackrest.log"; die "pg_ctl start of pgBackRest's restore"; }
wait_promoted "$bport"
br_rto_s="$(since "$t0")"
br_rows="$(check_restored "$bport" pgbackrest)"
echo "pgbackrest: RTO $br_rto_s s, $br_rows rows"
as_pg "$pgbin/pg_ctl" stop -D "$br_restored" -m fast -w >/dev/null || die "stopping pgBackRest's restored cluster"
[ "$mutt_rows" = "$br_rows" ] || die "row counts differ: mutt $mutt_rows, pgbackrest $br_rows"

step="summary"
brversion="$(pgbackrest version | awk '{ print $2 }')"
printf '\n== summary: PostgreSQL %s, %s base rows + %s s of WAL at %s rows/s (%s WAL files), T = %s\n' \
  "$pgversion" "$rows" "$wal_seconds" "$rate" "$mutt_wal_files" "$target"
printf '%-18s %14s %16s %18s %14s %10s\n' tool "base backup s" "base size MiB" "WAL archived MiB" "restore RTO s" rows
printf '%-18s %14s %16s %18s %14s %10s\n' "mutt" "$mutt_base_s" "$(mib "$mutt_base_bytes")" "$(mib "$mutt_wal_bytes")" "$mutt_rto_s" "$mutt_rows"
printf '%-18s %14s %16s %18s %14s %10s\n' "pgbackrest $brversion" "$br_base_s" "$(mib "$br_base_bytes")" "$(mib "$br_wal_bytes")" "$br_rto_s" "$br_rows"
echo "compression: mutt zstd + age X25519; pgbackrest $compress + aes-256-cbc"
if [ -n "$json_out" ]; then
  cat >"$json_out" <<EOF
{
  "postgresql": "$pgversion", "base_rows": $rows, "wal_seconds": $wal_seconds, "rows_per_second": $rate,
  "wal_files": $mutt_wal_files, "target_time": "$target", "nproc": $(nproc),
  "tools": [
    {"tool": "mutt", "compression": "zst", "encryption": "age-x25519", "base_backup_s": $mutt_base_s,
     "base_bytes": $mutt_base_bytes, "wal_archived_bytes": $mutt_wal_bytes, "restore_rto_s": $mutt_rto_s, "rows": $mutt_rows},
    {"tool": "pgbackrest", "version": "$brversion", "compression": "$compress", "encryption": "aes-256-cbc", "base_backup_s": $br_base_s,
     "base_bytes": $br_base_bytes, "wal_archived_bytes": $br_wal_bytes, "restore_rto_s": $br_rto_s, "rows": $br_rows}
  ]
}
EOF
  echo "wrote $json_out"
fi
