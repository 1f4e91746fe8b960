package ui

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/web/auth"
)

// addLetter writes a dead letter to key that failed age ago.
func (e *env) addLetter(key string, age time.Duration, payload string, d queue.DeadLetter) string {
	e.t.Helper()
	d.Payload = []byte(payload)
	at := time.Now().Add(-age)
	id, err := e.rdb.XAdd(e.t.Context(), &redis.XAddArgs{
		Stream: key, ID: strconv.FormatInt(at.UnixMilli(), 10) + "-*", Values: d.Fields(at),
	}).Result()
	if err != nil {
		e.t.Fatalf("adding to %s: %v", key, err)
	}
	return id
}

func (e *env) streamIDs(key string) []string {
	e.t.Helper()
	got, err := queue.Range(e.t.Context(), e.rdb, key, "-", 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	ids := make([]string, len(got))
	for i, x := range got {
		ids[i] = x.ID
	}
	return ids
}

func moogLetter(reason string, replays int64) queue.DeadLetter {
	return queue.DeadLetter{Reason: reason, Error: "moogsoft answered 503", Source: "alert_queue", SourceID: "1-0",
		Deliveries: 1, Attempts: 6, Replays: replays, Status: 503}
}

func TestDLQReplayForm(t *testing.T) {
	e := newEnv(t)
	moog, alerts, dead := e.keys.MoogDLQ, e.keys.AlertQueue, e.keys.DeadDLQ
	a := e.addLetter(moog, 3*time.Hour, `{"hostname":"r0","api_key":"moog-secret"}`, moogLetter("http_4xx", 0))
	b5 := e.addLetter(moog, 2*time.Hour, `{"hostname":"r1"}`, moogLetter("http_5xx", 0))
	spent := e.addLetter(moog, time.Hour, `{"hostname":"r2"}`, moogLetter("http_5xx", 3))

	br := e.browser()
	br.login()
	p := br.get("/dlq/moog")
	for _, want := range []string{a, b5, spent, "3 of 3 matching entries shown", "[REDACTED sha256:"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("queue page lacks %q", want)
		}
	}
	if strings.Contains(p.Body, "moog-secret") {
		t.Errorf("the queue page shows a secret of the payload")
	}
	if p := br.get("/dlq/moog?reason=http_5xx"); !strings.Contains(p.Body, "2 of 2 matching entries shown") {
		t.Errorf("reason filter:\n%s", p.Body)
	}

	t.Run("nothing ticked", func(t *testing.T) {
		got := br.follow(br.post("/dlq/moog/replay", url.Values{}))
		if !strings.Contains(got.Body, "Tick the entries") || len(e.streamIDs(moog)) != 3 {
			t.Errorf("empty replay changed something or said nothing")
		}
	})

	t.Run("ticked entries", func(t *testing.T) {
		p := br.post("/dlq/moog/replay", url.Values{"id": {b5, spent}, "reason": {"Moogsoft back after INC-42"}})
		if p.Status != http.StatusSeeOther || p.location() != "/dlq/moog" {
			t.Fatalf("replay: %d %q\n%s", p.Status, p.location(), p.Body)
		}
		got := br.get(p.location())
		if !strings.Contains(got.Body, "Replayed 1 to "+alerts+", sent 1 to "+dead) {
			t.Errorf("flash:\n%s", got.Body)
		}
		if ids := e.streamIDs(moog); !slices.Equal(ids, []string{a}) {
			t.Errorf("moog DLQ holds %v, want %v", ids, []string{a})
		}
		replayed, err := queue.Range(t.Context(), e.rdb, alerts, "-", 10)
		if err != nil || len(replayed) != 1 || string(replayed[0].Payload()) != `{"hostname":"r1"}` ||
			replayed[0].Fields[queue.ReplaysField] != "1" {
			t.Errorf("alert queue %+v %v", replayed, err)
		}
		if n := len(e.streamIDs(dead)); n != 1 {
			t.Errorf("dead queue holds %d, want 1", n)
		}
		rows := e.auditRows("redis_dlq")
		if len(rows) != 1 {
			t.Fatalf("%d audit rows, want 1", len(rows))
		}
		r := rows[0]
		if r.Operation != "UPDATE" || r.ChangedBy != "webui:"+auth.Fingerprint(testKey) || r.Reason == nil ||
			*r.Reason != "Moogsoft back after INC-42" || r.CorrelationID == nil {
			t.Errorf("audit row %+v", r)
		}
		var old, nv map[string]any
		if json.Unmarshal(r.OldValues, &old) != nil || json.Unmarshal(r.NewValues, &nv) != nil {
			t.Fatalf("audit values %s %s", r.OldValues, r.NewValues)
		}
		if old["queue"] != moog || old["count"] != float64(2) || nv["action"] != "replay" || nv["replayed"] != float64(1) ||
			nv["dead"] != float64(1) || nv["target"] != alerts || nv["max_replays"] != float64(3) {
			t.Errorf("audit values %s %s", r.OldValues, r.NewValues)
		}
	})

	t.Run("an entry gone meanwhile", func(t *testing.T) {
		got := br.follow(br.post("/dlq/moog/replay", url.Values{"id": {b5}}))
		if !strings.Contains(got.Body, "no entry "+b5) || !strings.Contains(got.Body, "nothing changed") {
			t.Errorf("flash:\n%s", got.Body)
		}
	})

	t.Run("every entry with a reason", func(t *testing.T) {
		e.addLetter(moog, 10*time.Minute, `{"hostname":"r3"}`, moogLetter("http_5xx", 0))
		got := br.follow(br.post("/dlq/moog/replay", url.Values{"all": {"1"}, "filter_reason": {"http_5xx"}, "max_replays": {"5"}}))
		if !strings.Contains(got.Body, "Replayed 1 to "+alerts) {
			t.Errorf("flash:\n%s", got.Body)
		}
		if ids := e.streamIDs(moog); !slices.Equal(ids, []string{a}) {
			t.Errorf("moog DLQ holds %v, want only the http_4xx entry", ids)
		}
		if rows := e.auditRows("redis_dlq"); len(rows) != 2 {
			t.Errorf("%d audit rows, want 2", len(rows))
		}
	})
}
