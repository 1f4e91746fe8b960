package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisService is the systemd unit a full Redis restore stops and
// starts when MUTT_BACKUP_REDIS_SERVICE is not set.
const DefaultRedisService = "redis-server"

// DefaultRedisRestoreTimeout bounds each wait of a full Redis restore: the
// server stopping, loading the snapshot, rewriting its AOF.
const DefaultRedisRestoreTimeout = 10 * time.Minute

// RDBRestoreOptions say what RestoreRedisRDB restores and how it drives the
// Redis server.
type RDBRestoreOptions struct {
	// Root, Manifest and Keys locate and decrypt the set's dump.rdb.
	Root     string
	Manifest *Manifest
	Keys     *Keys
	// Redis connects to the server being restored; it may be down (total
	// loss), then Dir must be set.
	Redis *redis.Client
	// Dir is the server's data directory (MUTT_BACKUP_REDIS_DIR); empty
	// asks the server (CONFIG GET dir). DBFilename defaults to the
	// server's dbfilename, else dump.rdb.
	Dir, DBFilename string
	// Stop and Start are the commands (argv) that stop and start the
	// server, e.g. systemctl stop redis-server.
	Stop, Start []string
	// StartNoAOF, when set, is appended to Start for the first boot of a
	// server running appendonly yes without a config file to rewrite
	// (e.g. "--appendonly", "no"); without it such a server is refused.
	StartNoAOF []string
	// Prefix is MUTT's key prefix; the restored snapshot's volatile keys
	// under it (rate limits, circuit breakers, heartbeats, processing
	// lists) are deleted, and the queues too unless IncludeQueues.
	Prefix        string
	IncludeQueues bool
	// Timeout bounds each wait; zero means DefaultRedisRestoreTimeout.
	Timeout time.Duration
	// Now stamps the names the previous files are kept under; nil means
	// time.Now.
	Now func() time.Time
	// Progress, when set, receives one line per step.
	Progress io.Writer
}

// RDBRestoreResult describes a finished full Redis restore.
type RDBRestoreResult struct {
	// File is the restored dump.rdb.
	File string `json:"file"`
	// Kept are the previous RDB and AOF files, renamed to
	// "<name>.pre-restore-<runid>".
	Kept []string `json:"kept,omitempty"`
	// AOF is true when the server ran appendonly yes: it was started with
	// AOF off, then AOF was switched on again and rewritten from memory.
	AOF bool `json:"aof"`
	// DBSize is the restored key count of the snapshot's database, and
	// SnapshotKeys what the snapshot header said (-1 when unknown).
	DB           int   `json:"db"`
	DBSize       int64 `json:"dbsize"`
	SnapshotKeys int64 `json:"snapshot_keys"`
	// Counts are the restored keys per class; CountNotes name the classes
	// whose count differs from the manifest's logical export (taken a
	// moment apart from the snapshot, so a difference is reported, not
	// fatal).
	Counts     map[string]int64 `json:"counts"`
	CountNotes []string         `json:"count_notes,omitempty"`
	// Dropped counts the volatile (and, without IncludeQueues, queue) keys
	// deleted after the load.
	Dropped int64 `json:"dropped"`
}

// redisServerSetup is what a full restore learns about the server before
// it stops it.
type redisServerSetup struct {
	dir, dbfilename string
	aof             bool
	aofDir, aofFile string
	configFile      string
	running         bool
}

// RestoreRedisRDB replaces the whole Redis dataset with the set's dump.rdb
// (scenario 3 or total loss). The artifact is verified and decrypted into a
// temporary file in the data directory, fsynced and its RDB checksum
// checked before the server is touched. Then the server is stopped, the
// current dump.rdb and AOF (appendonly.aof or the AOF directory) are moved
// aside as "<name>.pre-restore-<runid>", the new file takes dump.rdb's
// place (owner of the old file, mode 0640) and the server is started —
// with AOF off for this boot when it was on, since Redis would otherwise
// load the (moved) AOF instead of the snapshot. After PING answers and
// loading is over, the key count is compared with the snapshot and the
// manifest; then AOF is switched back on and rewritten from memory, and
// the volatile keys of the snapshot are deleted. A failure after AOF was
// switched off and before the new file is placed switches it back on (live
// and in the config file); the error says whether that worked.
func RestoreRedisRDB(ctx context.Context, o RDBRestoreOptions) (RDBRestoreResult, error) {
	res := RDBRestoreResult{SnapshotKeys: -1}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultRedisRestoreTimeout
	}
	if len(o.Stop) == 0 || len(o.Start) == 0 {
		return res, errors.New("restoring redis: no stop or start command configured")
	}
	c, err := VerifyComponent(o.Root, o.Manifest, ComponentRedis)
	if err != nil {
		return res, err
	}
	art, ok := artifactOfFormat(c, FormatRDB)
	if !ok {
		return res, fmt.Errorf("set %s has no dump.rdb artifact (the Redis data directory was not readable when it was taken); restore the keys with `mutt restore redis %s` without --full", o.Manifest.SetID, o.Manifest.SetID)
	}
	setup, err := inspectRedisServer(ctx, o)
	if err != nil {
		return res, err
	}
	startArgs := slices.Clone(o.Start)
	if setup.aof && setup.configFile == "" {
		if len(o.StartNoAOF) == 0 {
			return res, errors.New("restoring redis: the server runs appendonly yes without a config file, so AOF cannot be switched off for the first boot; set MUTT_BACKUP_REDIS_START_CMD to the command that starts it (--appendonly no is appended once)")
		}
		startArgs = append(startArgs, o.StartNoAOF...)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	runID := now().UTC().Format(StampFormat) + "_" + randHex(2)
	progress := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}

	final := filepath.Join(setup.dir, setup.dbfilename)
	tmp := filepath.Join(setup.dir, "."+setup.dbfilename+".restore-"+runID)
	info, err := decryptRDB(o.Root, art, o.Keys, tmp)
	if err != nil {
		return res, err
	}
	placed := false
	defer func() {
		if !placed {
			os.Remove(tmp)
		}
	}()
	progress("decrypted %s (RDB version %d, %d bytes, checksum ok) into %s", art.Path, info.Version, info.Bytes, setup.dir)

	// aofOff is set while appendonly no is persisted in the config file
	// and the new snapshot is not yet in place: a failure then must not
	// leave the live server (and its next start) without AOF.
	aofOff := false
	failed := func(err error) error {
		if !aofOff {
			return err
		}
		if rerr := switchAOFBack(ctx, o.Redis); rerr != nil {
			return fmt.Errorf("%w; switching AOF back on failed too (%v): appendonly no is persisted in %s; set it back", err, rerr, setup.configFile)
		}
		return fmt.Errorf("%w; AOF was switched back on and appendonly yes restored in %s", err, setup.configFile)
	}
	if setup.running && setup.aof && setup.configFile != "" {
		// Persisted, so the next start (by whatever service manager)
		// loads the snapshot; switched back on once it is loaded.
		if err := o.Redis.ConfigSet(ctx, "appendonly", "no").Err(); err != nil {
			return res, fmt.Errorf("restoring redis: switching AOF off: %w", err)
		}
		if err := o.Redis.ConfigRewrite(ctx).Err(); err != nil {
			// The file is unchanged (Redis rewrites it atomically); only
			// the live setting needs switching back.
			if serr := o.Redis.ConfigSet(ctx, "appendonly", "yes").Err(); serr != nil {
				return res, fmt.Errorf("restoring redis: persisting appendonly no in %s: %w; switching AOF back on failed too (%v): the running server has appendonly no; run CONFIG SET appendonly yes", setup.configFile, err, serr)
			}
			return res, fmt.Errorf("restoring redis: persisting appendonly no in %s: %w (AOF was switched back on; the file is unchanged)", setup.configFile, err)
		}
		aofOff = true
	}
	if err := runCommand(ctx, o.Stop); err != nil {
		return res, failed(fmt.Errorf("restoring redis: stopping the server: %w", err))
	}
	if err := pollUntil(ctx, timeout, "Redis to stop (PING unanswered)", func() (bool, error) {
		return o.Redis.Ping(ctx).Err() != nil, nil
	}); err != nil {
		return res, failed(fmt.Errorf("restoring redis: %w", err))
	}
	progress("stopped Redis")

	owner, err := fileOwner(final, setup.dir)
	if err != nil {
		return res, failed(err)
	}
	aside := []string{setup.dbfilename}
	if setup.aofDir != "" {
		aside = append(aside, setup.aofDir)
	}
	if setup.aofFile != "" {
		aside = append(aside, setup.aofFile)
	}
	for _, name := range aside {
		p := filepath.Join(setup.dir, name)
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		kept := p + ".pre-restore-" + runID
		if err := os.Rename(p, kept); err != nil {
			return res, failed(fmt.Errorf("restoring redis: moving %s aside: %w (Redis is stopped; files moved so far: %s)", p, err, strings.Join(res.Kept, ", ")))
		}
		res.Kept = append(res.Kept, kept)
	}
	if err := os.Chown(tmp, owner.uid, owner.gid); err != nil {
		return res, failed(fmt.Errorf("restoring redis: giving %s to uid %d: %w", tmp, owner.uid, err))
	}
	if err := os.Chmod(tmp, 0o640); err != nil {
		return res, failed(fmt.Errorf("restoring redis: %w", err))
	}
	if err := os.Rename(tmp, final); err != nil {
		return res, failed(fmt.Errorf("restoring redis: placing %s: %w", final, err))
	}
	placed = true
	if err := syncDir(setup.dir); err != nil {
		return res, fmt.Errorf("restoring redis: %w", err)
	}
	res.File = final
	progress("placed %s; previous files kept as %s", final, strings.Join(res.Kept, ", "))

	undo := fmt.Sprintf("the previous files are kept as %s", strings.Join(res.Kept, ", "))
	if setup.aof && setup.configFile != "" {
		undo += fmt.Sprintf("; appendonly no is persisted in %s, set it back to yes when going back to them", setup.configFile)
	}
	if err := runCommand(ctx, startArgs); err != nil {
		return res, fmt.Errorf("restoring redis: starting the server: %w; %s", err, undo)
	}
	if err := pollUntil(ctx, timeout, "Redis to answer PING and finish loading (loading:0)", func() (bool, error) {
		if o.Redis.Ping(ctx).Err() != nil {
			return false, nil
		}
		p, err := readPersistence(ctx, o.Redis)
		return err == nil && !p.loading, nil
	}); err != nil {
		return res, fmt.Errorf("restoring redis: %w; %s", err, undo)
	}
	progress("Redis is up")
	res.AOF = setup.aof
	if err := verifyRDBLoad(ctx, o, c, info, &res); err != nil {
		return res, fmt.Errorf("restoring redis from set %s: %w; %s", o.Manifest.SetID, err, undo)
	}
	progress("loaded %d keys into db%d (snapshot header: %d)", res.DBSize, res.DB, res.SnapshotKeys)
	if setup.aof {
		if err := reenableAOF(ctx, o.Redis, setup.configFile != "", timeout); err != nil {
			return res, fmt.Errorf("restoring redis: %w", err)
		}
		progress("AOF switched on again and rewritten from the restored data")
	}
	if o.Prefix != "" {
		n, err := dropVolatileKeys(ctx, o.Redis, o.Prefix, o.IncludeQueues)
		res.Dropped = n
		if err != nil {
			return res, fmt.Errorf("restoring redis: %w", err)
		}
	}
	return res, nil
}

// artifactOfFormat returns the first artifact of c with the given format.
func artifactOfFormat(c *Component, format string) (ArtifactInfo, bool) {
	for _, a := range c.Artifacts {
		if a.Format == format {
			return a, true
		}
	}
	return ArtifactInfo{}, false
}

// inspectRedisServer reads the data directory, file names and AOF setting
// from the running server, or takes them from the options when it is down.
func inspectRedisServer(ctx context.Context, o RDBRestoreOptions) (redisServerSetup, error) {
	s := redisServerSetup{dir: o.Dir, dbfilename: o.DBFilename}
	if o.Redis.Ping(ctx).Err() == nil {
		s.running = true
		cfg, err := o.Redis.ConfigGet(ctx, "*").Result()
		if err != nil {
			return s, fmt.Errorf("restoring redis: CONFIG GET: %w", err)
		}
		if s.dir == "" {
			s.dir = cfg["dir"]
		}
		if s.dbfilename == "" {
			s.dbfilename = cfg["dbfilename"]
		}
		s.aof = cfg["appendonly"] == "yes"
		s.aofDir = cfg["appenddirname"]
		s.aofFile = cfg["appendfilename"]
		if info, err := o.Redis.Info(ctx, "server").Result(); err == nil {
			s.configFile = redisInfoField(info, "config_file")
		}
	}
	if s.dir == "" {
		return s, errors.New("restoring redis: the server does not answer and MUTT_BACKUP_REDIS_DIR is not set; name its data directory")
	}
	if s.dbfilename == "" {
		s.dbfilename = "dump.rdb"
	}
	if s.aofFile == "" {
		s.aofFile = "appendonly.aof"
	}
	if s.aofDir == "" {
		s.aofDir = "appendonlydir"
	}
	for _, n := range []string{s.dbfilename, s.aofFile, s.aofDir} {
		if filepath.Base(n) != n {
			return s, fmt.Errorf("restoring redis: %q is not a plain file name", n)
		}
	}
	if fi, err := os.Stat(s.dir); err != nil || !fi.IsDir() {
		return s, fmt.Errorf("restoring redis: data directory %s is not a directory on this host; run the restore on the Redis host", s.dir)
	}
	return s, nil
}

// decryptRDB decrypts the artifact into path (0600), checking the RDB
// structure and checksum on the way and the plaintext SHA-256 at the end,
// then fsyncs it. On failure path is removed.
func decryptRDB(root string, a ArtifactInfo, keys *Keys, path string) (RDBInfo, error) {
	r, err := OpenArtifact(root, a, keys)
	if err != nil {
		return RDBInfo{}, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		r.Close()
		return RDBInfo{}, fmt.Errorf("restoring redis: %w", err)
	}
	chk := NewRDBChecker()
	_, err = io.Copy(io.MultiWriter(f, chk), r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	var info RDBInfo
	if err == nil {
		info, err = chk.Finish()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return info, fmt.Errorf("restoring redis: decrypting %s: %w", a.Path, err)
	}
	return info, nil
}

// owner is a file's numeric owner.
type owner struct{ uid, gid int }

// fileOwner returns the owner of path, or of dir when path does not exist.
func fileOwner(path, dir string) (owner, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if fi, err = os.Stat(dir); err != nil {
			return owner{}, fmt.Errorf("restoring redis: %w", err)
		}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return owner{uid: os.Getuid(), gid: os.Getgid()}, nil
	}
	return owner{uid: int(st.Uid), gid: int(st.Gid)}, nil
}

// runCommand runs argv and returns its output with the error.
func runCommand(ctx context.Context, argv []string) error {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, lastLines(string(out), 5))
	}
	return nil
}

// verifyRDBLoad checks the loaded dataset: the AOF must be off (else Redis
// loaded an AOF instead of the snapshot), the key count of the snapshot's
// database must match its header (keys with a TTL may have expired since),
// and the per-class counts are compared with the manifest.
func verifyRDBLoad(ctx context.Context, o RDBRestoreOptions, c *Component, info RDBInfo, res *RDBRestoreResult) error {
	p, err := readPersistence(ctx, o.Redis)
	if err != nil {
		return err
	}
	if p.aofEnabled {
		return errors.New("Redis started with appendonly yes, so it loaded an AOF and not the snapshot; set appendonly no for the first boot")
	}
	res.DB = info.DB
	res.SnapshotKeys = info.Keys
	keyspace, err := o.Redis.Info(ctx, "keyspace").Result()
	if err != nil {
		return fmt.Errorf("reading INFO keyspace: %w", err)
	}
	res.DBSize = keyspaceKeys(keyspace, info.DB)
	if info.Keys >= 0 {
		lo := info.Keys - info.Expires
		if res.DBSize > info.Keys || res.DBSize < lo {
			return fmt.Errorf("db%d holds %d keys, the snapshot header says %d (%d with a TTL)", info.DB, res.DBSize, info.Keys, info.Expires)
		}
	}
	if p.haveLoadedCounters && info.Keys >= 0 && p.loadedKeys+p.loadedKeysExpired < info.Keys {
		return fmt.Errorf("Redis loaded %d keys (%d expired), fewer than the %d of the snapshot's db%d", p.loadedKeys, p.loadedKeysExpired, info.Keys, info.DB)
	}
	if o.Prefix == "" {
		return nil
	}
	res.Counts = map[string]int64{}
	scanner := o.Redis
	if info.DB != o.Redis.Options().DB {
		opts := *o.Redis.Options()
		opts.DB = info.DB
		scanner = redis.NewClient(&opts)
		defer scanner.Close()
	}
	var cursor uint64
	for {
		keys, next, err := scanner.Scan(ctx, cursor, o.Prefix+":*", 1000).Result()
		if err != nil {
			return fmt.Errorf("counting restored keys: %w", err)
		}
		for _, k := range keys {
			res.Counts[RedisClass(o.Prefix, k)]++
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	for _, class := range slices.Sorted(maps.Keys(c.Counts)) {
		if class == "keys" || class == RedisClassOther {
			continue
		}
		if got, want := res.Counts[class], c.Counts[class]; got != want {
			res.CountNotes = append(res.CountNotes, fmt.Sprintf("%s: snapshot %d, logical export %d", class, got, want))
		}
	}
	return nil
}

// keyspaceKeys returns the keys of db in an INFO keyspace reply.
func keyspaceKeys(info string, db int) int64 {
	v := redisInfoField(info, "db"+strconv.Itoa(db))
	for part := range strings.SplitSeq(v, ",") {
		if n, ok := strings.CutPrefix(part, "keys="); ok {
			k, _ := strconv.ParseInt(n, 10, 64)
			return k
		}
	}
	return 0
}

// switchAOFBack undoes the AOF switch-off of a full restore that failed
// before the new snapshot was placed: appendonly yes, live and in the
// config file. It fails when the server is already down. It runs even when
// ctx was cancelled, within its own short deadline.
func switchAOFBack(ctx context.Context, rdb *redis.Client) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := rdb.ConfigSet(ctx, "appendonly", "yes").Err(); err != nil {
		return fmt.Errorf("CONFIG SET appendonly yes: %w", err)
	}
	if err := rdb.ConfigRewrite(ctx).Err(); err != nil {
		return fmt.Errorf("CONFIG REWRITE: %w", err)
	}
	return nil
}

// reenableAOF switches AOF on again, which makes Redis write a new AOF from
// memory, waits for that rewrite and persists the setting when the server
// has a config file.
func reenableAOF(ctx context.Context, rdb *redis.Client, persist bool, timeout time.Duration) error {
	if err := rdb.ConfigSet(ctx, "appendonly", "yes").Err(); err != nil {
		return fmt.Errorf("switching AOF on again: %w", err)
	}
	err := pollUntil(ctx, timeout, "the AOF rewrite (aof_enabled:1, aof_rewrite_in_progress:0, aof_last_bgrewrite_status:ok)", func() (bool, error) {
		p, err := readPersistence(ctx, rdb)
		if err != nil || p.aofRewriting || !p.aofEnabled {
			return false, err
		}
		if p.aofLastStatus != "ok" {
			return false, fmt.Errorf("AOF rewrite failed (aof_last_bgrewrite_status:%s); see the Redis log", p.aofLastStatus)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	if persist {
		if err := rdb.ConfigRewrite(ctx).Err(); err != nil {
			return fmt.Errorf("persisting appendonly yes: %w", err)
		}
	}
	return nil
}

// dropVolatileKeys deletes the restored keys that must not come back from a
// snapshot: rate-limit and circuit-breaker state, heartbeats, processing
// lists, and the queues unless includeQueues (their events were already
// delivered).
func dropVolatileKeys(ctx context.Context, rdb *redis.Client, prefix string, includeQueues bool) (int64, error) {
	patterns := []string{prefix + ":rate_limit:*", prefix + ":circuit_breaker:*", prefix + ":heartbeat:*", prefix + ":processing:*"}
	if !includeQueues {
		patterns = append(patterns, prefix+":ingest_queue", prefix+":alert_queue")
	}
	var n int64
	for _, pattern := range patterns {
		err := redisScan(ctx, rdb, pattern, func(keys []string) error {
			if len(keys) == 0 {
				return nil
			}
			d, err := rdb.Del(ctx, keys...).Result()
			n += d
			return err
		})
		if err != nil {
			return n, fmt.Errorf("deleting volatile keys %s: %w", pattern, err)
		}
	}
	return n, nil
}
