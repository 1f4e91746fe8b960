package backup

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

// Redis key classes, the unit of selective restore.
const (
	RedisClassConfig    = "config"
	RedisClassDLQ       = "dlq"
	RedisClassUnhandled = "unhandled"
	RedisClassQueues    = "queues"
	RedisClassOther     = "other"
)

// redisBatch is how many keys share one pipeline round trip.
const redisBatch = 256

// DefaultRedisPatterns returns the key patterns of MUTT's logical Redis
// export for the key prefix (e.g. "mutt").
func DefaultRedisPatterns(prefix string) []string {
	return []string{
		prefix + ":config:*",
		prefix + ":dlq:*",
		prefix + ":unhandled:*",
		prefix + ":ingest_queue",
		prefix + ":alert_queue",
		prefix + ":retry:*",
		prefix + ":circuit_breaker:*",
		prefix + ":rate_limit:*",
	}
}

// DefaultRedisRestoreClasses returns the classes restored when none are
// named: replaying queues would re-alert Moogsoft, and the other keys are
// volatile state that is better rebuilt.
func DefaultRedisRestoreClasses() []string {
	return []string{RedisClassConfig, RedisClassDLQ, RedisClassUnhandled}
}

// RedisClass returns the class of key under prefix: config, dlq, unhandled,
// queues (the ingest and alert queues) or other.
func RedisClass(prefix, key string) string {
	rest, ok := strings.CutPrefix(key, prefix+":")
	if !ok {
		return RedisClassOther
	}
	switch {
	case strings.HasPrefix(rest, "config:"):
		return RedisClassConfig
	case strings.HasPrefix(rest, "dlq:"):
		return RedisClassDLQ
	case strings.HasPrefix(rest, "unhandled:"):
		return RedisClassUnhandled
	case rest == "ingest_queue" || rest == "alert_queue":
		return RedisClassQueues
	}
	return RedisClassOther
}

// redisPatternClass returns the class of the keys a pattern of the
// DefaultRedisPatterns form selects, so the export needs no separate prefix.
func redisPatternClass(pattern string) string {
	switch {
	case strings.HasSuffix(pattern, ":config:*"):
		return RedisClassConfig
	case strings.HasSuffix(pattern, ":dlq:*"):
		return RedisClassDLQ
	case strings.HasSuffix(pattern, ":unhandled:*"):
		return RedisClassUnhandled
	case strings.HasSuffix(pattern, ":ingest_queue") || strings.HasSuffix(pattern, ":alert_queue"):
		return RedisClassQueues
	}
	return RedisClassOther
}

// redisRecord is one line of the logical export.
type redisRecord struct {
	// Key is the key name; KeyB64 replaces it when the name is not UTF-8,
	// which a JSON string cannot carry unchanged.
	Key    string `json:"key,omitempty"`
	KeyB64 string `json:"key_b64,omitempty"`
	Type   string `json:"type"`
	Class  string `json:"class"`
	// PTTLms is the remaining time to live when read, -1 for none.
	PTTLms int64 `json:"pttl_ms"`
	// CapturedMs is when the key was read (Unix ms), so a restore can
	// subtract the time elapsed since.
	CapturedMs int64 `json:"captured_ms"`
	// Dump is the DUMP serialization, base64.
	Dump string `json:"dump"`
}

func (r *redisRecord) name() (string, error) {
	if r.KeyB64 == "" {
		if r.Key == "" {
			return "", errors.New("record has no key")
		}
		return r.Key, nil
	}
	b, err := base64.StdEncoding.DecodeString(r.KeyB64)
	if err != nil {
		return "", fmt.Errorf("decoding key_b64: %w", err)
	}
	return string(b), nil
}

// RedisExportResult describes a finished logical export.
type RedisExportResult struct {
	// Version is the server's redis_version; DUMP payloads restore only on
	// the same or a newer version.
	Version string
	// Counts are the exported keys per class.
	Counts map[string]int64
	// Keys is the number of keys exported.
	Keys int64
}

// ExportRedis writes every key matching the patterns to w as JSON lines
// (key, type, class, remaining TTL, capture time and the base64 DUMP value).
// Keys are listed with SCAN per pattern, never KEYS; a pattern without glob
// characters is read directly. Types, TTLs and values are read in pipelined
// batches. Each key is consistent by itself, not with the others; a key
// removed between listing and reading is left out. A key matching several
// patterns is written once, with the class of the first.
func ExportRedis(ctx context.Context, rdb redis.UniversalClient, patterns []string, w io.Writer) (RedisExportResult, error) {
	res := RedisExportResult{Counts: map[string]int64{}}
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return res, fmt.Errorf("exporting redis: reading server info: %w", err)
	}
	res.Version = redisInfoField(info, "redis_version")

	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	seen := map[string]bool{}
	var pending []string
	var pendingClass []string
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		recs, err := redisReadBatch(ctx, rdb, pending, pendingClass)
		if err != nil {
			return err
		}
		for i := range recs {
			if err := enc.Encode(&recs[i]); err != nil {
				return fmt.Errorf("writing export: %w", err)
			}
			res.Counts[recs[i].Class]++
			res.Keys++
		}
		pending, pendingClass = pending[:0], pendingClass[:0]
		return nil
	}
	for _, pattern := range patterns {
		class := redisPatternClass(pattern)
		add := func(keys []string) error {
			for _, k := range keys {
				if seen[k] {
					continue
				}
				seen[k] = true
				pending = append(pending, k)
				pendingClass = append(pendingClass, class)
				if len(pending) >= redisBatch {
					if err := flush(); err != nil {
						return err
					}
				}
			}
			return nil
		}
		if err := redisScan(ctx, rdb, pattern, add); err != nil {
			return res, fmt.Errorf("exporting redis pattern %s: %w", pattern, err)
		}
	}
	if err := flush(); err != nil {
		return res, fmt.Errorf("exporting redis: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return res, fmt.Errorf("exporting redis: writing export: %w", err)
	}
	return res, nil
}

// redisScan calls fn with the keys matching pattern, page by page. On a
// cluster every master is scanned, one page handled at a time.
func redisScan(ctx context.Context, rdb redis.UniversalClient, pattern string, fn func([]string) error) error {
	if !strings.ContainsAny(pattern, `*?[\`) {
		return fn([]string{pattern})
	}
	scanOne := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
			if err != nil {
				return fmt.Errorf("scanning: %w", err)
			}
			if err := fn(keys); err != nil {
				return err
			}
			if next == 0 {
				return nil
			}
			cursor = next
		}
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			return scanOne(ctx, c)
		})
	}
	return scanOne(ctx, rdb)
}

// redisReadBatch reads type, TTL and DUMP of keys in one pipeline and
// returns the records of the keys that still exist.
func redisReadBatch(ctx context.Context, rdb redis.UniversalClient, keys, classes []string) ([]redisRecord, error) {
	types := make([]*redis.StatusCmd, len(keys))
	ttls := make([]*redis.DurationCmd, len(keys))
	dumps := make([]*redis.StringCmd, len(keys))
	now := time.Now()
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			types[i] = p.Type(ctx, k)
			ttls[i] = p.PTTL(ctx, k)
			dumps[i] = p.Dump(ctx, k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("reading keys: %w", err)
	}
	recs := make([]redisRecord, 0, len(keys))
	for i, k := range keys {
		dump, err := dumps[i].Result()
		if errors.Is(err, redis.Nil) {
			continue // gone since it was listed
		}
		if err != nil {
			return nil, fmt.Errorf("dumping %s: %w", k, err)
		}
		typ := types[i].Val()
		ttl := ttls[i].Val()
		pttl := int64(-1)
		switch {
		case ttl == -2:
			continue // expired between the DUMP and the PTTL
		case ttl >= 0:
			pttl = ttl.Milliseconds()
			if pttl == 0 {
				// Expiring this very millisecond; a zero TTL would restore
				// it as persistent.
				continue
			}
		}
		rec := redisRecord{Type: typ, Class: classes[i], PTTLms: pttl, CapturedMs: now.UnixMilli(), Dump: base64.StdEncoding.EncodeToString([]byte(dump))}
		if utf8.ValidString(k) {
			rec.Key = k
		} else {
			rec.KeyB64 = base64.StdEncoding.EncodeToString([]byte(k))
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// redisInfoField returns the value of field in an INFO reply.
func redisInfoField(info, field string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// RedisRestoreResult counts what RestoreRedis did.
type RedisRestoreResult struct {
	// Restored keys were written.
	Restored int64
	// Skipped keys had expired since the export.
	Skipped int64
	// Existing keys were already present in merge mode and were kept.
	Existing int64
	// Filtered keys belong to a class that was not selected.
	Filtered int64
}

// RestoreRedis writes the keys of a logical export read from r back with
// RESTORE, in pipelined batches. Only keys of the given classes are written
// (none named means DefaultRedisRestoreClasses). With replace an existing key
// is overwritten (RESTORE … REPLACE), otherwise it is kept and counted as
// Existing. A key keeps the TTL it had left at export time minus the time
// elapsed since; one whose TTL ran out in between is skipped. The name of
// every restored config key is published on its updates channel
// ("<prefix>:config:updates") so running services reload it.
func RestoreRedis(ctx context.Context, rdb redis.UniversalClient, r io.Reader, classes []string, replace bool) (RedisRestoreResult, error) {
	var res RedisRestoreResult
	if len(classes) == 0 {
		classes = DefaultRedisRestoreClasses()
	}
	want := map[string]bool{}
	for _, c := range classes {
		switch c {
		case RedisClassConfig, RedisClassDLQ, RedisClassUnhandled, RedisClassQueues, RedisClassOther:
			want[c] = true
		default:
			return res, fmt.Errorf("restoring redis: unknown key class %q (known: config, dlq, unhandled, queues, other)", c)
		}
	}

	type item struct {
		key, class string
		ttl        time.Duration
		dump       string
	}
	var batch []item
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		cmds := make([]*redis.StatusCmd, len(batch))
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, it := range batch {
				if replace {
					cmds[i] = p.RestoreReplace(ctx, it.key, it.ttl, it.dump)
				} else {
					cmds[i] = p.Restore(ctx, it.key, it.ttl, it.dump)
				}
			}
			return nil
		})
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		var publish []item
		for i, it := range batch {
			err := cmds[i].Err()
			switch {
			case err == nil:
				res.Restored++
				if it.class == RedisClassConfig {
					publish = append(publish, it)
				}
			case !replace && strings.HasPrefix(err.Error(), "BUSYKEY"):
				res.Existing++
			default:
				return fmt.Errorf("restoring key %s: %w", it.key, err)
			}
		}
		if len(publish) > 0 {
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, it := range publish {
					channel, name := redisConfigChannel(it.key)
					p.Publish(ctx, channel, name)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("announcing restored config keys: %w", err)
			}
		}
		batch = batch[:0]
		return nil
	}

	add := func(raw []byte, line int) error {
		var rec redisRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		key, err := rec.name()
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		dump, err := base64.StdEncoding.DecodeString(rec.Dump)
		if err != nil {
			return fmt.Errorf("line %d (%s): decoding dump: %w", line, key, err)
		}
		if !want[rec.Class] {
			res.Filtered++
			return nil
		}
		var ttl time.Duration
		if rec.PTTLms >= 0 {
			left := rec.PTTLms - (time.Now().UnixMilli() - rec.CapturedMs)
			if left <= 0 {
				res.Skipped++
				return nil
			}
			ttl = time.Duration(left) * time.Millisecond
		}
		batch = append(batch, item{key: key, class: rec.Class, ttl: ttl, dump: string(dump)})
		if len(batch) >= redisBatch {
			return flush()
		}
		return nil
	}

	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		raw, readErr := br.ReadBytes('\n')
		if len(bytes.TrimSpace(raw)) > 0 {
			if err := add(raw, line); err != nil {
				return res, fmt.Errorf("restoring redis: %w", err)
			}
		}
		if errors.Is(readErr, io.EOF) {
			break
		}
		if readErr != nil {
			return res, fmt.Errorf("restoring redis: reading export: %w", readErr)
		}
	}
	if err := flush(); err != nil {
		return res, fmt.Errorf("restoring redis: %w", err)
	}
	return res, nil
}

// redisConfigChannel splits a config key "<prefix>:config:<name>" into the
// channel its changes are announced on and the name announced. The first
// ":config:" is taken as the boundary, so names may contain colons.
func redisConfigChannel(key string) (channel, name string) {
	i := strings.Index(key, ":config:")
	if i < 0 {
		return key + ":updates", key
	}
	base := key[:i+len(":config")]
	return base + ":updates", key[i+len(":config:"):]
}

// redisComponent implements ComponentSpec for ComponentRedis.
type redisComponent struct{ checksummed }

var _ ComponentSpec = redisComponent{}

// Name implements ComponentSpec.
func (redisComponent) Name() string { return ComponentRedis }

// Profiles implements ComponentSpec.
func (redisComponent) Profiles() []string { return []string{"redis", "daily", "pre-upgrade"} }

// Storage implements ComponentSpec.
func (redisComponent) Storage() string { return StorageRedis }

// Retention implements ComponentSpec.
func (redisComponent) Retention() time.Duration { return 7 * day }

// Objectives implements ComponentSpec.
func (redisComponent) Objectives() Objectives { return Objectives{RTO: RTORedis, RPO: 6 * time.Hour} }

// Backup implements ComponentSpec: the logical export of MUTT's keys and,
// when the server's data directory is readable here, its dump.rdb.
func (redisComponent) Backup(ctx context.Context, o *RunOptions, c *Component, sink ArtifactSink) error {
	if o.Redis == nil {
		return errNotConfigured
	}
	err := sink.Artifact("redis_keys_"+sink.Stamp()+".jsonl.zst.age", true, "jsonl", func(w io.Writer) error {
		res, err := ExportRedis(ctx, o.Redis, o.RedisPatterns, w)
		if err != nil {
			return err
		}
		c.Counts = map[string]int64{"keys": res.Keys}
		for class, n := range res.Counts {
			c.Counts[class] = n
		}
		c.Source = map[string]any{"redis_version": res.Version}
		return nil
	})
	if err != nil {
		return err
	}
	// The logical export stays first: selective restore reads it.
	return o.backupRedisRDB(ctx, c, path.Dir(c.Artifacts[0].Path), sink.Stamp())
}

// DeepVerify implements ComponentSpec: every key is restored into a
// scratch Redis (one per DeepVerify call) and compared with the export.
func (redisComponent) DeepVerify(ctx context.Context, o DeepVerifyOptions, c *Component) (string, error) {
	s, err := o.scratch.open(ctx, o)
	if err != nil {
		return "", err
	}
	return deepRedis(ctx, o, c, s)
}

// Restore implements ComponentSpec: the default classes are replaced in
// the live Redis (RestoreRedisSet).
func (redisComponent) Restore(ctx context.Context, o RestoreOptions) (string, error) {
	res, err := RestoreRedisSet(ctx, o.Root, o.Manifest, o.Keys, o.Redis, DefaultRedisRestoreClasses(), true)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d keys replaced, %d expired since the backup", res.Restored, res.Skipped), nil
}
