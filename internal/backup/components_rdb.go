package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisSaveTimeout bounds the wait for a BGSAVE to finish.
const DefaultRedisSaveTimeout = 10 * time.Minute

// FormatRDB is the manifest format of the dump.rdb artifact.
const FormatRDB = "rdb"

// rdbAttempts is how often the snapshot is read again when a newer save
// (another client's BGSAVE on a busy server)
// replaced dump.rdb while it was being read.
const rdbAttempts = 8

// errRDBReplaced means LASTSAVE moved while dump.rdb was read, so the file
// read may not be the snapshot that was waited for.
var errRDBReplaced = errors.New("a newer save replaced dump.rdb while it was read")

// RedisDataDir says where a Redis server keeps its snapshot, as seen from
// this host.
type RedisDataDir struct {
	// Dir and DBFilename locate dump.rdb.
	Dir, DBFilename string
	// Explicit is true when Dir was configured (MUTT_BACKUP_REDIS_DIR)
	// rather than read from the server; a configured directory that does
	// not hold the server's snapshot is an error, a discovered one only
	// means the server is on another host.
	Explicit bool
	// AOF reports whether the server runs with appendonly yes.
	AOF bool
}

// LocateRedisData finds the data directory of the server behind rdb: dir
// when not empty, else CONFIG GET dir; dbfilename and appendonly come from
// the server when it answers CONFIG GET. The returned note is non-empty
// (and the error nil) when the snapshot cannot be read from this host.
func LocateRedisData(ctx context.Context, rdb redis.UniversalClient, dir string) (RedisDataDir, string, error) {
	d := RedisDataDir{Dir: dir, DBFilename: "dump.rdb", Explicit: dir != ""}
	cfg, err := rdb.ConfigGet(ctx, "*").Result()
	switch {
	case err != nil && dir == "":
		return d, fmt.Sprintf("CONFIG GET is not allowed (%v) and MUTT_BACKUP_REDIS_DIR is not set", err), nil
	case err == nil:
		if d.Dir == "" {
			d.Dir = cfg["dir"]
		}
		if v := cfg["dbfilename"]; v != "" {
			d.DBFilename = v
		}
		d.AOF = cfg["appendonly"] == "yes"
	}
	if filepath.Base(d.DBFilename) != d.DBFilename {
		return d, "", fmt.Errorf("locating dump.rdb: dbfilename %q is not a plain file name", d.DBFilename)
	}
	fi, err := os.Stat(d.Dir)
	if err != nil || !fi.IsDir() {
		if d.Explicit {
			return d, "", fmt.Errorf("locating dump.rdb: MUTT_BACKUP_REDIS_DIR %s is not a directory on this host", d.Dir)
		}
		return d, fmt.Sprintf("data directory %s is not on this host (remote Redis?)", d.Dir), nil
	}
	f, err := os.Open(d.Dir)
	if err != nil {
		if d.Explicit {
			return d, "", fmt.Errorf("locating dump.rdb: %w", err)
		}
		return d, fmt.Sprintf("data directory %s is not readable here: %v", d.Dir, err), nil
	}
	f.Close()
	return d, "", nil
}

// persistence is the part of INFO persistence a snapshot waits on.
type persistence struct {
	saving, loading    bool
	lastStatus         string
	aofEnabled         bool
	aofRewriting       bool
	aofLastStatus      string
	loadedKeys         int64
	loadedKeysExpired  int64
	haveLoadedCounters bool
}

func readPersistence(ctx context.Context, rdb redis.UniversalClient) (persistence, error) {
	info, err := rdb.Info(ctx, "persistence").Result()
	if err != nil {
		return persistence{}, fmt.Errorf("reading INFO persistence: %w", err)
	}
	p := persistence{
		saving:        redisInfoField(info, "rdb_bgsave_in_progress") == "1",
		loading:       redisInfoField(info, "loading") == "1",
		lastStatus:    redisInfoField(info, "rdb_last_bgsave_status"),
		aofEnabled:    redisInfoField(info, "aof_enabled") == "1",
		aofRewriting:  redisInfoField(info, "aof_rewrite_in_progress") == "1" || redisInfoField(info, "aof_rewrite_scheduled") == "1",
		aofLastStatus: redisInfoField(info, "aof_last_bgrewrite_status"),
	}
	if v := redisInfoField(info, "rdb_last_load_keys_loaded"); v != "" {
		p.loadedKeys, _ = strconv.ParseInt(v, 10, 64)
		p.loadedKeysExpired, _ = strconv.ParseInt(redisInfoField(info, "rdb_last_load_keys_expired"), 10, 64)
		p.haveLoadedCounters = true
	}
	return p, nil
}

// pollUntil calls cond every so often until it reports done, fails, ctx ends
// or timeout passes; then the error names what was waited for.
func pollUntil(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	wait := 50 * time.Millisecond
	for {
		done, err := cond()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Second)
	}
}

// BGSave makes the server write a fresh snapshot and returns its LASTSAVE.
// A save already running is waited for and another one issued, so the
// snapshot is never older than the call. Completion is LASTSAVE advancing
// past the value read before with rdb_bgsave_in_progress:0, and it counts
// only with rdb_last_bgsave_status:ok.
func BGSave(ctx context.Context, rdb redis.UniversalClient, timeout time.Duration) (int64, error) {
	if timeout <= 0 {
		timeout = DefaultRedisSaveTimeout
	}
	deadline := time.Now().Add(timeout)
	left := func() time.Duration { return max(time.Until(deadline), 0) }
	for {
		if err := pollUntil(ctx, left(), "a running BGSAVE to finish (rdb_bgsave_in_progress:0)", func() (bool, error) {
			p, err := readPersistence(ctx, rdb)
			return !p.saving, err
		}); err != nil {
			return 0, fmt.Errorf("taking the redis snapshot: %w", err)
		}
		before, err := rdb.LastSave(ctx).Result()
		if err != nil {
			return 0, fmt.Errorf("taking the redis snapshot: reading LASTSAVE: %w", err)
		}
		// LASTSAVE has second resolution: a save finishing within the second
		// of the previous one would not be seen to advance it.
		if err := pollUntil(ctx, left(), fmt.Sprintf("the server clock to pass LASTSAVE %d", before), func() (bool, error) {
			now, err := rdb.Time(ctx).Result()
			return now.Unix() > before, err
		}); err != nil {
			return 0, fmt.Errorf("taking the redis snapshot: %w", err)
		}
		err = rdb.Do(ctx, "BGSAVE", "SCHEDULE").Err()
		if err != nil && isSaveInProgress(err) {
			continue // another client's save started in between
		}
		if err != nil {
			return 0, fmt.Errorf("taking the redis snapshot: BGSAVE: %w", err)
		}
		var last int64
		werr := pollUntil(ctx, left(), fmt.Sprintf("BGSAVE to finish (LASTSAVE past %d, rdb_bgsave_in_progress:0)", before), func() (bool, error) {
			p, err := readPersistence(ctx, rdb)
			if err != nil || p.saving {
				return false, err
			}
			if last, err = rdb.LastSave(ctx).Result(); err != nil {
				return false, fmt.Errorf("reading LASTSAVE: %w", err)
			}
			if last > before {
				if p.lastStatus != "ok" {
					return false, fmt.Errorf("BGSAVE finished with rdb_last_bgsave_status:%s; see the Redis log", p.lastStatus)
				}
				return true, nil
			}
			if p.lastStatus == "err" {
				return false, errors.New("BGSAVE failed (rdb_last_bgsave_status:err); see the Redis log (disk space, permissions, fork)")
			}
			return false, nil
		})
		if werr != nil {
			return 0, fmt.Errorf("taking the redis snapshot: %w", werr)
		}
		return last, nil
	}
}

func isSaveInProgress(err error) bool {
	return strings.Contains(err.Error(), "already in progress")
}

// copyRDB opens dump.rdb once LASTSAVE equals lastSave, streams it to w
// through an RDBChecker and checks LASTSAVE again afterwards, so the bytes
// are those of the awaited snapshot (Redis replaces the file by rename, so
// an open file never changes under the reader).
func copyRDB(ctx context.Context, rdb redis.UniversalClient, d RedisDataDir, lastSave int64, w io.Writer) (RDBInfo, error) {
	p := filepath.Join(d.Dir, d.DBFilename)
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !d.Explicit {
			return RDBInfo{}, fmt.Errorf("%s does not exist after BGSAVE; is the Redis server on another host? Set MUTT_BACKUP_REDIS_DIR or back up on the Redis host: %w", p, err)
		}
		return RDBInfo{}, fmt.Errorf("opening %s: %w", p, err)
	}
	defer f.Close()
	if now, err := rdb.LastSave(ctx).Result(); err != nil {
		return RDBInfo{}, fmt.Errorf("reading LASTSAVE: %w", err)
	} else if now != lastSave {
		return RDBInfo{}, errRDBReplaced
	}
	fi, err := f.Stat()
	if err != nil {
		return RDBInfo{}, fmt.Errorf("reading %s: %w", p, err)
	}
	// The file of the save just made is at least as new as LASTSAVE; an
	// older one belongs to another server (same path on another host).
	if fi.ModTime().Unix() < lastSave-2 {
		return RDBInfo{}, fmt.Errorf("%s was modified at %s, before the snapshot at %s: it is not this server's dump (set MUTT_BACKUP_REDIS_DIR to the server's data directory)",
			p, fi.ModTime().UTC().Format(time.RFC3339), time.Unix(lastSave, 0).UTC().Format(time.RFC3339))
	}
	chk := NewRDBChecker()
	if _, err := io.Copy(io.MultiWriter(w, chk), f); err != nil {
		return RDBInfo{}, fmt.Errorf("copying %s: %w", p, err)
	}
	info, err := chk.Finish()
	if err != nil {
		return info, fmt.Errorf("checking %s: %w", p, err)
	}
	if now, err := rdb.LastSave(ctx).Result(); err != nil {
		return info, fmt.Errorf("reading LASTSAVE: %w", err)
	} else if now != lastSave {
		return info, errRDBReplaced
	}
	return info, nil
}

// backupRedisRDB adds the dump_<stamp>.rdb.zst.age artifact to c: it
// locates the data directory, takes a fresh snapshot with BGSave and copies
// it. A data directory not reachable from this host only leaves a note in
// c.Reason and c.Source["rdb"].
func (o *RunOptions) backupRedisRDB(ctx context.Context, c *Component, dir, stamp string) error {
	d, note, err := LocateRedisData(ctx, o.Redis, o.RedisDir)
	if err != nil {
		return err
	}
	if c.Source == nil {
		c.Source = map[string]any{}
	}
	c.Source["aof_enabled"] = d.AOF
	if note != "" {
		c.Reason = "dump.rdb skipped: " + note
		c.Source["rdb"] = "skipped: " + note
		return nil
	}
	rel := path.Join(dir, "dump_"+stamp+".rdb.zst.age")
	for attempt := 1; ; attempt++ {
		last, err := BGSave(ctx, o.Redis, o.RedisSaveTimeout)
		if err != nil {
			return err
		}
		var info RDBInfo
		err = o.artifact(c, rel, true, FormatRDB, func(w io.Writer) error {
			info, err = copyRDB(ctx, o.Redis, d, last, w)
			return err
		})
		if errors.Is(err, errRDBReplaced) && attempt < rdbAttempts {
			continue
		}
		if err != nil {
			return fmt.Errorf("backing up dump.rdb: %w", err)
		}
		c.Source["rdb"] = filepath.Join(d.Dir, d.DBFilename)
		c.Source["rdb_bytes"] = info.Bytes
		c.Source["rdb_version"] = info.Version
		c.Source["lastsave"] = last
		if info.Keys >= 0 {
			c.Source["rdb_db"] = info.DB
			c.Source["rdb_keys"] = info.Keys
			c.Source["rdb_expires"] = info.Expires
		}
		if info.Checksum == 0 {
			c.Source["rdb_checksum"] = "disabled (rdbchecksum no)"
		}
		return nil
	}
}
