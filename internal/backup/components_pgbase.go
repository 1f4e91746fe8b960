package backup

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ComponentPgBase is the physical base backup of the PostgreSQL cluster
// (pg_basebackup) that point-in-time recovery replays the WAL archive onto.
const ComponentPgBase = "pgbase"

// ProfileBase is the backup profile of the pgbase component.
const ProfileBase = "base"

// PgBaseOptions say how the pgbase component reaches the cluster.
type PgBaseOptions struct {
	// DatabaseURL is a connection string of the cluster (URL or
	// keyword/value); pg_basebackup gets it without the password, which
	// goes through PGPASSWORD. The role needs the REPLICATION attribute.
	DatabaseURL string
	// PgBaseBackup is the pg_basebackup to use; empty means the one in
	// PATH.
	PgBaseBackup string
}

// PgBaseInfo is what a base backup records in its component's Source and
// what a point-in-time restore needs from it.
type PgBaseInfo struct {
	// Timeline, StartLSN and StopLSN bound the WAL the base needs to be
	// consistent; StartWAL and StopWAL are the segments holding them.
	Timeline uint32
	StartLSN LSN
	StopLSN  LSN
	StartWAL string
	StopWAL  string
	// StopTime is when pg_basebackup had finished: the earliest time a
	// restore of this base can reach.
	StopTime time.Time
	// SegmentBytes is the cluster's wal_segment_size.
	SegmentBytes uint64
	// ServerVersion is the server's version string.
	ServerVersion string
	// ArchiveMode is the server's archive_mode when the base was taken.
	ArchiveMode string
}

// pgBase implements ComponentSpec for ComponentPgBase.
type pgBase struct {
	checksummed
	restoredElsewhere
}

var _ ComponentSpec = pgBase{restoredElsewhere: restoredElsewhere{how: pgBaseRestoreHow}}

// pgBaseRestoreHow names the command that restores a base backup.
const pgBaseRestoreHow = "a base backup is restored into a new data directory with the WAL replayed: mutt restore postgres --target-datadir DIR [--to-time T]"

// Name implements ComponentSpec.
func (pgBase) Name() string { return ComponentPgBase }

// Profiles implements ComponentSpec.
func (pgBase) Profiles() []string { return []string{ProfileBase} }

// Storage implements ComponentSpec.
func (pgBase) Storage() string { return StorageRedis }

// Retention implements ComponentSpec.
func (pgBase) Retention() time.Duration { return 14 * day }

// Objectives implements ComponentSpec: point-in-time recovery has its own
// targets in the guide, none here.
func (pgBase) Objectives() Objectives { return Objectives{} }

// pg_basebackup's --verbose lines that carry the WAL range.
var (
	baseStartLine = regexp.MustCompile(`write-ahead log start point: ([0-9A-F]+/[0-9A-F]+) on timeline (\d+)`)
	baseStopLine  = regexp.MustCompile(`write-ahead log end point: ([0-9A-F]+/[0-9A-F]+)`)
)

// Backup implements ComponentSpec: pg_basebackup in tar format streamed to
// standard output (-D - -Ft), the WAL of the backup's own span included
// (-X fetch) so the base is consistent without the archive, after a fast
// checkpoint; compressed and encrypted on the way to disk.
func (pgBase) Backup(ctx context.Context, o *RunOptions, c *Component, sink ArtifactSink) error {
	if o.PgBase == nil || o.PgBase.DatabaseURL == "" {
		return errNotConfigured
	}
	conn, password, err := pgChildConn(o.PgBase.DatabaseURL, "")
	if err != nil {
		return fmt.Errorf("base backup: %w", err)
	}
	fail := func(what string, err error) error {
		return pgScrub(fmt.Errorf("base backup of %s: %s: %w", pgDescribe(conn), what, err), password)
	}
	tool, err := pgTool(o.PgBase.PgBaseBackup, "pg_basebackup")
	if err != nil {
		return fail("locating pg_basebackup", err)
	}
	var info PgBaseInfo
	db, err := pgx.Connect(ctx, o.PgBase.DatabaseURL)
	if err != nil {
		return fail("connecting", err)
	}
	var seg int64
	err = db.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('archive_mode'),
		(SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size')`).Scan(&info.ServerVersion, &info.ArchiveMode, &seg)
	db.Close(context.WithoutCancel(ctx))
	if err != nil {
		return fail("reading the server settings", err)
	}
	info.SegmentBytes = uint64(seg)
	stamp := sink.Stamp()
	var stderr strings.Builder
	err = sink.Artifact("mutt_pgbase_"+stamp+".tar.zst.age", true, "tar", func(w io.Writer) error {
		cmd := exec.CommandContext(ctx, tool, "--dbname="+conn, "--pgdata=-", "--format=tar", "--wal-method=fetch",
			"--checkpoint=fast", "--verbose", "--no-password", "--label=mutt "+c.Name+" "+stamp)
		cmd.Env = os.Environ()
		if password != "" {
			cmd.Env = append(cmd.Env, "PGPASSWORD="+password)
		}
		cw := &pgCountingWriter{w: w}
		cmd.Stdout = cw
		cmd.Stderr = &pgTailBuffer{limit: 64 << 10}
		err := cmd.Run()
		stderr.WriteString(cmd.Stderr.(*pgTailBuffer).String())
		if cw.err != nil {
			return fmt.Errorf("writing the base backup: %w", cw.err)
		}
		if err != nil {
			return fmt.Errorf("running pg_basebackup: %w: %s", err, lastLines(stderr.String(), 5))
		}
		c.Counts = map[string]int64{"bytes": cw.n}
		return nil
	})
	if err != nil {
		return fail("streaming", err)
	}
	info.StopTime = time.Now().UTC()
	if err := parseBaseBackupLog(stderr.String(), &info); err != nil {
		return fail("reading pg_basebackup's output", err)
	}
	c.Source = info.source()
	return nil
}

// parseBaseBackupLog reads the WAL range from pg_basebackup --verbose.
func parseBaseBackupLog(log string, info *PgBaseInfo) error {
	sc := bufio.NewScanner(strings.NewReader(log))
	var haveStart, haveStop bool
	for sc.Scan() {
		line := sc.Text()
		if m := baseStartLine.FindStringSubmatch(line); m != nil {
			l, err := ParseLSN(m[1])
			if err != nil {
				return err
			}
			t, _ := strconv.ParseUint(m[2], 10, 32)
			info.StartLSN, info.Timeline, haveStart = l, uint32(t), true
		}
		if m := baseStopLine.FindStringSubmatch(line); m != nil {
			l, err := ParseLSN(m[1])
			if err != nil {
				return err
			}
			info.StopLSN, haveStop = l, true
		}
	}
	if !haveStart || !haveStop || info.SegmentBytes == 0 {
		return fmt.Errorf("no WAL start and end point in: %s", lastLines(log, 5))
	}
	info.StartWAL = SegmentName(info.Timeline, info.StartLSN, info.SegmentBytes)
	info.StopWAL = SegmentName(info.Timeline, info.StopLSN, info.SegmentBytes)
	return nil
}

// source renders info as a component's Source.
func (i PgBaseInfo) source() map[string]any {
	return map[string]any{
		"timeline": i.Timeline, "start_lsn": i.StartLSN.String(), "stop_lsn": i.StopLSN.String(),
		"start_wal": i.StartWAL, "stop_wal": i.StopWAL, "stop_time": i.StopTime,
		"wal_segment_bytes": i.SegmentBytes, "server_version": i.ServerVersion, "archive_mode": i.ArchiveMode,
	}
}

// PgBaseInfoOf reads the base backup facts back from a pgbase component
// of a manifest (as decoded from JSON).
func PgBaseInfoOf(c *Component) (PgBaseInfo, error) {
	var i PgBaseInfo
	if c == nil || c.Name != ComponentPgBase {
		return i, fmt.Errorf("not a %s component", ComponentPgBase)
	}
	str := func(k string) string { s, _ := c.Source[k].(string); return s }
	num := func(k string) uint64 {
		switch v := c.Source[k].(type) {
		case float64:
			return uint64(v)
		case uint64:
			return v
		case uint32:
			return uint64(v)
		case int64:
			return uint64(v)
		case int:
			return uint64(v)
		}
		return 0
	}
	var err error
	if i.StartLSN, err = ParseLSN(str("start_lsn")); err != nil {
		return i, fmt.Errorf("%s component: start_lsn: %w", ComponentPgBase, err)
	}
	if i.StopLSN, err = ParseLSN(str("stop_lsn")); err != nil {
		return i, fmt.Errorf("%s component: stop_lsn: %w", ComponentPgBase, err)
	}
	i.Timeline, i.SegmentBytes = uint32(num("timeline")), num("wal_segment_bytes")
	i.StartWAL, i.StopWAL, i.ServerVersion, i.ArchiveMode = str("start_wal"), str("stop_wal"), str("server_version"), str("archive_mode")
	switch v := c.Source["stop_time"].(type) {
	case time.Time:
		i.StopTime = v
	case string:
		i.StopTime, _ = time.Parse(time.RFC3339Nano, v)
	}
	if i.Timeline == 0 || i.SegmentBytes == 0 || CheckWALName(i.StartWAL) != nil || CheckWALName(i.StopWAL) != nil || i.StopTime.IsZero() {
		return i, fmt.Errorf("%s component: incomplete WAL range in the manifest", ComponentPgBase)
	}
	return i, nil
}

// DeepVerify implements ComponentSpec: the base is restored into a scratch
// data directory, the archived WAL replayed onto it to its end, and the
// server promoted and stopped again.
func (pgBase) DeepVerify(ctx context.Context, o DeepVerifyOptions, c *Component) (string, error) {
	return deepPgBase(ctx, o, c)
}
