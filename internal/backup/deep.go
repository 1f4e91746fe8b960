package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// DeepVerifyOptions say which set to test-restore and where the scratch
// targets live.
type DeepVerifyOptions struct {
	Root     string
	Manifest *Manifest
	Keys     *Keys
	// DatabaseURL names the MUTT database; the throw-away database
	// "<db>_verify_<rand>" is created on its server.
	DatabaseURL string
	// PgRestore is the pg_restore to use; empty means the one in PATH.
	PgRestore string
	// Redis is the live server, used only to find a free scratch database
	// index when no private redis-server can be started.
	Redis redis.UniversalClient
	// RedisServer is the redis-server executable for a private scratch
	// server; empty looks it up in PATH, "none" never starts one.
	RedisServer string
	// PgBin is the directory of pg_ctl and pg_controldata for the pgbase
	// component's scratch cluster; empty takes the pg_ctl in PATH.
	PgBin string
	// ServerUser runs that scratch cluster when running as root; empty
	// means "postgres".
	ServerUser string
	// Components limits the verification; empty means every component
	// with artifacts.
	Components []string
	// Now stamps the results; nil means time.Now.
	Now func() time.Time

	// scratch is the scratch Redis of one DeepVerify call, started when a
	// component first needs it.
	scratch *lazyScratch
}

// lazyScratch starts a scratch Redis on first use and keeps it for the
// other components of the same verification.
type lazyScratch struct{ s *scratchRedis }

// open returns the scratch Redis, starting it when needed.
func (l *lazyScratch) open(ctx context.Context, o DeepVerifyOptions) (*scratchRedis, error) {
	if l == nil {
		return nil, errors.New("no scratch redis in this verification")
	}
	if l.s == nil {
		s, err := openScratchRedis(ctx, o.Redis, o.RedisServer)
		if err != nil {
			return nil, fmt.Errorf("starting a scratch redis: %w", err)
		}
		l.s = s
	}
	return l.s, nil
}

// DeepVerify decrypts and test-restores every selected component of the
// set into throw-away targets — PostgreSQL into a new database on the same
// server, Redis into a private redis-server (or a free database index), the
// archives by reading them through — and compares what came back with the
// manifest. Each component's Verify becomes the deep result; the caller
// writes the manifest. The scratch targets are removed in every case, also
// when ctx is cancelled. It returns one error per failed component, each
// naming the artifact.
func DeepVerify(ctx context.Context, o DeepVerifyOptions) []error {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	var errs []error
	o.scratch = &lazyScratch{}
	defer func() {
		if o.scratch.s != nil {
			_, _ = o.scratch.s.Close(false)
		}
	}()
	reg := NewRegistry()
	for i := range o.Manifest.Components {
		c := &o.Manifest.Components[i]
		if len(c.Artifacts) == 0 || c.Status != StatusOK {
			continue
		}
		if len(o.Components) > 0 && !containsString(o.Components, c.Name) {
			continue
		}
		spec, ok := reg.Lookup(c.Name)
		if !ok {
			continue
		}
		detail, err := spec.DeepVerify(ctx, o, c)
		if errors.Is(err, errNoDeepVerify) {
			continue
		}
		v := &Verify{Level: VerifyDeep, Status: StatusOK, At: now().UTC(), Detail: detail}
		if err != nil {
			err = fmt.Errorf("deep verify of %s (%s): %w", c.Name, c.Artifacts[0].Path, err)
			v.Status, v.Detail = StatusFailed, err.Error()
			errs = append(errs, err)
		}
		c.Verify = v
	}
	return errs
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// deepPostgres restores the dump into a throw-away database, compares the
// row counts and drops it again.
func deepPostgres(ctx context.Context, o DeepVerifyOptions, c *Component) (string, error) {
	if o.DatabaseURL == "" {
		return "", errors.New("no database configured to restore into")
	}
	db, err := newScratchDB(o.DatabaseURL, "verify")
	if err != nil {
		return "", err
	}
	defer db.drop(ctx)
	counts, err := restorePostgresArtifact(ctx, o.Root, c.Artifacts[0], o.Keys, db.AdminURL, db.Name, o.PgRestore)
	if err != nil {
		return "", err
	}
	if diff := countDiff(c.Counts, counts); diff != "" {
		return "", fmt.Errorf("%w: %s", ErrCountMismatch, diff)
	}
	return fmt.Sprintf("restored into %s; %d table counts match", db.Name, len(c.Counts)), nil
}

// scratchDB is a throw-away database on the server of the MUTT database.
type scratchDB struct {
	// Name is "<db>_<what>_<rand>"; URL connects to it and AdminURL to the
	// server's "postgres" database, from which it is created and dropped.
	Name, URL, AdminURL string
}

// newScratchDB names a scratch database beside the one of databaseURL; it
// creates nothing.
func newScratchDB(databaseURL, what string) (scratchDB, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return scratchDB{}, errors.New("the database connection string does not parse")
	}
	name := scratchDBName(cfg.Database, what)
	return scratchDB{Name: name, URL: pgWithDatabase(databaseURL, name), AdminURL: pgWithDatabase(databaseURL, "postgres")}, nil
}

// drop removes the scratch database, also when ctx is cancelled.
func (s scratchDB) drop(ctx context.Context) error { return dropDatabase(ctx, s.AdminURL, s.Name) }

// restorePostgresArtifact restores one dump artifact into the new database
// name and returns its counts; the plaintext checksum is checked too.
func restorePostgresArtifact(ctx context.Context, root string, a ArtifactInfo, keys *Keys, adminURL, name, pgRestore string) (map[string]int64, error) {
	r, err := OpenArtifact(root, a, keys)
	if err != nil {
		return nil, err
	}
	counts, err := RestorePostgres(ctx, adminURL, name, pgRestore, r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return counts, err
}

// scratchDBName returns "<db>_<what>_<rand>", shortened to PostgreSQL's 63
// byte limit.
func scratchDBName(db, what string) string {
	suffix := "_" + what + "_" + randHex(4)
	if len(db)+len(suffix) > 63 {
		db = db[:63-len(suffix)]
	}
	return db + suffix
}

// dropDatabase drops a scratch database, ignoring cancellation of ctx so
// that an interrupted verification still cleans up.
func dropDatabase(ctx context.Context, adminURL, name string) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(dctx, adminURL)
	if err != nil {
		return fmt.Errorf("dropping scratch database %s: connecting: %w", name, err)
	}
	defer conn.Close(dctx)
	if _, err := conn.Exec(dctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("dropping scratch database %s: %w", name, err)
	}
	return nil
}

// deepRedis restores every key of the export into the scratch Redis and
// compares counts and values.
func deepRedis(ctx context.Context, o DeepVerifyOptions, c *Component, s *scratchRedis) (string, error) {
	if err := s.Client.FlushDB(ctx).Err(); err != nil {
		return "", fmt.Errorf("emptying scratch redis: %w", err)
	}
	if err := s.claim(ctx); err != nil {
		return "", err
	}
	res, err := restoreRedisArtifact(ctx, o.Root, c.Artifacts[0], o.Keys, s.Client)
	if err != nil {
		return "", err
	}
	if want := c.Counts["keys"]; res.Restored+res.Skipped != want {
		return "", fmt.Errorf("restored %d keys and skipped %d expired, the manifest says %d", res.Restored, res.Skipped, want)
	}
	cmp, err := compareRedisExport(ctx, o.Root, c.Artifacts[0], o.Keys, s.Client)
	if err != nil {
		return "", err
	}
	if len(cmp.Mismatched) > 0 {
		return "", fmt.Errorf("%d restored keys differ from the export: %s", len(cmp.Mismatched), strings.Join(cmp.Mismatched, ", "))
	}
	return fmt.Sprintf("%d keys restored into %s, %d expired since; values match", res.Restored, s.Desc, res.Skipped), nil
}

// restoreRedisArtifact writes every key of an export, whatever its class,
// into rdb, replacing what is there.
func restoreRedisArtifact(ctx context.Context, root string, a ArtifactInfo, keys *Keys, rdb redis.UniversalClient) (RedisRestoreResult, error) {
	r, err := OpenArtifact(root, a, keys)
	if err != nil {
		return RedisRestoreResult{}, err
	}
	all := []string{RedisClassConfig, RedisClassDLQ, RedisClassUnhandled, RedisClassQueues, RedisClassOther}
	res, err := RestoreRedis(ctx, rdb, r, all, true)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return res, err
}

// RedisCompare is the outcome of comparing live keys with an export.
type RedisCompare struct {
	// Matched keys hold exactly the exported DUMP value.
	Matched int64 `json:"matched"`
	// Expired keys had run out of TTL, so they are not expected.
	Expired int64 `json:"expired"`
	// Mismatched names keys that are missing or hold another value (at
	// most 20 are listed).
	Mismatched []string `json:"mismatched,omitempty"`
	// MismatchCount is the full number of mismatched keys.
	MismatchCount int64 `json:"mismatch_count"`
}

// compareRedisExport reads an export again and checks that rdb holds every
// exported key with exactly the exported DUMP value.
func compareRedisExport(ctx context.Context, root string, a ArtifactInfo, keys *Keys, rdb redis.UniversalClient) (RedisCompare, error) {
	var res RedisCompare
	r, err := OpenArtifact(root, a, keys)
	if err != nil {
		return res, err
	}
	defer r.Close()
	dec := json.NewDecoder(r)
	type pending struct {
		key  string
		dump []byte
	}
	var batch []pending
	flush := func() error {
		cmds := make([]*redis.StringCmd, len(batch))
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, b := range batch {
				cmds[i] = p.Dump(ctx, b.key)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("reading restored keys: %w", err)
		}
		for i, b := range batch {
			got, err := cmds[i].Result()
			if err == nil && bytes.Equal([]byte(got), b.dump) {
				res.Matched++
				continue
			}
			res.MismatchCount++
			if len(res.Mismatched) < 20 {
				res.Mismatched = append(res.Mismatched, b.key)
			}
		}
		batch = batch[:0]
		return nil
	}
	for {
		var rec redisRecord
		if err := dec.Decode(&rec); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return res, fmt.Errorf("reading export %s: %w", a.Path, err)
		}
		if rec.PTTLms >= 0 && rec.PTTLms-(time.Now().UnixMilli()-rec.CapturedMs) <= 0 {
			res.Expired++
			continue
		}
		key, err := rec.name()
		if err != nil {
			return res, fmt.Errorf("reading export %s: %w", a.Path, err)
		}
		dump, err := base64Decode(rec.Dump)
		if err != nil {
			return res, fmt.Errorf("reading export %s: key %s: %w", a.Path, key, err)
		}
		batch = append(batch, pending{key, dump})
		if len(batch) >= redisBatch {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return res, err
		}
	}
	if err := r.Close(); err != nil {
		return res, err
	}
	return res, nil
}

// deepConfig reads the config archive through, compares every file's
// SHA-256 with the manifest and parses the dynamic configuration.
func deepConfig(o DeepVerifyOptions, c *Component) (string, error) {
	want := manifestFileHashes(c)
	got := map[string]string{}
	dynamic := int64(-1)
	err := readConfigArchive(o.Root, o.Manifest, o.Keys, func(hdr *tar.Header, body io.Reader) error {
		if hdr.Name == DynamicConfigEntry {
			var doc dynamicConfigDoc
			if err := json.NewDecoder(body).Decode(&doc); err != nil {
				return fmt.Errorf("parsing %s: %w", DynamicConfigEntry, err)
			}
			dynamic = int64(len(doc.Values))
			return nil
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		h := sha256.New()
		if _, err := io.Copy(h, body); err != nil {
			return fmt.Errorf("reading %s: %w", hdr.Name, err)
		}
		got["/"+hdr.Name] = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	if err != nil {
		return "", err
	}
	var bad []string
	for p, sum := range want {
		if got[p] != sum {
			bad = append(bad, p)
		}
	}
	if len(got) != len(want) {
		bad = append(bad, fmt.Sprintf("archive holds %d files, manifest lists %d", len(got), len(want)))
	}
	if n, ok := c.Counts["dynamic_config"]; ok && n != dynamic {
		bad = append(bad, fmt.Sprintf("%s holds %d keys, manifest says %d", DynamicConfigEntry, dynamic, n))
	}
	if len(bad) > 0 {
		return "", fmt.Errorf("config archive differs from the manifest: %s", strings.Join(bad, "; "))
	}
	return fmt.Sprintf("%d file hashes match; %d dynamic config keys", len(got), max(dynamic, 0)), nil
}

// scratchMarker is the key that claims a scratch database index.
const scratchMarker = "mutt:backup:scratch"

// scratchRedis is a Redis database nothing else uses: a private
// redis-server on a loopback port, or an empty database index of the live
// server claimed with a marker key.
type scratchRedis struct {
	Client *redis.Client
	// Desc says where it is, for reports.
	Desc string
	// Dir is the private server's directory; empty for an index.
	Dir    string
	cmd    *exec.Cmd
	exited chan struct{}
	index  bool
	closed bool
}

// openScratchRedis prefers a private redis-server (server, or the one in
// PATH) and falls back to the highest empty database index of live.
func openScratchRedis(ctx context.Context, live redis.UniversalClient, server string) (*scratchRedis, error) {
	if server != "none" {
		if server == "" {
			server = "redis-server"
		}
		if path, err := exec.LookPath(server); err == nil {
			return startPrivateRedis(ctx, path)
		}
	}
	lc, ok := live.(*redis.Client)
	if !ok || lc == nil {
		return nil, errors.New("no redis-server in PATH and no single-node live Redis to borrow a database index from")
	}
	return claimScratchIndex(ctx, lc)
}

// startPrivateRedis runs redis-server on a free loopback port with its own
// directory, persistence off, and waits until it answers.
func startPrivateRedis(ctx context.Context, server string) (*scratchRedis, error) {
	dir, err := os.MkdirTemp("", "mutt-scratch-redis-")
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(server, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting %s: %w", server, err)
	}
	s := &scratchRedis{
		Client: redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), MaxRetries: -1}),
		Desc:   fmt.Sprintf("private redis-server on 127.0.0.1:%d", port),
		Dir:    dir, cmd: cmd, exited: make(chan struct{}),
	}
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.Client.Ping(ctx).Err() == nil {
			return s, nil
		}
		select {
		case <-ctx.Done():
			_, _ = s.Close(false)
			return nil, ctx.Err()
		case <-s.exited:
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			_, _ = s.Close(false)
			return nil, fmt.Errorf("%s exited at start: %s", server, lastLines(string(log), 5))
		case <-deadline.C:
			_, _ = s.Close(false)
			return nil, fmt.Errorf("%s did not answer on port %d within 15s", server, port)
		case <-tick.C:
		}
	}
}

// claimScratchIndex picks the highest database index of live that is empty
// and claims it with a marker key, so two verifications never share one.
func claimScratchIndex(ctx context.Context, live *redis.Client) (*scratchRedis, error) {
	n := 16
	if v, err := live.ConfigGet(ctx, "databases").Result(); err == nil {
		if d, err := strconv.Atoi(v["databases"]); err == nil && d > 1 {
			n = d
		}
	}
	base := live.Options()
	for db := n - 1; db > base.DB && db > 0; db-- {
		opts := *base
		opts.DB = db
		c := redis.NewClient(&opts)
		size, err := c.DBSize(ctx).Result()
		if err != nil || size != 0 {
			c.Close()
			continue
		}
		ok, err := c.SetNX(ctx, scratchMarker, "claimed", time.Hour).Result()
		if err != nil || !ok {
			c.Close()
			continue
		}
		if size, err := c.DBSize(ctx).Result(); err != nil || size != 1 {
			c.Del(context.WithoutCancel(ctx), scratchMarker)
			c.Close()
			continue
		}
		return &scratchRedis{Client: c, Desc: fmt.Sprintf("database index %d of %s", db, opts.Addr), index: true}, nil
	}
	return nil, fmt.Errorf("no empty database index on %s to restore into; install redis-server for a private scratch server", base.Addr)
}

// claim re-creates the marker after the scratch database was emptied.
func (s *scratchRedis) claim(ctx context.Context) error {
	if !s.index {
		return nil
	}
	return s.Client.Set(ctx, scratchMarker, "claimed", time.Hour).Err()
}

// Close empties and releases the scratch Redis. With keep, a private
// server's data is saved to "dump.rdb" in its directory (returned) and an
// index is left as it is. It is safe to call twice.
func (s *scratchRedis) Close(keep bool) (string, error) {
	if s == nil || s.closed {
		return "", nil
	}
	s.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	defer s.Client.Close()
	if s.index {
		if keep {
			return s.Desc, nil
		}
		if err := s.Client.FlushDB(ctx).Err(); err != nil {
			return "", fmt.Errorf("emptying scratch %s: %w", s.Desc, err)
		}
		return "", nil
	}
	if keep {
		if err := s.Client.Save(ctx).Err(); err != nil {
			keep = false
		}
	}
	// SHUTDOWN closes the connection, so its error is expected.
	_ = s.Client.ShutdownNoSave(ctx).Err()
	select {
	case <-s.exited:
	case <-ctx.Done():
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	if keep {
		return filepath.Join(s.Dir, "dump.rdb"), nil
	}
	if err := os.RemoveAll(s.Dir); err != nil {
		return "", fmt.Errorf("removing %s: %w", s.Dir, err)
	}
	return "", nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// base64Decode decodes a DUMP payload of the export.
func base64Decode(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decoding dump: %w", err)
	}
	return b, nil
}
