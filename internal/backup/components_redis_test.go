package backup

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/itest"
)

// redisFixture creates one key of every type under the export patterns, plus
// keys outside them, and returns the names of those inside by class.
func redisFixture(t *testing.T, ctx context.Context, rdb *redis.Client, p string) map[string][]string {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("creating fixture: %v", err)
		}
	}
	must(rdb.Set(ctx, p+":config:alerter_queue_warn_threshold", "900", 0).Err())
	must(rdb.Set(ctx, p+":config:odd:name", "multi\nline\x00binary", 0).Err())
	must(rdb.RPush(ctx, p+":dlq:moog", `{"a":1}`, `{"a":2}`, `{"a":2}`).Err())
	must(rdb.XAdd(ctx, &redis.XAddArgs{Stream: p + ":dlq:stream", Values: []string{"f", "v1"}}).Err())
	must(rdb.XAdd(ctx, &redis.XAddArgs{Stream: p + ":dlq:stream", Values: []string{"f", "v2"}}).Err())
	must(rdb.XGroupCreate(ctx, p+":dlq:stream", "senders", "0").Err())
	must(rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "senders", Consumer: "pod1", Streams: []string{p + ":dlq:stream", ">"}, Count: 1}).Err())
	must(rdb.Set(ctx, p+":unhandled:router1:0123456789abcdef", "3", time.Hour).Err())
	must(rdb.Set(ctx, p+":unhandled:router1:0123456789abcdef:triggered", "1", 2*time.Hour).Err())
	must(rdb.Set(ctx, p+":unhandled:\xff\xfe-bad-utf8:0123", "1", time.Hour).Err())
	must(rdb.RPush(ctx, p+":ingest_queue", "e1", "e2").Err())
	must(rdb.RPush(ctx, p+":alert_queue", "a1").Err())
	must(rdb.SAdd(ctx, p+":retry:moog", "x", "y", "z").Err())
	must(rdb.HSet(ctx, p+":circuit_breaker:moogsoft", "state", "OPEN", "failures", "5").Err())
	must(rdb.ZAdd(ctx, p+":rate_limit:ingestor", redis.Z{Score: 1, Member: "r1"}, redis.Z{Score: 2, Member: "r2"}).Err())
	must(rdb.PExpire(ctx, p+":rate_limit:ingestor", 90*time.Second).Err())
	// Outside the patterns.
	must(rdb.Set(ctx, p+":heartbeat:alerter:pod1", "alive", 30*time.Second).Err())
	must(rdb.Set(ctx, p+":ingest_queue_extra", "no", 0).Err())
	return map[string][]string{
		RedisClassConfig:    {p + ":config:alerter_queue_warn_threshold", p + ":config:odd:name"},
		RedisClassDLQ:       {p + ":dlq:moog", p + ":dlq:stream"},
		RedisClassUnhandled: {p + ":unhandled:router1:0123456789abcdef", p + ":unhandled:router1:0123456789abcdef:triggered", p + ":unhandled:\xff\xfe-bad-utf8:0123"},
		RedisClassQueues:    {p + ":ingest_queue", p + ":alert_queue"},
		RedisClassOther:     {p + ":retry:moog", p + ":circuit_breaker:moogsoft", p + ":rate_limit:ingestor"},
	}
}

// redisState is a key's serialized value and remaining TTL. A hashtable-
// encoded set serializes its members in hash-table order, which a reload may
// change, so sets are also compared by their sorted members.
type redisState struct {
	dump    string
	ttl     time.Duration
	members []string
}

func redisSnapshot(t *testing.T, ctx context.Context, rdb *redis.Client, keys []string) map[string]redisState {
	t.Helper()
	out := map[string]redisState{}
	for _, k := range keys {
		d, err := rdb.Dump(ctx, k).Result()
		if err == redis.Nil {
			continue
		}
		if err != nil {
			t.Fatalf("DUMP %s: %v", k, err)
		}
		st := redisState{dump: d, ttl: rdb.PTTL(ctx, k).Val()}
		if rdb.Type(ctx, k).Val() == "set" {
			st.members = rdb.SMembers(ctx, k).Val()
			slices.Sort(st.members)
		}
		out[k] = st
	}
	return out
}

func TestExportRedis(t *testing.T) {
	ctx := t.Context()
	rdb, p := itest.Redis(t)
	byClass := redisFixture(t, ctx, rdb, p)
	var buf bytes.Buffer
	res, err := ExportRedis(ctx, rdb, DefaultRedisPatterns(p), &buf)
	if err != nil {
		t.Fatalf("ExportRedis: %v", err)
	}
	wantCounts := map[string]int64{}
	var wantKeys []string
	for class, keys := range byClass {
		wantCounts[class] = int64(len(keys))
		wantKeys = append(wantKeys, keys...)
	}
	if !maps.Equal(res.Counts, wantCounts) || res.Keys != int64(len(wantKeys)) {
		t.Errorf("counts %v keys %d, want %v %d", res.Counts, res.Keys, wantCounts, len(wantKeys))
	}
	if res.Version == "" {
		t.Error("no server version")
	}
	var gotKeys []string
	types := map[string]string{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var rec redisRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		k, err := rec.name()
		if err != nil {
			t.Fatal(err)
		}
		if RedisClass(p, k) != rec.Class {
			t.Errorf("%q exported as %s, RedisClass says %s", k, rec.Class, RedisClass(p, k))
		}
		gotKeys = append(gotKeys, k)
		types[k] = rec.Type
	}
	slices.Sort(gotKeys)
	slices.Sort(wantKeys)
	if !slices.Equal(gotKeys, wantKeys) {
		t.Errorf("exported keys\n%q\nwant\n%q", gotKeys, wantKeys)
	}
	wantTypes := map[string]string{
		p + ":config:odd:name": "string", p + ":dlq:moog": "list", p + ":dlq:stream": "stream",
		p + ":retry:moog": "set", p + ":circuit_breaker:moogsoft": "hash", p + ":rate_limit:ingestor": "zset",
	}
	for k, typ := range wantTypes {
		if types[k] != typ {
			t.Errorf("type of %s = %q, want %q", k, types[k], typ)
		}
	}
}

func TestRestoreRedis(t *testing.T) {
	allClasses := []string{RedisClassConfig, RedisClassDLQ, RedisClassUnhandled, RedisClassQueues, RedisClassOther}
	tests := []struct {
		name    string
		classes []string
		replace bool
		// prepare changes the live keys between export and restore.
		prepare func(ctx context.Context, rdb *redis.Client, p string) error
		want    RedisRestoreResult
		// restoredClasses must come back exactly as exported; the keys of
		// the other classes must be absent unless keptLive.
		restoredClasses []string
		keptLive        map[string]string // key suffix -> value that must survive
		wiped           bool              // prepare deleted every key
	}{
		{
			name: "replace everything after loss", classes: allClasses, replace: true,
			prepare: func(ctx context.Context, rdb *redis.Client, p string) error {
				return itest.DeleteKeys(ctx, rdb, p+":*")
			},
			want:            RedisRestoreResult{Restored: 12},
			wiped:           true,
			restoredClasses: allClasses,
		},
		{
			name: "replace overwrites live values", classes: []string{RedisClassConfig}, replace: true,
			prepare: func(ctx context.Context, rdb *redis.Client, p string) error {
				return rdb.Set(ctx, p+":config:alerter_queue_warn_threshold", "live", 0).Err()
			},
			want:            RedisRestoreResult{Restored: 2, Filtered: 10},
			restoredClasses: []string{RedisClassConfig},
		},
		{
			name: "merge keeps existing keys", classes: []string{RedisClassConfig},
			prepare: func(ctx context.Context, rdb *redis.Client, p string) error {
				if err := rdb.Set(ctx, p+":config:alerter_queue_warn_threshold", "live", 0).Err(); err != nil {
					return err
				}
				return rdb.Del(ctx, p+":config:odd:name").Err()
			},
			want:     RedisRestoreResult{Restored: 1, Existing: 1, Filtered: 10},
			keptLive: map[string]string{":config:alerter_queue_warn_threshold": "live"},
		},
		{
			name: "classes filter restores only the chosen class", classes: []string{RedisClassDLQ}, replace: true,
			prepare: func(ctx context.Context, rdb *redis.Client, p string) error {
				return itest.DeleteKeys(ctx, rdb, p+":*")
			},
			want:            RedisRestoreResult{Restored: 2, Filtered: 10},
			restoredClasses: []string{RedisClassDLQ},
			wiped:           true,
		},
		{
			name: "default classes leave queues and volatile state out", replace: true,
			prepare: func(ctx context.Context, rdb *redis.Client, p string) error {
				return itest.DeleteKeys(ctx, rdb, p+":*")
			},
			want:            RedisRestoreResult{Restored: 7, Filtered: 5},
			restoredClasses: DefaultRedisRestoreClasses(),
			wiped:           true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			rdb, p := itest.Redis(t)
			byClass := redisFixture(t, ctx, rdb, p)
			var all []string
			for _, keys := range byClass {
				all = append(all, keys...)
			}
			before := redisSnapshot(t, ctx, rdb, all)
			var buf bytes.Buffer
			if _, err := ExportRedis(ctx, rdb, DefaultRedisPatterns(p), &buf); err != nil {
				t.Fatalf("ExportRedis: %v", err)
			}
			exported := time.Now()
			if err := tt.prepare(ctx, rdb, p); err != nil {
				t.Fatalf("prepare: %v", err)
			}
			sub := rdb.Subscribe(ctx, p+":config:updates")
			defer sub.Close()
			if _, err := sub.Receive(ctx); err != nil {
				t.Fatalf("subscribing: %v", err)
			}

			got, err := RestoreRedis(ctx, rdb, &buf, tt.classes, tt.replace)
			if err != nil {
				t.Fatalf("RestoreRedis: %v", err)
			}
			if got != tt.want {
				t.Errorf("result %+v, want %+v", got, tt.want)
			}

			after := redisSnapshot(t, ctx, rdb, all)
			elapsed := time.Since(exported)
			for _, class := range tt.restoredClasses {
				for _, k := range byClass[class] {
					b, a := before[k], after[k]
					if a.dump != b.dump && (b.members == nil || !slices.Equal(a.members, b.members)) {
						t.Errorf("%q: DUMP differs after restore", k)
					}
					if b.ttl < 0 {
						if a.ttl != b.ttl {
							t.Errorf("%q: TTL %v, want none", k, a.ttl)
						}
					} else if a.ttl > b.ttl || a.ttl < b.ttl-elapsed-2*time.Second {
						t.Errorf("%q: TTL %v after restore, %v before (%v elapsed)", k, a.ttl, b.ttl, elapsed)
					}
				}
			}
			for suffix, v := range tt.keptLive {
				if live := rdb.Get(ctx, p+suffix).Val(); live != v {
					t.Errorf("%s = %q, want the live value %q kept", suffix, live, v)
				}
			}
			if tt.wiped {
				for _, k := range []string{p + ":heartbeat:alerter:pod1", p + ":ingest_queue_extra"} {
					if rdb.Exists(ctx, k).Val() != 0 {
						t.Errorf("%q outside the patterns came back", k)
					}
				}
				for class, keys := range byClass {
					if slices.Contains(tt.restoredClasses, class) {
						continue
					}
					for _, k := range keys {
						if rdb.Exists(ctx, k).Val() != 0 {
							t.Errorf("%q of unselected class %s was restored", k, class)
						}
					}
				}
			}

			// Every restored config key is announced by name.
			var wantNames []string
			if slices.Contains(tt.restoredClasses, RedisClassConfig) || len(tt.keptLive) > 0 {
				for _, k := range byClass[RedisClassConfig] {
					if _, kept := tt.keptLive[strings.TrimPrefix(k, p)]; !kept {
						wantNames = append(wantNames, strings.TrimPrefix(k, p+":config:"))
					}
				}
			}
			var names []string
			for len(names) < len(wantNames) {
				rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				msg, err := sub.ReceiveMessage(rctx)
				cancel()
				if err != nil {
					t.Fatalf("waiting for config announcements (got %q): %v", names, err)
				}
				names = append(names, msg.Payload)
			}
			slices.Sort(names)
			slices.Sort(wantNames)
			if !slices.Equal(names, wantNames) {
				t.Errorf("announced %q, want %q", names, wantNames)
			}
		})
	}
}

func TestRestoreRedisSkipsExpired(t *testing.T) {
	ctx := t.Context()
	rdb, p := itest.Redis(t)
	if err := rdb.Set(ctx, p+":unhandled:h:1", "5", 0).Err(); err != nil {
		t.Fatal(err)
	}
	dump := rdb.Dump(ctx, p+":unhandled:h:1").Val()
	if err := rdb.Del(ctx, p+":unhandled:h:1").Err(); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	tests := []struct {
		name     string
		pttl     int64
		captured int64
		want     RedisRestoreResult
	}{
		{name: "expired since export", pttl: 1000, captured: now - 10_000, want: RedisRestoreResult{Skipped: 1}},
		{name: "time left", pttl: 60_000, captured: now - 10_000, want: RedisRestoreResult{Restored: 1}},
		{name: "no ttl", pttl: -1, captured: now - 86_400_000, want: RedisRestoreResult{Restored: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := p + ":unhandled:h:1"
			rec := redisRecord{Key: key, Type: "string", Class: RedisClassUnhandled, PTTLms: tt.pttl, CapturedMs: tt.captured,
				Dump: base64.StdEncoding.EncodeToString([]byte(dump))}
			line, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			got, err := RestoreRedis(ctx, rdb, bytes.NewReader(line), nil, true)
			if err != nil {
				t.Fatalf("RestoreRedis: %v", err)
			}
			if got != tt.want {
				t.Errorf("result %+v, want %+v", got, tt.want)
			}
			ttl := rdb.PTTL(ctx, key).Val()
			switch {
			case tt.want.Skipped == 1 && ttl != -2:
				t.Errorf("expired key restored (PTTL %v)", ttl)
			case tt.pttl > 0 && tt.want.Restored == 1 && (ttl > 50*time.Second || ttl < 40*time.Second):
				t.Errorf("PTTL %v, want about 50s", ttl)
			case tt.pttl < 0 && ttl != -1:
				t.Errorf("PTTL %v, want none", ttl)
			}
			rdb.Del(ctx, key)
		})
	}
}

func TestRestoreRedisBadInput(t *testing.T) {
	ctx := t.Context()
	rdb, p := itest.Redis(t)
	tests := []struct {
		name    string
		input   string
		classes []string
		want    string
	}{
		{name: "unknown class", input: "", classes: []string{"metrics"}, want: "unknown key class"},
		{name: "not json", input: "{\"key\":\"a\"}\nnot json\n", classes: []string{"other"}, want: "line 2"},
		{name: "bad base64", input: `{"key":"` + p + `:x","class":"other","pttl_ms":-1,"dump":"!!"}`, classes: []string{"other"}, want: "decoding dump"},
		{name: "bad payload", input: `{"key":"` + p + `:x","class":"other","pttl_ms":-1,"dump":"AAAA"}`, classes: []string{"other"}, want: "restoring key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RestoreRedis(ctx, rdb, strings.NewReader(tt.input), tt.classes, true)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestRedisClass(t *testing.T) {
	tests := []struct{ key, want string }{
		{"mutt:config:x", RedisClassConfig},
		{"mutt:dlq:moog", RedisClassDLQ},
		{"mutt:unhandled:h:abc:triggered", RedisClassUnhandled},
		{"mutt:ingest_queue", RedisClassQueues},
		{"mutt:alert_queue", RedisClassQueues},
		{"mutt:ingest_queue_x", RedisClassOther},
		{"mutt:retry:moog", RedisClassOther},
		{"other:config:x", RedisClassOther},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := RedisClass("mutt", tt.key); got != tt.want {
				t.Errorf("RedisClass(mutt, %q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
	for _, pattern := range DefaultRedisPatterns("mutt") {
		key := strings.ReplaceAll(pattern, "*", "k")
		if got, want := redisPatternClass(pattern), RedisClass("mutt", key); got != want {
			t.Errorf("pattern %s has class %s, its keys %s", pattern, got, want)
		}
	}
}

// redisBenchKeys creates n unhandled counters with a TTL and one 10,000-item
// DLQ list under p.
func redisBenchKeys(b *testing.B, ctx context.Context, rdb *redis.Client, p string, n int) {
	b.Helper()
	pipe := rdb.Pipeline()
	for i := range n {
		pipe.Set(ctx, p+":unhandled:host"+strconv.Itoa(i%100)+":"+strconv.Itoa(i), i, time.Hour)
	}
	items := make([]any, 10_000)
	for i := range items {
		items[i] = `{"event":"` + strconv.Itoa(i) + `","message":"link down on ge-0/0/1"}`
	}
	pipe.RPush(ctx, p+":dlq:moog", items...)
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkExportRedis(b *testing.B) {
	ctx := b.Context()
	rdb, p := itest.Redis(b)
	const n = 10_000
	redisBenchKeys(b, ctx, rdb, p, n)
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		res, err := ExportRedis(ctx, rdb, DefaultRedisPatterns(p), &buf)
		if err != nil || res.Keys != n+1 {
			b.Fatalf("ExportRedis: %+v %v", res, err)
		}
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportMetric(float64(n+1)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}

func BenchmarkRestoreRedis(b *testing.B) {
	ctx := b.Context()
	rdb, p := itest.Redis(b)
	const n = 10_000
	redisBenchKeys(b, ctx, rdb, p, n)
	var buf bytes.Buffer
	if _, err := ExportRedis(ctx, rdb, DefaultRedisPatterns(p), &buf); err != nil {
		b.Fatal(err)
	}
	export := buf.Bytes()
	b.SetBytes(int64(len(export)))
	for b.Loop() {
		res, err := RestoreRedis(ctx, rdb, bytes.NewReader(export), nil, true)
		if err != nil || res.Restored != n+1 {
			b.Fatalf("RestoreRedis: %+v %v", res, err)
		}
	}
	b.ReportMetric(float64(n+1)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}
