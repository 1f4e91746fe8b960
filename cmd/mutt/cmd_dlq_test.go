package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/embedded/roles"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/store"
)

// dlqEnv is one test's Redis namespace and database, with the environment
// of the mutt command pointing at them.
type dlqEnv struct {
	t      *testing.T
	rdb    *redis.Client
	prefix string
	pool   *pgxpool.Pool // nil unless asked for
	now    time.Time
}

func newDLQEnv(t *testing.T, withDB bool) *dlqEnv {
	t.Helper()
	rdb, prefix := itest.Redis(t)
	e := &dlqEnv{t: t, rdb: rdb, prefix: prefix, now: time.Now()}
	t.Setenv("REDIS_URL", itest.RedisURL())
	t.Setenv("MUTT_KEY_PREFIX", prefix)
	t.Setenv("USER", "tester")
	if withDB {
		pool, dsn := itest.Pool(t)
		if err := store.Migrate(t.Context(), pool, nil); err != nil {
			t.Fatalf("migrating: %v", err)
		}
		e.pool = pool
		t.Setenv("DATABASE_URL", dsn)
	} else {
		// Nothing may reach PostgreSQL in these tests.
		t.Setenv("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none?sslmode=disable")
	}
	// Standard input is never a terminal here, whatever runs the tests.
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdin
	os.Stdin = devNull
	t.Cleanup(func() { os.Stdin = saved; _ = devNull.Close() })
	return e
}

func (e *dlqEnv) key(name string) string { return e.prefix + ":" + name }

// add writes a dead letter that reached queue age ago and returns its ID.
func (e *dlqEnv) add(queueName string, age time.Duration, payload string, d queue.DeadLetter, extra ...any) string {
	e.t.Helper()
	d.Payload = []byte(payload)
	ms := e.now.Add(-age).UnixMilli()
	// Several entries may share a millisecond; the sequence tells them apart.
	id, err := e.rdb.XAdd(context.Background(), &redis.XAddArgs{
		Stream: e.key(queueName), ID: strconv.FormatInt(ms, 10) + "-*",
		Values: append(d.Fields(e.now.Add(-age)), extra...),
	}).Result()
	if err != nil {
		e.t.Fatalf("adding to %s: %v", queueName, err)
	}
	return id
}

func (e *dlqEnv) entries(queueName string) []queue.Entry {
	e.t.Helper()
	got, err := queue.Range(context.Background(), e.rdb, e.key(queueName), "-", 10_000)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

func (e *dlqEnv) ids(queueName string) []string {
	var ids []string
	for _, en := range e.entries(queueName) {
		ids = append(ids, en.ID)
	}
	return ids
}

// snapshot is the content of every DLQ and work queue, for "nothing
// changed" checks.
func (e *dlqEnv) snapshot() map[string][]string {
	m := map[string][]string{}
	for _, q := range []string{"dlq:moog", "dlq:alerter", "dlq:dead", "alert_queue", "ingest_queue"} {
		m[q] = e.ids(q)
	}
	return m
}

func (e *dlqEnv) unchanged(before map[string][]string) {
	e.t.Helper()
	after := e.snapshot()
	for q, ids := range before {
		if !slices.Equal(ids, after[q]) {
			e.t.Errorf("%s changed: %v → %v", q, ids, after[q])
		}
	}
}

// auditRow is a config_audit_log row as the tests read it.
type auditRow struct {
	ChangedBy, Operation, TableName string
	RecordID                        int64
	Old, New                        map[string]any
	Reason, CorrelationID           *string
}

func (e *dlqEnv) auditRows() []auditRow {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `
		SELECT changed_by, operation, table_name, record_id, old_values, new_values, reason, correlation_id
		FROM config_audit_log ORDER BY id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.ChangedBy, &r.Operation, &r.TableName, &r.RecordID, &r.Old, &r.New, &r.Reason, &r.CorrelationID); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func runDLQ(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func dlqMoogLetter(reason string, replays int64, status int) queue.DeadLetter {
	return queue.DeadLetter{Reason: reason, Error: "moogsoft answered " + strconv.Itoa(status), Source: "alert_queue",
		SourceID: "1-0", Deliveries: 1, Attempts: 6, Replays: replays, Status: status}
}

// dlqListedIDs returns the IDs in the first column of a list table.
func dlqListedIDs(out string) []string {
	var ids []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && strings.Contains(f[0], "-") && dlqIDPattern.MatchString(f[0]) {
			ids = append(ids, f[0])
		}
	}
	return ids
}

func TestDLQList(t *testing.T) {
	e := newDLQEnv(t, false)
	longError := strings.Repeat("connection reset by peer; ", 5)
	ids := []string{
		e.add("dlq:moog", 3*time.Hour, `{"hostname":"r1"}`, dlqMoogLetter("http_4xx", 0, 400)),
		e.add("dlq:moog", 2*time.Hour, `{"hostname":"r2"}`, dlqMoogLetter("http_5xx", 1, 503)),
		e.add("dlq:moog", 90*time.Minute, `{"hostname":"r3"}`, dlqMoogLetter("http_5xx", 0, 502)),
		e.add("dlq:moog", 10*time.Minute, `{"hostname":"r4"}`, queue.DeadLetter{Reason: "timeout", Error: longError, Deliveries: 2}),
		e.add("dlq:moog", time.Minute, `{"hostname":"r5","api_key":"moog-secret-key"}`, dlqMoogLetter("http_5xx", 2, 500)),
	}
	tests := []struct {
		name      string
		args      []string
		want      []string // IDs listed, in order
		wantCount string
	}{
		{"everything oldest first", nil, ids, "5 of 5 entries shown"},
		{"one reason", []string{"--reason", "http_5xx"}, []string{ids[1], ids[2], ids[4]}, "3 of 3 matching entries shown"},
		{"two reasons", []string{"--reason", "http_5xx", "--reason", "timeout"}, ids[1:], "4 of 4 matching entries shown"},
		{"older than", []string{"--older-than", "100m"}, ids[:2], "2 of 2 matching entries shown"},
		{"newer than", []string{"--newer-than", "30m"}, ids[3:], "2 of 2 matching entries shown"},
		{"window", []string{"--older-than", "30m", "--newer-than", "150m"}, ids[1:3], "2 of 2 matching entries shown"},
		{"days", []string{"--newer-than", "1d", "--reason", "http_4xx"}, ids[:1], "1 of 1 matching entries shown"},
		{"limit", []string{"--limit", "2"}, ids[:2], "2 of 5 entries shown"},
		{"limit with a filter", []string{"--limit", "1", "--reason", "http_5xx"}, ids[1:2], "1 of 3 matching entries shown"},
		{"nothing matches", []string{"--reason", "no_such_reason"}, nil, "0 of 0 matching entries shown (" + e.key("dlq:moog") + " holds 5)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runDLQ(append([]string{"dlq", "list", "moog"}, tt.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if got := dlqListedIDs(out); !slices.Equal(got, tt.want) {
				t.Errorf("listed %v, want %v\n%s", got, tt.want, out)
			}
			if !strings.Contains(out, tt.wantCount) {
				t.Errorf("no count line %q in\n%s", tt.wantCount, out)
			}
		})
	}

	t.Run("columns", func(t *testing.T) {
		_, out, _ := runDLQ("dlq", "list", e.key("dlq:moog"), "--reason", "timeout")
		lines := strings.Split(out, "\n")
		if len(lines) < 2 || !strings.HasPrefix(lines[0], "ID") {
			t.Fatalf("no header:\n%s", out)
		}
		for _, col := range []string{"AGE", "REASON", "REPLAYS", "ATTEMPTS", "DELIVERIES", "STATUS", "ERROR"} {
			if !strings.Contains(lines[0], col) {
				t.Errorf("header lacks %s: %s", col, lines[0])
			}
		}
		row := lines[1]
		if !strings.Contains(row, "10m") || !strings.Contains(row, "timeout") {
			t.Errorf("row lacks age or reason: %s", row)
		}
		shown := longError[:59] + "…"
		if !strings.Contains(row, strings.Join(strings.Fields(shown), " ")) || strings.Contains(row, longError[:61]) {
			t.Errorf("error not cut to 60 characters: %s", row)
		}
	})

	t.Run("json", func(t *testing.T) {
		code, out, errOut := runDLQ("dlq", "list", "moog", "--json", "--reason", "http_5xx", "--newer-than", "5m")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 1 {
			t.Fatalf("want one JSON line, got %d:\n%s", len(lines), out)
		}
		var got struct {
			ID       string          `json:"id"`
			Queue    string          `json:"queue"`
			Reason   string          `json:"reason"`
			Replays  int             `json:"replays"`
			Attempts int             `json:"attempts"`
			Status   int             `json:"status"`
			Payload  json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, lines[0])
		}
		if got.ID != ids[4] || got.Queue != e.key("dlq:moog") || got.Reason != "http_5xx" || got.Replays != 2 ||
			got.Attempts != 6 || got.Status != 500 {
			t.Errorf("entry = %+v", got)
		}
		var payload map[string]string
		if err := json.Unmarshal(got.Payload, &payload); err != nil || payload["hostname"] != "r5" {
			t.Errorf("payload = %s (%v)", got.Payload, err)
		}
		if strings.Contains(out, "moog-secret-key") || !strings.HasPrefix(payload["api_key"], "[REDACTED sha256:") {
			t.Errorf("API key not redacted: %s", got.Payload)
		}
		if !strings.Contains(errOut, "1 of 1 matching entries shown") {
			t.Errorf("count line not on stderr: %q", errOut)
		}
	})
}

func TestDLQShow(t *testing.T) {
	e := newDLQEnv(t, false)
	id := e.add("dlq:alerter", time.Hour, `{"hostname":"r1","message":"LINK-3-UPDOWN","nested":{"token":"tok-123"}}`,
		queue.DeadLetter{Reason: "audit_rejected", Error: "rule 9 deleted", Source: e.key("ingest_queue"), SourceID: "5-0", Deliveries: 3})
	raw := e.add("dlq:alerter", time.Minute, "not json at all", queue.DeadLetter{Reason: "invalid_event", Error: "bad"})
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string // in stdout, or in stderr when the command fails
		notWant  []string
	}{
		{name: "every field and a pretty payload", args: []string{"alerter", id}, want: []string{
			"id:", id, "reason:", "audit_rejected", "error:", "rule 9 deleted", "source:", e.key("ingest_queue"),
			"source_id:", "5-0", "deliveries:", "3", "replays:", "failed_at:", "(1h00m ago)",
			"payload:\n{\n  ", `"hostname": "r1"`, "[REDACTED sha256:"}, notWant: []string{"tok-123"}},
		{name: "payload that is not JSON", args: []string{"alerter", raw}, want: []string{"payload:\nnot json at all"}},
		{name: "bare millisecond ID", args: []string{"alerter", strings.TrimSuffix(id, "-0")}, want: []string{"rule 9 deleted"}},
		{name: "unknown ID", args: []string{"alerter", "123-0"}, wantCode: exitFailure,
			want: []string{"no entry 123-0 in " + e.key("dlq:alerter"), "mutt dlq list alerter"}},
		{name: "malformed ID", args: []string{"alerter", "abc"}, wantCode: exitUsage, want: []string{"not an entry ID"}},
		{name: "missing ID", args: []string{"alerter"}, wantCode: exitUsage, want: []string{"entry ID"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runDLQ(append([]string{"dlq", "show"}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, tt.wantCode, errOut)
			}
			text := out
			if code != exitOK {
				text = errOut
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q:\n%s", w, text)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(text, w) {
					t.Errorf("output shows %q:\n%s", w, text)
				}
			}
		})
	}
}

// TestDLQRefusals covers every way a command refuses before it changes
// anything.
func TestDLQRefusals(t *testing.T) {
	e := newDLQEnv(t, false)
	e.add("dlq:moog", time.Hour, `{"hostname":"r1"}`, dlqMoogLetter("http_5xx", 0, 503))
	e.add("dlq:dead", time.Hour, `{"hostname":"r2"}`, dlqMoogLetter("replay_limit", 3, 503))
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"unknown queue", []string{"list", "moogsoft"}, exitUsage, "use alerter, moog or dead"},
		{"unknown queue on replay", []string{"replay", "ingest", "--all", "--yes"}, exitUsage, "use alerter, moog or dead"},
		{"replay without a selection", []string{"replay", "moog", "--yes"}, exitUsage, "--all for every one"},
		{"purge without a selection", []string{"purge", "dead", "--yes", "--reason-text", "x"}, exitUsage, "--all for every one"},
		{"replay without --yes and no terminal", []string{"replay", "moog", "--all"}, exitUsage, "add --yes"},
		{"purge without --yes and no terminal", []string{"purge", "dead", "--all", "--reason-text", "cleanup"}, exitUsage, "add --yes"},
		{"purge without a reason", []string{"purge", "dead", "--all", "--yes"}, exitUsage, "--reason-text is required"},
		{"bad duration", []string{"list", "moog", "--older-than", "yesterday"}, exitUsage, "--older-than"},
		{"empty window", []string{"list", "moog", "--older-than", "2h", "--newer-than", "1h"}, exitUsage, "select nothing"},
		{"negative limit", []string{"list", "moog", "--limit", "-1"}, exitUsage, "--limit"},
		{"negative max replays", []string{"replay", "moog", "--all", "--max-replays", "-1", "--yes"}, exitUsage, "--max-replays"},
		{"actor too long", []string{"replay", "moog", "--all", "--yes", "--actor", strings.Repeat("a", 101)}, exitUsage, "--actor"},
		{"unknown ID to replay", []string{"replay", "moog", "--id", "1-0", "--yes"}, exitFailure, "run `mutt dlq list moog`"},
		{"malformed ID to purge", []string{"purge", "moog", "--id", "x-1", "--yes", "--reason-text", "x"}, exitUsage, "not an entry ID"},
		// The database of this test is unreachable: nothing may change
		// when the change could not be recorded.
		{"audit log unreachable", []string{"replay", "moog", "--all", "--yes"}, exitFailure, "nothing changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.snapshot()
			code, out, errOut := runDLQ(append([]string{"dlq"}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr lacks %q: %s", tt.want, errOut)
			}
			e.unchanged(before)
		})
	}
}

func TestDLQReplay(t *testing.T) {
	e := newDLQEnv(t, true)
	t.Setenv("REMEDIATION_MAX_REPLAYS", "2")
	old := e.add("dlq:moog", 3*time.Hour, `{"hostname":"r0"}`, dlqMoogLetter("http_4xx", 0, 400))
	fresh := e.add("dlq:moog", 2*time.Hour, `{"hostname":"r1"}`, dlqMoogLetter("http_5xx", 0, 503))
	once := e.add("dlq:moog", time.Hour, `{"hostname":"r2"}`, dlqMoogLetter("http_5xx", 1, 503))
	spent := e.add("dlq:moog", 30*time.Minute, `{"hostname":"r3"}`, dlqMoogLetter("http_5xx", 2, 503))

	t.Run("dry run changes nothing", func(t *testing.T) {
		before := e.snapshot()
		code, out, errOut := runDLQ("dlq", "replay", "moog", "--reason", "http_5xx", "--dry-run")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, w := range []string{"selected 3 of 3", "replay 3 to " + e.key("alert_queue"), "1 have been replayed 2 times", "dry run: nothing changed"} {
			if !strings.Contains(out, w) {
				t.Errorf("plan lacks %q:\n%s", w, out)
			}
		}
		e.unchanged(before)
		if rows := e.auditRows(); len(rows) != 0 {
			t.Errorf("dry run wrote %d audit rows", len(rows))
		}
	})

	t.Run("replays to the alert queue, the spent one to the dead queue, and audits", func(t *testing.T) {
		code, out, errOut := runDLQ("dlq", "replay", "moog", "--reason", "http_5xx", "--yes",
			"--reason-text", "Moogsoft back after INC-42")
		if code != exitOK {
			t.Fatalf("exit %d: %s\n%s", code, errOut, out)
		}
		if !strings.Contains(out, "replayed 2, sent to "+e.key("dlq:dead")+" 1") {
			t.Errorf("report: %s", out)
		}
		if got := e.ids("dlq:moog"); !slices.Equal(got, []string{old}) {
			t.Errorf("moog DLQ holds %v, want only %s", got, old)
		}
		alerts := e.entries("alert_queue")
		if len(alerts) != 2 {
			t.Fatalf("alert queue holds %d, want 2", len(alerts))
		}
		wantReplays := map[string]string{`{"hostname":"r1"}`: "1", `{"hostname":"r2"}`: "2"}
		for _, a := range alerts {
			if want, ok := wantReplays[string(a.Payload())]; !ok || a.Fields[queue.ReplaysField] != want {
				t.Errorf("alert %s replays=%s, want %v", a.Payload(), a.Fields[queue.ReplaysField], wantReplays)
			}
			if a.Fields[queue.AttemptsField] != "" {
				t.Errorf("replayed alert keeps its spent attempts: %v", a.Fields)
			}
		}
		dead := e.entries("dlq:dead")
		if len(dead) != 1 || string(dead[0].Payload()) != `{"hostname":"r3"}` || dead[0].Fields["reason"] != "replay_limit" {
			t.Fatalf("dead queue = %+v", dead)
		}
		rows := e.auditRows()
		if len(rows) != 1 {
			t.Fatalf("%d audit rows, want 1", len(rows))
		}
		r := rows[0]
		if r.ChangedBy != "tester" || r.Operation != "UPDATE" || r.TableName != "redis_dlq" || r.RecordID != 1 {
			t.Errorf("row = %+v", r)
		}
		if r.Reason == nil || *r.Reason != "Moogsoft back after INC-42" || r.CorrelationID == nil || len(*r.CorrelationID) != 36 {
			t.Errorf("reason %v, correlation id %v", r.Reason, r.CorrelationID)
		}
		ids, _ := r.Old["ids"].([]any)
		if r.Old["queue"] != e.key("dlq:moog") || r.Old["count"] != 3.0 || len(ids) != 3 || ids[0] != fresh || ids[1] != once || ids[2] != spent {
			t.Errorf("old_values = %v", r.Old)
		}
		if f, _ := r.Old["filters"].(map[string]any); f == nil || len(f["reasons"].([]any)) != 1 {
			t.Errorf("old_values.filters = %v", r.Old["filters"])
		}
		if r.New["action"] != "replay" || r.New["target"] != e.key("alert_queue") || r.New["replayed"] != 2.0 ||
			r.New["dead"] != 1.0 || r.New["max_replays"] != 2.0 {
			t.Errorf("new_values = %v", r.New)
		}
	})

	t.Run("by id with a higher limit and an actor", func(t *testing.T) {
		dead := e.ids("dlq:dead")
		code, out, errOut := runDLQ("dlq", "replay", "dead", "--id", dead[0], "--max-replays", "5", "--yes", "--actor", "alice")
		if code != exitOK {
			t.Fatalf("exit %d: %s\n%s", code, errOut, out)
		}
		if n := len(e.ids("dlq:dead")); n != 0 {
			t.Errorf("dead queue holds %d", n)
		}
		alerts := e.entries("alert_queue")
		last := alerts[len(alerts)-1]
		if string(last.Payload()) != `{"hostname":"r3"}` || last.Fields[queue.ReplaysField] != "3" {
			t.Errorf("last alert = %s %v", last.Payload(), last.Fields)
		}
		rows := e.auditRows()
		if len(rows) != 2 || rows[1].ChangedBy != "alice" || rows[1].Reason != nil {
			t.Errorf("audit rows = %+v", rows)
		}
	})
}

// TestDLQReplayDeadQueue checks that entries of the dead queue go back to
// the work queue they failed from.
func TestDLQReplayDeadQueue(t *testing.T) {
	e := newDLQEnv(t, true)
	k := func(n string) string { return e.key(n) }
	e.add("dlq:dead", time.Hour, `{"n":1}`, queue.DeadLetter{Reason: "invalid_event", Source: k("ingest_queue")})
	e.add("dlq:dead", time.Hour, `{"n":2}`, queue.DeadLetter{Reason: "http_4xx", Source: k("alert_queue")})
	e.add("dlq:dead", time.Hour, `{"n":3}`, queue.DeadLetter{Reason: "replay_limit", Source: k("dlq:alerter")})
	e.add("dlq:dead", time.Hour, `{"n":4}`, queue.DeadLetter{Reason: "malformed_entry", Source: k("dlq:moog")},
		"origin", k("ingest_queue"), "origin_id", "9-0")
	unknown := e.add("dlq:dead", time.Hour, `{"n":5}`, queue.DeadLetter{Reason: "mystery", Source: "elsewhere"})
	atLimit := e.add("dlq:dead", time.Hour, `{"n":6}`, queue.DeadLetter{Reason: "replay_limit", Source: k("alert_queue"), Replays: 3})

	code, out, errOut := runDLQ("dlq", "replay", "dead", "--all", "--yes")
	if code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	for _, w := range []string{"replay 1 to " + k("alert_queue"), "replay 3 to " + k("ingest_queue"),
		"skip 1 already replayed 3 times", atLimit, "skip 1 whose source queue is unknown", unknown} {
		if !strings.Contains(out, w) {
			t.Errorf("plan lacks %q:\n%s", w, out)
		}
	}
	if got := e.ids("dlq:dead"); !slices.Equal(got, []string{unknown, atLimit}) {
		t.Errorf("dead queue holds %v, want %v", got, []string{unknown, atLimit})
	}
	payloads := func(q string) []string {
		var p []string
		for _, en := range e.entries(q) {
			p = append(p, string(en.Payload()))
		}
		slices.Sort(p)
		return p
	}
	// n=4 reached the dead queue through the moog DLQ but started on the
	// ingest queue: its origin wins.
	if got := payloads("ingest_queue"); !slices.Equal(got, []string{`{"n":1}`, `{"n":3}`, `{"n":4}`}) {
		t.Errorf("ingest queue = %v", got)
	}
	if got := payloads("alert_queue"); !slices.Equal(got, []string{`{"n":2}`}) {
		t.Errorf("alert queue = %v", got)
	}
	rows := e.auditRows()
	if len(rows) != 1 {
		t.Fatalf("%d audit rows", len(rows))
	}
	if rows[0].New["target"] != k("alert_queue")+","+k("ingest_queue") || rows[0].New["replayed"] != 4.0 {
		t.Errorf("new_values = %v", rows[0].New)
	}
	if to, _ := rows[0].New["replayed_to"].(map[string]any); to[k("ingest_queue")] != 3.0 {
		t.Errorf("replayed_to = %v", rows[0].New["replayed_to"])
	}
}

func TestDLQPurge(t *testing.T) {
	e := newDLQEnv(t, true)
	gone := []string{e.add("dlq:alerter", 2*time.Hour, `{"n":2}`, queue.DeadLetter{Reason: "invalid_event"})}
	keep := e.add("dlq:alerter", time.Hour, `{"n":1}`, queue.DeadLetter{Reason: "shed"})
	gone = append(gone, e.add("dlq:alerter", 3*time.Minute, `{"n":3}`, queue.DeadLetter{Reason: "invalid_event"}))

	t.Run("dry run needs no reason and changes nothing", func(t *testing.T) {
		before := e.snapshot()
		code, out, errOut := runDLQ("dlq", "purge", "alerter", "--reason", "invalid_event", "--dry-run")
		if code != exitOK || !strings.Contains(out, "delete 2 for good") {
			t.Fatalf("exit %d: %s\n%s", code, errOut, out)
		}
		e.unchanged(before)
	})

	t.Run("deletes and audits", func(t *testing.T) {
		code, out, errOut := runDLQ("dlq", "purge", "alerter", "--reason", "invalid_event", "--yes",
			"--reason-text", "garbage from a misconfigured sender")
		if code != exitOK {
			t.Fatalf("exit %d: %s\n%s", code, errOut, out)
		}
		if !strings.Contains(out, "deleted 2, missing 0") {
			t.Errorf("report: %s", out)
		}
		if got := e.ids("dlq:alerter"); !slices.Equal(got, []string{keep}) {
			t.Errorf("alerter DLQ holds %v, want %v", got, []string{keep})
		}
		rows := e.auditRows()
		if len(rows) != 1 {
			t.Fatalf("%d audit rows", len(rows))
		}
		r := rows[0]
		if r.Operation != "DELETE" || r.TableName != "redis_dlq" || r.RecordID != 1 || r.ChangedBy != "tester" || r.New != nil ||
			r.Reason == nil || *r.Reason != "garbage from a misconfigured sender" {
			t.Errorf("row = %+v", r)
		}
		ids, _ := r.Old["ids"].([]any)
		if r.Old["action"] != "purge" || r.Old["deleted"] != 2.0 || r.Old["count"] != 2.0 || len(ids) != 2 ||
			ids[0] != gone[0] || ids[1] != gone[1] || r.Old["queue"] != e.key("dlq:alerter") {
			t.Errorf("old_values = %v", r.Old)
		}
	})

	t.Run("audit failure after the change is loud", func(t *testing.T) {
		// The table is readable, so the command goes ahead, but every
		// insert fails.
		_, err := e.pool.Exec(t.Context(), `
			CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'audit log is read-only today'; END $$;
			CREATE TRIGGER refuse BEFORE INSERT ON config_audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit();`)
		if err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runDLQ("dlq", "purge", "alerter", "--id", keep, "--yes", "--reason-text", "last one")
		if code != exitFailure {
			t.Fatalf("exit %d, want %d: %s", code, exitFailure, errOut)
		}
		if n := len(e.ids("dlq:alerter")); n != 0 {
			t.Errorf("the purge did not happen: %d left", n)
		}
		if !strings.Contains(out, "deleted 1") || !strings.Contains(errOut, "NOT in the audit log") ||
			!strings.Contains(errOut, "read-only today") {
			t.Errorf("stdout %s\nstderr %s", out, errOut)
		}
		start := strings.Index(errOut, "{")
		end := strings.LastIndex(errOut, "}")
		var row map[string]any
		if start < 0 || end < start || json.Unmarshal([]byte(errOut[start:end+1]), &row) != nil {
			t.Fatalf("no JSON row to file in:\n%s", errOut)
		}
		if row["table_name"] != "redis_dlq" || row["operation"] != "DELETE" || row["reason"] != "last one" {
			t.Errorf("row to file = %v", row)
		}
	})
}

func TestAskDLQYes(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"y\n", true}, {"YES\n", true}, {" yes \r\n", true}, {"y", true},
		{"n\n", false}, {"\n", false}, {"", false}, {"yep\n", false},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			var out bytes.Buffer
			if got := askYes(strings.NewReader(tt.in), &out, "replay 3 entries?"); got != tt.want {
				t.Errorf("askYes(%q) = %v, want %v", tt.in, got, tt.want)
			}
			if out.String() != "replay 3 entries? [y/N] " {
				t.Errorf("prompt = %q", out.String())
			}
		})
	}
}

func TestDLQDeadTarget(t *testing.T) {
	var c config.Config
	c.KeyPrefix = "mutt"
	c.Finish()
	k := c.Keys
	tests := []struct {
		name   string
		fields map[string]string
		want   string // "" means undecidable
	}{
		{"from the ingest queue", map[string]string{"source": k.IngestQueue}, k.IngestQueue},
		{"from the alert queue", map[string]string{"source": k.AlertQueue}, k.AlertQueue},
		{"via the alerter DLQ", map[string]string{"source": k.AlerterDLQ}, k.IngestQueue},
		{"via the moog DLQ", map[string]string{"source": k.MoogDLQ}, k.AlertQueue},
		{"via a DLQ with an origin", map[string]string{"source": k.MoogDLQ, "origin": k.IngestQueue}, k.IngestQueue},
		{"via the dead queue with an origin", map[string]string{"source": k.DeadDLQ, "origin": k.AlertQueue}, k.AlertQueue},
		{"via the dead queue alone", map[string]string{"source": k.DeadDLQ}, ""},
		{"origin that is no work queue", map[string]string{"source": k.AlerterDLQ, "origin": "x"}, k.IngestQueue},
		{"unknown source", map[string]string{"source": "other"}, ""},
		{"no source", map[string]string{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := dlqDeadTarget(k, queue.Entry{ID: "1-0", Fields: tt.fields})
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("dlqDeadTarget = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestParseDLQAge(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"90s", 90 * time.Second, false},
		{"2h30m", 150 * time.Minute, false},
		{"7d", 7 * 24 * time.Hour, false},
		{"0d", 0, false},
		{"-1h", 0, true},
		{"1w", 0, true},
		{"d", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseDLQAge("older-than", tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseDLQAge(%q) = %v, %v", tt.in, got, err)
			}
		})
	}
}

func TestDLQLegacyListKey(t *testing.T) {
	e := newDLQEnv(t, false)
	if err := e.rdb.LPush(t.Context(), e.key("dlq:moog"), `{"hostname":"r1"}`).Err(); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runDLQ("dlq", "list", "moog")
	if code != exitFailure || !strings.Contains(errOut, "is not a Redis stream") || !strings.Contains(errOut, "redis-cli TYPE") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

// TestDLQEmbedded lists and replays the dead letters of an embedded data
// directory: no Redis, no PostgreSQL, the audit row in the same database.
func TestDLQEmbedded(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MUTT_STORAGE", "embedded")
	t.Setenv("MUTT_DATA_DIR", dir)
	t.Setenv("USER", "tester")
	ctx := t.Context()
	c := config.Default()
	c.Finish()
	k := c.Keys

	code, _, errOut := runDLQ("dlq", "list", "moog")
	if code != exitFailure || !strings.Contains(errOut, "MUTT_DATA_DIR") {
		t.Errorf("without a database: exit %d: %s", code, errOut)
	}

	db, err := sqlstore.Open(ctx, filepath.Join(dir, "mutt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	var dead []sqlstore.DeadLetter
	for i, reason := range []string{"http_4xx", "http_5xx", "http_5xx"} {
		d := dlqMoogLetter(reason, int64(i), 503)
		d.Payload, d.SourceID = []byte(`{"hostname":"r`+strconv.Itoa(i)+`"}`), strconv.Itoa(10+i)
		sd, err := roles.StoreDeadLetter(k.MoogDLQ, d)
		if err != nil {
			t.Fatal(err)
		}
		dead = append(dead, sd)
	}
	if _, err := db.Commit(ctx, sqlstore.Batch{Dead: dead}); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runDLQ("dlq", "list", "moog")
	if code != exitOK {
		t.Fatalf("list: exit %d: %s", code, errOut)
	}
	ids := dlqListedIDs(out)
	if len(ids) != 3 || !strings.Contains(out, "3 of 3 entries shown") || !strings.Contains(out, "http_4xx") {
		t.Fatalf("list shows %v:\n%s", ids, out)
	}
	code, out, errOut = runDLQ("dlq", "show", "moog", ids[0])
	if code != exitOK || !regexp.MustCompile(`(?m)^source_id:\s+10$`).MatchString(out) || !strings.Contains(out, `"hostname": "r0"`) {
		t.Errorf("show %s: exit %d: %s\n%s", ids[0], code, errOut, out)
	}

	code, out, errOut = runDLQ("dlq", "replay", "moog", "--reason", "http_5xx", "--yes", "--reason-text", "Moogsoft back after INC-7")
	if code != exitOK || !strings.Contains(out, "replayed 2, sent to "+k.DeadDLQ+" 0") {
		t.Fatalf("replay: exit %d: %s\n%s", code, errOut, out)
	}
	alerts, err := db.Read(ctx, k.AlertQueue, 0, 10)
	if err != nil || len(alerts) != 2 || string(alerts[0].Payload) != `{"hostname":"r1"}` || alerts[0].Replays != 2 || alerts[1].Replays != 3 {
		t.Errorf("alert queue = %+v, %v", alerts, err)
	}
	if n, err := db.DeadLetterCount(ctx, k.MoogDLQ); err != nil || n != 1 {
		t.Errorf("the moog DLQ holds %d, %v; want 1", n, err)
	}
	rows, _, err := db.SearchConfigAudit(ctx, store.ConfigAuditFilter{TableName: "redis_dlq", Limit: 10})
	if err != nil || len(rows) != 1 || rows[0].ChangedBy != "tester" || rows[0].Operation != store.OpUpdate ||
		rows[0].Reason == nil || *rows[0].Reason != "Moogsoft back after INC-7" {
		t.Errorf("audit rows = %+v, %v", rows, err)
	}
}
