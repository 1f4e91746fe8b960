#!/usr/bin/env bash
# Runs MUTT's whole test suite against the machine's real PostgreSQL and
# Redis (started here if they are not running). Every test creates its own
# database and Redis key prefix and removes them when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh
ensure_services
ensure_test_tools

export MUTT_TEST_DATABASE_URL="${MUTT_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
export MUTT_TEST_REDIS_URL="${MUTT_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
echo "== go vet"
go vet ./...
echo "== go test -race"
go test -race -count=1 -timeout 14m ./... 2>&1 | tee /tmp/mutt-test-$$.log
status=${PIPESTATUS[0]}
passed=$(grep -c '^ok ' /tmp/mutt-test-$$.log || true)
failed=$(grep -c '^FAIL' /tmp/mutt-test-$$.log || true)
rm -f /tmp/mutt-test-$$.log
echo "== embedded store: SIGKILL mid-drain of 50,000 events (without -race, which slows SQLite twentyfold)"
go test -count=1 -run '^TestKillMidDrain$' ./internal/embedded/sqlstore/ || status=1
echo "packages: $passed passed, $failed failed"
exit "$status"
