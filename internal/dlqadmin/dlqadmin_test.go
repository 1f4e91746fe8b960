package dlqadmin

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/store"
)

func testKeys(prefix string) config.Keys {
	var c config.Config
	c.KeyPrefix = prefix
	c.Finish()
	return c.Keys
}

func TestNormalizeID(t *testing.T) {
	tests := []struct{ in, want string }{{"123", "123-0"}, {"123-4", "123-4"}, {"abc", ""}, {"1-2-3", ""}, {"", ""}}
	for _, tt := range tests {
		got, err := NormalizeID(tt.in)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("NormalizeID(%q) = %q, %v", tt.in, got, err)
		}
	}
	if !IDLess("9-1", "10-0") || !IDLess("10-2", "10-10") || IDLess("10-0", "10-0") {
		t.Errorf("IDLess orders by number, not text")
	}
}

func TestParseAge(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{{"90s", 90 * time.Second, false}, {"7d", 7 * 24 * time.Hour, false}, {"-1h", 0, true}, {"1w", 0, true}}
	for _, tt := range tests {
		got, err := ParseAge(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseAge(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestPlanReplay(t *testing.T) {
	k := testKeys("mutt")
	moog, err := Resolve(k, "moog")
	if err != nil {
		t.Fatal(err)
	}
	dead, err := Resolve(k, k.DeadDLQ)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(k, "nope"); err == nil {
		t.Errorf("Resolve accepted an unknown queue")
	}
	entry := func(id string, replays int, fields ...string) queue.Entry {
		f := map[string]string{queue.ReplaysField: strconv.Itoa(replays), "reason": "r"}
		for i := 0; i+1 < len(fields); i += 2 {
			f[fields[i]] = fields[i+1]
		}
		return queue.Entry{ID: id, Fields: f}
	}

	p := PlanReplay(k, moog, []queue.Entry{entry("2-0", 0), entry("1-0", 3)}, 3)
	if p.Count() != 2 || p.ToDead != 1 || p.TargetKeys() != k.AlertQueue || !slices.Equal(p.IDs(), []string{"1-0", "2-0"}) {
		t.Errorf("moog plan %+v", p)
	}

	p = PlanReplay(k, dead, []queue.Entry{
		entry("1-0", 0, "source", k.IngestQueue),
		entry("2-0", 0, "source", k.MoogDLQ),
		entry("3-0", 0, "source", "elsewhere"),
		entry("4-0", 3, "source", k.AlertQueue),
	}, 3)
	if p.Count() != 2 || !slices.Equal(p.Unknown, []string{"3-0"}) || !slices.Equal(p.AtLimit, []string{"4-0"}) ||
		!slices.Equal(p.Targets(), []string{k.AlertQueue, k.IngestQueue}) ||
		!strings.Contains(p.TargetList(), " (1)") {
		t.Errorf("dead plan %+v", p)
	}
	c := ReplayChange(dead, p, map[string]any{"all": true}, Outcome{ReplayResult: queue.ReplayResult{Replayed: 2},
		ByTarget: map[string]int{k.AlertQueue: 1, k.IngestQueue: 1}}, nil, storeActor())
	if c.TableName != AuditTable || c.RecordID != AuditRecordID || c.ChangedBy != "tester" {
		t.Errorf("change %+v", c)
	}
	if nv := c.New.(map[string]any); nv["replayed_to"] == nil || nv["replayed"] != 2 {
		t.Errorf("new values %v", nv)
	}
}

func TestRedactPayload(t *testing.T) {
	got := string(RedactPayload([]byte(`{"a":{"API_KEY":"s3cret"},"list":[{"token":"t"}],"keep":"x"}`)))
	if strings.Contains(got, "s3cret") || strings.Contains(got, `"t"`) || !strings.Contains(got, `"keep":"x"`) ||
		!strings.Contains(got, "[REDACTED sha256:") {
		t.Errorf("RedactPayload = %s", got)
	}
	for _, in := range []string{`not json token`, `{"hostname":"r1"}`} {
		if got := string(RedactPayload([]byte(in))); got != in {
			t.Errorf("RedactPayload(%s) = %s", in, got)
		}
	}
}

func TestSelectAndReplay(t *testing.T) {
	rdb, prefix := itest.Redis(t)
	k := testKeys(prefix)
	q, _ := Resolve(k, "alerter")
	ctx := t.Context()
	now := time.Now()
	add := func(age time.Duration, reason string) string {
		at := now.Add(-age)
		d := queue.DeadLetter{Payload: []byte(`{}`), Reason: reason, Source: k.IngestQueue}
		id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: q.Key, ID: strconv.FormatInt(at.UnixMilli(), 10) + "-*",
			Values: d.Fields(at)}).Result()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	old := add(3*time.Hour, "invalid_event")
	mid := add(2*time.Hour, "shed")
	recent := add(time.Minute, "invalid_event")

	tests := []struct {
		name    string
		sel     Selector
		want    []string
		matched int
	}{
		{"everything", Selector{}, []string{old, mid, recent}, 3},
		{"by reason", Selector{Reasons: map[string]bool{"invalid_event": true}}, []string{old, recent}, 2},
		{"older than an hour", Selector{Before: now.Add(-time.Hour)}, []string{old, mid}, 2},
		{"newer than 150 minutes", Selector{After: now.Add(-150 * time.Minute)}, []string{mid, recent}, 2},
		{"limit", Selector{Limit: 1}, []string{old}, 3},
		{"by id", Selector{IDs: []string{recent, old}}, []string{old, recent}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, matched, err := tt.sel.Select(ctx, rdb, q)
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]string, len(got))
			for i, e := range got {
				ids[i] = e.ID
			}
			if !slices.Equal(ids, tt.want) || matched != tt.matched {
				t.Errorf("Select = %v (%d matched), want %v (%d)", ids, matched, tt.want, tt.matched)
			}
		})
	}
	if _, _, err := (Selector{IDs: []string{"1-0"}}).Select(ctx, rdb, q); !errors.Is(err, ErrNoEntry) {
		t.Errorf("missing ID: %v", err)
	}

	entries, _, err := Selector{IDs: []string{mid}}.Select(ctx, rdb, q)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Replay(ctx, rdb, k, q, PlanReplay(k, q, entries, 3))
	if err != nil || out.Replayed != 1 || out.ByTarget[k.IngestQueue] != 1 {
		t.Fatalf("Replay = %+v, %v", out, err)
	}
	if n, _ := rdb.XLen(ctx, q.Key).Result(); n != 2 {
		t.Errorf("%s holds %d entries, want 2", q.Key, n)
	}
	if n, _ := rdb.XLen(ctx, k.IngestQueue).Result(); n != 1 {
		t.Errorf("%s holds %d entries, want 1", k.IngestQueue, n)
	}
}

func storeActor() store.Actor { return store.Actor{ChangedBy: "tester", CorrelationID: "c"} }
